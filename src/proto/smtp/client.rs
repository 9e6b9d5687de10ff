//! The client side of an SMTP session (RFC 5321), sans-IO.
//!
//! One client delivers one envelope over one connection, command by command
//! (no pipelining). Calling order: [`SmtpClient::new`] once the connection
//! is open; feed received bytes to [`SmtpClient::handle_input`] and drain
//! [`SmtpClient::poll_output`] after every call; if the connection drops
//! first, call [`SmtpClient::connection_lost`]. [`ClientOutput::Done`] comes
//! last and carries one result per recipient.

use std::collections::VecDeque;

use bytes::Bytes;

use super::Envelope;
use super::reply::{Reply, ReplyParser};
use crate::proto::message::normalize_line_endings;

/// The fate of one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RcptResult {
    /// The server took responsibility for the message (250 after data).
    Delivered,
    /// A transient failure (4xx, or the connection failed): try again later.
    TempFail {
        /// The reply code.
        code: u16,
        /// The reply text.
        text: String,
    },
    /// A permanent failure (5xx): bounce.
    PermFail {
        /// The reply code.
        code: u16,
        /// The reply text.
        text: String,
    },
}

/// The result of a session: one entry per envelope recipient, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Each recipient with its result.
    pub rcpts: Vec<(String, RcptResult)>,
}

/// What the client asks its caller to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOutput {
    /// Send these bytes.
    Send(Bytes),
    /// The session is over (QUIT was sent, if the connection still worked):
    /// the caller may close the connection.
    Done(Outcome),
}

/// What the client waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Greeting,
    Ehlo,
    Helo,
    Mail,
    /// Waiting for the reply to RCPT for recipient `n`.
    Rcpt(usize),
    Data,
    /// The data and its `.` were sent.
    DataEnd,
    Done,
}

/// One SMTP client session delivering one envelope.
#[derive(Debug)]
pub struct SmtpClient {
    helo_hostname: String,
    env: Envelope,
    state: State,
    parser: ReplyParser,
    results: Vec<Option<RcptResult>>,
    /// Indices of recipients the server accepted with 250/251.
    accepted: Vec<usize>,
    out: VecDeque<ClientOutput>,
}

impl SmtpClient {
    /// A client that will introduce itself as `helo_hostname` and deliver
    /// `env`; it first waits for the server's greeting.
    pub fn new(helo_hostname: &str, env: Envelope) -> Self {
        let results = vec![None; env.rcpts.len()];
        SmtpClient {
            helo_hostname: helo_hostname.to_string(),
            env,
            state: State::Greeting,
            parser: ReplyParser::new(),
            results,
            accepted: Vec::new(),
            out: VecDeque::new(),
        }
    }

