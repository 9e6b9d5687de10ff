//! Protocol codecs and sans-IO session state machines: SMTP, DNS, POP3, IMAP
//! and RFC 5322 messages.
//!
//! Every session takes bytes (and the time) and returns bytes to send plus
//! actions. None touches a socket, the scheduler or the wall clock.

pub mod dns;
pub mod imap;
pub mod mailbox;
pub mod message;
pub mod pop3;
pub mod smtp;
