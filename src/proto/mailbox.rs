//! The mail store model shared by the POP3 and IMAP servers and by local
//! delivery: accounts, folders, messages with UIDs and flags.
//!
//! The store is plain data behind a small API. Sessions borrow it for the
//! length of one `handle_input` call, so several sessions (several devices of
//! one user) see each other's changes at their next command.
//!
//! Deliberate simplifications:
//! - Addresses are matched case-insensitively as a whole (`Bob@B.example` is
//!   `bob@b.example`); RFC 5321 section 2.4 lets the local part be case
//!   sensitive, but every real store folds it.
//! - Only the five system flags of RFC 9051 section 2.3.2 are kept; keywords
//!   are not stored, and `\Recent` is not tracked (RFC 9051 dropped it).
//! - There are no quotas and no locks: POP3's exclusive maildrop lock
//!   (RFC 1939 section 8) is replaced by sessions that tolerate a message
//!   vanishing under them.
//! - Simulated time zero is [`SIM_EPOCH_UNIX_SECS`] (2025-01-01 00:00:00 UTC)
//!   unless the caller sets the scenario's start (the IMAP server does)
//!   when a date must be shown, e.g. IMAP INTERNALDATE.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::sim::SimTime;

/// The Unix time of simulated time zero, used only to print dates.
pub const SIM_EPOCH_UNIX_SECS: u64 = 1_735_689_600;

/// The name of the folder every account has, RFC 9051 section 5.1.
pub const INBOX: &str = "INBOX";

/// The system flags of a message, RFC 9051 section 2.3.2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// `\Seen`: the message has been read.
    pub seen: bool,
    /// `\Answered`: the message has been answered.
    pub answered: bool,
    /// `\Flagged`: the message is marked for attention.
    pub flagged: bool,
    /// `\Deleted`: the message will go at the next expunge.
    pub deleted: bool,
    /// `\Draft`: the message is an unfinished draft.
    pub draft: bool,
}

impl Flags {
    /// The Maildir info suffix for these flags, e.g. `2,FS` (letters in
    /// ASCII order, as the Maildir convention asks).
    pub fn maildir_info(&self) -> String {
        let mut info = String::from("2,");
        let letters = [
            (self.draft, 'D'),
            (self.flagged, 'F'),
            (self.answered, 'R'),
            (self.seen, 'S'),
            (self.deleted, 'T'),
        ];
        for (set, letter) in letters {
            if set {
                info.push(letter);
            }
        }
        info
    }
}

/// One message in a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// The unique identifier within the folder, RFC 9051 section 2.3.1.1.
    pub uid: u32,
    /// The system flags.
    pub flags: Flags,
    /// The exact message octets (RFC 5322, CRLF line ends expected).
    pub data: Bytes,
    /// When the message arrived in the store, RFC 9051 section 2.3.3.
    pub internal_date: SimTime,
}

/// One folder (IMAP mailbox) of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    /// The UIDVALIDITY value, RFC 9051 section 2.3.1.1.
    pub uidvalidity: u32,
    /// The UID the next message will get.
    pub uidnext: u32,
    /// The messages, in ascending UID order.
    pub messages: Vec<StoredMessage>,
}

impl Folder {
    /// An empty folder with the given UIDVALIDITY.
    pub fn new(uidvalidity: u32) -> Self {
        Folder {
            uidvalidity,
            uidnext: 1,
            messages: Vec::new(),
        }
    }

    /// The index of the message with `uid`, if it is still present.
    pub fn position(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// The message with `uid`, if it is still present.
    pub fn message(&self, uid: u32) -> Option<&StoredMessage> {
        self.position(uid).map(|i| &self.messages[i])
    }

    /// The message with `uid` for changing its flags.
    pub fn message_mut(&mut self, uid: u32) -> Option<&mut StoredMessage> {
        self.position(uid).map(|i| &mut self.messages[i])
    }

    /// Appends a message with the next UID and returns that UID.
    pub fn append(&mut self, data: Bytes, flags: Flags, now: SimTime) -> u32 {
        let uid = self.uidnext;
        self.uidnext = self.uidnext.saturating_add(1);
        self.messages.push(StoredMessage {
            uid,
            flags,
            data,
            internal_date: now,
        });
        uid
    }

    /// Removes every message flagged `\Deleted` and returns their UIDs in
    /// ascending order (RFC 9051 section 6.4.3).
    pub fn expunge(&mut self) -> Vec<u32> {
        let gone: Vec<u32> = self
            .messages
            .iter()
            .filter(|m| m.flags.deleted)
            .map(|m| m.uid)
            .collect();
        self.messages.retain(|m| !m.flags.deleted);
        gone
    }

    /// Removes the messages with the given UIDs (POP3's UPDATE state,
    /// RFC 1939 section 6) and returns how many were present.
    pub fn remove_uids(&mut self, uids: &[u32]) -> usize {
        let before = self.messages.len();
        self.messages.retain(|m| !uids.contains(&m.uid));
        before - self.messages.len()
    }

    /// The number of messages without `\Seen`.
    pub fn unseen(&self) -> usize {
        self.messages.iter().filter(|m| !m.flags.seen).count()
    }
}

/// One user's credentials and folders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The password checked by POP3 PASS and IMAP LOGIN.
    pub password: String,
    /// The folders by name; `INBOX` is always present.
    pub folders: BTreeMap<String, Folder>,
}

