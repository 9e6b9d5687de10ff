//! Paths and mailboxes in MAIL and RCPT commands (RFC 5321 section 4.1.2).
//!
//! The grammar is checked loosely: a mailbox is a local-part (dot-string of
//! printable characters, or a quoted string) and a domain (letters, digits,
//! hyphens and dots, or an address literal in brackets). The size limits of
//! RFC 5321 section 4.5.3.1 are enforced exactly.

/// Longest local-part, RFC 5321 section 4.5.3.1.1.
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain, RFC 5321 section 4.5.3.1.2.
pub const MAX_DOMAIN: usize = 255;
/// Longest path including the angle brackets, RFC 5321 section 4.5.3.1.3.
pub const MAX_PATH: usize = 256;

/// Why a path could not be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// No `<...>` around the path, or junk inside it: reply 501.
    Syntax,
    /// The path is longer than 256 octets: reply 501 (section 4.5.3.1.10).
    TooLong,
    /// The brackets are there but the mailbox inside is malformed or
    /// exceeds a part limit: reply 553 (mailbox name not allowed).
    Mailbox,
}

/// Splits `<path> rest` into the mailbox (brackets and any source route
/// removed) and the remaining text.
///
/// A source route (`<@a,@b:user@c>`) is accepted and ignored, as RFC 5321
/// section 4.1.1.3 requires of servers.
pub fn parse_path(s: &str) -> Result<(String, &str), PathError> {
    let rest = s.strip_prefix('<').ok_or(PathError::Syntax)?;
    let close = find_closing_bracket(rest).ok_or(PathError::Syntax)?;
    if close + 2 > MAX_PATH {
        return Err(PathError::TooLong);
    }
    let inner = &rest[..close];
    let after = &rest[close + 1..];
    if !(after.is_empty() || after.starts_with(' ')) {
        return Err(PathError::Syntax);
    }
    Ok((strip_source_route(inner).to_string(), after))
}

/// Checks a mailbox `local-part@domain` against RFC 5321 section 4.1.2 and
/// the part limits of section 4.5.3.1.
pub fn check_mailbox(mailbox: &str) -> Result<(), PathError> {
    let at = mailbox.rfind('@').ok_or(PathError::Mailbox)?;
    let (local, domain) = (&mailbox[..at], &mailbox[at + 1..]);
    if local.len() > MAX_LOCAL_PART || domain.len() > MAX_DOMAIN {
        return Err(PathError::Mailbox);
    }
    if is_local_part(local) && is_domain(domain) {
        Ok(())
    } else {
        Err(PathError::Mailbox)
    }
}

/// Whether `s` is a domain name or an address literal, as accepted in
/// mailboxes and in EHLO/HELO (RFC 5321 section 4.1.2, `Domain` and
/// `address-literal`).
pub fn is_domain(s: &str) -> bool {
    if let Some(lit) = s.strip_prefix('[') {
        return lit.strip_suffix(']').is_some_and(|body| {
            !body.is_empty()
                && body
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'[' && b != b']')
        });
    }
    !s.is_empty()
        && s.len() <= MAX_DOMAIN
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn find_closing_bracket(s: &str) -> Option<usize> {
    // A quoted local-part may itself contain '>' (RFC 5321 Quoted-string).
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn strip_source_route(inner: &str) -> &str {
    if inner.starts_with('@') {
        inner.find(':').map_or(inner, |colon| &inner[colon + 1..])
    } else {
        inner
    }
}

fn is_local_part(s: &str) -> bool {
    if let Some(q) = s.strip_prefix('"') {
        return q
            .strip_suffix('"')
            .is_some_and(|body| body.bytes().all(|b| (b' '..=b'~').contains(&b)));
    }
    !s.is_empty()
        && s.split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
}

/// `atext` of RFC 5322 section 3.2.3.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_path_splits_from_its_parameters() {
        let (m, rest) = parse_path("<Smith@bar.com> SIZE=10").unwrap();
        assert_eq!(m, "Smith@bar.com");
        assert_eq!(rest, " SIZE=10");
    }

    #[test]
    fn the_null_path_is_empty() {
        assert_eq!(parse_path("<>").unwrap().0, "");
    }

    #[test]
    fn a_source_route_is_ignored() {
        assert_eq!(parse_path("<@a.org,@b.org:u@c.org>").unwrap().0, "u@c.org");
    }

    #[test]
    fn a_quoted_local_part_may_hold_a_bracket() {
        let (m, _) = parse_path("<\"a>b\"@c.org>").unwrap();
        assert_eq!(m, "\"a>b\"@c.org");
        assert_eq!(check_mailbox(&m), Ok(()));
    }

    #[test]
    fn missing_brackets_are_a_syntax_error() {
        assert_eq!(parse_path("u@c.org"), Err(PathError::Syntax));
        assert_eq!(parse_path("<u@c.org"), Err(PathError::Syntax));
        assert_eq!(parse_path("<u@c.org>x"), Err(PathError::Syntax));
    }

    #[test]
    fn limits_of_section_4_5_3_1_hold() {
        let long_path = format!("<{}@{}>", "a".repeat(60), "b".repeat(200));
        assert_eq!(parse_path(&long_path), Err(PathError::TooLong));
        let long_local = format!("{}@b.org", "a".repeat(65));
        assert_eq!(check_mailbox(&long_local), Err(PathError::Mailbox));
        assert_eq!(check_mailbox(&format!("{}@b.org", "a".repeat(64))), Ok(()));
    }

    #[test]
    fn malformed_mailboxes_are_refused() {
        for bad in [
            "nobody",
            "@x.org",
            "a@",
            "a..b@x.org",
            "a@x..org",
            "a b@x.org",
            "a@-x.org",
        ] {
            assert_eq!(check_mailbox(bad), Err(PathError::Mailbox), "{bad}");
        }
        assert_eq!(check_mailbox("a@[192.0.2.1]"), Ok(()));
    }
}
