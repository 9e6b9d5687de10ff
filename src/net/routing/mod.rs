//! Routing protocols: static shortest paths, the 1969 ARPANET distance
//! vector and the 1979 ARPANET link state ("SPF") algorithm.
//!
//! The fabric forwards every packet by one table lookup,
//! `routes[node][host index]`; this module fills the router rows of that
//! table. Dynamic protocols exchange real control packets (IPv4 + UDP, the
//! payload defined by [`ControlMessage`]) that the fabric queues and sends
//! over links like any other packet, so they take bandwidth, wait in
//! buffers and can be lost.
//!
//! The protocol code is sans-IO: it reads a [`Ctx`] (time, nodes, channels)
//! and pushes packets to send and timers to set into [`Out`], which the
//! fabric drains.
//!
//! Control packets travel one hop only, from a router to a neighbouring
//! router, addressed to the neighbour's router address with TTL 1, so they
//! never need a route themselves.
//!
//! Deliberate simplifications, each with its reason:
//! - Hosts do not run a protocol: a host keeps the static first hop it got
//!   at the start (its default gateway), as an end system with one access
//!   link does.
//! - Destinations are hosts only (routers need no routes: their traffic is
//!   one hop).
//! - A router learns that a link or a neighbouring router went down at
//!   once, from carrier loss on the line; it does not wait for missed
//!   updates. A router that comes back up starts with empty tables, as
//!   after a reboot.

mod distance_vector;
mod link_state;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use bytes::Bytes;
use serde::Serialize;

use crate::sim::{SimTime, Streams};

use super::fabric::{Channel, ChannelId, Node, NodeId, NodeKind};
use super::packet::{Packet, UdpHeader};

pub use distance_vector::DvConfig;
pub use link_state::LsConfig;

use distance_vector::DistanceVector;
use link_state::LinkState;

/// UDP port of distance-vector updates (source and destination). Unassigned
/// by IANA and dissected by no Wireshark protocol, so captures show it as
/// plain UDP data; the number recalls the 1969 IMPs.
pub const PORT_DISTANCE_VECTOR: u16 = 1969;
/// UDP port of link-state updates and acknowledgements; unassigned and not
/// dissected either, the year of the new ARPANET routing.
pub const PORT_LINK_STATE: u16 = 1979;

/// A metric on the wire: an estimated delay in microseconds.
pub type Metric = u32;
/// The metric of an unreachable destination.
pub const UNREACHABLE: Metric = u32::MAX;

/// `routes[node][host]` value for "no route".
pub(crate) const NO_ROUTE: u32 = u32::MAX;

/// Which protocol fills the routers' tables.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Protocol {
    /// Shortest paths computed once at the start; never changes.
    Static,
    /// The 1969 ARPANET distance vector.
    DistanceVector(DvConfig),
    /// The 1979 ARPANET link state with shortest-path-first.
    LinkState(LsConfig),
}

impl Protocol {
    /// The protocol's name in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Static => "static",
            Protocol::DistanceVector(_) => "distance-vector",
            Protocol::LinkState(_) => "link-state",
        }
    }
}

/// The timers of a router's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoutingTimer {
    /// Distance vector: send the periodic update. Link state: the
    /// measurement window ended.
    Update,
    /// Link state: retransmit unacknowledged updates.
    Retransmit,
    /// Link state: rerun shortest-path-first over the updates received.
    Spf,
}

/// Counters and logs of the control plane over a run.
#[derive(Clone, Debug, Default)]
pub struct RoutingStats {
    /// Control packets sent (retransmissions included).
    pub messages: u64,
    /// IP bytes of those packets.
    pub bytes: u64,
    /// Link-state updates sent again for want of an acknowledgement.
    pub retransmissions: u64,
    /// Every change of a router's next hop: (time, router, destination
    /// host), in time order.
    pub route_changes: Vec<(SimTime, NodeId, NodeId)>,
    /// When the topology changed (the start of a dynamic protocol counts
    /// as one, at time zero).
    pub topology_changes: Vec<SimTime>,
    /// For a topology change (by its index in `topology_changes`), the
    /// first moment after it when every router's next hops led every
    /// packet to its host or, for an unreachable host, to a drop without a
    /// loop. Absent when that never happened before the next change.
    pub settled: BTreeMap<usize, SimTime>,
}

