//! The server side of an SMTP session (RFC 5321), sans-IO.
//!
//! Calling order: [`SmtpServer::new`] queues the greeting; feed received
//! bytes to [`SmtpServer::handle_input`] and drain
//! [`SmtpServer::poll_output`] after every call. When it yields
//! [`ServerOutput::Message`], queue the message and answer with
//! [`SmtpServer::complete_message`] (which also resumes any commands the
//! client pipelined behind the data), then drain `poll_output` again.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use bytes::Bytes;

use super::command::{Command, CommandError, parse_command};
use super::reply::Reply;
use super::{Envelope, MAX_LINE};

/// Bad commands tolerated before the server gives up with 421.
const MAX_BAD_COMMANDS: u32 = 10;

/// The answer of the recipient policy to one RCPT command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RcptVerdict {
    /// Take the recipient: reply 250.
    Accept,
    /// Refuse it with this reply, for example 550 (unknown mailbox), 551,
    /// 553, 554 or 550 (relaying denied), or 451 (try again later).
    Reject {
        /// The reply code, 4xx or 5xx.
        code: u16,
        /// The reply text, ideally starting with an enhanced status code.
        text: String,
    },
}

/// Decides which recipients a server takes (local mailboxes, relaying).
pub trait Policy {
    /// The verdict on `rcpt` within a transaction from `mail_from`.
    fn rcpt(&mut self, mail_from: &str, rcpt: &str) -> RcptVerdict;
}

/// Configuration of one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// The name the server gives in its greeting and EHLO reply.
    pub hostname: String,
    /// Whether this is a message submission server (RFC 6409, port 587).
    pub submission: bool,
    /// The largest message accepted, in octets (RFC 1870 SIZE).
    pub max_message_size: usize,
    /// The most recipients per transaction (RFC 5321 section 4.5.3.1.8
    /// asks for at least 100).
    pub max_rcpts: usize,
}

/// What the server asks its caller to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerOutput {
    /// Send this complete reply (one or more CRLF-ended lines).
    Reply(Bytes),
    /// The data of a transaction is complete: queue it, then call
    /// [`SmtpServer::complete_message`].
    Message(Envelope),
    /// Close the connection (after the QUIT reply or a 421).
    Close,
}

/// One SMTP server session.
#[derive(Debug)]
pub struct SmtpServer {
    cfg: ServerConfig,
    peer_ip: Ipv4Addr,
    input: Vec<u8>,
    /// Bytes of `input` already searched for a line end.
    scanned: usize,
    /// The current line passed the length limit; its bytes are dropped.
    overlong: bool,
    phase: Phase,
    helo: Option<String>,
    tx: Option<Transaction>,
    bad_commands: u32,
    out: VecDeque<ServerOutput>,
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Command,
    Data(MailData),
    /// The message was handed to the caller; input waits for its verdict.
    AwaitingCompletion,
    Closed,
}

/// A mail transaction between MAIL and end of data (section 3.3).
#[derive(Debug, PartialEq, Eq)]
struct Transaction {
    mail_from: String,
    rcpts: Vec<String>,
    refused: usize,
}

/// Data being received after 354.
#[derive(Debug, Default, PartialEq, Eq)]
struct MailData {
    buf: Vec<u8>,
    oversize: bool,
    long_line: bool,
}

impl SmtpServer {
    /// A session with a client at `peer_ip`; the 220 greeting is queued
    /// (RFC 5321 section 3.1).
    pub fn new(cfg: ServerConfig, peer_ip: Ipv4Addr) -> Self {
        let service = if cfg.submission {
            "Mail Submission Service Ready"
        } else {
            "Simple Mail Transfer Service Ready"
        };
        let greeting = Reply::new(220, &format!("{} {service}", cfg.hostname));
        let mut server = SmtpServer {
            cfg,
            peer_ip,
            input: Vec::new(),
            scanned: 0,
            overlong: false,
            phase: Phase::Command,
            helo: None,
            tx: None,
            bad_commands: 0,
            out: VecDeque::new(),
        };
        server.reply(greeting);
        server
    }

    /// Takes received bytes in any chunking and processes every complete
    /// line; a partial line waits for more.
    pub fn handle_input(&mut self, bytes: &[u8], policy: &mut dyn Policy) {
        if self.phase == Phase::Closed {
            return;
        }
        self.input.extend_from_slice(bytes);
        self.process(policy);
    }