    /// Takes received bytes in any chunking; acts on every complete reply.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        self.parser.push(bytes);
        while self.state != State::Done {
            match self.parser.next_reply() {
                None => break,
                Some(Ok(reply)) => self.handle_reply(&reply),
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "smtp client gives up on a malformed reply");
                    self.fail_unresolved(421, &format!("4.5.0 {e}"));
                    self.quit();
                }
            }
        }
    }

    /// The connection closed or failed: every recipient without a result
    /// gets a temporary failure, then the session is done.
    ///
    /// A loss after the final `.` but before its reply may duplicate the
    /// message on retry; RFC 5321 section 6.1 accepts that risk.
    pub fn connection_lost(&mut self) {
        if self.state == State::Done {
            return;
        }
        self.fail_unresolved(421, "4.4.2 Connection lost");
        self.finish();
    }

    /// The next thing to send or do, in order.
    pub fn poll_output(&mut self) -> Option<ClientOutput> {
        self.out.pop_front()
    }

    /// The central dispatch: the reply to the command last sent.
    fn handle_reply(&mut self, reply: &Reply) {
        // Section 3.8: 421 means the server is closing; nothing more can
        // happen on this connection.
        if reply.code == 421 {
            self.fail_unresolved(reply.code, &reply.text());
            self.finish();
            return;
        }
        match self.state {
            // Section 3.1: only 220 opens the session.
            State::Greeting if reply.code == 220 => self.send_hello("EHLO", State::Ehlo),
            // Section 4.1.4 (and 3.2): a server that does not know EHLO
            // gets HELO.
            State::Ehlo if [500, 502, 504].contains(&reply.code) => {
                self.send_hello("HELO", State::Helo)
            }
            State::Ehlo | State::Helo if reply.class() == 2 => self.send_mail(),
            State::Mail if reply.class() == 2 => self.send_next_rcpt(0),
            // Section 4.1.1.3: each recipient gets its own verdict.
            State::Rcpt(n) => {
                self.rcpt_reply(n, reply);
                self.send_next_rcpt(n + 1);
            }
            // Section 4.1.1.4: 354 invites the data.
            State::Data if reply.code == 354 => self.send_data(),
            // The final reply decides for every accepted recipient.
            State::DataEnd => {
                let result = data_result(reply);
                for &i in &self.accepted {
                    self.results[i] = Some(result.clone());
                }
                self.quit();
            }
            // Any other reply fails what is unresolved, with its class.
            State::Greeting | State::Ehlo | State::Helo | State::Mail | State::Data => {
                self.fail_unresolved(reply.code, &reply.text());
                self.quit();
            }
            State::Done => {}
        }
    }

    fn send_hello(&mut self, verb: &str, next: State) {
        self.send(format!("{verb} {}\r\n", self.helo_hostname).into_bytes());
        self.state = next;
    }

    fn send_mail(&mut self) {
        self.send(format!("MAIL FROM:<{}>\r\n", self.env.mail_from).into_bytes());
        self.state = State::Mail;
    }

    /// RCPT for recipient `n`, or DATA (or QUIT when none was accepted)
    /// once every recipient was tried.
    fn send_next_rcpt(&mut self, n: usize) {
        if let Some(rcpt) = self.env.rcpts.get(n) {
            let line = format!("RCPT TO:<{rcpt}>\r\n");
            self.send(line.into_bytes());
            self.state = State::Rcpt(n);
        } else if self.accepted.is_empty() {
            self.quit();
        } else {
            self.send(b"DATA\r\n".to_vec());
            self.state = State::Data;
        }
    }

    fn rcpt_reply(&mut self, n: usize, reply: &Reply) {
        let (code, text) = (reply.code, reply.text());
        self.results[n] = match reply.class() {
            2 => {
                self.accepted.push(n);
                None
            }
            // Section 4.5.3.1.10: 552 to RCPT is the old "too many
            // recipients" and must be treated as temporary.
            5 if code != 552 => Some(RcptResult::PermFail { code, text }),
            _ => Some(RcptResult::TempFail { code, text }),
        };
    }

    /// The message, dot-stuffed (section 4.5.2), then CRLF.CRLF.
    fn send_data(&mut self) {
        let body = dot_stuff(&self.env.data);
        self.send(body);
        self.state = State::DataEnd;
    }

    fn fail_unresolved(&mut self, code: u16, text: &str) {
        let result = if code / 100 == 5 {
            RcptResult::PermFail {
                code,
                text: text.to_string(),
            }
        } else {
            RcptResult::TempFail {
                code,
                text: text.to_string(),
            }
        };
        for r in self.results.iter_mut().filter(|r| r.is_none()) {
            *r = Some(result.clone());
        }
    }

    /// Section 4.1.1.10: QUIT ends the session; the 221 is not awaited.
    fn quit(&mut self) {
        self.send(b"QUIT\r\n".to_vec());
        self.finish();
    }

    fn finish(&mut self) {
        self.fail_unresolved(421, "4.4.2 No reply");
        let rcpts = self.env.rcpts.iter().cloned();
        let results = self.results.iter().map(|r| {
            r.clone().unwrap_or(RcptResult::TempFail {
                code: 421,
                text: "4.4.2 No reply".into(),
            })
        });
        let outcome = Outcome {
            rcpts: rcpts.zip(results).collect(),
        };
        self.out.push_back(ClientOutput::Done(outcome));
        self.state = State::Done;
    }

    fn send(&mut self, bytes: Vec<u8>) {
        self.out.push_back(ClientOutput::Send(Bytes::from(bytes)));
    }
}

/// The result the final reply to the data gives each accepted recipient.
fn data_result(reply: &Reply) -> RcptResult {
    let (code, text) = (reply.code, reply.text());
    match reply.class() {
        2 => RcptResult::Delivered,
        5 => RcptResult::PermFail { code, text },
        _ => RcptResult::TempFail { code, text },
    }
}

/// Section 4.5.2: a line starting with `.` gets one more; bare LFs become
/// CRLF (section 2.3.8); the data ends with CRLF, then `.` CRLF.
pub fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let data = normalize_line_endings(data);
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 5);
    // Line by line, copying each line whole: bodies are long.
    let mut start = 0;
    while start < data.len() {
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| start + i + 1);
        if data[start] == b'.' {
            out.push(b'.');
        }
        out.extend_from_slice(&data[start..end]);
        start = end;
    }
    if !data.is_empty() && !data.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}
