//! The IMAP client session: a user agent that polls INBOX for new mail.

use std::collections::VecDeque;

use bytes::Bytes;

use super::parse::{Assembled, Assembler, Cursor, Value, quote};

/// What the client session wants done next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImapClientOutput {
    /// Send these bytes to the server.
    Send(Bytes),
    /// A new message: its UID in INBOX and its exact bytes.
    Fetched {
        /// The message's UID (valid with [`ImapClient::uidvalidity`]).
        uid: u32,
        /// The message bytes as stored on the server.
        data: Bytes,
    },
    /// The session is over; close the connection. `Err` says why it failed.
    Done(Result<(), String>),
}

/// Where the client is in its fixed command sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Greeting,
    Login,
    Select,
    Fetch,
    Store,
    Logout,
    Finished,
}

/// An IMAP client session that fetches the messages new since the last
/// poll: LOGIN, SELECT INBOX, `UID FETCH <last+1>:* (UID FLAGS RFC822.SIZE
/// BODY.PEEK[])`, `UID STORE <fetched> +FLAGS.SILENT (\Seen)`, LOGOUT.
///
/// BODY.PEEK[] and a separate STORE are used so that a connection lost in
/// the middle of a FETCH leaves unread mail unread, as a real user agent
/// marks a message read only once it has it. Since `<last+1>:*` always
/// matches the last message (RFC 9051 section 6.4.9), UIDs not above the
/// last seen one are ignored. When UIDVALIDITY changed since the last poll,
/// every message is fetched again.
///
/// Feed received bytes to [`handle_input`](Self::handle_input), drain
/// [`poll_output`](Self::poll_output); keep [`last_seen_uid`] and
/// [`uidvalidity`] for the next poll.
///
/// [`last_seen_uid`]: Self::last_seen_uid
/// [`uidvalidity`]: Self::uidvalidity
#[derive(Debug)]
pub struct ImapClient {
    user: String,
    password: String,
    last_seen_uid: u32,
    uidvalidity: Option<u32>,
    /// UIDVALIDITY and EXISTS from the SELECT response.
    selected_uidvalidity: Option<u32>,
    exists: u32,
    /// Only UIDs above this are new (the last seen UID at FETCH time).
    fetch_floor: u32,
    fetched: Vec<u32>,
    step: Step,
    tag_number: u32,
    input: Assembler,
    out: VecDeque<ImapClientOutput>,
}

impl ImapClient {
    /// A client for `user` (full address) that has seen every UID up to
    /// `last_seen_uid` under `last_uidvalidity` (`None`: never polled).
    pub fn new(
        user: &str,
        password: &str,
        last_seen_uid: u32,
        last_uidvalidity: Option<u32>,
    ) -> Self {
        ImapClient {
            user: user.to_string(),
            password: password.to_string(),
            last_seen_uid,
            uidvalidity: last_uidvalidity,
            selected_uidvalidity: None,
            exists: 0,
            fetch_floor: last_seen_uid,
            fetched: Vec::new(),
            step: Step::Greeting,
            tag_number: 0,
            input: Assembler::default(),
            out: VecDeque::new(),
        }
    }

