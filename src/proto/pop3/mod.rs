//! POP3, RFC 1939: a sans-IO server over the [`Mailstore`] and a sans-IO
//! client that polls a maildrop.
//!
//! Both sides take bytes in any chunking through `handle_input` and hand
//! out what to send through `poll_output`. The maildrop is the account's
//! INBOX.
//!
//! Deliberate simplifications:
//! - No exclusive maildrop lock (RFC 1939 section 8): a message removed by
//!   another session (say IMAP EXPUNGE) answers `-ERR` at RETR or TOP, and
//!   UPDATE ignores it. Sessions never block each other.
//! - RETR marks the message `\Seen` in the store at once, so IMAP and the
//!   final Maildir show it as read even if the POP3 session is then lost.
//! - APOP and AUTH answer `-ERR` naming them: USER/PASS only. CAPA
//!   (RFC 2449) is answered with USER, TOP and UIDL.
//! - No autologout timer: the service layer owns time-outs.
//! - Messages are expected to end in CRLF; one that does not gets a CRLF
//!   added on the wire (RFC 1939 section 3 needs whole lines), which the
//!   client then keeps.
//! - Lines longer than 4096 octets (RFC 5322 section 2.1.1 caps them at
//!   998) are not buffered: the server answers `-ERR`, the client ends
//!   with an error.
//!
//! [`Mailstore`]: crate::proto::mailbox::Mailstore

mod client;
mod server;

pub use client::{Pop3Client, Pop3ClientOutput, Pop3Mode};
pub use server::{Pop3Output, Pop3Server};

use bytes::{BufMut, Bytes, BytesMut};

/// The longest command or status line kept; RFC 2449 section 4 allows 255
/// octets for commands and 512 for responses, so this is generous.
const MAX_LINE: usize = 4096;

/// Splits an input stream into lines ended by LF (CR before it dropped).
#[derive(Debug, Default)]
struct LineReader {
    buf: BytesMut,
    /// Set after an over-long line: drop bytes up to the next LF.
    discarding: bool,
}

/// One step of the line reader.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A whole line, without its CRLF.
    Complete(Bytes),
    /// A line passed [`MAX_LINE`] and was thrown away.
    TooLong,
}

impl LineReader {
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole line, if one has arrived.
    fn next_line(&mut self) -> Option<Line> {
        loop {
            let Some(lf) = self.buf.iter().position(|&b| b == b'\n') else {
                if self.buf.len() > MAX_LINE && !self.discarding {
                    self.discarding = true;
                    self.buf.clear();
                    return Some(Line::TooLong);
                }
                if self.discarding {
                    self.buf.clear();
                }
                return None;
            };
            let mut line = self.buf.split_to(lf + 1).freeze();
            if std::mem::take(&mut self.discarding) {
                continue;
            }
            line.truncate(lf);
            if line.ends_with(b"\r") {
                line.truncate(lf - 1);
            }
            if line.len() > MAX_LINE {
                return Some(Line::TooLong);
            }
            return Some(Line::Complete(line));
        }
    }
}

/// Byte-stuffs `data` for a multi-line response (RFC 1939 section 3):
/// every line that starts with "." gets another ".", a missing final CRLF
/// is added, and the ".CRLF" terminator is appended. Returns the parts to
/// send; when nothing needs stuffing the message bytes are shared, not
/// copied.
fn stuff_multiline(data: &Bytes) -> Vec<Bytes> {
    let needs_stuffing = data.starts_with(b".") || contains(data, b"\r\n.");
    let mut parts = Vec::with_capacity(2);
    let mut tail = BytesMut::new();
    if needs_stuffing {
        let mut out = BytesMut::with_capacity(data.len() + 16);
        let mut at_line_start = true;
        for (i, &b) in data.iter().enumerate() {
            if at_line_start && b == b'.' {
                out.put_u8(b'.');
            }
            out.put_u8(b);
            at_line_start = b == b'\n' && i > 0 && data[i - 1] == b'\r';
        }
        parts.push(out.freeze());
    } else if !data.is_empty() {
        parts.push(data.clone());
    }
    if !data.is_empty() && !data.ends_with(b"\r\n") {
        tail.put_slice(b"\r\n");
    }
    tail.put_slice(b".\r\n");
    parts.push(tail.freeze());
    parts
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(parts: Vec<Bytes>) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn stuffing_doubles_leading_dots_only_at_line_starts() {
        let data = Bytes::from_static(b".a\r\nb.c\r\n..\r\n.\r\n");
        let wire = joined(stuff_multiline(&data));
        assert_eq!(wire, b"..a\r\nb.c\r\n...\r\n..\r\n.\r\n");
    }

    #[test]
    fn stuffing_adds_a_missing_final_crlf() {
        let wire = joined(stuff_multiline(&Bytes::from_static(b"abc")));
        assert_eq!(wire, b"abc\r\n.\r\n");
        let wire = joined(stuff_multiline(&Bytes::new()));
        assert_eq!(wire, b".\r\n");
    }

    #[test]
    fn unstuffed_messages_are_shared_not_copied() {
        let data = Bytes::from(b"Subject: x\r\n\r\nhi\r\n".to_vec());
        let parts = stuff_multiline(&data);
        assert_eq!(parts[0].as_ptr(), data.as_ptr());
    }

    #[test]
    fn line_reader_accepts_any_chunking_and_bare_lf() {
        let mut r = LineReader::default();
        r.push(b"US");
        assert_eq!(r.next_line(), None);
        r.push(b"ER x\r\nNOOP\nQ");
        assert_eq!(r.next_line(), Some(Line::Complete(Bytes::from("USER x"))));
        assert_eq!(r.next_line(), Some(Line::Complete(Bytes::from("NOOP"))));
        assert_eq!(r.next_line(), None);
    }

    #[test]
    fn line_reader_reports_an_over_long_line_once_and_resyncs() {
        let mut r = LineReader::default();
        r.push(&vec![b'x'; MAX_LINE + 10]);
        assert_eq!(r.next_line(), Some(Line::TooLong));
        r.push(b"xxxx\r\nNOOP\r\n");
        assert_eq!(r.next_line(), Some(Line::Complete(Bytes::from("NOOP"))));
    }
}
