//! Bulk transfers (`[[workload]] kind = "bulk"`) over generated topologies:
//! connections open at the Poisson rate, every byte reaches the discard
//! sink, and completion times respect the physics of the path.

mod common;

use mailsim::experiment;
use mailsim::report::summarize;

/// Two hosts on one router, 10 Mbit/s and 5 ms per link: RTT 20 ms.
fn pair(rate: &str, stop: &str, duration: &str) -> String {
    format!(
        r#"[run]
duration = "{duration}"
seed = 3

[link_defaults]
bandwidth = "10Mbps"
delay = "5ms"

[[router]]
name = "r1"

[[host]]
name = "h1"
attach = "r1"

[[host]]
name = "h2"
attach = "r1"

[[workload]]
kind = "bulk"
hosts = "h1"
targets = "h2"
rate = "{rate}"
bytes = "25000B"
stop = "{stop}"
"#
    )
}

#[test]
fn every_flow_completes_and_every_byte_reaches_the_sink() {
    let sc = common::parse(&pair("0.5/s", "200s", "220s"));
    let o = experiment::run(&sc, None, |_| {});
    let b = summarize(&o, "pair").bulk.expect("bulk section");
    // Poisson: 0.5/s for 200 s has mean 100 and standard deviation 10.
    assert!((60..=140).contains(&b.opened), "opened {}", b.opened);
    assert_eq!(
        b.completed, b.opened,
        "20 s after the last open all are done"
    );
    assert_eq!((b.failed, b.in_progress), (0, 0));
    assert_eq!(b.bytes_delivered, 25_000 * b.opened as u64);
}

#[test]
fn a_flow_takes_at_least_the_handshake_a_crossing_and_the_serialisation() {
    let sc = common::parse(&pair("0.2/s", "300s", "320s"));
    let o = experiment::run(&sc, None, |_| {});
    let fct = summarize(&o, "pair").bulk.expect("bulk section").fct_s;
    // The SYN exchange takes one RTT (20 ms), the data then crosses once
    // (10 ms), and 25,000 bytes in 18 segments of at most 1500 bytes need
    // at least 25,000 * 8 / 10^7 s = 20 ms on the line: 50 ms at least.
    let lower = 0.020 + 0.010 + 0.020;
    let fastest = o
        .world
        .bulk_stats()
        .completion_times()
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    assert!(fastest >= lower, "fastest flow {fastest} s < {lower} s");
    // Slow start from 3 segments doubles at most each RTT: 3 + 6 + 12
    // covers 18 segments in three rounds even with delayed ACKs halving
    // the growth (3 + 4.5 + 6.75 + 10), so five RTTs of rounds, the
    // handshake and the serialisation of both links bound an idle flow.
    let upper = 0.020 + 5.0 * 0.020 + 2.0 * 0.020 + 0.010;
    let median = fct.p50.expect("some flow completed");
    assert!(median <= upper, "median {median} s > {upper} s");
}

#[test]
fn the_same_seed_gives_the_same_flows_and_another_seed_others() {
    let text = r#"[run]
duration = "5s"
seed = 1

[[topology]]
generator = "ba"
nodes = 30
m = 2
link = { bandwidth = "10Mbps", delay = "2ms" }
hosts = { per_router = 1 }

[[workload]]
kind = "bulk"
hosts = "h*"
rate = "1/s"
bytes = "20000B"
"#;
    let sc = common::parse(text);
    let run = |seed: u64| {
        let o = experiment::run(&sc, Some(seed), |_| {});
        let s = summarize(&o, "ba");
        serde_json::to_string(&s).expect("summary as JSON")
    };
    let a = run(1);
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
    assert!(a.contains("\"bulk\""));
}
