//! Internet messages (RFC 5322): header helpers, dates, trace fields,
//! delivery status notifications (RFC 3464) and synthetic messages.
//!
//! Everything works on bytes; no MIME parsing beyond what a bounce needs.
//!
//! Deliberate simplifications, and why:
//! - Header names are matched byte-wise (ASCII case-insensitive) and values
//!   are decoded lossily as UTF-8: encoded words (RFC 2047) are left as they
//!   are, since only trace and identity fields are read.
//! - Dates are always written in UTC (`+0000`): the simulation has one
//!   clock and no time zones.
//! - A bounce carries only the header of the original message
//!   (`text/rfc822-headers`, RFC 6522), never its body, which keeps
//!   bounces small and is what RFC 3462/6522 recommend.

use std::net::Ipv4Addr;

use bytes::Bytes;
use rand::Rng;

use crate::sim::SimRng;

/// The data with every bare LF turned into CRLF; existing CRLFs (and bare
/// CRs) are left alone.
pub fn normalize_line_endings(data: &[u8]) -> Vec<u8> {
    // Line by line, copying each run of bytes whole: bodies are long.
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut start = 0;
    while let Some(i) = data[start..].iter().position(|&b| b == b'\n') {
        let lf = start + i;
        out.extend_from_slice(&data[start..lf]);
        if lf == 0 || data[lf - 1] != b'\r' {
            out.push(b'\r');
        }
        out.push(b'\n');
        start = lf + 1;
    }
    out.extend_from_slice(&data[start..]);
    out
}

/// The header section of a message: everything before the first empty line
/// (RFC 5322 section 2.1), or the whole message when there is none.
pub fn header_section(data: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < data.len() {
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| start + i);
        let line = &data[start..end];
        if line.is_empty() || line == b"\r" {
            return &data[..start];
        }
        start = end + 1;
    }
    data
}

/// The unfolded value (RFC 5322 section 2.2.3) of the first header field
/// called `name` (case-insensitive), with surrounding whitespace trimmed.
pub fn header_value(data: &[u8], name: &str) -> Option<String> {
    fields(header_section(data))
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, value)| String::from_utf8_lossy(&value).trim().to_string())
}

/// How many header fields are called `name` (case-insensitive); counting
/// `Received` gives the hops a message made (RFC 5321 section 6.3).
pub fn count_headers(data: &[u8], name: &str) -> usize {
    fields(header_section(data))
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .count()
}

/// The message with `name: value` CRLF put in front, as trace fields are
/// (RFC 5321 section 4.4). `value` may already be folded with CRLF WSP.
pub fn prepend_header(data: &[u8], name: &str, value: &str) -> Bytes {
    let mut out = Vec::with_capacity(name.len() + value.len() + 4 + data.len());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    Bytes::from(out)
}

/// An RFC 5322 section 3.3 date-time in UTC, for example
/// `Mon, 05 Jan 2026 09:00:00 +0000`.
pub fn format_date(unix_seconds: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[(days + 4).rem_euclid(7) as usize];
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let month = MONTHS[month as usize - 1];
    format!("{weekday}, {day:02} {month} {year:04} {h:02}:{m:02}:{s:02} +0000")
}

/// The value of a `Received:` trace field (RFC 5321 section 4.4), without
/// the field name, folded over lines with CRLF TAB:
/// `from HELO ([IP]) by HOST with PROTO id ID for <RCPT>; DATE`.
///
/// `with` is the protocol keyword of RFC 3848 (`SMTP`, `ESMTP`, `ESMTPSA`).
pub fn received_header(
    by_host: &str,
    from_helo: &str,
    from_ip: Ipv4Addr,
    with: &str,
    id: &str,
    rcpt: Option<&str>,
    unix_seconds: i64,
) -> String {
    let helo = one_line(from_helo);
    let from = if helo.is_empty() {
        format!("[{from_ip}]")
    } else {
        helo
    };
    let mut v = format!(
        "from {from} ([{from_ip}])\r\n\tby {} with {} id {}",
        by_host, with, id
    );
    if let Some(rcpt) = rcpt {
        v.push_str(&format!("\r\n\tfor <{}>", one_line(rcpt)));
    }
    v.push_str(&format!(";\r\n\t{}", format_date(unix_seconds)));
    v
}

/// One recipient a delivery status notification reports on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsnRecipient {
    /// The recipient address, without brackets.
    pub rcpt: String,
    /// The RFC 3463 status, for example `5.1.1`.
    pub status: String,
    /// The remote reply, code and text, for example
    /// `550 5.1.1 unknown mailbox`; empty when there was none.
    pub diagnostic: String,
}