    /// The caller's verdict on the message last yielded: `Ok(queue id)`
    /// gives 250, `Err((code, text))` that reply. Pipelined input that
    /// waited behind the data is then processed with `policy`.
    pub fn complete_message(
        &mut self,
        result: Result<String, (u16, String)>,
        policy: &mut dyn Policy,
    ) {
        if self.phase != Phase::AwaitingCompletion {
            return;
        }
        let reply = match result {
            Ok(id) if id.is_empty() => Reply::new(250, "OK"),
            Ok(id) => Reply::new(250, &format!("OK queued as {id}")),
            Err((code, text)) => Reply::new(code, &text),
        };
        self.reply(reply);
        self.phase = Phase::Command;
        self.process(policy);
    }

    /// The next thing to send or do, in order.
    pub fn poll_output(&mut self) -> Option<ServerOutput> {
        self.out.pop_front()
    }

    /// The domain the client gave in EHLO or HELO, if any yet.
    pub fn helo_name(&self) -> Option<&str> {
        self.helo.as_deref()
    }

    /// The client's address, as given to [`SmtpServer::new`].
    pub fn peer_ip(&self) -> Ipv4Addr {
        self.peer_ip
    }

    fn process(&mut self, policy: &mut dyn Policy) {
        let mut start = 0;
        while matches!(self.phase, Phase::Command | Phase::Data(_)) {
            let in_data = matches!(self.phase, Phase::Data(_));
            let Some(end) = self.find_line_end(start, in_data) else {
                start = self.drop_overlong(start, in_data);
                break;
            };
            let line = start..end;
            start = end + 1;
            // A stuffed leading dot does not count against the data limit.
            let stuffed = in_data && self.input[line.start] == b'.';
            let limit = MAX_LINE + usize::from(stuffed);
            let too_long = line.end + 1 - line.start > limit;
            if std::mem::take(&mut self.overlong) || too_long {
                self.line_too_long();
            } else if in_data {
                self.data_line(line.start, line.end - 1);
            } else {
                self.command_line(line.start, line.end, policy);
            }
        }
        if self.phase == Phase::Closed {
            self.input.clear();
            self.scanned = 0;
        } else {
            self.input.drain(..start);
            self.scanned = self.scanned.saturating_sub(start);
        }
    }

    /// The index of the LF ending the line from `start`. In data only CRLF
    /// ends a line: a bare LF is data (section 2.3.8), which also keeps
    /// `LF . LF` from ending the message early.
    fn find_line_end(&mut self, start: usize, in_data: bool) -> Option<usize> {
        let from = self.scanned.max(start);
        let found = self.input[from..].iter().enumerate().find_map(|(i, &b)| {
            let at = from + i;
            let crlf = at > start && self.input[at - 1] == b'\r';
            (b == b'\n' && (crlf || !in_data)).then_some(at)
        });
        self.scanned = found.map_or(self.input.len(), |at| at + 1);
        found
    }

    /// Drops the buffered part of a line that is already too long, keeping
    /// a final CR that may start the CRLF. Returns the new start.
    fn drop_overlong(&mut self, start: usize, in_data: bool) -> usize {
        let len = self.input.len() - start;
        if len <= MAX_LINE {
            return start;
        }
        self.overlong = true;
        let keep = usize::from(in_data && self.input.last() == Some(&b'\r'));
        self.scanned = self.input.len();
        self.input.len() - keep
    }

    /// Section 4.5.3.1.4 and 4.5.3.1.6: a line over the limit is refused
    /// with 500; in data the refusal waits for the end of the data.
    fn line_too_long(&mut self) {
        if let Phase::Data(data) = &mut self.phase {
            data.long_line = true;
        } else {
            self.error(Reply::new(500, "5.5.2 Line too long"));
        }
    }

    /// One data line `input[start..end]` without its CRLF (section 4.5.2).
    fn data_line(&mut self, start: usize, end: usize) {
        let line = &self.input[start..end];
        if line == b"." {
            self.end_of_data();
            return;
        }
        // Transparency: a leading dot was doubled by the client.
        let line = line.strip_prefix(b".").unwrap_or(line);
        let Phase::Data(data) = &mut self.phase else {
            return;
        };
        if data.oversize || data.buf.len() + line.len() + 2 > self.cfg.max_message_size {
            // Section 4.5.3.1.10: keep reading, refuse with 552 at the end.
            data.oversize = true;
            return;
        }
        data.buf.extend_from_slice(line);
        data.buf.extend_from_slice(b"\r\n");
    }

