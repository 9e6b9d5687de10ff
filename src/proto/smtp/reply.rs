//! SMTP replies: emit and incremental parse (RFC 5321 section 4.2).

use bytes::Bytes;

/// Longest reply line the client accepts before calling the reply malformed;
/// RFC 5321 section 4.5.3.1.5 limits reply lines to 512 octets, this leaves
/// room for lenient servers.
const MAX_REPLY_LINE: usize = 2048;

/// A complete reply: a three-digit code and one or more lines of text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The reply code, for example 250.
    pub code: u16,
    /// The text of each line, without the code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply; CR and LF in `text` become spaces so the reply
    /// cannot break the framing.
    pub fn new(code: u16, text: &str) -> Self {
        Reply {
            code,
            lines: vec![sanitize(text)],
        }
    }

    /// A multi-line reply (RFC 5321 section 4.2.1), one entry per line.
    pub fn multiline(code: u16, lines: Vec<String>) -> Self {
        let lines = lines.iter().map(|l| sanitize(l)).collect();
        Reply { code, lines }
    }

    /// The reply as wire bytes: `code-text` for every line but the last,
    /// `code text` for the last, each ended by CRLF.
    pub fn emit(&self) -> Bytes {
        let code = self.code;
        let count = self.lines.len().max(1);
        let mut out = String::new();
        for i in 0..count {
            let line = self.lines.get(i).map_or("", String::as_str);
            match (i + 1 == count, line.is_empty()) {
                (true, true) => out.push_str(&format!("{code:03}\r\n")),
                (true, false) => out.push_str(&format!("{code:03} {line}\r\n")),
                (false, _) => out.push_str(&format!("{code:03}-{line}\r\n")),
            }
        }
        Bytes::from(out)
    }

    /// The text of all lines joined by a space.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// The first digit of the code: 2 success, 3 intermediate, 4 transient
    /// failure, 5 permanent failure (RFC 5321 section 4.2.1).
    pub fn class(&self) -> u16 {
        self.code / 100
    }
}

/// The enhanced status code (RFC 3463) of a reply: taken from the start of
/// `text` when it carries one of the matching class, else `class.0.0`.
///
/// Useful for the `Status:` field of a delivery status notification.
pub fn enhanced_status(code: u16, text: &str) -> String {
    let class = code / 100;
    let first = text.split(' ').next().unwrap_or("");
    let parts: Vec<&str> = first.split('.').collect();
    let numeric = |p: &&str, max: usize| {
        !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
    };
    let well_formed = parts.len() == 3
        && parts[0] == class.to_string()
        && numeric(&parts[1], 3)
        && numeric(&parts[2], 3);
    if well_formed {
        first.to_string()
    } else {
        format!("{class}.0.0")
    }
}

/// Why the bytes from a server are not a reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A line does not start with a three-digit code and a separator, or a
    /// continuation line changed the code: the session cannot continue.
    #[error("malformed reply line: {0}")]
    Malformed(String),
    /// A line ran past the length limit without a line end.
    #[error("reply line too long")]
    TooLong,
}

/// Reassembles replies from bytes in any chunking.
#[derive(Debug, Default)]
pub struct ReplyParser {
    buf: Vec<u8>,
    pos: usize,
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// An empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete reply, `None` when more bytes are needed.
    ///
    /// Lines end with CRLF; a bare LF is tolerated.
    pub fn next_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        loop {
            let Some(nl) = self.buf[self.pos..].iter().position(|&b| b == b'\n') else {
                self.compact();
                if self.buf.len() > MAX_REPLY_LINE {
                    return Some(Err(ReplyError::TooLong));
                }
                return None;
            };
            let end = self.pos + nl;
            let mut line = &self.buf[self.pos..end];
            self.pos = end + 1;
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            let line = String::from_utf8_lossy(line).into_owned();
            match self.take_line(&line) {
                Ok(Some(reply)) => return Some(Ok(reply)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Adds one reply line; returns the reply when the line was its last.
    fn take_line(&mut self, line: &str) -> Result<Option<Reply>, ReplyError> {
        let bad = || ReplyError::Malformed(line.chars().take(80).collect());
        let b = line.as_bytes();
        let code = reply_code(b).ok_or_else(bad)?;
        if self.code.is_some_and(|c| c != code) {
            return Err(bad());
        }
        let (last, text) = match b.get(3) {
            None => (true, ""),
            Some(b' ') => (true, &line[4..]),
            Some(b'-') => (false, &line[4..]),
            Some(_) => return Err(bad()),
        };
        self.code = Some(code);
        self.lines.push(text.to_string());
        if !last {
            return Ok(None);
        }
        self.code = None;
        Ok(Some(Reply {
            code,
            lines: std::mem::take(&mut self.lines),
        }))
    }

    fn compact(&mut self) {
        self.buf.drain(..self.pos);
        self.pos = 0;
    }
}

/// `Reply-code` of RFC 5321 section 4.2: three digits, the first 1 to 5.
fn reply_code(line: &[u8]) -> Option<u16> {
    let digits = line.get(..3)?;
    let valid = digits.iter().all(u8::is_ascii_digit) && (b'1'..=b'5').contains(&digits[0]);
    valid.then(|| digits.iter().fold(0, |n, &d| n * 10 + u16::from(d - b'0')))
}

fn sanitize(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multiline_reply_emits_dashes_then_a_space() {
        let r = Reply::multiline(
            250,
            vec!["foo.com greets bar.com".into(), "8BITMIME".into()],
        );
        assert_eq!(
            &r.emit()[..],
            b"250-foo.com greets bar.com\r\n250 8BITMIME\r\n"
        );
    }

    #[test]
    fn text_cannot_inject_a_line_end() {
        assert_eq!(
            &Reply::new(550, "a\r\n250 ok").emit()[..],
            b"550 a  250 ok\r\n"
        );
    }

    #[test]
    fn replies_reassemble_from_single_bytes() {
        let wire = b"220 hi\r\n250-a\r\n250-b\r\n250 c\r\n354\r\n";
        let mut p = ReplyParser::new();
        let mut got = Vec::new();
        for &byte in wire {
            p.push(&[byte]);
            while let Some(r) = p.next_reply() {
                got.push(r.unwrap());
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[1],
            Reply {
                code: 250,
                lines: vec!["a".into(), "b".into(), "c".into()]
            }
        );
        assert_eq!(
            got[2],
            Reply {
                code: 354,
                lines: vec![String::new()]
            }
        );
    }

    #[test]
    fn a_changed_code_mid_reply_is_malformed() {
        let mut p = ReplyParser::new();
        p.push(b"250-a\r\n251 b\r\n");
        assert!(matches!(
            p.next_reply(),
            Some(Err(ReplyError::Malformed(_)))
        ));
    }

    #[test]
    fn garbage_is_malformed_and_an_endless_line_too_long() {
        let mut p = ReplyParser::new();
        p.push(b"hello\r\n");
        assert!(matches!(
            p.next_reply(),
            Some(Err(ReplyError::Malformed(_)))
        ));
        let mut p = ReplyParser::new();
        p.push(&[b'2'; 5000]);
        assert_eq!(p.next_reply(), Some(Err(ReplyError::TooLong)));
    }

    #[test]
    fn enhanced_status_is_read_or_derived() {
        assert_eq!(enhanced_status(550, "5.1.1 unknown mailbox"), "5.1.1");
        assert_eq!(enhanced_status(550, "No such user here"), "5.0.0");
        assert_eq!(enhanced_status(451, "5.1.1 wrong class"), "4.0.0");
        assert_eq!(enhanced_status(452, "4.5.3 Too many recipients"), "4.5.3");
    }
}
