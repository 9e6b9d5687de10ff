//! The IMAP server session, RFC 9051 (RFC 3501 compatible).

use std::collections::{BTreeSet, VecDeque};

use bytes::{Bytes, BytesMut};

use super::parse::{
    Assembled, Assembler, Cursor, Parsed, SeqNumber, SequenceSet, is_atom_char, quote,
};
use super::{date_time, flag_field, flag_list};
use crate::proto::mailbox::{
    Flags, FolderError, INBOX, Mailstore, SIM_EPOCH_UNIX_SECS, StoredMessage,
};
use crate::sim::SimTime;

/// What the server session wants done next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImapOutput {
    /// Send these bytes to the client.
    Reply(Bytes),
    /// Close the connection (after sending everything before it).
    Close,
}

/// The capabilities advertised in the greeting and by CAPABILITY.
const CAPABILITIES: &str = "IMAP4rev1 LITERAL+ UNSELECT IDLE";

/// The system flags as listed by FLAGS and PERMANENTFLAGS, in the order of
/// the RFC 3501 section 8 example.
const SYSTEM_FLAGS: &str = "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)";

/// An IMAP server session for one connection.
///
/// Drive it with [`handle_input`](Self::handle_input) for every received
/// chunk and drain [`poll_output`](Self::poll_output) until `None`. While a
/// client idles (RFC 2177), call
/// [`handle_store_change`](Self::handle_store_change) after the store
/// changed (say a delivery) so the client hears of it at once.
#[derive(Debug)]
pub struct ImapServer {
    hostname: String,
    input: Assembler,
    out: Writer,
    /// The authenticated user (full address), RFC 9051 section 3.2.
    user: Option<String>,
    /// The selected mailbox, RFC 9051 section 3.3.
    selected: Option<Selected>,
    /// The tag of a running IDLE command.
    idle: Option<String>,
    /// After LOGOUT or a lost connection: input is ignored.
    closed: bool,
}

/// The selected mailbox and this session's view of it.
#[derive(Debug)]
struct Selected {
    name: String,
    uidvalidity: u32,
    read_only: bool,
    /// Sequence number `i + 1` is `view[i]`: the UID and the flags last
    /// reported to the client.
    view: Vec<(u32, Flags)>,
}

/// The outcome of one command, for its tagged response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Ok,
    No,
    Bad,
}

/// A status and its human-readable text (response code included).
type Completion = (Status, String);

fn ok(text: &str) -> Completion {
    (Status::Ok, text.to_string())
}

fn no(text: &str) -> Completion {
    (Status::No, text.to_string())
}

fn bad(text: &str) -> Completion {
    (Status::Bad, text.to_string())
}

/// A parsed command, RFC 9051 section 6.
#[derive(Debug)]
enum Command {
    Capability,
    Noop,
    Logout,
    Login {
        user: Bytes,
        password: Bytes,
    },
    Unsupported(String),
    Select {
        mailbox: String,
        read_only: bool,
    },
    Create(String),
    Delete(String),
    List {
        reference: String,
        pattern: String,
        lsub: bool,
    },
    Subscribe,
    Status {
        mailbox: String,
        items: Vec<String>,
    },
    Append {
        mailbox: String,
        flags: Vec<String>,
        data: Bytes,
    },
    Idle,
    Check,
    Close,
    Unselect,
    Expunge,
    Fetch {
        set: SequenceSet,
        items: Vec<FetchItem>,
        uid: bool,
    },
    Store(StoreArgs),
    Copy {
        set: SequenceSet,
        mailbox: String,
        uid: bool,
    },
}

/// The arguments of STORE and UID STORE, RFC 9051 section 6.4.6.
#[derive(Debug)]
struct StoreArgs {
    set: SequenceSet,
    op: StoreOp,
    silent: bool,
    flags: Vec<String>,
    uid: bool,
}

/// How STORE combines the given flags with the message's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StoreOp {
    Replace,
    Add,
    Remove,
}

/// One FETCH data item, RFC 9051 section 6.4.5.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FetchItem {
    Flags,
    Uid,
    Rfc822Size,
    InternalDate,
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    Body {
        section: Section,
        partial: Option<(u32, u32)>,
        peek: bool,
    },
}

impl FetchItem {
    /// Whether fetching this item sets `\Seen` (RFC 9051 section 6.4.5).
    fn sets_seen(&self) -> bool {
        match self {
            FetchItem::Rfc822 | FetchItem::Rfc822Text => true,
            FetchItem::Body { peek, .. } => !peek,
            _ => false,
        }
    }
}

/// A body section, RFC 9051 section 6.4.5 (no MIME part numbers).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Section {
    Full,
    Header,
    Text,
    HeaderFields { names: Vec<String>, not: bool },
}

impl ImapServer {
    /// A new session; the greeting (RFC 9051 section 7.1.1) is queued.
    pub fn new(hostname: &str) -> Self {
        let out = Writer {
            epoch_unix: SIM_EPOCH_UNIX_SECS as i64,
            ..Writer::default()
        };
        let mut server = ImapServer {
            hostname: hostname.to_string(),
            input: Assembler::default(),
            out,
            user: None,
            selected: None,
            idle: None,
            closed: false,
        };
        server.out.line(&format!(
            "* OK [CAPABILITY {CAPABILITIES}] {hostname} IMAP4rev1 service ready"
        ));
        server
    }

    /// Sets the calendar time of simulated time zero (Unix seconds), used
    /// to print INTERNALDATE; the default is `SIM_EPOCH_UNIX_SECS`.
    pub fn set_epoch(&mut self, epoch_unix: i64) {
        self.out.epoch_unix = epoch_unix;
    }

