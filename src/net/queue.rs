//! The buffer of one link direction and its queue discipline: drop-tail,
//! RED (Floyd and Jacobson 1993) or CoDel (RFC 8289).
//!
//! The buffer holds the packets waiting behind the one on the line. Every
//! packet the channel is handed passes through [`Queue::enqueue`], even
//! when the line is idle and it leaves again at once, so that RED sees every
//! arrival as a gateway does. Tail drops (`buffer_full`) happen when a limit
//! in packets or in bytes would be exceeded; RED drops early on arrival
//! (`red`), CoDel at dequeue (`codel`).
//!
//! Deliberate simplifications, each with its reason:
//! - RED counts its thresholds and its average in packets, also when the
//!   buffer limit is in bytes (the paper's packet mode; byte mode would need
//!   a mean packet size the scenario does not give).
//! - RED drops and never marks: the transport has no ECN.
//! - RED's idle time runs from the moment the buffer empties, although the
//!   last packet may still be on the line; its "typical small packet" for
//!   the idle decay is 500 bytes at the line rate (ns-2's default).
//! - CoDel takes its square roots exactly, not by RFC 8289's Newton steps,
//!   and counts `maxpacket` as the link's MTU.

use std::collections::VecDeque;

use crate::sim::{SimRng, SimTime, uniform};

use super::{DropReason, Packet};

/// The bytes of the "typical small packet" RED's idle decay is counted in.
pub const RED_SMALL_PACKET_BYTES: u64 = 500;

/// Which discipline a buffer follows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Discipline {
    /// Accept until full, then drop arrivals.
    #[default]
    DropTail,
    /// Random Early Detection.
    Red(RedParams),
    /// Controlled Delay.
    Codel(CodelParams),
}

/// RED's parameters (Floyd and Jacobson 1993, section 4).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RedParams {
    /// Average queue, in packets, below which nothing is dropped early.
    pub min_th: f64,
    /// Average queue, in packets, from which every arrival is dropped.
    pub max_th: f64,
    /// Drop probability as the average reaches `max_th`.
    pub max_p: f64,
    /// Weight `w_q` of the newest queue length in the moving average.
    pub weight: f64,
}

impl Default for RedParams {
    /// Floyd's recommended values: `min_th` 5 packets, `max_th` three times
    /// that, `max_p` 0.1, `w_q` 0.002.
    fn default() -> Self {
        RedParams {
            min_th: 5.0,
            max_th: 15.0,
            max_p: 0.1,
            weight: 0.002,
        }
    }
}

/// CoDel's parameters (RFC 8289 section 4.2 and 4.3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CodelParams {
    /// Acceptable standing sojourn time.
    pub target: SimTime,
    /// Window over which the sojourn must stay above `target`.
    pub interval: SimTime,
}

impl Default for CodelParams {
    /// RFC 8289's values for the Internet: target 5 ms, interval 100 ms.
    fn default() -> Self {
        CodelParams {
            target: SimTime::from_millis(5),
            interval: SimTime::from_millis(100),
        }
    }
}

/// How a link direction buffers: the discipline and an optional limit in
/// bytes (the limit in packets is `LinkParams::buffer_packets`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QueueConfig {
    /// Bytes the buffer may hold; `None` for no byte limit.
    pub buffer_bytes: Option<u64>,
    /// The discipline.
    pub discipline: Discipline,
}

/// What a dequeue gave: the next packet to send, and how many packets the
/// discipline dropped on the way (CoDel only).
#[derive(Debug, Default)]
pub struct Dequeued {
    /// The packet to put on the line, if any is left.
    pub packet: Option<Packet>,
    /// Packets dropped at the head, all with reason `codel`.
    pub dropped: u64,
}

/// A link direction's buffer.
pub struct Queue {
    waiting: VecDeque<(Packet, SimTime)>,
    bytes: u64,
    limit_packets: usize,
    limit_bytes: u64,
    state: State,
}

enum State {
    DropTail,
    Red(Box<Red>),
    Codel(Codel),
}

