//! Drives bulk workloads: each sender's connections open at Poisson times
//! to a target drawn uniformly from the others.
//!
//! Each sender has its own stream `bulk/<workload>/<host>`, so adding a
//! sender never changes another's draws.

use std::net::Ipv4Addr;

use crate::scenario::Scenario;
use crate::service::{HostId, World};
use crate::sim::{SimRng, SimTime, Streams, exponential, uniform};

use super::workload_driver::{KIND_BULK, token};

struct Sender {
    workload: usize,
    host: HostId,
    /// The workload's targets other than this sender.
    targets: Vec<Ipv4Addr>,
    rng: SimRng,
}

/// The senders of every bulk workload.
pub(super) struct BulkDriver {
    senders: Vec<Sender>,
}

impl BulkDriver {
    /// Starts the discard sinks and schedules every sender's first
    /// connection.
    pub(super) fn new(sc: &Scenario, seed: u64, w: &mut World) -> Self {
        let streams = Streams::new(seed);
        let mut senders = Vec::new();
        for (wi, b) in sc.bulk.iter().enumerate() {
            let targets: Vec<(HostId, Ipv4Addr)> = b
                .targets
                .iter()
                .filter_map(|t| w.host_named(t))
                .map(|h| (h, w.hosts()[h].addr))
                .collect();
            for &(h, _) in &targets {
                w.bulk_listen(h);
            }
            for s in &b.senders {
                let Some(host) = w.host_named(s) else {
                    continue;
                };
                senders.push(Sender {
                    workload: wi,
                    host,
                    targets: targets
                        .iter()
                        .filter(|(t, _)| *t != host)
                        .map(|(_, a)| *a)
                        .collect(),
                    rng: streams.stream(&format!("bulk/{wi}/{s}")),
                });
            }
        }
        let mut d = BulkDriver { senders };
        for i in 0..d.senders.len() {
            let start = sc.bulk[d.senders[i].workload].start;
            d.schedule_next(sc, i, start, w);
        }
        d
    }

    /// Sender `i`'s next connection is due: open it, draw the one after.
    pub(super) fn handle(&mut self, sc: &Scenario, i: usize, w: &mut World) {
        let now = w.now();
        let bytes = sc.bulk[self.senders[i].workload].bytes;
        let s = &mut self.senders[i];
        if !s.targets.is_empty() {
            let n = s.targets.len();
            let k = ((uniform(&mut s.rng) * n as f64) as usize).min(n - 1);
            w.bulk_open(s.host, s.targets[k], bytes);
        }
        self.schedule_next(sc, i, now, w);
    }

    fn schedule_next(&mut self, sc: &Scenario, i: usize, from: SimTime, w: &mut World) {
        let b = &sc.bulk[self.senders[i].workload];
        if b.rate_per_sec <= 0.0 {
            return;
        }
        let gap = exponential(&mut self.senders[i].rng, 1.0 / b.rate_per_sec);
        let at = from + SimTime::from_secs_f64(gap);
        if at < b.stop {
            w.schedule_upper(at, token(KIND_BULK, i));
        }
    }
}
