//! Connections: TCP state machines joined to protocol sessions.
//!
//! A connection is taken out of its slot while it is worked on, so that the
//! session can borrow the rest of the world (a store, an MTA) freely, and
//! put back afterwards unless TCP says it is finished.

use std::net::Ipv4Addr;

use rand::Rng;

use crate::proto::imap::{ImapClient, ImapClientOutput, ImapOutput, ImapServer};
use crate::proto::pop3::{Pop3Client, Pop3ClientOutput, Pop3Output, Pop3Server};
use crate::proto::smtp::{ClientOutput, ServerConfig, ServerOutput, SmtpClient, SmtpServer};
use crate::sim::{EventKey, SimTime};
use crate::transport::tcp::{TcpConnection, TcpEvent};

use super::{
    AgentId, ConnId, Event, HostId, PORT_IMAP, PORT_POP3, PORT_SMTP, PORT_SUBMISSION, World,
};
use crate::service::ledger::MsgId;

/// What a connection is for.
pub(super) enum Role {
    /// An SMTP server session (relay on 25 or submission on 587).
    SmtpIn {
        session: SmtpServer,
        submission: bool,
    },
    /// An MTA relaying queue entry `qid`.
    SmtpRelay {
        client: SmtpClient,
        qid: u64,
        done: bool,
    },
    /// A client submitting message `msg`.
    SmtpSubmit {
        client: SmtpClient,
        agent: AgentId,
        msg: MsgId,
        done: bool,
    },
    /// A POP3 server session.
    Pop3In(Pop3Server),
    /// An IMAP server session.
    ImapIn(ImapServer),
    /// A client fetching by POP3.
    Pop3Fetch {
        client: Pop3Client,
        agent: AgentId,
        done: bool,
    },
    /// A client fetching by IMAP.
    ImapFetch {
        client: ImapClient,
        agent: AgentId,
        done: bool,
    },
    /// Raw bytes typed at a port, like a teacher's `telnet host 25`:
    /// whatever comes back is kept in probe `id`'s log.
    Probe { id: usize, protocol: &'static str },
    /// A bulk transfer's sender or discard sink (see `bulk`).
    Bulk(super::bulk::BulkRole),
}

impl Role {
    fn protocol(&self) -> &'static str {
        match self {
            Role::SmtpIn { .. } | Role::SmtpRelay { .. } | Role::SmtpSubmit { .. } => "SMTP",
            Role::Pop3In(_) | Role::Pop3Fetch { .. } => "POP3",
            Role::ImapIn(_) | Role::ImapFetch { .. } => "IMAP",
            Role::Probe { protocol, .. } => protocol,
            Role::Bulk(_) => "DISCARD",
        }
    }
}

/// One TCP connection of a host and the session on it.
pub(super) struct Conn {
    pub(super) host: HostId,
    pub(super) local_port: u16,
    pub(super) remote: (Ipv4Addr, u16),
    pub(super) tcp: TcpConnection,
    pub(super) role: Role,
    timer: Option<(SimTime, EventKey)>,
    generation: u64,
}

impl World {
    /// Works on connection `cid` with `f`, then drives it: hands TCP's
    /// events to the session, sends what TCP has, re-arms its timer.
    pub(super) fn with_conn(&mut self, cid: ConnId, f: impl FnOnce(&mut World, &mut Conn)) {
        let Some(mut c) = self.conns.get_mut(cid).and_then(Option::take) else {
            return;
        };
        f(self, &mut c);
        self.drive(cid, c);
    }