/// How long the routes took to settle after one topology change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Convergence {
    /// When the topology changed.
    pub at: SimTime,
    /// Route changes from then until the next topology change.
    pub route_changes: u64,
    /// From the change to the last route change it caused (zero when it
    /// caused none).
    pub time: SimTime,
    /// From the change until forwarding was complete and loop-free again;
    /// `None` when it was not before the next change or the end.
    pub settled: Option<SimTime>,
}

impl RoutingStats {
    /// Convergence after each topology change: the route changes from the
    /// change up to (not including) the next one are attributed to it, and
    /// the convergence time is the time of the last of them minus the time
    /// of the change. A change still settling at the end of the run gives
    /// the time of its last change so far.
    pub fn convergence(&self) -> Vec<Convergence> {
        let mut out = Vec::with_capacity(self.topology_changes.len());
        let mut log = self.route_changes.iter().peekable();
        for (i, &at) in self.topology_changes.iter().enumerate() {
            let next = self.topology_changes.get(i + 1).copied();
            let settled = self
                .settled
                .get(&i)
                .filter(|&&t| next.is_none_or(|n| t < n))
                .map(|&t| t - at);
            let mut c = Convergence {
                at,
                route_changes: 0,
                time: SimTime::ZERO,
                settled,
            };
            while let Some(&&(t, _, _)) = log.peek() {
                if next.is_some_and(|n| t >= n) {
                    break;
                }
                log.next();
                if t >= at {
                    c.route_changes += 1;
                    c.time = t - at;
                }
            }
            out.push(c);
        }
        out
    }
}

/// A routing protocol message, the UDP payload of a control packet.
///
/// Layout (all integers big-endian): byte 0 version (1), byte 1 type,
/// bytes 2-3 entry count, then by type:
/// - 1, distance-vector update: bytes 4-7 index of the first destination,
///   then `count` delays of 4 bytes (microseconds, `0xffffffff` for
///   unreachable). As in the 1969 IMP's routing message, the destination is
///   implicit in the position: the vector is indexed by destination number
///   (here the host index, hosts in the order they were added).
/// - 2, link-state update: bytes 4-7 the originating router's address,
///   bytes 8-11 its sequence number, then `count` entries of 8 bytes: a
///   neighbour's address and the measured delay to it in microseconds.
/// - 3, link-state acknowledgement: bytes 4-7 origin, 8-11 sequence number
///   (count is zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlMessage {
    /// Estimated delays to destinations `first..first + delays.len()`.
    DvUpdate {
        /// Index of the first destination.
        first: u32,
        /// Delay estimates in microseconds.
        delays: Vec<Metric>,
    },
    /// One router's links with their measured delays.
    LsUpdate {
        /// The router that measured them.
        origin: Ipv4Addr,
        /// Its sequence number; higher is newer.
        seq: u32,
        /// (neighbour address, delay in microseconds).
        links: Vec<(Ipv4Addr, Metric)>,
    },
    /// Acknowledges the update (origin, seq) to the neighbour that sent it.
    LsAck {
        /// Origin of the acknowledged update.
        origin: Ipv4Addr,
        /// Its sequence number.
        seq: u32,
    },
}

/// Why a payload is not a [`ControlMessage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// Shorter than its header or its count says.
    Truncated,
    /// Unknown version or type.
    Unknown,
}

const VERSION: u8 = 1;
const DV_HEADER: usize = 8;
const LS_HEADER: usize = 12;

impl ControlMessage {
    /// The UDP port it travels on.
    pub fn port(&self) -> u16 {
        match self {
            ControlMessage::DvUpdate { .. } => PORT_DISTANCE_VECTOR,
            _ => PORT_LINK_STATE,
        }
    }

