//! Time series: the state of every link direction and MTA queue, sampled
//! at a fixed interval of simulated time.
//!
//! Sample times are a calendar the run loop merges with the kernel's
//! queue: the world runs every event up to and including the next sample
//! time, the clock is moved to it, and the sampler reads the counters. No
//! event is scheduled for a sample, so sampling changes neither the event
//! count nor the end of a run that falls quiet (it ends at its last event,
//! and the last sample is cut short there). A sample at time `t` sees every
//! event at `t`.

use crate::net::{ChannelId, DropReason};
use crate::service::{HostId, World};
use crate::sim::SimTime;

/// One link direction over one interval.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSample {
    /// End of the interval.
    pub time: SimTime,
    /// Length of the interval (shorter for the last one).
    pub interval: SimTime,
    /// The channel (link direction).
    pub channel: ChannelId,
    /// Packets waiting behind the one on the line, at `time`.
    pub queue_packets: usize,
    /// Their IP bytes.
    pub queue_bytes: u64,
    /// Time spent transmitting during the interval.
    pub busy: SimTime,
    /// Packets that finished transmission during the interval.
    pub packets: u64,
    /// Their IP bytes.
    pub bytes: u64,
    /// Drops during the interval, in the order of [`DropReason::ALL`].
    pub drops: [u64; DropReason::ALL.len()],
}

impl LinkSample {
    /// Share of the interval the line was transmitting, 0 to 1.
    pub fn utilisation(&self) -> f64 {
        if self.interval == SimTime::ZERO {
            return 0.0;
        }
        self.busy.as_nanos() as f64 / self.interval.as_nanos() as f64
    }
}

/// One MTA's queue at one sample time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MtaSample {
    /// The sample time.
    pub time: SimTime,
    /// Time since the previous sample.
    pub interval: SimTime,
    /// The host running the MTA.
    pub host: HostId,
    /// Queue entries (messages, each with its pending recipients).
    pub queue: usize,
    /// TCP segments the host retransmitted during the interval (all its
    /// connections: SMTP in and out, POP3, IMAP).
    pub retransmits: u64,
}

/// Every sample of a run, in time order and, at one time, by channel then
/// by host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeSeries {
    /// The sampling interval; `None` when sampling was off.
    pub interval: Option<SimTime>,
    /// Link directions.
    pub links: Vec<LinkSample>,
    /// MTA queues.
    pub mtas: Vec<MtaSample>,
}

/// Counters of a channel at the previous sample.
#[derive(Clone, Copy, Default)]
struct Last {
    busy: SimTime,
    packets: u64,
    bytes: u64,
    drops: [u64; DropReason::ALL.len()],
}

/// Takes the samples during a run.
pub(super) struct Sampler {
    series: TimeSeries,
    last_time: SimTime,
    last: Vec<Last>,
    mtas: Vec<HostId>,
    /// Each MTA host's retransmission count at the previous sample.
    last_retransmits: Vec<u64>,
}

impl Sampler {
    /// A sampler every `interval` (none when `None`) over `world`'s links
    /// and MTAs.
    pub(super) fn new(interval: Option<SimTime>, world: &World) -> Self {
        let mtas: Vec<HostId> = (0..world.hosts().len())
            .filter(|&h| world.mta_queue_len(h).is_some())
            .collect();
        let last_retransmits = vec![0; mtas.len()];
        Sampler {
            series: TimeSeries {
                interval,
                ..TimeSeries::default()
            },
            last_time: SimTime::ZERO,
            last: vec![Last::default(); world.net.channels().len()],
            mtas,
            last_retransmits,
        }
    }

    /// When the next sample is due (`SimTime::MAX` when sampling is off).
    pub(super) fn next_due(&self) -> SimTime {
        match self.series.interval {
            Some(i) => self.last_time.saturating_add(i),
            None => SimTime::MAX,
        }
    }

    /// Samples `world` at `now`: the end of the interval that began at the
    /// previous sample.
    pub(super) fn sample(&mut self, world: &World, now: SimTime) {
        let interval = now.saturating_sub(self.last_time);
        for (ch, c) in world.net.channels().iter().enumerate() {
            let busy = c.busy_until(now);
            let drops = DropReason::ALL.map(|r| c.stats.drops.get(&r).copied().unwrap_or(0));
            let last = &mut self.last[ch];
            self.series.links.push(LinkSample {
                time: now,
                interval,
                channel: ch,
                queue_packets: c.queue().len(),
                queue_bytes: c.queue().bytes(),
                busy: busy.saturating_sub(last.busy),
                packets: c.stats.packets - last.packets,
                bytes: c.stats.bytes - last.bytes,
                drops: std::array::from_fn(|i| drops[i] - last.drops[i]),
            });
            *last = Last {
                busy,
                packets: c.stats.packets,
                bytes: c.stats.bytes,
                drops,
            };
        }
        for (&host, last) in self.mtas.iter().zip(&mut self.last_retransmits) {
            let queue = world.mta_queue_len(host).unwrap_or(0);
            let retransmits = world.tcp_retransmits(host);
            self.series.mtas.push(MtaSample {
                time: now,
                interval,
                host,
                queue,
                retransmits: retransmits - *last,
            });
            *last = retransmits;
        }
        self.last_time = now;
    }