impl Account {
    /// The folder called `name`; `INBOX` matches in any case
    /// (RFC 9051 section 5.1), other names exactly.
    pub fn folder(&self, name: &str) -> Option<&Folder> {
        self.folders.get(folder_key(name))
    }

    /// The folder called `name`, for changes.
    pub fn folder_mut(&mut self, name: &str) -> Option<&mut Folder> {
        self.folders.get_mut(folder_key(name))
    }
}

/// Why a folder could not be created or deleted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FolderError {
    /// No account has this address; the caller should not have got here.
    #[error("no such account")]
    NoAccount,
    /// CREATE of a name that exists (RFC 9051 section 6.3.4).
    #[error("folder already exists")]
    Exists,
    /// DELETE or RENAME of a name that does not exist.
    #[error("no such folder")]
    NoFolder,
    /// DELETE of INBOX, which RFC 9051 section 6.3.5 forbids.
    #[error("INBOX cannot be deleted")]
    Inbox,
    /// The name is empty or holds characters this store does not keep.
    #[error("invalid folder name")]
    InvalidName,
}

/// All accounts of one mail store host.
#[derive(Clone, Debug, Default)]
pub struct Mailstore {
    accounts: BTreeMap<String, Account>,
    uidvalidity_base: u32,
    folders_made: u32,
}

impl Mailstore {
    /// An empty store; folder UIDVALIDITY values count up from
    /// `uidvalidity_base` (zero is skipped, RFC 9051 section 2.3.1.1 needs a
    /// non-zero value).
    pub fn new(uidvalidity_base: u32) -> Self {
        Mailstore {
            accounts: BTreeMap::new(),
            uidvalidity_base,
            folders_made: 0,
        }
    }

    /// Adds an account with an empty INBOX, or resets the password of an
    /// existing one.
    pub fn add_account(&mut self, address: &str, password: &str) {
        let key = address.to_ascii_lowercase();
        if let Some(account) = self.accounts.get_mut(&key) {
            account.password = password.to_string();
            return;
        }
        let inbox = Folder::new(self.next_uidvalidity());
        let mut folders = BTreeMap::new();
        folders.insert(INBOX.to_string(), inbox);
        let password = password.to_string();
        self.accounts.insert(key, Account { password, folders });
    }

    /// Whether an account exists for `address` (any case).
    pub fn has_account(&self, address: &str) -> bool {
        self.account(address).is_some()
    }

    /// Delivers a message into the INBOX of `address`; the new UID, or
    /// `None` when there is no such account.
    pub fn deliver(&mut self, address: &str, data: Bytes, now: SimTime) -> Option<u32> {
        self.append(address, INBOX, data, Flags::default(), now)
    }

    /// Appends a message with `flags` to any folder; the new UID, or `None`
    /// when the account or folder does not exist.
    pub fn append(
        &mut self,
        address: &str,
        folder: &str,
        data: Bytes,
        flags: Flags,
        now: SimTime,
    ) -> Option<u32> {
        let folder = self.folder_mut(address, folder)?;
        Some(folder.append(data, flags, now))
    }

    /// Whether `user` (a full address, any case) has password `password`.
    pub fn authenticate(&self, user: &str, password: &str) -> bool {
        self.account(user).is_some_and(|a| a.password == password)
    }

    /// Every account in address order, e.g. to write Maildirs at the end.
    pub fn accounts(&self) -> impl Iterator<Item = (&str, &Account)> {
        self.accounts.iter().map(|(k, a)| (k.as_str(), a))
    }

    /// The account of `address` (any case).
    pub fn account(&self, address: &str) -> Option<&Account> {
        self.accounts.get(&address.to_ascii_lowercase())
    }

    /// The account of `address`, for changes.
    pub fn account_mut(&mut self, address: &str) -> Option<&mut Account> {
        self.accounts.get_mut(&address.to_ascii_lowercase())
    }

    /// The folder `name` of `address`.
    pub fn folder(&self, address: &str, name: &str) -> Option<&Folder> {
        self.account(address)?.folder(name)
    }

    /// The folder `name` of `address`, for changes.
    pub fn folder_mut(&mut self, address: &str, name: &str) -> Option<&mut Folder> {
        self.account_mut(address)?.folder_mut(name)
    }

    /// Creates an empty folder with a fresh UIDVALIDITY
    /// (RFC 9051 section 6.3.4).
    pub fn create_folder(&mut self, address: &str, name: &str) -> Result<(), FolderError> {
        if !valid_folder_name(name) {
            return Err(FolderError::InvalidName);
        }
        let uidvalidity = self.next_uidvalidity();
        let account = self.account_mut(address).ok_or(FolderError::NoAccount)?;
        if account.folder(name).is_some() {
            return Err(FolderError::Exists);
        }
        account
            .folders
            .insert(name.to_string(), Folder::new(uidvalidity));
        Ok(())
    }

