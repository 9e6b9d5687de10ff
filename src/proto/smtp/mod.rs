//! SMTP (RFC 5321): sans-IO server and client sessions, replies, commands
//! and paths.
//!
//! [`SmtpServer`] answers one connection and hands each complete message to
//! its caller as an [`Envelope`]; [`SmtpClient`] delivers one envelope over
//! one connection and reports a result per recipient. Neither touches a
//! socket or a clock.
//!
//! Deliberate simplifications, and why:
//! - No STARTTLS and no AUTH: the simulator has no cryptography; submission
//!   (`ServerConfig::submission`) differs only in its greeting, and who may
//!   relay is the [`Policy`]'s decision (by address or peer).
//! - The server does not advertise ENHANCEDSTATUSCODES, so its success
//!   replies keep the plain RFC texts ("250 OK"); its error replies still
//!   start with an RFC 3463 code, which [`enhanced_status`] reads back.
//! - The client does not pipeline and does not send `SIZE=`: one command,
//!   one reply keeps sessions identical to the RFC example transcripts.
//! - Command lines up to 1000 octets are taken (RFC 5321 section 4.5.3.1.4
//!   only promises 512; the text-line limit of section 4.5.3.1.6 is applied
//!   to both). Longer lines get 500.
//! - Bare LF: in commands it earns 500 (section 2.3.8); in data only CRLF
//!   ends a line, so bare LFs are kept as data and `LF.LF` never ends a
//!   message. The client converts bare LFs to CRLF before sending.
//! - Too many recipients gets 452 as section 4.5.3.1.10 asks (not 552);
//!   the client treats a 552 to RCPT as temporary, as that section says.
//! - A data line over the limit, or data over `max_message_size`, is read
//!   to the end and then refused (500, 552): a reply cannot interrupt data.
//! - VRFY always answers 252 and EXPN 502 (section 3.5 allows both).
//! - EHLO/HELO names must look like a domain or an address literal.

mod address;
mod client;
mod command;
mod reply;
mod server;

pub use address::{MAX_DOMAIN, MAX_LOCAL_PART, MAX_PATH, PathError, check_mailbox, parse_path};
pub use client::{ClientOutput, Outcome, RcptResult, SmtpClient, dot_stuff};
pub use command::{Command, CommandError, parse_command};
pub use reply::{Reply, ReplyError, ReplyParser, enhanced_status};
pub use server::{Policy, RcptVerdict, ServerConfig, ServerOutput, SmtpServer};

/// The longest line, CRLF included (RFC 5321 section 4.5.3.1.6).
pub const MAX_LINE: usize = 1000;

/// A message with its envelope, as carried by one SMTP transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path without brackets; "" is the null sender.
    pub mail_from: String,
    /// The forward-paths without brackets, in RCPT order.
    pub rcpts: Vec<String>,
    /// The message: CRLF lines, not dot-stuffed, without the final `.`.
    pub data: bytes::Bytes,
}

#[cfg(test)]
mod tests;