/// A bounce (RFC 3464 delivery status notification in an RFC 6522
/// multipart/report) telling `original_sender` that `failed` could not be
/// reached. The caller sends it with the null reverse-path.
pub fn build_dsn(
    reporting_mta: &str,
    original_sender: &str,
    original: &[u8],
    failed: &[DsnRecipient],
    unix_seconds: i64,
    message_id: &str,
) -> Bytes {
    let headers = normalize_line_endings(header_section(original));
    let boundary = pick_boundary(message_id, &headers);
    let mut m = String::new();
    m.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>\r\n"
    ));
    m.push_str(&format!("To: <{}>\r\n", one_line(original_sender)));
    m.push_str("Subject: Undelivered Mail Returned to Sender\r\n");
    m.push_str(&format!("Date: {}\r\n", format_date(unix_seconds)));
    m.push_str(&format!("Message-ID: {}\r\n", angle(message_id)));
    // RFC 3834 section 5: automatic replies say so.
    m.push_str("Auto-Submitted: auto-replied\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: multipart/report; report-type=delivery-status;\r\n");
    m.push_str(&format!("\tboundary=\"{boundary}\"\r\n\r\n"));
    m.push_str("This is a MIME-encapsulated message.\r\n\r\n");

    m.push_str(&format!("--{boundary}\r\n"));
    m.push_str(&human_readable_part(reporting_mta, failed));
    m.push_str(&format!("--{boundary}\r\n"));
    m.push_str(&delivery_status_part(reporting_mta, failed));
    m.push_str(&format!("--{boundary}\r\n"));
    m.push_str("Content-Type: text/rfc822-headers\r\n\r\n");
    let mut out = m.into_bytes();
    out.extend_from_slice(&headers);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Bytes::from(out)
}

/// A well-formed plain-text message of `size` octets in total (exactly,
/// whenever `size` leaves room for the header), deterministic for a given
/// `rng` state. Body lines are at most 76 characters and some start with
/// `.` (a few are exactly `.` or `..`) so that dot-stuffing is exercised.
pub fn synthesize(
    from: &str,
    to: &[&str],
    subject: &str,
    message_id: &str,
    unix_seconds: i64,
    size: usize,
    rng: &mut SimRng,
) -> Bytes {
    let mut m = String::new();
    m.push_str(&format!("From: <{}>\r\n", one_line(from)));
    let to: Vec<String> = to.iter().map(|a| format!("<{}>", one_line(a))).collect();
    m.push_str(&format!("To: {}\r\n", to.join(",\r\n ")));
    m.push_str(&format!("Subject: {}\r\n", one_line(subject)));
    m.push_str(&format!("Date: {}\r\n", format_date(unix_seconds)));
    m.push_str(&format!("Message-ID: {}\r\n", angle(message_id)));
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: text/plain; charset=us-ascii\r\n\r\n");

    // Full lines while more than one longest line remains, then one line
    // cut to fit exactly.
    let mut remaining = size.saturating_sub(m.len());
    while remaining > MAX_BODY_LINE + 2 {
        let line = body_line(rng);
        remaining -= line.len() + 2;
        m.push_str(&line);
        m.push_str("\r\n");
    }
    if remaining >= 2 {
        m.push_str(&filler(rng, remaining - 2));
        m.push_str("\r\n");
    }
    Bytes::from(m)
}

/// Longest body line `synthesize` writes, below the 78 of RFC 5322
/// section 2.1.1.
const MAX_BODY_LINE: usize = 76;

/// Header fields as (name, unfolded value) in order; lines that are neither
/// a field nor a continuation are skipped.
fn fields(section: &[u8]) -> Vec<(&[u8], Vec<u8>)> {
    let mut out: Vec<(&[u8], Vec<u8>)> = Vec::new();
    for line in section.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match line.first() {
            // Unfolding removes only the line break (RFC 5322 section 2.2.3).
            Some(b' ' | b'\t') => {
                if let Some((_, value)) = out.last_mut() {
                    value.extend_from_slice(line);
                }
            }
            Some(_) => {
                if let Some(colon) = line.iter().position(|&b| b == b':') {
                    out.push((&line[..colon], line[colon + 1..].to_vec()));
                }
            }
            None => {}
        }
    }
    out
}

