//! mailsim's TCP interoperates with an independent TCP: smoltcp's.
//!
//! One mailsim `TcpConnection` and one smoltcp socket talk across a router
//! of our `Network` fabric whose second link loses 5 % of its packets each
//! way. Every packet crosses the boundary as real IPv4/TCP bytes: ours are
//! written by `Packet::emit` and checked by smoltcp's parser (which verifies
//! both checksums); smoltcp's are read back by `Packet::parse`. smoltcp's
//! `Interface::poll` runs at instants taken from simulated time, and its
//! `poll_delay` is a simulation event: no wall clock anywhere.
//!
//! Each test opens a connection, sends 100 KB each way at once, closes both
//! ends and runs until nothing is left to do; then each side must hold the
//! other's bytes exactly, and both must have closed in order (RFC 9293
//! section 3.6): through TIME-WAIT or LAST-ACK to CLOSED, no reset.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::rc::Rc;

use bytes::Bytes;
use mailsim::net::{
    DropReason, L4, LinkParams, NetEvent, Network, NodeId, NodeKind, Packet, Routing, TapPoint,
};
use mailsim::sim::{Scheduler, SimTime, Streams};
use mailsim::transport::tcp::{TcpConfig, TcpConnection, TcpEvent, TcpState, reset_for};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

const OURS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const THEIRS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const SIZE: usize = 100 * 1024;
const LOSS: f64 = 0.05;
const SERVER_PORT: u16 = 25;
const CLIENT_PORT: u16 = 49152;

/// Who opens the connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Opener {
    Mailsim,
    Smoltcp,
}

enum Ev {
    Net(NetEvent),
    /// mailsim's TCP timer, by generation (older ones are stale).
    OurTimer(u64),
    /// smoltcp asked to be polled again, by generation.
    TheirPoll(u64),
}

impl From<NetEvent> for Ev {
    fn from(e: NetEvent) -> Self {
        Ev::Net(e)
    }
}

/// A smoltcp device whose queues are the ends of our simulated link.
#[derive(Default)]
struct SimDevice {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.0.push_back(buf);
        r
    }
}

impl Device for SimDevice {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx<'_>)> {
        let packet = self.rx.pop_front()?;
        Some((Rx(packet), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = 1500;
        caps
    }
}

/// The two stacks, the fabric between them, and what each has seen.
struct Sim {
    sched: Scheduler<Ev>,
    net: Network,
    our_node: NodeId,
    their_node: NodeId,

    ours: Option<TcpConnection>,
    our_gen: u64,
    our_ident: u16,
    our_received: Vec<u8>,
    our_events: Vec<TcpEvent>,
    our_states: Vec<TcpState>,

    dev: SimDevice,
    iface: Interface,
    sockets: SocketSet<'static>,
    socket: SocketHandle,
    their_gen: u64,
    their_sent: usize,
    their_closed: bool,
    their_received: Vec<u8>,
    their_states: Vec<tcp::State>,

    /// Data segments on the lossy link, seen through the fabric's tap:
    /// `[mailsim -> smoltcp, smoltcp -> mailsim]`.
    wire: Rc<RefCell<[WireCount; 2]>>,
}

/// Data-carrying segments one way across the lossy link.
#[derive(Clone, Debug, Default)]
struct WireCount {
    /// Put on the line.
    sent: u64,
    /// Reached the far end.
    arrived: u64,
    /// Put on the line again: a sequence number already sent.
    resent: u64,
    seen: BTreeSet<u32>,
}

/// What each side sends: different patterns, so a swap would show.
fn pattern(seed: u8) -> Vec<u8> {
    (0..SIZE)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add((i / 251) as u8) ^ seed)
        .collect()
}

fn instant(t: SimTime) -> Instant {
    Instant::from_micros((t.as_nanos() / 1000) as i64)
}

