//! The MTA: acceptance, local delivery, the outbound queue, relay through
//! MX lookup, retry with back-off, and bounces.
//!
//! Behaviour follows RFC 5321: a `Received` field at every hop (section
//! 4.4), MX selection in preference order with the implicit MX (section
//! 5.1), retry until a maximum queue lifetime and then a delivery status
//! notification with the null reverse-path that is never itself bounced
//! (sections 4.5.4.1 and 6.1), and submission on port 587 (RFC 6409), where
//! the MSA adds a missing `Message-ID` and `Date` (RFC 6409 section 8).
//!
//! Deliberate simplifications: submission trusts clients by port (no AUTH
//! yet, like a `mynetworks` rule); one queue entry per (message, domain);
//! queue and store survive a host crash, as on disk, unless the queue is
//! set to memory (see `faults`); disk and CPU service times are zero for
//! now.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use bytes::Bytes;

use crate::proto::dns::{MxResult, Resolver};
use crate::proto::message::{self, DsnRecipient};
use crate::proto::smtp::{
    Envelope, Outcome, Policy, RcptResult, RcptVerdict, SmtpClient, enhanced_status,
};
use crate::service::ledger::{Fate, MsgId};
use crate::sim::SimTime;

use super::conn::{PeerTag, Role};
use super::{Event, HostId, PORT_SMTP, World, domain_of};

/// An MTA's timing parameters (RFC 5321 section 4.5.4.1 gives the
/// guidance: retry after at least 30 minutes, give up after 4-5 days).
#[derive(Clone, Debug)]
pub struct MtaSettings {
    /// First retry interval.
    pub retry_initial: SimTime,
    /// Each later interval is the previous times this.
    pub retry_backoff: f64,
    /// Longest retry interval.
    pub retry_max: SimTime,
    /// Age at which an undeliverable message is bounced.
    pub queue_lifetime: SimTime,
    /// The queue is in memory and lost in a crash (otherwise on disk).
    pub memory_queue: bool,
    /// Domains whose mailboxes are in this host's store.
    pub local_domains: BTreeSet<String>,
    /// Domains this host is an MX for (without holding them), with its
    /// preference there.
    pub mx_for: BTreeMap<String, u16>,
}

/// One recipient waiting in a queue entry.
#[derive(Clone, Debug)]
struct Rcpt {
    addr: String,
}

/// One message for one domain, waiting for delivery.
struct QueueEntry {
    mail_from: String,
    domain: String,
    rcpts: Vec<Rcpt>,
    data: Bytes,
    msg: Option<MsgId>,
    arrived: SimTime,
    attempts: u32,
    busy: bool,
    targets: Vec<Ipv4Addr>,
    next_target: usize,
    last_error: String,
}

/// An MTA's state.
pub(crate) struct Mta {
    hostname: String,
    settings: MtaSettings,
    pub(super) resolver: Resolver,
    pub(super) resolver_timer: Option<(SimTime, crate::sim::EventKey)>,
    /// Pending lookups: resolver lookup id -> queue id.
    pub(super) lookups: BTreeMap<u64, u64>,
    queue: BTreeMap<u64, QueueEntry>,
    next_qid: u64,
}

impl Mta {
    pub(super) fn new(hostname: String, settings: MtaSettings, resolver: Resolver) -> Self {
        Mta {
            hostname,
            settings,
            resolver,
            resolver_timer: None,
            lookups: BTreeMap::new(),
            queue: BTreeMap::new(),
            next_qid: 1,
        }
    }

    pub(super) fn holds(&self, msg: MsgId, addr: &str) -> bool {
        self.queue.values().any(|e| {
            e.msg == Some(msg) && e.rcpts.iter().any(|r| r.addr.eq_ignore_ascii_case(addr))
        })
    }

    /// Why recipient `addr` of message `msg` is still queued here: the
    /// error of its last attempt (empty when none failed yet).
    pub(super) fn last_error(&self, msg: MsgId, addr: &str) -> Option<&str> {
        self.queue
            .values()
            .find(|e| {
                e.msg == Some(msg) && e.rcpts.iter().any(|r| r.addr.eq_ignore_ascii_case(addr))
            })
            .map(|e| e.last_error.as_str())
    }

    pub(super) fn queue_len(&self) -> usize {
        self.queue.len()
    }

    fn is_local(&self, domain: &str) -> bool {
        self.settings.local_domains.contains(domain)
    }
}

