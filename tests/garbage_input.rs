//! Garbage typed at every service of a running network, the way a student
//! with `telnet` or a broken client would: each server answers with its
//! protocol's own error (SMTP 500/501, POP3 -ERR, IMAP BAD, DNS FORMERR),
//! nothing panics, and mail keeps flowing afterwards.
//!
//! The network is `tests/data/two_domains.toml`, built with
//! `experiment::build` and stepped by hand: its scripted send and faults
//! belong to the experiment driver and do not run here, so every message
//! in the ledger is one a test composed.

use std::net::Ipv4Addr;
use std::path::Path;

use bytes::Bytes;
use simple_dns::rdata::RData;
use simple_dns::{PacketFlag, RCODE};

use mailsim::scenario::{self, Scenario};
use mailsim::service::ledger::Fate;
use mailsim::service::{HostId, World};
use mailsim::sim::SimTime;

/// The client side: Alice's PC.
const PC: &str = "pc.a.example";

fn scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/two_domains.toml");
    match scenario::load(&path) {
        Ok(sc) => sc,
        Err(e) => panic!("{e}"),
    }
}

/// The network, one simulated second after it started.
fn world() -> World {
    let sc = scenario();
    let mut w = mailsim::experiment::build(&sc, sc.run.seed);
    settle(&mut w, 1);
    w
}

/// Runs the world `secs` simulated seconds on. Upper-layer events belong to
/// the experiment driver, which is absent here, so any would be skipped.
fn settle(w: &mut World, secs: u64) {
    let until = w.now() + SimTime::from_secs(secs);
    while w.step(until).is_some() {}
    w.sched.advance_to(until);
}

fn host(w: &World, name: &str) -> HostId {
    match w.host_named(name) {
        Some(h) => h,
        None => panic!("no host {name}"),
    }
}

fn addr(w: &World, name: &str) -> Ipv4Addr {
    w.hosts()[host(w, name)].addr
}

/// Types `bytes` at `name:port` from Alice's PC, waits ten seconds and
/// returns everything the server said.
fn telnet(w: &mut World, name: &str, port: u16, bytes: &[u8]) -> String {
    String::from_utf8_lossy(&telnet_raw(w, name, port, bytes)).into_owned()
}

/// [`telnet`], returning the server's octets as they came.
fn telnet_raw(w: &mut World, name: &str, port: u16, bytes: &[u8]) -> Vec<u8> {
    let (from, to) = (host(w, PC), addr(w, name));
    let id = w.probe_tcp(from, to, port, bytes);
    settle(w, 10);
    w.probe_log(id).to_vec()
}

/// Whether `bytes` are printable US-ASCII lines ended by CRLF: what SMTP,
/// POP3 and IMAP servers send back, whatever junk they were sent.
fn printable_lines(bytes: &[u8]) -> bool {
    let text_only = bytes
        .iter()
        .all(|&b| b == b'\r' || b == b'\n' || (0x20..0x7f).contains(&b));
    let crlf_only = bytes
        .iter()
        .enumerate()
        .all(|(i, &b)| b != b'\n' || (i > 0 && bytes[i - 1] == b'\r'));
    text_only && crlf_only && bytes.ends_with(b"\r\n")
}

/// The codes of the last line of every SMTP reply (RFC 5321 section
/// 4.2.1: "250-" continues a reply, "250 " ends it).
fn reply_codes(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.len() == 3 || l.as_bytes().get(3) == Some(&b' '))
        .map(|l| &l[..3])
        .collect()
}

