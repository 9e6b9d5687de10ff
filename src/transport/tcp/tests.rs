//! Two connections wired back to back through a tiny simulated link.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::*;
use crate::net::packet::{TcpFlags, TcpHeader};
use crate::sim::SimTime;

const CLIENT: usize = 0;
const SERVER: usize = 1;
const CLIENT_PORT: u16 = 40_000;
const SERVER_PORT: u16 = 25;
const SERVER_ISS: u32 = 7_000_000;

/// Decides whether a segment is lost: (sender side, index of the segment
/// among that side's segments, header, payload).
type DropRule = Box<dyn FnMut(usize, usize, &TcpHeader, &Bytes) -> bool>;

/// A segment one side emitted, as the harness logs it.
#[derive(Clone, Debug)]
struct Sent {
    at: SimTime,
    hdr: TcpHeader,
    len: usize,
    dropped: bool,
}

/// A client, a server that listens (or not) on one port, and a duplex link
/// with a propagation delay and a serialisation rate.
struct Net {
    now: SimTime,
    ends: [Option<TcpConnection>; 2],
    server_cfg: Option<TcpConfig>,
    delay: SimTime,
    ns_per_byte: u64,
    busy_until: [SimTime; 2],
    wire: BTreeMap<(SimTime, u64), (usize, TcpHeader, Bytes)>,
    serial: u64,
    drop: DropRule,
    sent: [Vec<Sent>; 2],
    events: [Vec<(SimTime, TcpEvent)>; 2],
    received: [Vec<u8>; 2],
    /// Largest bytes in flight seen at each side.
    max_flight: [u32; 2],
}

impl Net {
    /// A client connecting with `cfg` and `iss` to a server listening
    /// with `server_cfg`, over a 10 ms, 10 Mbit/s link.
    fn new(cfg: TcpConfig, iss: u32, server_cfg: Option<TcpConfig>) -> Self {
        let client = TcpConnection::connect(SimTime::ZERO, cfg, CLIENT_PORT, SERVER_PORT, iss);
        Net {
            now: SimTime::ZERO,
            ends: [Some(client), None],
            server_cfg,
            delay: SimTime::from_millis(10),
            ns_per_byte: 800,
            busy_until: [SimTime::ZERO; 2],
            wire: BTreeMap::new(),
            serial: 0,
            drop: Box::new(|_, _, _, _| false),
            sent: [Vec::new(), Vec::new()],
            events: [Vec::new(), Vec::new()],
            received: [Vec::new(), Vec::new()],
            max_flight: [0; 2],
        }
    }

    fn default_pair() -> Self {
        Net::new(TcpConfig::default(), 1000, Some(TcpConfig::default()))
    }

    fn conn(&mut self, side: usize) -> &mut TcpConnection {
        self.ends[side]
            .as_mut()
            .expect("that side has a connection")
    }

    fn peek(&self, side: usize) -> &TcpConnection {
        self.ends[side]
            .as_ref()
            .expect("that side has a connection")
    }