    /// Takes the last, possibly shorter, sample at the end of the run and
    /// returns the series.
    pub(super) fn finish(mut self, world: &World, end: SimTime) -> TimeSeries {
        if self.series.interval.is_some() && end > self.last_time {
            self.sample(world, end);
        }
        self.series
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use bytes::Bytes;

    use super::*;
    use crate::net::{LinkParams, Packet, QueueConfig, Routing, UdpHeader};

    /// Two hosts on one 1 Mbit/s link with a buffer of `buffer` packets.
    fn pair(buffer: usize) -> World {
        let mut w = World::new(1, 0);
        let a = w.add_host("a", Ipv4Addr::new(10, 0, 0, 1));
        let b = w.add_host("b", Ipv4Addr::new(10, 0, 0, 2));
        let (na, nb) = (w.hosts()[a].node, w.hosts()[b].node);
        let params = LinkParams {
            bandwidth_bps: 1_000_000,
            delay: SimTime::from_millis(1),
            loss: 0.0,
            mtu: 1500,
            buffer_packets: buffer,
            queue: QueueConfig::default(),
        };
        w.add_link(na, nb, params);
        w.finish_topology(Routing::Delay);
        w
    }

    /// A 1000-byte IP packet from a to b: 8 ms at 1 Mbit/s.
    fn packet() -> Packet {
        let h = UdpHeader {
            src_port: 9,
            dst_port: 9,
        };
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        Packet::udp(a, b, h, Bytes::from(vec![0u8; 1000 - 28]))
    }

    /// Runs the world to `until` with samples, as the run loop does, but
    /// without stopping when no event is left.
    fn drive(w: &mut World, s: &mut Sampler, until: SimTime) {
        loop {
            let due = s.next_due().min(until);
            if w.step(due).is_some() {
                continue;
            }
            w.sched.advance_to(due);
            if due == until {
                return;
            }
            s.sample(w, due);
        }
    }

    /// Sends one packet every `gap` for `span`, then finishes the series.
    fn constant_rate(buffer: usize, gap: SimTime, span: SimTime) -> (World, TimeSeries) {
        let mut w = pair(buffer);
        let mut s = Sampler::new(Some(SimTime::from_secs(1)), &w);
        let node = w.hosts()[0].node;
        let mut t = SimTime::ZERO;
        while t < span {
            drive(&mut w, &mut s, t);
            w.net.send(&mut w.sched, node, packet());
            t += gap;
        }
        drive(&mut w, &mut s, span);
        let ts = s.finish(&w, span);
        (w, ts)
    }

    /// 1000-byte packets every 16 ms on a 1 Mbit/s line, which takes 8 ms
    /// to send each: half the line. In a window of length L = nP + r (P the
    /// 16 ms period) the n whole periods hold exactly n * 8 ms of sending
    /// and the rest r holds between max(0, r - 8 ms) and min(r, 8 ms), so
    /// the busy time is L/2 within 4 ms: utilisation 0.5 ± 0.004 per 1 s
    /// interval.
    #[test]
    fn a_constant_rate_at_half_the_bandwidth_shows_utilisation_one_half() {
        let span = SimTime::from_secs(10);
        let (_, ts) = constant_rate(100, SimTime::from_millis(16), span);
        let forward: Vec<&LinkSample> = ts.links.iter().filter(|s| s.channel == 0).collect();
        assert_eq!(forward.len(), 10);
        for s in &forward {
            assert_eq!(s.interval, SimTime::from_secs(1));
            let u = s.utilisation();
            assert!(
                (u - 0.5).abs() <= 0.004 + 1e-9,
                "t {}: utilisation {u}",
                s.time
            );
            assert_eq!(s.queue_packets, 0, "never more than one packet at a time");
        }
        // 625 packets in 10 s, and nothing ever flows back.
        assert_eq!(forward.iter().map(|s| s.packets).sum::<u64>(), 625);
        assert!(
            ts.links
                .iter()
                .filter(|s| s.channel == 1)
                .all(|s| s.busy.0 == 0)
        );
    }

    /// One packet every 4 ms on a line that sends one every 8 ms: the
    /// buffer gains a packet every 8 ms, so a 20-packet buffer is full after
    /// about 160 ms and stays full, refusing half the arrivals.
    #[test]
    fn an_overloaded_link_fills_its_buffer_to_the_limit() {
        let span = SimTime::from_secs(3);
        let (w, ts) = constant_rate(20, SimTime::from_millis(4), span);
        let forward: Vec<&LinkSample> = ts.links.iter().filter(|s| s.channel == 0).collect();
        assert!(forward.iter().all(|s| s.queue_packets <= 20));
        assert!(forward.iter().all(|s| s.queue_packets >= 19), "{forward:?}");
        assert_eq!(
            forward[0].queue_bytes,
            forward[0].queue_packets as u64 * 1000
        );
        // A full line: utilisation 1 in every whole interval.
        assert!(forward.iter().all(|s| (s.utilisation() - 1.0).abs() < 1e-9));
        let full = DropReason::ALL
            .iter()
            .position(|r| *r == DropReason::BufferFull)
            .unwrap();
        let dropped: u64 = forward.iter().map(|s| s.drops[full]).sum();
        assert_eq!(dropped, w.net.drops()[&DropReason::BufferFull]);
        // 750 arrivals; 375 sent or on the line, 20 waiting, the rest dropped.
        assert!((350..=360).contains(&dropped), "dropped {dropped}");
    }
}
