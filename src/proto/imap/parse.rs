//! IMAP wire syntax: assembling lines and literals into whole commands or
//! responses, and a cursor whose functions are named after the RFC 9051
//! section 9 grammar rules.

use bytes::{Bytes, BytesMut};

/// The longest command or response text kept, literals excluded.
const MAX_LINE: usize = 64 * 1024;

/// The largest literal accepted (an APPENDed message, say).
pub(super) const MAX_LITERAL: usize = 64 * 1024 * 1024;

/// One step of the [`Assembler`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Assembled {
    /// A whole command or response: lines and literals, final CRLF removed.
    Complete(Bytes),
    /// A synchronizing literal `{n}` was announced: the server must send a
    /// continuation request before the client sends it (RFC 9051
    /// section 7.5).
    LiteralAnnounced,
    /// The text passed the line limit, or a literal the size limit; the
    /// whole command was dropped. Carries the tag when one was readable.
    TooLong(Option<Bytes>),
}

/// Joins lines and the literals they announce into whole commands.
#[derive(Debug, Default)]
pub(super) struct Assembler {
    buf: BytesMut,
    /// The command so far, lines with their CRLF and literal octets.
    pending: BytesMut,
    /// Literal octets still to copy into `pending`.
    literal_left: usize,
    /// Literal octets already in `pending` (not counted against the limit).
    literal_octets: usize,
    /// Octets to throw away: an oversized non-synchronizing literal, or
    /// the rest of an over-long line (`usize::MAX` means up to the LF).
    skip: usize,
}

impl Assembler {
    /// Adds received bytes.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole command (or continuation event), if any.
    pub(super) fn next(&mut self) -> Option<Assembled> {
        loop {
            if self.skip > 0 && !self.skip_bytes() {
                return None;
            }
            if self.literal_left > 0 {
                let n = self.literal_left.min(self.buf.len());
                self.pending.extend_from_slice(&self.buf.split_to(n));
                self.literal_left -= n;
                self.literal_octets += n;
                if self.literal_left > 0 {
                    return None;
                }
            }
            let Some(lf) = self.buf.iter().position(|&b| b == b'\n') else {
                if self.buf.len() + self.text_len() > MAX_LINE {
                    let partial = self.buf.split();
                    self.pending.extend_from_slice(&partial);
                    self.skip = usize::MAX;
                    return Some(Assembled::TooLong(self.take_tag()));
                }
                return None;
            };
            let mut line = self.buf.split_to(lf + 1);
            line.truncate(lf);
            if line.ends_with(b"\r") {
                line.truncate(lf - 1);
            }
            self.pending.extend_from_slice(&line);
            if self.text_len() > MAX_LINE {
                return Some(Assembled::TooLong(self.take_tag()));
            }
            match literal_announcement(&line) {
                None => {
                    self.literal_octets = 0;
                    return Some(Assembled::Complete(self.pending.split().freeze()));
                }
                Some((n, sync)) if n > MAX_LITERAL => {
                    // A non-synchronizing literal arrives anyway: skip it.
                    self.skip = if sync { 0 } else { n };
                    return Some(Assembled::TooLong(self.take_tag()));
                }
                Some((n, sync)) => {
                    self.pending.extend_from_slice(b"\r\n");
                    self.literal_left = n;
                    if sync {
                        return Some(Assembled::LiteralAnnounced);
                    }
                }
            }
        }
    }

    /// Drops skipped octets; true when skipping is over.
    fn skip_bytes(&mut self) -> bool {
        if self.skip == usize::MAX {
            match self.buf.iter().position(|&b| b == b'\n') {
                Some(lf) => {
                    let _ = self.buf.split_to(lf + 1);
                    self.skip = 0;
                }
                None => self.buf.clear(),
            }
        } else {
            let n = self.skip.min(self.buf.len());
            let _ = self.buf.split_to(n);
            self.skip -= n;
        }
        self.skip == 0
    }

    /// The pending command's length without its literal octets.
    fn text_len(&self) -> usize {
        self.pending.len() - self.literal_octets
    }

    /// The tag of the dropped command, and forgets the command.
    fn take_tag(&mut self) -> Option<Bytes> {
        self.literal_octets = 0;
        let pending = self.pending.split().freeze();
        let mut c = Cursor::new(&pending);
        let tag = c.tag().ok()?;
        Some(Bytes::copy_from_slice(tag))
    }
}