/// Deterministic junk bytes (xorshift64), NULs and controls included.
fn junk(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A 5000-octet command line: ten times SMTP's 512 (RFC 5321 section
/// 4.5.3.1.4), far over POP3's 255 and any sane IMAP line.
fn long_line() -> Vec<u8> {
    let mut line = vec![b'A'; 5000];
    line.extend_from_slice(b"\r\n");
    line
}

#[test]
fn smtp_relay_answers_unknown_verbs_with_500_and_bad_arguments_with_501() {
    let mut w = world();
    let log = telnet(
        &mut w,
        "mx.b.example",
        25,
        b"XYZZY\r\nEHLO\r\nEHLO pc.a.example\r\nMAIL FROM:\r\nQUIT\r\n",
    );
    assert_eq!(
        reply_codes(&log),
        ["220", "500", "501", "250", "501", "221"],
        "{log}"
    );
    assert!(log.contains("500 5.5.1 Syntax error, command unrecognized\r\n"));
}

#[test]
fn smtp_submission_answers_garbage_the_same_way() {
    let mut w = world();
    let log = telnet(
        &mut w,
        "mx.a.example",
        587,
        b"HELLO there\r\nHELO\r\nNOOP\r\nQUIT\r\n",
    );
    assert_eq!(
        reply_codes(&log),
        ["220", "500", "501", "250", "221"],
        "{log}"
    );
}

#[test]
fn smtp_refuses_nul_bytes_and_a_5000_byte_line_and_keeps_the_session() {
    for (name, port) in [("mx.b.example", 25), ("mx.a.example", 587)] {
        let mut w = world();
        let mut input = b"\0\x01\x02\xff\r\n".to_vec();
        input.extend(long_line());
        input.extend_from_slice(b"NOOP\r\nQUIT\r\n");
        let log = telnet(&mut w, name, port, &input);
        assert_eq!(
            reply_codes(&log),
            ["220", "500", "500", "250", "221"],
            "{log}"
        );
        assert!(log.contains("500 5.5.2 Line too long\r\n"), "{log}");
    }
}

#[test]
fn pop3_answers_garbage_with_err() {
    let mut w = world();
    let mut input = b"FROB\r\n\0\0\0\r\nRETR\r\n".to_vec();
    input.extend(long_line());
    input.extend_from_slice(b"QUIT\r\n");
    let log = telnet(&mut w, "mx.a.example", 110, &input);
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].starts_with("+OK"), "{log}");
    assert_eq!(lines[1], "-ERR unknown command", "{log}");
    assert!(lines[2].starts_with("-ERR"), "{log}");
    assert_eq!(
        lines[3], "-ERR not in TRANSACTION state, log in first",
        "RETR before login (RFC 1939 section 4): {log}"
    );
    assert_eq!(lines[4], "-ERR line too long", "{log}");
    assert!(lines[5].starts_with("+OK"), "QUIT still works: {log}");
    assert_eq!(lines.len(), 6, "{log}");
}

#[test]
fn imap_answers_garbage_with_bad() {
    let mut input = b"FROB\r\na1 FROB\r\na2 LOGIN\r\n\0\0 \0\r\n".to_vec();
    input.extend(long_line());
    // Over the server's 64 KiB line limit.
    input.extend_from_slice(b"x1 ");
    input.extend(vec![b'B'; 70_000]);
    input.extend_from_slice(b"\r\na3 NOOP\r\na4 LOGOUT\r\n");
    let mut w = world();
    let log = telnet(&mut w, "mx.b.example", 143, &input);
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].starts_with("* OK"), "{log}");
    // RFC 9051 section 9: a tag is any ASTRING-CHAR but "+", so "FROB"
    // and 5000 A's are tags, followed by a missing space.
    assert_eq!(lines[1], "FROB BAD expected ' '", "{log}");
    assert_eq!(lines[2], "a1 BAD unknown command FROB", "{log}");
    assert!(lines[3].starts_with("a2 BAD"), "{log}");
    assert_eq!(lines[4], "* BAD missing or invalid tag", "NULs: {log}");
    assert_eq!(lines[5], format!("{} BAD expected ' '", "A".repeat(5000)));
    assert_eq!(lines[6], "x1 BAD command or literal too long", "{log}");
    assert_eq!(lines[7], "a3 OK NOOP completed", "the session survives");
    assert!(lines[8].starts_with("* BYE"), "{log}");
    assert_eq!(lines[9], "a4 OK LOGOUT completed", "{log}");
}

