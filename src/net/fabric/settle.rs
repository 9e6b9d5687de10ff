//! When has routing settled? After each topology change, the first moment
//! the forwarding state is complete and loop-free again.
//!
//! A route change alone says little under a load-sensitive metric: the
//! 1969 distance vector and the 1979 link state both keep moving routes
//! as queues come and go, so "the last route change" is often the end of
//! the run. What a user of the network cares about is whether packets
//! get through, so we check that instead: every router that can reach a
//! host (through links and routers that are up) has a next-hop chain that
//! arrives there, and a router that cannot reach it has a chain that ends
//! (no route, or a dead link) instead of circling.
//!
//! Deliberate simplifications: the check runs after routing events that
//! changed a route (or right after a topology change), at most once per
//! simulated millisecond, so a settling moment is known to within the next
//! routing event after it; and at most [`MAX_CHECKS`] times per topology
//! change, after which it is reported as not settled, so that a protocol
//! that never stops moving routes on a big network costs bounded time.

use std::collections::VecDeque;

use super::{ChannelId, Network, NodeId, NodeKind};
use crate::sim::SimTime;

/// Checks per topology change before giving up.
pub(crate) const MAX_CHECKS: u32 = 1_000;

/// Least simulated time between two checks.
const MIN_GAP: SimTime = SimTime::from_nanos(1_000_000);

/// What the watcher remembers between checks.
#[derive(Debug, Default)]
pub(crate) struct SettleWatch {
    /// Index of the topology change being watched.
    topo: usize,
    /// Route changes already seen.
    changes_seen: usize,
    /// Checks spent on the watched change.
    checks: u32,
    /// When the last check ran.
    last: Option<SimTime>,
    /// A route changed since the last check.
    dirty: bool,
}

impl Network {
    /// Records the settling time of the latest topology change when the
    /// forwarding state has just become complete and loop-free.
    pub(super) fn watch_settling(&mut self, now: SimTime) {
        let stats = self.routing.stats();
        let Some(latest) = stats.topology_changes.len().checked_sub(1) else {
            return;
        };
        let w = &mut self.settle;
        if latest != w.topo || w.last.is_none() {
            *w = SettleWatch {
                topo: latest,
                changes_seen: w.changes_seen,
                dirty: true,
                ..SettleWatch::default()
            };
        }
        if stats.route_changes.len() != w.changes_seen {
            w.changes_seen = stats.route_changes.len();
            w.dirty = true;
        }
        let done = stats.settled.contains_key(&latest);
        let too_soon = w.last.is_some_and(|t| now < t + MIN_GAP);
        if done || !w.dirty || too_soon || w.checks >= MAX_CHECKS {
            return;
        }
        w.checks += 1;
        w.last = Some(now);
        w.dirty = false;
        if self.forwarding_is_sound() {
            self.routing.stats_mut().settled.insert(latest, now);
        }
    }

    /// True when, for every host, every up router's next-hop chain reaches
    /// it if it is reachable and ends without a loop if it is not.
    fn forwarding_is_sound(&self) -> bool {
        let routers: Vec<NodeId> = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].kind == NodeKind::Router && self.nodes[n].up)
            .collect();
        for (&dest, &hi) in &self.host_index {
            let reach = self.reachable_from(dest);
            for &r in &routers {
                if !self.chain_is_sound(r, dest, hi, reach[r]) {
                    return false;
                }
            }
        }
        true
    }

    /// Nodes that can reach `dest` over up links and up nodes, with hosts
    /// other than `dest` never carrying transit traffic.
    fn reachable_from(&self, dest: NodeId) -> Vec<bool> {
        let mut seen = vec![false; self.nodes.len()];
        if !self.nodes[dest].up {
            return seen;
        }
        seen[dest] = true;
        let mut todo = VecDeque::from([dest]);
        while let Some(n) = todo.pop_front() {
            if n != dest && self.nodes[n].kind == NodeKind::Host {
                continue;
            }
            for c in self.channels.iter().filter(|c| c.to == n && c.up) {
                if !seen[c.from] && self.nodes[c.from].up {
                    seen[c.from] = true;
                    todo.push_back(c.from);
                }
            }
        }
        seen
    }

    /// Follows next hops from router `r` towards `dest`.
    fn chain_is_sound(&self, r: NodeId, dest: NodeId, hi: usize, reachable: bool) -> bool {
        let mut at = r;
        for _ in 0..=self.nodes.len() {
            if at == dest {
                return true;
            }
            let ch = self.routes[at][hi];
            if ch == super::NONE {
                return !reachable;
            }
            let c = &self.channels[ch as ChannelId];
            if !c.up || !self.nodes[c.to].up {
                return !reachable;
            }
            if c.to != dest && self.nodes[c.to].kind == NodeKind::Host {
                return false;
            }
            at = c.to;
        }
        false
    }
}
