//! The message ledger: where every accepted (message, recipient) ends up.
//!
//! The ledger is bookkeeping beside the protocols, never a shortcut through
//! them: a message only moves when protocol bytes move it. The ledger
//! records what happened so the run can prove conservation (rule 5 of the
//! design): every recipient of every message ends delivered, bounced,
//! dropped with a reason, or still queued somewhere that can be named.

use crate::sim::SimTime;

/// Index of a message in the ledger.
pub type MsgId = u32;

/// What became of one recipient of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Not yet in a mailbox, bounced or dropped: in an outbox, a queue, or
    /// in transit.
    Pending,
    /// Committed to the recipient's mail store.
    Delivered,
    /// Given up on; a delivery status notification went to the sender.
    Bounced(String),
    /// Given up on without a bounce, with the reason.
    Dropped(String),
}

/// One recipient of one message.
#[derive(Clone, Debug)]
pub struct RcptRecord {
    /// The recipient address, lower-case.
    pub addr: String,
    /// When the recipient's store committed it.
    pub delivered: Option<SimTime>,
    /// When one of the recipient's clients first downloaded it.
    pub fetched: Option<SimTime>,
    /// `Received` trace fields in the stored copy (MTAs it passed).
    pub hops: u32,
    /// Failed delivery attempts by MTAs on the way.
    pub retries: u32,
    /// Where it ended.
    pub fate: Fate,
    /// When the fate was settled (delivery, bounce or drop).
    pub settled: Option<SimTime>,
}

/// One message as its sender composed it.
#[derive(Clone, Debug)]
pub struct MsgRecord {
    /// Envelope sender.
    pub sender: String,
    /// Size of the message as composed, in bytes.
    pub size: usize,
    /// When the sender's client composed it.
    pub created: SimTime,
    /// When the sender's MTA accepted it (the start of delivery latency).
    pub accepted: Option<SimTime>,
    /// Its recipients.
    pub rcpts: Vec<RcptRecord>,
}

/// The balance of a run, counted per (message, recipient).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Balance {
    /// Every (message, recipient) composed.
    pub submitted: u64,
    /// Committed to a mailbox.
    pub delivered: u64,
    /// Bounced back to the sender.
    pub bounced: u64,
    /// Still in an outbox, a queue, or a connection at the end.
    pub queued: u64,
    /// Dropped with a stated reason.
    pub dropped: u64,
    /// Pending but found nowhere: a bug if ever non-zero.
    pub lost: u64,
}

/// All messages of a run.
#[derive(Default)]
pub struct Ledger {
    /// Messages by id.
    pub msgs: Vec<MsgRecord>,
}

impl Ledger {
    /// Records a newly composed message and returns its id. Duplicate
    /// recipients count once, as an MTA would deliver them once.
    pub fn compose(&mut self, sender: &str, rcpts: &[String], size: usize, now: SimTime) -> MsgId {
        let mut records: Vec<RcptRecord> = Vec::new();
        for r in rcpts {
            let addr = r.to_ascii_lowercase();
            if records.iter().any(|x| x.addr == addr) {
                continue;
            }
            records.push(RcptRecord {
                addr,
                delivered: None,
                fetched: None,
                hops: 0,
                retries: 0,
                fate: Fate::Pending,
                settled: None,
            });
        }
        self.msgs.push(MsgRecord {
            sender: sender.to_string(),
            size,
            created: now,
            accepted: None,
            rcpts: records,
        });
        (self.msgs.len() - 1) as MsgId
    }

    /// The record of `addr` in message `msg`, if it is a recipient.
    pub fn rcpt_mut(&mut self, msg: MsgId, addr: &str) -> Option<&mut RcptRecord> {
        let m = self.msgs.get_mut(msg as usize)?;
        m.rcpts
            .iter_mut()
            .find(|r| r.addr.eq_ignore_ascii_case(addr))
    }