/// Junk cut into CRLF-ended lines of 0 to 99 octets, so that servers see
/// many complete (and nonsensical) commands.
fn junk_lines(len: usize, seed: u64) -> Vec<u8> {
    let bytes = junk(len, seed);
    let mut out = Vec::new();
    let mut rest = bytes.as_slice();
    while let Some((&cut, tail)) = rest.split_first() {
        let (line, tail) = tail.split_at(usize::from(cut % 100).min(tail.len()));
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        rest = tail;
    }
    out
}

#[test]
fn random_binary_junk_gets_only_well_formed_error_replies() {
    for seed in 1..=8u64 {
        let mut w = world();
        let bytes = junk_lines(3000, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for (name, port) in [
            ("mx.b.example", 25),
            ("mx.a.example", 587),
            ("mx.a.example", 110),
            ("mx.b.example", 143),
        ] {
            let raw = telnet_raw(&mut w, name, port, &bytes);
            let shown = String::from_utf8_lossy(&raw);
            assert!(printable_lines(&raw), "seed {seed}, port {port}: {shown:?}");
        }
        for (name, port) in [("mx.b.example", 25), ("mx.a.example", 587)] {
            let log = telnet(&mut w, name, port, &bytes);
            let codes = reply_codes(&log);
            assert_eq!(codes.first(), Some(&"220"), "{log}");
            // Section 4.1.4 and the server's limit of ten bad commands:
            // 500 or 501 (perhaps 503) replies, then 421 and the close.
            assert!(codes.len() > 5, "seed {seed}, port {port}: {log}");
            assert!(
                codes[1..].iter().all(|c| c.starts_with('5') || *c == "421"),
                "seed {seed}, port {port}: {log}"
            );
        }
        let log = telnet(&mut w, "mx.a.example", 110, &bytes);
        assert!(log.starts_with("+OK"), "{log}");
        assert!(log.lines().count() > 5, "seed {seed}: {log}");
        assert!(
            log.lines().skip(1).all(|l| l.starts_with("-ERR")),
            "seed {seed}: {log}"
        );
        let log = telnet(&mut w, "mx.b.example", 143, &bytes);
        assert!(log.starts_with("* OK"), "{log}");
        assert!(log.lines().count() > 5, "seed {seed}: {log}");
        assert!(
            log.lines().skip(1).all(|l| l.contains(" BAD ")),
            "seed {seed}: {log}"
        );
        // Nobody logged in, nothing was stored.
        assert_eq!(w.stats.untracked_accepted, 0);
    }
}

/// Sends one datagram to `ns.b.example:53` and returns the reply, if any.
fn dns(w: &mut World, query: &[u8]) -> Vec<u8> {
    let (from, to) = (host(w, PC), addr(w, "ns.b.example"));
    let id = w.probe_udp(from, to, 53, query);
    settle(w, 2);
    w.probe_log(id).to_vec()
}

/// A DNS header (RFC 1035 section 4.1.1): id, RD set, `qdcount` questions.
fn header(id: u16, qdcount: u16) -> Vec<u8> {
    let mut h = id.to_be_bytes().to_vec();
    h.extend_from_slice(&[0x01, 0x00]);
    h.extend_from_slice(&qdcount.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    h
}

/// A question (section 4.1.2): QNAME as labels, QTYPE, QCLASS IN.
fn question(name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::new();
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

/// Asserts that `reply` is a FORMERR response echoing `id`.
fn assert_formerr(reply: &[u8], id: u16) {
    let packet = match simple_dns::Packet::parse(reply) {
        Ok(p) => p,
        Err(e) => panic!("undecodable reply {reply:?}: {e}"),
    };
    assert_eq!(packet.id(), id);
    assert!(packet.has_flags(PacketFlag::RESPONSE));
    assert_eq!(packet.rcode(), RCODE::FormatError);
    assert_eq!(reply[3] & 0x0F, 1, "RCODE 1 on the wire");
}

#[test]
fn a_truncated_dns_question_gets_formerr_with_its_id() {
    let mut w = world();
    let mut query = header(0xBEEF, 1);
    query.extend_from_slice(b"\x07exa");
    assert_formerr(&dns(&mut w, &query), 0xBEEF);
}

#[test]
fn a_dns_query_with_junk_for_a_question_gets_formerr() {
    let mut w = world();
    let mut query = header(0x1234, 1);
    query.extend(junk(40, 99).iter().map(|b| b | 0xC0));
    assert_formerr(&dns(&mut w, &query), 0x1234);
    // RFC 9619: a query carries exactly one question.
    let mut two = header(0x4321, 2);
    two.extend(question("b.example", 15));
    two.extend(question("a.example", 15));
    assert_formerr(&dns(&mut w, &two), 0x4321);
}

#[test]
fn a_datagram_shorter_than_a_dns_header_is_dropped_silently() {
    let mut w = world();
    assert_eq!(dns(&mut w, b"\x12\x34\x01"), Vec::<u8>::new());
    assert_eq!(dns(&mut w, b""), Vec::<u8>::new());
}

#[test]
fn a_hand_made_mx_query_gets_noerror_and_the_mx() {
    let mut w = world();
    let mut query = header(0x0A0B, 1);
    query.extend(question("b.example", 15));
    // Before the MX query, garbage; the server must not be wedged by it.
    dns(&mut w, &junk(100, 5));
    let reply = dns(&mut w, &query);
    let packet = match simple_dns::Packet::parse(&reply) {
        Ok(p) => p,
        Err(e) => panic!("undecodable reply {reply:?}: {e}"),
    };
    assert_eq!(packet.id(), 0x0A0B);
    assert_eq!(packet.rcode(), RCODE::NoError);
    assert!(packet.has_flags(PacketFlag::AUTHORITATIVE_ANSWER));
    let mx: Vec<(u16, String)> = packet
        .answers
        .iter()
        .filter_map(|rr| match &rr.rdata {
            RData::MX(mx) => Some((mx.preference, mx.exchange.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(mx, [(10, "mx.b.example".to_string())]);
}

#[test]
fn a_proper_smtp_dialogue_typed_by_hand_lands_in_the_mailbox() {
    let mut w = world();
    let mx = host(&w, "mx.b.example");
    let typed = concat!(
        "EHLO pc.a.example\r\n",
        "MAIL FROM:<alice@a.example>\r\n",
        "RCPT TO:<bob@b.example>\r\n",
        "DATA\r\n",
        "From: alice@a.example\r\n",
        "To: bob@b.example\r\n",
        "Subject: typed by hand\r\n",
        "\r\n",
        "Hello Bob, over telnet.\r\n",
        "..a line that began with a dot\r\n",
        ".\r\n",
        "QUIT\r\n",
    );
    let log = telnet(&mut w, "mx.b.example", 25, typed.as_bytes());
    assert_eq!(
        reply_codes(&log),
        ["220", "250", "250", "250", "354", "250", "221"],
        "{log}"
    );
    let store = w.hosts()[mx].store.as_ref();
    let inbox = store.and_then(|s| s.folder("bob@b.example", "INBOX"));
    let messages = inbox.map(|f| f.messages.as_slice()).unwrap_or_default();
    assert_eq!(messages.len(), 1);
    let data = String::from_utf8_lossy(&messages[0].data);
    // The final MTA records the reverse-path, then its own trace field.
    assert!(
        data.starts_with("Return-Path: <alice@a.example>\r\nReceived: from pc.a.example"),
        "{data}"
    );
    assert!(data.contains("Subject: typed by hand\r\n"), "{data}");
    assert!(
        data.contains("\r\n.a line that began with a dot\r\n"),
        "{data}"
    );
    assert_eq!(w.stats.untracked_accepted, 1);
}

#[test]
fn an_mx_typed_at_refuses_to_relay_and_to_unknown_mailboxes() {
    let mut w = world();
    let typed = concat!(
        "EHLO pc.a.example\r\n",
        "MAIL FROM:<alice@a.example>\r\n",
        "RCPT TO:<someone@elsewhere.example>\r\n",
        "RCPT TO:<nobody@b.example>\r\n",
        "QUIT\r\n",
    );
    let log = telnet(&mut w, "mx.b.example", 25, typed.as_bytes());
    assert_eq!(
        reply_codes(&log),
        ["220", "250", "250", "554", "550", "221"],
        "{log}"
    );
}

#[test]
fn a_closed_port_answers_with_a_reset_and_nothing_else() {
    let mut w = world();
    let before = w.stats.tcp_resets;
    let log = telnet(&mut w, "mx.b.example", 8080, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(log, "");
    assert!(w.stats.tcp_resets > before, "{}", w.stats.tcp_resets);
    // A host with no services at all refuses port 25 the same way.
    let before = w.stats.tcp_resets;
    let log = telnet(&mut w, "pc.b.example", 25, b"EHLO x\r\n");
    assert_eq!(log, "");
    assert!(w.stats.tcp_resets > before);
    // And UDP to a port nobody listens on is counted, not answered.
    let before = w.stats.udp_unreachable;
    let (from, to) = (host(&w, PC), addr(&w, "mx.b.example"));
    let id = w.probe_udp(from, to, 53, &header(1, 1));
    settle(&mut w, 2);
    assert_eq!(w.probe_log(id), b"");
    assert_eq!(w.stats.udp_unreachable, before + 1);
}

#[test]
fn mail_is_still_delivered_after_garbage_at_every_port() {
    let mut w = world();
    let mut storm = junk_lines(2000, 42);
    storm.extend(long_line());
    for (name, port) in [
        ("mx.a.example", 587),
        ("mx.b.example", 25),
        ("mx.a.example", 110),
        ("mx.b.example", 143),
        ("mx.b.example", 8080),
    ] {
        telnet(&mut w, name, port, &storm);
    }
    dns(&mut w, &junk(300, 7));
    let mut truncated = header(7, 1);
    truncated.push(9);
    dns(&mut w, &truncated);

    let alice = match w.agent_of("alice@a.example") {
        Some(a) => a,
        None => panic!("no client for alice"),
    };
    let data = Bytes::from_static(
        concat!(
            "From: alice@a.example\r\n",
            "To: bob@b.example\r\n",
            "Subject: after the storm\r\n",
            "\r\n",
            "Still here.\r\n",
        )
        .as_bytes(),
    );
    let msg = w.compose(alice, vec!["bob@b.example".to_string()], data);
    settle(&mut w, 60);
    let record = &w.ledger.msgs[msg as usize];
    assert!(record.accepted.is_some());
    assert!(
        matches!(record.rcpts[0].fate, Fate::Delivered),
        "{:?}",
        record.rcpts[0].fate
    );
    let mx = host(&w, "mx.b.example");
    let inbox = w.hosts()[mx]
        .store
        .as_ref()
        .and_then(|s| s.folder("bob@b.example", "INBOX"));
    let subjects: Vec<bool> = inbox
        .map(|f| &f.messages)
        .into_iter()
        .flatten()
        .map(|m| String::from_utf8_lossy(&m.data).contains("Subject: after the storm"))
        .collect();
    assert_eq!(subjects, [true]);
}

#[test]
fn the_same_garbage_gives_the_same_run_twice() {
    let once = || {
        let mut w = world();
        let bytes = junk_lines(1500, 11);
        let logs: Vec<Vec<u8>> = [25, 587, 110, 143]
            .into_iter()
            .map(|port| {
                let name = if port == 587 || port == 110 {
                    "mx.a.example"
                } else {
                    "mx.b.example"
                };
                telnet_raw(&mut w, name, port, &bytes)
            })
            .collect();
        (logs, w.sched.events_run(), w.now())
    };
    assert_eq!(once(), once());
}