    /// The payload bytes.
    pub fn emit(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            ControlMessage::DvUpdate { first, delays } => {
                out.extend_from_slice(&[VERSION, 1]);
                out.extend_from_slice(&(delays.len() as u16).to_be_bytes());
                out.extend_from_slice(&first.to_be_bytes());
                for d in delays {
                    out.extend_from_slice(&d.to_be_bytes());
                }
            }
            ControlMessage::LsUpdate { origin, seq, links } => {
                out.extend_from_slice(&[VERSION, 2]);
                out.extend_from_slice(&(links.len() as u16).to_be_bytes());
                out.extend_from_slice(&origin.octets());
                out.extend_from_slice(&seq.to_be_bytes());
                for (a, d) in links {
                    out.extend_from_slice(&a.octets());
                    out.extend_from_slice(&d.to_be_bytes());
                }
            }
            ControlMessage::LsAck { origin, seq } => {
                out.extend_from_slice(&[VERSION, 3, 0, 0]);
                out.extend_from_slice(&origin.octets());
                out.extend_from_slice(&seq.to_be_bytes());
            }
        }
        out
    }

    /// Reads a payload written by [`ControlMessage::emit`].
    pub fn parse(b: &[u8]) -> Result<ControlMessage, CodecError> {
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        if b.len() < 4 {
            return Err(CodecError::Truncated);
        }
        if b[0] != VERSION {
            return Err(CodecError::Unknown);
        }
        let count = usize::from(u16::from_be_bytes([b[2], b[3]]));
        match b[1] {
            1 => {
                if b.len() < DV_HEADER + 4 * count {
                    return Err(CodecError::Truncated);
                }
                let delays = (0..count).map(|i| u32_at(DV_HEADER + 4 * i)).collect();
                Ok(ControlMessage::DvUpdate {
                    first: u32_at(4),
                    delays,
                })
            }
            2 => {
                if b.len() < LS_HEADER + 8 * count {
                    return Err(CodecError::Truncated);
                }
                let links = (0..count)
                    .map(|i| {
                        let at = LS_HEADER + 8 * i;
                        (Ipv4Addr::from(u32_at(at)), u32_at(at + 4))
                    })
                    .collect();
                Ok(ControlMessage::LsUpdate {
                    origin: Ipv4Addr::from(u32_at(4)),
                    seq: u32_at(8),
                    links,
                })
            }
            3 if b.len() >= LS_HEADER => Ok(ControlMessage::LsAck {
                origin: Ipv4Addr::from(u32_at(4)),
                seq: u32_at(8),
            }),
            3 => Err(CodecError::Truncated),
            _ => Err(CodecError::Unknown),
        }
    }

    /// How many distance-vector entries fit in one packet on a link of
    /// `mtu` bytes (IPv4 and UDP headers take 28).
    pub fn dv_entries_per_packet(mtu: u16) -> usize {
        (usize::from(mtu).saturating_sub(28 + DV_HEADER) / 4).max(1)
    }
}

/// What a protocol reads of the fabric.
pub(crate) struct Ctx<'a> {
    /// The current time.
    pub now: SimTime,
    /// Every node.
    pub nodes: &'a [Node],
    /// Every channel.
    pub channels: &'a [Channel],
    /// The forwarding table, `routes[node][host index]`.
    pub routes: &'a mut [Vec<u32>],
}

impl Ctx<'_> {
    /// Whether channel `ch` can carry a packet now: the line and both ends
    /// are up (carrier present).
    pub fn usable(&self, ch: ChannelId) -> bool {
        let c = &self.channels[ch];
        c.up && self.nodes[c.from].up && self.nodes[c.to].up
    }

    /// Sets a router's next hop towards host `hi`, logging a change.
    pub fn set_route(
        &mut self,
        stats: &mut RoutingStats,
        topo: &Topo,
        node: NodeId,
        hi: usize,
        ch: u32,
    ) {
        let slot = &mut self.routes[node][hi];
        if *slot != ch {
            *slot = ch;
            stats.route_changes.push((self.now, node, topo.hosts[hi]));
        }
    }
}

