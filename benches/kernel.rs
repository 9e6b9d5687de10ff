//! Two kernel benchmarks.
//!
//! `null_20M_events_4_processes` is the null-event model of the desbench
//! yardstick (`desbench null 20000000 4`): P processes, each rescheduling
//! itself after (id + 1) microseconds, N events in all. Criterion's time is
//! per 20M events, to compare with desbench's `loop_s`.
//!
//! `hold/N` is the classic hold model of future event lists (Vaucher and
//! Duval 1975; Jones 1986): N events stay pending; each hold takes the
//! earliest and schedules one new event at its time plus an exponential
//! increment of mean 1 s (the increment desbench's `hold` mode draws).
//! Criterion's time is per hold, that is per event, with N = 10^4, 10^5 and
//! 10^6 pending.
//!
//! Run them side by side with desbench, alternating, in one shell
//! (figures: docs/benchmarks.md):
//!
//!     cargo build --release --target-dir /work/targets/desbench \
//!         --manifest-path /work/shared/yardsticks/desbench/Cargo.toml
//!     for i in 1 2 3; do
//!         /work/targets/desbench/release/desbench null 20000000 4
//!         cargo bench --bench kernel -- null
//!     done
//!     /work/targets/desbench/release/desbench hold 10000000 1000000 radix
//!     cargo bench --bench kernel -- hold

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mailsim::sim::{Scheduler, SimRng, SimTime, Streams, exponential};

/// Runs the null model; returns a checksum so nothing is optimised away.
fn null_model(n: u64, p: u32) -> u64 {
    let mut s: Scheduler<u32> = Scheduler::new();
    for i in 0..p {
        s.schedule(SimTime::ZERO, i);
    }
    let mut pushed = u64::from(p);
    let mut chk = 0u64;
    while let Some((t, who)) = s.step(SimTime::MAX) {
        chk = chk.wrapping_add(u64::from(who) ^ t.as_nanos());
        if pushed < n {
            pushed += 1;
            s.schedule(t + SimTime::from_nanos((u64::from(who) + 1) * 1000), who);
        }
    }
    chk
}

/// The hold model's state: a scheduler with a fixed number of pending
/// events and the stream that draws the increments.
struct Hold {
    sched: Scheduler<u32>,
    rng: SimRng,
}

/// The mean increment: one second, in nanoseconds.
const HOLD_MEAN_NS: f64 = 1e9;

impl Hold {
    /// `pending` events at exponential times from zero.
    fn new(pending: u32) -> Self {
        let mut rng = Streams::new(7).stream("hold");
        let mut sched = Scheduler::new();
        for who in 0..pending {
            let at = SimTime::from_nanos(exponential(&mut rng, HOLD_MEAN_NS) as u64);
            sched.schedule(at, who);
        }
        Hold { sched, rng }
    }

    /// One hold: take the earliest event, schedule its successor.
    fn hold(&mut self) -> u64 {
        let (t, who) = self.sched.step(SimTime::MAX).expect("never empty");
        let dt = exponential(&mut self.rng, HOLD_MEAN_NS) as u64;
        self.sched.schedule_in(SimTime::from_nanos(dt), who);
        t.as_nanos() ^ u64::from(who)
    }
}

fn kernel(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernel");
    g.sample_size(10);
    g.bench_function("null_20M_events_4_processes", |b| {
        b.iter(|| black_box(null_model(black_box(20_000_000), 4)))
    });
    g.finish();
}

fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("hold");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(2));
    g.measurement_time(Duration::from_secs(4));
    for pending in [10_000u32, 100_000, 1_000_000] {
        g.bench_function(BenchmarkId::from_parameter(pending), |b| {
            let mut model = Hold::new(pending);
            // Reach the steady state first: every initial event replaced
            // twice.
            for _ in 0..2 * pending {
                model.hold();
            }
            b.iter(|| black_box(model.hold()))
        });
    }
    g.finish();
}

criterion_group!(benches, kernel, hold);
criterion_main!(benches);
