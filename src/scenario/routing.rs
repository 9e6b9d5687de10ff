//! `[network]` routing keys and the `address` of a `[[router]]`.

use std::net::Ipv4Addr;

use crate::net::routing::{DvConfig, LsConfig, Protocol};

use super::Routing;
use super::error::ScenarioError;
use super::network::Net;
use super::schema::{RawNetwork, RawScenario, Str};
use super::validate::{Check, key};

/// The static metric (used by static routing and for hosts' first hops)
/// and the protocol.
pub(crate) fn protocol(
    check: &Check,
    raw: &RawScenario,
) -> Result<(Routing, Protocol), ScenarioError> {
    let Some(n) = raw.network.as_ref() else {
        return Ok((Routing::Delay, Protocol::Static));
    };
    let name = n
        .routing
        .as_ref()
        .map_or("static", |r| r.get_ref().as_str());
    let mut metric = match name {
        "hops" => Routing::Hops,
        _ => Routing::Delay,
    };
    let protocol = match name {
        "static" | "delay" | "hops" => Protocol::Static,
        "distance-vector" => Protocol::DistanceVector(dv(check, n)?),
        "link-state" => Protocol::LinkState(ls(check, n)?),
        other => {
            let message = format!(
                r#"unknown routing {other:?} (use "static", "distance-vector" or "link-state"; "delay" and "hops" are static routing by that metric)"#
            );
            let span = n.routing.as_ref().map(|r| r.span()).unwrap_or_default();
            return Err(check.err(span, "network.routing", message));
        }
    };
    if let Some(m) = &n.metric {
        if name != "static" {
            let message = format!(r#"metric applies to routing = "static" only, not {name:?}"#);
            return Err(check.err(m.span(), "network.metric", message));
        }
        metric = match m.get_ref().as_str() {
            "delay" => Routing::Delay,
            "hops" => Routing::Hops,
            other => {
                let message = format!(r#"unknown metric {other:?} (use "delay" or "hops")"#);
                return Err(check.err(m.span(), "network.metric", message));
            }
        };
    }
    let dv_keys = [
        ("update_interval", &n.update_interval),
        ("infinity", &n.infinity),
    ];
    let ls_keys = [
        ("ls_window", &n.ls_window),
        ("ls_threshold", &n.ls_threshold),
        ("ls_max_interval", &n.ls_max_interval),
        ("ls_retransmit", &n.ls_retransmit),
        ("ls_spf_delay", &n.ls_spf_delay),
    ];
    let misplaced = |keys: &[(&str, &Option<Str>)], wanted: &str| {
        for (k, v) in keys {
            if let Some(v) = v
                && name != wanted
            {
                let message = format!(r#"{k} applies to routing = "{wanted}" only"#);
                return Err(check.err(v.span(), &format!("network.{k}"), message));
            }
        }
        Ok(())
    };
    misplaced(&dv_keys, "distance-vector")?;
    misplaced(&ls_keys, "link-state")?;
    if let Some(v) = &n.split_horizon
        && name != "distance-vector"
    {
        let message = r#"split_horizon applies to routing = "distance-vector" only"#;
        return Err(check.err(v.span(), "network.split_horizon", message));
    }
    Ok((metric, protocol))
}

fn dv(check: &Check, n: &RawNetwork) -> Result<DvConfig, ScenarioError> {
    let mut c = DvConfig::default();
    if let Some(v) = &n.update_interval {
        c.interval = check.positive_duration(v, "network.update_interval")?;
    }
    if let Some(v) = &n.infinity {
        c.infinity = check.positive_duration(v, "network.infinity")?;
    }
    if let Some(v) = &n.split_horizon {
        c.split_horizon = *v.get_ref();
    }
    Ok(c)
}

fn ls(check: &Check, n: &RawNetwork) -> Result<LsConfig, ScenarioError> {
    let mut c = LsConfig::default();
    if let Some(v) = &n.ls_window {
        c.window = check.positive_duration(v, "network.ls_window")?;
    }
    if let Some(v) = &n.ls_threshold {
        c.threshold = check.duration(v, "network.ls_threshold")?;
    }
    if let Some(v) = &n.ls_max_interval {
        c.max_interval = check.positive_duration(v, "network.ls_max_interval")?;
    }
    if let Some(v) = &n.ls_retransmit {
        c.retransmit = check.positive_duration(v, "network.ls_retransmit")?;
    }
    if let Some(v) = &n.ls_spf_delay {
        c.spf_delay = check.duration(v, "network.ls_spf_delay")?;
    }
    Ok(c)
}

/// Reads `[[router]] address`: a usable IPv4 address taken by no host and
/// no other router. Routers without one get 10.255.0.1 and up at the start.
pub(crate) fn router_addresses(
    check: &Check,
    raw: &RawScenario,
    net: &mut Net,
) -> Result<(), ScenarioError> {
    for (i, r) in raw.router.iter().enumerate() {
        let Some(v) = &r.address else { continue };
        let k = key("router", i, "address");
        let address: Ipv4Addr = v.get_ref().trim().parse().map_err(|_| {
            let message = format!(
                "cannot read {:?} as an IPv4 address like \"10.255.0.1\"",
                v.get_ref()
            );
            check.err(v.span(), &k, message)
        })?;
        if address.is_unspecified() || address.is_broadcast() || address.is_multicast() {
            let message = format!("{address} cannot be a router's address");
            return Err(check.err(v.span(), &k, message));
        }
        if let Some(h) = net.hosts.iter().position(|h| h.address == address) {
            let message = format!("{address} is already the address of host[{h}]");
            return Err(check.err(v.span(), &k, message));
        }
        if let Some(j) = net.routers.iter().position(|r| r.address == Some(address)) {
            let message = format!("{address} is already the address of router[{j}]");
            return Err(check.err(v.span(), &k, message));
        }
        net.routers[i].address = Some(address);
    }
    Ok(())
}
