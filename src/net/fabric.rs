//! Nodes, channels (one per link direction), store-and-forward and routing.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::Ipv4Addr;

use petgraph::graph::{NodeIndex, UnGraph};

use crate::sim::{Scheduler, SimRng, SimTime, Streams};

use super::Packet;
use super::loss::LossModel;
use super::queue::{Queue, QueueConfig};
use super::routing::{Change, Ctx, Protocol, RoutingEngine, RoutingTimer};
use super::tap::{NetTap, TapPoint};

mod faults;
mod settle;

/// Index of a node (host or router) in the network.
pub type NodeId = usize;
/// Index of a channel: one direction of a full-duplex link.
pub type ChannelId = usize;

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// An end system: packets start and end here.
    Host,
    /// A store-and-forward switch (an IMP, a router).
    Router,
}

/// How static routes are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// Least total propagation delay, ties by fewer hops.
    Delay,
    /// Fewest hops, ties by least delay.
    Hops,
}

/// The parameters of one link, the same in both directions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkParams {
    /// Line rate in bits per second.
    pub bandwidth_bps: u64,
    /// One-way propagation delay.
    pub delay: SimTime,
    /// Probability that a packet is lost on the line.
    pub loss: f64,
    /// Largest IP packet the link carries, in bytes.
    pub mtu: u16,
    /// Buffer limit, in packets waiting behind the one being sent.
    pub buffer_packets: usize,
    /// Byte limit and queue discipline of the buffer.
    pub queue: QueueConfig,
}

/// Why a packet was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// Lost on the line (the link's loss probability).
    Loss,
    /// The link's buffer was full (a tail drop).
    BufferFull,
    /// Dropped early by RED on arrival.
    Red,
    /// Dropped by CoDel at the head of a standing queue.
    Codel,
    /// Larger than the link's MTU.
    Mtu,
    /// No route to the destination address.
    NoRoute,
    /// The link is down.
    LinkDown,
    /// The receiving node is down.
    NodeDown,
    /// The TTL reached zero.
    TtlExpired,
}

impl DropReason {
    /// Every reason, in report order.
    pub const ALL: [DropReason; 9] = [
        DropReason::Loss,
        DropReason::BufferFull,
        DropReason::Red,
        DropReason::Codel,
        DropReason::Mtu,
        DropReason::NoRoute,
        DropReason::LinkDown,
        DropReason::NodeDown,
        DropReason::TtlExpired,
    ];

    /// The reason's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::BufferFull => "buffer_full",
            DropReason::Red => "red",
            DropReason::Codel => "codel",
            DropReason::Mtu => "mtu",
            DropReason::NoRoute => "no_route",
            DropReason::LinkDown => "link_down",
            DropReason::NodeDown => "node_down",
            DropReason::TtlExpired => "ttl_expired",
        }
    }
}

/// Network events the kernel carries for this layer.
#[derive(Debug)]
pub enum NetEvent {
    /// The channel finished putting its current packet on the line.
    TxDone(ChannelId),
    /// A packet reached the far end of the channel.
    Arrive(ChannelId, Packet),
    /// A router's routing protocol timer is due.
    RoutingTimer(NodeId, RoutingTimer),
}

/// A node of the graph.
#[derive(Debug)]
pub struct Node {
    /// The scenario's name for it.
    pub name: String,
    /// Host or router.
    pub kind: NodeKind,
    /// The host's address (routers have none).
    pub addr: Option<Ipv4Addr>,
    /// False while a fault holds it down.
    pub up: bool,
}

/// Counters of one channel.
#[derive(Clone, Debug, Default)]
pub struct ChannelStats {
    /// Packets that finished transmission.
    pub packets: u64,
    /// IP bytes that finished transmission.
    pub bytes: u64,
    /// Drops charged to this channel, by reason.
    pub drops: BTreeMap<DropReason, u64>,
    /// Time spent transmitting.
    pub busy: SimTime,
    /// Most packets ever waiting in the buffer.
    pub max_queue: usize,
}

/// One direction of a full-duplex link.
pub struct Channel {
    /// Sending node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    /// The link's parameters.
    pub params: LinkParams,
    /// False while the link is down.
    pub up: bool,
    /// Counters.
    pub stats: ChannelStats,
    queue: Queue,
    sending: Option<Packet>,
    /// When the packet on the line finishes.
    sending_until: SimTime,
    rng: SimRng,
    loss: LossModel,
}

