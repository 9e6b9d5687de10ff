//! The POP3 client session: a user agent that polls a maildrop.

use std::collections::{BTreeSet, VecDeque};

use bytes::{Bytes, BytesMut};

use super::{Line, LineReader};

/// What the client does with messages after retrieving them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pop3Mode {
    /// RETR then DELE every message: the classic download-and-delete.
    Delete,
    /// Leave messages on the server; skip UIDLs already retrieved.
    Keep,
}

/// What the client session wants done next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pop3ClientOutput {
    /// Send these bytes to the server.
    Send(Bytes),
    /// A message was retrieved: its unique id and exact (un-stuffed) bytes.
    Fetched {
        /// The server's unique id (UIDL) of the message.
        uidl: String,
        /// The message bytes as stored on the server.
        data: Bytes,
    },
    /// The session is over; close the connection. `Err` says why it failed.
    Done(Result<(), String>),
}

/// Where the client is in its fixed command sequence.
#[derive(Debug)]
enum Step {
    Greeting,
    User,
    Pass,
    /// Waiting for the UIDL status line, then for its listing.
    Uidl {
        listing: bool,
    },
    /// RETR of `todo[0]`: waiting for the status line, then the message.
    Retr {
        body: Option<BytesMut>,
    },
    Dele,
    Quit,
    Finished,
}

/// A POP3 client session: greeting, USER, PASS, UIDL, RETR of each
/// message not seen before (and DELE in [`Pop3Mode::Delete`]), QUIT.
///
/// Feed every received chunk to [`handle_input`](Self::handle_input), then
/// drain [`poll_output`](Self::poll_output). In Delete mode, messages whose
/// UIDL is already in `seen_uidls` (fetched by a session that was lost
/// before QUIT) are deleted without being retrieved again.
#[derive(Debug)]
pub struct Pop3Client {
    user: String,
    password: String,
    mode: Pop3Mode,
    seen: BTreeSet<String>,
    /// Messages still to handle: (message number, UIDL, retrieve?).
    todo: VecDeque<(u32, String, bool)>,
    step: Step,
    lines: LineReader,
    out: VecDeque<Pop3ClientOutput>,
}

impl Pop3Client {
    /// A client for `user` (full address); `seen_uidls` are the unique ids
    /// retrieved by earlier polls.
    pub fn new(user: &str, password: &str, mode: Pop3Mode, seen_uidls: BTreeSet<String>) -> Self {
        Pop3Client {
            user: user.to_string(),
            password: password.to_string(),
            mode,
            seen: seen_uidls,
            todo: VecDeque::new(),
            step: Step::Greeting,
            lines: LineReader::default(),
            out: VecDeque::new(),
        }
    }

