//! User agents: mail clients that submit on port 587 and fetch by POP3 or
//! IMAP, polling at an interval.
//!
//! A client keeps an outbox: a message leaves it only once the MSA has
//! answered for every recipient. A temporary failure (the MSA down, a 4xx
//! reply) keeps the message and tries again after `SUBMIT_RETRY`, as mail
//! programs do; a permanent refusal drops that recipient with the reply as
//! the stated reason.

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;

use crate::proto::imap::ImapClient;
use crate::proto::pop3::{Pop3Client, Pop3Mode};
use crate::proto::smtp::{Envelope, Outcome, RcptResult, SmtpClient};
use crate::service::ledger::{Fate, MsgId};
use crate::sim::{SimTime, uniform};

use super::conn::Role;
use super::{AgentId, Event, HostId, PORT_IMAP, PORT_POP3, PORT_SUBMISSION, World};

/// How long a client waits before trying its outbox again.
const SUBMIT_RETRY: SimTime = SimTime::from_secs(60);

/// How a client fetches its mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchProtocol {
    /// POP3; `keep` leaves messages on the server (remembering UIDLs seen),
    /// otherwise they are deleted after download.
    Pop3 {
        /// Keep messages on the server.
        keep: bool,
    },
    /// IMAP, fetching new UIDs and marking them seen.
    Imap,
}

/// A client's fetching schedule.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// Protocol and mode.
    pub protocol: FetchProtocol,
    /// Polling interval.
    pub every: SimTime,
    /// The host serving the mailbox.
    pub server: HostId,
}

/// One user's mail client.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The user's address (also the login name).
    pub user: String,
    /// The user's password.
    pub password: String,
    /// The device it runs on.
    pub host: HostId,
    /// The MSA it submits to.
    pub submit: HostId,
    /// How it fetches, if it does.
    pub fetch: Option<FetchConfig>,
}

struct Outgoing {
    msg: MsgId,
    rcpts: Vec<String>,
    data: Bytes,
}

/// A client's state.
pub(super) struct Agent {
    cfg: AgentConfig,
    pub(super) host: HostId,
    outbox: VecDeque<Outgoing>,
    submitting: bool,
    pub(super) retry_pending: bool,
    fetching: bool,
    pop3_seen: BTreeSet<String>,
    imap_last_uid: u32,
    imap_uidvalidity: Option<u32>,
}

impl Agent {
    pub(super) fn holds(&self, msg: MsgId, addr: &str) -> bool {
        self.outbox
            .iter()
            .any(|o| o.msg == msg && o.rcpts.iter().any(|r| r.eq_ignore_ascii_case(addr)))
    }
}

impl World {
    /// Adds a client; its first poll comes at a random offset within one
    /// interval, so that many clients do not poll in lock-step.
    pub fn add_agent(&mut self, cfg: AgentConfig) -> AgentId {
        let id = self.agents.len();
        if let Some(f) = &cfg.fetch {
            let mut rng = self.streams.stream(&format!("agent/{}/poll", cfg.user));
            let offset = SimTime::from_secs_f64(uniform(&mut rng) * f.every.as_secs_f64());
            self.sched.schedule(offset, Event::Poll(id));
        }
        self.agents.push(Agent {
            host: cfg.host,
            cfg,
            outbox: VecDeque::new(),
            submitting: false,
            retry_pending: false,
            fetching: false,
            pop3_seen: BTreeSet::new(),
            imap_last_uid: 0,
            imap_uidvalidity: None,
        });
        id
    }

    /// The client of `user`, if there is one.
    pub fn agent_of(&self, user: &str) -> Option<AgentId> {
        self.agents
            .iter()
            .position(|a| a.cfg.user.eq_ignore_ascii_case(user))
    }

    /// The user composes a message: it enters the ledger and the outbox,
    /// and submission starts if the client is idle.
    pub fn compose(&mut self, a: AgentId, rcpts: Vec<String>, data: Bytes) -> MsgId {
        let now = self.now();
        let user = self.agents[a].cfg.user.clone();
        let msg = self.ledger.compose(&user, &rcpts, data.len(), now);
        let rcpts = self.ledger.msgs[msg as usize]
            .rcpts
            .iter()
            .map(|r| r.addr.clone())
            .collect();
        self.agents[a]
            .outbox
            .push_back(Outgoing { msg, rcpts, data });
        self.agent_try_submit(a);
        msg
    }

    pub(super) fn agent_try_submit(&mut self, a: AgentId) {
        let agent = &mut self.agents[a];
        if agent.submitting || agent.retry_pending || !self.hosts[agent.host].up {
            return;
        }
        let Some(out) = agent.outbox.front() else {
            return;
        };
        agent.submitting = true;
        let env = Envelope {
            mail_from: agent.cfg.user.clone(),
            rcpts: out.rcpts.clone(),
            data: out.data.clone(),
        };
        let msg = out.msg;
        let (host, submit) = (agent.host, agent.cfg.submit);
        let helo = self.hosts[host].name.clone();
        let dst = self.hosts[submit].addr;
        let client = SmtpClient::new(&helo, env);
        let role = Role::SmtpSubmit {
            client,
            agent: a,
            msg,
            done: false,
        };
        self.connect(host, dst, PORT_SUBMISSION, role);
    }

