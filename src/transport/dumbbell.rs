//! A dumbbell of bulk TCP flows over the network fabric, to test TCP
//! congestion control against throughput theory (and to benchmark it).
//!
//! ```text
//!  s0 --\                                   /-- d0
//!  s1 ---- r1 ==== bottleneck ==== r2 ------- d1
//!  ...  /                                   \-- ...
//! ```
//!
//! N senders and N receivers on fast access links, two routers joined by a
//! slow bottleneck with a drop-tail buffer and an optional random loss
//! probability on its data direction (r1 to r2). Flow i is one long bulk
//! transfer from `s{i}` to `d{i}`: the sender's queue is kept full, the
//! receiver consumes at once. [`TcpConnection`] endpoints are driven
//! directly over [`Network`]; no mail services take part.
//!
//! Measurements start after a warm-up (so that slow start and the first
//! losses are left out) and cover the rest of the run.
//!
//! Deliberate simplifications:
//! - Random loss applies to the data direction only: the throughput laws
//!   take p as the loss rate of data segments, and ACKs are cumulative.
//! - The access links have no propagation delay by default, so that the
//!   base RTT is twice the bottleneck's delay plus serialisation.

use std::net::Ipv4Addr;

use crate::net::{
    ChannelId, L4, LinkParams, NetEvent, Network, NodeId, NodeKind, Packet, QueueConfig, Routing,
};
use crate::sim::{Scheduler, SimTime, Streams, uniform};
use crate::transport::tcp::{TcpConfig, TcpConnection, TcpEvent, TcpStats};

/// The receivers' listening port.
const PORT: u16 = 5001;
/// Bytes handed to a sender at a time, keeping its queue full.
const CHUNK: [u8; 16 * 1024] = [0; 16 * 1024];
/// A sender is topped up whenever less than this is queued.
const LOW_WATER: usize = 128 * 1024;

/// The shape of the dumbbell and the length of the run.
#[derive(Clone, Debug)]
pub struct DumbbellConfig {
    /// Number of flows N (N senders, N receivers).
    pub flows: usize,
    /// Line rate of every access link, bits per second.
    pub access_bps: u64,
    /// One-way delay of every access link.
    pub access_delay: SimTime,
    /// Line rate of the bottleneck, bits per second.
    pub bottleneck_bps: u64,
    /// One-way delay of the bottleneck.
    pub bottleneck_delay: SimTime,
    /// Random loss probability of the bottleneck's data direction.
    pub loss: f64,
    /// Drop-tail buffer of the bottleneck, in packets.
    pub buffer_packets: usize,
    /// TCP parameters of every endpoint.
    pub tcp: TcpConfig,
    /// Flows start at random times in `[0, start_spread)`.
    pub start_spread: SimTime,
    /// Time before measurement starts.
    pub warmup: SimTime,
    /// Total simulated time.
    pub duration: SimTime,
    /// Master seed for loss, start times and initial sequence numbers.
    pub seed: u64,
}

impl Default for DumbbellConfig {
    /// One flow; 100 Mbit/s access links without delay; a 10 Mbit/s, 20 ms
    /// bottleneck without random loss and with a 100-packet buffer; default
    /// TCP; starts spread over 1 s; 10 s warm-up out of 100 s.
    fn default() -> Self {
        DumbbellConfig {
            flows: 1,
            access_bps: 100_000_000,
            access_delay: SimTime::ZERO,
            bottleneck_bps: 10_000_000,
            bottleneck_delay: SimTime::from_millis(20),
            loss: 0.0,
            buffer_packets: 100,
            tcp: TcpConfig::default(),
            start_spread: SimTime::from_secs(1),
            warmup: SimTime::from_secs(10),
            duration: SimTime::from_secs(100),
            seed: 1,
        }
    }
}

/// What one flow achieved during the measurement.
#[derive(Clone, Debug, Default)]
pub struct FlowResult {
    /// Payload bytes delivered in order to the receiver.
    pub bytes_delivered: u64,
    /// `bytes_delivered` per second of measurement, in bits per second.
    pub goodput_bps: f64,
    /// The mean of the sender's RTT samples (RFC 6298 section 3), seconds.
    pub mean_rtt: Option<f64>,
    /// Counter increments of the sender.
    pub sender: TcpStats,
    /// Counter increments of the receiver.
    pub receiver: TcpStats,
}

