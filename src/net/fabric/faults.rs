//! Faults of the fabric: a node losing its output buffers when it crashes,
//! a link changing its line rate or delay, a loss model swapped in and out.
//!
//! These live beside the fabric (they reach into its channels) but apart
//! from the forwarding path, which only asks each channel's [`LossModel`].

use crate::sim::SimTime;

use super::super::loss::LossModel;
use super::{ChannelId, DropReason, Network, NodeId};

impl Network {
    /// Changes the line rate and/or the propagation delay of both
    /// directions of the link between `a` and `b`. The packet on the line
    /// and packets already propagating keep the old values; every packet
    /// that starts transmission afterwards gets the new ones. Routes are not
    /// recomputed. Returns false when there is no such link.
    pub fn set_link_params(
        &mut self,
        a: NodeId,
        b: NodeId,
        bandwidth_bps: Option<u64>,
        delay: Option<SimTime>,
    ) -> bool {
        let Some((ab, ba)) = self.link_channels(a, b) else {
            return false;
        };
        for ch in [ab, ba] {
            let p = &mut self.channels[ch].params;
            if let Some(bps) = bandwidth_bps {
                p.bandwidth_bps = bps.max(1);
            }
            if let Some(d) = delay {
                p.delay = d;
            }
        }
        true
    }

    /// Puts `model` on both directions of the link between `a` and `b`
    /// (each direction keeps its own copy of the chain's state), or with
    /// `None` goes back to the link's own Bernoulli loss. Returns false
    /// when there is no such link.
    pub fn set_loss_model(&mut self, a: NodeId, b: NodeId, model: Option<LossModel>) -> bool {
        let Some((ab, ba)) = self.link_channels(a, b) else {
            return false;
        };
        for ch in [ab, ba] {
            let c = &mut self.channels[ch];
            c.loss = model.unwrap_or(LossModel::Bernoulli { p: c.params.loss });
        }
        true
    }

    /// The loss model a channel asks now.
    pub fn loss_model(&self, ch: ChannelId) -> &LossModel {
        &self.channels[ch].loss
    }

    /// The two channels of the link between `a` and `b` (from `a`, from
    /// `b`), if there is one.
    pub fn link_channels(&self, a: NodeId, b: NodeId) -> Option<(ChannelId, ChannelId)> {
        let na = petgraph::graph::NodeIndex::new(a);
        let nb = petgraph::graph::NodeIndex::new(b);
        let (x, y) = self.graph[self.graph.find_edge(na, nb)?];
        Some(if self.channels[x].from == a {
            (x, y)
        } else {
            (y, x)
        })
    }