/// The fixed shape of the network, as the protocols need it.
#[derive(Default)]
pub(crate) struct Topo {
    /// Host nodes by host index.
    pub hosts: Vec<NodeId>,
    /// Router nodes by router ordinal.
    pub routers: Vec<NodeId>,
    /// Per node: its host index or router ordinal.
    pub index: Vec<u32>,
    /// Per node: outgoing channels, in channel order.
    pub out: Vec<Vec<ChannelId>>,
    /// Per channel: the other direction of its link.
    pub reverse: Vec<ChannelId>,
    /// Per channel: the node it leads to.
    pub to: Vec<NodeId>,
    /// Per node: its address (host address, or router address).
    pub addr: Vec<Ipv4Addr>,
    /// Address to node, hosts and routers.
    pub by_addr: BTreeMap<Ipv4Addr, NodeId>,
    /// Per node: its name, for random stream names.
    pub names: Vec<String>,
    /// Per node: router or host.
    pub is_router: Vec<bool>,
}

/// Packets and timers a protocol asks for.
#[derive(Default)]
pub(crate) struct Out {
    /// Control packets to queue on a channel.
    pub sends: Vec<(ChannelId, Packet)>,
    /// Timers: (delay from now, router, which).
    pub timers: Vec<(SimTime, NodeId, RoutingTimer)>,
}

impl Out {
    /// Queues `msg` from the router at the start of `ch` to the one at its
    /// end, counting it.
    pub fn send(
        &mut self,
        stats: &mut RoutingStats,
        topo: &Topo,
        channels: &[Channel],
        ch: ChannelId,
        msg: &ControlMessage,
    ) {
        let c = &channels[ch];
        let port = msg.port();
        let header = UdpHeader {
            src_port: port,
            dst_port: port,
        };
        let mut p = Packet::udp(
            topo.addr[c.from],
            topo.addr[c.to],
            header,
            Bytes::from(msg.emit()),
        );
        // One hop only, as routing protocols addressed to a neighbour do.
        p.ttl = 1;
        stats.messages += 1;
        stats.bytes += p.wire_len() as u64;
        self.sends.push((ch, p));
    }
}

enum State {
    Static,
    Dv(DistanceVector),
    Ls(LinkState),
}

/// A change the fabric reports to the protocol.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Change {
    /// A link (its two channels) went up or down.
    Link(ChannelId, ChannelId, bool),
    /// A node went up or down.
    Node(NodeId, bool),
}

/// The control plane of the whole network: one protocol instance per
/// router, addresses, statistics.
pub struct RoutingEngine {
    protocol: Protocol,
    explicit: BTreeMap<NodeId, Ipv4Addr>,
    pub(crate) topo: Topo,
    state: State,
    pub(crate) out: Out,
    pending: Vec<Change>,
    stats: RoutingStats,
}

/// The first automatic router address, 10.255.0.1; the next ones count up,
/// skipping addresses already taken.
const ROUTER_POOL: u32 = 0x0aff_0001;

impl Default for RoutingEngine {
    fn default() -> Self {
        RoutingEngine {
            protocol: Protocol::Static,
            explicit: BTreeMap::new(),
            topo: Topo::default(),
            state: State::Static,
            out: Out::default(),
            pending: Vec::new(),
            stats: RoutingStats::default(),
        }
    }
}

impl RoutingEngine {
    /// The protocol in use.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Control-plane counters and logs.
    pub fn stats(&self) -> &RoutingStats {
        &self.stats
    }

    /// A router's address (given, or assigned at the start).
    pub fn address(&self, node: NodeId) -> Option<Ipv4Addr> {
        self.topo
            .is_router
            .get(node)
            .filter(|r| **r)
            .map(|_| self.topo.addr[node])
    }

    /// The distance-vector estimate of `router` to host node `dest`, in
    /// microseconds ([`UNREACHABLE`] when it has none); `None` under another
    /// protocol.
    pub fn dv_distance(&self, router: NodeId, dest: NodeId) -> Option<Metric> {
        let State::Dv(dv) = &self.state else {
            return None;
        };
        let hi = self.topo.index[dest] as usize;
        Some(dv.distance(&self.topo, router, hi))
    }