/// `{n}` or `{n+}` at the end of a line: the literal size and whether it
/// is synchronizing (RFC 9051 section 4.3, RFC 7888 for `+`).
fn literal_announcement(line: &[u8]) -> Option<(usize, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let (digits, sync) = match digits.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (digits, true),
    };
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, sync))
}

/// Why a command could not be parsed; the text goes into a BAD response.
pub(super) type ParseError = String;

/// A parse result.
pub(super) type Parsed<T> = Result<T, ParseError>;

/// One end of a sequence range: a number or `*` (RFC 9051 seq-number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SeqNumber {
    /// A message sequence number or UID.
    Value(u32),
    /// `*`: the largest number in use.
    Largest,
}

/// A sequence-set: ranges of numbers, each possibly a single number.
pub(super) type SequenceSet = Vec<(SeqNumber, SeqNumber)>;

/// A generic response value, for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Value {
    /// An atom, a number, NIL or a section name such as `BODY[]<0>`.
    Atom(Bytes),
    /// A quoted string or a literal.
    Str(Bytes),
    /// A parenthesized list.
    List(Vec<Value>),
}

/// A cursor over one assembled command or response.
pub(super) struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `input`.
    pub(super) fn new(input: &'a [u8]) -> Self {
        Cursor { input, pos: 0 }
    }

    /// Whether everything was consumed.
    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// The next byte, not consumed.
    pub(super) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// The unconsumed rest.
    pub(super) fn rest(&self) -> &'a [u8] {
        &self.input[self.pos.min(self.input.len())..]
    }

    /// Consumes `b` if it is next.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Expects `b` next.
    pub(super) fn expect(&mut self, b: u8) -> Parsed<()> {
        match self.eat(b) {
            true => Ok(()),
            false => Err(format!("expected {:?}", b as char)),
        }
    }

    /// SP: one space (more are tolerated).
    pub(super) fn sp(&mut self) -> Parsed<()> {
        self.expect(b' ')?;
        while self.eat(b' ') {}
        Ok(())
    }

    /// The end of the command: nothing left but spaces.
    pub(super) fn end(&mut self) -> Parsed<()> {
        while self.eat(b' ') {}
        match self.at_end() {
            true => Ok(()),
            false => Err("unexpected text after the arguments".to_string()),
        }
    }

    /// tag: 1*<any ASTRING-CHAR except "+">.
    pub(super) fn tag(&mut self) -> Parsed<&'a [u8]> {
        self.take_while(|b| is_astring_char(b) && b != b'+', "tag")
    }

    /// atom: 1*ATOM-CHAR.
    pub(super) fn atom(&mut self) -> Parsed<&'a [u8]> {
        self.take_while(is_atom_char, "atom")
    }

    /// An atom folded to upper case, for keywords.
    pub(super) fn keyword(&mut self) -> Parsed<String> {
        Ok(String::from_utf8_lossy(self.atom()?).to_ascii_uppercase())
    }

    /// number: 1*DIGIT fitting 32 bits.
    pub(super) fn number(&mut self) -> Parsed<u32> {
        let digits = self.take_while(|b| b.is_ascii_digit(), "number")?;
        let text = std::str::from_utf8(digits).map_err(|_| "bad number")?;
        text.parse().map_err(|_| "number too large".to_string())
    }

    /// nz-number: a number other than zero.
    pub(super) fn nz_number(&mut self) -> Parsed<u32> {
        match self.number()? {
            0 => Err("zero is not a valid number here".to_string()),
            n => Ok(n),
        }
    }

    /// astring: an atom (with "]" allowed) or a string.
    pub(super) fn astring(&mut self) -> Parsed<Bytes> {
        match self.peek() {
            Some(b'"') | Some(b'{') => self.string(),
            _ => {
                let a = self.take_while(is_astring_char, "astring")?;
                Ok(Bytes::copy_from_slice(a))
            }
        }
    }

    /// string: quoted or literal.
    pub(super) fn string(&mut self) -> Parsed<Bytes> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            _ => Err("expected a string".to_string()),
        }
    }

    /// quoted: DQUOTE *QUOTED-CHAR DQUOTE, with `\\` and `\"` escapes.
    pub(super) fn quoted(&mut self) -> Parsed<Bytes> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => {
                    return Err("unterminated quoted string".to_string());
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Bytes::from(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'\\' | b'"')) => out.push(c),
                        _ => return Err("bad escape in quoted string".to_string()),
                    }
                    self.pos += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// literal: "{" number ["+"] "}" CRLF *OCTET, as assembled.
    pub(super) fn literal(&mut self) -> Parsed<Bytes> {
        self.expect(b'{')?;
        let n = self.number()? as usize;
        self.eat(b'+');
        self.expect(b'}')?;
        self.expect(b'\r')?;
        self.expect(b'\n')?;
        let data = self
            .rest()
            .get(..n)
            .ok_or("literal shorter than announced")?;
        self.pos += n;
        Ok(Bytes::copy_from_slice(data))
    }

    /// list-mailbox: 1*list-char (atom chars, "%", "*", "]") or a string.
    pub(super) fn list_mailbox(&mut self) -> Parsed<Bytes> {
        match self.peek() {
            Some(b'"') | Some(b'{') => self.string(),
            _ => {
                let is_list_char = |b| is_astring_char(b) || b == b'%' || b == b'*';
                let a = self.take_while(is_list_char, "mailbox pattern")?;
                Ok(Bytes::copy_from_slice(a))
            }
        }
    }

    /// sequence-set: seq-number or seq-range, comma separated.
    pub(super) fn sequence_set(&mut self) -> Parsed<SequenceSet> {
        let mut set = Vec::new();
        loop {
            let first = self.seq_number()?;
            let last = match self.eat(b':') {
                true => self.seq_number()?,
                false => first,
            };
            set.push((first, last));
            if !self.eat(b',') {
                return Ok(set);
            }
        }
    }

    /// seq-number: nz-number or "*".
    fn seq_number(&mut self) -> Parsed<SeqNumber> {
        match self.eat(b'*') {
            true => Ok(SeqNumber::Largest),
            false => Ok(SeqNumber::Value(self.nz_number()?)),
        }
    }

    /// flag-list: "(" [flag *(SP flag)] ")"; flags as written.
    pub(super) fn flag_list(&mut self) -> Parsed<Vec<String>> {
        self.expect(b'(')?;
        let mut flags = Vec::new();
        while !self.eat(b')') {
            if !flags.is_empty() {
                self.sp()?;
            }
            flags.push(self.flag()?);
        }
        Ok(flags)
    }

    /// flag: "\" atom or a keyword atom.
    pub(super) fn flag(&mut self) -> Parsed<String> {
        let backslash = self.eat(b'\\');
        let name = String::from_utf8_lossy(self.atom()?).into_owned();
        Ok(if backslash { format!("\\{name}") } else { name })
    }

    /// Any response value: list, string, or atom-like token (with
    /// `[...]` sections and `<...>` origins kept inside it).
    pub(super) fn value(&mut self) -> Parsed<Value> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    while self.eat(b' ') {}
                    if self.eat(b')') {
                        return Ok(Value::List(items));
                    }
                    items.push(self.value()?);
                }
            }
            Some(b'"') | Some(b'{') => Ok(Value::Str(self.string()?)),
            _ => self.token().map(|t| Value::Atom(Bytes::copy_from_slice(t))),
        }
    }

    /// An atom-like token of a response, brackets included.
    fn token(&mut self) -> Parsed<&'a [u8]> {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            match b {
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b' ' | b'(' | b')' if depth == 0 => break,
                b'\r' | b'\n' => break,
                _ => {}
            }
            self.pos += 1;
        }
        match self.pos > start {
            true => Ok(&self.input[start..self.pos]),
            false => Err("expected a value".to_string()),
        }
    }

    /// A fetch-att or section-spec name in upper case: atom chars up to
    /// "[" or "<".
    pub(super) fn fetch_att_name(&mut self) -> Parsed<String> {
        let ok = |b| is_atom_char(b) && b != b'[' && b != b'<';
        let name = self.take_while(ok, "fetch item")?;
        Ok(String::from_utf8_lossy(name).to_ascii_uppercase())
    }

    /// Consumes the bytes up to (not including) `stop`, or to the end.
    pub(super) fn until(&mut self, stop: u8) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(|b| b != stop) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    fn take_while(&mut self, ok: impl Fn(u8) -> bool, what: &str) -> Parsed<&'a [u8]> {
        let start = self.pos;
        while self.peek().is_some_and(&ok) {
            self.pos += 1;
        }
        match self.pos > start {
            true => Ok(&self.input[start..self.pos]),
            false => Err(format!("expected {what}")),
        }
    }
}

