//! The simulated world: hosts with their services, connections, clients.

mod agent;
mod bulk;
mod conn;
mod dns;
mod faults;
mod mta;

use std::collections::HashMap;
use std::net::Ipv4Addr;

use bytes::Bytes;
use rand::Rng;

use crate::net::{L4, LinkParams, NetEvent, Network, NodeId, NodeKind, Packet, Routing};
use crate::net::{TcpHeader, UdpHeader};
use crate::proto::dns::{Authoritative, Resolver, ResolverConfig, Zone};
use crate::proto::mailbox::Mailstore;
use crate::sim::{Scheduler, SimRng, SimTime, Streams};
use crate::transport::tcp::{TcpConfig, TcpConnection, reset_for};

use super::Transcript;
use super::ledger::{Ledger, MsgId};
use conn::Conn;

pub use agent::{AgentConfig, FetchConfig, FetchProtocol};
pub use bulk::{BulkStats, Flow};
pub use mta::MtaSettings;

/// Index of a host in the world.
pub type HostId = usize;
/// Index of a user agent (a mail client).
pub type AgentId = usize;
/// Index of a connection slot.
pub(crate) type ConnId = usize;

/// Well-known ports (IANA): SMTP relay, submission, POP3, IMAP, DNS.
pub(crate) const PORT_SMTP: u16 = 25;
pub(crate) const PORT_SUBMISSION: u16 = 587;
pub(crate) const PORT_POP3: u16 = 110;
pub(crate) const PORT_IMAP: u16 = 143;
pub(crate) const PORT_DNS: u16 = 53;
/// The UDP port an MTA's resolver sends from (fixed, so runs repeat).
pub(crate) const PORT_RESOLVER: u16 = 10053;

/// Everything the kernel carries for the world.
#[derive(Debug)]
pub enum Event {
    /// A network event (transmission done, arrival).
    Net(NetEvent),
    /// A packet a host sent to itself.
    Loopback(NodeId, Packet),
    /// A connection's TCP timer is due (slot, generation).
    TcpTimer(ConnId, u64),
    /// A host's resolver timer is due.
    ResolverTimer(HostId),
    /// An MTA should try a queued message again (host, queue id).
    MtaAttempt(HostId, u64),
    /// A client polls its mailbox.
    Poll(AgentId),
    /// A client retries its outbox.
    OutboxRetry(AgentId),
    /// An event of a higher layer, handed back to it untouched.
    Upper(u64),
}

impl From<NetEvent> for Event {
    fn from(e: NetEvent) -> Self {
        Event::Net(e)
    }
}

/// A function that sees packets with the time they were sent.
pub type PacketTap = Box<dyn FnMut(SimTime, &Packet)>;

/// One host and the services it runs.
pub struct Host {
    /// Host name (also its DNS name where a zone covers it).
    pub name: String,
    /// Its node in the network.
    pub node: NodeId,
    /// Its address.
    pub addr: Ipv4Addr,
    /// False while a fault holds it down.
    pub up: bool,
    /// The MTA, if it runs one.
    pub(crate) mta: Option<mta::Mta>,
    /// The mail store, on hosts that hold mailboxes.
    pub store: Option<Mailstore>,
    /// Whether it serves POP3 on port 110.
    pub pop3: bool,
    /// Whether it serves IMAP on port 143.
    pub imap: bool,
    /// The authoritative DNS server on UDP port 53, if any.
    pub(crate) dns: Option<Authoritative>,
    /// TCP segments retransmitted by this host's finished connections.
    retransmits_done: u64,
    tcp: TcpConfig,
    iss: SimRng,
    next_port: u16,
    ident: u16,
}

/// Counters of the service layer for the summary.
#[derive(Clone, Debug, Default)]
pub struct ServiceStats {
    /// SMTP sessions opened, by servers (relay and submission).
    pub smtp_sessions: u64,
    /// POP3 sessions opened.
    pub pop3_sessions: u64,
    /// IMAP sessions opened.
    pub imap_sessions: u64,
    /// DNS queries answered by authoritative servers.
    pub dns_answered: u64,
    /// Messages fetched by clients.
    pub fetched: u64,
    /// Delivery status notifications generated.
    pub dsn_generated: u64,
    /// Bounces of bounces, dropped (RFC 5321 section 6.1).
    pub double_bounces: u64,
    /// Messages accepted whose sender was not a simulated client or MTA.
    pub untracked_accepted: u64,
    /// TCP resets sent for closed ports.
    pub tcp_resets: u64,
    /// UDP datagrams to a port nobody listens on.
    pub udp_unreachable: u64,
    /// Connections that failed (refused or timed out).
    pub connect_failures: u64,
    /// TCP segments retransmitted, over all finished connections.
    pub tcp_retransmits: u64,
}