impl Channel {
    /// The buffer (packets waiting behind the one on the line).
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Time spent transmitting up to `now` (unlike `stats.busy`, which
    /// counts a packet's whole transmission from its start).
    pub fn busy_until(&self, now: SimTime) -> SimTime {
        let ahead = if self.sending.is_some() {
            self.sending_until.saturating_sub(now)
        } else {
            SimTime::ZERO
        };
        self.stats.busy.saturating_sub(ahead)
    }
}

impl Channel {
    /// Packets waiting in the buffer (not counting the one being sent).
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }
}

/// What the routing protocol reads of `$net`, borrowing its fields apart
/// from the protocol itself.
macro_rules! routing_ctx {
    ($net:ident, $now:expr) => {
        Ctx {
            now: $now,
            nodes: &$net.nodes,
            channels: &$net.channels,
            routes: &mut $net.routes,
        }
    };
}

/// The whole fabric: nodes, channels, routes, and drop counters.
pub struct Network {
    nodes: Vec<Node>,
    channels: Vec<Channel>,
    graph: UnGraph<NodeId, (ChannelId, ChannelId)>,
    by_addr: BTreeMap<Ipv4Addr, NodeId>,
    by_name: BTreeMap<String, NodeId>,
    /// `routes[node][host_index]`: the channel to send on, or `NONE`.
    routes: Vec<Vec<u32>>,
    host_index: BTreeMap<NodeId, usize>,
    /// Destination address to its column in `routes`, hashed: forwarding
    /// looks it up at every hop (two ordered-map lookups there took a
    /// sixth of the ns-3 grid reference). Only looked up, never iterated.
    route_column: AddrMap,
    drops: BTreeMap<DropReason, u64>,
    streams: Streams,
    /// Sees packets at every [`TapPoint`]; `None` costs nothing.
    pub tap: Option<NetTap>,
    routing: RoutingEngine,
    settle: settle::SettleWatch,
}

const NONE: u32 = u32::MAX;

/// IPv4 address (as `u32`) to a route column, with [`AddrHasher`].
type AddrMap = HashMap<u32, u32, BuildHasherDefault<AddrHasher>>;

