//! The 1979 ARPANET routing, after McQuillan, Richer and Rosen, "The New
//! Routing Algorithm for the ARPANET" (IEEE Trans. Communications 28(5),
//! 1980).
//!
//! Each router measures the average delay of each outgoing line over a
//! window (10 s in the paper): for every packet it accepts onto the line,
//! its queueing time (the time until the line finishes the packets ahead
//! of it), its transmission time and the line's propagation delay. A line
//! that carried nothing in the window reports its propagation delay alone.
//! At the end of a window the router floods an update (its lines and their
//! delays) when some line's delay moved by more than a threshold from the
//! value last reported. As in the paper, the threshold decays with the
//! time since the last update (64 ms falling linearly to zero), and an
//! update goes out at least every `max_interval` (50 s) anyway. A line or
//! neighbour going down or up (carrier) triggers an update at once.
//!
//! Flooding is reliable: an update carries its origin and a sequence
//! number; a router accepts it if it is newer than its copy, acknowledges
//! it to the neighbour it came from (duplicates too), and passes it to its
//! other neighbours, retransmitting every `retransmit` until acknowledged
//! (or the line goes down). When a line comes up, each end sends the other
//! its whole database, as OSPF's database exchange does, so a rebooted
//! router (which starts with an empty database and sequence number 0)
//! learns the network and, on seeing its own old update with a higher
//! number, goes on from that number.
//!
//! A change to a router's database reruns shortest-path-first (Dijkstra)
//! from that router over the database: at once for a change of its own
//! lines, `spf_delay` after a neighbour's update that changed a line or a
//! delay (so that updates arriving together cost one run; the paper's IMPs
//! ran an incremental SPF instead). A line counts only if both ends report
//! it. Hosts are leaves reported by the routers they
//! attach to.
//!
//! Simplifications: sequence numbers do not wrap (32 bits last 136 years at
//! one update a second); a router's update is one packet, so a router with
//! more than (MTU - 40) / 8 lines would exceed the MTU.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use crate::sim::{SimTime, Streams, uniform};

use super::super::fabric::{ChannelId, NodeId};
use super::{
    Change, ControlMessage, Ctx, Metric, NO_ROUTE, Out, RoutingStats, RoutingTimer, Topo, micros,
};

/// Settings of the link-state protocol.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LsConfig {
    /// Delay averaging window (default 10 s, the paper's).
    pub window: SimTime,
    /// Change of a line's delay worth an update right after the last one
    /// (default 64 ms, the paper's); it decays to zero over `max_interval`.
    pub threshold: SimTime,
    /// Longest time between two updates of a router (default 50 s).
    pub max_interval: SimTime,
    /// Time before an unacknowledged update is sent again (default 1 s).
    pub retransmit: SimTime,
    /// Wait after a neighbour's update before rerunning shortest-path-first,
    /// so updates arriving together cost one run (default 50 ms).
    pub spf_delay: SimTime,
}

impl Default for LsConfig {
    fn default() -> Self {
        LsConfig {
            window: SimTime::from_secs(10),
            threshold: SimTime::from_millis(64),
            max_interval: SimTime::from_secs(50),
            retransmit: SimTime::from_secs(1),
            spf_delay: SimTime::from_millis(50),
        }
    }
}

#[derive(Clone, Default)]
struct Lsa {
    present: bool,
    seq: u32,
    links: Vec<(NodeId, Metric)>,
}

/// An update sent and not yet acknowledged: its sequence number and when
/// to send it again, keyed by (channel, origin).
#[derive(Clone, Copy)]
struct Pending {
    seq: u32,
    due: SimTime,
}

struct LsRouter {
    seq: u32,
    db: Vec<Lsa>,
    windows: u64,
    pending: BTreeMap<(ChannelId, usize), Pending>,
    armed: bool,
    spf_due: bool,
}

#[derive(Clone, Copy, Default)]
struct Meter {
    busy_until: SimTime,
    sum_ns: u64,
    packets: u64,
}

pub(crate) struct LinkState {
    cfg: LsConfig,
    routers: Vec<LsRouter>,
    meters: Vec<Meter>,
    /// Per channel: the delay measured in the last window.
    current: Vec<Metric>,
    /// Per channel: the delay in the owner's last update.
    reported: Vec<Metric>,
}

