//! `[[workload]] kind = "bulk"`: hosts that open TCP connections to other
//! hosts at random (Poisson) times and send a fixed number of bytes to the
//! discard port on each (RFC 863), as ns-3's bulk-send examples do.
//!
//! Host patterns are host names where `*` stands for any run of characters
//! (`"h*"`, `"*"`, `"h1_*"`); a list may mix patterns and names.

use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;

use super::BulkWorkload;
use super::error::ScenarioError;
use super::network::Net;
use super::schema::{RawWorkload, StrList};
use super::units::{parse_rate, parse_size};
use super::validate::{Check, key};
use crate::sim::SimTime;

/// The largest transfer one connection may carry.
const MAX_BYTES: u64 = 1_000_000_000;
/// The most connections one bulk workload may be expected to open.
const MAX_EXPECTED_FLOWS: f64 = 5_000_000.0;

/// Whether `[[workload]]` `raw` is of kind `"bulk"`.
pub(crate) fn is_bulk(raw: &RawWorkload) -> bool {
    raw.kind
        .as_ref()
        .is_some_and(|k| k.get_ref().eq_ignore_ascii_case("bulk"))
}

/// Reads every bulk `[[workload]]`, in file order.
pub(crate) fn build(
    check: &Check,
    raw: &[RawWorkload],
    net: &Net,
    duration: SimTime,
) -> Result<Vec<BulkWorkload>, ScenarioError> {
    raw.iter()
        .enumerate()
        .filter(|(_, w)| is_bulk(w))
        .map(|(i, w)| workload(check, w, i, net, duration))
        .collect()
}

fn workload(
    check: &Check,
    raw: &RawWorkload,
    i: usize,
    net: &Net,
    duration: SimTime,
) -> Result<BulkWorkload, ScenarioError> {
    let k = |field: &str| key("workload", i, field);
    let kind_span = raw.kind.as_ref().map(|v| v.span()).unwrap_or_default();
    let mail_only: [(&str, Option<Range<usize>>); 4] = [
        ("users", raw.users.as_ref().map(|v| v.span())),
        ("size", raw.size.as_ref().map(|v| v.span())),
        ("local", raw.local.as_ref().map(|v| v.span())),
        ("to", raw.to.as_ref().map(|v| v.span())),
    ];
    for (field, span) in mail_only {
        if let Some(span) = span {
            let message = format!(
                "{field} is for mail workloads; a bulk workload takes hosts, targets, bytes"
            );
            return Err(check.err(span, &k(field), message));
        }
    }
    let Some(hosts) = &raw.hosts else {
        let message = r#"a bulk workload needs hosts, like hosts = "h*""#;
        return Err(check.err(kind_span, &k("hosts"), message));
    };
    let senders = expand(check, hosts, &k("hosts"), net)?;
    let targets = match &raw.targets {
        Some(t) => expand(check, t, &k("targets"), net)?,
        None => senders.clone(),
    };
    if senders.iter().all(|s| targets.iter().all(|t| t == s)) {
        let span = raw.targets.as_ref().map_or(hosts.span(), |t| t.span());
        return Err(check.err(
            span,
            &k("targets"),
            "no target other than the sender itself",
        ));
    }
    let Some(rate) = &raw.rate else {
        let message = r#"a bulk workload needs rate, like rate = "2/s" (per host)"#;
        return Err(check.err(kind_span, &k("rate"), message));
    };
    let rate_per_sec =
        parse_rate(rate.get_ref()).map_err(|m| check.err(rate.span(), &k("rate"), m))?;
    let Some(bytes) = &raw.bytes else {
        let message = r#"a bulk workload needs bytes, like bytes = "25000B""#;
        return Err(check.err(kind_span, &k("bytes"), message));
    };
    let bytes_n =
        parse_size(bytes.get_ref()).map_err(|m| check.err(bytes.span(), &k("bytes"), m))?;
    if bytes_n == 0 || bytes_n > MAX_BYTES {
        let message = format!("{bytes_n} bytes is out of range: use 1 B to 1 GB");
        return Err(check.err(bytes.span(), &k("bytes"), message));
    }
    let start = match &raw.start {
        Some(v) => check.duration(v, &k("start"))?,
        None => SimTime::ZERO,
    };
    let stop = match &raw.stop {
        Some(v) => check.duration(v, &k("stop"))?,
        None => duration,
    };
    if stop <= start {
        let span = raw
            .stop
            .as_ref()
            .or(raw.start.as_ref())
            .map_or(kind_span, |v| v.span());
        return Err(check.err(span, &k("stop"), "the workload must stop after it starts"));
    }
    let span_secs = (stop.min(duration).max(start) - start).as_secs_f64();
    let expected = rate_per_sec * senders.len() as f64 * span_secs;
    if expected > MAX_EXPECTED_FLOWS {
        let message = format!(
            "this workload would open about {expected:.3e} connections; the limit is \
             {MAX_EXPECTED_FLOWS:.0} per workload: lower the rate or the duration"
        );
        return Err(check.err(rate.span(), &k("rate"), message));
    }
    Ok(BulkWorkload {
        senders,
        targets,
        rate_per_sec,
        bytes: bytes_n,
        start,
        stop,
    })
}