    pub(crate) fn set_protocol(&mut self, p: Protocol) {
        self.protocol = p;
    }

    pub(crate) fn set_address(&mut self, node: NodeId, addr: Ipv4Addr) {
        self.explicit.insert(node, addr);
    }

    /// Whether a packet reaching `node` for `dst` is a control packet for
    /// that router.
    pub(crate) fn is_control(&self, node: NodeId, dst: Ipv4Addr) -> bool {
        self.topo.is_router.get(node).copied().unwrap_or(false) && self.topo.addr[node] == dst
    }

    pub(crate) fn note(&mut self, change: Change) {
        self.pending.push(change);
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Builds the topology view and starts the protocol; router rows of
    /// `routes` are cleared for a dynamic protocol (a cold start).
    pub(crate) fn start(&mut self, streams: &Streams, ctx: &mut Ctx) {
        self.build_topo(ctx.nodes, ctx.channels);
        match self.protocol {
            Protocol::Static => {}
            Protocol::DistanceVector(cfg) => {
                self.clear_router_rows(ctx);
                let dv = DistanceVector::new(cfg, &self.topo, streams, &mut self.out);
                self.state = State::Dv(dv);
                self.stats.topology_changes.push(ctx.now);
            }
            Protocol::LinkState(cfg) => {
                self.clear_router_rows(ctx);
                let mut ls = LinkState::new(cfg, &self.topo, streams, &mut self.out);
                ls.start(&self.topo, ctx, &mut self.out, &mut self.stats);
                self.state = State::Ls(ls);
                self.stats.topology_changes.push(ctx.now);
            }
        }
    }

    fn clear_router_rows(&self, ctx: &mut Ctx) {
        for &r in &self.topo.routers {
            ctx.routes[r].fill(NO_ROUTE);
        }
    }

    fn build_topo(&mut self, nodes: &[Node], channels: &[Channel]) {
        let t = &mut self.topo;
        t.hosts.clear();
        t.routers.clear();
        t.index = vec![0; nodes.len()];
        t.is_router = nodes.iter().map(|n| n.kind == NodeKind::Router).collect();
        t.names = nodes.iter().map(|n| n.name.clone()).collect();
        for id in 0..nodes.len() {
            let list = if t.is_router[id] {
                &mut t.routers
            } else {
                &mut t.hosts
            };
            t.index[id] = list.len() as u32;
            list.push(id);
        }
        t.out = vec![Vec::new(); nodes.len()];
        for (ch, c) in channels.iter().enumerate() {
            t.out[c.from].push(ch);
        }
        t.to = channels.iter().map(|c| c.to).collect();
        t.reverse = channels
            .iter()
            .map(|c| {
                t.out[c.to]
                    .iter()
                    .copied()
                    .find(|&b| channels[b].to == c.from)
                    .unwrap_or(usize::MAX)
            })
            .collect();
        t.by_addr.clear();
        t.addr = vec![Ipv4Addr::UNSPECIFIED; nodes.len()];
        for (id, n) in nodes.iter().enumerate() {
            if let Some(a) = n.addr {
                t.addr[id] = a;
                t.by_addr.insert(a, id);
            }
        }
        for (&id, &a) in &self.explicit {
            if t.is_router[id] && !t.by_addr.contains_key(&a) {
                t.addr[id] = a;
                t.by_addr.insert(a, id);
            }
        }
        let mut next = ROUTER_POOL;
        for &r in &t.routers {
            if t.addr[r] != Ipv4Addr::UNSPECIFIED {
                continue;
            }
            while t.by_addr.contains_key(&Ipv4Addr::from(next)) {
                next += 1;
            }
            t.addr[r] = Ipv4Addr::from(next);
            t.by_addr.insert(t.addr[r], r);
            next += 1;
        }
    }

    /// Hands the topology changes noted since the last call to the
    /// protocol, stamped with the current time.
    pub(crate) fn apply_changes(&mut self, ctx: &mut Ctx) {
        let pending = std::mem::take(&mut self.pending);
        for change in &pending {
            if self.stats.topology_changes.last() != Some(&ctx.now) {
                self.stats.topology_changes.push(ctx.now);
            }
            let (topo, out, stats) = (&self.topo, &mut self.out, &mut self.stats);
            match &mut self.state {
                State::Static => {}
                State::Dv(dv) => dv.on_change(topo, ctx, out, stats, *change),
                State::Ls(ls) => ls.on_change(topo, ctx, out, stats, *change),
            }
        }
        self.pending = pending;
        self.pending.clear();
    }

    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx, node: NodeId, timer: RoutingTimer) {
        let (topo, out, stats) = (&self.topo, &mut self.out, &mut self.stats);
        match &mut self.state {
            State::Static => {}
            State::Dv(dv) => dv.on_timer(topo, ctx, out, stats, node),
            State::Ls(ls) => ls.on_timer(topo, ctx, out, stats, node, timer),
        }
    }