    /// Handles bytes from the server in any chunking.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if matches!(self.step, Step::Finished) {
            return;
        }
        self.lines.push(bytes);
        while let Some(line) = self.lines.next_line() {
            match line {
                Line::Complete(line) => self.handle_line(line),
                Line::TooLong => self.fail("server sent an over-long line"),
            }
            if matches!(self.step, Step::Finished) {
                return;
            }
        }
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Pop3ClientOutput> {
        self.out.pop_front()
    }

    /// The UIDLs retrieved so far that are still on the server, for the
    /// next poll (in Keep mode this keeps a message from being fetched
    /// twice).
    pub fn seen_uidls(&self) -> &BTreeSet<String> {
        &self.seen
    }

    /// The connection dropped: the session ends with an error (unless it
    /// had already finished).
    pub fn connection_lost(&mut self) {
        if !matches!(self.step, Step::Finished) {
            self.fail("connection lost");
        }
    }

    /// One line from the server, interpreted by the current step.
    fn handle_line(&mut self, line: Bytes) {
        match &mut self.step {
            // The body lines of a multi-line response (RFC 1939 section 3).
            Step::Uidl { listing: true } => self.uidl_line(&line),
            Step::Retr { body: Some(body) } => {
                if line.as_ref() == b"." {
                    let data = std::mem::take(body).freeze();
                    return self.retrieved(data);
                }
                let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
                body.extend_from_slice(unstuffed);
                body.extend_from_slice(b"\r\n");
            }
            _ => self.status_line(&line),
        }
    }

    /// A status line: "+OK" moves to the next command, "-ERR" ends the
    /// session unless it only refused one message.
    fn status_line(&mut self, line: &[u8]) {
        let ok = line.starts_with(b"+OK");
        if !ok && !line.starts_with(b"-ERR") {
            return self.fail(&format!("bad status line {:?}", lossy(line)));
        }
        match (&self.step, ok) {
            (Step::Greeting, true) => self.send(format!("USER {}", self.user)),
            (Step::User, true) => self.send(format!("PASS {}", self.password)),
            (Step::Pass, true) => self.send("UIDL".to_string()),
            (Step::Uidl { .. }, true) => self.step = Step::Uidl { listing: true },
            (Step::Retr { .. }, true) => {
                self.step = Step::Retr {
                    body: Some(BytesMut::new()),
                }
            }
            (Step::Dele, true) => {
                self.todo.pop_front();
                self.next_message();
            }
            // A message gone since UIDL (another session): skip it.
            (Step::Retr { .. } | Step::Dele, false) => {
                self.todo.pop_front();
                self.next_message();
            }
            (Step::Quit, true) => self.finish(Ok(())),
            (_, false) => {
                let step = format!("{:?}", self.step).to_lowercase();
                self.fail(&format!("server refused {step}: {}", lossy(line)));
            }
            (Step::Finished, true) => {}
        }
        match self.step {
            Step::Greeting => self.step = Step::User,
            Step::User => self.step = Step::Pass,
            Step::Pass => self.step = Step::Uidl { listing: false },
            _ => {}
        }
    }

    /// One line of the UIDL listing: "n uidl", or "." at the end.
    fn uidl_line(&mut self, line: &[u8]) {
        if line == b"." {
            let listed: BTreeSet<&String> = self.todo.iter().map(|(_, u, _)| u).collect();
            self.seen.retain(|u| listed.contains(u));
            return self.next_message();
        }
        let text = lossy(line);
        let mut fields = text.split_ascii_whitespace();
        let number = fields.next().and_then(|n| n.parse::<u32>().ok());
        let (Some(number), Some(uidl)) = (number, fields.next()) else {
            return self.fail(&format!("bad UIDL line {text:?}"));
        };
        let retrieve = !self.seen.contains(uidl);
        self.todo.push_back((number, uidl.to_string(), retrieve));
    }

    /// A whole message arrived: hand it out, then DELE or move on.
    fn retrieved(&mut self, data: Bytes) {
        let Some((_, uidl, _)) = self.todo.front().cloned() else {
            return self.fail("message without a request");
        };
        self.seen.insert(uidl.clone());
        self.out.push_back(Pop3ClientOutput::Fetched { uidl, data });
        match self.mode {
            Pop3Mode::Delete => self.dele_front(),
            Pop3Mode::Keep => {
                self.todo.pop_front();
                self.next_message();
            }
        }
    }

    /// Sends the command for the next message to handle, or QUIT.
    fn next_message(&mut self) {
        while let Some((number, _, retrieve)) = self.todo.front() {
            if *retrieve {
                let number = *number;
                self.step = Step::Retr { body: None };
                return self.send(format!("RETR {number}"));
            }
            if self.mode == Pop3Mode::Delete {
                return self.dele_front();
            }
            self.todo.pop_front();
        }
        self.step = Step::Quit;
        self.send("QUIT".to_string());
    }

    fn dele_front(&mut self) {
        let Some((number, _, _)) = self.todo.front() else {
            return self.next_message();
        };
        let command = format!("DELE {number}");
        self.step = Step::Dele;
        self.send(command);
    }

    fn send(&mut self, command: String) {
        let mut bytes = command.into_bytes();
        bytes.extend_from_slice(b"\r\n");
        self.out
            .push_back(Pop3ClientOutput::Send(Bytes::from(bytes)));
    }

    fn fail(&mut self, why: &str) {
        self.finish(Err(why.to_string()));
    }

    fn finish(&mut self, result: Result<(), String>) {
        self.step = Step::Finished;
        self.out.push_back(Pop3ClientOutput::Done(result));
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::mailbox::{INBOX, Mailstore};
    use crate::proto::pop3::{Pop3Output, Pop3Server};
    use crate::sim::SimTime;

    const BOB: &str = "bob@b.example";

    /// Runs a client against a server over `store`, passing bytes both
    /// ways in chunks of `chunk` octets; returns the fetched messages and
    /// the final result.
    fn run(
        client: &mut Pop3Client,
        store: &mut Mailstore,
        chunk: usize,
    ) -> (Vec<(String, Bytes)>, Result<(), String>) {
        let mut server = Pop3Server::new("b.example");
        let mut fetched = Vec::new();
        for _ in 0..10_000 {
            let mut to_client = Vec::new();
            while let Some(out) = server.poll_output() {
                if let Pop3Output::Reply(b) = out {
                    to_client.extend_from_slice(&b);
                }
            }
            for piece in to_client.chunks(chunk) {
                client.handle_input(piece);
            }
            while let Some(out) = client.poll_output() {
                match out {
                    Pop3ClientOutput::Send(b) => server.handle_input(&b, store, SimTime(0)),
                    Pop3ClientOutput::Fetched { uidl, data } => fetched.push((uidl, data)),
                    Pop3ClientOutput::Done(r) => return (fetched, r),
                }
            }
        }
        panic!("client never finished");
    }

    fn store_with(messages: &[&'static [u8]]) -> Mailstore {
        let mut store = Mailstore::new(7);
        store.add_account(BOB, "pw");
        for m in messages {
            store.deliver(BOB, Bytes::from_static(m), SimTime(0));
        }
        store
    }

    const DOTTY: &[u8] = b"Subject: dots\r\n\r\n.\r\n..two\r\n.three\r\nend.\r\n\r\n.\r\n";

    #[test]
    fn byte_stuffed_retr_round_trips_byte_identical() {
        let mut store = store_with(&[DOTTY, b"plain\r\n"]);
        let mut client = Pop3Client::new(BOB, "pw", Pop3Mode::Keep, BTreeSet::new());
        let (fetched, result) = run(&mut client, &mut store, 3);
        assert_eq!(result, Ok(()));
        assert_eq!(fetched.len(), 2);
        assert_eq!(fetched[0].0, "8.1");
        assert_eq!(fetched[0].1.as_ref(), DOTTY);
        assert_eq!(fetched[1].1.as_ref(), b"plain\r\n");
    }

    #[test]
    fn keep_mode_skips_messages_seen_in_an_earlier_poll() {
        let mut store = store_with(&[b"one\r\n", b"two\r\n"]);
        let mut first = Pop3Client::new(BOB, "pw", Pop3Mode::Keep, BTreeSet::new());
        let (fetched, _) = run(&mut first, &mut store, 1000);
        assert_eq!(fetched.len(), 2);
        store.deliver(BOB, Bytes::from_static(b"three\r\n"), SimTime(1));
        let seen = first.seen_uidls().clone();
        let mut second = Pop3Client::new(BOB, "pw", Pop3Mode::Keep, seen);
        let (fetched, result) = run(&mut second, &mut store, 1000);
        assert_eq!(result, Ok(()));
        assert_eq!(fetched, vec![("8.3".to_string(), Bytes::from("three\r\n"))]);
        assert_eq!(second.seen_uidls().len(), 3);
        assert_eq!(store.folder(BOB, INBOX).unwrap().messages.len(), 3);
    }

    #[test]
    fn delete_mode_empties_the_maildrop() {
        let mut store = store_with(&[b"one\r\n", b"two\r\n"]);
        // "8.1" was fetched by a session lost before QUIT: delete only.
        let seen = BTreeSet::from(["8.1".to_string()]);
        let mut client = Pop3Client::new(BOB, "pw", Pop3Mode::Delete, seen);
        let (fetched, result) = run(&mut client, &mut store, 7);
        assert_eq!(result, Ok(()));
        assert_eq!(fetched, vec![("8.2".to_string(), Bytes::from("two\r\n"))]);
        assert!(store.folder(BOB, INBOX).unwrap().messages.is_empty());
    }

    #[test]
    fn a_wrong_password_ends_with_an_error() {
        let mut store = store_with(&[]);
        let mut client = Pop3Client::new(BOB, "nope", Pop3Mode::Keep, BTreeSet::new());
        let (fetched, result) = run(&mut client, &mut store, 1000);
        assert!(fetched.is_empty());
        let why = result.unwrap_err();
        assert!(why.contains("invalid password"), "{why}");
    }

    #[test]
    fn the_client_sends_the_rfc_command_sequence() {
        let mut client = Pop3Client::new(BOB, "pw", Pop3Mode::Delete, BTreeSet::new());
        let mut sent = Vec::new();
        let replies: [&[u8]; 7] = [
            b"+OK ready\r\n",
            b"+OK\r\n",
            b"+OK 1 messages\r\n",
            b"+OK\r\n1 x.1\r\n.\r\n",
            b"+OK 5 octets\r\n..a\r\n.\r\n",
            b"+OK deleted\r\n",
            b"+OK bye\r\n",
        ];
        for reply in replies {
            client.handle_input(reply);
            while let Some(out) = client.poll_output() {
                sent.push(out);
            }
        }
        let expected = [
            Pop3ClientOutput::Send(Bytes::from("USER bob@b.example\r\n")),
            Pop3ClientOutput::Send(Bytes::from("PASS pw\r\n")),
            Pop3ClientOutput::Send(Bytes::from("UIDL\r\n")),
            Pop3ClientOutput::Send(Bytes::from("RETR 1\r\n")),
            Pop3ClientOutput::Fetched {
                uidl: "x.1".to_string(),
                data: Bytes::from(".a\r\n"),
            },
            Pop3ClientOutput::Send(Bytes::from("DELE 1\r\n")),
            Pop3ClientOutput::Send(Bytes::from("QUIT\r\n")),
            Pop3ClientOutput::Done(Ok(())),
        ];
        assert_eq!(sent, expected);
    }

    #[test]
    fn a_lost_connection_ends_the_client_with_an_error() {
        let mut client = Pop3Client::new(BOB, "pw", Pop3Mode::Keep, BTreeSet::new());
        client.handle_input(b"+OK ready\r\n");
        client.connection_lost();
        let last = std::iter::from_fn(|| client.poll_output()).last();
        assert_eq!(
            last,
            Some(Pop3ClientOutput::Done(Err("connection lost".into())))
        );
        client.handle_input(b"garbage\r\n");
        assert_eq!(client.poll_output(), None);
    }
}