/// The RCPT rules of one MTA for one session.
pub(super) struct RcptPolicy<'a> {
    mta: Option<&'a Mta>,
    store: Option<&'a crate::proto::mailbox::Mailstore>,
    submission: bool,
}

impl Policy for RcptPolicy<'_> {
    /// RFC 5321 section 3.6.2: accept for local mailboxes that exist, for
    /// domains this host is MX for, and anything from submission clients;
    /// refuse to be an open relay otherwise.
    fn rcpt(&mut self, _mail_from: &str, rcpt: &str) -> RcptVerdict {
        let Some(mta) = self.mta else {
            return reject(451, "4.3.0 mail system not running");
        };
        let domain = domain_of(rcpt);
        if mta.is_local(&domain) {
            let known = self.store.is_some_and(|s| s.has_account(rcpt));
            return if known {
                RcptVerdict::Accept
            } else {
                reject(550, "5.1.1 no such mailbox here")
            };
        }
        if self.submission || mta.settings.mx_for.contains_key(&domain) {
            return RcptVerdict::Accept;
        }
        reject(554, "5.7.1 relay access denied")
    }
}

fn reject(code: u16, text: &str) -> RcptVerdict {
    RcptVerdict::Reject {
        code,
        text: text.to_string(),
    }
}

impl World {
    pub(super) fn rcpt_policy(&self, h: HostId, submission: bool) -> RcptPolicy<'_> {
        let host = &self.hosts[h];
        RcptPolicy {
            mta: host.mta.as_ref(),
            store: host.store.as_ref(),
            submission,
        }
    }

    /// A message came in over SMTP: add the trace field, record it, and
    /// route it. Returns the queue id for the 250 reply.
    pub(super) fn mta_accept_smtp(
        &mut self,
        h: HostId,
        remote: (Ipv4Addr, u16),
        local_port: u16,
        env: Envelope,
        helo: &str,
        submission: bool,
    ) -> Result<String, (u16, String)> {
        let now = self.now();
        let unix = self.unix(now);
        let Some(mta) = self.hosts[h].mta.as_mut() else {
            return Err((451, "4.3.0 mail system not running".into()));
        };
        let qid = mta.next_qid;
        mta.next_qid += 1;
        let queue_id = format!("{qid:X}");
        let hostname = mta.hostname.clone();

        // Identity for the ledger, from the peer session if it is ours.
        let msg = match self.peer_msg(h, remote, local_port) {
            Some(PeerTag::Submission(m)) => Some(m),
            Some(PeerTag::Relay(ph, pq)) => self.hosts[ph].mta.as_ref().and_then(|m| m.msg_of(pq)),
            None => {
                self.stats.untracked_accepted += 1;
                None
            }
        };
        if let Some(m) = msg {
            self.ledger.accepted(m, now);
        }

        let mut data = env.data.clone();
        if submission {
            data = complete_submission(&data, &hostname, &queue_id, unix);
        }
        let single = (env.rcpts.len() == 1).then(|| env.rcpts[0].as_str());
        // RFC 3848: "ESMTPA"/"ESMTPSA" would claim AUTH (and TLS), which
        // this MSA does not offer yet.
        let with = "ESMTP";
        let trace =
            message::received_header(&hostname, helo, remote.0, with, &queue_id, single, unix);
        data = message::prepend_header(&data, "Received", &trace);

        self.mta_route(h, &env.mail_from, &env.rcpts, data, msg);
        Ok(queue_id)
    }

    /// Delivers local recipients now and queues the rest per domain.
    pub(super) fn mta_route(
        &mut self,
        h: HostId,
        mail_from: &str,
        rcpts: &[String],
        data: Bytes,
        msg: Option<MsgId>,
    ) {
        let now = self.now();
        let mut remote: BTreeMap<String, Vec<Rcpt>> = BTreeMap::new();
        for r in rcpts {
            let domain = domain_of(r);
            let local = self.hosts[h]
                .mta
                .as_ref()
                .is_some_and(|m| m.is_local(&domain));
            if local {
                self.deliver_local(h, mail_from, r, &data, msg);
            } else {
                remote.entry(domain).or_default().push(Rcpt {
                    addr: r.to_ascii_lowercase(),
                });
            }
        }
        for (domain, rcpts) in remote {
            let Some(mta) = self.hosts[h].mta.as_mut() else {
                return;
            };
            let qid = mta.next_qid;
            mta.next_qid += 1;
            mta.queue.insert(
                qid,
                QueueEntry {
                    mail_from: mail_from.to_string(),
                    domain,
                    rcpts,
                    data: data.clone(),
                    msg,
                    arrived: now,
                    attempts: 0,
                    busy: false,
                    targets: Vec::new(),
                    next_target: 0,
                    last_error: String::new(),
                },
            );
            self.sched.schedule(now, Event::MtaAttempt(h, qid));
        }
    }

    /// Commits a message to a local mailbox.
    fn deliver_local(
        &mut self,
        h: HostId,
        mail_from: &str,
        rcpt: &str,
        data: &Bytes,
        msg: Option<MsgId>,
    ) {
        let now = self.now();
        // RFC 5321 section 4.4: the delivering MTA records the reverse-path.
        let copy = message::prepend_header(data, "Return-Path", &format!("<{mail_from}>"));
        let stored = self.hosts[h]
            .store
            .as_mut()
            .and_then(|s| s.deliver(rcpt, copy, now));
        let Some(uid) = stored else {
            // The RCPT check makes this unreachable for SMTP; a DSN to a
            // vanished local sender lands here.
            self.bounce(
                h,
                mail_from,
                data,
                msg,
                &[(
                    rcpt.to_string(),
                    "5.1.1".into(),
                    "550 5.1.1 no such mailbox".into(),
                )],
            );
            return;
        };
        let Some(m) = msg else { return };
        let hops = message::count_headers(data, "Received") as u32;
        if let Some(r) = self.ledger.rcpt_mut(m, rcpt) {
            r.hops = hops;
        }
        self.ledger.settle(m, rcpt, Fate::Delivered, now);
        self.stored.insert((h, rcpt.to_ascii_lowercase(), uid), m);
    }

    /// A retry timer fired, or a new entry is ready: look up the MX.
    pub(super) fn mta_attempt(&mut self, h: HostId, qid: u64) {
        let now = self.now();
        let up = self.hosts[h].up;
        let Some(mta) = self.hosts[h].mta.as_mut() else {
            return;
        };
        let Some(e) = mta.queue.get_mut(&qid) else {
            return;
        };
        if e.busy || !up {
            return;
        }
        e.busy = true;
        let domain = e.domain.clone();
        let lookup = mta.resolver.lookup_mx(now, &domain);
        mta.lookups.insert(lookup.0, qid);
        self.drive_resolver(h);
    }

    /// The MX lookup for a queue entry finished.
    pub(super) fn mta_mx_result(&mut self, h: HostId, qid: u64, result: MxResult) {
        let own = self.hosts[h].addr;
        let Some(mta) = self.hosts[h].mta.as_mut() else {
            return;
        };
        let Some(e) = mta.queue.get_mut(&qid) else {
            return;
        };
        match result {
            MxResult::Ok(targets) => {
                // RFC 5321 section 5.1: an MX for the domain only tries
                // hosts more preferred than itself.
                let ceiling = mta
                    .settings
                    .mx_for
                    .get(&e.domain)
                    .copied()
                    .unwrap_or(u16::MAX);
                let addrs: Vec<Ipv4Addr> = targets
                    .iter()
                    .filter(|t| t.preference < ceiling)
                    .flat_map(|t| t.addrs.iter().copied())
                    .filter(|a| *a != own)
                    .collect();
                if addrs.is_empty() && ceiling != u16::MAX {
                    let why = "550 5.4.6 mail for this domain loops back to myself";
                    self.bounce_entry(h, qid, "5.4.6", why);
                    return;
                }
                if addrs.is_empty() {
                    self.mta_defer(h, qid, "no address for any MX host".into());
                    return;
                }
                e.targets = addrs;
                e.next_target = 0;
                self.mta_connect(h, qid);
            }
            MxResult::NoSuchDomain => {
                let why = format!("550 5.1.2 domain {} does not exist (NXDOMAIN)", e.domain);
                self.bounce_entry(h, qid, "5.1.2", &why);
            }
            MxResult::PermFail(reason) => {
                let why = format!("550 5.1.2 no mail exchanger for {}: {reason}", e.domain);
                self.bounce_entry(h, qid, "5.1.2", &why);
            }
            MxResult::TempFail(reason) => self.mta_defer(h, qid, format!("DNS: {reason}")),
        }
    }

    /// Opens an SMTP connection to the entry's next MX address.
    fn mta_connect(&mut self, h: HostId, qid: u64) {
        if !self.hosts[h].up {
            return;
        }
        let Some(mta) = self.hosts[h].mta.as_mut() else {
            return;
        };
        let Some(e) = mta.queue.get_mut(&qid) else {
            return;
        };
        let Some(&addr) = e.targets.get(e.next_target) else {
            return;
        };
        e.next_target += 1;
        let env = Envelope {
            mail_from: e.mail_from.clone(),
            rcpts: e.rcpts.iter().map(|r| r.addr.clone()).collect(),
            data: e.data.clone(),
        };
        let client = SmtpClient::new(&mta.hostname, env);
        self.connect(
            h,
            addr,
            PORT_SMTP,
            Role::SmtpRelay {
                client,
                qid,
                done: false,
            },
        );
    }

    /// An SMTP relay session ended: settle each recipient.
    pub(super) fn mta_relay_outcome(&mut self, h: HostId, qid: u64, outcome: Outcome) {
        let mut failed = Vec::new();
        let mut temp = None;
        {
            let Some(mta) = self.hosts[h].mta.as_mut() else {
                return;
            };
            let Some(e) = mta.queue.get_mut(&qid) else {
                return;
            };
            for (rcpt, result) in outcome.rcpts {
                match result {
                    RcptResult::Delivered => {
                        e.rcpts.retain(|r| !r.addr.eq_ignore_ascii_case(&rcpt))
                    }
                    RcptResult::PermFail { code, text } => {
                        e.rcpts.retain(|r| !r.addr.eq_ignore_ascii_case(&rcpt));
                        failed.push((rcpt, enhanced_status(code, &text), format!("{code} {text}")));
                    }
                    RcptResult::TempFail { code, text } => temp = Some(format!("{code} {text}")),
                }
            }
        }
        if !failed.is_empty() {
            let (from, data, msg) = self.entry_parts(h, qid);
            self.bounce(h, &from, &data, msg, &failed);
        }
        let Some(mta) = self.hosts[h].mta.as_mut() else {
            return;
        };
        let Some(e) = mta.queue.get_mut(&qid) else {
            return;
        };
        if e.rcpts.is_empty() {
            mta.queue.remove(&qid);
            return;
        }
        let reason = temp.unwrap_or_else(|| "no result".into());
        if e.next_target < e.targets.len() {
            // RFC 5321 section 5.1: try the next MX address.
            e.last_error = reason;
            self.mta_connect(h, qid);
            return;
        }
        self.mta_defer(h, qid, reason);
    }

    /// A temporary failure: retry later with back-off, or bounce once the
    /// queue lifetime is over.
    pub(super) fn mta_defer(&mut self, h: HostId, qid: u64, reason: String) {
        let now = self.now();
        let Some(mta) = self.hosts[h].mta.as_mut() else {
            return;
        };
        let s = mta.settings.clone();
        let Some(e) = mta.queue.get_mut(&qid) else {
            return;
        };
        e.busy = false;
        e.attempts += 1;
        e.last_error = reason.clone();
        let (msg, addrs) = (
            e.msg,
            e.rcpts.iter().map(|r| r.addr.clone()).collect::<Vec<_>>(),
        );
        let expires = e.arrived + s.queue_lifetime;
        if let Some(m) = msg {
            for a in &addrs {
                self.ledger.retried(m, a);
            }
        }
        let attempts = e.attempts;
        let host = &self.hosts[h].name;
        tracing::debug!(t = %now, %host, qid, attempts, %reason, "deferred");
        if now >= expires {
            let why = format!("4.4.7 message expired in queue; last error: {reason}");
            self.bounce_entry(h, qid, "4.4.7", &why);
            return;
        }
        let exp = s
            .retry_backoff
            .max(1.0)
            .powi(attempts.saturating_sub(1).min(60) as i32);
        let interval = SimTime::from_secs_f64(s.retry_initial.as_secs_f64() * exp).min(s.retry_max);
        let at = (now + interval).min(expires);
        self.sched.schedule(at, Event::MtaAttempt(h, qid));
        let text = format!("queue {qid:X}: deferred ({reason}); next attempt at {at} s");
        self.note(h, &text);
    }

    /// Bounces every recipient left in an entry and removes it.
    fn bounce_entry(&mut self, h: HostId, qid: u64, status: &str, why: &str) {
        let (from, data, msg) = self.entry_parts(h, qid);
        let Some(mta) = self.hosts[h].mta.as_mut() else {
            return;
        };
        let Some(e) = mta.queue.remove(&qid) else {
            return;
        };
        let failed: Vec<_> = e
            .rcpts
            .iter()
            .map(|r| (r.addr.clone(), status.to_string(), why.to_string()))
            .collect();
        self.bounce(h, &from, &data, msg, &failed);
    }

    fn entry_parts(&self, h: HostId, qid: u64) -> (String, Bytes, Option<MsgId>) {
        let e = self.hosts[h].mta.as_ref().and_then(|m| m.queue.get(&qid));
        match e {
            Some(e) => (e.mail_from.clone(), e.data.clone(), e.msg),
            None => (String::new(), Bytes::new(), None),
        }
    }

    /// Settles failed recipients as bounced and sends the sender a delivery
    /// status notification (RFC 3464) from the null reverse-path; a bounce
    /// of a bounce is dropped instead (RFC 5321 section 6.1).
    fn bounce(
        &mut self,
        h: HostId,
        mail_from: &str,
        data: &Bytes,
        msg: Option<MsgId>,
        failed: &[(String, String, String)],
    ) {
        let now = self.now();
        for (rcpt, _, why) in failed {
            let host = &self.hosts[h].name;
            let null = mail_from.is_empty();
            tracing::debug!(t = %now, %host, %rcpt, %why, null_sender = null, "bounce");
            let text = if null {
                format!("cannot deliver a bounce to {rcpt}: {why}; dropped, never bounced again")
            } else {
                format!("giving up on {rcpt}: {why}; bouncing to <{mail_from}>")
            };
            self.note(h, &text);
        }
        if let Some(m) = msg {
            for (rcpt, _, why) in failed {
                self.ledger.settle(m, rcpt, Fate::Bounced(why.clone()), now);
            }
        }
        if mail_from.is_empty() {
            self.stats.double_bounces += failed.len() as u64;
            return;
        }
        let Some(mta) = self.hosts[h].mta.as_mut() else {
            return;
        };
        let hostname = mta.hostname.clone();
        let qid = mta.next_qid;
        mta.next_qid += 1;
        let unix = self.unix(now);
        let message_id = format!("<dsn.{qid:X}.{unix}@{hostname}>");
        let records: Vec<DsnRecipient> = failed
            .iter()
            .map(|(rcpt, status, diagnostic)| DsnRecipient {
                rcpt: rcpt.clone(),
                status: status.clone(),
                diagnostic: diagnostic.clone(),
            })
            .collect();
        let dsn = message::build_dsn(&hostname, mail_from, data, &records, unix, &message_id);
        self.stats.dsn_generated += 1;
        self.mta_route(h, "", &[mail_from.to_string()], dsn, None);
    }

    /// The host came back: try every waiting entry now.
    pub(super) fn mta_flush(&mut self, h: HostId) {
        let now = self.now();
        let Some(mta) = self.hosts[h].mta.as_mut() else {
            return;
        };
        for (&qid, e) in mta.queue.iter_mut() {
            e.busy = false;
            self.sched.schedule(now, Event::MtaAttempt(h, qid));
        }
        mta.lookups.clear();
    }
}

