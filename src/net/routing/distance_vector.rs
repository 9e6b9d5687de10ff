//! The 1969 ARPANET routing: a distributed Bellman-Ford over estimated
//! delays, as described by J. M. McQuillan ("Adaptive Routing Algorithms
//! for Distributed Computer Networks", BBN Report 2831, 1974) and by
//! McQuillan, Richer and Rosen ("The New Routing Algorithm for the
//! ARPANET", IEEE Trans. Communications 28(5), 1980, section II, on the
//! algorithm it replaced), after Heart et al., "The Interface Message
//! Processor for the ARPA Computer Network" (AFIPS SJCC 1970).
//!
//! Every router keeps, for each destination host, its estimated delay and
//! the neighbour it sends through. Every `interval` (2/3 s in the IMPs) it
//! sends each neighbouring router its whole table of estimates. On receipt
//! it stores the neighbour's vector and recomputes each destination as the
//! least, over neighbours, of (its own estimate of the delay to that
//! neighbour + the neighbour's estimate to the destination); an attached
//! host costs just the delay of the line to it.
//!
//! The delay estimate of a line, in microseconds (at least 1): the number
//! of packets waiting in the router's output queue towards the neighbour,
//! times the line's mean packet transmission time so far (time spent
//! transmitting / packets transmitted, zero before the first packet), plus
//! the line's propagation delay. The IMPs used the queue length plus a
//! constant; the mean transmission time turns that length into time and
//! the propagation delay stands for the constant, so a quiet network routes
//! like static routing by delay. The estimate is taken when a neighbour's
//! update arrives.
//!
//! Estimates at or above `infinity` mean unreachable (sent as
//! `0xffffffff`). Without split horizon (the 1969 default) two routers can
//! each believe in a path through the other after a failure and raise
//! their estimates step by step until they reach infinity: count to
//! infinity. With `split_horizon`, a router reports as unreachable every
//! destination it routes through the neighbour it is writing to (with
//! whole-table updates, leaving an entry out and reporting it unreachable
//! come to the same thing), which ends the two-router loops.
//!
//! Failures are learnt from carrier loss at once (see the module above);
//! the neighbour's stored vector is discarded. Updates are purely periodic
//! (no triggered updates, as in 1969), each period drawn uniformly within
//! ±5 % of `interval` from the stream `routing/dv/<router>`, the first at a
//! uniform phase within one interval, so routers do not synchronise.

use std::ops::Range;

use crate::sim::{SimRng, SimTime, Streams, uniform};

use super::super::fabric::ChannelId;
use super::{
    Change, ControlMessage, Ctx, Metric, NO_ROUTE, Out, RoutingStats, RoutingTimer, Topo,
    UNREACHABLE, micros,
};

/// Settings of the distance-vector protocol.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DvConfig {
    /// Mean time between two updates of a router (default 2/3 s, the IMPs').
    pub interval: SimTime,
    /// Report routes through a neighbour as unreachable to that neighbour
    /// (default off, as in the 1969 IMPs).
    pub split_horizon: bool,
    /// The estimate that means unreachable (default 1 s).
    pub infinity: SimTime,
}

impl Default for DvConfig {
    fn default() -> Self {
        DvConfig {
            interval: SimTime::from_nanos(666_666_667),
            split_horizon: false,
            infinity: SimTime::from_secs(1),
        }
    }
}

struct Neighbour {
    /// Our channel towards it.
    ch: ChannelId,
    /// Its last vector, by host index.
    vector: Vec<Metric>,
}

struct DvRouter {
    dist: Vec<Metric>,
    neighbours: Vec<Neighbour>,
    /// Attached hosts: (our channel to it, host index).
    hosts: Vec<(ChannelId, usize)>,
    rng: SimRng,
}

pub(crate) struct DistanceVector {
    cfg: DvConfig,
    infinity: Metric,
    routers: Vec<DvRouter>,
    best: Vec<(Metric, u32)>,
}