    /// The `.` line: the transaction ends whatever the outcome (4.1.1.4).
    fn end_of_data(&mut self) {
        let Phase::Data(data) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        let tx = self.tx.take();
        match (data.oversize, data.long_line, tx) {
            (true, _, _) => self.reply(Reply::new(552, "5.3.4 Message size exceeds limit")),
            (_, true, _) => self.reply(Reply::new(500, "5.5.2 Line too long")),
            (_, _, None) => self.reply(Reply::new(503, "5.5.1 Bad sequence of commands")),
            (_, _, Some(tx)) => {
                let env = Envelope {
                    mail_from: tx.mail_from,
                    rcpts: tx.rcpts,
                    data: Bytes::from(data.buf),
                };
                self.out.push_back(ServerOutput::Message(env));
                self.phase = Phase::AwaitingCompletion;
            }
        }
    }

    fn command_line(&mut self, start: usize, lf: usize, policy: &mut dyn Policy) {
        let Some(line) = self.input[start..lf].strip_suffix(b"\r") else {
            // Section 2.3.8: lines end with CRLF; a bare LF is not one.
            self.error(Reply::new(
                500,
                "5.5.2 Bare LF not allowed, end lines with CRLF",
            ));
            return;
        };
        match parse_command(line) {
            Ok(cmd) => {
                let line = String::from_utf8_lossy(line).into_owned();
                tracing::trace!(peer = %self.peer_ip, command = %line, "smtp command");
                self.command(cmd, policy);
            }
            Err(e) => self.command_error(e),
        }
    }

    fn command_error(&mut self, e: CommandError) {
        let reply = match e {
            CommandError::Unrecognized => {
                Reply::new(500, "5.5.1 Syntax error, command unrecognized")
            }
            CommandError::Syntax => {
                Reply::new(501, "5.5.4 Syntax error in parameters or arguments")
            }
            CommandError::PathTooLong => Reply::new(501, "5.1.3 Path too long"),
            CommandError::Mailbox => Reply::new(553, "5.1.3 Mailbox name not allowed"),
        };
        self.error(reply);
    }

    /// The central dispatch: each arm is one rule of RFC 5321.
    fn command(&mut self, cmd: Command, policy: &mut dyn Policy) {
        match cmd {
            // Section 4.1.1.1: EHLO answers with the extensions offered, and
            // like HELO it resets any transaction (section 4.1.4).
            Command::Ehlo(name) => {
                let mut lines = vec![format!("{} greets {name}", self.cfg.hostname)];
                lines.push("8BITMIME".into());
                lines.push(format!("SIZE {}", self.cfg.max_message_size));
                lines.push("PIPELINING".into());
                self.helo = Some(name);
                self.tx = None;
                self.reply(Reply::multiline(250, lines));
            }
            Command::Helo(name) => {
                self.helo = Some(name);
                self.tx = None;
                self.reply(Reply::new(250, &self.cfg.hostname.clone()));
            }
            // Section 4.1.4: a transaction needs a prior EHLO/HELO, and
            // MAIL may not be nested (section 4.1.1.2).
            Command::Mail { .. } if self.helo.is_none() || self.tx.is_some() => {
                self.bad_sequence();
            }
            Command::Mail {
                reverse_path,
                params,
            } => self.mail(reverse_path, &params),
            // Section 4.1.4: RCPT needs a MAIL first.
            Command::Rcpt { .. } if self.tx.is_none() => self.bad_sequence(),
            Command::Rcpt {
                forward_path,
                params,
            } => self.rcpt(forward_path, &params, policy),
            // Section 3.3: DATA needs a transaction with a recipient; when
            // every RCPT was refused the answer is 554 no valid recipients.
            Command::Data => match &self.tx {
                Some(tx) if !tx.rcpts.is_empty() => {
                    self.phase = Phase::Data(MailData::default());
                    self.reply(Reply::new(354, "Start mail input; end with <CRLF>.<CRLF>"));
                }
                Some(tx) if tx.refused > 0 => {
                    self.error(Reply::new(554, "5.5.1 No valid recipients"));
                }
                _ => self.bad_sequence(),
            },
            // Section 4.1.1.5: RSET drops the transaction, keeps the HELO.
            Command::Rset => {
                self.tx = None;
                self.reply(Reply::new(250, "OK"));
            }
            // Section 3.5.3: 252 when a server will not verify.
            Command::Vrfy => self.reply(Reply::new(
                252,
                "2.1.5 Cannot VRFY user; send mail to attempt delivery",
            )),
            // Section 3.5.2: EXPN may be disabled.
            Command::Expn => self.reply(Reply::new(502, "5.5.1 EXPN not implemented")),
            Command::Help => self.reply(Reply::new(
                214,
                "2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET VRFY NOOP QUIT",
            )),
            // Section 4.1.1.9: NOOP has no effect.
            Command::Noop => self.reply(Reply::new(250, "OK")),
            // Section 4.1.1.10: 221, then the server closes.
            Command::Quit => {
                let text = format!("{} Service closing transmission channel", self.cfg.hostname);
                self.reply(Reply::new(221, &text));
                self.close();
            }
        }
    }