    /// A control packet reached `node` over channel `ch`.
    pub(crate) fn on_packet(&mut self, ctx: &mut Ctx, node: NodeId, ch: ChannelId, p: &Packet) {
        let Ok(msg) = ControlMessage::parse(&p.payload) else {
            return;
        };
        let (topo, out, stats) = (&self.topo, &mut self.out, &mut self.stats);
        match &mut self.state {
            State::Static => {}
            State::Dv(dv) => dv.on_message(topo, ctx, out, stats, node, ch, &msg),
            State::Ls(ls) => ls.on_message(topo, ctx, out, stats, node, ch, &msg),
        }
    }

    /// A packet of `len` IP bytes was accepted on channel `ch` (for
    /// link-state delay measurement).
    pub(crate) fn on_accept(&mut self, ch: ChannelId, now: SimTime, tx: SimTime, prop: SimTime) {
        if let State::Ls(ls) = &mut self.state {
            ls.meter(ch, now, tx, prop);
        }
    }
}

/// The control plane's figures for `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct RoutingSummary {
    /// The protocol's name.
    pub protocol: &'static str,
    /// Control packets sent, retransmissions included.
    pub messages: u64,
    /// Their IP bytes.
    pub bytes: u64,
    /// Link-state retransmissions.
    pub retransmissions: u64,
    /// Next-hop changes over all routers and destinations.
    pub route_changes: u64,
    /// One entry per topology change (the start counts for a dynamic
    /// protocol).
    pub convergence: Vec<ConvergenceSummary>,
}

/// [`Convergence`] in seconds, for `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct ConvergenceSummary {
    /// When the topology changed, in seconds.
    pub at_s: f64,
    /// Route changes it caused.
    pub route_changes: u64,
    /// From the change until every router's next hops were complete and
    /// loop-free again, in seconds; `None` (null) when they were not
    /// before the next change or the end of the run.
    pub converged_after_s: Option<f64>,
    /// From the change to the last route change before the next change,
    /// in seconds (under a load-sensitive metric routes keep moving long
    /// after they are sound again).
    pub last_change_after_s: f64,
}

impl RoutingEngine {
    /// The counters, for the fabric's settling watch.
    pub(crate) fn stats_mut(&mut self) -> &mut RoutingStats {
        &mut self.stats
    }

    /// The figures for `summary.json`.
    pub fn summary(&self) -> RoutingSummary {
        let s = &self.stats;
        RoutingSummary {
            protocol: self.protocol.name(),
            messages: s.messages,
            bytes: s.bytes,
            retransmissions: s.retransmissions,
            route_changes: s.route_changes.len() as u64,
            convergence: s
                .convergence()
                .iter()
                .map(|c| ConvergenceSummary {
                    at_s: c.at.as_secs_f64(),
                    route_changes: c.route_changes,
                    converged_after_s: c.settled.map(|t| t.as_secs_f64()),
                    last_change_after_s: c.time.as_secs_f64(),
                })
                .collect(),
        }
    }
}

/// A link's cost in microseconds, at least 1.
pub(crate) fn micros(t: SimTime) -> Metric {
    (t.as_nanos() / 1_000).clamp(1, u64::from(UNREACHABLE - 1)) as Metric
}

#[cfg(test)]
mod tests;