    /// Handles received bytes in any chunking; responses are queued.
    pub fn handle_input(&mut self, bytes: &[u8], store: &mut Mailstore, now: SimTime) {
        if self.closed {
            return;
        }
        self.input.push(bytes);
        while let Some(event) = self.input.next() {
            match event {
                Assembled::Complete(command) => self.handle_command(&command, store, now),
                // RFC 9051 section 7.5: ask for the literal's octets.
                Assembled::LiteralAnnounced => self.out.line("+ Ready for literal data"),
                Assembled::TooLong(tag) => {
                    let tag = tag.map(|t| String::from_utf8_lossy(&t).into_owned());
                    let tag = tag.unwrap_or_else(|| "*".to_string());
                    self.out
                        .line(&format!("{tag} BAD command or literal too long"));
                }
            }
            if self.closed {
                return;
            }
        }
        self.out.flush();
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<ImapOutput> {
        self.out.flush();
        self.out.queue.pop_front()
    }

    /// Tells an idling session the store changed, so it can send EXISTS,
    /// EXPUNGE and FETCH updates at once (RFC 2177). Does nothing when the
    /// client is not idling: it hears at its next command.
    pub fn handle_store_change(&mut self, store: &Mailstore) {
        if self.idle.is_some() && !self.closed {
            self.sync(store, true);
            self.out.flush();
        }
    }

    /// The connection dropped: the session ends; nothing is expunged.
    pub fn connection_lost(&mut self) {
        self.closed = true;
        self.selected = None;
        self.out = Writer {
            epoch_unix: self.out.epoch_unix,
            ..Writer::default()
        };
    }

    /// Parses and runs one assembled command.
    fn handle_command(&mut self, line: &[u8], store: &mut Mailstore, now: SimTime) {
        if let Some(tag) = self.idle.take() {
            return self.end_idle(&tag, line);
        }
        let mut c = Cursor::new(line);
        let tag = match c.tag() {
            Ok(tag) => String::from_utf8_lossy(tag).into_owned(),
            Err(_) if line.is_empty() => return self.out.line("* BAD empty command line"),
            Err(_) => return self.out.line("* BAD missing or invalid tag"),
        };
        let command = c.sp().and_then(|_| parse_command(&mut c));
        match command {
            Ok(command) => self.run(&tag, command, store, now),
            Err(why) => self.tagged(&tag, bad(&why)),
        }
    }

    /// Runs a command in the current state and sends its tagged response,
    /// after any untagged updates for the selected mailbox.
    fn run(&mut self, tag: &str, command: Command, store: &mut Mailstore, now: SimTime) {
        // RFC 9051 section 7.5.1: no EXPUNGE while answering FETCH, STORE
        // or COPY by sequence number.
        let allow_expunge = !matches!(
            command,
            Command::Fetch { uid: false, .. }
                | Command::Store(StoreArgs { uid: false, .. })
                | Command::Copy { uid: false, .. }
        );
        let completion = match self.check_state(&command) {
            Some(refusal) => refusal,
            None => self.execute(tag, command, store, now),
        };
        if self.closed || self.idle.is_some() {
            return;
        }
        self.sync(store, allow_expunge);
        self.tagged(tag, completion);
    }

    /// The BAD answer for a command not valid in the current state
    /// (RFC 9051 section 3), if any.
    fn check_state(&self, command: &Command) -> Option<Completion> {
        let needs_auth = !matches!(
            command,
            Command::Capability
                | Command::Noop
                | Command::Logout
                | Command::Login { .. }
                | Command::Unsupported(_)
        );
        let needs_selected = matches!(
            command,
            Command::Check
                | Command::Close
                | Command::Unselect
                | Command::Expunge
                | Command::Fetch { .. }
                | Command::Store(_)
                | Command::Copy { .. }
        );
        if matches!(command, Command::Login { .. }) && self.user.is_some() {
            return Some(bad("already authenticated"));
        }
        if needs_auth && self.user.is_none() {
            return Some(bad("command not valid before LOGIN"));
        }
        if needs_selected && self.selected.is_none() {
            return Some(bad("no mailbox selected"));
        }
        None
    }

    /// The central dispatch: each arm runs one command of RFC 9051
    /// section 6, the state already checked.
    fn execute(
        &mut self,
        tag: &str,
        command: Command,
        store: &mut Mailstore,
        now: SimTime,
    ) -> Completion {
        match command {
            // 6.1.1: list the capabilities.
            Command::Capability => {
                self.out.line(&format!("* CAPABILITY {CAPABILITIES}"));
                ok("CAPABILITY completed")
            }
            // 6.1.2: nothing, but updates are sent after it.
            Command::Noop => ok("NOOP completed"),
            // 6.1.3: BYE, then the tagged OK, then close.
            Command::Logout => {
                self.out
                    .line(&format!("* BYE {} logging out", self.hostname));
                self.tagged(tag, ok("LOGOUT completed"));
                self.closed = true;
                self.out.close();
                ok("")
            }
            // 6.2.3: plaintext login with the full address as user name.
            Command::Login { user, password } => self.login(&user, &password, store),
            // Named features this server does not have.
            Command::Unsupported(what) => bad(&format!("{what} is not supported")),
            // 6.3.2 / 6.3.3: open a mailbox read-write or read-only.
            Command::Select { mailbox, read_only } => self.select(&mailbox, read_only, store),
            // 6.3.4: create a folder and any missing parents.
            Command::Create(name) => self.create(&name, store),
            // 6.3.5: delete a folder (not INBOX).
            Command::Delete(name) => {
                let user = self.user_name();
                match store.delete_folder(&user, &name) {
                    Ok(()) => ok("DELETE completed"),
                    Err(e) => no(&e.to_string()),
                }
            }
            // 6.3.9 (and RFC 3501 6.3.9 LSUB): every folder is subscribed.
            Command::List {
                reference,
                pattern,
                lsub,
            } => self.list(&reference, &pattern, lsub, store),
            Command::Subscribe => ok("subscriptions are not kept; all folders are listed"),
            // 6.3.11: counts for a folder without selecting it.
            Command::Status { mailbox, items } => self.status(&mailbox, &items, store),
            // 6.3.12: add a message to a folder.
            Command::Append {
                mailbox,
                flags,
                data,
            } => self.append(&mailbox, &flags, data, store, now),
            // RFC 2177: updates flow until DONE.
            Command::Idle => {
                self.out.line("+ idling");
                self.sync(store, true);
                self.idle = Some(tag.to_string());
                ok("")
            }
            // 6.4.1: a checkpoint; nothing to do in memory.
            Command::Check => ok("CHECK completed"),
            // 6.4.2: expunge silently (read-write only), then deselect.
            Command::Close => {
                if let Some(sel) = self.selected.take()
                    && !sel.read_only
                    && let Some(folder) = store.folder_mut(&self.user_name(), &sel.name)
                {
                    folder.expunge();
                }
                ok("CLOSE completed")
            }
            // RFC 3691: deselect without expunging.
            Command::Unselect => {
                self.selected = None;
                ok("UNSELECT completed")
            }
            // 6.4.3: remove \Deleted messages; the sync reports them.
            Command::Expunge => self.expunge(store),
            // 6.4.5 / 6.4.9: message data.
            Command::Fetch { set, items, uid } => self.fetch(&set, &items, uid, store),
            // 6.4.6 / 6.4.9: change flags.
            Command::Store(args) => self.store(&args, store),
            // 6.4.7 / 6.4.9: copy messages to another folder.
            Command::Copy { set, mailbox, uid } => self.copy(&set, &mailbox, uid, store),
        }
    }

    fn login(&mut self, user: &[u8], password: &[u8], store: &Mailstore) -> Completion {
        let (Ok(user), Ok(password)) = (std::str::from_utf8(user), std::str::from_utf8(password))
        else {
            return no("[AUTHENTICATIONFAILED] invalid credentials");
        };
        if !store.authenticate(user, password) {
            return no("[AUTHENTICATIONFAILED] invalid credentials");
        }
        self.user = Some(user.to_ascii_lowercase());
        ok("LOGIN completed")
    }

    fn select(&mut self, mailbox: &str, read_only: bool, store: &Mailstore) -> Completion {
        // A failed SELECT leaves no mailbox selected (RFC 9051 6.3.2).
        self.selected = None;
        let Some(folder) = store.folder(&self.user_name(), mailbox) else {
            return no("no such mailbox");
        };
        let view: Vec<(u32, Flags)> = folder.messages.iter().map(|m| (m.uid, m.flags)).collect();
        self.out.line(&format!("* FLAGS {SYSTEM_FLAGS}"));
        self.out.line(&format!("* {} EXISTS", view.len()));
        self.out.line("* 0 RECENT");
        if let Some(i) = view.iter().position(|(_, f)| !f.seen) {
            let n = i + 1;
            self.out
                .line(&format!("* OK [UNSEEN {n}] message {n} is first unseen"));
        }
        let v = folder.uidvalidity;
        self.out.line(&format!("* OK [UIDVALIDITY {v}] UIDs valid"));
        let next = folder.uidnext;
        self.out
            .line(&format!("* OK [UIDNEXT {next}] predicted next UID"));
        let permanent = if read_only { "()" } else { SYSTEM_FLAGS };
        self.out
            .line(&format!("* OK [PERMANENTFLAGS {permanent}] limited"));
        self.selected = Some(Selected {
            name: canonical(mailbox),
            uidvalidity: v,
            read_only,
            view,
        });
        match read_only {
            true => ok("[READ-ONLY] EXAMINE completed"),
            false => ok("[READ-WRITE] SELECT completed"),
        }
    }

    fn create(&mut self, name: &str, store: &mut Mailstore) -> Completion {
        let user = self.user_name();
        let name = name.trim_end_matches('/');
        if name.eq_ignore_ascii_case(INBOX) {
            return no("INBOX always exists");
        }
        // RFC 9051 6.3.4: superior names are created as needed.
        for (i, _) in name.match_indices('/') {
            let _ = store.create_folder(&user, &name[..i]);
        }
        match store.create_folder(&user, name) {
            Ok(()) => ok("CREATE completed"),
            Err(FolderError::Exists) => no("[ALREADYEXISTS] mailbox already exists"),
            Err(e) => no(&e.to_string()),
        }
    }

    fn list(
        &mut self,
        reference: &str,
        pattern: &str,
        lsub: bool,
        store: &Mailstore,
    ) -> Completion {
        let kind = if lsub { "LSUB" } else { "LIST" };
        // RFC 9051 6.3.9: an empty pattern asks for the delimiter.
        if pattern.is_empty() {
            self.out.line(&format!("* {kind} (\\Noselect) \"/\" \"\""));
            return ok(&format!("{kind} completed"));
        }
        let full = format!("{reference}{pattern}");
        let Some(account) = store.account(&self.user_name()) else {
            return no("account vanished");
        };
        for name in account.folders.keys() {
            let matched = match name == INBOX {
                true => wildcard_match(full.to_ascii_uppercase().as_bytes(), name.as_bytes()),
                false => wildcard_match(full.as_bytes(), name.as_bytes()),
            };
            if matched {
                let quoted = quote(name.as_bytes()).unwrap_or_default();
                self.out.line(&format!("* {kind} () \"/\" {quoted}"));
            }
        }
        ok(&format!("{kind} completed"))
    }

    fn status(&mut self, mailbox: &str, items: &[String], store: &Mailstore) -> Completion {
        let Some(folder) = store.folder(&self.user_name(), mailbox) else {
            return no("no such mailbox");
        };
        let mut parts = Vec::new();
        for item in items {
            let value = match item.as_str() {
                "MESSAGES" => folder.messages.len() as u64,
                "UIDNEXT" => u64::from(folder.uidnext),
                "UIDVALIDITY" => u64::from(folder.uidvalidity),
                "UNSEEN" => folder.unseen() as u64,
                "RECENT" => 0,
                "SIZE" => folder.messages.iter().map(|m| m.data.len() as u64).sum(),
                other => return bad(&format!("unknown STATUS item {other}")),
            };
            parts.push(format!("{item} {value}"));
        }
        let quoted = quote(canonical(mailbox).as_bytes()).unwrap_or_default();
        self.out
            .line(&format!("* STATUS {quoted} ({})", parts.join(" ")));
        ok("STATUS completed")
    }

    fn append(
        &mut self,
        mailbox: &str,
        flags: &[String],
        data: Bytes,
        store: &mut Mailstore,
        now: SimTime,
    ) -> Completion {
        let mut set = Flags::default();
        if let Err(why) = apply_flags(&mut set, flags, StoreOp::Add) {
            return bad(&why);
        }
        match store.append(&self.user_name(), mailbox, data, set, now) {
            Some(_) => ok("APPEND completed"),
            None => no("[TRYCREATE] no such mailbox"),
        }
    }

    fn expunge(&mut self, store: &mut Mailstore) -> Completion {
        let user = self.user_name();
        let Some(sel) = &self.selected else {
            return bad("no mailbox selected");
        };
        if sel.read_only {
            return no("[READ-ONLY] mailbox is read-only");
        }
        if let Some(folder) = store.folder_mut(&user, &sel.name) {
            folder.expunge();
        }
        ok("EXPUNGE completed")
    }

    fn fetch(
        &mut self,
        set: &SequenceSet,
        items: &[FetchItem],
        uid: bool,
        store: &mut Mailstore,
    ) -> Completion {
        let user = self.user_name();
        let Some(sel) = &mut self.selected else {
            return bad("no mailbox selected");
        };
        let indices = match resolve(&sel.view, set, uid) {
            Ok(indices) => indices,
            Err(why) => return bad(&why),
        };
        let mut items = items.to_vec();
        // RFC 9051 6.4.9: UID FETCH responses always carry the UID.
        if uid && !items.contains(&FetchItem::Uid) {
            items.insert(0, FetchItem::Uid);
        }
        let sets_seen = !sel.read_only && items.iter().any(FetchItem::sets_seen);
        let wants_flags = items.contains(&FetchItem::Flags);
        let Some(folder) = store.folder_mut(&user, &sel.name) else {
            return no("mailbox vanished");
        };
        for i in indices {
            // A message expunged by another session, not yet reported.
            let Some(message) = folder.message_mut(sel.view[i].0) else {
                continue;
            };
            let newly_seen = sets_seen && !message.flags.seen;
            message.flags.seen |= sets_seen;
            if wants_flags || newly_seen {
                sel.view[i].1 = message.flags;
            }
            self.out.raw(&format!("* {} FETCH (", i + 1));
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    self.out.raw(" ");
                }
                self.out.fetch_item(item, message);
            }
            // RFC 3501 6.4.5: a \Seen set by BODY[] is reported.
            if newly_seen && !wants_flags {
                self.out
                    .raw(&format!(" FLAGS {}", flag_list(&message.flags)));
            }
            self.out.raw(")\r\n");
        }
        ok("FETCH completed")
    }

    fn store(&mut self, args: &StoreArgs, store: &mut Mailstore) -> Completion {
        let user = self.user_name();
        let Some(sel) = &mut self.selected else {
            return bad("no mailbox selected");
        };
        if sel.read_only {
            return no("[READ-ONLY] mailbox is read-only");
        }
        let indices = match resolve(&sel.view, &args.set, args.uid) {
            Ok(indices) => indices,
            Err(why) => return bad(&why),
        };
        if let Err(why) = apply_flags(&mut Flags::default(), &args.flags, args.op) {
            return bad(&why);
        }
        let Some(folder) = store.folder_mut(&user, &sel.name) else {
            return no("mailbox vanished");
        };
        for i in indices {
            let Some(message) = folder.message_mut(sel.view[i].0) else {
                continue;
            };
            let _ = apply_flags(&mut message.flags, &args.flags, args.op);
            sel.view[i].1 = message.flags;
            if args.silent {
                continue;
            }
            let flags = flag_list(&message.flags);
            match args.uid {
                true => self.out.line(&format!(
                    "* {} FETCH (FLAGS {flags} UID {})",
                    i + 1,
                    message.uid
                )),
                false => self.out.line(&format!("* {} FETCH (FLAGS {flags})", i + 1)),
            }
        }
        ok("STORE completed")
    }

    fn copy(
        &mut self,
        set: &SequenceSet,
        target: &str,
        uid: bool,
        store: &mut Mailstore,
    ) -> Completion {
        let user = self.user_name();
        let Some(sel) = &self.selected else {
            return bad("no mailbox selected");
        };
        let indices = match resolve(&sel.view, set, uid) {
            Ok(indices) => indices,
            Err(why) => return bad(&why),
        };
        let Some(folder) = store.folder(&user, &sel.name) else {
            return no("mailbox vanished");
        };
        let messages: Vec<StoredMessage> = indices
            .iter()
            .filter_map(|&i| folder.message(sel.view[i].0).cloned())
            .collect();
        // RFC 9051 6.4.7: a missing target gets TRYCREATE.
        let Some(target) = store.folder_mut(&user, target) else {
            return no("[TRYCREATE] no such mailbox");
        };
        for m in messages {
            target.append(m.data, m.flags, m.internal_date);
        }
        ok("COPY completed")
    }

    /// Ends IDLE: "DONE" completes it (RFC 2177), anything else is BAD.
    fn end_idle(&mut self, tag: &str, line: &[u8]) {
        match line.eq_ignore_ascii_case(b"DONE") {
            true => self.tagged(tag, ok("IDLE terminated")),
            false => self.tagged(tag, bad("expected DONE")),
        }
    }

    /// Brings the client's view of the selected mailbox up to date with
    /// the store: EXPUNGE (when allowed), FETCH FLAGS, then EXISTS.
    fn sync(&mut self, store: &Mailstore, allow_expunge: bool) {
        let user = self.user_name();
        let Some(sel) = &mut self.selected else {
            return;
        };
        let folder = store
            .folder(&user, &sel.name)
            .filter(|f| f.uidvalidity == sel.uidvalidity);
        let present = |uid: u32| folder.and_then(|f| f.message(uid));
        if allow_expunge {
            // Ascending, each number as it is when sent (RFC 9051 7.5.1).
            let mut i = 0;
            while i < sel.view.len() {
                if present(sel.view[i].0).is_none() {
                    self.out.line(&format!("* {} EXPUNGE", i + 1));
                    sel.view.remove(i);
                } else {
                    i += 1;
                }
            }
        }
        for (i, (uid, flags)) in sel.view.iter_mut().enumerate() {
            if let Some(m) = present(*uid)
                && m.flags != *flags
            {
                *flags = m.flags;
                let list = flag_list(flags);
                self.out.line(&format!("* {} FETCH (FLAGS {list})", i + 1));
            }
        }
        let last = sel.view.last().map_or(0, |(uid, _)| *uid);
        let Some(folder) = folder else {
            return;
        };
        let first_new = folder.messages.partition_point(|m| m.uid <= last);
        if first_new < folder.messages.len() {
            let new = folder.messages[first_new..]
                .iter()
                .map(|m| (m.uid, m.flags));
            sel.view.extend(new);
            self.out.line(&format!("* {} EXISTS", sel.view.len()));
        }
    }

    fn user_name(&self) -> String {
        self.user.clone().unwrap_or_default()
    }

    /// Queues the tagged response that completes a command.
    fn tagged(&mut self, tag: &str, (status, text): Completion) {
        let status = match status {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        };
        self.out.line(&format!("{tag} {status} {text}"));
    }
}

