//! Shared scaffolding for the whole-network tests: a small two-domain
//! network written as scenario text, and helpers to run it.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};

use mailsim::experiment::{self, RunOutcome};
use mailsim::scenario::{self, Scenario};
use mailsim::service::ledger::Fate;

/// The folder of test fixtures.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
}

/// Two domains on three routers: a.test (alice, adam) with its MTA and
/// store on mta.a.test, b.test (bob, carol) on mx.b.test. `core` holds
/// extra keys for the r2-r3 link (e.g. `loss = 0.05`), `mta` the MTA
/// settings of both MTAs, and `extra` is appended (sends, faults,
/// workloads).
pub fn two_domains(duration: &str, core: &str, mta: &str, extra: &str) -> String {
    format!(
        r#"
[run]
duration = "{duration}"
seed = 7

[[router]]
name = "r1"
[[router]]
name = "r2"
[[router]]
name = "r3"

[[link]]
between = ["r1", "r2"]
bandwidth = "10Mbps"
delay = "5ms"

[[link]]
between = ["r2", "r3"]
bandwidth = "2Mbps"
delay = "10ms"
{core}

[[host]]
name = "mta.a.test"
attach = "r1"
services = ["mta", "pop3", "imap", "dns"]
mta = {{ {mta} }}

[[host]]
name = "pc.a.test"
attach = "r1"

[[host]]
name = "mx.b.test"
attach = "r3"
services = ["mta", "pop3", "imap", "dns"]
mta = {{ {mta} }}

[[host]]
name = "pc.b.test"
attach = "r3"

[[domain]]
name = "a.test"
mx = [{{ host = "mta.a.test", preference = 10 }}]
dns = ["mta.a.test"]
users = ["alice", "adam"]

[[domain]]
name = "b.test"
mx = [{{ host = "mx.b.test", preference = 10 }}]
dns = ["mx.b.test"]
users = ["bob", "carol"]

[[client]]
user = "alice@a.test"
host = "pc.a.test"
fetch = {{ protocol = "pop3", every = "1m" }}

[[client]]
user = "adam@a.test"
host = "pc.a.test"
fetch = {{ protocol = "imap", every = "1m" }}

[[client]]
user = "bob@b.test"
host = "pc.b.test"
fetch = {{ protocol = "pop3", every = "1m" }}

[[client]]
user = "carol@b.test"
host = "pc.b.test"
fetch = {{ protocol = "imap", every = "1m" }}

{extra}
"#
    )
}

/// Default MTA settings for [`two_domains`].
pub const MTA: &str = r#"retry = "5m", backoff = 2.0, retry_max = "30m", queue_lifetime = "1d""#;

/// Parses scenario text with the fixtures folder as its base.
pub fn parse(text: &str) -> Scenario {
    match scenario::parse_str(text, "test.toml", &data_dir()) {
        Ok(sc) => sc,
        Err(e) => panic!("test scenario does not load: {e}"),
    }
}

/// Runs scenario text, keeping every message clients download.
pub fn run(text: &str) -> RunOutcome {
    let sc = parse(text);
    experiment::run(&sc, None, |w| w.record_fetches())
}

/// The (message, recipient) records of a run whose recipient is `addr`.
pub fn fates_of<'a>(o: &'a RunOutcome, addr: &str) -> Vec<&'a Fate> {
    o.world
        .ledger
        .msgs
        .iter()
        .flat_map(|m| m.rcpts.iter())
        .filter(|r| r.addr == addr)
        .map(|r| &r.fate)
        .collect()
}

/// Removes the trace fields (`Return-Path`, `Received`, with their folded
/// continuation lines) from the top of a message, as RFC 5321 section 4.4
/// lets MTAs add them.
pub fn strip_trace(data: &[u8]) -> Vec<u8> {
    let mut rest = data;
    loop {
        let lower = rest
            .get(..12)
            .map(|b| b.to_ascii_lowercase())
            .unwrap_or_default();
        let is_trace = lower.starts_with(b"received:") || lower.starts_with(b"return-path:");
        if !is_trace {
            return rest.to_vec();
        }
        // Skip this field: its first line and any line starting with WSP.
        let mut i = 0;
        loop {
            match rest[i..].windows(2).position(|w| w == b"\r\n") {
                Some(p) => i += p + 2,
                None => return Vec::new(),
            }
            if !matches!(rest.get(i), Some(b' ') | Some(b'\t')) {
                break;
            }
        }
        rest = &rest[i..];
    }
}

/// The bytes of a fixture file with bare LF turned into CRLF.
pub fn fixture_crlf(rel: &str) -> Vec<u8> {
    let raw = std::fs::read(data_dir().join(rel)).expect("fixture exists");
    let mut out = Vec::with_capacity(raw.len() + 64);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}
