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
//! changed a route (or right after a topology change), and no sooner after
//! the previous check than 1 ms or 1 % of the time since the topology
//! change, whichever is longer. A settling moment is therefore known to
//! within the next routing event after it, and to within about 1 % of the
//! reported time; in exchange a protocol that keeps moving routes for a
//! whole run costs a few hundred checks per topology change, not one per
//! routing packet. A check costs one pass over the links per host for
//! reachability (kept until the next topology change) and one walk per
//! router and host, each node's verdict remembered along the way.

use std::collections::VecDeque;

use super::{ChannelId, Network, NodeId, NodeKind};
use crate::sim::SimTime;

/// Least simulated time between two checks.
const MIN_GAP: SimTime = SimTime::from_nanos(1_000_000);

/// Checks are at least this fraction of the time since the topology
/// change apart (1 / 100).
const GAP_DIVISOR: u64 = 100;

/// What a check has learnt about one node's next-hop chain towards the
/// host being checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Not followed yet.
    Unknown,
    /// On the chain being followed now.
    OnPath,
    /// The chain reaches the host.
    Arrives,
    /// The chain stops: no route, or a dead link or node.
    Ends,
    /// The chain circles, or passes through another host.
    Loops,
}

/// What the watcher remembers between checks.
#[derive(Debug, Default)]
pub(crate) struct SettleWatch {
    /// Index of the topology change being watched.
    topo: usize,
    /// Route changes already seen.
    changes_seen: usize,
    /// When the watched change happened.
    since: SimTime,
    /// For each host (in `host_index` order), which nodes can reach it;
    /// computed at the first check after a topology change.
    reach: Option<Vec<Vec<bool>>>,
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
        let since = stats.topology_changes[latest];
        let w = &mut self.settle;
        if latest != w.topo || w.last.is_none() {
            *w = SettleWatch {
                topo: latest,
                changes_seen: w.changes_seen,
                dirty: true,
                since,
                ..SettleWatch::default()
            };
        }
        if stats.route_changes.len() != w.changes_seen {
            w.changes_seen = stats.route_changes.len();
            w.dirty = true;
        }
        let done = stats.settled.contains_key(&latest);
        let gap = MIN_GAP.max(SimTime::from_nanos(
            now.saturating_sub(w.since).as_nanos() / GAP_DIVISOR,
        ));
        let too_soon = w.last.is_some_and(|t| now < t.saturating_add(gap));
        if done || !w.dirty || too_soon {
            return;
        }
        w.last = Some(now);
        w.dirty = false;
        let reach = match w.reach.take() {
            Some(r) => r,
            None => self.reachability(),
        };
        let sound = self.forwarding_is_sound(&reach);
        self.settle.reach = Some(reach);
        if sound {
            self.routing.stats_mut().settled.insert(latest, now);
        }
    }

    /// For each host, by its column in `host_index`, the nodes that can
    /// reach it.
    fn reachability(&self) -> Vec<Vec<bool>> {
        let mut incoming: Vec<Vec<ChannelId>> = vec![Vec::new(); self.nodes.len()];
        for (ch, c) in self.channels.iter().enumerate() {
            if c.up {
                incoming[c.to].push(ch);
            }
        }
        let mut reach = vec![Vec::new(); self.host_index.len()];
        for (&dest, &hi) in &self.host_index {
            reach[hi] = self.reachable_from(dest, &incoming);
        }
        reach
    }

    /// True when, for every host, every up router's next-hop chain reaches
    /// it if it is reachable and ends without a loop if it is not.
    fn forwarding_is_sound(&self, reach: &[Vec<bool>]) -> bool {
        let mut verdict = vec![Verdict::Unknown; self.nodes.len()];
        let mut path = Vec::new();
        for (&dest, &hi) in &self.host_index {
            verdict.fill(Verdict::Unknown);
            verdict[dest] = Verdict::Arrives;
            for (r, &reachable) in reach[hi].iter().enumerate() {
                if self.nodes[r].kind != NodeKind::Router || !self.nodes[r].up {
                    continue;
                }
                let ok = match self.follow(r, dest, hi, &mut verdict, &mut path) {
                    Verdict::Arrives => reachable,
                    Verdict::Ends => !reachable,
                    _ => false,
                };
                if !ok {
                    return false;
                }
            }
        }
        true
    }

    /// Follows next hops from `r` towards `dest` until a node whose fate is
    /// known, and gives every node on the way that fate.
    fn follow(
        &self,
        r: NodeId,
        dest: NodeId,
        hi: usize,
        verdict: &mut [Verdict],
        path: &mut Vec<NodeId>,
    ) -> Verdict {
        path.clear();
        let mut at = r;
        let fate = loop {
            match verdict[at] {
                Verdict::Unknown => {}
                Verdict::OnPath => break Verdict::Loops,
                known => break known,
            }
            verdict[at] = Verdict::OnPath;
            path.push(at);
            let ch = self.routes[at][hi];
            if ch == super::NONE {
                break Verdict::Ends;
            }
            let c = &self.channels[ch as ChannelId];
            if !c.up || !self.nodes[c.to].up {
                break Verdict::Ends;
            }
            if c.to != dest && self.nodes[c.to].kind == NodeKind::Host {
                break Verdict::Loops;
            }
            at = c.to;
        };
        for &n in path.iter() {
            verdict[n] = fate;
        }
        fate
    }

    /// Nodes that can reach `dest` over up links and up nodes, with hosts
    /// other than `dest` never carrying transit traffic.
    fn reachable_from(&self, dest: NodeId, incoming: &[Vec<ChannelId>]) -> Vec<bool> {
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
            for &ch in &incoming[n] {
                let from = self.channels[ch].from;
                if !seen[from] && self.nodes[from].up {
                    seen[from] = true;
                    todo.push_back(from);
                }
            }
        }
        seen
    }
}