/// A fixed multiplicative hash of one `u32`: fast, and the same in every
/// run (the map is never iterated, so order cannot reach any output).
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, x: u32) {
        self.0 = u64::from(x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Network {
    /// An empty network; `streams` seeds each link's loss stream by name.
    pub fn new(streams: Streams) -> Self {
        Network {
            nodes: Vec::new(),
            channels: Vec::new(),
            graph: UnGraph::default(),
            by_addr: BTreeMap::new(),
            by_name: BTreeMap::new(),
            routes: Vec::new(),
            host_index: BTreeMap::new(),
            route_column: AddrMap::default(),
            drops: BTreeMap::new(),
            streams,
            tap: None,
            routing: RoutingEngine::default(),
            settle: settle::SettleWatch::default(),
        }
    }

    /// Adds a node; hosts need an address. Names must be unique.
    pub fn add_node(&mut self, name: &str, kind: NodeKind, addr: Option<Ipv4Addr>) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            name: name.to_string(),
            kind,
            addr,
            up: true,
        });
        self.graph.add_node(id);
        self.by_name.insert(name.to_string(), id);
        if let Some(a) = addr {
            self.by_addr.insert(a, id);
        }
        id
    }

    /// Adds a full-duplex link: two channels with the same parameters.
    pub fn add_link(&mut self, a: NodeId, b: NodeId, params: LinkParams) -> (ChannelId, ChannelId) {
        let ab = self.add_channel(a, b, params);
        let ba = self.add_channel(b, a, params);
        self.graph
            .add_edge(NodeIndex::new(a), NodeIndex::new(b), (ab, ba));
        (ab, ba)
    }

    fn add_channel(&mut self, from: NodeId, to: NodeId, params: LinkParams) -> ChannelId {
        let name = format!(
            "link/{}>{}/loss",
            self.nodes[from].name, self.nodes[to].name
        );
        let red = self.streams.stream(&name.replace("/loss", "/red"));
        let (limit, bps) = (params.buffer_packets, params.bandwidth_bps);
        self.channels.push(Channel {
            from,
            to,
            params,
            up: true,
            stats: ChannelStats::default(),
            queue: Queue::new(limit, params.queue, bps, params.mtu, red),
            sending: None,
            sending_until: SimTime::ZERO,
            rng: self.streams.stream(&name),
            loss: LossModel::Bernoulli { p: params.loss },
        });
        self.channels.len() - 1
    }

    /// Sets the loss probability of one direction only (`add_link` gives
    /// both the same), e.g. to lose data but not ACKs in a TCP experiment.
    pub fn set_channel_loss(&mut self, ch: ChannelId, loss: f64) {
        let c = &mut self.channels[ch];
        c.params.loss = loss;
        c.loss = LossModel::Bernoulli { p: loss };
    }

    /// Computes the static routing tables; call once after the topology is
    /// complete.
    pub fn compute_routes(&mut self, routing: Routing) {
        let hosts: Vec<NodeId> = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].kind == NodeKind::Host)
            .collect();
        self.host_index = hosts.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        self.route_column = hosts
            .iter()
            .enumerate()
            .filter_map(|(i, &n)| Some((u32::from(self.nodes[n].addr?), i as u32)))
            .collect();
        self.routes = vec![vec![NONE; hosts.len()]; self.nodes.len()];
        for (hi, &dest) in hosts.iter().enumerate() {
            for (node, ch) in self.next_hops_towards(dest, routing) {
                self.routes[node][hi] = ch as u32;
            }
        }
    }

    /// Dijkstra from the destination outwards: for each node, the channel
    /// of its best first hop. Hosts other than the destination are never
    /// expanded, so they never carry transit traffic. Ties break on the
    /// lower channel index, so routes do not depend on heap order.
    fn next_hops_towards(&self, dest: NodeId, routing: Routing) -> Vec<(NodeId, ChannelId)> {
        let mut best: Vec<Option<((u64, u64), ChannelId)>> = vec![None; self.nodes.len()];
        let mut done = vec![false; self.nodes.len()];
        let mut heap = BinaryHeap::new();
        heap.push(Reverse(((0u64, 0u64), dest, usize::MAX)));
        let mut out = Vec::new();
        while let Some(Reverse((cost, node, via))) = heap.pop() {
            if done[node] {
                continue;
            }
            done[node] = true;
            if node != dest {
                out.push((node, via));
                if self.nodes[node].kind == NodeKind::Host {
                    continue;
                }
            }
            for edge in self.graph.edges(NodeIndex::new(node)) {
                let (ab, ba) = *edge.weight();
                // The channel from the neighbour towards `node`.
                let toward = if self.channels[ab].to == node { ab } else { ba };
                let nb = self.channels[toward].from;
                if done[nb] {
                    continue;
                }
                let step = self.channels[toward].params.delay.as_nanos();
                let c = match routing {
                    Routing::Delay => (cost.0 + step, cost.1 + 1),
                    Routing::Hops => (cost.0 + 1, cost.1 + step),
                };
                let better = match best[nb] {
                    None => true,
                    Some((bc, bch)) => c < bc || (c == bc && toward < bch),
                };
                if better {
                    best[nb] = Some((c, toward));
                    heap.push(Reverse((c, nb, toward)));
                }
            }
        }
        out
    }

    /// The channel `node` sends packets for host `dest` on, if it has a
    /// route.
    pub fn route(&self, node: NodeId, dest: NodeId) -> Option<ChannelId> {
        let hi = *self.host_index.get(&dest)?;
        let ch = *self.routes.get(node)?.get(hi)?;
        (ch != NONE).then_some(ch as ChannelId)
    }

    /// The node holding `addr`, if any.
    pub fn node_of(&self, addr: Ipv4Addr) -> Option<NodeId> {
        self.by_addr.get(&addr).copied()
    }

    /// The node named `name`, if any.
    pub fn node_named(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    /// A node by id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// All nodes, by id.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// All channels, by id (two per link, in the order links were added).
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// Drops by reason, over the whole network.
    pub fn drops(&self) -> &BTreeMap<DropReason, u64> {
        &self.drops
    }

    /// The MTU of the first link on a host (the one TCP takes its MSS from).
    pub fn host_mtu(&self, node: NodeId) -> u16 {
        self.channels
            .iter()
            .filter(|c| c.from == node)
            .map(|c| c.params.mtu)
            .min()
            .unwrap_or(1500)
    }

    /// Marks a node up or down. Packets reaching a down node are dropped;
    /// a node going down loses the packets in its output buffers.
    pub fn set_node_up(&mut self, node: NodeId, up: bool) {
        if self.nodes[node].up != up {
            self.routing.note(Change::Node(node, up));
        }
        self.nodes[node].up = up;
        if !up {
            self.drop_output_buffers(node);
        }
    }

    /// Marks both directions of the link between `a` and `b` up or down;
    /// packets waiting in their buffers are dropped when it goes down.
    /// Returns false when there is no such link.
    pub fn set_link_up(&mut self, a: NodeId, b: NodeId, up: bool) -> bool {
        let Some(edge) = self.graph.find_edge(NodeIndex::new(a), NodeIndex::new(b)) else {
            return false;
        };
        let (ab, ba) = self.graph[edge];
        if self.channels[ab].up != up {
            self.routing.note(Change::Link(ab, ba, up));
        }
        for ch in [ab, ba] {
            self.channels[ch].up = up;
            if !up {
                let lost = self.channels[ch].queue.clear();
                self.count_drop(ch, DropReason::LinkDown, lost);
            }
        }
        true
    }

    /// Sends a packet from host `from`. A packet to the host's own address
    /// is returned for local delivery (the loopback path); otherwise it is
    /// routed, or dropped with a reason.
    pub fn send<E: From<NetEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        from: NodeId,
        packet: Packet,
    ) -> Option<Packet> {
        if self.nodes[from].addr == Some(packet.dst) {
            return Some(packet);
        }
        self.forward(sched, from, packet);
        None
    }

    /// Handles one of this layer's events; returns a packet that reached
    /// its destination host, with that host.
    pub fn handle<E: From<NetEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        event: NetEvent,
    ) -> Option<(NodeId, Packet)> {
        match event {
            NetEvent::TxDone(ch) => {
                self.finish_transmission(sched, ch);
                None
            }
            NetEvent::Arrive(ch, packet) => self.arrive(sched, ch, packet),
            NetEvent::RoutingTimer(node, timer) => {
                let mut ctx = routing_ctx!(self, sched.now());
                self.routing.on_timer(&mut ctx, node, timer);
                self.drain_routing(sched);
                None
            }
        }
    }

    fn arrive<E: From<NetEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        ch: ChannelId,
        mut packet: Packet,
    ) -> Option<(NodeId, Packet)> {
        let node = self.channels[ch].to;
        if !self.nodes[node].up {
            self.count_drop(ch, DropReason::NodeDown, 1);
            return None;
        }
        if let Some(tap) = self.tap.as_mut() {
            tap(sched.now(), TapPoint::Arrived(ch), &packet);
        }
        if self.routing.is_control(node, packet.dst) {
            let mut ctx = routing_ctx!(self, sched.now());
            self.routing.on_packet(&mut ctx, node, ch, &packet);
            self.drain_routing(sched);
            return None;
        }
        if self.nodes[node].addr == Some(packet.dst) {
            return Some((node, packet));
        }
        // Store and forward: a router decrements the TTL (RFC 791 3.2).
        packet.ttl = packet.ttl.saturating_sub(1);
        if packet.ttl == 0 {
            self.count_drop(ch, DropReason::TtlExpired, 1);
            return None;
        }
        self.forward(sched, node, packet);
        None
    }

    fn forward<E: From<NetEvent>>(&mut self, sched: &mut Scheduler<E>, at: NodeId, p: Packet) {
        let route = self
            .route_column
            .get(&u32::from(p.dst))
            .map(|&hi| self.routes[at][hi as usize])
            .unwrap_or(NONE);
        if route == NONE {
            *self.drops.entry(DropReason::NoRoute).or_default() += 1;
            return;
        }
        self.enqueue(sched, route as ChannelId, p);
    }

    fn enqueue<E: From<NetEvent>>(&mut self, sched: &mut Scheduler<E>, ch: ChannelId, p: Packet) {
        let c = &mut self.channels[ch];
        if !c.up {
            self.count_drop(ch, DropReason::LinkDown, 1);
            return;
        }
        if p.wire_len() > usize::from(c.params.mtu) {
            self.count_drop(ch, DropReason::Mtu, 1);
            return;
        }
        let (tx, prop) = (tx_time(&c.params, p.wire_len()), c.params.delay);
        if let Err(reason) = c.queue.enqueue(p, sched.now()) {
            self.count_drop(ch, reason, 1);
            return;
        }
        self.routing.on_accept(ch, sched.now(), tx, prop);
        if self.channels[ch].sending.is_none() {
            self.send_next(sched, ch);
        }
        let c = &mut self.channels[ch];
        c.stats.max_queue = c.stats.max_queue.max(c.queue.len());
    }

    /// Puts the buffer's next packet on the line, counting what the queue
    /// discipline dropped on the way.
    fn send_next<E: From<NetEvent>>(&mut self, sched: &mut Scheduler<E>, ch: ChannelId) {
        let out = self.channels[ch].queue.dequeue(sched.now());
        self.count_drop(ch, DropReason::Codel, out.dropped);
        if let Some(p) = out.packet {
            self.start_transmission(sched, ch, p);
        }
    }

    /// Serialisation delay: the packet's bits at the line rate, rounded up
    /// to the nanosecond.
    fn start_transmission<E: From<NetEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        ch: ChannelId,
        p: Packet,
    ) {
        let c = &mut self.channels[ch];
        let tx = tx_time(&c.params, p.wire_len());
        c.stats.busy += tx;
        c.sending = Some(p);
        c.sending_until = sched.now() + tx;
        sched.schedule_in(tx, NetEvent::TxDone(ch).into());
    }

    fn finish_transmission<E: From<NetEvent>>(&mut self, sched: &mut Scheduler<E>, ch: ChannelId) {
        let c = &mut self.channels[ch];
        let Some(p) = c.sending.take() else {
            return;
        };
        c.stats.packets += 1;
        c.stats.bytes += p.wire_len() as u64;
        if let Some(tap) = self.tap.as_mut() {
            tap(sched.now(), TapPoint::Transmitted(ch), &p);
        }
        let lost = c.loss.lose(&mut c.rng);
        let delay = c.params.delay;
        if !self.nodes[c.from].up {
            self.count_drop(ch, DropReason::NodeDown, 1);
        } else if !c.up {
            self.count_drop(ch, DropReason::LinkDown, 1);
        } else if lost {
            self.count_drop(ch, DropReason::Loss, 1);
        } else {
            sched.schedule_in(delay, NetEvent::Arrive(ch, p).into());
        }
        self.send_next(sched, ch);
    }

    /// Chooses the routing protocol; call before [`Network::start_routing`].
    pub fn set_routing_protocol(&mut self, protocol: Protocol) {
        self.routing.set_protocol(protocol);
    }

    /// Gives router `node` an address for its control packets (otherwise
    /// one is assigned from 10.255.0.1 up at the start).
    pub fn set_router_address(&mut self, node: NodeId, addr: Ipv4Addr) {
        self.routing.set_address(node, addr);
    }

    /// The control plane: protocol, router addresses, statistics.
    pub fn routing(&self) -> &RoutingEngine {
        &self.routing
    }

    /// Starts the routing protocol over the routes of
    /// [`Network::compute_routes`] (which hosts keep); call once, after it.
    pub fn start_routing<E: From<NetEvent>>(&mut self, sched: &mut Scheduler<E>) {
        let mut ctx = routing_ctx!(self, sched.now());
        self.routing.start(&self.streams, &mut ctx);
        self.drain_routing(sched);
    }

    /// Tells the protocol about links and nodes that went up or down since
    /// the last call, at the current time; the layer above calls it after
    /// [`Network::set_link_up`] or [`Network::set_node_up`].
    pub fn apply_topology_changes<E: From<NetEvent>>(&mut self, sched: &mut Scheduler<E>) {
        if !self.routing.has_pending() {
            return;
        }
        let mut ctx = routing_ctx!(self, sched.now());
        self.routing.apply_changes(&mut ctx);
        self.drain_routing(sched);
    }

    /// Queues the protocol's packets and sets its timers.
    fn drain_routing<E: From<NetEvent>>(&mut self, sched: &mut Scheduler<E>) {
        self.watch_settling(sched.now());
        let mut sends = std::mem::take(&mut self.routing.out.sends);
        for (ch, p) in sends.drain(..) {
            self.enqueue(sched, ch, p);
        }
        self.routing.out.sends = sends;
        for (delay, node, timer) in self.routing.out.timers.drain(..) {
            sched.schedule_in(delay, NetEvent::RoutingTimer(node, timer).into());
        }
    }

    fn count_drop(&mut self, ch: ChannelId, reason: DropReason, n: u64) {
        if n == 0 {
            return;
        }
        *self.channels[ch].stats.drops.entry(reason).or_default() += n;
        *self.drops.entry(reason).or_default() += n;
    }
}

