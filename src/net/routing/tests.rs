//! Protocol behaviour on small networks, expected values from the
//! algorithms' theory.

use super::*;
use crate::net::{DropReason, LinkParams, NetEvent, Network, NodeKind, Routing};
use crate::sim::Scheduler;

fn params(delay_ms: u64) -> LinkParams {
    LinkParams {
        bandwidth_bps: 10_000_000,
        delay: SimTime::from_millis(delay_ms),
        loss: 0.0,
        mtu: 1500,
        buffer_packets: 100,
        queue: crate::net::QueueConfig::default(),
    }
}

fn host_addr(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, n as u8 + 1)
}

/// Routers `r0..rn` joined by `links` (a, b, delay ms), one host `hK` on
/// each router listed in `hosts` over a 1 ms line.
struct Net {
    net: Network,
    sched: Scheduler<NetEvent>,
    routers: Vec<NodeId>,
    hosts: Vec<NodeId>,
}

fn build(
    n: usize,
    links: &[(usize, usize, u64)],
    hosts: &[usize],
    protocol: Protocol,
    seed: u64,
) -> Net {
    let mut net = Network::new(Streams::new(seed));
    let routers: Vec<NodeId> = (0..n)
        .map(|i| net.add_node(&format!("r{i}"), NodeKind::Router, None))
        .collect();
    let host_nodes: Vec<NodeId> = hosts
        .iter()
        .enumerate()
        .map(|(k, &r)| {
            let h = net.add_node(&format!("h{k}"), NodeKind::Host, Some(host_addr(k)));
            net.add_link(h, routers[r], params(1));
            h
        })
        .collect();
    for &(a, b, d) in links {
        net.add_link(routers[a], routers[b], params(d));
    }
    net.compute_routes(Routing::Delay);
    net.set_routing_protocol(protocol);
    let mut sched = Scheduler::new();
    net.start_routing(&mut sched);
    Net {
        net,
        sched,
        routers,
        hosts: host_nodes,
    }
}

impl Net {
    fn run_until(&mut self, t: SimTime) {
        while let Some((_, ev)) = self.sched.step(t) {
            self.net.handle(&mut self.sched, ev);
        }
        self.sched.advance_to(t);
    }

    fn set_link(&mut self, a: NodeId, b: NodeId, up: bool) {
        assert!(self.net.set_link_up(a, b, up));
        self.net.apply_topology_changes(&mut self.sched);
    }

    /// Next hops (as the node they lead to) of every router to every host.
    fn next_hops(&self) -> Vec<Option<NodeId>> {
        let mut out = Vec::new();
        for &r in &self.routers {
            for &h in &self.hosts {
                out.push(self.net.route(r, h).map(|ch| self.net.channels()[ch].to));
            }
        }
        out
    }
}

/// A ring of five routers with a chord, all delays distinct, so every
/// shortest path is unique.
const MESH: [(usize, usize, u64); 6] = [
    (0, 1, 10),
    (1, 2, 7),
    (2, 3, 31),
    (3, 4, 5),
    (4, 0, 13),
    (1, 3, 20),
];

fn dijkstra_hops(links: &[(usize, usize, u64)]) -> Vec<Option<NodeId>> {
    let s = build(5, links, &[0, 1, 2, 3, 4], Protocol::Static, 1);
    s.next_hops()
}

#[test]
fn distance_vector_converges_to_the_dijkstra_next_hops_on_a_quiet_network() {
    let mut n = build(
        5,
        &MESH,
        &[0, 1, 2, 3, 4],
        Protocol::DistanceVector(DvConfig::default()),
        3,
    );
    n.run_until(SimTime::from_secs(20));
    assert_eq!(n.next_hops(), dijkstra_hops(&MESH));
    // The start is the only topology change; no route changed after the
    // first few updates (at most the diameter, 3 router hops, times the
    // longest period, 0.7 s, plus propagation).
    let conv = n.net.routing().stats().convergence();
    assert_eq!(conv.len(), 1);
    assert!(conv[0].time < SimTime::from_secs(3), "{conv:?}");
}

#[test]
fn link_state_converges_to_the_dijkstra_next_hops_on_a_quiet_network() {
    let mut n = build(
        5,
        &MESH,
        &[0, 1, 2, 3, 4],
        Protocol::LinkState(LsConfig::default()),
        3,
    );
    n.run_until(SimTime::from_secs(20));
    assert_eq!(n.next_hops(), dijkstra_hops(&MESH));
}