/// The world: kernel, network, hosts, clients and the ledger.
pub struct World {
    /// The scheduler; public so the layers above can drive the run.
    pub sched: Scheduler<Event>,
    /// The network fabric.
    pub net: Network,
    /// What became of every message.
    pub ledger: Ledger,
    /// Service counters.
    pub stats: ServiceStats,
    /// The protocol transcript.
    pub transcript: Transcript,
    /// Sees every packet a host sends, at the moment it leaves the host
    /// (a capture point at each host's interface); `None` costs nothing.
    pub tap: Option<PacketTap>,
    /// The IP time to live of every packet a host sends (`[network] ttl`).
    pub ttl: u8,
    hosts: Vec<Host>,
    host_by_node: Vec<Option<HostId>>,
    agents: Vec<agent::Agent>,
    conns: Vec<Option<Box<Conn>>>,
    free_conns: Vec<ConnId>,
    demux: HashMap<(HostId, u16, Ipv4Addr, u16), ConnId>,
    /// (store host, account, uid) -> message, for first-fetch times.
    stored: HashMap<(HostId, String, u32), MsgId>,
    /// Bytes received by each probe, by probe id.
    probes: Vec<Vec<u8>>,
    /// UDP probes: (host, local port) -> probe id.
    udp_probes: HashMap<(HostId, u16), usize>,
    /// Messages downloaded by clients, when recording is on.
    fetch_log: Option<Vec<(AgentId, Bytes)>>,
    streams: Streams,
    start_unix: i64,
    next_gen: u64,
    bulk: bulk::Bulk,
}

impl World {
    /// An empty world; `start_unix` is the calendar time of time zero,
    /// used only in Date and Received fields.
    pub fn new(seed: u64, start_unix: i64) -> Self {
        let streams = Streams::new(seed);
        World {
            sched: Scheduler::new(),
            net: Network::new(streams),
            ledger: Ledger::default(),
            stats: ServiceStats::default(),
            transcript: Transcript::default(),
            tap: None,
            ttl: crate::net::DEFAULT_TTL,
            hosts: Vec::new(),
            host_by_node: Vec::new(),
            agents: Vec::new(),
            conns: Vec::new(),
            free_conns: Vec::new(),
            demux: HashMap::new(),
            stored: HashMap::new(),
            probes: Vec::new(),
            udp_probes: HashMap::new(),
            fetch_log: None,
            streams,
            start_unix,
            next_gen: 0,
            bulk: bulk::Bulk::default(),
        }
    }

    /// Adds a router.
    pub fn add_router(&mut self, name: &str) -> NodeId {
        let node = self.net.add_node(name, NodeKind::Router, None);
        self.host_by_node.push(None);
        node
    }

    /// Adds a host with no services yet.
    pub fn add_host(&mut self, name: &str, addr: Ipv4Addr) -> HostId {
        let node = self.net.add_node(name, NodeKind::Host, Some(addr));
        let id = self.hosts.len();
        self.host_by_node.push(Some(id));
        self.hosts.push(Host {
            name: name.to_string(),
            node,
            addr,
            up: true,
            mta: None,
            store: None,
            pop3: false,
            imap: false,
            dns: None,
            retransmits_done: 0,
            tcp: TcpConfig::default(),
            iss: self.streams.stream(&format!("tcp/iss/{name}")),
            next_port: 49152,
            ident: 0,
        });
        id
    }

    /// Adds a full-duplex link between two nodes.
    pub fn add_link(&mut self, a: NodeId, b: NodeId, params: LinkParams) {
        self.net.add_link(a, b, params);
    }

    /// Computes routes and fixes each host's TCP MSS from its own link's
    /// MTU (IPv4 and TCP headers take 40 bytes); call once after the
    /// topology is complete.
    pub fn finish_topology(&mut self, routing: Routing) {
        self.net.compute_routes(routing);
        self.net.start_routing(&mut self.sched);
        for h in &mut self.hosts {
            let mtu = self.net.host_mtu(h.node);
            h.tcp.mss = mtu.saturating_sub(40).max(64);
        }
    }