/// Collects response text and shares message octets without copying.
#[derive(Debug, Default)]
struct Writer {
    text: BytesMut,
    queue: VecDeque<ImapOutput>,
    /// Calendar seconds of simulated time zero, for INTERNALDATE.
    epoch_unix: i64,
}

impl Writer {
    fn raw(&mut self, s: &str) {
        self.text.extend_from_slice(s.as_bytes());
    }

    fn line(&mut self, s: &str) {
        self.raw(s);
        self.raw("\r\n");
    }

    /// A literal `{n}` CRLF and its octets (RFC 9051 section 4.3).
    fn literal(&mut self, data: Bytes) {
        self.raw(&format!("{{{}}}\r\n", data.len()));
        self.flush();
        if !data.is_empty() {
            self.queue.push_back(ImapOutput::Reply(data));
        }
    }

    fn flush(&mut self) {
        if !self.text.is_empty() {
            let text = self.text.split().freeze();
            self.queue.push_back(ImapOutput::Reply(text));
        }
    }

    fn close(&mut self) {
        self.flush();
        self.queue.push_back(ImapOutput::Close);
    }

    /// One FETCH data item of `m`, RFC 9051 section 7.5.2.
    fn fetch_item(&mut self, item: &FetchItem, m: &StoredMessage) {
        match item {
            FetchItem::Flags => self.raw(&format!("FLAGS {}", flag_list(&m.flags))),
            FetchItem::Uid => self.raw(&format!("UID {}", m.uid)),
            FetchItem::Rfc822Size => self.raw(&format!("RFC822.SIZE {}", m.data.len())),
            FetchItem::InternalDate => {
                let when = date_time(self.epoch_unix, m.internal_date);
                self.raw(&format!("INTERNALDATE \"{when}\""));
            }
            FetchItem::Rfc822 => {
                self.raw("RFC822 ");
                self.literal(m.data.clone());
            }
            FetchItem::Rfc822Header => {
                self.raw("RFC822.HEADER ");
                self.literal(section_data(&m.data, &Section::Header));
            }
            FetchItem::Rfc822Text => {
                self.raw("RFC822.TEXT ");
                self.literal(section_data(&m.data, &Section::Text));
            }
            FetchItem::Body {
                section, partial, ..
            } => {
                let mut data = section_data(&m.data, section);
                self.raw(&format!("BODY[{}]", section_name(section)));
                if let Some((start, count)) = partial {
                    let start = (*start as usize).min(data.len());
                    let end = start.saturating_add(*count as usize).min(data.len());
                    data = data.slice(start..end);
                    self.raw(&format!("<{start}>"));
                }
                self.raw(" ");
                self.literal(data);
            }
        }
    }
}

