//! The kernel on the null-event model of the desbench yardstick
//! (`desbench null 20000000 4`): P processes, each rescheduling itself
//! after (id + 1) microseconds, N events in all. Criterion's time is per
//! 20M events, to compare with desbench's `loop_s`. Run them side by side,
//! alternating, in one shell (figures: docs/benchmarks.md):
//!
//!     cargo build --release --target-dir /work/target-desbench \
//!         --manifest-path /work/shared/yardsticks/desbench/Cargo.toml
//!     for i in 1 2 3; do
//!         /work/target-desbench/release/desbench null 20000000 4
//!         cargo bench --bench kernel
//!     done

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mailsim::sim::{Scheduler, SimTime};

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

fn kernel(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernel");
    g.sample_size(10);
    g.bench_function("null_20M_events_4_processes", |b| {
        b.iter(|| black_box(null_model(black_box(20_000_000), 4)))
    });
    g.finish();
}

criterion_group!(benches, kernel);
criterion_main!(benches);