/// h0 - r0 - r1 - h1 with a 100 ms core line and h1's line of 1 ms; the
/// r1-h1 line fails just as r0's update timer fires. Returns the distinct
/// successive estimates of r1 to h1 from the failure on.
fn fail_behind_a_stale_update(split_horizon: bool) -> (Net, SimTime, Vec<Metric>) {
    let cfg = DvConfig {
        split_horizon,
        ..DvConfig::default()
    };
    let mut n = build(2, &[(0, 1, 100)], &[0, 1], Protocol::DistanceVector(cfg), 5);
    n.run_until(SimTime::from_secs(10));
    let (r0, r1, h1) = (n.routers[0], n.routers[1], n.hosts[1]);
    // Converged: r1 reaches h1 over its 1 ms line, r0 over 100 + 1 ms.
    assert_eq!(n.net.routing().dv_distance(r1, h1), Some(1_000));
    assert_eq!(n.net.routing().dv_distance(r0, h1), Some(101_000));
    let failed_at = loop {
        let (t, ev) = n.sched.step(SimTime::MAX).unwrap();
        if matches!(ev, NetEvent::RoutingTimer(node, _) if node == r0) {
            n.set_link(r1, h1, false);
            n.net.handle(&mut n.sched, ev);
            break t;
        }
        n.net.handle(&mut n.sched, ev);
    };
    let mut seen = vec![n.net.routing().dv_distance(r1, h1).unwrap()];
    while let Some((_, ev)) = n.sched.step(failed_at + SimTime::from_secs(30)) {
        n.net.handle(&mut n.sched, ev);
        let d = n.net.routing().dv_distance(r1, h1).unwrap();
        if seen.last() != Some(&d) {
            seen.push(d);
        }
    }
    (n, failed_at, seen)
}

#[test]
fn without_split_horizon_the_distance_counts_to_infinity() {
    let (n, failed_at, seen) = fail_behind_a_stale_update(false);
    // r1 loses h1 (carrier) and at once believes the 101 ms in r0's last
    // vector: 100 + 101. Each exchange adds the line twice (r1 -> r0 ->
    // r1): 201, 401, 601, 801 ms; the next, 1001 ms, reaches infinity (1 s).
    assert_eq!(seen, [201_000, 401_000, 601_000, 801_000, UNREACHABLE]);
    // Four exchanges of at least one period (0.95 x 2/3 s) each.
    let conv = n.net.routing().stats().convergence();
    let last = conv.last().unwrap();
    assert_eq!(last.at, failed_at);
    assert!(last.time > SimTime::from_millis(4 * 633), "{last:?}");
}

#[test]
fn with_split_horizon_the_two_router_loop_never_forms() {
    let (n, failed_at, seen) = fail_behind_a_stale_update(true);
    // r0 routes to h1 through r1, so it reports h1 unreachable to r1.
    assert_eq!(seen, [UNREACHABLE]);
    let (r0, h1) = (n.routers[0], n.hosts[1]);
    assert_eq!(n.net.routing().dv_distance(r0, h1), Some(UNREACHABLE));
    // r0 learns within one period of r1 (at most 1.05 x 2/3 s) plus the
    // line (100 ms and the transmission).
    let conv = n.net.routing().stats().convergence();
    let last = conv.last().unwrap();
    assert_eq!(last.at, failed_at);
    assert!(last.time <= SimTime::from_millis(700 + 101), "{last:?}");
}