    fn drive(&mut self, cid: ConnId, mut c: Box<Conn>) {
        let now = self.now();
        loop {
            let mut busy = false;
            while let Some(ev) = c.tcp.poll_event() {
                busy = true;
                self.on_tcp_event(&mut c, ev);
            }
            while let Some((hdr, payload)) = c.tcp.poll_transmit(now) {
                busy = true;
                self.emit_segment(c.host, c.remote.0, hdr, payload);
            }
            if !busy {
                break;
            }
        }
        if c.tcp.is_closed() {
            self.finish_conn(cid, c);
            return;
        }
        // A timer event already due no later than TCP's deadline is kept:
        // when it fires early, TCP does nothing and the deadline is armed
        // then. Re-arming on every ACK instead (RFC 6298 5.3 restarts the
        // RTO each time) left a cancelled entry in the queue per segment,
        // about a third of the kernel's work on the ns-3 grid reference.
        let due = c.tcp.poll_timeout();
        let armed = c.timer.map(|t| t.0);
        let keep = matches!((armed, due), (Some(a), Some(d)) if a <= d);
        if !keep && due != armed {
            if let Some((_, key)) = c.timer.take() {
                self.sched.cancel(key);
            }
            if let Some(at) = due {
                let key = self.sched.schedule(at, Event::TcpTimer(cid, c.generation));
                c.timer = Some((at, key));
            }
        }
        self.conns[cid] = Some(c);
    }

    pub(super) fn on_tcp_timer(&mut self, cid: ConnId, generation: u64) {
        let live = self
            .conns
            .get(cid)
            .and_then(Option::as_ref)
            .map(|c| c.generation);
        if live != Some(generation) {
            return;
        }
        self.with_conn(cid, |w, c| {
            c.timer = None;
            let now = w.now();
            c.tcp.handle_timeout(now);
        });
    }

    fn on_tcp_event(&mut self, c: &mut Conn, ev: TcpEvent) {
        match ev {
            TcpEvent::Connected => {}
            TcpEvent::Data(bytes) => self.feed(c, &bytes),
            TcpEvent::PeerClosed => {
                self.lost(c);
                c.tcp.close();
            }
            TcpEvent::Reset | TcpEvent::TimedOut => {
                let unfinished = match &c.role {
                    Role::SmtpRelay { done, .. }
                    | Role::SmtpSubmit { done, .. }
                    | Role::Pop3Fetch { done, .. }
                    | Role::ImapFetch { done, .. } => !done,
                    _ => false,
                };
                if unfinished {
                    self.stats.connect_failures += 1;
                    let what = if matches!(ev, TcpEvent::Reset) {
                        "was reset (RST)"
                    } else {
                        "timed out: no answer to retransmissions"
                    };
                    let text = format!(
                        "{} connection to {}:{} {what}",
                        c.role.protocol(),
                        self.name_of(c.remote.0),
                        c.remote.1
                    );
                    self.note(c.host, &text);
                }
                self.lost(c);
            }
            TcpEvent::Closed => {}
        }
    }

    /// Bytes from the peer, for the session.
    fn feed(&mut self, c: &mut Conn, bytes: &[u8]) {
        let now = self.now();
        match &mut c.role {
            Role::SmtpIn {
                session,
                submission,
            } => {
                let sub = *submission;
                let mut policy = self.rcpt_policy(c.host, sub);
                session.handle_input(bytes, &mut policy);
            }
            Role::SmtpRelay { client, .. } | Role::SmtpSubmit { client, .. } => {
                client.handle_input(bytes)
            }
            Role::Pop3In(s) => {
                if let Some(store) = self.hosts[c.host].store.as_mut() {
                    s.handle_input(bytes, store, now);
                }
            }
            Role::ImapIn(s) => {
                if let Some(store) = self.hosts[c.host].store.as_mut() {
                    s.handle_input(bytes, store, now);
                }
            }
            Role::Pop3Fetch { client, .. } => client.handle_input(bytes),
            Role::ImapFetch { client, .. } => client.handle_input(bytes),
            Role::Probe { id, protocol } => {
                let (id, protocol) = (*id, *protocol);
                self.probes[id].extend_from_slice(bytes);
                if self.transcript.enabled() {
                    let from = self.name_of(c.remote.0);
                    let to = self.hosts[c.host].name.clone();
                    self.transcript.chunk(now, protocol, &from, &to, bytes);
                }
            }
            Role::Bulk(b) => self.bulk_data(b, bytes.len()),
        }
        self.pump(c);
    }