    /// Runs until nothing is pending or `limit` is passed.
    fn run_until(&mut self, limit: SimTime) {
        loop {
            self.flush();
            let wire_next = self.wire.keys().next().map(|k| k.0);
            let timers = self
                .ends
                .iter()
                .flatten()
                .filter_map(TcpConnection::poll_timeout);
            let Some(next) = wire_next.into_iter().chain(timers).min() else {
                return;
            };
            if next > limit {
                self.now = limit;
                return;
            }
            self.now = self.now.max(next);
            let now = self.now;
            while let Some(entry) = self.wire.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let (to, hdr, payload) = entry.remove();
                self.arrive(to, &hdr, payload);
                self.flush();
            }
            for side in [CLIENT, SERVER] {
                if let Some(c) = self.ends[side].as_mut()
                    && c.poll_timeout().is_some_and(|t| t <= now)
                {
                    c.handle_timeout(now);
                }
            }
        }
    }

    fn run(&mut self) {
        self.run_until(SimTime::from_secs(3600));
    }

    /// A segment reaches `to`: its connection, a new one if the server
    /// listens and this is a SYN, or a RST reply (RFC 9293 3.10.7.1).
    fn arrive(&mut self, to: usize, hdr: &TcpHeader, payload: Bytes) {
        let now = self.now;
        let live = self.ends[to]
            .as_ref()
            .is_some_and(|c| c.state() != TcpState::Closed);
        if live {
            self.conn(to).handle_segment(now, hdr, payload);
            return;
        }
        let is_syn = hdr.flags.contains(TcpFlags::SYN) && !hdr.flags.contains(TcpFlags::ACK);
        if to == SERVER
            && is_syn
            && let Some(cfg) = self.server_cfg
        {
            self.ends[SERVER] = Some(TcpConnection::accept(now, cfg, hdr, SERVER_ISS));
        } else if let Some(rst) = reset_for(hdr, payload.len()) {
            self.put(to, rst, Bytes::new());
        }
    }

    /// Drains both sides' segments onto the wire and their events.
    fn flush(&mut self) {
        for side in [CLIENT, SERVER] {
            while let Some((hdr, payload)) = self.ends[side]
                .as_mut()
                .and_then(|c| c.poll_transmit(self.now))
            {
                let flight = self.peek(side).bytes_in_flight();
                self.max_flight[side] = self.max_flight[side].max(flight);
                self.put(side, hdr, payload);
            }
            while let Some(ev) = self.ends[side].as_mut().and_then(TcpConnection::poll_event) {
                if let TcpEvent::Data(d) = &ev {
                    self.received[side].extend_from_slice(d);
                }
                self.events[side].push((self.now, ev));
            }
        }
    }

    /// Sends from `from` over the link, unless the drop rule loses it.
    fn put(&mut self, from: usize, hdr: TcpHeader, payload: Bytes) {
        let index = self.sent[from].len();
        let dropped = (self.drop)(from, index, &hdr, &payload);
        self.sent[from].push(Sent {
            at: self.now,
            hdr,
            len: payload.len(),
            dropped,
        });
        if dropped {
            return;
        }
        let wire_len = 40 + payload.len() as u64 + if hdr.mss.is_some() { 4 } else { 0 };
        let start = self.now.max(self.busy_until[from]);
        let done = start + SimTime::from_nanos(wire_len * self.ns_per_byte);
        self.busy_until[from] = done;
        self.serial += 1;
        self.wire
            .insert((done + self.delay, self.serial), (1 - from, hdr, payload));
    }

    fn event_kinds(&self, side: usize) -> Vec<TcpEvent> {
        self.events[side]
            .iter()
            .map(|(_, e)| e.clone())
            .filter(|e| !matches!(e, TcpEvent::Data(_)))
            .collect()
    }

    /// Times at which `side` sent a segment starting at `seq` carrying
    /// sequence space.
    fn send_times_of(&self, side: usize, seq: u32) -> Vec<SimTime> {
        self.sent[side]
            .iter()
            .filter(|s| s.hdr.seq == seq && (s.len > 0 || s.hdr.flags.contains(TcpFlags::SYN)))
            .map(|s| s.at)
            .collect()
    }
}

/// Deterministic test data: no period shorter than the transfer.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn secs(s: u64) -> SimTime {
    SimTime::from_secs(s)
}