/// Parses what follows the tag, RFC 9051 section 9 `command`.
fn parse_command(c: &mut Cursor) -> Parsed<Command> {
    let name = c.keyword()?;
    let command = match name.as_str() {
        "CAPABILITY" => Command::Capability,
        "NOOP" => Command::Noop,
        "LOGOUT" => Command::Logout,
        "LOGIN" => {
            c.sp()?;
            let user = c.astring()?;
            c.sp()?;
            let password = c.astring()?;
            Command::Login { user, password }
        }
        "AUTHENTICATE" | "STARTTLS" | "SEARCH" | "RENAME" | "NAMESPACE" | "ENABLE" | "MOVE" => {
            let _ = c.until(b'\n');
            Command::Unsupported(name)
        }
        "SELECT" | "EXAMINE" => Command::Select {
            mailbox: sp_mailbox(c)?,
            read_only: name == "EXAMINE",
        },
        "CREATE" => Command::Create(sp_mailbox(c)?),
        "DELETE" => Command::Delete(sp_mailbox(c)?),
        "LIST" | "LSUB" => {
            let reference = sp_mailbox(c)?;
            c.sp()?;
            let pattern = utf8(c.list_mailbox()?)?;
            let lsub = name == "LSUB";
            Command::List {
                reference,
                pattern,
                lsub,
            }
        }
        "SUBSCRIBE" | "UNSUBSCRIBE" => {
            sp_mailbox(c)?;
            Command::Subscribe
        }
        "STATUS" => parse_status(c)?,
        "APPEND" => parse_append(c)?,
        "IDLE" => Command::Idle,
        "CHECK" => Command::Check,
        "CLOSE" => Command::Close,
        "UNSELECT" => Command::Unselect,
        "EXPUNGE" => Command::Expunge,
        "FETCH" | "STORE" | "COPY" => parse_message_command(c, &name, false)?,
        "UID" => {
            c.sp()?;
            let sub = c.keyword()?;
            match sub.as_str() {
                "FETCH" | "STORE" | "COPY" => parse_message_command(c, &sub, true)?,
                "SEARCH" | "EXPUNGE" | "MOVE" => {
                    let _ = c.until(b'\n');
                    Command::Unsupported(format!("UID {sub}"))
                }
                _ => return Err(format!("unknown UID command {sub}")),
            }
        }
        _ => return Err(format!("unknown command {name}")),
    };
    c.end()?;
    Ok(command)
}

/// SP mailbox: an astring naming a folder.
fn sp_mailbox(c: &mut Cursor) -> Parsed<String> {
    c.sp()?;
    utf8(c.astring()?)
}

fn utf8(bytes: Bytes) -> Parsed<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "mailbox name is not UTF-8".to_string())
}

/// STATUS mailbox (item ...), RFC 9051 section 6.3.11.
fn parse_status(c: &mut Cursor) -> Parsed<Command> {
    let mailbox = sp_mailbox(c)?;
    c.sp()?;
    c.expect(b'(')?;
    let mut items = vec![c.keyword()?];
    while !c.eat(b')') {
        c.sp()?;
        items.push(c.keyword()?);
    }
    Ok(Command::Status { mailbox, items })
}

/// APPEND mailbox [flag-list] [date-time] literal, RFC 9051 section
/// 6.3.12. The date-time is read and ignored.
fn parse_append(c: &mut Cursor) -> Parsed<Command> {
    let mailbox = sp_mailbox(c)?;
    c.sp()?;
    let mut flags = Vec::new();
    if c.peek() == Some(b'(') {
        flags = c.flag_list()?;
        c.sp()?;
    }
    if c.peek() == Some(b'"') {
        c.quoted()?;
        c.sp()?;
    }
    let data = c.literal()?;
    Ok(Command::Append {
        mailbox,
        flags,
        data,
    })
}

/// FETCH, STORE or COPY arguments after the name.
fn parse_message_command(c: &mut Cursor, name: &str, uid: bool) -> Parsed<Command> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    match name {
        "FETCH" => Ok(Command::Fetch {
            set,
            items: parse_fetch_items(c)?,
            uid,
        }),
        "STORE" => parse_store(c, set, uid),
        _ => Ok(Command::Copy {
            set,
            mailbox: utf8(c.astring()?)?,
            uid,
        }),
    }
}

/// A FETCH macro, one item, or a parenthesized list of items.
fn parse_fetch_items(c: &mut Cursor) -> Parsed<Vec<FetchItem>> {
    if !c.eat(b'(') {
        return parse_fetch_att(c);
    }
    let mut items = parse_fetch_att(c)?;
    while !c.eat(b')') {
        c.sp()?;
        items.extend(parse_fetch_att(c)?);
    }
    Ok(items)
}