/// What the whole dumbbell achieved during the measurement.
#[derive(Clone, Debug, Default)]
pub struct DumbbellResult {
    /// One entry per flow.
    pub flows: Vec<FlowResult>,
    /// Length of the measurement, seconds.
    pub measured_secs: f64,
    /// Share of the measurement the bottleneck's data direction was busy.
    pub utilisation: f64,
    /// Packets that crossed the bottleneck's data direction.
    pub bottleneck_packets: u64,
    /// Of those, lost to the random loss probability.
    pub random_losses: u64,
    /// Packets dropped because the bottleneck's buffer was full.
    pub buffer_drops: u64,
}

impl DumbbellResult {
    /// The sum of the flows' goodputs, bits per second.
    pub fn total_goodput_bps(&self) -> f64 {
        self.flows.iter().map(|f| f.goodput_bps).sum()
    }

    /// The mean RTT over all samples of all flows, seconds.
    pub fn mean_rtt(&self) -> Option<f64> {
        let n: u64 = self.flows.iter().map(|f| f.sender.rtt_samples).sum();
        let sum: u64 = self.flows.iter().map(|f| f.sender.rtt_sum.0).sum();
        (n > 0).then(|| sum as f64 / n as f64 / 1e9)
    }

    /// Jain's fairness index (sum x)^2 / (N sum x^2) of the goodputs: 1
    /// when all flows get the same, 1/N when one gets everything.
    pub fn jain_index(&self) -> f64 {
        jain_index(&self.flows.iter().map(|f| f.goodput_bps).collect::<Vec<_>>())
    }

    /// Retransmissions of all senders.
    pub fn retransmissions(&self) -> u64 {
        self.flows.iter().map(|f| f.sender.retransmissions).sum()
    }

    /// Retransmission timer expiries of all senders.
    pub fn timeouts(&self) -> u64 {
        self.flows.iter().map(|f| f.sender.timeouts).sum()
    }
}

/// Jain's fairness index of `x` (Jain, Chiu and Hawe 1984).
pub fn jain_index(x: &[f64]) -> f64 {
    let sum: f64 = x.iter().sum();
    let squares: f64 = x.iter().map(|v| v * v).sum();
    if squares == 0.0 {
        return 1.0;
    }
    sum * sum / (x.len() as f64 * squares)
}

/// The Mathis et al. (1997) law, bits per second: MSS/RTT ×
/// sqrt(3/(2b)) / sqrt(p), with `b` segments acknowledged per ACK.
pub fn mathis_bps(mss_bytes: f64, rtt: f64, p: f64, b: f64) -> f64 {
    8.0 * mss_bytes / rtt * (3.0 / (2.0 * b)).sqrt() / p.sqrt()
}

/// The Padhye et al. (1998) approximate model with timeouts, bits per
/// second: min(Wmax/RTT, 1 / (RTT sqrt(2bp/3) + T0 min(1, 3 sqrt(3bp/8))
/// p (1 + 32 p^2))) segments per second, times the MSS; `wmax` in
/// segments, `t0` the initial retransmission timeout in seconds.
pub fn padhye_bps(mss_bytes: f64, rtt: f64, p: f64, b: f64, t0: f64, wmax: f64) -> f64 {
    let fast = rtt * (2.0 * b * p / 3.0).sqrt();
    let timeouts = t0 * (3.0 * (3.0 * b * p / 8.0).sqrt()).min(1.0) * p * (1.0 + 32.0 * p * p);
    let segments = (wmax / rtt).min(1.0 / (fast + timeouts));
    8.0 * mss_bytes * segments
}

/// Builds the dumbbell, runs it for `cfg.duration` and measures.
pub fn run(cfg: &DumbbellConfig) -> DumbbellResult {
    let mut d = Dumbbell::new(cfg);
    d.run();
    d.result()
}

/// One end of one flow.
struct End {
    node: NodeId,
    addr: Ipv4Addr,
    conn: Option<TcpConnection>,
}