    /// The MSA answered (or the connection failed): settle the outbox.
    pub(super) fn agent_submitted(&mut self, a: AgentId, msg: MsgId, outcome: Outcome) {
        let now = self.now();
        let mut retry = Vec::new();
        for (rcpt, result) in outcome.rcpts {
            match result {
                RcptResult::Delivered => {}
                RcptResult::PermFail { code, text } => {
                    let why = format!("refused at submission: {code} {text}");
                    self.ledger.settle(msg, &rcpt, Fate::Dropped(why), now);
                }
                RcptResult::TempFail { .. } => retry.push(rcpt),
            }
        }
        let agent = &mut self.agents[a];
        agent.submitting = false;
        if retry.is_empty() {
            if agent.outbox.front().is_some_and(|o| o.msg == msg) {
                agent.outbox.pop_front();
            }
            self.agent_try_submit(a);
            return;
        }
        if let Some(front) = agent.outbox.front_mut() {
            front.rcpts = retry;
        }
        agent.retry_pending = true;
        self.sched
            .schedule(now + SUBMIT_RETRY, Event::OutboxRetry(a));
    }

    /// Time to check the mailbox: connect unless a fetch is under way.
    pub(super) fn agent_poll(&mut self, a: AgentId) {
        let now = self.now();
        let agent = &mut self.agents[a];
        let Some(f) = agent.cfg.fetch.clone() else {
            return;
        };
        self.sched.schedule(now + f.every, Event::Poll(a));
        if agent.fetching || !self.hosts[agent.host].up {
            return;
        }
        agent.fetching = true;
        let (user, pass) = (agent.cfg.user.clone(), agent.cfg.password.clone());
        let role = match f.protocol {
            FetchProtocol::Pop3 { keep } => {
                let mode = if keep {
                    Pop3Mode::Keep
                } else {
                    Pop3Mode::Delete
                };
                let client = Pop3Client::new(&user, &pass, mode, agent.pop3_seen.clone());
                Role::Pop3Fetch {
                    client,
                    agent: a,
                    done: false,
                }
            }
            FetchProtocol::Imap => {
                let client =
                    ImapClient::new(&user, &pass, agent.imap_last_uid, agent.imap_uidvalidity);
                Role::ImapFetch {
                    client,
                    agent: a,
                    done: false,
                }
            }
        };
        let port = if matches!(f.protocol, FetchProtocol::Imap) {
            PORT_IMAP
        } else {
            PORT_POP3
        };
        let (host, dst) = (agent.host, self.hosts[f.server].addr);
        self.connect(host, dst, port, role);
    }

    pub(super) fn agent_fetched_pop3(&mut self, a: AgentId, uidl: &str, data: &[u8]) {
        // Our store's UIDL is "<uidvalidity>.<uid>".
        let uid = uidl.rsplit('.').next().and_then(|u| u.parse().ok());
        self.agent_fetched(a, uid, data);
    }

    pub(super) fn agent_fetched_imap(&mut self, a: AgentId, uid: u32, data: &[u8]) {
        self.agent_fetched(a, Some(uid), data);
    }

    /// A message arrived at a client: count it, log it if asked, and note
    /// the first download in the ledger.
    fn agent_fetched(&mut self, a: AgentId, uid: Option<u32>, data: &[u8]) {
        self.stats.fetched += 1;
        if let Some(log) = self.fetch_log.as_mut() {
            log.push((a, Bytes::copy_from_slice(data)));
        }
        let now = self.now();
        let agent = &self.agents[a];
        let Some(f) = &agent.cfg.fetch else { return };
        let user = agent.cfg.user.to_ascii_lowercase();
        let Some(uid) = uid else { return };
        let Some(&msg) = self.stored.get(&(f.server, user.clone(), uid)) else {
            return;
        };
        if let Some(r) = self.ledger.rcpt_mut(msg, &user) {
            r.fetched.get_or_insert(now);
        }
    }

    pub(super) fn agent_fetch_done_pop3(&mut self, a: AgentId, seen: BTreeSet<String>) {
        let agent = &mut self.agents[a];
        agent.fetching = false;
        agent.pop3_seen = seen;
    }

    pub(super) fn agent_fetch_done_imap(&mut self, a: AgentId, state: (u32, Option<u32>)) {
        let agent = &mut self.agents[a];
        agent.fetching = false;
        agent.imap_last_uid = state.0;
        agent.imap_uidvalidity = state.1;
    }
}