/// Year, month (1-12) and day (1-31) of a day count from 1970-01-01
/// (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    const DAYS_400Y: i64 = 146_097;
    const DAYS_100Y: i64 = 36_524;
    const DAYS_4Y: i64 = 1_461;
    // Months from March, so that the leap day is the last day of the
    // year and of every 4-, 100- and 400-year cycle counted from
    // 2000-03-01 (day 11017).
    const MONTH_DAYS: [i64; 12] = [31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 29];
    let d = days - 11_017;
    let cycles = d.div_euclid(DAYS_400Y);
    let mut rem = d.rem_euclid(DAYS_400Y);
    let centuries = (rem / DAYS_100Y).min(3);
    rem -= centuries * DAYS_100Y;
    let quads = rem / DAYS_4Y;
    rem -= quads * DAYS_4Y;
    let years = (rem / 365).min(3);
    rem -= years * 365;

    let mut year = 2000 + 400 * cycles + 100 * centuries + 4 * quads + years;
    let mut month = 0;
    while month < 11 && rem >= MONTH_DAYS[month] {
        rem -= MONTH_DAYS[month];
        month += 1;
    }
    // month 0 is March; January and February belong to the next year.
    let mut month = month as u32 + 3;
    if month > 12 {
        month -= 12;
        year += 1;
    }
    (year, month, rem as u32 + 1)
}

fn human_readable_part(reporting_mta: &str, failed: &[DsnRecipient]) -> String {
    let mut p = String::from("Content-Type: text/plain; charset=us-ascii\r\n\r\n");
    p.push_str(&format!(
        "This is the mail system at host {reporting_mta}.\r\n\r\n"
    ));
    p.push_str("Your message could not be delivered to one or more recipients.\r\n");
    p.push_str("Delivery failed permanently for:\r\n\r\n");
    for f in failed {
        p.push_str(&format!(
            "  <{}>: {}\r\n",
            one_line(&f.rcpt),
            one_line(&f.diagnostic)
        ));
    }
    p.push_str("\r\n");
    p
}

/// RFC 3464 section 2.1: per-message fields, then one block per recipient,
/// blocks separated by empty lines.
fn delivery_status_part(reporting_mta: &str, failed: &[DsnRecipient]) -> String {
    let mut p = String::from("Content-Type: message/delivery-status\r\n\r\n");
    p.push_str(&format!("Reporting-MTA: dns; {reporting_mta}\r\n"));
    for f in failed {
        p.push_str("\r\n");
        p.push_str(&format!(
            "Final-Recipient: rfc822; {}\r\n",
            one_line(&f.rcpt)
        ));
        p.push_str("Action: failed\r\n");
        p.push_str(&format!("Status: {}\r\n", one_line(&f.status)));
        if !f.diagnostic.is_empty() {
            p.push_str(&format!(
                "Diagnostic-Code: smtp; {}\r\n",
                one_line(&f.diagnostic)
            ));
        }
    }
    p.push_str("\r\n");
    p
}

