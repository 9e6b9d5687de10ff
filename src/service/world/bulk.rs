//! Bulk transfers: a sender opens a TCP connection, writes a fixed number
//! of bytes and closes; the receiver is a discard service (RFC 863, port 9)
//! that reads and throws away everything, and closes when the sender does.
//!
//! A flow is counted `opened` when its SYN is queued, `completed` when the
//! sink has received its last byte (the flow completion time runs from the
//! open to that moment), and `failed` when the sender's connection ends
//! (reset, time-out, crash) before that. Flows neither completed nor
//! failed at the end of the run are `in_progress`.
//!
//! Deliberate simplifications:
//! - The payload is zero bytes: nothing reads it.
//! - The sink learns which flow it serves from the sender's connection in
//!   this same world (bookkeeping only, as the ledger does for mail).

use std::net::Ipv4Addr;

use rand::Rng;

use crate::net::TcpHeader;
use crate::sim::SimTime;
use crate::transport::tcp::TcpConnection;

use super::conn::Role;
use super::{HostId, World};

/// The discard port (RFC 863).
pub(crate) const PORT_DISCARD: u16 = 9;

/// Counters and flow records of bulk transfers.
#[derive(Clone, Debug, Default)]
pub struct BulkStats {
    /// Every flow, in the order opened.
    pub flows: Vec<Flow>,
    /// Bytes delivered to discard sinks, over all flows.
    pub bytes_delivered: u64,
}

/// One bulk transfer.
#[derive(Clone, Debug)]
pub struct Flow {
    /// When the sender opened it.
    pub opened: SimTime,
    /// Bytes to send.
    pub bytes: u64,
    /// When the sink received the last byte.
    pub completed: Option<SimTime>,
    /// The sender's connection ended first.
    pub failed: bool,
}

impl BulkStats {
    /// Flows completed.
    pub fn completed(&self) -> usize {
        self.flows.iter().filter(|f| f.completed.is_some()).count()
    }

    /// Flows that failed.
    pub fn failed(&self) -> usize {
        self.flows.iter().filter(|f| f.failed).count()
    }

    /// Flow completion times in seconds, in the order the flows opened.
    pub fn completion_times(&self) -> Vec<f64> {
        self.flows
            .iter()
            .filter_map(|f| f.completed.map(|c| (c - f.opened).as_secs_f64()))
            .collect()
    }
}

/// The bulk state of a world: which hosts run a sink, and the flows.
#[derive(Default)]
pub(crate) struct Bulk {
    listening: Vec<bool>,
    pub(crate) stats: BulkStats,
}

/// A connection's part in a bulk transfer.
pub(super) enum BulkRole {
    /// The sender of flow `flow`.
    Send { flow: usize },
    /// A discard sink; `flow` is the flow it serves, when known.
    Sink { flow: Option<usize>, received: u64 },
}

impl World {
    /// Runs a discard sink on port 9 of host `h`.
    pub fn bulk_listen(&mut self, h: HostId) {
        let listening = &mut self.bulk.listening;
        if listening.len() <= h {
            listening.resize(h + 1, false);
        }
        listening[h] = true;
    }

    /// Opens a flow from host `from` to the discard port of `to` and
    /// queues `bytes` bytes and a FIN on it.
    pub fn bulk_open(&mut self, from: HostId, to: Ipv4Addr, bytes: u64) {
        let now = self.now();
        let flow = self.bulk.stats.flows.len();
        self.bulk.stats.flows.push(Flow {
            opened: now,
            bytes,
            completed: None,
            failed: false,
        });
        let local = self.unused_port(from, to, PORT_DISCARD);
        let iss = self.hosts[from].iss.next_u32();
        let mut tcp = TcpConnection::connect(now, self.hosts[from].tcp, local, PORT_DISCARD, iss);
        tcp.send(&vec![0u8; usize::try_from(bytes).unwrap_or(0)]);
        tcp.close();
        let role = Role::Bulk(BulkRole::Send { flow });
        let cid = self.insert_conn(from, local, (to, PORT_DISCARD), tcp, role);
        self.with_conn(cid, |_, _| {});
    }

    /// Bulk statistics so far.
    pub fn bulk_stats(&self) -> &BulkStats {
        &self.bulk.stats
    }

    /// The sink role for a SYN to port 9 of `h`, if `h` runs one.
    pub(super) fn bulk_accept(&self, h: HostId, src: Ipv4Addr, hdr: &TcpHeader) -> Option<Role> {
        if !self.bulk.listening.get(h).copied().unwrap_or(false) {
            return None;
        }
        let flow = self.bulk_peer_flow(h, src, hdr.src_port);
        Some(Role::Bulk(BulkRole::Sink { flow, received: 0 }))
    }

    /// Bytes reached a bulk connection: a sink counts them, and records the
    /// flow's completion at its last byte.
    pub(super) fn bulk_data(&mut self, role: &mut BulkRole, n: usize) {
        let BulkRole::Sink { flow, received } = role else {
            return;
        };
        *received += n as u64;
        self.bulk.stats.bytes_delivered += n as u64;
        let now = self.now();
        if let Some(f) = flow.and_then(|f| self.bulk.stats.flows.get_mut(f))
            && f.completed.is_none()
            && *received >= f.bytes
        {
            f.completed = Some(now);
        }
    }

    /// A bulk connection ended: a sender whose flow is not complete failed.
    pub(super) fn bulk_lost(&mut self, role: &BulkRole) {
        if let BulkRole::Send { flow } = role
            && let Some(f) = self.bulk.stats.flows.get_mut(*flow)
            && f.completed.is_none()
        {
            f.failed = true;
        }
    }

    /// The flow whose sender is `src:src_port` talking to host `h`.
    fn bulk_peer_flow(&self, h: HostId, src: Ipv4Addr, src_port: u16) -> Option<usize> {
        let peer_node = self.net.node_of(src)?;
        let peer = self.host_by_node[peer_node]?;
        let key = (peer, src_port, self.hosts[h].addr, PORT_DISCARD);
        let cid = *self.demux.get(&key)?;
        match &self.conns[cid].as_ref()?.role {
            Role::Bulk(BulkRole::Send { flow }) => Some(*flow),
            _ => None,
        }
    }
}
