//! The POP3 server session, RFC 1939.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::{Line, LineReader, stuff_multiline};
use crate::proto::mailbox::{INBOX, Mailstore};
use crate::sim::SimTime;

/// What the server session wants done next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pop3Output {
    /// Send these bytes to the client.
    Reply(Bytes),
    /// Close the connection (after sending everything before it).
    Close,
}

/// One message of the maildrop as numbered for this session.
#[derive(Clone, Debug)]
struct Entry {
    uid: u32,
    size: usize,
    deleted: bool,
}

/// The session state, RFC 1939 section 3.
#[derive(Debug)]
enum State {
    /// AUTHORIZATION: the user named by USER, if any.
    Authorization { user: Option<String> },
    /// TRANSACTION: the maildrop as it was at login.
    Transaction {
        address: String,
        uidvalidity: u32,
        entries: Vec<Entry>,
    },
    /// After QUIT or a lost connection: input is ignored.
    Closed,
}

/// A POP3 server session for one connection.
///
/// Drive it with [`handle_input`](Self::handle_input) for every received
/// chunk, then drain [`poll_output`](Self::poll_output) until `None`.
#[derive(Debug)]
pub struct Pop3Server {
    hostname: String,
    state: State,
    lines: LineReader,
    out: VecDeque<Pop3Output>,
}

impl Pop3Server {
    /// A new session; the greeting (RFC 1939 section 4) is queued.
    pub fn new(hostname: &str) -> Self {
        let mut server = Pop3Server {
            hostname: hostname.to_string(),
            state: State::Authorization { user: None },
            lines: LineReader::default(),
            out: VecDeque::new(),
        };
        server.ok(&format!("POP3 server {hostname} ready"));
        server
    }