    /// Turns delayed ACKs on or off, with `delay`, on every host's TCP
    /// (the `[tcp]` table); call after the topology is complete.
    pub fn set_delayed_ack(&mut self, on: bool, delay: SimTime) {
        for h in &mut self.hosts {
            h.tcp.delayed_ack = on;
            h.tcp.ack_delay = delay;
        }
    }

    /// Starts an MTA on `host`.
    pub fn enable_mta(&mut self, host: HostId, settings: MtaSettings, resolver: ResolverConfig) {
        let first_id = self
            .streams
            .stream(&format!("dns/id/{}", self.hosts[host].name))
            .next_u32();
        let h = &mut self.hosts[host];
        h.mta = Some(mta::Mta::new(
            h.name.clone(),
            settings,
            Resolver::new(resolver, first_id as u16),
        ));
    }

    /// Gives `host` a mail store (the caller adds accounts through
    /// [`World::store_mut`]).
    pub fn enable_store(&mut self, host: HostId, uidvalidity_base: u32) {
        self.hosts[host].store = Some(Mailstore::new(uidvalidity_base));
    }

    /// The mail store of `host`, if it has one.
    pub fn store_mut(&mut self, host: HostId) -> Option<&mut Mailstore> {
        self.hosts[host].store.as_mut()
    }

    /// Serves POP3 and/or IMAP on `host`.
    pub fn enable_access(&mut self, host: HostId, pop3: bool, imap: bool) {
        self.hosts[host].pop3 |= pop3;
        self.hosts[host].imap |= imap;
    }

    /// Serves `zones` authoritatively on `host`.
    pub fn enable_dns(&mut self, host: HostId, zones: Vec<Zone>) {
        self.hosts[host].dns = Some(Authoritative::new(zones));
    }

    /// All hosts, by id.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host named `name`.
    pub fn host_named(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// Simulated time now.
    pub fn now(&self) -> SimTime {
        self.sched.now()
    }

    /// Schedules an event for the layer above, handed back by
    /// [`World::step`].
    pub fn schedule_upper(&mut self, at: SimTime, token: u64) {
        self.sched.schedule(at, Event::Upper(token));
    }

    /// Runs events until one for the layer above comes due (returned), or
    /// nothing is left before `limit` (returns `None`).
    pub fn step(&mut self, limit: SimTime) -> Option<u64> {
        // Links or nodes the layer above took down or up since the last step.
        self.net.apply_topology_changes(&mut self.sched);
        while let Some((_, ev)) = self.sched.step(limit) {
            if let Event::Upper(token) = ev {
                return Some(token);
            }
            self.handle(ev);
        }
        None
    }

    /// Calendar seconds for a Date or Received field at time `t`.
    pub(crate) fn unix(&self, t: SimTime) -> i64 {
        self.start_unix + (t.as_nanos() / 1_000_000_000) as i64
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Net(e) => {
                if let Some((node, p)) = self.net.handle(&mut self.sched, e) {
                    self.on_packet(node, p);
                }
            }
            Event::Loopback(node, p) => self.on_packet(node, p),
            Event::TcpTimer(cid, generation) => self.on_tcp_timer(cid, generation),
            Event::ResolverTimer(h) => self.on_resolver_timer(h),
            Event::MtaAttempt(h, qid) => self.mta_attempt(h, qid),
            Event::Poll(a) => self.agent_poll(a),
            Event::OutboxRetry(a) => {
                self.agents[a].retry_pending = false;
                self.agent_try_submit(a)
            }
            Event::Upper(_) => {}
        }
    }

    /// A packet reached host `node`: demultiplex by protocol and port.
    fn on_packet(&mut self, node: NodeId, p: Packet) {
        let Some(h) = self.host_by_node.get(node).copied().flatten() else {
            return;
        };
        if !self.hosts[h].up {
            return;
        }
        match p.l4 {
            L4::Tcp(hdr) => self.on_segment(h, p.src, hdr, p.payload),
            L4::Udp(hdr) => self.on_datagram(h, p.src, hdr, p.payload),
        }
    }

    /// Sends a packet from host `h`, through the network or, when it is
    /// addressed to `h` itself, through the loopback path.
    fn emit(&mut self, h: HostId, mut p: Packet) {
        if !self.hosts[h].up {
            return;
        }
        p.ttl = self.ttl;
        let node = self.hosts[h].node;
        if let Some(tap) = self.tap.as_mut() {
            tap(self.sched.now(), &p);
        }
        if let Some(p) = self.net.send(&mut self.sched, node, p) {
            self.sched
                .schedule(self.sched.now(), Event::Loopback(node, p));
        }
    }