impl Queue {
    /// An empty buffer. `line_bps` and `mtu` fix RED's small-packet time
    /// and CoDel's `maxpacket`; `rng` is the channel's own RED stream (no
    /// other discipline draws).
    pub fn new(
        limit_packets: usize,
        config: QueueConfig,
        line_bps: u64,
        mtu: u16,
        rng: SimRng,
    ) -> Self {
        let state = match config.discipline {
            Discipline::DropTail => State::DropTail,
            Discipline::Red(p) => {
                let bits = RED_SMALL_PACKET_BYTES * 8 * 1_000_000_000;
                let small = SimTime::from_nanos(bits.div_ceil(line_bps.max(1)).max(1));
                State::Red(Box::new(Red::new(p, small, rng)))
            }
            Discipline::Codel(p) => State::Codel(Codel::new(p, u64::from(mtu))),
        };
        Queue {
            waiting: VecDeque::new(),
            bytes: 0,
            limit_packets,
            limit_bytes: config.buffer_bytes.unwrap_or(u64::MAX),
            state,
        }
    }

    /// Offers `p` to the buffer at `now`; a refusal says why.
    ///
    /// RED decides first (section 4 of the paper: the gateway drops before
    /// queueing); then the limits. An empty buffer always takes one packet,
    /// whatever its byte limit.
    pub fn enqueue(&mut self, p: Packet, now: SimTime) -> Result<(), DropReason> {
        if let State::Red(red) = &mut self.state
            && red.drop_on_arrival(self.waiting.len(), now)
        {
            return Err(DropReason::Red);
        }
        let len = p.wire_len() as u64;
        let over_bytes = !self.waiting.is_empty() && self.bytes + len > self.limit_bytes;
        if self.waiting.len() >= self.limit_packets || over_bytes {
            return Err(DropReason::BufferFull);
        }
        self.bytes += len;
        self.waiting.push_back((p, now));
        Ok(())
    }

    /// Takes the next packet to send at `now`.
    pub fn dequeue(&mut self, now: SimTime) -> Dequeued {
        let out = match &mut self.state {
            State::Codel(codel) => codel.dequeue(now, &mut self.waiting, &mut self.bytes),
            _ => Dequeued {
                packet: pop(&mut self.waiting, &mut self.bytes).map(|(p, _)| p),
                dropped: 0,
            },
        };
        if let State::Red(red) = &mut self.state
            && self.waiting.is_empty()
        {
            red.idle_since = Some(now);
        }
        out
    }