    /// The connection is gone under the session (reset, time-out, the peer
    /// closed first, a crash): clients report what is unresolved.
    fn lost(&mut self, c: &mut Conn) {
        match &mut c.role {
            Role::SmtpRelay {
                client,
                done: false,
                ..
            }
            | Role::SmtpSubmit {
                client,
                done: false,
                ..
            } => client.connection_lost(),
            Role::Pop3Fetch {
                client,
                done: false,
                ..
            } => client.connection_lost(),
            Role::ImapFetch {
                client,
                done: false,
                ..
            } => client.connection_lost(),
            Role::Pop3In(s) => s.connection_lost(),
            Role::ImapIn(s) => s.connection_lost(),
            Role::Bulk(b) => self.bulk_lost(b),
            _ => {}
        }
        self.pump(c);
    }

    /// Takes every output of the session: bytes go to TCP (and the
    /// transcript), results go to the MTA or the client.
    pub(super) fn pump(&mut self, c: &mut Conn) {
        loop {
            let progressed = match &mut c.role {
                Role::SmtpIn {
                    session,
                    submission,
                } => match session.poll_output() {
                    None => false,
                    Some(ServerOutput::Reply(b)) => self.write(c_ref(c), &b),
                    Some(ServerOutput::Message(env)) => {
                        let sub = *submission;
                        let helo = session.helo_name().unwrap_or("unknown").to_string();
                        let r =
                            self.mta_accept_smtp(c.host, c.remote, c.local_port, env, &helo, sub);
                        let mut policy = self.rcpt_policy(c.host, sub);
                        if let Role::SmtpIn { session, .. } = &mut c.role {
                            session.complete_message(r, &mut policy);
                        }
                        true
                    }
                    Some(ServerOutput::Close) => {
                        c.tcp.close();
                        true
                    }
                },
                Role::SmtpRelay { client, qid, done } => match client.poll_output() {
                    None => false,
                    Some(ClientOutput::Send(b)) => self.write(c_ref(c), &b),
                    Some(ClientOutput::Done(outcome)) => {
                        *done = true;
                        let qid = *qid;
                        c.tcp.close();
                        self.mta_relay_outcome(c.host, qid, outcome);
                        true
                    }
                },
                Role::SmtpSubmit {
                    client,
                    agent,
                    msg,
                    done,
                } => match client.poll_output() {
                    None => false,
                    Some(ClientOutput::Send(b)) => self.write(c_ref(c), &b),
                    Some(ClientOutput::Done(outcome)) => {
                        *done = true;
                        let (a, m) = (*agent, *msg);
                        c.tcp.close();
                        self.agent_submitted(a, m, outcome);
                        true
                    }
                },
                Role::Pop3In(s) => match s.poll_output() {
                    None => false,
                    Some(Pop3Output::Reply(b)) => self.write(c_ref(c), &b),
                    Some(Pop3Output::Close) => {
                        c.tcp.close();
                        true
                    }
                },
                Role::ImapIn(s) => match s.poll_output() {
                    None => false,
                    Some(ImapOutput::Reply(b)) => self.write(c_ref(c), &b),
                    Some(ImapOutput::Close) => {
                        c.tcp.close();
                        true
                    }
                },
                Role::Pop3Fetch {
                    client,
                    agent,
                    done,
                } => match client.poll_output() {
                    None => false,
                    Some(Pop3ClientOutput::Send(b)) => self.write(c_ref(c), &b),
                    Some(Pop3ClientOutput::Fetched { uidl, data }) => {
                        let a = *agent;
                        self.agent_fetched_pop3(a, &uidl, &data);
                        true
                    }
                    Some(Pop3ClientOutput::Done(_)) => {
                        *done = true;
                        let seen = client.seen_uidls().clone();
                        let a = *agent;
                        c.tcp.close();
                        self.agent_fetch_done_pop3(a, seen);
                        true
                    }
                },
                Role::ImapFetch {
                    client,
                    agent,
                    done,
                } => match client.poll_output() {
                    None => false,
                    Some(ImapClientOutput::Send(b)) => self.write(c_ref(c), &b),
                    Some(ImapClientOutput::Fetched { uid, data }) => {
                        let a = *agent;
                        self.agent_fetched_imap(a, uid, &data);
                        true
                    }
                    Some(ImapClientOutput::Done(_)) => {
                        *done = true;
                        let state = (client.last_seen_uid(), client.uidvalidity());
                        let a = *agent;
                        c.tcp.close();
                        self.agent_fetch_done_imap(a, state);
                        true
                    }
                },
                Role::Probe { .. } | Role::Bulk(_) => false,
            };
            if !progressed {
                return;
            }
        }
    }

