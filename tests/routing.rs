//! Dynamic routing in whole runs: mail flows under the distance-vector and
//! link-state protocols, routes go around a failed line, the routing
//! figures reach summary.json, and scenario mistakes name their key.

mod common;

use common::{MTA, data_dir, fates_of, parse, run, two_domains};
use mailsim::report::summarize;
use mailsim::scenario;
use mailsim::service::ledger::Fate;

/// Two domains, with a slow detour r1 - r4 - r3 beside the r1-r2-r3 line.
fn detour(routing: &str, extra: &str) -> String {
    let more = format!(
        r#"
[network]
{routing}

[[router]]
name = "r4"
[[link]]
between = ["r1", "r4"]
bandwidth = "2Mbps"
delay = "40ms"
[[link]]
between = ["r4", "r3"]
bandwidth = "2Mbps"
delay = "40ms"

[[send]]
at = "30s"
from = "alice@a.test"
to = ["bob@b.test"]
file = "messages/dots.eml"
{extra}
"#
    );
    two_domains("10m", "", MTA, &more)
}

const CORE_DOWN: &str = r#"
[[fault]]
at = "20s"
link_down = ["r2", "r3"]
"#;

#[test]
fn mail_flows_end_to_end_under_each_protocol() {
    for routing in [
        r#"routing = "distance-vector""#,
        r#"routing = "link-state""#,
    ] {
        let o = run(&detour(routing, ""));
        assert_eq!(fates_of(&o, "bob@b.test"), [&Fate::Delivered], "{routing}");
        let s = summarize(&o, "t.toml");
        assert!(s.routing.messages > 0 && s.routing.bytes > s.routing.messages * 28);
        // The start is a topology change; routes settle within seconds.
        assert_eq!(s.routing.convergence.len(), 1);
        assert!(
            s.routing.convergence[0]
                .converged_after_s
                .is_some_and(|t| t < 5.0)
        );
    }
}

