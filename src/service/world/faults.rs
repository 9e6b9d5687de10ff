//! Faults applied to the world: node crashes and restarts, partitions,
//! loss bursts and link changes, each noted in the transcript.
//!
//! What a crash loses is what a real machine keeps only in memory: open
//! TCP connections (they vanish without a word on the wire; the peer finds
//! out by time-out or, once the host is back, by a RST for the forgotten
//! connection, RFC 9293 section 3.10.7.1), the packets in its output
//! buffers (dropped as `node_down`), the resolver's cache and lookups, and
//! an MTA queue set to `memory`: every message in it ends `dropped` with
//! the reason `crash`. What survives is what is on disk: mailboxes, an MTA
//! queue on disk (the default: an MTA answers 250 only once the message is
//! on stable storage, RFC 5321 section 6.1), and a client's outbox (mail
//! programs keep it as a folder on disk).
//!
//! Deliberate simplifications: a restart is instantaneous (no boot time);
//! a client's POP3/IMAP bookkeeping (UIDs seen) is on disk too.

use crate::net::{LossModel, NodeId};
use crate::service::ledger::Fate;
use crate::sim::SimTime;

use super::{HostId, World};

impl World {
    /// Node `node` (a host or a router) crashes (`up` false) or restarts.
    pub fn set_node_up(&mut self, node: NodeId, up: bool) {
        if let Some(h) = self.host_by_node.get(node).copied().flatten() {
            self.set_host_up(h, up);
            return;
        }
        if self.net.node(node).up == up {
            return;
        }
        let before = self
            .net
            .drops()
            .get(&crate::net::DropReason::NodeDown)
            .copied();
        self.net.set_node_up(node, up);
        if self.transcript.enabled() {
            let after = self
                .net
                .drops()
                .get(&crate::net::DropReason::NodeDown)
                .copied();
            let lost = after.unwrap_or(0) - before.unwrap_or(0);
            let text = if up {
                "router up: forwarding again".to_string()
            } else {
                format!("router down (crash): {lost} buffered packets dropped (node_down)")
            };
            let (now, who) = (self.now(), self.net.node(node).name.clone());
            self.transcript.note(now, &who, &text);
        }
    }

    /// What host `h` loses in a crash besides its connections: a memory
    /// queue (each recipient settled as dropped, reason `crash`) and its
    /// resolver's memory.
    pub(super) fn lose_memory(&mut self, h: HostId) {
        let now = self.now();
        let Some(mta) = self.hosts[h].mta.as_mut() else {
            return;
        };
        mta.resolver.forget();
        mta.lookups.clear();
        if let Some((_, key)) = mta.resolver_timer.take() {
            self.sched.cancel(key);
        }
        let memory = mta.memory_queue();
        let lost = mta.lose_memory_queue();
        let mut recipients = 0;
        for (msg, rcpts) in &lost {
            recipients += rcpts.len();
            let Some(m) = *msg else { continue };
            for r in rcpts {
                self.ledger.settle(m, r, Fate::Dropped("crash".into()), now);
            }
        }
        if memory {
            let text = format!(
                "queue in memory lost in the crash: {} messages ({recipients} recipients) dropped",
                lost.len()
            );
            self.note(h, &text);
        }
    }

    /// Takes every link in `cut` down (a partition) or up (its heal).
    pub fn set_links_up(&mut self, cut: &[(NodeId, NodeId)], up: bool) {
        for &(a, b) in cut {
            self.set_link_up(a, b, up);
        }
    }

    /// Puts a loss model on the link between `a` and `b`, or with `None`
    /// goes back to the link's own loss; false if there is no such link.
    pub fn set_loss_model(&mut self, a: NodeId, b: NodeId, model: Option<LossModel>) -> bool {
        let found = self.net.set_loss_model(a, b, model);
        if found && self.transcript.enabled() {
            let text = match model {
                Some(m) => format!(
                    "loss burst starts (Gilbert-Elliott, long-run loss {:.4})",
                    m.mean_loss()
                ),
                None => "loss burst ends: back to the link's own loss".to_string(),
            };
            self.link_note(a, b, &text);
        }
        found
    }

    /// Changes the line rate and/or delay of the link between `a` and `b`
    /// for packets sent from now on; false if there is no such link.
    pub fn set_link_params(
        &mut self,
        a: NodeId,
        b: NodeId,
        bandwidth_bps: Option<u64>,
        delay: Option<SimTime>,
    ) -> bool {
        let found = self.net.set_link_params(a, b, bandwidth_bps, delay);
        if found && self.transcript.enabled() {
            let mut parts = Vec::new();
            if let Some(bps) = bandwidth_bps {
                parts.push(format!("bandwidth {bps} bit/s"));
            }
            if let Some(d) = delay {
                parts.push(format!("delay {d} s"));
            }
            self.link_note(a, b, &format!("link changes: {}", parts.join(", ")));
        }
        found
    }

    /// Host `h` answers a segment that matches no connection with a RST:
    /// after a restart this is how a peer learns its connection is gone.
    pub(super) fn note_forgotten_segment(&mut self, h: HostId, src: std::net::Ipv4Addr, port: u16) {
        if self.transcript.enabled() {
            let text = format!(
                "TCP segment from {}:{port} matches no connection here \
                 (as after a restart): answered with RST (RFC 9293 section 3.10.7.1)",
                self.name_of(src)
            );
            self.note(h, &text);
        }
    }

    fn link_note(&mut self, a: NodeId, b: NodeId, text: &str) {
        let (na, nb) = (self.net.node(a).name.clone(), self.net.node(b).name.clone());
        let now = self.now();
        self.transcript.note(now, &format!("{na}-{nb}"), text);
    }
}