impl LinkState {
    pub fn new(cfg: LsConfig, topo: &Topo, streams: &Streams, out: &mut Out) -> Self {
        let n = topo.routers.len();
        let mut routers = Vec::with_capacity(n);
        for &r in &topo.routers {
            let mut rng = streams.stream(&format!("routing/ls/{}", topo.names[r]));
            let phase = (cfg.window.as_nanos() as f64 * uniform(&mut rng)) as u64;
            out.timers
                .push((SimTime::from_nanos(phase), r, RoutingTimer::Update));
            routers.push(LsRouter {
                seq: 0,
                db: vec![Lsa::default(); n],
                windows: 0,
                pending: BTreeMap::new(),
                armed: false,
                spf_due: false,
            });
        }
        let chans = topo.to.len();
        LinkState {
            cfg,
            routers,
            meters: vec![Meter::default(); chans],
            current: vec![0; chans],
            reported: vec![0; chans],
        }
    }

    /// Every router floods its first update at the start.
    pub fn start(&mut self, topo: &Topo, ctx: &mut Ctx, out: &mut Out, stats: &mut RoutingStats) {
        for ch in 0..self.current.len() {
            self.current[ch] = micros(ctx.channels[ch].params.delay);
        }
        for ord in 0..self.routers.len() {
            self.originate(topo, ctx, out, stats, ord);
        }
    }

    pub fn meter(&mut self, ch: ChannelId, now: SimTime, tx: SimTime, prop: SimTime) {
        let m = &mut self.meters[ch];
        let wait = m.busy_until.saturating_sub(now);
        m.busy_until = m.busy_until.max(now) + tx;
        m.sum_ns += (wait + tx + prop).as_nanos();
        m.packets += 1;
    }

    pub fn on_timer(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        out: &mut Out,
        stats: &mut RoutingStats,
        node: NodeId,
        timer: RoutingTimer,
    ) {
        let ord = topo.index[node] as usize;
        match timer {
            RoutingTimer::Update => self.end_of_window(topo, ctx, out, stats, ord),
            RoutingTimer::Retransmit => self.retransmit(topo, ctx, out, stats, ord),
            RoutingTimer::Spf => {
                if std::mem::take(&mut self.routers[ord].spf_due) {
                    self.spf(topo, ctx, stats, ord);
                }
            }
        }
    }

    fn end_of_window(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        out: &mut Out,
        stats: &mut RoutingStats,
        ord: usize,
    ) {
        let node = topo.routers[ord];
        out.timers
            .push((self.cfg.window, node, RoutingTimer::Update));
        let mut moved = 0;
        for &ch in &topo.out[node] {
            let m = &mut self.meters[ch];
            let avg = m.sum_ns.checked_div(m.packets);
            (m.sum_ns, m.packets) = (0, 0);
            self.current[ch] = match avg {
                Some(ns) => micros(SimTime::from_nanos(ns)),
                None => micros(ctx.channels[ch].params.delay),
            };
            if ctx.usable(ch) {
                moved = moved.max(self.current[ch].abs_diff(self.reported[ch]));
            }
        }
        if !ctx.nodes[node].up {
            return;
        }
        let r = &mut self.routers[ord];
        r.windows += 1;
        let since = u128::from(self.cfg.window.as_nanos()) * u128::from(r.windows);
        let max = u128::from(self.cfg.max_interval.as_nanos()).max(1);
        let threshold = u128::from(micros(self.cfg.threshold));
        let decayed = threshold.saturating_sub(threshold * since / max);
        if u128::from(moved) > decayed || since >= max {
            self.originate(topo, ctx, out, stats, ord);
        }
    }