/// fetch-att, RFC 9051 section 9 (the supported subset); a macro gives
/// several items.
fn parse_fetch_att(c: &mut Cursor) -> Parsed<Vec<FetchItem>> {
    let name = c.fetch_att_name()?;
    let item = match name.as_str() {
        "FLAGS" => FetchItem::Flags,
        "UID" => FetchItem::Uid,
        "RFC822.SIZE" => FetchItem::Rfc822Size,
        "INTERNALDATE" => FetchItem::InternalDate,
        "RFC822" => FetchItem::Rfc822,
        "RFC822.HEADER" => FetchItem::Rfc822Header,
        "RFC822.TEXT" => FetchItem::Rfc822Text,
        "BODY" | "BODY.PEEK" if c.peek() == Some(b'[') => {
            let section = parse_section(c)?;
            let partial = parse_partial(c)?;
            let peek = name == "BODY.PEEK";
            FetchItem::Body {
                section,
                partial,
                peek,
            }
        }
        // FAST is the one macro without ENVELOPE (RFC 9051 6.4.5).
        "FAST" => {
            return Ok(vec![
                FetchItem::Flags,
                FetchItem::InternalDate,
                FetchItem::Rfc822Size,
            ]);
        }
        "ALL" | "FULL" | "ENVELOPE" | "BODY" | "BODYSTRUCTURE" => {
            return Err(format!("{name} is not supported"));
        }
        _ => return Err(format!("unknown fetch item {name}")),
    };
    Ok(vec![item])
}

/// section: "[" [section-spec] "]", without MIME part numbers.
fn parse_section(c: &mut Cursor) -> Parsed<Section> {
    c.expect(b'[')?;
    if c.eat(b']') {
        return Ok(Section::Full);
    }
    let spec = c.fetch_att_name()?;
    let section = match spec.as_str() {
        "HEADER" => Section::Header,
        "TEXT" => Section::Text,
        "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
            c.sp()?;
            c.expect(b'(')?;
            let mut names = vec![utf8(c.astring()?)?];
            while !c.eat(b')') {
                c.sp()?;
                names.push(utf8(c.astring()?)?);
            }
            let not = spec.ends_with(".NOT");
            Section::HeaderFields { names, not }
        }
        _ => return Err(format!("section {spec} is not supported (no MIME parts)")),
    };
    c.expect(b']')?;
    Ok(section)
}

/// partial: "<" number "." nz-number ">".
fn parse_partial(c: &mut Cursor) -> Parsed<Option<(u32, u32)>> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let start = c.number()?;
    c.expect(b'.')?;
    let count = c.nz_number()?;
    c.expect(b'>')?;
    Ok(Some((start, count)))
}

/// store-att-flags, RFC 9051 section 9.
fn parse_store(c: &mut Cursor, set: SequenceSet, uid: bool) -> Parsed<Command> {
    let att = c.keyword()?;
    let (op, rest) = match att.as_bytes().first() {
        Some(b'+') => (StoreOp::Add, &att[1..]),
        Some(b'-') => (StoreOp::Remove, &att[1..]),
        _ => (StoreOp::Replace, att.as_str()),
    };
    let silent = match rest {
        "FLAGS" => false,
        "FLAGS.SILENT" => true,
        _ => return Err(format!("unknown STORE item {att}")),
    };
    c.sp()?;
    let flags = match c.peek() {
        Some(b'(') => c.flag_list()?,
        _ => {
            let mut flags = vec![c.flag()?];
            while c.peek() == Some(b' ') {
                c.sp()?;
                if c.at_end() {
                    break;
                }
                flags.push(c.flag()?);
            }
            flags
        }
    };
    Ok(Command::Store(StoreArgs {
        set,
        op,
        silent,
        flags,
        uid,
    }))
}

/// Applies STORE's `op` with the named flags to `flags`. Keywords and
/// `\Recent` are accepted and ignored; an unknown system flag is an error.
fn apply_flags(flags: &mut Flags, names: &[String], op: StoreOp) -> Result<(), String> {
    let mut given = Flags::default();
    for name in names {
        if let Some(bit) = flag_field(&mut given, name) {
            *bit = true;
        } else if name.starts_with('\\') && !name.eq_ignore_ascii_case("\\Recent") {
            return Err(format!("unknown flag {name}"));
        }
    }
    let pairs = [
        (&mut flags.seen, given.seen),
        (&mut flags.answered, given.answered),
        (&mut flags.flagged, given.flagged),
        (&mut flags.deleted, given.deleted),
        (&mut flags.draft, given.draft),
    ];
    for (bit, g) in pairs {
        *bit = match op {
            StoreOp::Replace => g,
            StoreOp::Add => *bit || g,
            StoreOp::Remove => *bit && !g,
        };
    }
    Ok(())
}

/// The view indices named by a sequence set, ascending and distinct.
/// Message numbers past the end are BAD (RFC 3501 section 9, seq-number);
/// UID ranges simply match what exists (RFC 9051 section 6.4.9).
fn resolve(view: &[(u32, Flags)], set: &SequenceSet, uid: bool) -> Result<Vec<usize>, String> {
    let mut indices = BTreeSet::new();
    let largest = match uid {
        true => view.last().map_or(0, |(u, _)| *u),
        false => view.len() as u32,
    };
    for &(a, b) in set {
        let value = |n: SeqNumber| match n {
            SeqNumber::Value(v) => v,
            SeqNumber::Largest => largest,
        };
        let (lo, hi) = (value(a).min(value(b)), value(a).max(value(b)));
        if uid {
            let from = view.partition_point(|(u, _)| *u < lo);
            let to = view.partition_point(|(u, _)| *u <= hi);
            indices.extend(from..to);
        } else if lo == 0 || hi as usize > view.len() {
            return Err("invalid message sequence number".to_string());
        } else {
            indices.extend(lo as usize - 1..hi as usize);
        }
    }
    Ok(indices.into_iter().collect())
}

/// The octets of a body section of `data` (RFC 9051 section 6.4.5).
fn section_data(data: &Bytes, section: &Section) -> Bytes {
    let header_end = header_end(data);
    match section {
        Section::Full => data.clone(),
        Section::Header => data.slice(..header_end),
        Section::Text => data.slice(header_end..),
        Section::HeaderFields { names, not } => {
            let mut out = BytesMut::new();
            for field in header_fields(&data[..header_end]) {
                let name = field.split(|&b| b == b':').next().unwrap_or_default();
                let listed = names
                    .iter()
                    .any(|n| n.as_bytes().eq_ignore_ascii_case(name));
                if listed != *not {
                    out.extend_from_slice(field);
                }
            }
            out.extend_from_slice(b"\r\n");
            out.freeze()
        }
    }
}