/// Serialisation delay: the packet's bits at the line rate, rounded up to
/// the nanosecond.
fn tx_time(params: &LinkParams, len: usize) -> SimTime {
    let bits = len as u64 * 8;
    SimTime::from_nanos((bits * 1_000_000_000).div_ceil(params.bandwidth_bps.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{Packet, UdpHeader};
    use bytes::Bytes;

    fn params(bps: u64, delay_ms: u64, buffer: usize) -> LinkParams {
        LinkParams {
            bandwidth_bps: bps,
            delay: SimTime::from_millis(delay_ms),
            loss: 0.0,
            mtu: 1500,
            buffer_packets: buffer,
            queue: QueueConfig::default(),
        }
    }

    fn addr(n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, n)
    }

    fn udp(src: u8, dst: u8, len: usize) -> Packet {
        let h = UdpHeader {
            src_port: 1,
            dst_port: 2,
        };
        Packet::udp(addr(src), addr(dst), h, Bytes::from(vec![0u8; len]))
    }

    /// h1 - r1 - r2 - h2, and a slow direct r1 - r3 - r2 detour.
    fn line(buffer: usize) -> (Network, NodeId, NodeId) {
        let mut n = Network::new(Streams::new(1));
        let h1 = n.add_node("h1", NodeKind::Host, Some(addr(1)));
        let r1 = n.add_node("r1", NodeKind::Router, None);
        let r2 = n.add_node("r2", NodeKind::Router, None);
        let h2 = n.add_node("h2", NodeKind::Host, Some(addr(2)));
        n.add_link(h1, r1, params(1_000_000, 1, buffer));
        n.add_link(r1, r2, params(1_000_000, 10, buffer));
        n.add_link(r2, h2, params(1_000_000, 1, buffer));
        (n, h1, h2)
    }

    fn run(n: &mut Network, s: &mut Scheduler<NetEvent>) -> Vec<(SimTime, NodeId, Packet)> {
        let mut got = Vec::new();
        while let Some((t, ev)) = s.step(SimTime::MAX) {
            if let Some((node, p)) = n.handle(s, ev) {
                got.push((t, node, p));
            }
        }
        got
    }

    #[test]
    fn store_and_forward_delay_is_serialisation_plus_propagation_per_hop() {
        let (mut n, h1, h2) = line(10);
        n.compute_routes(Routing::Delay);
        let mut s = Scheduler::new();
        // 1000 bytes of IP packet at 1 Mbit/s: 8 ms per hop, three hops,
        // plus 1 + 10 + 1 ms of propagation.
        n.send(&mut s, h1, udp(1, 2, 1000 - 28));
        let got = run(&mut n, &mut s);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, h2);
        assert_eq!(got[0].0, SimTime::from_millis(3 * 8 + 12));
        assert_eq!(got[0].2.ttl, 62);
    }

    #[test]
    fn back_to_back_packets_queue_behind_each_other() {
        let (mut n, h1, _) = line(10);
        n.compute_routes(Routing::Delay);
        let mut s = Scheduler::new();
        n.send(&mut s, h1, udp(1, 2, 972));
        n.send(&mut s, h1, udp(1, 2, 972));
        let got = run(&mut n, &mut s);
        // The second waits one serialisation time on the first hop only.
        assert_eq!(got[1].0 - got[0].0, SimTime::from_millis(8));
        assert_eq!(n.channels()[0].stats.max_queue, 1);
    }

    #[test]
    fn a_full_buffer_drops_the_tail() {
        let (mut n, h1, _) = line(2);
        n.compute_routes(Routing::Delay);
        let mut s = Scheduler::new();
        for _ in 0..5 {
            n.send(&mut s, h1, udp(1, 2, 972));
        }
        let got = run(&mut n, &mut s);
        // One on the line, two in the buffer, two dropped.
        assert_eq!(got.len(), 3);
        assert_eq!(n.drops()[&DropReason::BufferFull], 2);
    }

    #[test]
    fn routing_by_hops_and_by_delay_differ_on_a_detour() {
        let mut n = Network::new(Streams::new(1));
        let h1 = n.add_node("h1", NodeKind::Host, Some(addr(1)));
        let r1 = n.add_node("r1", NodeKind::Router, None);
        let r2 = n.add_node("r2", NodeKind::Router, None);
        let r3 = n.add_node("r3", NodeKind::Router, None);
        let h2 = n.add_node("h2", NodeKind::Host, Some(addr(2)));
        n.add_link(h1, r1, params(1_000_000, 1, 10));
        let (direct, _) = n.add_link(r1, r2, params(1_000_000, 50, 10));
        let (detour, _) = n.add_link(r1, r3, params(1_000_000, 1, 10));
        n.add_link(r3, r2, params(1_000_000, 1, 10));
        n.add_link(r2, h2, params(1_000_000, 1, 10));
        n.compute_routes(Routing::Hops);
        assert_eq!(n.routes[r1][n.host_index[&h2]], direct as u32);
        n.compute_routes(Routing::Delay);
        assert_eq!(n.routes[r1][n.host_index[&h2]], detour as u32);
    }

    #[test]
    fn loss_probability_drops_about_that_share() {
        let mut n = Network::new(Streams::new(9));
        let h1 = n.add_node("h1", NodeKind::Host, Some(addr(1)));
        let h2 = n.add_node("h2", NodeKind::Host, Some(addr(2)));
        let mut p = params(1_000_000_000, 1, 100_000);
        p.loss = 0.05;
        n.add_link(h1, h2, p);
        n.compute_routes(Routing::Delay);
        let mut s = Scheduler::new();
        for _ in 0..20_000 {
            n.send(&mut s, h1, udp(1, 2, 10));
        }
        let got = run(&mut n, &mut s).len() as f64;
        let lost = n.drops()[&DropReason::Loss] as f64;
        assert_eq!(got + lost, 20_000.0);
        assert!(
            (lost / 20_000.0 - 0.05).abs() < 0.006,
            "lost share {}",
            lost / 20_000.0
        );
    }

    #[test]
    fn down_links_and_nodes_drop_with_their_reason() {
        let (mut n, h1, h2) = line(10);
        n.compute_routes(Routing::Delay);
        let mut s = Scheduler::new();
        let r1 = n.node_named("r1").unwrap();
        let r2 = n.node_named("r2").unwrap();
        assert!(n.set_link_up(r1, r2, false));
        n.send(&mut s, h1, udp(1, 2, 10));
        assert!(run(&mut n, &mut s).is_empty());
        assert_eq!(n.drops()[&DropReason::LinkDown], 1);
        n.set_link_up(r1, r2, true);
        n.set_node_up(h2, false);
        n.send(&mut s, h1, udp(1, 2, 10));
        assert!(run(&mut n, &mut s).is_empty());
        assert_eq!(n.drops()[&DropReason::NodeDown], 1);
    }

    #[test]
    fn oversized_packets_and_unknown_addresses_are_dropped() {
        let (mut n, h1, _) = line(10);
        n.compute_routes(Routing::Delay);
        let mut s = Scheduler::new();
        n.send(&mut s, h1, udp(1, 2, 1600));
        n.send(&mut s, h1, udp(1, 99, 10));
        assert!(run(&mut n, &mut s).is_empty());
        assert_eq!(n.drops()[&DropReason::Mtu], 1);
        assert_eq!(n.drops()[&DropReason::NoRoute], 1);
    }
}
