//! IMAP, RFC 9051 with what RFC 3501 clients need: a sans-IO server over
//! the [`Mailstore`] and a sans-IO client that polls INBOX.
//!
//! Both sides take bytes in any chunking through `handle_input` and hand
//! out what to send through `poll_output`.
//!
//! The server advertises `IMAP4rev1 LITERAL+ UNSELECT IDLE` and supports:
//! CAPABILITY, NOOP, LOGOUT, LOGIN, SELECT, EXAMINE, CREATE, DELETE, LIST,
//! LSUB, SUBSCRIBE, UNSUBSCRIBE, STATUS, APPEND, IDLE (RFC 2177), CHECK,
//! CLOSE, UNSELECT (RFC 3691), EXPUNGE, FETCH, STORE, COPY and the UID
//! forms of FETCH, STORE and COPY. FETCH items: FLAGS, UID, RFC822.SIZE,
//! INTERNALDATE, RFC822, RFC822.HEADER, RFC822.TEXT, the FAST macro, and
//! `BODY[section]<partial>` / `BODY.PEEK[...]` with the sections "", HEADER,
//! TEXT, HEADER.FIELDS (...) and HEADER.FIELDS.NOT (...).
//!
//! Deliberate simplifications:
//! - IMAP4rev2 is not advertised: it requires NAMESPACE, ESEARCH, MOVE,
//!   BINARY and more that a mail-network simulator does not exercise.
//! - ENVELOPE, BODY, BODYSTRUCTURE (and so the ALL and FULL macros), MIME
//!   part sections, SEARCH, RENAME, AUTHENTICATE and STARTTLS answer BAD or
//!   NO naming them: they need a MIME parser or TLS, and the simulated
//!   clients do not use them.
//! - `\Recent` is not tracked (RFC 9051 dropped it): SELECT reports
//!   `* 0 RECENT` for RFC 3501 clients. Keywords are accepted in STORE
//!   and ignored; PERMANENTFLAGS lists only the system flags.
//! - Subscriptions are not kept: every folder counts as subscribed.
//! - APPEND ignores a date-time argument and stamps the arrival time.
//! - Folder names are printable ASCII with "/" as the hierarchy
//!   delimiter; no modified UTF-7 decoding.
//! - No autologout timer: the service layer owns time-outs.
//!
//! Several sessions on one mailbox (several devices): each session keeps
//! its own view, the list of UIDs numbered by sequence number, and the
//! flags it last reported. After every command (and whenever the caller
//! reports a store change during IDLE), the session compares its view with
//! the store: messages gone are reported with untagged EXPUNGE (not while
//! answering FETCH, STORE or COPY, RFC 9051 section 7.5.1; they are then
//! silently skipped), changed flags with untagged FETCH, new messages with
//! EXISTS.
//!
//! [`Mailstore`]: crate::proto::mailbox::Mailstore

mod client;
mod parse;
mod server;

pub use client::{ImapClient, ImapClientOutput};
pub use server::{ImapOutput, ImapServer};

use crate::proto::mailbox::Flags;
use crate::sim::SimTime;

/// The system flags in the order the server lists them.
const FLAG_NAMES: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];

/// `flags` as an IMAP flag list, e.g. `(\Seen \Deleted)`.
fn flag_list(flags: &Flags) -> String {
    let set = [
        flags.seen,
        flags.answered,
        flags.flagged,
        flags.deleted,
        flags.draft,
    ];
    let names: Vec<&str> = FLAG_NAMES
        .iter()
        .zip(set)
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    format!("({})", names.join(" "))
}

/// The flag bit for a system flag name (any case), RFC 9051 section 2.3.2.
fn flag_field<'a>(flags: &'a mut Flags, name: &str) -> Option<&'a mut bool> {
    match name.to_ascii_lowercase().as_str() {
        "\\seen" => Some(&mut flags.seen),
        "\\answered" => Some(&mut flags.answered),
        "\\flagged" => Some(&mut flags.flagged),
        "\\deleted" => Some(&mut flags.deleted),
        "\\draft" => Some(&mut flags.draft),
        _ => None,
    }
}

/// `t` as an IMAP date-time, e.g. `" 1-Jan-2025 00:00:05 +0000"` without
/// the quotes (RFC 9051 section 9, date-time; day space-padded), where
/// simulated time zero is `epoch_unix` (clamped to 1970: IMAP dates before
/// it are not needed).
fn date_time(epoch_unix: i64, t: SimTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_unix.max(0) as u64 + t.as_nanos() / 1_000_000_000;
    let (year, month, day) = civil_date(secs / 86_400);
    let s = secs % 86_400;
    let month = MONTHS[(month - 1) as usize];
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    format!("{day:>2}-{month}-{year} {h:02}:{m:02}:{s:02} +0000")
}

/// The proleptic Gregorian (year, month 1-12, day 1-31) of a count of days
/// since 1970-01-01, counting in 400-year eras that start on 1 March so
/// the leap day falls at the end of each year.
fn civil_date(days: u64) -> (u64, u64, u64) {
    const DAYS_PER_ERA: u64 = 146_097;
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z / DAYS_PER_ERA;
    let day_of_era = z % DAYS_PER_ERA;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::mailbox::SIM_EPOCH_UNIX_SECS;

    #[test]
    fn date_time_prints_the_simulated_epoch() {
        assert_eq!(
            date_time(SIM_EPOCH_UNIX_SECS as i64, SimTime::ZERO),
            " 1-Jan-2025 00:00:00 +0000"
        );
        let later = SimTime::from_secs(59 * 86_400 + 3_661);
        assert_eq!(
            date_time(SIM_EPOCH_UNIX_SECS as i64, later),
            " 1-Mar-2025 01:01:01 +0000"
        );
    }

    #[test]
    fn civil_date_handles_leap_years() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        // 2024-02-29 is day 19_782 since the Unix epoch.
        assert_eq!(civil_date(19_782), (2024, 2, 29));
        assert_eq!(civil_date(19_783), (2024, 3, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
    }

    #[test]
    fn flag_lists_follow_a_fixed_order() {
        let flags = Flags {
            deleted: true,
            seen: true,
            ..Flags::default()
        };
        assert_eq!(flag_list(&flags), "(\\Seen \\Deleted)");
        assert_eq!(flag_list(&Flags::default()), "()");
    }
}
