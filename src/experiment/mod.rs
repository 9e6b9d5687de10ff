//! Experiments: building a world from a scenario and running it.
//!
//! One run is single-threaded and decided entirely by `(scenario, seed)`.
//! The layers below know nothing of scenarios or workloads: this layer
//! turns the scenario into hosts, links, zones and clients, and drives the
//! workload and the faults through [`World::step`]'s upper events.

mod build;
mod bulk_driver;
mod faults;
mod sampler;
mod workload_driver;

use std::time::{Duration, Instant};

use crate::scenario::Scenario;
use crate::service::World;
use crate::sim::SimTime;

pub use build::build;
use sampler::Sampler;
pub use sampler::{LinkSample, MtaSample, TimeSeries};
use workload_driver::Driver;

/// A finished run: the world as it stood at the end, and its costs.
pub struct RunOutcome {
    /// The world at the end of the run.
    pub world: World,
    /// The seed used.
    pub seed: u64,
    /// Simulated time at the end.
    pub sim_time: SimTime,
    /// Wall-clock time the run took (for the terminal only).
    pub wall: Duration,
    /// Queue lengths, utilisation and drops over time.
    pub timeseries: TimeSeries,
}

/// Runs `scenario` with `seed` (the scenario's own unless overridden)
/// until its duration or until no events remain. `prepare` may attach a
/// transcript before the first event.
pub fn run(scenario: &Scenario, seed: Option<u64>, prepare: impl FnOnce(&mut World)) -> RunOutcome {
    let seed = seed.unwrap_or(scenario.run.seed);
    let started = Instant::now();
    let mut world = build(scenario, seed);
    tracing::info!(
        seed,
        hosts = world.hosts().len(),
        duration = %scenario.run.duration,
        "run starts"
    );
    prepare(&mut world);
    let mut driver = Driver::new(scenario, seed, &mut world);
    let limit = scenario.run.duration;
    let mut sampler = Sampler::new(scenario.output.sample, &world);
    loop {
        let until = sampler.next_due().min(limit);
        if let Some(token) = world.step(until) {
            driver.handle(token, &mut world);
            continue;
        }
        if world.sched.pending() == 0 || until == limit {
            break;
        }
        world.sched.advance_to(until);
        sampler.sample(&world, until);
    }
    let sim_time = if world.sched.pending() > 0 {
        limit
    } else {
        world.now()
    };
    world.sched.advance_to(sim_time);
    let timeseries = sampler.finish(&world, sim_time);
    let _ = world.transcript.flush();
    tracing::info!(seed, t = %sim_time, events = world.sched.events_run(), "run ends");
    RunOutcome {
        world,
        seed,
        sim_time,
        wall: started.elapsed(),
        timeseries,
    }
}