impl Sim {
    /// ours -- r1 -- theirs; the second link loses `LOSS` each way.
    fn new(opener: Opener) -> Sim {
        let mut net = Network::new(Streams::new(7));
        let our_node = net.add_node("mailsim", NodeKind::Host, Some(OURS));
        let r1 = net.add_node("r1", NodeKind::Router, None);
        let their_node = net.add_node("smoltcp", NodeKind::Host, Some(THEIRS));
        let clean = LinkParams {
            bandwidth_bps: 10_000_000,
            delay: SimTime::from_millis(5),
            loss: 0.0,
            mtu: 1500,
            buffer_packets: 100,
            queue: mailsim::net::QueueConfig::default(),
        };
        net.add_link(our_node, r1, clean);
        let (to_them, to_us) = net.add_link(
            r1,
            their_node,
            LinkParams {
                loss: LOSS,
                ..clean
            },
        );
        net.compute_routes(Routing::Delay);
        let wire = Rc::new(RefCell::new(<[WireCount; 2]>::default()));
        let tap_wire = Rc::clone(&wire);
        net.tap = Some(Box::new(move |_, point, p| {
            let (ch, arrived) = match point {
                TapPoint::Transmitted(ch) => (ch, false),
                TapPoint::Arrived(ch) => (ch, true),
            };
            let dir = if ch == to_them {
                0
            } else if ch == to_us {
                1
            } else {
                return;
            };
            let L4::Tcp(h) = p.l4 else { return };
            if p.payload.is_empty() {
                return;
            }
            let w = &mut tap_wire.borrow_mut()[dir];
            if arrived {
                w.arrived += 1;
            } else {
                w.sent += 1;
                if !w.seen.insert(h.seq) {
                    w.resent += 1;
                }
            }
        }));

        let mut dev = SimDevice::default();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = 0x5eed;
        let mut iface = Interface::new(config, &mut dev, Instant::ZERO);
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 2), 24)).unwrap();
        });
        let buffer = || tcp::SocketBuffer::new(vec![0; 65535]);
        let mut socket = tcp::Socket::new(buffer(), buffer());
        match opener {
            Opener::Mailsim => socket.listen(SERVER_PORT).unwrap(),
            Opener::Smoltcp => socket
                .connect(
                    iface.context(),
                    (IpAddress::v4(10, 0, 0, 1), SERVER_PORT),
                    CLIENT_PORT,
                )
                .unwrap(),
        }
        let mut sockets = SocketSet::new(Vec::new());
        let socket = sockets.add(socket);

        let mut sim = Sim {
            sched: Scheduler::new(),
            net,
            our_node,
            their_node,
            ours: None,
            our_gen: 0,
            our_ident: 0,
            our_received: Vec::new(),
            our_events: Vec::new(),
            our_states: Vec::new(),
            dev,
            iface,
            sockets,
            socket,
            their_gen: 0,
            their_sent: 0,
            their_closed: false,
            their_received: Vec::new(),
            their_states: Vec::new(),
            wire,
        };
        if opener == Opener::Mailsim {
            let now = sim.sched.now();
            let mut c =
                TcpConnection::connect(now, TcpConfig::default(), CLIENT_PORT, SERVER_PORT, 1000);
            c.send(&pattern(0xa5));
            c.close();
            sim.ours = Some(c);
            sim.drive_ours();
        }
        sim.drive_theirs();
        sim
    }

    fn run(&mut self) {
        let limit = SimTime::from_secs(600);
        while let Some((_, ev)) = self.sched.step(limit) {
            match ev {
                Ev::Net(e) => {
                    if let Some((node, p)) = self.net.handle(&mut self.sched, e) {
                        self.arrive(node, p);
                    }
                }
                Ev::OurTimer(g) if g == self.our_gen => {
                    let now = self.sched.now();
                    if let Some(c) = self.ours.as_mut() {
                        c.handle_timeout(now);
                    }
                    self.drive_ours();
                }
                Ev::TheirPoll(g) if g == self.their_gen => self.drive_theirs(),
                Ev::OurTimer(_) | Ev::TheirPoll(_) => {}
            }
        }
    }

    /// A packet reached a host: ours as a parsed header, theirs as bytes.
    fn arrive(&mut self, node: NodeId, p: Packet) {
        if node == self.their_node {
            self.dev.rx.push_back(p.emit());
            self.drive_theirs();
            return;
        }
        assert_eq!(node, self.our_node);
        let L4::Tcp(hdr) = p.l4 else {
            panic!("smoltcp sent something other than TCP")
        };
        let now = self.sched.now();
        let syn = hdr.flags.contains(mailsim::net::TcpFlags::SYN);
        match self.ours.as_mut() {
            Some(c) if c.state() != TcpState::Closed => c.handle_segment(now, &hdr, p.payload),
            None if syn => {
                // A listener on the server port (RFC 9293 3.10.7.2).
                assert_eq!(hdr.dst_port, SERVER_PORT);
                let mut c = TcpConnection::accept(now, TcpConfig::default(), &hdr, 5000);
                c.send(&pattern(0xa5));
                c.close();
                self.ours = Some(c);
            }
            _ => {
                // No connection: answer with a reset (RFC 9293 3.10.7.1).
                if let Some(rst) = reset_for(&hdr, p.payload.len()) {
                    self.send_ours(rst, Bytes::new());
                }
            }
        }
        self.drive_ours();
    }

    fn send_ours(&mut self, hdr: mailsim::net::TcpHeader, payload: Bytes) {
        let mut p = Packet::tcp(OURS, THEIRS, hdr, payload);
        self.our_ident = self.our_ident.wrapping_add(1);
        p.ident = self.our_ident;
        self.net.send(&mut self.sched, self.our_node, p);
    }

    /// mailsim's calling order: transmit, events, timer.
    fn drive_ours(&mut self) {
        let now = self.sched.now();
        let Some(mut c) = self.ours.take() else {
            return;
        };
        while let Some((hdr, payload)) = c.poll_transmit(now) {
            self.send_ours(hdr, payload);
        }
        while let Some(ev) = c.poll_event() {
            if let TcpEvent::Data(d) = &ev {
                self.our_received.extend_from_slice(d);
            }
            self.our_events.push(ev);
        }
        if self.our_states.last() != Some(&c.state()) {
            self.our_states.push(c.state());
        }
        if let Some(t) = c.poll_timeout() {
            self.our_gen += 1;
            self.sched.schedule(t.max(now), Ev::OurTimer(self.our_gen));
        }
        self.ours = Some(c);
    }

    /// smoltcp's: poll, let the application read and write, poll again,
    /// put what it sent on the network, and come back at its poll delay.
    fn drive_theirs(&mut self) {
        let now = instant(self.sched.now());
        let theirs = pattern(0x5a);
        for _ in 0..2 {
            self.iface.poll(now, &mut self.dev, &mut self.sockets);
            let s = self.sockets.get_mut::<tcp::Socket>(self.socket);
            while s.can_recv() {
                s.recv(|buf| (buf.len(), self.their_received.extend_from_slice(buf)))
                    .unwrap();
            }
            if s.may_send() && self.their_sent < SIZE {
                self.their_sent += s.send_slice(&theirs[self.their_sent..]).unwrap();
            }
            if self.their_sent == SIZE && !self.their_closed {
                s.close();
                self.their_closed = true;
            }
            if self.their_states.last() != Some(&s.state()) {
                self.their_states.push(s.state());
            }
        }
        while let Some(bytes) = self.dev.tx.pop_front() {
            let p = Packet::parse(&bytes).expect("smoltcp's packets parse");
            self.net.send(&mut self.sched, self.their_node, p);
        }
        if let Some(d) = self.iface.poll_delay(now, &self.sockets) {
            let wait = SimTime::from_micros(d.total_micros().max(1));
            self.their_gen += 1;
            self.sched.schedule_in(wait, Ev::TheirPoll(self.their_gen));
        }
    }

    fn their_state(&self) -> tcp::State {
        self.sockets.get::<tcp::Socket>(self.socket).state()
    }
}