/// ATOM-CHAR: any CHAR except atom-specials (RFC 9051 section 9).
pub(super) fn is_atom_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && !b"(){ %*\"\\]".contains(&b)
}

/// ASTRING-CHAR: ATOM-CHAR or resp-specials ("]").
pub(super) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `s` as an IMAP quoted string, escaping `\` and `"`; `None` when it
/// needs a literal (CR, LF, NUL or 8-bit).
pub(super) fn quote(s: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        match b {
            b'\\' | b'"' => {
                out.push('\\');
                out.push(b as char);
            }
            0x01..=0x7f if b != b'\r' && b != b'\n' => out.push(b as char),
            _ => return None,
        }
    }
    out.push('"');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble(chunks: &[&[u8]]) -> Vec<Assembled> {
        let mut a = Assembler::default();
        let mut got = Vec::new();
        for c in chunks {
            a.push(c);
            while let Some(x) = a.next() {
                got.push(x);
            }
        }
        got
    }

    #[test]
    fn a_synchronizing_literal_asks_for_continuation_then_completes() {
        let got = assemble(&[b"A1 LOGIN {3}\r\n", b"b", b"ob \"pw\"\r\n"]);
        assert_eq!(
            got,
            vec![
                Assembled::LiteralAnnounced,
                Assembled::Complete(Bytes::from("A1 LOGIN {3}\r\nbob \"pw\"")),
            ]
        );
    }

    #[test]
    fn a_non_synchronizing_literal_needs_no_continuation() {
        let got = assemble(&[b"A1 LOGIN {3+}\r\nbob x\r\n"]);
        assert_eq!(
            got,
            vec![Assembled::Complete(Bytes::from("A1 LOGIN {3+}\r\nbob x"))]
        );
    }

    #[test]
    fn an_oversized_literal_is_refused_with_its_tag() {
        let line = format!("A9 APPEND INBOX {{{}}}\r\nA10 NOOP\r\n", MAX_LITERAL + 1);
        let got = assemble(&[line.as_bytes()]);
        assert_eq!(
            got,
            vec![
                Assembled::TooLong(Some(Bytes::from("A9"))),
                Assembled::Complete(Bytes::from("A10 NOOP")),
            ]
        );
    }

    #[test]
    fn an_over_long_line_is_dropped_and_the_stream_resyncs() {
        let mut long = b"A1 NOOP ".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_LINE + 5));
        let got = assemble(&[&long, b"xx\r\nA2 NOOP\r\n"]);
        assert_eq!(
            got,
            vec![
                Assembled::TooLong(Some(Bytes::from("A1"))),
                Assembled::Complete(Bytes::from("A2 NOOP")),
            ]
        );
    }

    #[test]
    fn sequence_sets_parse_ranges_stars_and_lists() {
        let mut c = Cursor::new(b"2:4,7,*,9:*");
        let v = SeqNumber::Value;
        assert_eq!(
            c.sequence_set().unwrap(),
            vec![
                (v(2), v(4)),
                (v(7), v(7)),
                (SeqNumber::Largest, SeqNumber::Largest),
                (v(9), SeqNumber::Largest),
            ]
        );
        assert!(Cursor::new(b"0:3").sequence_set().is_err());
        assert!(Cursor::new(b"x").sequence_set().is_err());
    }

    #[test]
    fn quoted_strings_unescape_and_quote_escapes() {
        let mut c = Cursor::new(br#""a \"b\" \\c""#);
        assert_eq!(c.quoted().unwrap(), Bytes::from(r#"a "b" \c"#));
        assert_eq!(quote(br#"a"\"#).unwrap(), r#""a\"\\""#);
        assert_eq!(quote(b"a\r\n"), None);
    }

    #[test]
    fn response_values_keep_sections_inside_tokens() {
        let mut c = Cursor::new(b"(UID 5 BODY[HEADER.FIELDS (TO)]<0> {2}\r\nhi FLAGS (\\Seen))");
        let Value::List(items) = c.value().unwrap() else {
            panic!("not a list");
        };
        assert_eq!(
            items[2],
            Value::Atom(Bytes::from("BODY[HEADER.FIELDS (TO)]<0>"))
        );
        assert_eq!(items[3], Value::Str(Bytes::from("hi")));
        assert_eq!(
            items[5],
            Value::List(vec![Value::Atom(Bytes::from("\\Seen"))])
        );
    }
}