impl DistanceVector {
    pub fn new(cfg: DvConfig, topo: &Topo, streams: &Streams, out: &mut Out) -> Self {
        let n_hosts = topo.hosts.len();
        let mut routers = Vec::with_capacity(topo.routers.len());
        for &r in &topo.routers {
            let mut rng = streams.stream(&format!("routing/dv/{}", topo.names[r]));
            let mut neighbours = Vec::new();
            let mut hosts = Vec::new();
            for &ch in &topo.out[r] {
                let to = topo.to[ch];
                if topo.is_router[to] {
                    neighbours.push(Neighbour {
                        ch,
                        vector: vec![UNREACHABLE; n_hosts],
                    });
                } else {
                    hosts.push((ch, topo.index[to] as usize));
                }
            }
            let phase = (cfg.interval.as_nanos() as f64 * uniform(&mut rng)) as u64;
            out.timers
                .push((SimTime::from_nanos(phase), r, RoutingTimer::Update));
            routers.push(DvRouter {
                dist: vec![UNREACHABLE; n_hosts],
                neighbours,
                hosts,
                rng,
            });
        }
        let mut dv = DistanceVector {
            cfg,
            infinity: micros(cfg.infinity),
            routers,
            best: vec![(UNREACHABLE, NO_ROUTE); n_hosts],
        };
        dv.best.shrink_to_fit();
        dv
    }

    pub fn distance(&self, topo: &Topo, router: usize, hi: usize) -> Metric {
        self.routers[topo.index[router] as usize].dist[hi]
    }

    /// The periodic update: send every usable neighbour our vector.
    pub fn on_timer(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        out: &mut Out,
        stats: &mut RoutingStats,
        node: usize,
    ) {
        let r = &mut self.routers[topo.index[node] as usize];
        let jitter = 0.95 + 0.1 * uniform(&mut r.rng);
        let next = (self.cfg.interval.as_nanos() as f64 * jitter) as u64;
        out.timers
            .push((SimTime::from_nanos(next.max(1)), node, RoutingTimer::Update));
        if !ctx.nodes[node].up {
            return;
        }
        for nb in &r.neighbours {
            if !ctx.usable(nb.ch) {
                continue;
            }
            let per = ControlMessage::dv_entries_per_packet(ctx.channels[nb.ch].params.mtu);
            let route = &ctx.routes[node];
            let value = |d: usize| {
                if self.cfg.split_horizon && route[d] == nb.ch as u32 {
                    UNREACHABLE
                } else {
                    r.dist[d]
                }
            };
            let n = r.dist.len();
            let mut first = 0;
            while first < n {
                let end = (first + per).min(n);
                let msg = ControlMessage::DvUpdate {
                    first: first as u32,
                    delays: (first..end).map(value).collect(),
                };
                out.send(stats, topo, ctx.channels, nb.ch, &msg);
                first = end;
            }
        }
    }

    /// A neighbour's vector (or part of it) arrived on channel `ch_in`.
    #[allow(clippy::too_many_arguments)]
    pub fn on_message(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        _out: &mut Out,
        stats: &mut RoutingStats,
        node: usize,
        ch_in: ChannelId,
        msg: &ControlMessage,
    ) {
        let ControlMessage::DvUpdate { first, delays } = msg else {
            return;
        };
        let ord = topo.index[node] as usize;
        let back = topo.reverse[ch_in];
        let infinity = self.infinity;
        let r = &mut self.routers[ord];
        let Some(nb) = r.neighbours.iter_mut().find(|nb| nb.ch == back) else {
            return;
        };
        let first = (*first as usize).min(nb.vector.len());
        let end = (first + delays.len()).min(nb.vector.len());
        for (slot, &d) in nb.vector[first..end].iter_mut().zip(delays) {
            *slot = if d >= infinity { UNREACHABLE } else { d };
        }
        // Only the destinations this part of the vector covers can change.
        self.recompute(topo, ctx, stats, ord, first..end);
    }