/// The header fields of a header block: each field with its folded
/// continuation lines and CRLFs; the blank line is left out.
fn header_fields(header: &[u8]) -> Vec<&[u8]> {
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    while pos < header.len() {
        let end = header[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(header.len(), |p| pos + p + 2);
        let line = &header[pos..end];
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !folded && pos > start {
            fields.push(&header[start..pos]);
            start = pos;
        }
        if line == b"\r\n" {
            return fields;
        }
        pos = end;
    }
    if pos > start {
        fields.push(&header[start..pos]);
    }
    fields
}

/// The index just after the blank line ending the header, or the end.
fn header_end(data: &[u8]) -> usize {
    if data.starts_with(b"\r\n") {
        return 2;
    }
    data.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(data.len(), |p| p + 4)
}

/// The section as echoed in a FETCH response, e.g. `HEADER.FIELDS (TO)`.
fn section_name(section: &Section) -> String {
    match section {
        Section::Full => String::new(),
        Section::Header => "HEADER".to_string(),
        Section::Text => "TEXT".to_string(),
        Section::HeaderFields { names, not } => {
            let names: Vec<String> = names
                .iter()
                .map(|n| match n.bytes().all(is_atom_char) {
                    true => n.clone(),
                    false => quote(n.as_bytes()).unwrap_or_default(),
                })
                .collect();
            let not = if *not { ".NOT" } else { "" };
            format!("HEADER.FIELDS{not} ({})", names.join(" "))
        }
    }
}

/// The stored name of a folder: INBOX in any case is `INBOX`.
fn canonical(name: &str) -> String {
    match name.eq_ignore_ascii_case(INBOX) {
        true => INBOX.to_string(),
        false => name.to_string(),
    }
}

/// LIST wildcard matching (RFC 9051 section 6.3.9): `*` matches anything,
/// `%` anything but the "/" delimiter. Dynamic programming over the name,
/// so hostile patterns cost O(pattern x name).
fn wildcard_match(pattern: &[u8], name: &[u8]) -> bool {
    // matched[j]: the pattern so far matches name[..j].
    let mut matched = vec![false; name.len() + 1];
    matched[0] = true;
    for &p in pattern {
        let mut next = vec![false; name.len() + 1];
        let mut reach = false;
        for j in 0..=name.len() {
            next[j] = match p {
                b'*' => {
                    reach |= matched[j];
                    reach
                }
                b'%' => {
                    // A "/" inside the span ends every earlier start.
                    if j > 0 && name[j - 1] == b'/' {
                        reach = false;
                    }
                    reach |= matched[j];
                    reach
                }
                _ => j > 0 && matched[j - 1] && name[j - 1] == p,
            };
        }
        matched = next;
    }
    matched[name.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOB: &str = "bob@b.example";

    /// One connection to the server, fed whole lines.
    struct Session {
        server: ImapServer,
    }

    impl Session {
        fn open() -> Self {
            let mut s = Session {
                server: ImapServer::new("imap.b.example"),
            };
            let greeting = s.drain();
            assert!(
                greeting.starts_with("* OK [CAPABILITY IMAP4rev1 "),
                "{greeting}"
            );
            s
        }

        fn drain(&mut self) -> String {
            let mut text = Vec::new();
            while let Some(out) = self.server.poll_output() {
                match out {
                    ImapOutput::Reply(b) => text.extend_from_slice(&b),
                    ImapOutput::Close => text.extend_from_slice(b"<close>"),
                }
            }
            String::from_utf8_lossy(&text).into_owned()
        }

        /// Sends raw bytes and returns every byte sent back.
        fn send(&mut self, store: &mut Mailstore, bytes: &[u8]) -> String {
            self.server
                .handle_input(bytes, store, SimTime::from_secs(60));
            self.drain()
        }

        /// Sends `line` with CRLF.
        fn say(&mut self, store: &mut Mailstore, line: &str) -> String {
            self.send(store, format!("{line}\r\n").as_bytes())
        }

        /// Logs in as bob and selects INBOX.
        fn login_select(&mut self, store: &mut Mailstore) {
            let login = self.say(store, &format!("l1 LOGIN {BOB} pw"));
            assert_eq!(login, "l1 OK LOGIN completed\r\n");
            assert!(self.say(store, "s1 SELECT INBOX").contains("s1 OK"));
        }
    }

    fn message(n: u32) -> Bytes {
        Bytes::from(format!(
            "Subject: m{n}\r\nFrom: a@a.example\r\n\r\nbody {n}\r\n"
        ))
    }

    /// Bob's store with `n` messages, uids 1..=n.
    fn store_with(n: u32) -> Mailstore {
        let mut store = Mailstore::new(41);
        store.add_account(BOB, "pw");
        for i in 1..=n {
            store.deliver(BOB, message(i), SimTime::from_secs(u64::from(i)));
        }
        store
    }

    fn set_flags(store: &mut Mailstore, uid: u32, f: impl Fn(&mut Flags)) {
        let inbox = store.folder_mut(BOB, INBOX).unwrap();
        f(&mut inbox.message_mut(uid).unwrap().flags);
    }

    /// A message with a header of `header` octets (blank line included)
    /// and `total` octets in all.
    fn sized_message(header: usize, total: usize) -> Bytes {
        let mut m = b"Subject: sized\r\nX-Pad: ".to_vec();
        m.extend(std::iter::repeat_n(b'p', header - m.len() - 4));
        m.extend_from_slice(b"\r\n\r\n");
        assert_eq!(m.len(), header);
        while m.len() < total {
            let line = (total - m.len()).min(72);
            if line < 3 {
                m.push(b'q');
                continue;
            }
            m.extend(std::iter::repeat_n(b'b', line - 2));
            m.extend_from_slice(b"\r\n");
        }
        m.truncate(total);
        Bytes::from(m)
    }

    #[test]
    fn rfc3501_section8_example_replays() {
        // 18 messages, 1 to 16 seen, UIDVALIDITY 3857529045; message 12
        // is 4286 octets with a 342-octet header.
        let mut store = Mailstore::new(3_857_529_044);
        store.add_account("mrc", "secret");
        for i in 1..=18u32 {
            let data = if i == 12 {
                sized_message(342, 4286)
            } else {
                message(i)
            };
            store.deliver("mrc", data, SimTime::from_secs(u64::from(i)));
            let inbox = store.folder_mut("mrc", INBOX).unwrap();
            inbox.message_mut(i).unwrap().flags.seen = i <= 16;
        }
        let mut s = Session::open();
        assert_eq!(
            s.say(&mut store, "a001 login mrc secret"),
            "a001 OK LOGIN completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "a002 select inbox"),
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
             * 18 EXISTS\r\n\
             * 0 RECENT\r\n\
             * OK [UNSEEN 17] message 17 is first unseen\r\n\
             * OK [UIDVALIDITY 3857529045] UIDs valid\r\n\
             * OK [UIDNEXT 19] predicted next UID\r\n\
             * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)] limited\r\n\
             a002 OK [READ-WRITE] SELECT completed\r\n"
        );
        // FULL needs ENVELOPE and BODY: refused by name; FAST works.
        assert_eq!(
            s.say(&mut store, "a003 fetch 12 full"),
            "a003 BAD FULL is not supported\r\n"
        );
        assert_eq!(
            s.say(&mut store, "a003 fetch 12 fast"),
            "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \" 1-Jan-2025 00:00:12 +0000\" \
             RFC822.SIZE 4286)\r\na003 OK FETCH completed\r\n"
        );
        let header = sized_message(342, 4286).slice(..342);
        let header = String::from_utf8(header.to_vec()).unwrap();
        assert_eq!(
            s.say(&mut store, "a004 fetch 12 body[header]"),
            format!("* 12 FETCH (BODY[HEADER] {{342}}\r\n{header})\r\na004 OK FETCH completed\r\n")
        );
        assert_eq!(
            s.say(&mut store, "a005 store 12 +flags \\deleted"),
            "* 12 FETCH (FLAGS (\\Seen \\Deleted))\r\na005 OK STORE completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "a006 logout"),
            "* BYE imap.b.example logging out\r\na006 OK LOGOUT completed\r\n<close>"
        );
        assert_eq!(s.say(&mut store, "a007 noop"), "");
    }

    #[test]
    fn expunge_reports_renumbered_sequence_numbers_as_in_rfc3501() {
        // RFC 3501 section 6.4.3: messages 3, 4, 7 and 11 are \Deleted.
        let mut store = store_with(11);
        for uid in [3, 4, 7, 11] {
            set_flags(&mut store, uid, |f| f.deleted = true);
        }
        let mut s = Session::open();
        s.login_select(&mut store);
        assert_eq!(
            s.say(&mut store, "A202 EXPUNGE"),
            "* 3 EXPUNGE\r\n* 3 EXPUNGE\r\n* 5 EXPUNGE\r\n* 8 EXPUNGE\r\n\
             A202 OK EXPUNGE completed\r\n"
        );
        // Sequence numbers now map to the surviving UIDs.
        assert_eq!(
            s.say(&mut store, "a1 FETCH 3,5:* (UID)"),
            "* 3 FETCH (UID 5)\r\n* 5 FETCH (UID 8)\r\n* 6 FETCH (UID 9)\r\n\
             * 7 FETCH (UID 10)\r\na1 OK FETCH completed\r\n"
        );
    }

    #[test]
    fn store_example_of_rfc3501_gives_flag_responses() {
        // RFC 3501 section 6.4.6: STORE 2:4 +FLAGS (\Deleted).
        let mut store = store_with(4);
        set_flags(&mut store, 2, |f| f.seen = true);
        set_flags(&mut store, 4, |f| {
            f.seen = true;
            f.flagged = true;
        });
        let mut s = Session::open();
        s.login_select(&mut store);
        assert_eq!(
            s.say(&mut store, "A003 STORE 2:4 +FLAGS (\\Deleted)"),
            "* 2 FETCH (FLAGS (\\Seen \\Deleted))\r\n\
             * 3 FETCH (FLAGS (\\Deleted))\r\n\
             * 4 FETCH (FLAGS (\\Seen \\Flagged \\Deleted))\r\n\
             A003 OK STORE completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "a4 STORE 4 -FLAGS.SILENT (\\Deleted \\Flagged)"),
            "a4 OK STORE completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "a5 UID STORE 4 FLAGS (\\Answered $Junk)"),
            "* 4 FETCH (FLAGS (\\Answered) UID 4)\r\na5 OK STORE completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "a6 STORE 1 +FLAGS (\\Bogus)"),
            "a6 BAD unknown flag \\Bogus\r\n"
        );
        let inbox = store.folder(BOB, INBOX).unwrap();
        assert!(inbox.message(4).unwrap().flags.answered);
        assert!(!inbox.message(4).unwrap().flags.seen);
    }

    #[test]
    fn body_fetch_sends_a_literal_of_the_exact_octet_count_and_sets_seen() {
        let mut store = store_with(0);
        let data = Bytes::from_static(b"Subject: x\r\n\r\n\xc3\xa9t\xc3\xa9\r\n{5}\r\n");
        store.deliver(BOB, data.clone(), SimTime::ZERO);
        let mut s = Session::open();
        s.login_select(&mut store);
        let peek = s.say(&mut store, "p BODY.PEEK[] fails: wrong command");
        assert!(peek.starts_with("p BAD"), "{peek}");
        let peek = s.say(&mut store, "p1 FETCH 1 BODY.PEEK[]");
        assert_eq!(
            peek.as_bytes(),
            [
                b"* 1 FETCH (BODY[] {26}\r\n".as_ref(),
                &data,
                b")\r\np1 OK FETCH completed\r\n"
            ]
            .concat()
        );
        assert!(
            !store
                .folder(BOB, INBOX)
                .unwrap()
                .message(1)
                .unwrap()
                .flags
                .seen
        );
        let body = s.say(&mut store, "b1 FETCH 1 (UID BODY[])");
        assert!(
            body.starts_with("* 1 FETCH (UID 1 BODY[] {26}\r\n"),
            "{body}"
        );
        assert!(
            body.ends_with(" FLAGS (\\Seen))\r\nb1 OK FETCH completed\r\n"),
            "{body}"
        );
        assert!(
            store
                .folder(BOB, INBOX)
                .unwrap()
                .message(1)
                .unwrap()
                .flags
                .seen
        );
    }

    #[test]
    fn message_octets_are_shared_with_the_store_not_copied() {
        let mut store = store_with(1);
        let mut s = Session::open();
        s.login_select(&mut store);
        s.server
            .handle_input(b"f FETCH 1 BODY.PEEK[]\r\n", &mut store, SimTime::ZERO);
        let stored = store
            .folder(BOB, INBOX)
            .unwrap()
            .message(1)
            .unwrap()
            .data
            .clone();
        let shared = std::iter::from_fn(|| s.server.poll_output())
            .any(|o| matches!(o, ImapOutput::Reply(b) if b.as_ptr() == stored.as_ptr()));
        assert!(shared);
    }

    #[test]
    fn header_fields_text_and_partial_sections_are_cut_correctly() {
        let mut store = store_with(0);
        let data = b"To: b@b\r\nSubject: hi\r\n there\r\nFrom: a@a\r\n\r\nline\r\n";
        store.deliver(BOB, Bytes::from_static(data), SimTime::ZERO);
        let mut s = Session::open();
        s.login_select(&mut store);
        assert_eq!(
            s.say(
                &mut store,
                "h FETCH 1 BODY.PEEK[HEADER.FIELDS (subject from)]"
            ),
            "* 1 FETCH (BODY[HEADER.FIELDS (subject from)] {34}\r\n\
             Subject: hi\r\n there\r\nFrom: a@a\r\n\r\n)\r\nh OK FETCH completed\r\n"
        );
        assert_eq!(
            s.say(
                &mut store,
                "n FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Subject From)]"
            ),
            "* 1 FETCH (BODY[HEADER.FIELDS.NOT (Subject From)] {11}\r\nTo: b@b\r\n\r\n)\r\n\
             n OK FETCH completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "t FETCH 1 BODY.PEEK[TEXT]"),
            "* 1 FETCH (BODY[TEXT] {6}\r\nline\r\n)\r\nt OK FETCH completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "p FETCH 1 BODY.PEEK[]<4.3>"),
            "* 1 FETCH (BODY[]<4> {3}\r\nb@b)\r\np OK FETCH completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "q FETCH 1 BODY.PEEK[1]"),
            "q BAD section 1 is not supported (no MIME parts)\r\n"
        );
    }

    #[test]
    fn uid_fetch_of_last_plus_one_to_star_returns_the_last_message() {
        // RFC 9051 section 6.4.9: "*" is the largest UID, so 4:* is 3:4.
        let mut store = store_with(3);
        let mut s = Session::open();
        s.login_select(&mut store);
        assert_eq!(
            s.say(&mut store, "u UID FETCH 4:* (FLAGS)"),
            "* 3 FETCH (UID 3 FLAGS ())\r\nu OK FETCH completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "v UID FETCH 10:20 (FLAGS)"),
            "v OK FETCH completed\r\n"
        );
    }

    #[test]
    fn sequence_numbers_past_the_end_are_bad() {
        let mut store = store_with(2);
        let mut s = Session::open();
        s.login_select(&mut store);
        assert_eq!(
            s.say(&mut store, "a FETCH 3 (FLAGS)"),
            "a BAD invalid message sequence number\r\n"
        );
        let mut empty = store_with(0);
        let mut e = Session::open();
        e.login_select(&mut empty);
        assert_eq!(
            e.say(&mut empty, "b FETCH * (FLAGS)"),
            "b BAD invalid message sequence number\r\n"
        );
    }

    #[test]
    fn uids_and_uidvalidity_are_stable_across_sessions_and_expunges() {
        let mut store = store_with(3);
        set_flags(&mut store, 2, |f| f.deleted = true);
        let mut s = Session::open();
        s.login_select(&mut store);
        s.say(&mut store, "c CLOSE");
        store.deliver(BOB, message(4), SimTime::ZERO);
        let mut t = Session::open();
        t.say(&mut store, &format!("l LOGIN {BOB} pw"));
        let select = t.say(&mut store, "s SELECT INBOX");
        assert!(
            select.contains("* OK [UIDVALIDITY 42] UIDs valid\r\n"),
            "{select}"
        );
        assert!(select.contains("* OK [UIDNEXT 5] predicted next UID\r\n"));
        assert_eq!(
            t.say(&mut store, "f FETCH 1:* (UID)"),
            "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 3)\r\n* 3 FETCH (UID 4)\r\n\
             f OK FETCH completed\r\n"
        );
    }

    #[test]
    fn two_sessions_on_one_mailbox_keep_their_own_numbering() {
        let mut store = store_with(3);
        let (mut phone, mut laptop) = (Session::open(), Session::open());
        phone.login_select(&mut store);
        laptop.login_select(&mut store);
        phone.say(&mut store, "a STORE 1 +FLAGS.SILENT (\\Deleted)");
        phone.say(&mut store, "b EXPUNGE");
        store.deliver(BOB, message(4), SimTime::ZERO);
        // No EXPUNGE during FETCH; the vanished message is skipped, the
        // new one announced.
        assert_eq!(
            laptop.say(&mut store, "c FETCH 1:* (UID)"),
            "* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\n* 4 EXISTS\r\n\
             c OK FETCH completed\r\n"
        );
        phone.say(&mut store, "d STORE 1 +FLAGS.SILENT (\\Flagged)");
        assert_eq!(
            laptop.say(&mut store, "e NOOP"),
            "* 1 EXPUNGE\r\n* 1 FETCH (FLAGS (\\Flagged))\r\ne OK NOOP completed\r\n"
        );
        assert_eq!(
            laptop.say(&mut store, "f FETCH 3 (UID)"),
            "* 3 FETCH (UID 4)\r\nf OK FETCH completed\r\n"
        );
    }

    #[test]
    fn idle_reports_a_delivery_when_the_store_changes() {
        let mut store = store_with(1);
        let mut s = Session::open();
        s.login_select(&mut store);
        assert_eq!(s.say(&mut store, "i IDLE"), "+ idling\r\n");
        store.deliver(BOB, message(2), SimTime::ZERO);
        s.server.handle_store_change(&store);
        assert_eq!(s.drain(), "* 2 EXISTS\r\n");
        assert_eq!(s.say(&mut store, "DONE"), "i OK IDLE terminated\r\n");
        assert_eq!(s.say(&mut store, "n NOOP"), "n OK NOOP completed\r\n");
    }

    #[test]
    fn garbage_and_unknown_commands_get_bad_and_the_session_continues() {
        let mut store = store_with(1);
        let mut s = Session::open();
        assert_eq!(s.say(&mut store, ""), "* BAD empty command line\r\n");
        assert_eq!(
            s.say(&mut store, "(((("),
            "* BAD missing or invalid tag\r\n"
        );
        assert_eq!(
            s.send(&mut store, b"\x00\xff\r\n"),
            "* BAD missing or invalid tag\r\n"
        );
        assert_eq!(s.say(&mut store, "a1"), "a1 BAD expected ' '\r\n");
        assert_eq!(
            s.say(&mut store, "a2 FROB x"),
            "a2 BAD unknown command FROB\r\n"
        );
        assert_eq!(
            s.say(&mut store, "a3 NOOP extra"),
            "a3 BAD unexpected text after the arguments\r\n"
        );
        assert_eq!(
            s.say(&mut store, "a4 LOGIN \"bob"),
            "a4 BAD unterminated quoted string\r\n"
        );
        assert_eq!(
            s.say(&mut store, "a6 SELECT INBOX"),
            "a6 BAD command not valid before LOGIN\r\n"
        );
        s.say(&mut store, &format!("a7 LOGIN {BOB} pw"));
        assert_eq!(
            s.say(&mut store, "a8 FETCH 1 FLAGS"),
            "a8 BAD no mailbox selected\r\n"
        );
        assert_eq!(
            s.say(&mut store, "a9 SEARCH ALL"),
            "a9 BAD SEARCH is not supported\r\n"
        );
        assert_eq!(
            s.say(&mut store, "b1 LOGIN x y"),
            "b1 BAD already authenticated\r\n"
        );
        s.say(&mut store, "b2 SELECT INBOX");
        assert_eq!(
            s.say(&mut store, "b3 FETCH 1:x FLAGS"),
            "b3 BAD expected number\r\n"
        );
        assert_eq!(
            s.say(&mut store, "b4 FETCH 1 (FLAGS"),
            "b4 BAD expected ' '\r\n"
        );
        assert_eq!(s.say(&mut store, "b5 NOOP"), "b5 OK NOOP completed\r\n");
    }

    #[test]
    fn login_failures_and_literals_follow_the_rfc() {
        let mut store = store_with(0);
        let mut s = Session::open();
        assert_eq!(
            s.say(&mut store, &format!("a LOGIN {BOB} wrong")),
            "a NO [AUTHENTICATIONFAILED] invalid credentials\r\n"
        );
        assert_eq!(
            s.say(&mut store, "b LOGIN {13}"),
            "+ Ready for literal data\r\n"
        );
        assert_eq!(
            s.say(&mut store, &format!("{BOB} \"pw\"")),
            "b OK LOGIN completed\r\n"
        );
    }

    #[test]
    fn examine_is_read_only() {
        let mut store = store_with(1);
        let mut s = Session::open();
        s.say(&mut store, &format!("l LOGIN {BOB} pw"));
        let examine = s.say(&mut store, "e EXAMINE inbox");
        assert!(examine.contains("* OK [PERMANENTFLAGS ()] limited\r\n"));
        assert!(examine.ends_with("e OK [READ-ONLY] EXAMINE completed\r\n"));
        assert_eq!(
            s.say(&mut store, "s STORE 1 +FLAGS (\\Deleted)"),
            "s NO [READ-ONLY] mailbox is read-only\r\n"
        );
        assert!(
            s.say(&mut store, "f FETCH 1 BODY[]")
                .ends_with(")\r\nf OK FETCH completed\r\n")
        );
        assert!(
            !store
                .folder(BOB, INBOX)
                .unwrap()
                .message(1)
                .unwrap()
                .flags
                .seen
        );
    }

    #[test]
    fn create_list_status_append_and_copy_work_together() {
        let mut store = store_with(2);
        let mut s = Session::open();
        s.login_select(&mut store);
        assert_eq!(
            s.say(&mut store, "c CREATE Work/2025"),
            "c OK CREATE completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "d CREATE work/2025"),
            "d OK CREATE completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "e CREATE Work"),
            "e NO [ALREADYEXISTS] mailbox already exists\r\n"
        );
        assert_eq!(
            s.say(&mut store, "l LIST \"\" \"*\""),
            "* LIST () \"/\" \"INBOX\"\r\n* LIST () \"/\" \"Work\"\r\n\
             * LIST () \"/\" \"Work/2025\"\r\n* LIST () \"/\" \"work\"\r\n\
             * LIST () \"/\" \"work/2025\"\r\nl OK LIST completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "m LIST \"\" %"),
            "* LIST () \"/\" \"INBOX\"\r\n* LIST () \"/\" \"Work\"\r\n\
             * LIST () \"/\" \"work\"\r\nm OK LIST completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "n LIST \"\" \"\""),
            "* LIST (\\Noselect) \"/\" \"\"\r\nn OK LIST completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "o LIST Work/ %"),
            "* LIST () \"/\" \"Work/2025\"\r\no OK LIST completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "p COPY 1:2 Work"),
            "p OK COPY completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "q COPY 1 Nowhere"),
            "q NO [TRYCREATE] no such mailbox\r\n"
        );
        assert_eq!(
            s.say(&mut store, "r APPEND INBOX (\\Seen) {5+}\r\nhi\r\n"),
            "* 3 EXISTS\r\nr OK APPEND completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "s STATUS Work (MESSAGES UIDNEXT UNSEEN)"),
            "* STATUS \"Work\" (MESSAGES 2 UIDNEXT 3 UNSEEN 2)\r\ns OK STATUS completed\r\n"
        );
        assert_eq!(
            s.say(&mut store, "t DELETE inbox"),
            "t NO INBOX cannot be deleted\r\n"
        );
        assert_eq!(
            s.say(&mut store, "u DELETE work/2025"),
            "u OK DELETE completed\r\n"
        );
    }

    #[test]
    fn commands_arrive_in_any_chunking() {
        let mut store = store_with(1);
        let mut s = Session::open();
        let script = format!("a LOGIN {BOB} pw\r\nb SELECT INBOX\r\nc FETCH 1 (UID)\r\n");
        let mut all = String::new();
        for b in script.as_bytes() {
            all.push_str(&s.send(&mut store, std::slice::from_ref(b)));
        }
        assert!(
            all.ends_with("* 1 FETCH (UID 1)\r\nc OK FETCH completed\r\n"),
            "{all}"
        );
    }

    #[test]
    fn wildcards_match_per_rfc9051() {
        assert!(wildcard_match(b"*", b"a/b/c"));
        assert!(wildcard_match(b"a/%", b"a/b"));
        assert!(!wildcard_match(b"a/%", b"a/b/c"));
        assert!(wildcard_match(b"%/c", b"b/c"));
        assert!(!wildcard_match(b"%", b"b/c"));
        assert!(wildcard_match(b"a*c", b"abc"));
        assert!(!wildcard_match(b"a*d", b"abc"));
        let hostile = [b'*'; 200];
        assert!(wildcard_match(&hostile, &[b'x'; 200]));
    }
}