    fn emit_segment(&mut self, h: HostId, dst: Ipv4Addr, hdr: TcpHeader, payload: Bytes) {
        let mut p = Packet::tcp(self.hosts[h].addr, dst, hdr, payload);
        p.ident = self.next_ident(h);
        self.emit(h, p);
    }

    fn emit_datagram(&mut self, h: HostId, dst: Ipv4Addr, hdr: UdpHeader, payload: Bytes) {
        let mut p = Packet::udp(self.hosts[h].addr, dst, hdr, payload);
        p.ident = self.next_ident(h);
        self.emit(h, p);
    }

    fn next_ident(&mut self, h: HostId) -> u16 {
        let host = &mut self.hosts[h];
        host.ident = host.ident.wrapping_add(1);
        host.ident
    }

    /// A TCP segment for host `h`: an existing connection, a listener, or a
    /// reset for a closed port (RFC 9293 section 3.10.7.1).
    fn on_segment(&mut self, h: HostId, src: Ipv4Addr, hdr: TcpHeader, payload: Bytes) {
        let key = (h, hdr.dst_port, src, hdr.src_port);
        if let Some(&cid) = self.demux.get(&key) {
            self.with_conn(cid, |w, c| {
                let now = w.now();
                c.tcp.handle_segment(now, &hdr, payload)
            });
            return;
        }
        let syn_only = hdr.flags.contains(crate::net::TcpFlags::SYN)
            && !hdr.flags.contains(crate::net::TcpFlags::ACK);
        if syn_only && self.accept(h, src, &hdr) {
            return;
        }
        if let Some(rst) = reset_for(&hdr, payload.len()) {
            if !syn_only {
                self.note_forgotten_segment(h, src, hdr.src_port);
            }
            self.stats.tcp_resets += 1;
            self.emit_segment(h, src, rst, Bytes::new());
        }
    }

    /// Host `h` goes down (crash: sessions vanish, queues and stores
    /// survive as on disk) or comes back up (queues are flushed).
    pub fn set_host_up(&mut self, h: HostId, up: bool) {
        if self.hosts[h].up == up {
            return;
        }
        self.hosts[h].up = up;
        let node = self.hosts[h].node;
        self.net.set_node_up(node, up);
        let text = if up {
            "host up: services listen again, queued mail is retried now"
        } else {
            "host down (crash): open sessions vanish; mailboxes and a queue on disk are kept"
        };
        self.note(h, text);
        if !up {
            let mine: Vec<ConnId> = (0..self.conns.len())
                .filter(|&c| self.conns[c].as_ref().is_some_and(|c| c.host == h))
                .collect();
            for cid in mine {
                self.crash_conn(cid);
            }
            self.lose_memory(h);
            return;
        }
        self.mta_flush(h);
        let agents: Vec<AgentId> = (0..self.agents.len())
            .filter(|&a| self.agents[a].host == h)
            .collect();
        for a in agents {
            self.agent_try_submit(a);
        }
    }

    /// Opens a TCP connection from host `h` to `dst:port`, sends `bytes`
    /// as they are and closes its side, like typing at `telnet dst port`.
    /// Returns the probe id for [`World::probe_log`].
    pub fn probe_tcp(&mut self, h: HostId, dst: Ipv4Addr, port: u16, bytes: &[u8]) -> usize {
        let id = self.probes.len();
        self.probes.push(Vec::new());
        let protocol = match port {
            PORT_SMTP | PORT_SUBMISSION => "SMTP",
            PORT_POP3 => "POP3",
            PORT_IMAP => "IMAP",
            _ => "TCP",
        };
        let role = conn::Role::Probe { id, protocol };
        let now = self.now();
        let local = self.unused_port(h, dst, port);
        let iss = self.hosts[h].iss.next_u32();
        let mut tcp = TcpConnection::connect(now, self.hosts[h].tcp, local, port, iss);
        tcp.send(bytes);
        tcp.close();
        if self.transcript.enabled() {
            let (from, to) = (self.hosts[h].name.clone(), self.name_of(dst));
            self.transcript.chunk(now, protocol, &from, &to, bytes);
        }
        let cid = self.insert_conn(h, local, (dst, port), tcp, role);
        self.with_conn(cid, |_, _| {});
        id
    }