    /// Handles bytes from the server in any chunking.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if self.step == Step::Finished {
            return;
        }
        self.input.push(bytes);
        while let Some(event) = self.input.next() {
            match event {
                Assembled::Complete(response) => self.handle_response(&response),
                // Servers send literals without waiting; nothing to do.
                Assembled::LiteralAnnounced => {}
                Assembled::TooLong(_) => self.fail("server response too long"),
            }
            if self.step == Step::Finished {
                return;
            }
        }
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<ImapClientOutput> {
        self.out.pop_front()
    }

    /// The highest UID handed out so far (or given at creation), for the
    /// next poll.
    pub fn last_seen_uid(&self) -> u32 {
        self.last_seen_uid
    }

    /// The INBOX UIDVALIDITY that [`last_seen_uid`](Self::last_seen_uid)
    /// belongs to, for the next poll.
    pub fn uidvalidity(&self) -> Option<u32> {
        self.uidvalidity
    }

    /// The connection dropped: an error, unless the session was already
    /// logging out.
    pub fn connection_lost(&mut self) {
        match self.step {
            Step::Finished => {}
            Step::Logout => self.finish(Ok(())),
            _ => self.fail("connection lost"),
        }
    }

    /// One whole response (RFC 9051 section 7).
    fn handle_response(&mut self, response: &[u8]) {
        if let Some(rest) = response.strip_prefix(b"* ") {
            return self.untagged(rest);
        }
        if response.starts_with(b"+") {
            return;
        }
        let mut c = Cursor::new(response);
        let Ok(tag) = c.tag() else {
            return self.fail("response without a tag");
        };
        if tag != self.current_tag().as_bytes() {
            return;
        }
        let status = c.sp().and_then(|_| c.keyword()).unwrap_or_default();
        let text = String::from_utf8_lossy(c.rest()).trim().to_string();
        self.completed(status == "OK", &text);
    }

    /// An untagged response: greeting, EXISTS, UIDVALIDITY, FETCH, BYE.
    fn untagged(&mut self, rest: &[u8]) {
        let mut c = Cursor::new(rest);
        if let Ok(n) = c.number() {
            let _ = c.sp();
            match c.keyword().unwrap_or_default().as_str() {
                "EXISTS" => self.exists = n,
                "FETCH" => self.fetch_response(&mut c),
                _ => {}
            }
            return;
        }
        let kind = c.keyword().unwrap_or_default();
        match (kind.as_str(), self.step) {
            ("OK", Step::Greeting) => self.login(),
            ("PREAUTH", Step::Greeting) => self.select(),
            ("BYE", Step::Logout) => {}
            ("BYE", _) => {
                let why = String::from_utf8_lossy(rest).into_owned();
                self.fail(&format!("server closed the session: {why}"));
            }
            ("OK", _) => {
                let _ = c.sp();
                if c.eat(b'[') && c.keyword().as_deref() == Ok("UIDVALIDITY") && c.sp().is_ok() {
                    self.selected_uidvalidity = c.number().ok();
                }
            }
            _ => {}
        }
    }

    /// `* n FETCH (...)`: hands out a new message with its UID and body.
    fn fetch_response(&mut self, c: &mut Cursor) {
        let _ = c.sp();
        let Ok(Value::List(items)) = c.value() else {
            return;
        };
        let mut uid = None;
        let mut data = None;
        for pair in items.chunks(2) {
            match pair {
                [Value::Atom(name), Value::Atom(v)] if name.eq_ignore_ascii_case(b"UID") => {
                    uid = std::str::from_utf8(v)
                        .ok()
                        .and_then(|v| v.parse::<u32>().ok());
                }
                [Value::Atom(name), Value::Str(v)] if name.eq_ignore_ascii_case(b"BODY[]") => {
                    data = Some(v.clone());
                }
                _ => {}
            }
        }
        let (Some(uid), Some(data)) = (uid, data) else {
            return;
        };
        if uid <= self.fetch_floor || self.fetched.contains(&uid) {
            return;
        }
        self.fetched.push(uid);
        self.last_seen_uid = self.last_seen_uid.max(uid);
        self.out.push_back(ImapClientOutput::Fetched { uid, data });
    }

    /// The tagged completion of the command in flight.
    fn completed(&mut self, ok: bool, text: &str) {
        match (self.step, ok) {
            (Step::Login, true) => self.select(),
            (Step::Select, true) => self.after_select(),
            (Step::Fetch, true) => self.store_seen(),
            // Marking \Seen is a courtesy: a refusal does not lose mail.
            (Step::Store, _) => self.logout(),
            (Step::Logout, _) => self.finish(Ok(())),
            (step, false) => {
                let step = format!("{step:?}").to_uppercase();
                self.fail(&format!("server refused {step}: {text}"));
            }
            _ => {}
        }
    }

    fn login(&mut self) {
        let (Some(user), Some(password)) =
            (quote(self.user.as_bytes()), quote(self.password.as_bytes()))
        else {
            return self.fail("credentials need an IMAP literal, not supported");
        };
        self.send(Step::Login, &format!("LOGIN {user} {password}"));
    }

    fn select(&mut self) {
        self.send(Step::Select, "SELECT INBOX");
    }

    /// Checks UIDVALIDITY (RFC 9051 section 2.3.1.1: a new value voids
    /// every UID kept) and fetches what is new.
    fn after_select(&mut self) {
        let Some(v) = self.selected_uidvalidity else {
            return self.fail("SELECT gave no UIDVALIDITY");
        };
        if self.uidvalidity != Some(v) {
            self.last_seen_uid = 0;
            self.uidvalidity = Some(v);
        }
        self.fetch_floor = self.last_seen_uid;
        if self.exists == 0 || self.fetch_floor == u32::MAX {
            return self.logout();
        }
        let from = self.fetch_floor + 1;
        let command = format!("UID FETCH {from}:* (UID FLAGS RFC822.SIZE BODY.PEEK[])");
        self.send(Step::Fetch, &command);
    }

    fn store_seen(&mut self) {
        if self.fetched.is_empty() {
            return self.logout();
        }
        let set = uid_set(&self.fetched);
        self.send(
            Step::Store,
            &format!("UID STORE {set} +FLAGS.SILENT (\\Seen)"),
        );
    }

    fn logout(&mut self) {
        self.send(Step::Logout, "LOGOUT");
    }

    fn current_tag(&self) -> String {
        format!("a{}", self.tag_number)
    }

    /// Sends `command` under a fresh tag and waits in `step`.
    fn send(&mut self, step: Step, command: &str) {
        self.tag_number += 1;
        self.step = step;
        let line = format!("{} {command}\r\n", self.current_tag());
        self.out
            .push_back(ImapClientOutput::Send(Bytes::from(line)));
    }

    fn fail(&mut self, why: &str) {
        self.finish(Err(why.to_string()));
    }

    fn finish(&mut self, result: Result<(), String>) {
        self.step = Step::Finished;
        self.out.push_back(ImapClientOutput::Done(result));
    }
}