/// Counters at the start of the measurement.
#[derive(Clone, Default)]
struct Snapshot {
    delivered: Vec<u64>,
    senders: Vec<TcpStats>,
    receivers: Vec<TcpStats>,
    busy: SimTime,
    packets: u64,
    losses: u64,
    buffer_drops: u64,
}

struct Dumbbell {
    cfg: DumbbellConfig,
    net: Network,
    sched: Scheduler<NetEvent>,
    senders: Vec<End>,
    receivers: Vec<End>,
    /// Flow of each host node, and whether it is the sender.
    by_node: Vec<Option<(usize, bool)>>,
    starts: Vec<Option<SimTime>>,
    iss: Vec<u32>,
    delivered: Vec<u64>,
    bottleneck: ChannelId,
    warmup: Option<Snapshot>,
}

impl Dumbbell {
    fn new(cfg: &DumbbellConfig) -> Self {
        let streams = Streams::new(cfg.seed);
        let mut net = Network::new(Streams::new(cfg.seed));
        let r1 = net.add_node("r1", NodeKind::Router, None);
        let r2 = net.add_node("r2", NodeKind::Router, None);
        // Access buffers are ample: only the bottleneck should drop.
        let access = LinkParams {
            bandwidth_bps: cfg.access_bps,
            delay: cfg.access_delay,
            loss: 0.0,
            mtu: 1500,
            buffer_packets: 10_000,
            queue: QueueConfig::default(),
        };
        let neck = LinkParams {
            bandwidth_bps: cfg.bottleneck_bps,
            delay: cfg.bottleneck_delay,
            loss: 0.0,
            mtu: 1500,
            buffer_packets: cfg.buffer_packets,
            queue: QueueConfig::default(),
        };
        let (bottleneck, _) = net.add_link(r1, r2, neck);
        net.set_channel_loss(bottleneck, cfg.loss);

        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        let mut by_node = vec![None, None];
        for i in 0..cfg.flows {
            let (hi, lo) = ((i / 250) as u8, (i % 250) as u8 + 1);
            for (list, router, net_id, name) in [
                (&mut senders, r1, 1u8, format!("s{i}")),
                (&mut receivers, r2, 2u8, format!("d{i}")),
            ] {
                let addr = Ipv4Addr::new(10, net_id, hi, lo);
                let node = net.add_node(&name, NodeKind::Host, Some(addr));
                net.add_link(node, router, access);
                by_node.push(Some((i, net_id == 1)));
                list.push(End {
                    node,
                    addr,
                    conn: None,
                });
            }
        }
        net.compute_routes(Routing::Delay);

        let mut start_rng = streams.stream("dumbbell/start");
        let mut iss_rng = streams.stream("dumbbell/iss");
        let spread = cfg.start_spread.as_secs_f64();
        let starts = (0..cfg.flows)
            .map(|_| Some(SimTime::from_secs_f64(uniform(&mut start_rng) * spread)))
            .collect();
        let iss = (0..2 * cfg.flows)
            .map(|_| (uniform(&mut iss_rng) * f64::from(u32::MAX)) as u32)
            .collect();
        Dumbbell {
            cfg: cfg.clone(),
            net,
            sched: Scheduler::new(),
            senders,
            receivers,
            by_node,
            starts,
            iss,
            delivered: vec![0; cfg.flows],
            bottleneck,
            warmup: None,
        }
    }

    /// The event loop: network events in time order, with connection
    /// timers, flow starts and the warm-up snapshot in between.
    fn run(&mut self) {
        let end = self.cfg.duration;
        loop {
            let deadline = self.next_deadline();
            let limit = deadline.unwrap_or(end).min(end);
            if let Some((_, ev)) = self.sched.step(limit) {
                if let Some((node, packet)) = self.net.handle(&mut self.sched, ev) {
                    self.arrive(node, packet);
                }
                continue;
            }
            match deadline {
                Some(t) if t <= end => {
                    self.sched.advance_to(t);
                    self.fire(t);
                }
                _ => break,
            }
        }
        self.sched.advance_to(end);
        if self.warmup.is_none() {
            self.warmup = Some(self.snapshot());
        }
    }