#[test]
fn a_failed_core_line_is_routed_around_by_dynamic_routing_only() {
    let stat = run(&detour(r#"routing = "static""#, CORE_DOWN));
    // Static routes still point at the dead line: the message waits in
    // the queue for its next retry (5 minutes later, after the run ends).
    assert_ne!(fates_of(&stat, "bob@b.test"), [&Fate::Delivered]);
    for routing in [
        r#"routing = "distance-vector""#,
        r#"routing = "link-state""#,
    ] {
        let o = run(&detour(routing, CORE_DOWN));
        assert_eq!(fates_of(&o, "bob@b.test"), [&Fate::Delivered], "{routing}");
        let s = summarize(&o, "t.toml");
        let conv = &s.routing.convergence;
        assert_eq!(conv.len(), 2, "{routing}: {conv:?}");
        assert_eq!(conv[1].at_s, 20.0);
        assert!(conv[1].route_changes > 0);
        let json = serde_json::to_value(&s).expect("summary serialises");
        assert!(json["routing"]["route_changes"].as_u64().unwrap() > 0);
    }
}

#[test]
fn forwarding_is_sound_again_soon_under_link_state_later_under_distance_vector_never_under_static()
{
    let settled = |routing: &str| {
        let s = summarize(&run(&detour(routing, CORE_DOWN)), "t.toml");
        let failure = s.routing.convergence.iter().find(|c| c.at_s == 20.0);
        failure
            .expect("the failure is a topology change")
            .converged_after_s
    };
    // Static routes keep pointing at the dead line until the run ends.
    assert_eq!(settled(r#"routing = "static""#), None);
    // Link state: r2 and r3 see the carrier drop at once, flood over at
    // most three lines of at most 40 ms, and every router reruns SPF 50 ms
    // after the news: well under half a second.
    let ls = settled(r#"routing = "link-state""#).expect("link state settles");
    assert!(ls < 0.5, "link state took {ls} s");
    // Distance vector: bad news travels one update round (2/3 s) per hop,
    // so it cannot be sound before the first round after the failure.
    let dv = settled(r#"routing = "distance-vector""#).expect("distance vector settles");
    assert!(dv > ls, "distance vector {dv} s, link state {ls} s");
}

#[test]
fn routing_keys_are_checked_with_their_position() {
    let cases = [
        (r#"routing = "ospf""#, "network.routing"),
        (
            "routing = \"link-state\"\nsplit_horizon = true",
            "network.split_horizon",
        ),
        (
            "routing = \"distance-vector\"\nls_window = \"5s\"",
            "network.ls_window",
        ),
        (
            "routing = \"distance-vector\"\nupdate_interval = \"0s\"",
            "network.update_interval",
        ),
        (
            "routing = \"link-state\"\nmetric = \"hops\"",
            "network.metric",
        ),
        ("hello_interval = \"1s\"", "hello_interval"),
    ];
    for (keys, key) in cases {
        let text = two_domains("1m", "", MTA, &format!("[network]\n{keys}\n"));
        let err = scenario::parse_str(&text, "t.toml", &data_dir())
            .expect_err(keys)
            .to_string();
        assert!(err.starts_with("t.toml:"), "{err}");
        assert!(err.contains(key), "{keys}: {err}");
    }
    let addressed = two_domains("1m", "", MTA, "").replacen(
        "name = \"r2\"",
        "name = \"r2\"\naddress = \"10.0.0.1\"",
        1,
    );
    let err = scenario::parse_str(&addressed, "t.toml", &data_dir())
        .expect_err("address of a host")
        .to_string();
    assert!(err.contains("router[1].address"), "{err}");
    assert!(err.contains("host[0]"), "{err}");
}

#[test]
fn router_addresses_and_static_aliases_are_read() {
    let text = two_domains("1m", "", MTA, "[network]\nrouting = \"hops\"\n").replacen(
        "name = \"r2\"",
        "name = \"r2\"\naddress = \"192.0.2.2\"",
        1,
    );
    let sc = parse(&text);
    assert_eq!(sc.routing, scenario::Routing::Hops);
    assert_eq!(sc.protocol, mailsim::net::routing::Protocol::Static);
    assert_eq!(sc.routers[1].address, Some("192.0.2.2".parse().unwrap()));
    let w = mailsim::experiment::build(&sc, 1);
    let r1 = w.net.node_named("r1").unwrap();
    let r2 = w.net.node_named("r2").unwrap();
    assert_eq!(
        w.net.routing().address(r2),
        Some("192.0.2.2".parse().unwrap())
    );
    assert_eq!(
        w.net.routing().address(r1),
        Some("10.255.0.1".parse().unwrap())
    );
}

#[test]
fn the_same_seed_gives_the_same_routing_log_in_a_whole_run() {
    for routing in [
        r#"routing = "distance-vector""#,
        r#"routing = "link-state""#,
    ] {
        let a = run(&detour(routing, CORE_DOWN));
        let b = run(&detour(routing, CORE_DOWN));
        let (la, lb) = (
            &a.world.net.routing().stats().route_changes,
            &b.world.net.routing().stats().route_changes,
        );
        assert!(!la.is_empty());
        assert_eq!(la, lb);
    }
}

/// Link state on a triangle (the quickstart's three routers), idle lines:
/// each router floods its lines at least every `ls_max_interval` (50 s)
/// and otherwise only when a 10 s window's delays moved. An update that
/// comes back to its origin around the triangle must not start a new one.
#[test]
fn link_state_control_traffic_stays_bounded_around_a_cycle_of_lines() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let mut sc = scenario::load(&path).expect("quickstart loads");
    sc.set_routing("link-state").expect("a protocol");
    let o = mailsim::experiment::run(&sc, None, |_| {});
    let s = summarize(&o, "quickstart.toml");
    // 3 routers x one origination per 10 s window at most, over 1800 s;
    // each flooded to 2 neighbours by its origin and on to 1 by each of
    // them, and every copy acknowledged: 8 messages an origination, plus
    // a few retransmissions on the lossy line.
    let originations = 3 * 1800 / 10;
    let bound = (originations * 8) as u64 * 11 / 10;
    assert!(
        s.routing.messages <= bound,
        "{} routing messages, at most {bound} expected",
        s.routing.messages
    );
    // And at least the refresh every 50 s.
    assert!(s.routing.messages >= (3 * 1800 / 50 * 8) as u64 * 9 / 10);
}