    /// Deletes a folder and its messages (RFC 9051 section 6.3.5).
    pub fn delete_folder(&mut self, address: &str, name: &str) -> Result<(), FolderError> {
        if folder_key(name) == INBOX {
            return Err(FolderError::Inbox);
        }
        let account = self.account_mut(address).ok_or(FolderError::NoAccount)?;
        match account.folders.remove(name) {
            Some(_) => Ok(()),
            None => Err(FolderError::NoFolder),
        }
    }

    /// The next UIDVALIDITY: distinct for every folder ever made, so a
    /// folder deleted and made again tells clients to forget their UIDs.
    fn next_uidvalidity(&mut self) -> u32 {
        self.folders_made = self.folders_made.wrapping_add(1);
        let v = self.uidvalidity_base.wrapping_add(self.folders_made);
        if v == 0 { 1 } else { v }
    }
}

/// The key a folder name is stored under: INBOX in any case is `INBOX`.
fn folder_key(name: &str) -> &str {
    if name.eq_ignore_ascii_case(INBOX) {
        INBOX
    } else {
        name
    }
}

/// Whether `name` is a folder name this store keeps: printable ASCII only
/// (no modified UTF-7 decoding, RFC 3501 section 5.1.3), no empty
/// hierarchy levels, no wildcards.
fn valid_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !name.contains(['*', '%', '"', '\\'])
        && !name.split('/').any(str::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Mailstore {
        let mut s = Mailstore::new(1000);
        s.add_account("Bob@B.example", "secret");
        s
    }

    #[test]
    fn addresses_match_in_any_case() {
        let s = store();
        assert!(s.has_account("bob@b.example"));
        assert!(s.has_account("BOB@B.EXAMPLE"));
        assert!(s.authenticate("bob@B.example", "secret"));
        assert!(!s.authenticate("bob@b.example", "Secret"));
        assert!(!s.authenticate("carol@b.example", "secret"));
    }

    #[test]
    fn deliver_gives_ascending_uids_in_inbox() {
        let mut s = store();
        let a = s.deliver("bob@b.example", Bytes::from_static(b"a\r\n"), SimTime(1));
        let b = s.deliver("bob@b.example", Bytes::from_static(b"b\r\n"), SimTime(2));
        assert_eq!((a, b), (Some(1), Some(2)));
        assert_eq!(
            s.deliver("nobody@b.example", Bytes::new(), SimTime(3)),
            None
        );
        let inbox = s.folder("bob@b.example", "inbox").unwrap();
        assert_eq!(inbox.uidnext, 3);
        assert_eq!(inbox.message(2).unwrap().internal_date, SimTime(2));
    }

    #[test]
    fn expunge_removes_only_deleted_messages_and_keeps_uids() {
        let mut s = store();
        for _ in 0..3 {
            s.deliver("bob@b.example", Bytes::from_static(b"x\r\n"), SimTime(0));
        }
        let inbox = s.folder_mut("bob@b.example", INBOX).unwrap();
        inbox.message_mut(2).unwrap().flags.deleted = true;
        assert_eq!(inbox.expunge(), vec![2]);
        let uids: Vec<u32> = inbox.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids, vec![1, 3]);
        assert_eq!(inbox.uidnext, 4);
    }

    #[test]
    fn every_folder_gets_its_own_uidvalidity() {
        let mut s = store();
        s.add_account("carol@b.example", "pw");
        s.create_folder("bob@b.example", "Archive").unwrap();
        let mut seen: Vec<u32> = s
            .accounts()
            .flat_map(|(_, a)| a.folders.values().map(|f| f.uidvalidity))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 3);
        assert!(!seen.contains(&0));
    }

    #[test]
    fn create_and_delete_folder_follow_the_rules() {
        let mut s = store();
        let bob = "bob@b.example";
        assert_eq!(s.create_folder(bob, "inbox"), Err(FolderError::Exists));
        assert_eq!(s.create_folder(bob, "a//b"), Err(FolderError::InvalidName));
        assert_eq!(s.create_folder(bob, "a*"), Err(FolderError::InvalidName));
        assert_eq!(s.create_folder(bob, "Sent"), Ok(()));
        assert_eq!(s.create_folder(bob, "Sent"), Err(FolderError::Exists));
        assert_eq!(s.delete_folder(bob, "Inbox"), Err(FolderError::Inbox));
        assert_eq!(s.delete_folder(bob, "Sent"), Ok(()));
        assert_eq!(s.delete_folder(bob, "Sent"), Err(FolderError::NoFolder));
    }

    #[test]
    fn accounts_come_in_address_order() {
        let mut s = store();
        s.add_account("alice@b.example", "pw");
        let names: Vec<&str> = s.accounts().map(|(a, _)| a).collect();
        assert_eq!(names, vec!["alice@b.example", "bob@b.example"]);
    }

    #[test]
    fn maildir_info_lists_flag_letters_in_order() {
        let flags = Flags {
            seen: true,
            flagged: true,
            ..Flags::default()
        };
        assert_eq!(flags.maildir_info(), "2,FS");
        assert_eq!(Flags::default().maildir_info(), "2,");
    }
}