#[test]
fn a_packet_caught_in_the_loop_is_dropped_when_its_ttl_expires() {
    // The failure of the count-to-infinity test; send into the loop once
    // r1 routes to h1 via r0.
    let cfg = DvConfig::default();
    let mut m = build(2, &[(0, 1, 100)], &[0, 1], Protocol::DistanceVector(cfg), 5);
    m.run_until(SimTime::from_secs(10));
    let (r0, r1, h0, h1) = (m.routers[0], m.routers[1], m.hosts[0], m.hosts[1]);
    loop {
        let (_, ev) = m.sched.step(SimTime::MAX).unwrap();
        if matches!(ev, NetEvent::RoutingTimer(node, _) if node == r0) {
            m.set_link(r1, h1, false);
            m.net.handle(&mut m.sched, ev);
            break;
        }
        m.net.handle(&mut m.sched, ev);
    }
    while m.net.route(r1, h1).map(|ch| m.net.channels()[ch].to) != Some(r0) {
        let (_, ev) = m.sched.step(SimTime::MAX).unwrap();
        m.net.handle(&mut m.sched, ev);
    }
    let mut p = Packet::udp(
        host_addr(0),
        host_addr(1),
        UdpHeader {
            src_port: 9,
            dst_port: 9,
        },
        Bytes::from_static(b"looping"),
    );
    // Eight router hops of 100 ms: well inside the loop's life (> 2.5 s).
    p.ttl = 8;
    assert!(m.net.send(&mut m.sched, h0, p).is_none());
    let t = m.sched.now() + SimTime::from_secs(2);
    m.run_until(t);
    assert_eq!(m.net.drops().get(&DropReason::TtlExpired), Some(&1));
}

#[test]
fn link_state_reroutes_to_the_dijkstra_routes_of_the_remaining_graph() {
    let ls = Protocol::LinkState(LsConfig::default());
    let mut n = build(5, &MESH, &[0, 1, 2, 3, 4], ls, 4);
    n.run_until(SimTime::from_secs(5));
    let before = n.net.routing().stats().route_changes.len();
    let (a, b) = (n.routers[1], n.routers[3]);
    n.set_link(a, b, false);
    let failed_at = n.sched.now();
    n.run_until(SimTime::from_secs(60));
    let remaining: Vec<_> = MESH.iter().copied().filter(|l| *l != (1, 3, 20)).collect();
    assert_eq!(n.next_hops(), dijkstra_hops(&remaining));
    // Flooding reaches every router along some simple path: at most the
    // sum of all line delays (86 ms) plus a transmission per line (an
    // update of under 100 bytes at 10 Mbit/s: 80 us), then the SPF delay
    // (50 ms).
    let conv = n.net.routing().stats().convergence();
    let last = conv.last().unwrap();
    assert_eq!(last.at, failed_at);
    assert!(
        last.time <= SimTime::from_micros(86_000 + 6 * 80 + 50_000),
        "{last:?}"
    );
    // No counting: each (router, destination) changes at most once per
    // update of the two ends of the line.
    let mut per: BTreeMap<(NodeId, NodeId), u32> = BTreeMap::new();
    for &(_, r, d) in &n.net.routing().stats().route_changes[before..] {
        *per.entry((r, d)).or_default() += 1;
    }
    assert!(per.values().all(|&k| k <= 2), "{per:?}");
}