/// The checks both directions share.
fn exchange_and_close(opener: Opener) -> Sim {
    let mut sim = Sim::new(opener);
    sim.run();

    assert!(
        sim.their_received == pattern(0xa5),
        "smoltcp got {} of {SIZE} bytes, or wrong ones",
        sim.their_received.len()
    );
    assert!(
        sim.our_received == pattern(0x5a),
        "mailsim got {} of {SIZE} bytes, or wrong ones",
        sim.our_received.len()
    );

    // Orderly close on both sides (RFC 9293 section 3.6).
    let ours = sim.ours.as_ref().expect("a connection");
    assert_eq!(ours.state(), TcpState::Closed, "{:?}", sim.our_states);
    assert!(sim.our_events.contains(&TcpEvent::Connected));
    assert!(sim.our_events.contains(&TcpEvent::PeerClosed));
    assert!(sim.our_events.contains(&TcpEvent::Closed));
    assert!(!sim.our_events.contains(&TcpEvent::Reset));
    assert!(!sim.our_events.contains(&TcpEvent::TimedOut));
    assert_eq!(sim.their_state(), tcp::State::Closed);
    let our_wait = sim.our_states.contains(&TcpState::TimeWait);
    let their_wait = sim.their_states.contains(&tcp::State::TimeWait);
    assert!(our_wait || sim.our_states.contains(&TcpState::LastAck));
    assert!(their_wait || sim.their_states.contains(&tcp::State::LastAck));
    assert!(our_wait || their_wait, "someone closed actively");

    // The link did lose packets, and our TCP repaired the losses.
    // Both directions lost data segments on the line, and every lost one
    // was sent again by its stack (RFC 9293 3.8.1: only retransmission
    // repairs a loss).
    let wire = sim.wire.borrow();
    for (who, w) in [("mailsim", &wire[0]), ("smoltcp", &wire[1])] {
        let lost = w.sent - w.arrived;
        assert!(lost > 0, "no {who} data segment was lost: raise LOSS");
        assert!(w.resent >= lost, "{who}: {lost} lost, {} resent", w.resent);
    }
    assert!(ours.stats().retransmissions >= wire[0].sent - wire[0].arrived);
    let line = sim.net.drops().get(&DropReason::Loss).copied().unwrap_or(0);
    assert!(line >= wire[0].sent - wire[0].arrived + wire[1].sent - wire[1].arrived);
    drop(wire);
    sim
}

#[test]
fn a_mailsim_client_exchanges_100_kb_with_a_smoltcp_server_over_a_lossy_link() {
    let sim = exchange_and_close(Opener::Mailsim);
    assert!(sim.our_states.contains(&TcpState::SynSent));
    assert!(sim.their_states.contains(&tcp::State::Listen));
}

#[test]
fn a_smoltcp_client_exchanges_100_kb_with_a_mailsim_server_over_a_lossy_link() {
    let sim = exchange_and_close(Opener::Smoltcp);
    assert!(sim.our_states.contains(&TcpState::SynReceived));
    assert!(sim.their_states.contains(&tcp::State::SynSent));
}