    fn retransmit(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        out: &mut Out,
        stats: &mut RoutingStats,
        ord: usize,
    ) {
        let node = topo.routers[ord];
        let r = &mut self.routers[ord];
        r.armed = false;
        if !ctx.nodes[node].up {
            r.pending.clear();
            return;
        }
        r.pending.retain(|&(ch, _), _| ctx.usable(ch));
        let mut next = SimTime::MAX;
        for (&(ch, origin), p) in &mut r.pending {
            if p.due <= ctx.now {
                let lsa = &r.db[origin];
                p.seq = lsa.seq;
                p.due = ctx.now + self.cfg.retransmit;
                stats.retransmissions += 1;
                send_lsa(topo, ctx, out, stats, ch, topo.routers[origin], lsa);
            }
            next = next.min(p.due);
        }
        if next != SimTime::MAX {
            r.armed = true;
            let delay = next.saturating_sub(ctx.now).max(SimTime::from_nanos(1));
            out.timers.push((delay, node, RoutingTimer::Retransmit));
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn on_message(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        out: &mut Out,
        stats: &mut RoutingStats,
        node: NodeId,
        ch_in: ChannelId,
        msg: &ControlMessage,
    ) {
        let ord = topo.index[node] as usize;
        let back = topo.reverse[ch_in];
        let origin_of = |a| {
            topo.by_addr
                .get(a)
                .copied()
                .filter(|&n| topo.is_router[n])
                .map(|n| topo.index[n] as usize)
        };
        match msg {
            ControlMessage::LsAck { origin, seq } => {
                let Some(o) = origin_of(origin) else { return };
                let pending = &mut self.routers[ord].pending;
                if pending.get(&(back, o)).is_some_and(|p| p.seq <= *seq) {
                    pending.remove(&(back, o));
                }
            }
            ControlMessage::LsUpdate { origin, seq, links } => {
                if ctx.usable(back) {
                    let ack = ControlMessage::LsAck {
                        origin: *origin,
                        seq: *seq,
                    };
                    out.send(stats, topo, ctx.channels, back, &ack);
                }
                let Some(o) = origin_of(origin) else { return };
                let links: Vec<_> = links
                    .iter()
                    .filter_map(|(a, m)| topo.by_addr.get(a).map(|&n| (n, *m)))
                    .collect();
                let r = &mut self.routers[ord];
                if o == ord {
                    // Our own update. The one we sent last, come back around
                    // a cycle of lines, needs nothing. One with a higher
                    // number, or the same number and other lines, is from
                    // before a reboot: go on from its number, so that the
                    // others take our current lines as newer.
                    let ours = &r.db[ord];
                    let stale =
                        *seq > r.seq || (*seq == r.seq && (!ours.present || ours.links != links));
                    if stale {
                        r.seq = *seq;
                        self.originate(topo, ctx, out, stats, ord);
                    }
                    return;
                }
                if r.db[o].present && *seq <= r.db[o].seq {
                    return;
                }
                let changed = !r.db[o].present || r.db[o].links != links;
                r.db[o] = Lsa {
                    present: true,
                    seq: *seq,
                    links,
                };
                // A refresh with the same lines and delays changes no route.
                if changed && !r.spf_due {
                    r.spf_due = true;
                    out.timers
                        .push((self.cfg.spf_delay, node, RoutingTimer::Spf));
                }
                self.flood(topo, ctx, out, stats, ord, o, Some(back));
            }
            ControlMessage::DvUpdate { .. } => {}
        }
    }

    pub fn on_change(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        out: &mut Out,
        stats: &mut RoutingStats,
        change: Change,
    ) {
        match change {
            Change::Link(ab, ba, up) => {
                for ch in [ab, ba] {
                    self.meters[ch].busy_until = SimTime::ZERO;
                }
                for ch in [ab, ba] {
                    self.line_changed(topo, ctx, out, stats, ch, up);
                }
            }
            Change::Node(n, up) => {
                if topo.is_router[n] {
                    let ord = topo.index[n] as usize;
                    let r = &mut self.routers[ord];
                    // Down or rebooted: nothing survives but the timers.
                    r.seq = 0;
                    r.windows = 0;
                    r.pending.clear();
                    r.db.fill(Lsa::default());
                    for &ch in &topo.out[n] {
                        self.meters[ch] = Meter::default();
                    }
                    if up {
                        self.originate(topo, ctx, out, stats, ord);
                    } else {
                        self.spf(topo, ctx, stats, ord);
                    }
                }
                for &ch in &topo.out[n] {
                    self.line_changed(topo, ctx, out, stats, topo.reverse[ch], up);
                }
            }
        }
    }

    /// Carrier on channel `ch` came or went, seen by the router it leaves.
    fn line_changed(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        out: &mut Out,
        stats: &mut RoutingStats,
        ch: ChannelId,
        up: bool,
    ) {
        let from = ctx.channels[ch].from;
        if !topo.is_router[from] || !ctx.nodes[from].up {
            return;
        }
        let ord = topo.index[from] as usize;
        if !up {
            self.routers[ord].pending.retain(|&(c, _), _| c != ch);
        }
        self.originate(topo, ctx, out, stats, ord);
        let to = topo.to[ch];
        if up && topo.is_router[to] && ctx.usable(ch) {
            // Database exchange with the neighbour that just appeared.
            for o in 0..self.routers.len() {
                if o != ord && self.routers[ord].db[o].present {
                    self.send_reliably(topo, ctx, out, stats, ord, ch, o);
                }
            }
        }
    }

    /// A new update of our own, from the lines that have carrier.
    fn originate(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        out: &mut Out,
        stats: &mut RoutingStats,
        ord: usize,
    ) {
        let node = topo.routers[ord];
        if !ctx.nodes[node].up {
            return;
        }
        let mut links = Vec::new();
        for &ch in &topo.out[node] {
            if ctx.usable(ch) {
                links.push((topo.to[ch], self.current[ch]));
                self.reported[ch] = self.current[ch];
            }
        }
        let r = &mut self.routers[ord];
        r.seq += 1;
        r.windows = 0;
        r.db[ord] = Lsa {
            present: true,
            seq: r.seq,
            links,
        };
        self.flood(topo, ctx, out, stats, ord, ord, None);
        self.spf(topo, ctx, stats, ord);
    }

    /// Sends `origin`'s update from router `ord` to every neighbouring
    /// router but the one on `except`.
    #[allow(clippy::too_many_arguments)]
    fn flood(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        out: &mut Out,
        stats: &mut RoutingStats,
        ord: usize,
        origin: usize,
        except: Option<ChannelId>,
    ) {
        let node = topo.routers[ord];
        for &ch in &topo.out[node] {
            if Some(ch) != except && topo.is_router[topo.to[ch]] && ctx.usable(ch) {
                self.send_reliably(topo, ctx, out, stats, ord, ch, origin);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send_reliably(
        &mut self,
        topo: &Topo,
        ctx: &mut Ctx,
        out: &mut Out,
        stats: &mut RoutingStats,
        ord: usize,
        ch: ChannelId,
        origin: usize,
    ) {
        let r = &mut self.routers[ord];
        let lsa = &r.db[origin];
        send_lsa(topo, ctx, out, stats, ch, topo.routers[origin], lsa);
        let due = ctx.now + self.cfg.retransmit;
        let seq = lsa.seq;
        r.pending.insert((ch, origin), Pending { seq, due });
        if !r.armed {
            r.armed = true;
            out.timers.push((
                self.cfg.retransmit,
                topo.routers[ord],
                RoutingTimer::Retransmit,
            ));
        }
    }

    /// Shortest-path-first from router `ord` over its database.
    fn spf(&mut self, topo: &Topo, ctx: &mut Ctx, stats: &mut RoutingStats, ord: usize) {
        let me = topo.routers[ord];
        let db = &self.routers[ord].db;
        let n = db.len();
        let mut dist = vec![u64::MAX; n];
        let mut first = vec![NO_ROUTE; n];
        let mut done = vec![false; n];
        let first_hop = |v: NodeId| {
            topo.out[me]
                .iter()
                .copied()
                .find(|&ch| topo.to[ch] == v && ctx.usable(ch))
                .map_or(NO_ROUTE, |ch| ch as u32)
        };
        let mut heap = BinaryHeap::new();
        if db[ord].present && ctx.nodes[me].up {
            dist[ord] = 0;
            heap.push(Reverse((0u64, NO_ROUTE, ord)));
        }
        while let Some(Reverse((d, _, u))) = heap.pop() {
            if done[u] {
                continue;
            }
            done[u] = true;
            let un = topo.routers[u];
            for &(v, c) in &db[u].links {
                if !topo.is_router[v] {
                    continue;
                }
                let vo = topo.index[v] as usize;
                if done[vo] || !db[vo].present || !db[vo].links.iter().any(|l| l.0 == un) {
                    continue;
                }
                let fh = if u == ord { first_hop(v) } else { first[u] };
                if fh == NO_ROUTE {
                    continue;
                }
                let nd = d + u64::from(c);
                if (nd, fh) < (dist[vo], first[vo]) {
                    (dist[vo], first[vo]) = (nd, fh);
                    heap.push(Reverse((nd, fh, vo)));
                }
            }
        }
        let mut best = vec![(u64::MAX, NO_ROUTE); topo.hosts.len()];
        for u in (0..n).filter(|&u| done[u]) {
            for &(v, c) in &db[u].links {
                if topo.is_router[v] {
                    continue;
                }
                let fh = if u == ord { first_hop(v) } else { first[u] };
                if fh == NO_ROUTE {
                    continue;
                }
                let hi = topo.index[v] as usize;
                best[hi] = best[hi].min((dist[u] + u64::from(c), fh));
            }
        }
        for (hi, &(_, ch)) in best.iter().enumerate() {
            ctx.set_route(stats, topo, me, hi, ch);
        }
    }
}

fn send_lsa(
    topo: &Topo,
    ctx: &Ctx,
    out: &mut Out,
    stats: &mut RoutingStats,
    ch: ChannelId,
    origin: NodeId,
    lsa: &Lsa,
) {
    let msg = ControlMessage::LsUpdate {
        origin: topo.addr[origin],
        seq: lsa.seq,
        links: lsa.links.iter().map(|&(n, m)| (topo.addr[n], m)).collect(),
    };
    out.send(stats, topo, ctx.channels, ch, &msg);
}