/// The hosts named or matched by a pattern or list, in host order for a
/// pattern, without repeats.
fn expand(
    check: &Check,
    raw: &Spanned<StrList>,
    k: &str,
    net: &Net,
) -> Result<Vec<String>, ScenarioError> {
    let items = super::schema::str_list_items(raw, k);
    if items.is_empty() {
        return Err(check.err(raw.span(), k, "give at least one host or pattern"));
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (text, span, ik) in items {
        let pattern = text.trim().to_ascii_lowercase();
        let matched: Vec<String> = if pattern.contains('*') {
            let m: Vec<String> = net
                .hosts
                .iter()
                .filter(|h| glob(&pattern, &h.name))
                .map(|h| h.name.clone())
                .collect();
            if m.is_empty() {
                return Err(check.err(span, &ik, format!("the pattern {text:?} matches no host")));
            }
            m
        } else {
            let v = Spanned::new(span, text);
            let need = super::network::Need::Host;
            vec![net.resolve(check, &v, &ik, need)?]
        };
        for h in matched {
            if seen.insert(h.clone()) {
                out.push(h);
            }
        }
    }
    Ok(out)
}

/// Whether `name` matches `pattern`, where `*` is any run of characters.
pub(crate) fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_str;

    #[test]
    fn stars_match_any_run_of_characters() {
        assert!(glob("*", "h1"));
        assert!(glob("h*", "h1_2"));
        assert!(glob("h1_*", "h1_2"));
        assert!(!glob("h1_*", "h11_2"));
        assert!(glob("*.a.example", "mx.a.example"));
        assert!(glob("h*_*", "h3_4"));
        assert!(!glob("h*_*", "h34"));
        assert!(glob("h1", "h1") && !glob("h1", "h12"));
        assert!(!glob("ab*ba", "aba"));
    }

    const BASE: &str = "[run]\nduration = \"10s\"\n[[topology]]\ngenerator = \"ring\"\n\
                        nodes = 4\nhosts = { per_router = 1 }\n[[workload]]\nkind = \"bulk\"\n";

    fn load(extra: &str) -> Result<crate::scenario::Scenario, ScenarioError> {
        parse_str(
            &format!("{BASE}{extra}"),
            "t.toml",
            std::path::Path::new("."),
        )
    }

    #[test]
    fn a_bulk_workload_reads_hosts_rate_and_bytes() {
        let sc = load("hosts = \"h*\"\nrate = \"2/s\"\nbytes = \"25000B\"\n").unwrap();
        assert!(sc.workloads.is_empty());
        let b = &sc.bulk[0];
        assert_eq!(b.senders, ["h1", "h2", "h3", "h4"]);
        assert_eq!(b.targets, b.senders);
        assert_eq!((b.rate_per_sec, b.bytes), (2.0, 25_000));
        assert_eq!(b.stop, SimTime::from_secs(10));
    }

    #[test]
    fn bulk_mistakes_name_the_key() {
        let cases = [
            (
                "rate = \"2/s\"\nbytes = \"1KB\"\n",
                "t.toml:8:8: workload[0].hosts: a bulk workload needs hosts",
            ),
            (
                "hosts = \"x*\"\nrate = \"2/s\"\nbytes = \"1KB\"\n",
                "t.toml:9:9: workload[0].hosts: the pattern \"x*\" matches no host",
            ),
            (
                "hosts = \"h1\"\nrate = \"2/s\"\nbytes = \"1KB\"\n",
                "t.toml:9:9: workload[0].targets: no target other than the sender",
            ),
            (
                "hosts = \"*\"\nrate = \"2/s\"\nbytes = \"0B\"\n",
                "t.toml:11:9: workload[0].bytes: 0 bytes is out of range",
            ),
            (
                "hosts = \"*\"\nrate = \"2/s\"\nbytes = \"1KB\"\nusers = \"*\"\n",
                "t.toml:12:9: workload[0].users: users is for mail workloads",
            ),
        ];
        for (extra, want) in cases {
            let got = load(extra).unwrap_err().to_string();
            assert!(got.starts_with(want), "got {got:?}, want {want:?}");
        }
    }
}