    /// Sends one UDP datagram of `bytes` from host `h` to `dst:port`; any
    /// reply lands in the probe's log.
    pub fn probe_udp(&mut self, h: HostId, dst: Ipv4Addr, port: u16, bytes: &[u8]) -> usize {
        let id = self.probes.len();
        self.probes.push(Vec::new());
        let local = 40_000 + (id % 9_000) as u16;
        self.udp_probes.insert((h, local), id);
        let hdr = UdpHeader {
            src_port: local,
            dst_port: port,
        };
        self.emit_datagram(h, dst, hdr, Bytes::copy_from_slice(bytes));
        id
    }

    /// Everything probe `id` has received so far.
    pub fn probe_log(&self, id: usize) -> &[u8] {
        self.probes.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Starts keeping every message clients download (for tests and
    /// teaching; it costs memory).
    pub fn record_fetches(&mut self) {
        self.fetch_log.get_or_insert_with(Vec::new);
    }

    /// The messages downloaded so far, with the client that fetched each.
    pub fn fetches(&self) -> &[(AgentId, Bytes)] {
        self.fetch_log.as_deref().unwrap_or(&[])
    }

    /// Takes the link between nodes `a` and `b` down or up (packets waiting
    /// on it are dropped when it goes down); false if there is no such link.
    pub fn set_link_up(&mut self, a: NodeId, b: NodeId, up: bool) -> bool {
        let found = self.net.set_link_up(a, b, up);
        if found && self.transcript.enabled() {
            let (na, nb) = (self.net.node(a).name.clone(), self.net.node(b).name.clone());
            let now = self.now();
            let state = if up {
                "up"
            } else {
                "down: packets queued on it are dropped"
            };
            self.transcript
                .note(now, &format!("{na}-{nb}"), &format!("link {state}"));
        }
        found
    }

    /// Where recipient `addr` of message `msg` waits at the end of a run,
    /// and why, for `messages.csv`: the MTA queue holding it and the error
    /// of its last delivery attempt.
    pub fn queued_reason(&self, msg: MsgId, addr: &str) -> Option<String> {
        self.hosts.iter().find_map(|h| {
            let error = h.mta.as_ref()?.last_error(msg, addr)?;
            Some(if error.is_empty() {
                format!("in the queue of {}", h.name)
            } else {
                format!("in the queue of {}; last attempt: {error}", h.name)
            })
        })
    }

    /// Whether some outbox, queue or open session still holds recipient
    /// `addr` of message `msg` (for the ledger's balance).
    pub fn holds(&self, msg: MsgId, addr: &str) -> bool {
        let in_outbox = self.agents.iter().any(|a| a.holds(msg, addr));
        let in_queue = self
            .hosts
            .iter()
            .filter_map(|h| h.mta.as_ref())
            .any(|m| m.holds(msg, addr));
        in_outbox || in_queue
    }

    /// Entries in host `h`'s MTA queue now, or `None` if it runs no MTA.
    pub fn mta_queue_len(&self, h: HostId) -> Option<usize> {
        self.hosts[h].mta.as_ref().map(|m| m.queue_len())
    }

    /// TCP segments host `h` has retransmitted so far, over its finished
    /// and open connections.
    pub fn tcp_retransmits(&self, h: HostId) -> u64 {
        let open: u64 = self
            .conns
            .iter()
            .flatten()
            .filter(|c| c.host == h)
            .map(|c| c.tcp.stats().retransmissions)
            .sum();
        self.hosts[h].retransmits_done + open
    }

    /// Messages waiting in MTA queues at this moment.
    pub fn queued_messages(&self) -> usize {
        self.hosts
            .iter()
            .filter_map(|h| h.mta.as_ref())
            .map(|m| m.queue_len())
            .sum()
    }

    fn unused_port(&mut self, h: HostId, dst: Ipv4Addr, dst_port: u16) -> u16 {
        loop {
            let host = &mut self.hosts[h];
            let p = host.next_port;
            host.next_port = if p == u16::MAX { 49152 } else { p + 1 };
            if !self.demux.contains_key(&(h, p, dst, dst_port)) {
                return p;
            }
        }
    }
}

/// The domain part of an address, lower-case (empty if there is none).
pub(crate) fn domain_of(addr: &str) -> String {
    addr.rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}