#[test]
fn handshake_exchanges_syn_syn_ack_ack_with_mss_options() {
    let mut net = Net::default_pair();
    net.run();

    let syn = net.sent[CLIENT][0].hdr;
    assert_eq!((syn.src_port, syn.dst_port), (CLIENT_PORT, SERVER_PORT));
    assert_eq!(
        (syn.seq, syn.flags, syn.mss, syn.window),
        (1000, TcpFlags::SYN, Some(1460), 65535)
    );

    let syn_ack = net.sent[SERVER][0].hdr;
    assert_eq!(syn_ack.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(
        (syn_ack.seq, syn_ack.ack, syn_ack.mss),
        (SERVER_ISS, 1001, Some(1460))
    );

    let ack = net.sent[CLIENT][1].hdr;
    assert_eq!(
        (ack.flags, ack.seq, ack.ack, ack.mss),
        (TcpFlags::ACK, 1001, SERVER_ISS + 1, None)
    );
    assert_eq!(net.sent[CLIENT].len(), 2);
    assert_eq!(net.sent[SERVER].len(), 1);

    assert_eq!(net.event_kinds(CLIENT), vec![TcpEvent::Connected]);
    assert_eq!(net.event_kinds(SERVER), vec![TcpEvent::Connected]);
    assert_eq!(net.peek(CLIENT).state(), TcpState::Established);
    assert_eq!(net.peek(SERVER).state(), TcpState::Established);
    // The client's first RTT sample is the SYN's round trip.
    let rtt = net.events[CLIENT][0].0;
    assert_eq!(net.peek(CLIENT).stats().srtt, Some(rtt));
    assert_eq!(
        net.peek(CLIENT).stats().rto,
        secs(1),
        "RFC 6298 2.4 minimum"
    );
}

#[test]
fn a_200_kb_transfer_arrives_byte_identical_and_in_order() {
    let cfg = TcpConfig {
        delayed_ack: false,
        ..TcpConfig::default()
    };
    let mut net = Net::new(cfg, 1000, Some(cfg));
    let data = pattern(200_000);
    net.conn(CLIENT).send(&data);
    net.run();
    assert_eq!(net.received[SERVER], data);
    let stats = net.peek(CLIENT).stats();
    assert_eq!(stats.retransmissions, 0);
    assert_eq!(stats.bytes_sent, 200_000);
    assert_eq!(net.peek(SERVER).stats().bytes_received, 200_000);
    assert!(stats.cwnd > 3 * 1460, "slow start opened the window");
    // Every data segment got its own ACK (delayed ACKs are off).
    let data_segments = net.sent[CLIENT].iter().filter(|s| s.len > 0).count();
    let pure_acks = net.sent[SERVER]
        .iter()
        .filter(|s| s.hdr.flags == TcpFlags::ACK)
        .count();
    assert_eq!(data_segments, 200_000usize.div_ceil(1460));
    assert_eq!(pure_acks, data_segments);
}

/// RFC 1122 4.2.3.2 and RFC 5681 4.2: with delayed ACKs, in-order bulk
/// data is acknowledged on every second segment.
#[test]
fn in_order_bulk_data_is_acknowledged_on_every_second_segment() {
    let mut net = Net::default_pair();
    let data = pattern(200_000);
    net.conn(CLIENT).send(&data);
    net.run();
    assert_eq!(net.received[SERVER], data);
    let data_segments = net.sent[CLIENT].iter().filter(|s| s.len > 0).count();
    let pure_acks = net.sent[SERVER]
        .iter()
        .filter(|s| s.hdr.flags == TcpFlags::ACK)
        .count();
    assert_eq!(data_segments, 200_000usize.div_ceil(1460));
    // Half, plus a few lone segments whose ACK delay ran out (the last
    // one of an odd count at least).
    let half = data_segments / 2;
    assert!(
        (half..=half + 3).contains(&pure_acks),
        "{pure_acks} ACKs for {data_segments} segments"
    );
    assert_eq!(net.peek(CLIENT).stats().retransmissions, 0);
}

/// A header from the client to the server of the default pair, carrying
/// data at `off` bytes into the stream.
fn client_data_at(off: u32, flags: TcpFlags) -> TcpHeader {
    TcpHeader {
        src_port: CLIENT_PORT,
        dst_port: SERVER_PORT,
        seq: 1001 + off,
        ack: SERVER_ISS + 1,
        flags: TcpFlags::ACK | flags,
        window: 65535,
        mss: None,
    }
}

#[test]
fn a_lone_segment_is_acknowledged_when_the_ack_delay_runs_out() {
    let mut net = Net::default_pair();
    net.run();
    let now = net.now;
    let server = net.conn(SERVER);
    let psh = client_data_at(0, TcpFlags::PSH);
    server.handle_segment(now, &psh, Bytes::from_static(b"hello"));
    assert_eq!(server.poll_transmit(now), None, "PSH does not hurry it");

    let due = now + TcpConfig::default().ack_delay;
    assert_eq!(server.poll_timeout(), Some(due));
    server.handle_timeout(due - SimTime::from_nanos(1));
    assert_eq!(server.poll_transmit(now), None, "not before the delay");
    server.handle_timeout(due);
    let (ack, payload) = server.poll_transmit(due).expect("the delayed ACK");
    assert_eq!(
        (ack.flags, ack.ack, payload.len()),
        (TcpFlags::ACK, 1006, 0)
    );
    assert_eq!(server.poll_timeout(), None);
    assert_eq!(server.stats().delayed_ack_timeouts, 1);
}

#[test]
fn the_second_segment_and_a_fin_are_acknowledged_at_once() {
    let mut net = Net::default_pair();
    net.run();
    let now = net.now;
    let server = net.conn(SERVER);
    server.handle_segment(
        now,
        &client_data_at(0, TcpFlags(0)),
        Bytes::from_static(b"ab"),
    );
    assert_eq!(server.poll_transmit(now), None);
    server.handle_segment(
        now,
        &client_data_at(2, TcpFlags(0)),
        Bytes::from_static(b"cd"),
    );
    let (ack, _) = server.poll_transmit(now).expect("ACK on the second");
    assert_eq!(ack.ack, 1005);
    assert_eq!(server.poll_timeout(), None, "the delay timer is stopped");

    server.handle_segment(now, &client_data_at(4, TcpFlags::FIN), Bytes::new());
    let (ack, _) = server.poll_transmit(now).expect("ACK of the FIN");
    assert_eq!(ack.ack, 1006);
}

#[test]
fn a_reply_carries_the_delayed_ack_and_cancels_its_timer() {
    let mut net = Net::default_pair();
    net.run();
    let now = net.now;
    let server = net.conn(SERVER);
    server.handle_segment(
        now,
        &client_data_at(0, TcpFlags::PSH),
        Bytes::from_static(b"EHLO"),
    );
    server.send(b"250 ok");
    let (reply, payload) = server.poll_transmit(now).expect("the reply");
    assert_eq!((reply.ack, &payload[..]), (1005, &b"250 ok"[..]));
    assert_eq!(server.poll_transmit(now), None, "no separate ACK");
    // Only the retransmission timer of the reply remains.
    assert_eq!(server.poll_timeout(), Some(now + server.stats().rto));
}

#[test]
fn data_flows_both_ways_like_a_dialogue() {
    let mut net = Net::default_pair();
    net.run();
    net.conn(CLIENT).send(b"EHLO a.example\r\n");
    net.run();
    net.conn(SERVER).send(b"250 b.example\r\n");
    net.run();
    assert_eq!(net.received[SERVER], b"EHLO a.example\r\n");
    assert_eq!(net.received[CLIENT], b"250 b.example\r\n");
    let data_seg = net.sent[CLIENT]
        .iter()
        .find(|s| s.len > 0)
        .expect("a data segment");
    assert_eq!(data_seg.hdr.flags, TcpFlags::ACK | TcpFlags::PSH);
}

#[test]
fn segments_never_exceed_the_smaller_mss() {
    let small = TcpConfig {
        mss: 536,
        ..TcpConfig::default()
    };
    let mut net = Net::new(TcpConfig::default(), 1000, Some(small));
    let data = pattern(50_000);
    net.conn(CLIENT).send(&data);
    net.run();
    net.conn(SERVER).send(&data);
    net.run();
    assert_eq!(net.received[SERVER], data);
    assert_eq!(net.received[CLIENT], data);
    assert_eq!(net.peek(CLIENT).effective_mss(), 536);
    for side in [CLIENT, SERVER] {
        assert!(net.sent[side].iter().all(|s| s.len <= 536));
        assert!(net.sent[side].iter().any(|s| s.len == 536));
        let options_only_on_syn = net.sent[side]
            .iter()
            .all(|s| s.hdr.mss.is_some() == s.hdr.flags.contains(TcpFlags::SYN));
        assert!(options_only_on_syn);
    }
}

#[test]
fn sender_never_has_more_unacknowledged_bytes_than_the_peer_window() {
    let narrow = TcpConfig {
        recv_window: 5000,
        ..TcpConfig::default()
    };
    let mut net = Net::new(TcpConfig::default(), 1000, Some(narrow));
    let data = pattern(100_000);
    net.conn(CLIENT).send(&data);
    net.run();
    assert_eq!(net.received[SERVER], data);
    assert!(
        net.max_flight[CLIENT] <= 5000,
        "flight {}",
        net.max_flight[CLIENT]
    );
    assert!(net.max_flight[CLIENT] > 5000 - 1460, "the window was used");
}

#[test]
fn five_percent_loss_still_delivers_everything() {
    let mut net = Net::default_pair();
    // Every 20th segment in each direction is lost, SYNs excepted.
    net.drop = Box::new(|_, i, hdr, _| i % 20 == 19 && !hdr.flags.contains(TcpFlags::SYN));
    let up = pattern(200_000);
    let down = pattern(30_000);
    net.conn(CLIENT).send(&up);
    net.run_until(secs(1));
    net.conn(SERVER).send(&down);
    net.run();
    assert_eq!(net.received[SERVER], up);
    assert_eq!(net.received[CLIENT], down);
    let stats = net.peek(CLIENT).stats();
    assert!(stats.retransmissions > 0);
    assert!(net.sent[CLIENT].iter().filter(|s| s.dropped).count() >= 5);
}

#[test]
fn losses_are_repaired_by_the_retransmission_timer_without_fast_retransmit() {
    // A window of two segments never yields three duplicate ACKs, so every
    // loss waits for the RTO and is resent go-back-N.
    let narrow = TcpConfig {
        recv_window: 2920,
        ..TcpConfig::default()
    };
    let mut net = Net::new(TcpConfig::default(), 1000, Some(narrow));
    net.drop = Box::new(|from, i, _, p| from == CLIENT && !p.is_empty() && i % 20 == 19);
    let data = pattern(60_000);
    net.conn(CLIENT).send(&data);
    net.run();
    assert_eq!(net.received[SERVER], data);
    let stats = net.peek(CLIENT).stats();
    assert!(stats.timeouts >= 2);
    assert_eq!(stats.fast_retransmits, 0);
}

#[test]
fn a_single_loss_in_a_wide_window_is_fast_retransmitted() {
    let mut net = Net::default_pair();
    let mut lost = false;
    net.drop = Box::new(move |from, _, hdr, p| {
        let hit = from == CLIENT && !lost && !p.is_empty() && hdr.seq == 1001 + 20 * 1460;
        lost |= hit;
        hit
    });
    let data = pattern(100_000);
    net.conn(CLIENT).send(&data);
    net.run();
    assert_eq!(net.received[SERVER], data);
    let stats = net.peek(CLIENT).stats();
    assert_eq!((stats.fast_retransmits, stats.timeouts), (1, 0));
    // The receiver answered the out-of-order segments with duplicate ACKs.
    let dup_acks = net.sent[SERVER]
        .iter()
        .filter(|s| s.hdr.ack == 1001 + 20 * 1460)
        .count();
    assert!(dup_acks >= 4, "{dup_acks} ACKs for the hole");
}

/// RFC 5681 4.2: out-of-order data and data that fills the hole are
/// acknowledged at once even with delayed ACKs (on by default here).
#[test]
fn out_of_order_segment_gets_an_immediate_duplicate_ack_and_is_held() {
    let mut net = Net::default_pair();
    net.run();
    let now = net.now;
    let server = net.conn(SERVER);
    let at = |off: u32| TcpHeader {
        src_port: CLIENT_PORT,
        dst_port: SERVER_PORT,
        seq: 1001 + off,
        ack: SERVER_ISS + 1,
        flags: TcpFlags::ACK,
        window: 65535,
        mss: None,
    };
    server.handle_segment(now, &at(5), Bytes::from_static(b"world"));
    let (dup, _) = server.poll_transmit(now).expect("a duplicate ACK");
    assert_eq!((dup.flags, dup.ack), (TcpFlags::ACK, 1001));
    assert_eq!(server.poll_event(), None);

    server.handle_segment(now, &at(0), Bytes::from_static(b"hello"));
    let (ack, _) = server.poll_transmit(now).expect("an ACK");
    assert_eq!(ack.ack, 1011);
    assert_eq!(
        server.poll_event(),
        Some(TcpEvent::Data(Bytes::from_static(b"hello")))
    );
    assert_eq!(
        server.poll_event(),
        Some(TcpEvent::Data(Bytes::from_static(b"world")))
    );
}

#[test]
fn transfer_across_the_sequence_number_wrap() {
    let mut net = Net::new(
        TcpConfig::default(),
        u32::MAX - 30_000,
        Some(TcpConfig::default()),
    );
    net.drop = Box::new(|from, i, _, p| from == CLIENT && !p.is_empty() && i % 25 == 7);
    let data = pattern(200_000);
    net.conn(CLIENT).send(&data);
    net.run();
    assert_eq!(net.received[SERVER], data);
}

#[test]
fn lost_syn_is_retried_after_the_initial_rto() {
    let mut net = Net::default_pair();
    net.drop = Box::new(|from, i, _, _| from == CLIENT && i == 0);
    net.run();
    let syns = net.send_times_of(CLIENT, 1000);
    assert_eq!(syns, vec![SimTime::ZERO, secs(1)]);
    assert_eq!(net.event_kinds(CLIENT), vec![TcpEvent::Connected]);
    let stats = net.peek(CLIENT).stats();
    assert_eq!(stats.srtt, None, "Karn: no sample from a retransmitted SYN");
    // RFC 6298 5.7: RTO restarts from 3 s; RFC 5681 3.1: IW is one segment.
    assert_eq!(stats.rto, secs(3));
    assert_eq!(stats.cwnd, 1460);

    net.conn(CLIENT).send(&pattern(10_000));
    net.run();
    assert_eq!(net.received[SERVER].len(), 10_000);
    let data: Vec<_> = net.sent[CLIENT].iter().filter(|s| s.len > 0).collect();
    let rtt = SimTime::from_millis(20);
    assert!(
        data[1].at > data[0].at + rtt,
        "one segment in the first RTT"
    );
}

#[test]
fn syn_retries_exhausted_gives_timed_out_with_capped_back_off() {
    let mut net = Net::new(TcpConfig::default(), 1000, None);
    net.drop = Box::new(|_, _, _, _| true);
    net.run();
    // RTO 1, 2, 4, 8, 16, 32, then 64 capped at max_rto = 60 s.
    let expected: Vec<_> = [0, 1, 3, 7, 15, 31, 63].into_iter().map(secs).collect();
    assert_eq!(net.send_times_of(CLIENT, 1000), expected);
    assert_eq!(net.events[CLIENT], vec![(secs(123), TcpEvent::TimedOut)]);
    let client = net.peek(CLIENT);
    assert!(client.is_closed());
    assert_eq!(client.stats().timeouts, 7);
    assert!(
        net.sent[CLIENT]
            .iter()
            .all(|s| !s.hdr.flags.contains(TcpFlags::RST))
    );
}

#[test]
fn rto_doubles_on_repeated_timeouts_until_data_retries_run_out() {
    let cfg = TcpConfig {
        max_rto: secs(8),
        data_retries: 5,
        ..TcpConfig::default()
    };
    let mut net = Net::new(cfg, 1000, Some(TcpConfig::default()));
    net.run();
    net.drop = Box::new(|from, _, _, _| from == CLIENT);
    let t0 = net.now;
    net.conn(CLIENT).send(b"lost forever");
    net.run();
    let gaps: Vec<_> = net
        .send_times_of(CLIENT, 1001)
        .iter()
        .map(|&t| t - t0)
        .collect();
    let expected: Vec<_> = [0, 1, 3, 7, 15, 23].into_iter().map(secs).collect();
    assert_eq!(gaps, expected);
    assert_eq!(
        net.event_kinds(CLIENT),
        vec![TcpEvent::Connected, TcpEvent::TimedOut]
    );
    assert_eq!(net.events[CLIENT][1].0 - t0, secs(31));
    let last = net.sent[CLIENT].last().expect("segments");
    assert!(
        last.hdr.flags.contains(TcpFlags::RST),
        "a RST after giving up"
    );
    assert!(net.peek(CLIENT).is_closed());
}

#[test]
fn timeout_collapses_cwnd_and_halves_ssthresh() {
    let mut net = Net::default_pair();
    net.run();
    net.drop = Box::new(|from, _, _, _| from == CLIENT);
    net.conn(CLIENT).send(&pattern(20_000));
    net.run_until(net.now + SimTime::from_millis(1500));
    let c = net.peek(CLIENT);
    assert_eq!(c.stats().timeouts, 1);
    assert_eq!(c.stats().cwnd, 1460);
    assert_eq!(
        c.stats().ssthresh,
        2 * 1460,
        "max(FlightSize / 2, 2 SMSS) with 3 segments out"
    );
}

#[test]
fn orderly_close_by_the_client_ends_both_sides_closed() {
    let mut net = Net::default_pair();
    net.conn(CLIENT).send(b"QUIT\r\n");
    net.conn(CLIENT).close();
    net.run_until(secs(1));
    assert_eq!(
        net.event_kinds(SERVER),
        vec![TcpEvent::Connected, TcpEvent::PeerClosed]
    );
    assert_eq!(net.peek(CLIENT).state(), TcpState::FinWait2);
    assert_eq!(net.peek(SERVER).state(), TcpState::CloseWait);

    net.conn(SERVER).send(b"221 bye\r\n");
    net.conn(SERVER).close();
    net.run_until(secs(2));
    assert_eq!(net.peek(CLIENT).state(), TcpState::TimeWait);
    assert!(net.peek(SERVER).is_closed());

    net.run();
    let closed_at = net.events[CLIENT]
        .iter()
        .find(|(_, e)| *e == TcpEvent::Closed)
        .map(|e| e.0);
    let peer_closed = vec![TcpEvent::Connected, TcpEvent::PeerClosed, TcpEvent::Closed];
    assert_eq!(net.event_kinds(CLIENT), peer_closed);
    assert_eq!(net.event_kinds(SERVER), peer_closed);
    assert!(net.peek(CLIENT).is_closed());
    assert_eq!(
        net.now,
        closed_at.expect("Closed") + secs(2),
        "2 MSL of TIME-WAIT"
    );
    assert_eq!(net.received[CLIENT], b"221 bye\r\n");
    assert_eq!(net.received[SERVER], b"QUIT\r\n");
}

#[test]
fn passive_close_goes_through_close_wait_and_last_ack() {
    let mut net = Net::default_pair();
    net.run();
    net.conn(SERVER).close();
    net.run_until(net.now + SimTime::from_millis(100));
    assert_eq!(net.peek(CLIENT).state(), TcpState::CloseWait);
    net.conn(CLIENT).close();
    assert_eq!(net.peek(CLIENT).state(), TcpState::LastAck);
    net.run();
    assert!(net.peek(CLIENT).is_closed());
    assert!(net.peek(SERVER).is_closed());
    assert_eq!(net.event_kinds(CLIENT).last(), Some(&TcpEvent::Closed));
    assert_eq!(net.event_kinds(SERVER).last(), Some(&TcpEvent::Closed));
}

#[test]
fn simultaneous_close_passes_through_closing_on_both_sides() {
    let mut net = Net::default_pair();
    net.run();
    net.conn(CLIENT).close();
    net.conn(SERVER).close();
    net.flush();
    net.run_until(net.now + SimTime::from_millis(15));
    assert_eq!(net.peek(CLIENT).state(), TcpState::Closing);
    assert_eq!(net.peek(SERVER).state(), TcpState::Closing);
    net.run();
    for side in [CLIENT, SERVER] {
        assert!(net.peek(side).is_closed());
        let kinds = vec![TcpEvent::Connected, TcpEvent::PeerClosed, TcpEvent::Closed];
        assert_eq!(net.event_kinds(side), kinds);
    }
}

#[test]
fn lost_fin_is_retransmitted() {
    let mut net = Net::default_pair();
    net.run();
    net.drop = Box::new(|from, _, hdr, _| {
        static ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        from == CLIENT
            && hdr.flags.contains(TcpFlags::FIN)
            && !ONCE.swap(true, std::sync::atomic::Ordering::Relaxed)
    });
    net.conn(CLIENT).close();
    net.run_until(net.now + SimTime::from_millis(500));
    assert_eq!(net.peek(CLIENT).state(), TcpState::FinWait1);
    net.run_until(net.now + secs(1));
    assert_eq!(net.peek(CLIENT).state(), TcpState::FinWait2);
    assert_eq!(net.peek(CLIENT).stats().retransmissions, 1);
}

#[test]
fn connect_to_a_closed_port_is_reset() {
    let mut net = Net::new(TcpConfig::default(), 1000, None);
    net.run();
    let rst = net.sent[SERVER][0].hdr;
    assert_eq!(
        (rst.flags, rst.seq, rst.ack),
        (TcpFlags::RST | TcpFlags::ACK, 0, 1001)
    );
    assert_eq!(
        net.events[CLIENT],
        vec![(
            SimTime::from_millis(20) + SimTime((44 + 40) * 800),
            TcpEvent::Reset
        )]
    );
    assert!(net.peek(CLIENT).is_closed());
}

#[test]
fn abort_sends_a_reset_the_peer_reports() {
    let mut net = Net::default_pair();
    net.run();
    net.conn(CLIENT).abort();
    assert_eq!(net.peek(CLIENT).state(), TcpState::Closed);
    net.run();
    let rst = net.sent[CLIENT].last().expect("the RST").hdr;
    assert_eq!((rst.flags, rst.seq), (TcpFlags::RST, 1001));
    assert_eq!(
        net.event_kinds(SERVER),
        vec![TcpEvent::Connected, TcpEvent::Reset]
    );
    assert_eq!(net.event_kinds(CLIENT), vec![TcpEvent::Connected]);
    assert!(net.peek(CLIENT).is_closed() && net.peek(SERVER).is_closed());
}

#[test]
fn reset_not_at_rcv_nxt_gets_a_challenge_ack_instead() {
    let mut net = Net::default_pair();
    net.run();
    let now = net.now;
    let server = net.conn(SERVER);
    let rst = TcpHeader {
        src_port: CLIENT_PORT,
        dst_port: SERVER_PORT,
        seq: 1001 + 100,
        ack: 0,
        flags: TcpFlags::RST,
        window: 0,
        mss: None,
    };
    server.handle_segment(now, &rst, Bytes::new());
    assert_eq!(server.state(), TcpState::Established);
    let (ack, _) = server.poll_transmit(now).expect("a challenge ACK");
    assert_eq!((ack.flags, ack.ack), (TcpFlags::ACK, 1001));
}

#[test]
fn reset_for_follows_rfc_9293_section_3_10_7_1() {
    let syn = TcpHeader {
        src_port: 1234,
        dst_port: 80,
        seq: 100,
        ack: 0,
        flags: TcpFlags::SYN,
        window: 65535,
        mss: Some(1460),
    };
    // No ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; the SYN counts.
    let r = reset_for(&syn, 0).expect("a reply");
    assert_eq!((r.src_port, r.dst_port), (80, 1234));
    assert_eq!(
        (r.seq, r.ack, r.flags, r.mss),
        (0, 101, TcpFlags::RST | TcpFlags::ACK, None)
    );

    // No ACK, text and FIN: both count in SEG.LEN.
    let fin = TcpHeader {
        seq: u32::MAX,
        flags: TcpFlags::FIN,
        mss: None,
        ..syn
    };
    assert_eq!(reset_for(&fin, 3).expect("a reply").ack, 3);

    // ACK set: <SEQ=SEG.ACK><CTL=RST>.
    let data = TcpHeader {
        seq: 500,
        ack: 9000,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        ..fin
    };
    let r = reset_for(&data, 10).expect("a reply");
    assert_eq!((r.seq, r.ack, r.flags), (9000, 0, TcpFlags::RST));

    // Never a RST for a RST.
    let rst = TcpHeader {
        flags: TcpFlags::RST | TcpFlags::ACK,
        ..data
    };
    assert_eq!(reset_for(&rst, 0), None);
}

#[test]
fn unacceptable_ack_in_syn_sent_is_answered_with_a_reset() {
    let mut c = TcpConnection::connect(SimTime::ZERO, TcpConfig::default(), 5000, 25, 1000);
    let (syn, _) = c.poll_transmit(SimTime::ZERO).expect("the SYN");
    let stale = TcpHeader {
        src_port: 25,
        dst_port: 5000,
        seq: 77,
        ack: 555,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 1000,
        mss: None,
    };
    c.handle_segment(SimTime::from_millis(5), &stale, Bytes::new());
    let (rst, _) = c.poll_transmit(SimTime::from_millis(5)).expect("a RST");
    assert_eq!((rst.flags, rst.seq), (TcpFlags::RST, 555));
    assert_eq!(c.state(), TcpState::SynSent);
    assert_eq!(syn.flags, TcpFlags::SYN);
    // A RST without ACK is dropped in SYN-SENT.
    let blind = TcpHeader {
        flags: TcpFlags::RST,
        ..stale
    };
    c.handle_segment(SimTime::from_millis(6), &blind, Bytes::new());
    assert_eq!(c.state(), TcpState::SynSent);
}

#[test]
fn lost_syn_ack_is_resent_when_the_syn_repeats() {
    // The server's own timer (3 s) is slower than the client's (1 s).
    let slow = TcpConfig {
        initial_rto: secs(3),
        ..TcpConfig::default()
    };
    let mut net = Net::new(TcpConfig::default(), 1000, Some(slow));
    net.drop = Box::new(|from, i, _, _| from == SERVER && i == 0);
    net.run();
    assert_eq!(net.send_times_of(CLIENT, 1000).len(), 2);
    let syn_acks = net.send_times_of(SERVER, SERVER_ISS);
    assert_eq!(syn_acks.len(), 2);
    assert!(
        syn_acks[1] < secs(1) + SimTime::from_millis(50),
        "answered the repeated SYN"
    );
    assert_eq!(net.peek(SERVER).state(), TcpState::Established);
}

#[test]
fn spurious_timeout_calls_are_harmless() {
    let mut net = Net::default_pair();
    net.conn(CLIENT).send(b"abc");
    net.run();
    let before = net.peek(CLIENT).stats();
    let now = net.now;
    net.conn(CLIENT).handle_timeout(now);
    net.conn(CLIENT).handle_timeout(SimTime::ZERO);
    assert_eq!(net.conn(CLIENT).poll_transmit(now), None);
    assert_eq!(net.peek(CLIENT).stats(), before);
    assert_eq!(net.peek(CLIENT).poll_timeout(), None);
}

#[test]
fn garbage_segments_never_panic() {
    let mut c = TcpConnection::accept(
        SimTime::ZERO,
        TcpConfig::default(),
        &TcpHeader {
            src_port: 1,
            dst_port: 2,
            seq: 5,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 0,
            mss: Some(0),
        },
        9,
    );
    let mut x: u32 = 12345;
    for i in 0..5000u64 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let hdr = TcpHeader {
            src_port: 1,
            dst_port: 2,
            seq: if x.is_multiple_of(3) { 6 } else { x },
            ack: if x.is_multiple_of(5) {
                10
            } else {
                x.rotate_left(7)
            },
            flags: TcpFlags((x >> 3) as u8 & 0x1f),
            window: x as u16,
            mss: None,
        };
        let payload = Bytes::from(vec![0u8; (x % 40) as usize]);
        let now = SimTime::from_millis(i);
        c.handle_segment(now, &hdr, payload);
        c.send(b"x");
        while c.poll_transmit(now).is_some() {}
        while c.poll_event().is_some() {}
        c.handle_timeout(now);
    }
}