    /// Writes session bytes to TCP, and to the transcript.
    fn write(&mut self, c: ConnRef<'_>, bytes: &[u8]) -> bool {
        if self.transcript.enabled() {
            let from = self.hosts[c.host].name.clone();
            let to = self.name_of(c.remote.0);
            let now = self.now();
            self.transcript.chunk(now, c.protocol, &from, &to, bytes);
        }
        c.tcp.send(bytes);
        true
    }

    /// Writes a note from host `h` into the transcript.
    pub(super) fn note(&mut self, h: HostId, text: &str) {
        if self.transcript.enabled() {
            let now = self.now();
            let who = self.hosts[h].name.clone();
            self.transcript.note(now, &who, text);
        }
    }

    /// The name of the host at `addr`, or the address itself.
    pub(super) fn name_of(&self, addr: Ipv4Addr) -> String {
        match self.net.node_of(addr) {
            Some(n) => self.net.node(n).name.clone(),
            None => addr.to_string(),
        }
    }

    /// A SYN for a listening port of host `h`: a new server session.
    pub(super) fn accept(&mut self, h: HostId, src: Ipv4Addr, hdr: &crate::net::TcpHeader) -> bool {
        let host = &self.hosts[h];
        let name = host.name.clone();
        let role = match hdr.dst_port {
            PORT_SMTP | PORT_SUBMISSION if host.mta.is_some() => {
                let submission = hdr.dst_port == PORT_SUBMISSION;
                let cfg = ServerConfig {
                    hostname: name,
                    submission,
                    max_message_size: 50 * 1024 * 1024,
                    max_rcpts: 100,
                };
                self.stats.smtp_sessions += 1;
                Role::SmtpIn {
                    session: SmtpServer::new(cfg, src),
                    submission,
                }
            }
            PORT_POP3 if host.pop3 && host.store.is_some() => {
                self.stats.pop3_sessions += 1;
                Role::Pop3In(Pop3Server::new(&name))
            }
            PORT_IMAP if host.imap && host.store.is_some() => {
                self.stats.imap_sessions += 1;
                let mut server = ImapServer::new(&name);
                server.set_epoch(self.start_unix);
                Role::ImapIn(server)
            }
            super::bulk::PORT_DISCARD => match self.bulk_accept(h, src, hdr) {
                Some(role) => role,
                None => return false,
            },
            _ => return false,
        };
        let now = self.now();
        let iss = self.hosts[h].iss.next_u32();
        let tcp = TcpConnection::accept(now, self.hosts[h].tcp, hdr, iss);
        let cid = self.insert_conn(h, hdr.dst_port, (src, hdr.src_port), tcp, role);
        self.with_conn(cid, |w, c| w.pump(c));
        true
    }