    /// Empties the buffer (the link went down); returns how many packets
    /// were in it.
    pub fn clear(&mut self) -> u64 {
        let n = self.waiting.len() as u64;
        self.waiting.clear();
        self.bytes = 0;
        n
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// IP bytes waiting.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

fn pop(waiting: &mut VecDeque<(Packet, SimTime)>, bytes: &mut u64) -> Option<(Packet, SimTime)> {
    let (p, t) = waiting.pop_front()?;
    *bytes -= p.wire_len() as u64;
    Some((p, t))
}

/// RED's state: Floyd and Jacobson 1993, figure 2 ("detailed algorithm").
struct Red {
    p: RedParams,
    /// The moving average of the queue length, in packets.
    avg: f64,
    /// Packets since the last drop while the average was between the
    /// thresholds; -1 while it is below `min_th`.
    count: i64,
    /// When the buffer last became empty; `None` while it holds packets.
    idle_since: Option<SimTime>,
    /// Transmission time of a typical small packet (the paper's `s`).
    small_packet: SimTime,
    rng: SimRng,
}

impl Red {
    fn new(p: RedParams, small_packet: SimTime, rng: SimRng) -> Self {
        Red {
            p,
            avg: 0.0,
            count: -1,
            idle_since: Some(SimTime::ZERO),
            small_packet,
            rng,
        }
    }

    /// Updates the average for an arrival that finds `q` packets waiting,
    /// then decides whether to drop it.
    fn drop_on_arrival(&mut self, q: usize, now: SimTime) -> bool {
        self.update_average(q, now);
        let p = self.p;
        if self.avg < p.min_th {
            self.count = -1;
            return false;
        }
        if self.avg >= p.max_th {
            self.count = 0;
            return true;
        }
        // Spacing the drops: p_a = p_b / (1 - count p_b) makes the number of
        // arrivals between drops uniform rather than geometric (section 7).
        self.count += 1;
        let pb = p.max_p * (self.avg - p.min_th) / (p.max_th - p.min_th);
        let denominator = 1.0 - self.count as f64 * pb;
        let pa = if denominator <= pb {
            1.0
        } else {
            pb / denominator
        };
        if uniform(&mut self.rng) < pa {
            self.count = 0;
            return true;
        }
        false
    }

    /// The EWMA of section 4; after an idle spell the average decays as if
    /// `m` small packets had arrived to an empty queue.
    fn update_average(&mut self, q: usize, now: SimTime) {
        let w = self.p.weight;
        match self.idle_since.take() {
            Some(since) if q == 0 => {
                let idle = now.saturating_sub(since).as_nanos() as f64;
                let m = idle / self.small_packet.as_nanos() as f64;
                self.avg *= (1.0 - w).powf(m);
                // Decayed up to now; if this arrival is dropped, the idle
                // spell goes on from here without counting twice.
                self.idle_since = Some(now);
            }
            _ => self.avg = (1.0 - w) * self.avg + w * q as f64,
        }
    }
}

/// CoDel's state (RFC 8289 section 5).
struct Codel {
    p: CodelParams,
    maxpacket: u64,
    /// When the sojourn time will have stayed above target for an interval;
    /// `None` while it is below.
    first_above_time: Option<SimTime>,
    drop_next: SimTime,
    count: u64,
    lastcount: u64,
    dropping: bool,
}

impl Codel {
    fn new(p: CodelParams, maxpacket: u64) -> Self {
        Codel {
            p,
            maxpacket,
            first_above_time: None,
            drop_next: SimTime::ZERO,
            count: 0,
            lastcount: 0,
            dropping: false,
        }
    }

    /// RFC 8289 section 5.5 `dequeue()`.
    fn dequeue(
        &mut self,
        now: SimTime,
        waiting: &mut VecDeque<(Packet, SimTime)>,
        bytes: &mut u64,
    ) -> Dequeued {
        let mut dropped = 0;
        let (mut packet, mut ok_to_drop) = self.do_dequeue(now, waiting, bytes);
        if self.dropping {
            if !ok_to_drop {
                // Sojourn went below target: leave the dropping state.
                self.dropping = false;
            }
            while self.dropping && now >= self.drop_next {
                dropped += u64::from(packet.is_some());
                self.count += 1;
                (packet, ok_to_drop) = self.do_dequeue(now, waiting, bytes);
                if ok_to_drop {
                    self.drop_next = self.control_law(self.drop_next);
                } else {
                    self.dropping = false;
                }
            }
        } else if ok_to_drop {
            dropped += u64::from(packet.is_some());
            (packet, _) = self.do_dequeue(now, waiting, bytes);
            self.dropping = true;
            // Start near the drop rate that controlled the queue last time,
            // if that was recent (section 5.5).
            let delta = self.count.saturating_sub(self.lastcount);
            self.count = 1;
            let recent = now.saturating_sub(self.drop_next) < self.p.interval.times(16);
            if delta > 1 && recent {
                self.count = delta;
            }
            self.drop_next = self.control_law(now);
            self.lastcount = self.count;
        }
        Dequeued { packet, dropped }
    }

    /// RFC 8289 section 5.4 `dodequeue()`: the head packet and whether its
    /// sojourn has stayed above target for at least an interval.
    fn do_dequeue(
        &mut self,
        now: SimTime,
        waiting: &mut VecDeque<(Packet, SimTime)>,
        bytes: &mut u64,
    ) -> (Option<Packet>, bool) {
        let Some((p, arrived)) = pop(waiting, bytes) else {
            self.first_above_time = None;
            return (None, false);
        };
        let sojourn = now.saturating_sub(arrived);
        if sojourn < self.p.target || *bytes <= self.maxpacket {
            self.first_above_time = None;
            return (Some(p), false);
        }
        match self.first_above_time {
            None => {
                self.first_above_time = Some(now + self.p.interval);
                (Some(p), false)
            }
            Some(t) => (Some(p), now >= t),
        }
    }

    /// Section 5.6: the next drop, `interval / sqrt(count)` after `t`.
    fn control_law(&self, t: SimTime) -> SimTime {
        let gap = self.p.interval.as_nanos() as f64 / (self.count.max(1) as f64).sqrt();
        t + SimTime::from_nanos(gap.round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::UdpHeader;
    use crate::sim::Streams;
    use bytes::Bytes;
    use std::net::Ipv4Addr;

    /// A UDP packet of `wire` IP bytes (28 bytes of IPv4 and UDP headers).
    fn packet(wire: usize) -> Packet {
        let h = UdpHeader {
            src_port: 1,
            dst_port: 2,
        };
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        Packet::udp(a, b, h, Bytes::from(vec![0u8; wire - 28]))
    }

    fn queue(limit_packets: usize, config: QueueConfig) -> Queue {
        let rng = Streams::new(7).stream("link/a>b/red");
        Queue::new(limit_packets, config, 10_000_000, 1500, rng)
    }

    #[test]
    fn drop_tail_in_bytes_refuses_the_packet_that_would_exceed_the_limit() {
        let config = QueueConfig {
            buffer_bytes: Some(2_500),
            discipline: Discipline::DropTail,
        };
        let mut q = queue(usize::MAX, config);
        let t = SimTime::ZERO;
        assert_eq!(q.enqueue(packet(1_000), t), Ok(()));
        assert_eq!(q.enqueue(packet(1_000), t), Ok(()));
        // 2 000 + 1 000 > 2 500: refused, though 500 would still fit.
        assert_eq!(q.enqueue(packet(1_000), t), Err(DropReason::BufferFull));
        assert_eq!(q.enqueue(packet(500), t), Ok(()));
        assert_eq!((q.len(), q.bytes()), (3, 2_500));
        assert_eq!(q.enqueue(packet(28), t), Err(DropReason::BufferFull));
        q.dequeue(t);
        assert_eq!(q.bytes(), 1_500);
        assert_eq!(q.enqueue(packet(1_000), t), Ok(()));
    }

    #[test]
    fn drop_tail_in_packets_refuses_the_packet_past_the_limit() {
        let mut q = queue(3, QueueConfig::default());
        for _ in 0..3 {
            assert_eq!(q.enqueue(packet(1_500), SimTime::ZERO), Ok(()));
        }
        assert_eq!(
            q.enqueue(packet(40), SimTime::ZERO),
            Err(DropReason::BufferFull)
        );
    }

    /// A RED queue whose average is pinned at `avg` (weight zero), holding
    /// one packet so that the average is never decayed as idle.
    fn pinned_red(avg: f64) -> Queue {
        let params = RedParams {
            weight: 0.0,
            ..RedParams::default()
        };
        let config = QueueConfig {
            buffer_bytes: None,
            discipline: Discipline::Red(params),
        };
        let mut q = queue(usize::MAX, config);
        let State::Red(red) = &mut q.state else {
            unreachable!()
        };
        red.avg = avg;
        red.idle_since = None;
        q.waiting.push_back((packet(100), SimTime::ZERO));
        q
    }

    /// Arrivals between consecutive drops, for `n` arrivals.
    fn spacings(q: &mut Queue, n: usize) -> (usize, Vec<usize>) {
        let (mut drops, mut since, mut gaps) = (0, 0, Vec::new());
        for _ in 0..n {
            since += 1;
            match q.enqueue(packet(100), SimTime::ZERO) {
                Err(DropReason::Red) => {
                    drops += 1;
                    gaps.push(since);
                    since = 0;
                }
                Ok(()) => {
                    q.waiting.pop_back();
                }
                Err(other) => panic!("unexpected drop {other:?}"),
            }
        }
        (drops, gaps)
    }

    /// With `count` reset to 0 at a drop and incremented before each
    /// decision, the n-th arrival after a drop is dropped with probability
    /// p_b / (1 - n p_b). The chance of surviving arrivals 1..n-1 telescopes
    /// to (1 - n p_b) / (1 - p_b), so P(X = n) = p_b / (1 - p_b) for
    /// n = 1 .. 1/p_b - 1: X is uniform there, with mean 1 / (2 p_b), and
    /// the drop fraction is 2 p_b (not p_b, as geometric spacing would give).
    /// At avg = 10 with min 5, max 15, max_p 0.1: p_b = 0.05, X uniform on
    /// 1..=19, mean 10, variance (19^2 - 1) / 12 = 30.
    #[test]
    fn red_between_the_thresholds_spaces_drops_uniformly_with_mean_one_over_two_pb() {
        let mut q = pinned_red(10.0);
        let (_, gaps) = spacings(&mut q, 200_000);
        let gaps = &gaps[1..]; // the first gap starts from count = -1
        let n = gaps.len() as f64;
        let mean = gaps.iter().sum::<usize>() as f64 / n;
        // Four standard errors of the mean of a uniform on 1..=19.
        let tolerance = 4.0 * (30.0 / n).sqrt();
        assert!(
            (mean - 10.0).abs() < tolerance,
            "mean gap {mean} ± {tolerance}"
        );
        assert!(
            gaps.iter().all(|&g| (1..=19).contains(&g)),
            "a gap outside 1..=19"
        );
        // Uniform: each of the 19 values holds about 1/19 of the gaps.
        for v in 1..=19 {
            let share = gaps.iter().filter(|&&g| g == v).count() as f64 / n;
            let sd = ((1.0 / 19.0) * (18.0 / 19.0) / n).sqrt();
            assert!((share - 1.0 / 19.0).abs() < 4.0 * sd, "P(X={v}) = {share}");
        }
    }

    #[test]
    fn red_below_min_th_never_drops_and_above_max_th_always_drops() {
        let mut q = pinned_red(4.99);
        assert_eq!(spacings(&mut q, 10_000).0, 0);
        let mut q = pinned_red(15.0);
        assert_eq!(spacings(&mut q, 10_000).0, 10_000);
    }

    #[test]
    fn red_average_follows_the_ewma_and_decays_over_idle_time() {
        let config = QueueConfig {
            buffer_bytes: None,
            discipline: Discipline::Red(RedParams::default()),
        };
        // 10 Mbit/s: a 500-byte packet takes 400 us.
        let mut q = queue(usize::MAX, config);
        let t = SimTime::ZERO;
        for _ in 0..4 {
            q.enqueue(packet(100), t).unwrap();
        }
        let avg = |q: &Queue| match &q.state {
            State::Red(r) => r.avg,
            _ => unreachable!(),
        };
        // Arrivals see 0 (empty, no idle time), 1, 2, 3 waiting.
        let w: f64 = 0.002;
        let want = ((w * 1.0) * (1.0 - w) + w * 2.0) * (1.0 - w) + w * 3.0;
        assert!((avg(&q) - want).abs() < 1e-12, "{} vs {want}", avg(&q));
        for _ in 0..4 {
            q.dequeue(t);
        }
        // 400 ms idle is m = 1000 small packets: avg * (1 - w)^1000.
        q.enqueue(packet(100), SimTime::from_millis(400)).unwrap();
        let decayed = want * (1.0 - w).powi(1000);
        assert!(
            (avg(&q) - decayed).abs() < 1e-12,
            "{} vs {decayed}",
            avg(&q)
        );
    }

    /// A standing queue: 3 000 packets arrive at time 0 and the line takes
    /// one every millisecond, so the head's sojourn equals the clock. The
    /// sojourn reaches the 5 ms target at the dequeue at 5 ms, which sets
    /// first_above_time to 105 ms; the dequeue at 105 ms drops (count 1)
    /// and sets drop_next = 105 + 100/sqrt(1) ms; each later drop comes at
    /// the first dequeue at or after drop_next, and moves drop_next on by
    /// interval/sqrt(count) from the previous drop_next (RFC 8289 5.5, 5.6).
    #[test]
    fn codel_drops_a_standing_queue_on_the_interval_over_sqrt_count_law() {
        let config = QueueConfig {
            buffer_bytes: None,
            discipline: Discipline::Codel(CodelParams::default()),
        };
        let mut q = queue(usize::MAX, config);
        for _ in 0..3_000 {
            q.enqueue(packet(1_000), SimTime::ZERO).unwrap();
        }
        let mut drop_times = Vec::new();
        for ms in 0..1_000 {
            let now = SimTime::from_millis(ms);
            let d = q.dequeue(now);
            assert!(d.packet.is_some());
            for _ in 0..d.dropped {
                drop_times.push(now);
            }
        }
        let mut want = vec![SimTime::from_millis(105)];
        let mut next = SimTime::from_millis(205);
        let mut count = 1u64;
        while next < SimTime::from_millis(1_000) {
            // The first whole millisecond at or after drop_next.
            let at = SimTime::from_millis(next.as_nanos().div_ceil(1_000_000));
            want.push(at);
            count += 1;
            let gap = 100e6 / (count as f64).sqrt();
            next += SimTime::from_nanos(gap.round() as u64);
        }
        assert_eq!(drop_times, want);
        assert!(want.len() >= 10);
    }

    #[test]
    fn codel_leaves_a_queue_below_target_alone() {
        let config = QueueConfig {
            buffer_bytes: None,
            discipline: Discipline::Codel(CodelParams::default()),
        };
        let mut q = queue(usize::MAX, config);
        // One in and one out per millisecond, each packet waiting 4 ms:
        // below the 5 ms target, never dropped.
        for ms in 0..2_000u64 {
            q.enqueue(packet(1_000), SimTime::from_millis(ms)).unwrap();
            if ms >= 4 {
                let d = q.dequeue(SimTime::from_millis(ms));
                assert_eq!(d.dropped, 0);
            }
        }
    }
}
