//! Mail throughput: `scenarios/capacity-10k.toml` (10,000 users in 10
//! domains, one busy simulated hour) run end to end, building the world
//! included, writing the outputs not. Criterion reports the time per run and,
//! as throughput, the (message, recipient) pairs delivered per wall-clock
//! second. Figures and how to read them: docs/benchmarks.md.
//!
//!     cargo bench --bench mail

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use mailsim::experiment;
use mailsim::report::summarize;
use mailsim::scenario::{self, Scenario};

const SCENARIO: &str = "scenarios/capacity-10k.toml";

/// Runs the whole simulated hour; returns the pairs delivered.
fn run_hour(sc: &Scenario) -> u64 {
    let outcome = experiment::run(sc, None, |_| {});
    let summary = summarize(&outcome, "capacity-10k.toml");
    assert_eq!(summary.messages.balance.lost, 0, "a message was lost");
    summary.messages.balance.delivered
}

fn mail(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SCENARIO);
    let sc = match scenario::load(&path) {
        Ok(sc) => sc,
        Err(e) => panic!("{e}"),
    };
    // The run is deterministic: the first one gives the count for all.
    let delivered = run_hour(&sc);

    let mut g = c.benchmark_group("mail");
    g.sample_size(10);
    // About 6 s a run on 2 cores: one warm-up run, then ten samples of
    // one run each (a minute or more on a busy machine).
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(75));
    g.throughput(Throughput::Elements(delivered));
    g.bench_function("capacity_10k_one_hour_delivered", |b| {
        b.iter(|| black_box(run_hour(black_box(&sc))))
    });
    g.finish();
}

criterion_group!(benches, mail);
criterion_main!(benches);