    /// Opens a connection from host `h` to `dst:port` for `role`.
    pub(super) fn connect(&mut self, h: HostId, dst: Ipv4Addr, port: u16, role: Role) {
        let now = self.now();
        let local = self.unused_port(h, dst, port);
        let iss = self.hosts[h].iss.next_u32();
        let tcp = TcpConnection::connect(now, self.hosts[h].tcp, local, port, iss);
        let cid = self.insert_conn(h, local, (dst, port), tcp, role);
        self.with_conn(cid, |_, _| {});
    }

    pub(super) fn insert_conn(
        &mut self,
        h: HostId,
        local_port: u16,
        remote: (Ipv4Addr, u16),
        tcp: TcpConnection,
        role: Role,
    ) -> ConnId {
        self.next_gen += 1;
        // Boxed, so that taking a connection out of its slot for every
        // segment moves a pointer, not the sessions' state.
        let c = Box::new(Conn {
            host: h,
            local_port,
            remote,
            tcp,
            role,
            timer: None,
            generation: self.next_gen,
        });
        let cid = match self.free_conns.pop() {
            Some(cid) => {
                self.conns[cid] = Some(c);
                cid
            }
            None => {
                self.conns.push(Some(c));
                self.conns.len() - 1
            }
        };
        self.demux.insert((h, local_port, remote.0, remote.1), cid);
        cid
    }

    /// TCP is done with the connection: settle the session and free the
    /// slot.
    fn finish_conn(&mut self, cid: ConnId, mut c: Box<Conn>) {
        self.lost(&mut c);
        let retransmits = c.tcp.stats().retransmissions;
        self.stats.tcp_retransmits += retransmits;
        self.hosts[c.host].retransmits_done += retransmits;
        if let Some((_, key)) = c.timer.take() {
            self.sched.cancel(key);
        }
        self.demux
            .remove(&(c.host, c.local_port, c.remote.0, c.remote.1));
        self.conns[cid] = None;
        self.free_conns.push(cid);
    }

    /// The host crashed: the connection vanishes without a word on the
    /// wire; its session settles as if the peer had gone.
    pub(super) fn crash_conn(&mut self, cid: ConnId) {
        let Some(mut c) = self.conns[cid].take() else {
            return;
        };
        c.tcp.abort();
        while c.tcp.poll_transmit(self.now()).is_some() {}
        self.finish_conn(cid, c);
    }

    /// The connection at the other end of an SMTP session on this world,
    /// if the peer is simulated here: used to carry message identity in
    /// the ledger (bookkeeping only; the bytes decide everything else).
    pub(super) fn peer_msg(
        &self,
        local: HostId,
        remote: (Ipv4Addr, u16),
        local_port: u16,
    ) -> Option<PeerTag> {
        let peer_node = self.net.node_of(remote.0)?;
        let peer_host = self.host_by_node[peer_node]?;
        let my_addr = self.hosts[local].addr;
        let cid = *self
            .demux
            .get(&(peer_host, remote.1, my_addr, local_port))?;
        match &self.conns[cid].as_ref()?.role {
            Role::SmtpSubmit { msg, .. } => Some(PeerTag::Submission(*msg)),
            Role::SmtpRelay { qid, .. } => Some(PeerTag::Relay(peer_host, *qid)),
            _ => None,
        }
    }
}

/// Who sent a message, as far as the ledger can tell.
pub(super) enum PeerTag {
    /// A client submitting ledger message `MsgId`.
    Submission(MsgId),
    /// An MTA relaying its queue entry (host, queue id).
    Relay(HostId, u64),
}

/// The parts of a connection `write` needs, borrowed apart from the role.
pub(super) struct ConnRef<'a> {
    host: HostId,
    remote: (Ipv4Addr, u16),
    protocol: &'static str,
    tcp: &'a mut TcpConnection,
}

fn c_ref(c: &mut Conn) -> ConnRef<'_> {
    ConnRef {
        host: c.host,
        remote: c.remote,
        protocol: c.role.protocol(),
        tcp: &mut c.tcp,
    }
}
