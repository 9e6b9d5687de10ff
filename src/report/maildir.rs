//! Mailboxes at the end of a run, written in Maildir format.
//!
//! Layout per account that ever received mail:
//! `maildir/<address>/{tmp,new,cur}`; messages not yet
//! seen go to `new/`, seen ones to `cur/` with the `:2,` info suffix and
//! their flag letters in ASCII order (D, F, R, S, T), as Maildir readers
//! such as mutt and Dovecot expect. Other folders are Maildir++
//! subfolders named `.<folder>`. File names are derived from the internal
//! date and UID only, so they repeat from run to run.

use std::fs;
use std::io;
use std::path::Path;

use crate::experiment::RunOutcome;
use crate::proto::mailbox::{Account, Folder, StoredMessage};

/// Writes every account of every store under `root`.
pub fn write_maildirs(run: &RunOutcome, root: &Path) -> io::Result<()> {
    for host in run.world.hosts() {
        let Some(store) = &host.store else { continue };
        for (address, account) in store.accounts() {
            if !ever_received(account) {
                continue;
            }
            let base = root.join(address);
            for (name, folder) in &account.folders {
                let dir = if name.eq_ignore_ascii_case("INBOX") {
                    base.clone()
                } else {
                    base.join(format!(".{name}"))
                };
                write_folder(&dir, folder, &host.name)?;
            }
        }
    }
    Ok(())
}

/// Like a real store (Dovecot creates a Maildir at first delivery), an
/// account that never received mail has no folder: with 10,000 users,
/// empty folders would cost more disk than the mail.
fn ever_received(account: &Account) -> bool {
    account.folders.iter().any(|(name, f)| {
        !name.eq_ignore_ascii_case("INBOX") || f.uidnext > 1 || !f.messages.is_empty()
    })
}

fn write_folder(dir: &Path, folder: &Folder, host: &str) -> io::Result<()> {
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    for m in &folder.messages {
        let base = format!(
            "{}.M{}U{}.{}",
            m.internal_date.as_nanos() / 1_000_000_000,
            m.internal_date.as_nanos() % 1_000_000_000,
            m.uid,
            host
        );
        let path = if m.flags.seen {
            dir.join("cur")
                .join(format!("{base}:2,{}", flag_letters(m)))
        } else {
            dir.join("new").join(base)
        };
        fs::write(path, &m.data)?;
    }
    Ok(())
}

fn flag_letters(m: &StoredMessage) -> String {
    let f = &m.flags;
    let mut s = String::new();
    for (on, c) in [
        (f.draft, 'D'),
        (f.flagged, 'F'),
        (f.answered, 'R'),
        (f.seen, 'S'),
        (f.deleted, 'T'),
    ] {
        if on {
            s.push(c);
        }
    }
    s
}