    /// Marks the first acceptance by an MTA (later hops keep the first).
    pub fn accepted(&mut self, msg: MsgId, now: SimTime) {
        if let Some(m) = self.msgs.get_mut(msg as usize) {
            m.accepted.get_or_insert(now);
        }
    }

    /// Sets the fate of a recipient still pending; a fate once settled
    /// stays (a late duplicate cannot turn a bounce into a delivery).
    pub fn settle(&mut self, msg: MsgId, addr: &str, fate: Fate, now: SimTime) {
        if let Some(r) = self.rcpt_mut(msg, addr) {
            if r.fate != Fate::Pending {
                return;
            }
            if fate == Fate::Delivered {
                r.delivered = Some(now);
            }
            r.fate = fate;
            r.settled = Some(now);
        }
    }

    /// Counts a failed delivery attempt for a recipient.
    pub fn retried(&mut self, msg: MsgId, addr: &str) {
        if let Some(r) = self.rcpt_mut(msg, addr) {
            r.retries += 1;
        }
    }

    /// Counts the balance. `holds(msg, addr)` must say whether some outbox,
    /// queue or open session still holds that pending recipient.
    pub fn balance(&self, mut holds: impl FnMut(MsgId, &str) -> bool) -> Balance {
        let mut b = Balance::default();
        for (id, m) in self.msgs.iter().enumerate() {
            for r in &m.rcpts {
                b.submitted += 1;
                match &r.fate {
                    Fate::Delivered => b.delivered += 1,
                    Fate::Bounced(_) => b.bounced += 1,
                    Fate::Dropped(_) => b.dropped += 1,
                    Fate::Pending if holds(id as MsgId, &r.addr) => b.queued += 1,
                    Fate::Pending => b.lost += 1,
                }
            }
        }
        b
    }

    /// Delivery latencies in seconds (acceptance to commit), unsorted.
    pub fn latencies(&self) -> Vec<f64> {
        let mut out = Vec::new();
        for m in &self.msgs {
            let Some(acc) = m.accepted else { continue };
            for r in &m.rcpts {
                if let Some(d) = r.delivered {
                    out.push((d - acc).as_secs_f64());
                }
            }
        }
        out
    }
}

impl Fate {
    /// The outcome's name in `messages.csv`.
    pub fn label(&self) -> &'static str {
        match self {
            Fate::Pending => "queued",
            Fate::Delivered => "delivered",
            Fate::Bounced(_) => "bounced",
            Fate::Dropped(_) => "dropped",
        }
    }

    /// The stated reason, for bounces and drops.
    pub fn reason(&self) -> &str {
        match self {
            Fate::Bounced(r) | Fate::Dropped(r) => r,
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_recipient_nobody_holds_is_lost() {
        let mut l = Ledger::default();
        let m = l.compose(
            "a@x",
            &["b@y".into(), "c@y".into(), "B@y".into()],
            10,
            SimTime::ZERO,
        );
        assert_eq!(l.msgs[0].rcpts.len(), 2);
        l.settle(m, "b@y", Fate::Delivered, SimTime::from_secs(1));
        let b = l.balance(|_, _| false);
        assert_eq!((b.submitted, b.delivered, b.lost), (2, 1, 1));
        let b = l.balance(|_, _| true);
        assert_eq!((b.queued, b.lost), (1, 0));
    }

    #[test]
    fn a_settled_fate_is_never_overwritten() {
        let mut l = Ledger::default();
        let m = l.compose("a@x", &["b@y".into()], 10, SimTime::ZERO);
        l.settle(
            m,
            "b@y",
            Fate::Bounced("5.1.1".into()),
            SimTime::from_secs(1),
        );
        l.settle(m, "b@y", Fate::Delivered, SimTime::from_secs(2));
        assert_eq!(l.msgs[0].rcpts[0].fate, Fate::Bounced("5.1.1".into()));
        assert_eq!(l.msgs[0].rcpts[0].delivered, None);
    }
}