    /// A crash: the packets waiting in the node's output buffers are lost,
    /// counted with the reason `node_down`. The packet on the line is
    /// dropped the same way when its transmission ends (the interface went
    /// dark under it).
    pub(super) fn drop_output_buffers(&mut self, node: NodeId) {
        for ch in 0..self.channels.len() {
            if self.channels[ch].from != node {
                continue;
            }
            let lost = self.channels[ch].queue.len() as u64;
            self.channels[ch].queue.clear();
            self.count_drop(ch, DropReason::NodeDown, lost);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use bytes::Bytes;

    use super::super::{LinkParams, NetEvent, NodeKind, Routing};
    use super::*;
    use crate::net::{Packet, UdpHeader};
    use crate::sim::{Scheduler, Streams};

    fn params(bps: u64, delay_ms: u64) -> LinkParams {
        LinkParams {
            bandwidth_bps: bps,
            delay: SimTime::from_millis(delay_ms),
            loss: 0.0,
            mtu: 1500,
            buffer_packets: 100,
            queue: crate::net::QueueConfig::default(),
        }
    }

    fn addr(n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, n)
    }

    /// A UDP packet of exactly `ip_len` bytes on the wire.
    fn udp(ip_len: usize) -> Packet {
        let h = UdpHeader {
            src_port: 1,
            dst_port: 2,
        };
        Packet::udp(addr(1), addr(2), h, Bytes::from(vec![0u8; ip_len - 28]))
    }

    /// h1 - r1 - h2, both links 1 Mbit/s, 1 ms then 10 ms.
    fn line() -> (Network, NodeId, NodeId, NodeId) {
        let mut n = Network::new(Streams::new(1));
        let h1 = n.add_node("h1", NodeKind::Host, Some(addr(1)));
        let r1 = n.add_node("r1", NodeKind::Router, None);
        let h2 = n.add_node("h2", NodeKind::Host, Some(addr(2)));
        n.add_link(h1, r1, params(1_000_000, 1));
        n.add_link(r1, h2, params(1_000_000, 10));
        n.compute_routes(Routing::Delay);
        (n, h1, r1, h2)
    }

    fn arrivals(n: &mut Network, s: &mut Scheduler<NetEvent>, until: SimTime) -> Vec<SimTime> {
        let mut got = Vec::new();
        while let Some((t, ev)) = s.step(until) {
            if n.handle(s, ev).is_some() {
                got.push(t);
            }
        }
        got
    }

    #[test]
    fn a_new_line_rate_and_delay_apply_to_packets_sent_after_the_change() {
        let (mut n, h1, r1, h2) = line();
        let mut s = Scheduler::new();
        // 1250 bytes = 10 000 bits: 10 ms per hop at 1 Mbit/s, plus 1 ms
        // and 10 ms of propagation.
        n.send(&mut s, h1, udp(1250));
        let before = arrivals(&mut n, &mut s, SimTime::MAX);
        assert_eq!(before, vec![SimTime::from_millis(10 + 1 + 10 + 10)]);

        // r1-h2 becomes 10 Mbit/s and 50 ms: 1 ms to serialise there.
        assert!(n.set_link_params(r1, h2, Some(10_000_000), Some(SimTime::from_millis(50))));
        let start = s.now();
        n.send(&mut s, h1, udp(1250));
        let after = arrivals(&mut n, &mut s, SimTime::MAX);
        assert_eq!(after, vec![start + SimTime::from_millis(10 + 1 + 1 + 50)]);
        assert!(!n.set_link_params(h1, h2, Some(1), None), "no such link");
    }

    #[test]
    fn a_crashed_router_loses_its_buffered_packets_as_node_down() {
        let (mut n, h1, r1, _) = line();
        let mut s = Scheduler::new();
        // A fast first hop brings all five to r1 at once; r1 - h2 then
        // sends one and buffers four.
        n.set_link_params(h1, r1, Some(1_000_000_000), None);
        for _ in 0..5 {
            n.send(&mut s, h1, udp(1250));
        }
        // All five are at r1 by 2 ms; one is on the r1 - h2 line (10 ms).
        while s.now() < SimTime::from_millis(3) {
            let Some((_, ev)) = s.step(SimTime::from_millis(3)) else {
                break;
            };
            n.handle(&mut s, ev);
        }
        let (out, _) = n.link_channels(r1, addr_node(&n, "h2")).unwrap();
        assert_eq!(n.channels()[out].queue.len(), 4);
        n.set_node_up(r1, false);
        assert_eq!(n.drops()[&DropReason::NodeDown], 4);
        // The one on the line is lost when its transmission ends.
        let got = arrivals(&mut n, &mut s, SimTime::MAX);
        assert!(got.is_empty());
        assert_eq!(n.drops()[&DropReason::NodeDown], 5);
        assert_eq!(n.channels()[out].stats.drops[&DropReason::NodeDown], 5);
    }

    fn addr_node(n: &Network, name: &str) -> NodeId {
        n.node_named(name).unwrap()
    }

    #[test]
    fn a_loss_model_replaces_the_bernoulli_loss_until_it_is_removed() {
        let (mut n, h1, r1, _) = line();
        let (ab, ba) = n.link_channels(h1, r1).unwrap();
        let ge = LossModel::gilbert_elliott(1.0, 0.0, 0.0, 1.0);
        assert!(n.set_loss_model(r1, h1, Some(ge)));
        assert_eq!(n.loss_model(ab), &ge);
        assert_eq!(n.loss_model(ba), &ge);
        let mut s = Scheduler::new();
        n.send(&mut s, h1, udp(100));
        assert!(arrivals(&mut n, &mut s, SimTime::MAX).is_empty());
        assert_eq!(n.drops()[&DropReason::Loss], 1);
        n.set_loss_model(h1, r1, None);
        assert_eq!(n.loss_model(ab), &LossModel::Bernoulli { p: 0.0 });
        n.send(&mut s, h1, udp(100));
        assert_eq!(arrivals(&mut n, &mut s, SimTime::MAX).len(), 1);
    }
}
