//! Packet forwarding speed on two generated networks, run end to end
//! (building the world included, writing outputs not). Criterion reports
//! the time per run and, as throughput, link packet transmissions (the sum
//! of `links.csv` packets) per wall-clock second.
//!
//! - `ns3_grid_reference`: `scenarios/ns3-grid-reference.toml`, the 10 x 10
//!   grid bulk-transfer workload ns-3 is quoted on (60 simulated seconds).
//! - `large_1000_ten_minutes`: `scenarios/large-1000.toml` (mail over a
//!   1000-router Barabasi-Albert graph) cut to 10 simulated minutes.
//!
//! Before measuring, it prints the resident memory the large world holds
//! per router (VmRSS from /proc/self/status, on Linux), after building and
//! after the run. Figures: docs/benchmarks.md.
//!
//!     cargo bench --bench network

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use mailsim::experiment;
use mailsim::report::summarize;
use mailsim::scenario::{self, Scenario};
use mailsim::sim::SimTime;

fn load(rel: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    match scenario::load(&path) {
        Ok(sc) => sc,
        Err(e) => panic!("{e}"),
    }
}

/// Runs the scenario; returns the link packet transmissions.
fn run(sc: &Scenario) -> u64 {
    let outcome = experiment::run(sc, None, |_| {});
    let summary = summarize(&outcome, "bench");
    assert_eq!(summary.messages.balance.lost, 0, "a message was lost");
    summary.network.packets
}

/// The process's resident set in KiB (VmRSS), where /proc exists.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report_memory(sc: &Scenario) {
    let routers = sc.routers.len() as f64;
    let before = rss_kib();
    let world = experiment::build(sc, sc.run.seed);
    let built = rss_kib();
    drop(world);
    let outcome = experiment::run(sc, None, |_| {});
    let ran = rss_kib();
    if let (Some(b), Some(w), Some(r)) = (before, built, ran) {
        let per = |kib: u64| kib.saturating_sub(b) as f64 / routers;
        eprintln!(
            "large-1000: {} routers, {} hosts, {} links; resident memory over the \
             baseline: {:.1} KiB per router after building, {:.1} KiB per router \
             after 10 simulated minutes ({} link packets)",
            sc.routers.len(),
            sc.hosts.len(),
            sc.links.len(),
            per(w),
            per(r),
            outcome
                .world
                .net
                .channels()
                .iter()
                .map(|c| c.stats.packets)
                .sum::<u64>()
        );
    }
}

fn network(c: &mut Criterion) {
    let grid = load("scenarios/ns3-grid-reference.toml");
    let mut large = load("scenarios/large-1000.toml");
    large.run.duration = SimTime::from_secs(600);
    report_memory(&large);

    // Each run is deterministic: the first gives the count for all.
    let mut g = c.benchmark_group("network");
    g.sample_size(10);
    // About 2-3 s of CPU a run: one warm-up run, then ten samples of one
    // run each; both groups together stay under three minutes on a
    // lightly loaded machine.
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(30));
    g.throughput(Throughput::Elements(run(&grid)));
    g.bench_function("ns3_grid_reference_link_packets", |b| {
        b.iter(|| black_box(run(black_box(&grid))))
    });
    g.throughput(Throughput::Elements(run(&large)));
    g.bench_function("large_1000_ten_minutes_link_packets", |b| {
        b.iter(|| black_box(run(black_box(&large))))
    });
    g.finish();
}

criterion_group!(benches, network);
criterion_main!(benches);