impl Mta {
    /// A crash: a queue kept in memory is gone. Returns the ledger
    /// identity and the recipients of every entry lost (nothing for a queue
    /// on disk).
    pub(super) fn lose_memory_queue(&mut self) -> Vec<(Option<MsgId>, Vec<String>)> {
        if !self.settings.memory_queue {
            return Vec::new();
        }
        let queue = std::mem::take(&mut self.queue);
        queue
            .into_values()
            .map(|e| (e.msg, e.rcpts.into_iter().map(|r| r.addr).collect()))
            .collect()
    }

    /// Whether the queue is kept in memory.
    pub(super) fn memory_queue(&self) -> bool {
        self.settings.memory_queue
    }

    fn msg_of(&self, qid: u64) -> Option<MsgId> {
        self.queue.get(&qid).and_then(|e| e.msg)
    }
}

/// Adds what an MSA supplies when the client left it out (RFC 6409 section
/// 8): a Message-ID and a Date.
fn complete_submission(data: &Bytes, hostname: &str, queue_id: &str, unix: i64) -> Bytes {
    let mut out = data.clone();
    if message::header_value(&out, "Date").is_none() {
        out = message::prepend_header(&out, "Date", &message::format_date(unix));
    }
    if message::header_value(&out, "Message-ID").is_none() {
        let id = format!("<{queue_id}.{unix}@{hostname}>");
        out = message::prepend_header(&out, "Message-ID", &id);
    }
    out
}