    /// Handles received bytes in any chunking; replies are queued.
    pub fn handle_input(&mut self, bytes: &[u8], store: &mut Mailstore, now: SimTime) {
        let _ = now;
        if matches!(self.state, State::Closed) {
            return;
        }
        self.lines.push(bytes);
        while let Some(line) = self.lines.next_line() {
            match line {
                Line::Complete(line) => self.handle_command(&line, store),
                Line::TooLong => self.err("line too long"),
            }
            if matches!(self.state, State::Closed) {
                return;
            }
        }
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Pop3Output> {
        self.out.pop_front()
    }

    /// The connection dropped: the session ends without entering UPDATE,
    /// so no deletion takes effect (RFC 1939 section 6).
    pub fn connection_lost(&mut self) {
        self.state = State::Closed;
        self.out.clear();
    }

    /// Parses one command line and runs it.
    fn handle_command(&mut self, line: &[u8], store: &mut Mailstore) {
        let Ok(text) = std::str::from_utf8(line) else {
            return self.err("command is not text");
        };
        let (keyword, args) = match text.split_once(' ') {
            Some((k, a)) => (k, a),
            None => (text, ""),
        };
        let keyword = keyword.to_ascii_uppercase();
        match self.state {
            State::Authorization { .. } => self.authorization(&keyword, args, store),
            State::Transaction { .. } => self.transaction(&keyword, args, store),
            State::Closed => {}
        }
    }

    /// The AUTHORIZATION state, RFC 1939 sections 4 and 7.
    fn authorization(&mut self, keyword: &str, args: &str, store: &mut Mailstore) {
        match keyword {
            // USER names the maildrop; unknown names are refused at once,
            // as in the RFC 1939 section 7 example.
            "USER" => {
                let name = args.trim();
                if name.is_empty() {
                    self.err("USER needs a name");
                } else if store.has_account(name) {
                    self.state = State::Authorization {
                        user: Some(name.to_string()),
                    };
                    self.ok(&format!("{name} is a valid mailbox"));
                } else {
                    self.state = State::Authorization { user: None };
                    self.err(&format!("sorry, no mailbox for {name} here"));
                }
            }
            // PASS takes the rest of the line: passwords may hold spaces
            // (RFC 1939 section 7, PASS discussion).
            "PASS" => self.pass(args, store),
            // APOP needs a timestamp in the greeting and MD5: not offered.
            "APOP" | "AUTH" => self.err(&format!("{keyword} not supported, use USER and PASS")),
            // QUIT in AUTHORIZATION: no UPDATE state (RFC 1939 section 5).
            "QUIT" => self.quit_without_update(),
            "CAPA" => self.capa(),
            "STAT" | "LIST" | "RETR" | "DELE" | "NOOP" | "RSET" | "UIDL" | "TOP" => {
                self.err("not in TRANSACTION state, log in first");
            }
            _ => self.err("unknown command"),
        }
    }

    /// PASS: completes USER/PASS and opens the maildrop snapshot.
    fn pass(&mut self, password: &str, store: &Mailstore) {
        let State::Authorization { user } = &mut self.state else {
            return;
        };
        let Some(address) = user.take() else {
            return self.err("send USER first");
        };
        if !store.authenticate(&address, password) {
            return self.err("invalid password");
        }
        let Some(inbox) = store.folder(&address, INBOX) else {
            return self.err("maildrop not available");
        };
        let entries: Vec<Entry> = inbox
            .messages
            .iter()
            .map(|m| Entry {
                uid: m.uid,
                size: m.data.len(),
                deleted: false,
            })
            .collect();
        let uidvalidity = inbox.uidvalidity;
        self.state = State::Transaction {
            address,
            uidvalidity,
            entries,
        };
        let (n, octets) = self.totals();
        self.ok(&format!("maildrop has {n} messages ({octets} octets)"));
    }

    /// The TRANSACTION state, RFC 1939 section 5.
    fn transaction(&mut self, keyword: &str, args: &str, store: &mut Mailstore) {
        let args: Vec<&str> = args.split_ascii_whitespace().collect();
        match keyword {
            // STAT: count and size of messages not marked deleted.
            "STAT" => {
                let (n, octets) = self.totals();
                self.ok(&format!("{n} {octets}"));
            }
            // LIST with no argument is multi-line; with one it is a scan
            // line for that message.
            "LIST" => self.list_or_uidl(&args, false),
            "UIDL" => self.list_or_uidl(&args, true),
            "RETR" => self.retr(&args, store),
            "TOP" => self.top(&args, store),
            // DELE marks only; the store changes at QUIT (section 6).
            "DELE" => {
                let Some(i) = self.message_arg(&args, 1) else {
                    return;
                };
                self.entries_mut()[i].deleted = true;
                self.ok(&format!("message {} deleted", i + 1));
            }
            "NOOP" => self.ok(""),
            // RSET unmarks every deleted message.
            "RSET" => {
                self.entries_mut()
                    .iter_mut()
                    .for_each(|e| e.deleted = false);
                let (n, octets) = self.totals();
                self.ok(&format!("maildrop has {n} messages ({octets} octets)"));
            }
            "QUIT" => self.update(store),
            "CAPA" => self.capa(),
            "USER" | "PASS" | "APOP" | "AUTH" => self.err("already logged in"),
            _ => self.err("unknown command"),
        }
    }

    /// LIST or UIDL, with or without a message number.
    fn list_or_uidl(&mut self, args: &[&str], uidl: bool) {
        let uidvalidity = match &self.state {
            State::Transaction { uidvalidity, .. } => *uidvalidity,
            _ => return,
        };
        let line = |n: usize, e: &Entry| match uidl {
            true => format!("{n} {uidvalidity}.{}", e.uid),
            false => format!("{n} {}", e.size),
        };
        if !args.is_empty() {
            if let Some(i) = self.message_arg(args, 1) {
                let text = line(i + 1, &self.entries()[i]);
                self.ok(&text);
            }
            return;
        }
        let mut body = String::new();
        for (i, e) in self.entries().iter().enumerate() {
            if !e.deleted {
                body.push_str(&line(i + 1, e));
                body.push_str("\r\n");
            }
        }
        let (n, octets) = self.totals();
        match uidl {
            true => self.ok("unique-id listing follows"),
            false => self.ok(&format!("{n} messages ({octets} octets)")),
        }
        body.push_str(".\r\n");
        self.send(Bytes::from(body));
    }

    /// RETR: the whole message, byte-stuffed; marks it `\Seen`.
    fn retr(&mut self, args: &[&str], store: &mut Mailstore) {
        let Some(i) = self.message_arg(args, 1) else {
            return;
        };
        let Some(data) = self.message_data(i, store, true) else {
            return self.err("message was removed by another session");
        };
        self.ok(&format!("{} octets", data.len()));
        for part in stuff_multiline(&data) {
            self.send(part);
        }
    }

    /// TOP n k: the header, the blank line and k lines of the body
    /// (RFC 1939 section 7). Does not mark `\Seen`.
    fn top(&mut self, args: &[&str], store: &mut Mailstore) {
        let Some(i) = self.message_arg(args, 2) else {
            return;
        };
        let Some(k) = args.get(1).and_then(|k| k.parse::<usize>().ok()) else {
            return self.err("TOP needs a non-negative line count");
        };
        let Some(data) = self.message_data(i, store, false) else {
            return self.err("message was removed by another session");
        };
        self.ok("top of message follows");
        for part in stuff_multiline(&top_lines(&data, k)) {
            self.send(part);
        }
    }

    /// QUIT from TRANSACTION: the UPDATE state removes the marked messages
    /// (RFC 1939 section 6), then the connection closes.
    fn update(&mut self, store: &mut Mailstore) {
        let State::Transaction {
            address, entries, ..
        } = &self.state
        else {
            return;
        };
        let doomed: Vec<u32> = entries
            .iter()
            .filter(|e| e.deleted)
            .map(|e| e.uid)
            .collect();
        let left = match store.folder_mut(address, INBOX) {
            Some(inbox) => {
                inbox.remove_uids(&doomed);
                inbox.messages.len()
            }
            None => 0,
        };
        let host = self.hostname.clone();
        self.ok(&format!("{host} signing off ({left} messages left)"));
        self.state = State::Closed;
        self.out.push_back(Pop3Output::Close);
    }

    /// QUIT from AUTHORIZATION.
    fn quit_without_update(&mut self) {
        let host = self.hostname.clone();
        self.ok(&format!("{host} signing off"));
        self.state = State::Closed;
        self.out.push_back(Pop3Output::Close);
    }

    /// CAPA, RFC 2449 section 5.
    fn capa(&mut self) {
        self.ok("capability list follows");
        self.send(Bytes::from_static(b"USER\r\nTOP\r\nUIDL\r\n.\r\n"));
    }

    /// The bytes of message `i` (0-based), optionally marking it `\Seen`.
    fn message_data(&self, i: usize, store: &mut Mailstore, mark_seen: bool) -> Option<Bytes> {
        let State::Transaction {
            address, entries, ..
        } = &self.state
        else {
            return None;
        };
        let folder = store.folder_mut(address, INBOX)?;
        let message = folder.message_mut(entries[i].uid)?;
        if mark_seen {
            message.flags.seen = true;
        }
        Some(message.data.clone())
    }

    /// The 0-based index named by the first argument, checking the
    /// argument count (`want`) and that the message is not deleted;
    /// answers `-ERR` itself and returns `None` otherwise.
    fn message_arg(&mut self, args: &[&str], want: usize) -> Option<usize> {
        if args.len() != want {
            self.err(&format!("expected {want} argument(s)"));
            return None;
        }
        let n = args[0].parse::<usize>().ok().filter(|&n| n >= 1);
        let Some(n) = n.filter(|&n| n <= self.entries().len()) else {
            self.err("no such message");
            return None;
        };
        if self.entries()[n - 1].deleted {
            self.err(&format!("message {n} already deleted"));
            return None;
        }
        Some(n - 1)
    }

    /// Count and octets of messages not marked deleted.
    fn totals(&self) -> (usize, usize) {
        let live = self.entries().iter().filter(|e| !e.deleted);
        live.fold((0, 0), |(n, o), e| (n + 1, o + e.size))
    }

    fn entries(&self) -> &[Entry] {
        match &self.state {
            State::Transaction { entries, .. } => entries,
            _ => &[],
        }
    }

    fn entries_mut(&mut self) -> &mut [Entry] {
        match &mut self.state {
            State::Transaction { entries, .. } => entries,
            _ => &mut [],
        }
    }

    /// Queues a "+OK" status line.
    fn ok(&mut self, text: &str) {
        self.status("+OK", text);
    }

    /// Queues a "-ERR" status line.
    fn err(&mut self, text: &str) {
        self.status("-ERR", text);
    }

    fn status(&mut self, indicator: &str, text: &str) {
        let mut line = BytesMut::with_capacity(indicator.len() + text.len() + 3);
        line.extend_from_slice(indicator.as_bytes());
        if !text.is_empty() {
            line.extend_from_slice(b" ");
            line.extend_from_slice(text.as_bytes());
        }
        line.extend_from_slice(b"\r\n");
        self.send(line.freeze());
    }

    fn send(&mut self, bytes: Bytes) {
        self.out.push_back(Pop3Output::Reply(bytes));
    }
}

/// The header, the blank line after it and the first `k` body lines of
/// `data` (RFC 1939 section 7, TOP). A message without a blank line is all
/// header.
fn top_lines(data: &Bytes, k: usize) -> Bytes {
    let header_end = if data.starts_with(b"\r\n") {
        Some(2)
    } else {
        data.windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
    };
    let Some(mut end) = header_end else {
        return data.clone();
    };
    for _ in 0..k {
        match data[end..].windows(2).position(|w| w == b"\r\n") {
            Some(p) => end += p + 2,
            None => {
                end = data.len();
                break;
            }
        }
    }
    data.slice(..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "mrose@dbc.mtview.ca.us";

    /// A message of exactly `size` octets: a header, a blank line and a
    /// body of CRLF-ended lines.
    fn message_of_size(size: usize, subject: &str) -> Bytes {
        let mut m = format!("Subject: {subject}\r\n\r\n").into_bytes();
        while m.len() + 2 < size {
            let room = size - m.len() - 2;
            let line_len = room.min(70);
            m.extend(std::iter::repeat_n(b'x', line_len));
            m.extend_from_slice(b"\r\n");
        }
        while m.len() < size {
            m.insert(m.len() - 2, b'y');
        }
        assert_eq!(m.len(), size);
        Bytes::from(m)
    }

    /// The RFC 1939 section 10 maildrop: two messages of 120 and 200
    /// octets.
    fn rfc_store() -> Mailstore {
        let mut store = Mailstore::new(0);
        store.add_account(USER, "tanstaaf");
        store.deliver(USER, message_of_size(120, "one"), SimTime(0));
        store.deliver(USER, message_of_size(200, "two"), SimTime(0));
        store
    }

    struct Harness {
        server: Pop3Server,
        store: Mailstore,
    }

    impl Harness {
        fn new(store: Mailstore) -> Self {
            Harness {
                server: Pop3Server::new("dbc.mtview.ca.us"),
                store,
            }
        }

        /// Sends `line` (CRLF added) and returns every byte sent back.
        fn say(&mut self, line: &str) -> String {
            let input = format!("{line}\r\n");
            self.server
                .handle_input(input.as_bytes(), &mut self.store, SimTime(0));
            self.drain()
        }

        fn drain(&mut self) -> String {
            let mut text = String::new();
            while let Some(out) = self.server.poll_output() {
                match out {
                    Pop3Output::Reply(b) => text.push_str(&String::from_utf8_lossy(&b)),
                    Pop3Output::Close => text.push_str("<close>"),
                }
            }
            text
        }

        fn login(&mut self) {
            self.drain();
            self.say(&format!("USER {USER}"));
            assert!(self.say("PASS tanstaaf").starts_with("+OK"));
        }

        fn inbox_uids(&self) -> Vec<u32> {
            let inbox = self.store.folder(USER, INBOX).unwrap();
            inbox.messages.iter().map(|m| m.uid).collect()
        }
    }

    #[test]
    fn rfc1939_section10_example_session_replays() {
        let mut h = Harness::new(rfc_store());
        assert_eq!(h.drain(), "+OK POP3 server dbc.mtview.ca.us ready\r\n");
        assert_eq!(
            h.say(&format!("USER {USER}")),
            format!("+OK {USER} is a valid mailbox\r\n")
        );
        assert_eq!(
            h.say("PASS tanstaaf"),
            "+OK maildrop has 2 messages (320 octets)\r\n"
        );
        assert_eq!(h.say("STAT"), "+OK 2 320\r\n");
        assert_eq!(
            h.say("LIST"),
            "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"
        );
        let first = h.say("RETR 1");
        let body = String::from_utf8(message_of_size(120, "one").to_vec()).unwrap();
        assert_eq!(first, format!("+OK 120 octets\r\n{body}.\r\n"));
        assert_eq!(h.say("DELE 1"), "+OK message 1 deleted\r\n");
        assert!(h.say("RETR 2").starts_with("+OK 200 octets\r\n"));
        assert_eq!(h.say("DELE 2"), "+OK message 2 deleted\r\n");
        assert_eq!(
            h.say("QUIT"),
            "+OK dbc.mtview.ca.us signing off (0 messages left)\r\n<close>"
        );
        assert!(h.inbox_uids().is_empty());
    }

    #[test]
    fn rfc1939_command_examples_replay() {
        let mut h = Harness::new(rfc_store());
        h.login();
        // LIST 2 and LIST 3 (section 5, LIST examples).
        assert_eq!(h.say("LIST 2"), "+OK 2 200\r\n");
        assert_eq!(h.say("LIST 3"), "-ERR no such message\r\n");
        // DELE 1, then DELE 1 again and RETR 1 (section 5, DELE).
        assert_eq!(h.say("DELE 1"), "+OK message 1 deleted\r\n");
        assert_eq!(h.say("DELE 1"), "-ERR message 1 already deleted\r\n");
        assert_eq!(h.say("RETR 1"), "-ERR message 1 already deleted\r\n");
        assert_eq!(h.say("LIST 1"), "-ERR message 1 already deleted\r\n");
        assert_eq!(h.say("STAT"), "+OK 1 200\r\n");
        // NOOP and RSET (section 5).
        assert_eq!(h.say("NOOP"), "+OK\r\n");
        assert_eq!(
            h.say("RSET"),
            "+OK maildrop has 2 messages (320 octets)\r\n"
        );
        // UIDL (section 7): unique ids stay the same across sessions.
        assert_eq!(
            h.say("UIDL"),
            "+OK unique-id listing follows\r\n1 1.1\r\n2 1.2\r\n.\r\n"
        );
        assert_eq!(h.say("UIDL 2"), "+OK 2 1.2\r\n");
        assert_eq!(h.say("UIDL 3"), "-ERR no such message\r\n");
    }

    #[test]
    fn unknown_user_and_bad_password_are_refused() {
        let mut h = Harness::new(rfc_store());
        h.drain();
        assert_eq!(
            h.say("USER frated"),
            "-ERR sorry, no mailbox for frated here\r\n"
        );
        assert_eq!(h.say("PASS x"), "-ERR send USER first\r\n");
        h.say(&format!("USER {USER}"));
        assert_eq!(h.say("PASS wrong"), "-ERR invalid password\r\n");
        assert_eq!(
            h.say("STAT"),
            "-ERR not in TRANSACTION state, log in first\r\n"
        );
        assert!(
            h.say("APOP mrose c4c9334bac560ecc979e58001b3e22fb")
                .starts_with("-ERR APOP")
        );
        assert_eq!(h.say("QUIT"), "+OK dbc.mtview.ca.us signing off\r\n<close>");
    }

    #[test]
    fn dele_takes_effect_only_at_quit() {
        let mut h = Harness::new(rfc_store());
        h.login();
        h.say("DELE 1");
        assert_eq!(h.inbox_uids(), vec![1, 2]);
        h.say("QUIT");
        assert_eq!(h.inbox_uids(), vec![2]);
    }

    #[test]
    fn a_lost_connection_deletes_nothing() {
        let mut h = Harness::new(rfc_store());
        h.login();
        h.say("DELE 1");
        h.say("DELE 2");
        h.server.connection_lost();
        assert_eq!(h.say("QUIT"), "");
        assert_eq!(h.inbox_uids(), vec![1, 2]);
    }

    #[test]
    fn rset_undoes_deletions() {
        let mut h = Harness::new(rfc_store());
        h.login();
        h.say("DELE 1");
        h.say("RSET");
        h.say("QUIT");
        assert_eq!(h.inbox_uids(), vec![1, 2]);
    }

    #[test]
    fn top_sends_the_header_and_k_body_lines() {
        let mut store = rfc_store();
        let data = Bytes::from_static(b"Subject: t\r\nFrom: a@b\r\n\r\nl1\r\n.l2\r\nl3\r\n");
        store.deliver(USER, data, SimTime(0));
        let mut h = Harness::new(store);
        h.login();
        assert_eq!(
            h.say("TOP 3 2"),
            "+OK top of message follows\r\nSubject: t\r\nFrom: a@b\r\n\r\nl1\r\n..l2\r\n.\r\n"
        );
        assert_eq!(
            h.say("TOP 3 0"),
            "+OK top of message follows\r\nSubject: t\r\nFrom: a@b\r\n\r\n.\r\n"
        );
        assert!(h.say("TOP 3 99").ends_with("l3\r\n.\r\n"));
        assert_eq!(h.say("TOP 3"), "-ERR expected 2 argument(s)\r\n");
        assert_eq!(
            h.say("TOP 3 x"),
            "-ERR TOP needs a non-negative line count\r\n"
        );
        let inbox = h.store.folder(USER, INBOX).unwrap();
        assert!(!inbox.message(3).unwrap().flags.seen);
    }

    #[test]
    fn retr_marks_the_message_seen_in_the_store() {
        let mut h = Harness::new(rfc_store());
        h.login();
        h.say("RETR 2");
        let inbox = h.store.folder(USER, INBOX).unwrap();
        assert!(!inbox.message(1).unwrap().flags.seen);
        assert!(inbox.message(2).unwrap().flags.seen);
    }

    #[test]
    fn garbage_gets_err_and_the_session_continues() {
        let mut h = Harness::new(rfc_store());
        h.drain();
        assert_eq!(h.say("\u{1}\u{2}xyzzy"), "-ERR unknown command\r\n");
        h.server
            .handle_input(b"\xff\xfe\r\n", &mut h.store, SimTime(0));
        assert_eq!(h.drain(), "-ERR command is not text\r\n");
        assert_eq!(h.say(""), "-ERR unknown command\r\n");
        h.login();
        assert_eq!(h.say("RETR"), "-ERR expected 1 argument(s)\r\n");
        assert_eq!(h.say("RETR -1"), "-ERR no such message\r\n");
        assert_eq!(
            h.say("RETR 99999999999999999999"),
            "-ERR no such message\r\n"
        );
        assert_eq!(h.say("FOO"), "-ERR unknown command\r\n");
        assert_eq!(h.say("stat"), "+OK 2 320\r\n");
    }

    #[test]
    fn commands_split_across_chunks_are_handled() {
        let mut h = Harness::new(rfc_store());
        h.login();
        for b in b"STAT\r\nNO" {
            h.server
                .handle_input(std::slice::from_ref(b), &mut h.store, SimTime(0));
        }
        assert_eq!(h.drain(), "+OK 2 320\r\n");
        h.server.handle_input(b"OP\r\n", &mut h.store, SimTime(0));
        assert_eq!(h.drain(), "+OK\r\n");
    }

    #[test]
    fn message_numbers_stay_fixed_while_others_change_the_inbox() {
        let mut h = Harness::new(rfc_store());
        h.login();
        h.store
            .deliver(USER, message_of_size(50, "new"), SimTime(1));
        let inbox = h.store.folder_mut(USER, INBOX).unwrap();
        inbox.remove_uids(&[1]);
        assert_eq!(h.say("STAT"), "+OK 2 320\r\n");
        assert_eq!(
            h.say("RETR 1"),
            "-ERR message was removed by another session\r\n"
        );
        assert!(h.say("RETR 2").starts_with("+OK 200 octets"));
        h.say("DELE 1");
        assert!(h.say("QUIT").contains("(2 messages left)"));
        assert_eq!(h.inbox_uids(), vec![2, 3]);
    }
}