#[test]
fn a_lost_link_state_update_is_retransmitted_until_acknowledged() {
    // r0 - r1 - r2 with a lossy r1-r2 line.
    let ls = Protocol::LinkState(LsConfig::default());
    let mut n = Network::new(Streams::new(11));
    let r: Vec<NodeId> = (0..3)
        .map(|i| n.add_node(&format!("r{i}"), NodeKind::Router, None))
        .collect();
    let h0 = n.add_node("h0", NodeKind::Host, Some(host_addr(0)));
    let h2 = n.add_node("h2", NodeKind::Host, Some(host_addr(2)));
    n.add_link(h0, r[0], params(1));
    n.add_link(h2, r[2], params(1));
    n.add_link(r[0], r[1], params(5));
    let mut lossy = params(5);
    lossy.loss = 0.4;
    n.add_link(r[1], r[2], lossy);
    n.compute_routes(Routing::Delay);
    let want: Vec<_> = r
        .iter()
        .map(|&x| (n.route(x, h0), n.route(x, h2)))
        .collect();
    n.set_routing_protocol(ls);
    let mut s = Scheduler::new();
    n.start_routing(&mut s);
    while let Some((_, ev)) = s.step(SimTime::from_secs(30)) {
        n.handle(&mut s, ev);
    }
    assert!(n.drops()[&DropReason::Loss] > 0);
    assert!(n.routing().stats().retransmissions > 0);
    let got: Vec<_> = r
        .iter()
        .map(|&x| (n.route(x, h0), n.route(x, h2)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn control_packets_are_real_bytes_counted_on_the_links() {
    let mut n = build(
        2,
        &[(0, 1, 3)],
        &[0, 1],
        Protocol::DistanceVector(DvConfig::default()),
        2,
    );
    n.run_until(SimTime::from_secs(10));
    // Two hosts: 20 (IPv4) + 8 (UDP) + 8 (header) + 2 x 4 bytes.
    let st = n.net.routing().stats();
    assert_eq!(st.bytes, st.messages * 44);
    let r0_r1 = n
        .net
        .channels()
        .iter()
        .position(|c| c.from == n.routers[0] && c.to == n.routers[1])
        .unwrap();
    let c = &n.net.channels()[r0_r1].stats;
    assert_eq!(c.bytes, c.packets * 44);
    // One update per period of 0.95 to 1.05 x 2/3 s over 10 s.
    assert!((14..=16).contains(&c.packets), "{}", c.packets);
    let addr = n.net.routing().address(n.routers[0]);
    assert_eq!(addr, Some(Ipv4Addr::new(10, 255, 0, 1)));
}

#[test]
fn messages_parse_back_from_their_bytes() {
    let msgs = [
        ControlMessage::DvUpdate {
            first: 7,
            delays: vec![1, UNREACHABLE, 300],
        },
        ControlMessage::LsUpdate {
            origin: Ipv4Addr::new(10, 255, 0, 3),
            seq: 9,
            links: vec![(Ipv4Addr::new(10, 0, 0, 1), 1_000)],
        },
        ControlMessage::LsAck {
            origin: Ipv4Addr::new(10, 255, 0, 3),
            seq: 9,
        },
    ];
    for m in msgs {
        let p = Packet::udp(
            Ipv4Addr::new(10, 255, 0, 1),
            Ipv4Addr::new(10, 255, 0, 2),
            UdpHeader {
                src_port: m.port(),
                dst_port: m.port(),
            },
            Bytes::from(m.emit()),
        );
        let wire = p.emit();
        assert_eq!(wire.len(), p.wire_len());
        assert_eq!(u16::from_be_bytes([wire[22], wire[23]]), m.port());
        assert_eq!(ControlMessage::parse(&wire[28..]), Ok(m.clone()));
        assert_eq!(
            ControlMessage::parse(&wire[28..wire.len() - 1]),
            Err(CodecError::Truncated)
        );
    }
    assert_eq!(
        ControlMessage::parse(&[2, 1, 0, 0]),
        Err(CodecError::Unknown)
    );
}

#[test]
fn a_rebooted_link_state_router_relearns_and_outnumbers_its_old_updates() {
    let ls = Protocol::LinkState(LsConfig::default());
    let mut n = build(5, &MESH, &[0, 1, 2, 3, 4], ls, 8);
    n.run_until(SimTime::from_secs(5));
    let r2 = n.routers[2];
    n.net.set_node_up(r2, false);
    n.net.apply_topology_changes(&mut n.sched);
    n.run_until(SimTime::from_secs(10));
    n.net.set_node_up(r2, true);
    n.net.apply_topology_changes(&mut n.sched);
    n.run_until(SimTime::from_secs(30));
    assert_eq!(n.next_hops(), dijkstra_hops(&MESH));
}

#[test]
fn the_same_seed_gives_the_same_route_change_log() {
    for protocol in [
        Protocol::DistanceVector(DvConfig::default()),
        Protocol::LinkState(LsConfig::default()),
    ] {
        let logs: Vec<_> = (0..2)
            .map(|_| {
                let mut n = build(5, &MESH, &[0, 1, 2, 3, 4], protocol, 21);
                n.run_until(SimTime::from_secs(5));
                let (a, b) = (n.routers[0], n.routers[1]);
                n.set_link(a, b, false);
                n.run_until(SimTime::from_secs(20));
                n.net.routing().stats().route_changes.clone()
            })
            .collect();
        assert!(!logs[0].is_empty());
        assert_eq!(logs[0], logs[1]);
    }
}

#[test]
fn convergence_attributes_route_changes_to_the_latest_topology_change() {
    let ms = SimTime::from_millis;
    let stats = RoutingStats {
        topology_changes: vec![ms(0), ms(100), ms(500)],
        route_changes: vec![(ms(10), 0, 1), (ms(40), 0, 1), (ms(150), 1, 1)],
        ..RoutingStats::default()
    };
    let c = stats.convergence();
    assert_eq!((c[0].route_changes, c[0].time), (2, ms(40)));
    assert_eq!((c[1].route_changes, c[1].time), (1, ms(50)));
    assert_eq!((c[2].route_changes, c[2].time), (0, ms(0)));
}