/// A MIME boundary (RFC 2046 section 5.1.1) that does not occur in `body`.
fn pick_boundary(message_id: &str, body: &[u8]) -> String {
    let base: String = message_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .take(40)
        .collect();
    let mut boundary = format!("=_report_{base}");
    while contains(body, boundary.as_bytes()) {
        boundary.push('_');
    }
    boundary
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `<id>`, whether or not `id` came with its brackets.
fn angle(id: &str) -> String {
    let id = one_line(id);
    if id.starts_with('<') {
        id
    } else {
        format!("<{id}>")
    }
}

/// The text with CR and LF replaced by spaces, so it stays on its line.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

const WORDS: [&str; 24] = [
    "the",
    "mail",
    "queue",
    "relay",
    "packet",
    "router",
    "message",
    "delivery",
    "retry",
    "simulated",
    "network",
    "latency",
    "of",
    "and",
    "to",
    "a",
    "bandwidth",
    "mailbox",
    "server",
    "client",
    "protocol",
    "link",
    "buffer",
    "timer",
];

/// A body line of 40 to 72 characters; one in four starts with a dot and
/// one in eight is just `.` or `..`.
fn body_line(rng: &mut SimRng) -> String {
    let kind = rng.next_u64() % 16;
    let target = 40 + (rng.next_u64() % 33) as usize;
    match kind {
        0 => ".".to_string(),
        1 => "..".to_string(),
        2..=5 => format!(".{}", filler(rng, target - 1)),
        _ => filler(rng, target),
    }
}

/// Words up to exactly `len` characters, never ending in a space.
fn filler(rng: &mut SimRng, len: usize) -> String {
    let mut s = String::with_capacity(len + 16);
    while s.len() < len {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(WORDS[(rng.next_u64() % WORDS.len() as u64) as usize]);
    }
    s.truncate(len);
    if s.ends_with(' ') {
        s.pop();
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Streams;

    #[test]
    fn line_endings_match_the_byte_by_byte_rule() {
        // The rule stated plainly: a CR goes before every LF that does not
        // follow one. Checked on every string of up to 6 of these bytes.
        let by_byte = |data: &[u8]| {
            let mut out = Vec::new();
            let mut prev = 0u8;
            for &b in data {
                if b == b'\n' && prev != b'\r' {
                    out.push(b'\r');
                }
                out.push(b);
                prev = b;
            }
            out
        };
        let alphabet = [b'a', b'\r', b'\n', b'.'];
        for len in 0..=6u32 {
            for code in 0..4usize.pow(len) {
                let data: Vec<u8> = (0..len)
                    .map(|k| alphabet[code / 4usize.pow(k) % 4])
                    .collect();
                assert_eq!(normalize_line_endings(&data), by_byte(&data), "{data:?}");
            }
        }
    }

    #[test]
    fn bare_lf_becomes_crlf_and_crlf_stays() {
        assert_eq!(normalize_line_endings(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert_eq!(normalize_line_endings(b"\n\n"), b"\r\n\r\n");
        assert_eq!(normalize_line_endings(b"a\rb"), b"a\rb");
    }

    const MSG: &[u8] = b"Received: from a\r\n\tby b; Thu, 01 Jan 1970 00:00:00 +0000\r\n\
        Subject: Hello\r\n  world\r\nreceived: second\r\n\r\nSubject: not a header\r\n";

    #[test]
    fn header_values_are_unfolded_and_case_insensitive() {
        assert_eq!(
            header_value(MSG, "subject").as_deref(),
            Some("Hello  world")
        );
        let received = header_value(MSG, "RECEIVED").unwrap();
        assert_eq!(received, "from a\tby b; Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(header_value(MSG, "To"), None);
    }

    #[test]
    fn only_the_header_section_is_searched() {
        assert_eq!(count_headers(MSG, "Received"), 2);
        assert_eq!(count_headers(MSG, "Subject"), 1);
        assert!(header_section(MSG).ends_with(b"received: second\r\n"));
        assert_eq!(header_section(b"no blank line"), b"no blank line");
    }

    #[test]
    fn prepending_adds_a_field_on_top() {
        let m = prepend_header(MSG, "Received", "from c by d; x");
        assert!(m.starts_with(b"Received: from c by d; x\r\nReceived: from a\r\n"));
        assert_eq!(count_headers(&m, "received"), 3);
        assert_eq!(
            header_value(&m, "Received").as_deref(),
            Some("from c by d; x")
        );
    }

    #[test]
    fn dates_of_known_epochs_format_exactly() {
        assert_eq!(format_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        // 20458 days (2026-01-05, a Monday) and 9 hours.
        assert_eq!(
            format_date(1_767_603_600),
            "Mon, 05 Jan 2026 09:00:00 +0000"
        );
        // The leap day of a 400-year year: 11016 days.
        assert_eq!(format_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        // 2100 is not a leap year: 1 March follows 28 February.
        assert_eq!(
            format_date(4_107_542_400),
            "Mon, 01 Mar 2100 00:00:00 +0000"
        );
        assert_eq!(format_date(-1), "Wed, 31 Dec 1969 23:59:59 +0000");
        assert_eq!(
            format_date(1_234_567_890),
            "Fri, 13 Feb 2009 23:31:30 +0000"
        );
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        // Walk 1600 years of days and check the calendar never skips or
        // repeats a day.
        let mut prev = civil_from_days(-200_000);
        for d in -199_999..400_000 {
            let cur = civil_from_days(d);
            let next_day = (prev.0, prev.1, prev.2 + 1);
            let next_month = (prev.0, prev.1 + 1, 1);
            let next_year = (prev.0 + 1, 1, 1);
            assert!(
                cur == next_day || cur == next_month || cur == next_year,
                "{prev:?} {cur:?}"
            );
            prev = cur;
        }
    }

    #[test]
    fn received_header_follows_section_4_4() {
        let ip = Ipv4Addr::new(192, 0, 2, 1);
        let v = received_header(
            "mx.b.example",
            "mta.a.example",
            ip,
            "ESMTP",
            "Q1",
            Some("bob@b.example"),
            0,
        );
        assert_eq!(
            v,
            "from mta.a.example ([192.0.2.1])\r\n\tby mx.b.example with ESMTP id Q1\r\n\
             \tfor <bob@b.example>;\r\n\tThu, 01 Jan 1970 00:00:00 +0000"
        );
        let v = received_header("mx", "", ip, "SMTP", "Q2", None, 0);
        assert!(v.starts_with("from [192.0.2.1] ([192.0.2.1])\r\n\tby mx with SMTP id Q2;"));
    }

    #[test]
    fn a_bounce_has_the_three_parts_and_the_fields_of_rfc_3464() {
        let original = b"From: alice@a.example\r\nSubject: hi\r\n\r\nsecret body\r\n";
        let failed = [DsnRecipient {
            rcpt: "nobody@b.example".into(),
            status: "5.1.1".into(),
            diagnostic: "550 5.1.1 unknown mailbox".into(),
        }];
        let dsn = build_dsn(
            "mta.a.example",
            "alice@a.example",
            original,
            &failed,
            0,
            "b1@mta.a.example",
        );
        let text = String::from_utf8(dsn.to_vec()).unwrap();
        assert_eq!(
            header_value(&dsn, "From").unwrap(),
            "Mail Delivery System <MAILER-DAEMON@mta.a.example>"
        );
        assert_eq!(header_value(&dsn, "To").unwrap(), "<alice@a.example>");
        assert!(
            header_value(&dsn, "Subject")
                .unwrap()
                .contains("Undelivered")
        );
        assert_eq!(
            header_value(&dsn, "Message-ID").unwrap(),
            "<b1@mta.a.example>"
        );
        let ctype = header_value(&dsn, "Content-Type").unwrap();
        assert!(ctype.starts_with("multipart/report; report-type=delivery-status;"));
        let boundary = ctype
            .split("boundary=\"")
            .nth(1)
            .unwrap()
            .trim_end_matches('"');
        let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
        // preamble, three parts, and the closing "--" epilogue.
        assert_eq!(parts.len(), 5);
        assert!(parts[1].starts_with("\r\nContent-Type: text/plain"));
        assert!(parts[2].starts_with("\r\nContent-Type: message/delivery-status\r\n\r\n"));
        for field in [
            "Reporting-MTA: dns; mta.a.example\r\n",
            "\r\n\r\nFinal-Recipient: rfc822; nobody@b.example\r\n",
            "Action: failed\r\n",
            "Status: 5.1.1\r\n",
            "Diagnostic-Code: smtp; 550 5.1.1 unknown mailbox\r\n",
        ] {
            assert!(parts[2].contains(field), "missing {field:?}");
        }
        assert!(parts[3].starts_with("\r\nContent-Type: text/rfc822-headers\r\n\r\n"));
        assert!(parts[3].contains("Subject: hi\r\n"));
        assert!(!text.contains("secret body"));
        assert_eq!(parts[4], "--\r\n");
    }

    #[test]
    fn synthetic_messages_have_the_asked_size_and_short_dotted_lines() {
        let mut rng = Streams::new(1).stream("synth");
        let to = ["bob@b.example", "carol@b.example"];
        for size in [600, 1000, 8192, 100_000] {
            let m = synthesize(
                "alice@a.example",
                &to,
                "Test",
                "m1@a.example",
                0,
                size,
                &mut rng,
            );
            assert_eq!(m.len(), size);
            assert!(m.ends_with(b"\r\n"));
            let body = &m[header_section(&m).len() + 2..];
            let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
            assert!(
                lines.iter().all(|l| l.len() <= 77),
                "a line is over 76 characters"
            );
            if size >= 8192 {
                assert!(lines.iter().any(|l| l.starts_with(b".")));
            }
            assert_eq!(normalize_line_endings(&m), m.to_vec(), "bare LF in output");
        }
    }

    #[test]
    fn synthetic_messages_carry_their_header_fields() {
        let mut rng = Streams::new(1).stream("synth");
        let m = synthesize(
            "a@x.org",
            &["b@y.org"],
            "Hi",
            "id1@x.org",
            0,
            2000,
            &mut rng,
        );
        assert_eq!(header_value(&m, "From").unwrap(), "<a@x.org>");
        assert_eq!(header_value(&m, "To").unwrap(), "<b@y.org>");
        assert_eq!(header_value(&m, "Subject").unwrap(), "Hi");
        assert_eq!(
            header_value(&m, "Date").unwrap(),
            "Thu, 01 Jan 1970 00:00:00 +0000"
        );
        assert_eq!(header_value(&m, "Message-ID").unwrap(), "<id1@x.org>");
        assert_eq!(header_value(&m, "MIME-Version").unwrap(), "1.0");
        assert!(
            header_value(&m, "Content-Type")
                .unwrap()
                .starts_with("text/plain")
        );
    }

    #[test]
    fn the_same_rng_state_gives_the_same_message() {
        let make = |seed| {
            let mut rng = Streams::new(seed).stream("synth");
            synthesize("a@x.org", &["b@y.org"], "Hi", "id", 0, 5000, &mut rng)
        };
        assert_eq!(make(3), make(3));
        assert_ne!(make(3), make(4));
    }
}