    /// MAIL with its parameters: SIZE (RFC 1870) and BODY (RFC 6152).
    fn mail(&mut self, reverse_path: String, params: &[(String, Option<String>)]) {
        for (key, value) in params {
            match (key.as_str(), value.as_deref()) {
                ("SIZE", Some(v)) => match v.parse::<usize>() {
                    Ok(n) if n > self.cfg.max_message_size => {
                        self.reply(Reply::new(552, "5.3.4 Message size exceeds fixed limit"));
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => return self.error(Reply::new(501, "5.5.4 Bad SIZE value")),
                },
                ("BODY", Some(v))
                    if v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME") => {}
                // Section 4.1.1.11: unknown parameters earn 555.
                _ => {
                    let text = "5.5.4 MAIL FROM parameters not recognized or not implemented";
                    return self.error(Reply::new(555, text));
                }
            }
        }
        self.tx = Some(Transaction {
            mail_from: reverse_path,
            rcpts: Vec::new(),
            refused: 0,
        });
        self.reply(Reply::new(250, "OK"));
    }

    /// RCPT: the limit of section 4.5.3.1.8 (452), then the policy.
    fn rcpt(&mut self, rcpt: String, params: &[(String, Option<String>)], policy: &mut dyn Policy) {
        if !params.is_empty() {
            let text = "5.5.4 RCPT TO parameters not recognized or not implemented";
            return self.error(Reply::new(555, text));
        }
        let Some(tx) = &mut self.tx else { return };
        if tx.rcpts.len() >= self.cfg.max_rcpts {
            tx.refused += 1;
            return self.reply(Reply::new(452, "4.5.3 Too many recipients"));
        }
        let reply = match policy.rcpt(&tx.mail_from, &rcpt) {
            RcptVerdict::Accept => {
                tx.rcpts.push(rcpt);
                Reply::new(250, "OK")
            }
            RcptVerdict::Reject { code, text } => {
                tx.refused += 1;
                // A policy code outside 4xx/5xx would confuse the client.
                let code = if (400..600).contains(&code) {
                    code
                } else {
                    550
                };
                Reply::new(code, &text)
            }
        };
        self.reply(reply);
    }

    fn bad_sequence(&mut self) {
        self.error(Reply::new(503, "5.5.1 Bad sequence of commands"));
    }

    /// A reply to a bad command; too many of them and the session ends
    /// with 421 (section 3.8 lets the server close this way).
    fn error(&mut self, reply: Reply) {
        self.bad_commands += 1;
        if self.bad_commands < MAX_BAD_COMMANDS {
            self.reply(reply);
            return;
        }
        let text = format!(
            "4.7.0 {} Too many errors, closing connection",
            self.cfg.hostname
        );
        self.reply(Reply::new(421, &text));
        self.close();
    }

    fn reply(&mut self, reply: Reply) {
        self.out.push_back(ServerOutput::Reply(reply.emit()));
    }

    fn close(&mut self) {
        self.out.push_back(ServerOutput::Close);
        self.phase = Phase::Closed;
    }
}