    fn next_deadline(&self) -> Option<SimTime> {
        let conns = self.senders.iter().chain(&self.receivers);
        let timers = conns.filter_map(|e| e.conn.as_ref().and_then(|c| c.poll_timeout()));
        let starts = self.starts.iter().flatten().copied();
        let warmup = self.warmup.is_none().then_some(self.cfg.warmup);
        timers.chain(starts).chain(warmup).min()
    }

    /// Runs everything due at `now`.
    fn fire(&mut self, now: SimTime) {
        if self.warmup.is_none() && self.cfg.warmup <= now {
            self.warmup = Some(self.snapshot());
        }
        for i in 0..self.cfg.flows {
            if self.starts[i].is_some_and(|t| t <= now) {
                self.starts[i] = None;
                let cfg = self.cfg.tcp;
                let port = 40_000 + (i % 20_000) as u16;
                let c = TcpConnection::connect(now, cfg, port, PORT, self.iss[2 * i]);
                self.senders[i].conn = Some(c);
                self.flush(i, true);
            }
            for sender in [true, false] {
                let end = self.end_mut(i, sender);
                if let Some(c) = end.conn.as_mut()
                    && c.poll_timeout().is_some_and(|t| t <= now)
                {
                    c.handle_timeout(now);
                    self.flush(i, sender);
                }
            }
        }
    }

    /// A packet reached host `node`: hand it to its connection, accepting
    /// the SYN of a new flow at a receiver.
    fn arrive(&mut self, node: NodeId, packet: Packet) {
        let now = self.sched.now();
        let L4::Tcp(hdr) = packet.l4 else {
            return;
        };
        let Some((i, sender)) = self.by_node.get(node).copied().flatten() else {
            return;
        };
        let iss = self.iss[2 * i + 1];
        let cfg = self.cfg.tcp;
        let end = self.end_mut(i, sender);
        match end.conn.as_mut() {
            Some(c) => c.handle_segment(now, &hdr, packet.payload),
            None if !sender && hdr.dst_port == PORT => {
                end.conn = Some(TcpConnection::accept(now, cfg, &hdr, iss));
            }
            None => return,
        }
        self.flush(i, sender);
    }

    /// Tops up a sender's queue, then sends what the connection has and
    /// counts what it delivered.
    fn flush(&mut self, i: usize, sender: bool) {
        let now = self.sched.now();
        let (src, dst) = if sender {
            (&self.senders[i], &self.receivers[i])
        } else {
            (&self.receivers[i], &self.senders[i])
        };
        let (node, from, to) = (src.node, src.addr, dst.addr);
        let Some(c) = self.end_mut(i, sender).conn.as_mut() else {
            return;
        };
        if sender && c.send_queue_len() < LOW_WATER {
            c.send(&CHUNK);
        }
        let mut out = Vec::new();
        while let Some((hdr, payload)) = c.poll_transmit(now) {
            out.push(Packet::tcp(from, to, hdr, payload));
        }
        let mut got = 0;
        while let Some(ev) = c.poll_event() {
            if let TcpEvent::Data(d) = ev {
                got += d.len() as u64;
            }
        }
        self.delivered[i] += got;
        for p in out {
            self.net.send(&mut self.sched, node, p);
        }
    }

    fn end_mut(&mut self, i: usize, sender: bool) -> &mut End {
        if sender {
            &mut self.senders[i]
        } else {
            &mut self.receivers[i]
        }
    }

    fn stats(end: &End) -> TcpStats {
        end.conn
            .as_ref()
            .map(TcpConnection::stats)
            .unwrap_or_default()
    }

    fn snapshot(&self) -> Snapshot {
        let ch = &self.net.channels()[self.bottleneck];
        let drops = |r| ch.stats.drops.get(&r).copied().unwrap_or(0);
        Snapshot {
            delivered: self.delivered.clone(),
            senders: self.senders.iter().map(Self::stats).collect(),
            receivers: self.receivers.iter().map(Self::stats).collect(),
            busy: ch.stats.busy,
            packets: ch.stats.packets,
            losses: drops(crate::net::DropReason::Loss),
            buffer_drops: drops(crate::net::DropReason::BufferFull),
        }
    }