/// A UID sequence set with runs compressed, e.g. `1:3,7`.
fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        while i + 1 < sorted.len() && sorted[i + 1] == sorted[i] + 1 {
            i += 1;
        }
        parts.push(match sorted[i] == start {
            true => start.to_string(),
            false => format!("{start}:{}", sorted[i]),
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::imap::{ImapOutput, ImapServer};
    use crate::proto::mailbox::{INBOX, Mailstore};
    use crate::sim::SimTime;

    const BOB: &str = "bob@b.example";

    /// Runs `client` against a fresh server session over `store`, moving
    /// bytes both ways in chunks of `chunk` octets; returns what it
    /// fetched and how it ended.
    fn run(
        client: &mut ImapClient,
        store: &mut Mailstore,
        chunk: usize,
    ) -> (Vec<(u32, Bytes)>, Result<(), String>) {
        let mut server = ImapServer::new("imap.b.example");
        let mut fetched = Vec::new();
        for _ in 0..10_000 {
            let mut to_client = Vec::new();
            let mut closed = false;
            while let Some(out) = server.poll_output() {
                match out {
                    ImapOutput::Reply(b) => to_client.extend_from_slice(&b),
                    ImapOutput::Close => closed = true,
                }
            }
            for piece in to_client.chunks(chunk) {
                client.handle_input(piece);
            }
            if closed {
                client.connection_lost();
            }
            while let Some(out) = client.poll_output() {
                match out {
                    ImapClientOutput::Send(b) => server.handle_input(&b, store, SimTime::ZERO),
                    ImapClientOutput::Fetched { uid, data } => fetched.push((uid, data)),
                    ImapClientOutput::Done(r) => return (fetched, r),
                }
            }
        }
        panic!("client never finished");
    }

    fn store_with(messages: &[&'static [u8]]) -> Mailstore {
        let mut store = Mailstore::new(99);
        store.add_account(BOB, "p\"w");
        for m in messages {
            store.deliver(BOB, Bytes::from_static(m), SimTime::ZERO);
        }
        store
    }

    const ODD: &[u8] = b"Subject: odd\r\n\r\n)\r\n{3}\r\n* 1 FETCH (x)\r\na1 OK no\r\n.\r\n";

    #[test]
    fn a_poll_fetches_byte_identical_messages_and_marks_them_seen() {
        let mut store = store_with(&[ODD, b"two\r\n", b""]);
        let mut client = ImapClient::new(BOB, "p\"w", 0, None);
        let (fetched, result) = run(&mut client, &mut store, 5);
        assert_eq!(result, Ok(()));
        let expected = vec![
            (1, Bytes::from_static(ODD)),
            (2, Bytes::from_static(b"two\r\n")),
            (3, Bytes::new()),
        ];
        assert_eq!(fetched, expected);
        assert_eq!(
            (client.last_seen_uid(), client.uidvalidity()),
            (3, Some(100))
        );
        let inbox = store.folder(BOB, INBOX).unwrap();
        assert!(inbox.messages.iter().all(|m| m.flags.seen));
    }

    #[test]
    fn a_second_poll_fetches_only_new_messages() {
        let mut store = store_with(&[b"one\r\n", b"two\r\n"]);
        let mut first = ImapClient::new(BOB, "p\"w", 0, None);
        assert_eq!(run(&mut first, &mut store, 1000).1, Ok(()));
        // Nothing new: "3:*" still matches UID 2, which must be ignored.
        let mut idle = ImapClient::new(BOB, "p\"w", first.last_seen_uid(), first.uidvalidity());
        let (fetched, result) = run(&mut idle, &mut store, 1000);
        assert_eq!((fetched, result), (vec![], Ok(())));
        assert_eq!(idle.last_seen_uid(), 2);
        store.deliver(BOB, Bytes::from_static(b"three\r\n"), SimTime::ZERO);
        let mut second = ImapClient::new(BOB, "p\"w", idle.last_seen_uid(), idle.uidvalidity());
        let (fetched, _) = run(&mut second, &mut store, 1000);
        assert_eq!(fetched, vec![(3, Bytes::from_static(b"three\r\n"))]);
        assert_eq!(second.last_seen_uid(), 3);
    }

    #[test]
    fn a_changed_uidvalidity_refetches_everything() {
        let mut store = store_with(&[b"one\r\n", b"two\r\n"]);
        let mut client = ImapClient::new(BOB, "p\"w", 2, Some(7));
        let (fetched, result) = run(&mut client, &mut store, 1000);
        assert_eq!(result, Ok(()));
        assert_eq!(fetched.len(), 2);
        assert_eq!(client.uidvalidity(), Some(100));
    }

    #[test]
    fn an_empty_inbox_logs_out_without_fetching() {
        let mut store = store_with(&[]);
        let mut client = ImapClient::new(BOB, "p\"w", 0, None);
        let mut sent = Vec::new();
        let mut server = ImapServer::new("imap.b.example");
        while let Some(ImapOutput::Reply(b)) = server.poll_output() {
            client.handle_input(&b);
        }
        while let Some(out) = client.poll_output() {
            if let ImapClientOutput::Send(b) = &out {
                sent.push(String::from_utf8_lossy(b).into_owned());
                server.handle_input(b, &mut store, SimTime::ZERO);
                while let Some(ImapOutput::Reply(b)) = server.poll_output() {
                    client.handle_input(&b);
                }
            }
        }
        assert_eq!(
            sent,
            vec![
                "a1 LOGIN \"bob@b.example\" \"p\\\"w\"\r\n",
                "a2 SELECT INBOX\r\n",
                "a3 LOGOUT\r\n"
            ]
        );
    }

    #[test]
    fn a_wrong_password_ends_with_an_error() {
        let mut store = store_with(&[b"one\r\n"]);
        let mut client = ImapClient::new(BOB, "nope", 0, None);
        let (fetched, result) = run(&mut client, &mut store, 1000);
        assert!(fetched.is_empty());
        let why = result.unwrap_err();
        assert!(why.contains("AUTHENTICATIONFAILED"), "{why}");
    }

    #[test]
    fn a_lost_connection_mid_fetch_is_an_error_and_keeps_progress() {
        let mut client = ImapClient::new(BOB, "pw", 0, None);
        client.handle_input(b"* OK ready\r\n");
        client.handle_input(b"a1 OK done\r\n* 1 EXISTS\r\n* OK [UIDVALIDITY 5] x\r\n");
        client.handle_input(b"a2 OK sel\r\n* 1 FETCH (UID 4 BODY[] {2}\r\nhi)\r\n");
        client.connection_lost();
        let outputs: Vec<ImapClientOutput> = std::iter::from_fn(|| client.poll_output()).collect();
        assert_eq!(
            outputs.last(),
            Some(&ImapClientOutput::Done(Err("connection lost".to_string())))
        );
        assert!(outputs.contains(&ImapClientOutput::Fetched {
            uid: 4,
            data: Bytes::from_static(b"hi")
        }));
        assert_eq!((client.last_seen_uid(), client.uidvalidity()), (4, Some(5)));
    }

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[5, 1, 2, 3, 9, 10]), "1:3,5,9:10");
        assert_eq!(uid_set(&[7]), "7");
    }
}