    pub fn on_change(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        _out: &mut Out,
        stats: &mut RoutingStats,
        change: Change,
    ) {
        match change {
            Change::Link(ab, ba, up) => {
                for ch in [ab, ba] {
                    let from = ctx.channels[ch].from;
                    if topo.is_router[from] {
                        self.link_changed(topo, ctx, stats, from, ch, up);
                    }
                }
            }
            Change::Node(n, up) => {
                if topo.is_router[n] {
                    let r = &mut self.routers[topo.index[n] as usize];
                    // Down or rebooted: the tables are empty.
                    r.dist.fill(UNREACHABLE);
                    for nb in &mut r.neighbours {
                        nb.vector.fill(UNREACHABLE);
                    }
                    let all = 0..topo.hosts.len();
                    self.recompute(topo, ctx, stats, topo.index[n] as usize, all);
                }
                for &ch in &topo.out[n] {
                    let back = topo.reverse[ch];
                    let m = ctx.channels[back].from;
                    if topo.is_router[m] {
                        self.link_changed(topo, ctx, stats, m, back, up);
                    }
                }
            }
        }
    }

    fn link_changed(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        stats: &mut RoutingStats,
        router: usize,
        ch: ChannelId,
        up: bool,
    ) {
        let ord = topo.index[router] as usize;
        if !up && let Some(nb) = self.routers[ord].neighbours.iter_mut().find(|n| n.ch == ch) {
            nb.vector.fill(UNREACHABLE);
        }
        self.recompute(topo, ctx, stats, ord, 0..topo.hosts.len());
    }

    /// Bellman-Ford for one router over its neighbours' last vectors, for
    /// the destinations in `range`.
    fn recompute(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        stats: &mut RoutingStats,
        ord: usize,
        range: Range<usize>,
    ) {
        let node = topo.routers[ord];
        let r = &mut self.routers[ord];
        let best = &mut self.best[range.clone()];
        best.fill((UNREACHABLE, NO_ROUTE));
        let lo = range.start;
        for &(ch, hi) in &r.hosts {
            if range.contains(&hi) && ctx.usable(ch) {
                let hi = hi - lo;
                best[hi] = best[hi].min((line_cost(ctx, ch), ch as u32));
            }
        }
        for nb in &r.neighbours {
            if !ctx.usable(nb.ch) {
                continue;
            }
            let c = line_cost(ctx, nb.ch);
            for (slot, &v) in best.iter_mut().zip(&nb.vector[range.clone()]) {
                if v != UNREACHABLE {
                    *slot = (*slot).min((c.saturating_add(v), nb.ch as u32));
                }
            }
        }
        for (i, &(mut cost, mut ch)) in best.iter().enumerate() {
            let hi = lo + i;
            if cost >= self.infinity {
                (cost, ch) = (UNREACHABLE, NO_ROUTE);
            }
            let current = ctx.routes[node][hi];
            // Keep the current next hop on a tie, so equal paths do not flap.
            if current != ch && current != NO_ROUTE && cost != UNREACHABLE {
                let via = cost_via(ctx, r, current as usize, hi);
                if via == cost {
                    ch = current;
                }
            }
            r.dist[hi] = cost;
            ctx.set_route(stats, topo, node, hi, ch);
        }
    }
}

/// The estimated delay of the line on channel `ch`, in microseconds.
fn line_cost(ctx: &Ctx, ch: ChannelId) -> Metric {
    let c = &ctx.channels[ch];
    let mean_tx = c
        .stats
        .busy
        .as_nanos()
        .checked_div(c.stats.packets)
        .unwrap_or(0);
    let queued = c.queue_len() as u64 * mean_tx;
    micros(SimTime::from_nanos(queued) + c.params.delay)
}

fn cost_via(ctx: &Ctx, r: &DvRouter, ch: ChannelId, hi: usize) -> Metric {
    if !ctx.usable(ch) {
        return UNREACHABLE;
    }
    if r.hosts.iter().any(|&(c, h)| c == ch && h == hi) {
        return line_cost(ctx, ch);
    }
    match r.neighbours.iter().find(|nb| nb.ch == ch) {
        Some(nb) if nb.vector[hi] != UNREACHABLE => {
            line_cost(ctx, ch).saturating_add(nb.vector[hi])
        }
        _ => UNREACHABLE,
    }
}