    fn result(&self) -> DumbbellResult {
        let start = self.warmup.clone().unwrap_or_default();
        let now = self.snapshot();
        let secs = (self.cfg.duration.saturating_sub(self.cfg.warmup)).as_secs_f64();
        let flows = (0..self.cfg.flows)
            .map(|i| {
                let bytes = now.delivered[i] - start.delivered[i];
                let sender = delta(&now.senders[i], &start.senders[i]);
                let receiver = delta(&now.receivers[i], &start.receivers[i]);
                let mean_rtt = (sender.rtt_samples > 0)
                    .then(|| sender.rtt_sum.as_secs_f64() / sender.rtt_samples as f64);
                FlowResult {
                    bytes_delivered: bytes,
                    goodput_bps: bytes as f64 * 8.0 / secs,
                    mean_rtt,
                    sender,
                    receiver,
                }
            })
            .collect();
        DumbbellResult {
            flows,
            measured_secs: secs,
            utilisation: (now.busy.saturating_sub(start.busy)).as_secs_f64() / secs,
            bottleneck_packets: now.packets - start.packets,
            random_losses: now.losses - start.losses,
            buffer_drops: now.buffer_drops - start.buffer_drops,
        }
    }
}

/// The counters `b` minus `a`; gauges (SRTT, RTO, cwnd, ssthresh) from `b`.
fn delta(b: &TcpStats, a: &TcpStats) -> TcpStats {
    TcpStats {
        segments_sent: b.segments_sent - a.segments_sent,
        segments_received: b.segments_received - a.segments_received,
        retransmissions: b.retransmissions - a.retransmissions,
        fast_retransmits: b.fast_retransmits - a.fast_retransmits,
        timeouts: b.timeouts - a.timeouts,
        pure_acks: b.pure_acks - a.pure_acks,
        delayed_ack_timeouts: b.delayed_ack_timeouts - a.delayed_ack_timeouts,
        rtt_samples: b.rtt_samples - a.rtt_samples,
        rtt_sum: b.rtt_sum.saturating_sub(a.rtt_sum),
        bytes_sent: b.bytes_sent - a.bytes_sent,
        bytes_retransmitted: b.bytes_retransmitted - a.bytes_retransmitted,
        bytes_received: b.bytes_received - a.bytes_received,
        ..*b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_index_is_one_for_equal_shares_and_one_over_n_for_a_monopoly() {
        assert!((jain_index(&[3.0, 3.0, 3.0, 3.0]) - 1.0).abs() < 1e-12);
        assert!((jain_index(&[8.0, 0.0, 0.0, 0.0]) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn models_match_hand_computed_values() {
        // 1460 B / 0.1 s × sqrt(3/4) / 0.1 = 126 440 B/s.
        let m = mathis_bps(1460.0, 0.1, 0.01, 2.0);
        assert!((m - 8.0 * 14_600.0 * 0.75f64.sqrt() * 10.0).abs() < 1e-6);
        // Without timeouts (T0 = 0) Padhye's fast-retransmit term is the
        // Mathis law; Wmax clips it.
        let p = padhye_bps(1460.0, 0.1, 0.01, 2.0, 0.0, 1e9);
        assert!((p - m).abs() / m < 1e-12);
        let clipped = padhye_bps(1460.0, 0.1, 0.01, 2.0, 0.0, 5.0);
        assert!((clipped - 8.0 * 1460.0 * 50.0).abs() < 1e-6);
    }

    #[test]
    fn a_run_is_deterministic_and_counts_every_bottleneck_packet() {
        let cfg = DumbbellConfig {
            flows: 2,
            loss: 0.01,
            warmup: SimTime::from_secs(2),
            duration: SimTime::from_secs(10),
            ..DumbbellConfig::default()
        };
        let (a, b) = (run(&cfg), run(&cfg));
        assert_eq!(a.flows[0].bytes_delivered, b.flows[0].bytes_delivered);
        assert!(a.random_losses > 0 && a.total_goodput_bps() > 0.0);
    }
}
