//! Session tests: RFC 5321 Appendix D replayed against the server and the
//! client, every error reply triggered by a real command, and a client and
//! server talking to each other.

use std::net::Ipv4Addr;

use bytes::Bytes;
use rand::Rng;

use super::*;
use crate::sim::Streams;

/// Refuses the listed recipients with the listed replies, accepts others.
#[derive(Default)]
struct Table(Vec<(&'static str, u16, &'static str)>);

impl Policy for Table {
    fn rcpt(&mut self, _mail_from: &str, rcpt: &str) -> RcptVerdict {
        match self.0.iter().find(|(r, _, _)| r.eq_ignore_ascii_case(rcpt)) {
            Some(&(_, code, text)) => RcptVerdict::Reject {
                code,
                text: text.into(),
            },
            None => RcptVerdict::Accept,
        }
    }
}

fn config(host: &str) -> ServerConfig {
    ServerConfig {
        hostname: host.into(),
        submission: false,
        max_message_size: 10_000,
        max_rcpts: 100,
    }
}

fn server(host: &str) -> SmtpServer {
    SmtpServer::new(config(host), Ipv4Addr::new(192, 0, 2, 7))
}

/// What the server did: its replies in order, the messages it handed
/// over, and whether it closed.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    replies: String,
    messages: Vec<Envelope>,
    closed: bool,
}

/// Drains the server, accepting each message with an empty queue id (so
/// the reply is the RFC's plain "250 OK").
fn drain(s: &mut SmtpServer, policy: &mut dyn Policy, seen: &mut Seen) {
    while let Some(out) = s.poll_output() {
        match out {
            ServerOutput::Reply(b) => seen.replies.push_str(std::str::from_utf8(&b).unwrap()),
            ServerOutput::Message(env) => {
                seen.messages.push(env);
                s.complete_message(Ok(String::new()), policy);
            }
            ServerOutput::Close => seen.closed = true,
        }
    }
}

/// Feeds `input` in one piece and returns everything the server did,
/// greeting included.
fn talk(s: &mut SmtpServer, policy: &mut dyn Policy, input: &[u8]) -> Seen {
    let mut seen = Seen::default();
    s.handle_input(input, policy);
    drain(s, policy, &mut seen);
    seen
}

/// The reply codes in a run of replies, one per final line.
fn codes(replies: &str) -> Vec<u16> {
    replies
        .split("\r\n")
        .filter(|l| l.len() >= 3 && l.as_bytes().get(3) != Some(&b'-'))
        .map(|l| l[..3].parse().unwrap())
        .collect()
}

/// Replays a transcript against a server: before each client line, the
/// server must have said exactly the `S:` lines since the last one.
fn replay_server(transcript: &str, s: &mut SmtpServer, policy: &mut dyn Policy) -> Seen {
    let mut seen = Seen::default();
    let mut expected = String::new();
    for line in transcript
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty())
    {
        if let Some(reply) = line.strip_prefix("S: ") {
            expected.push_str(reply);
            expected.push_str("\r\n");
            continue;
        }
        let command = line
            .strip_prefix("C: ")
            .or(line.strip_prefix("C:"))
            .unwrap();
        drain(s, policy, &mut seen);
        assert_eq!(seen.replies, expected, "before client line {command:?}");
        seen.replies.clear();
        expected.clear();
        s.handle_input(format!("{command}\r\n").as_bytes(), policy);
    }
    drain(s, policy, &mut seen);
    assert_eq!(seen.replies, expected, "at the end");
    seen
}

/// Replays a transcript against a client: fed the `S:` lines, it must send
/// exactly the `C:` lines.
fn replay_client(transcript: &str, c: &mut SmtpClient) -> Outcome {
    let (mut from_server, mut from_client) = (String::new(), String::new());
    let mut outcome = None;
    let mut check = |c: &mut SmtpClient, from_client: &mut String| {
        let (sent, done) = drain_client(c);
        assert_eq!(String::from_utf8(sent).unwrap(), *from_client);
        from_client.clear();
        if done.is_some() {
            outcome = done;
        }
    };
    for line in transcript
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty())
    {
        if let Some(reply) = line.strip_prefix("S: ") {
            if !from_client.is_empty() {
                check(c, &mut from_client);
            }
            from_server.push_str(&format!("{reply}\r\n"));
        } else {
            let command = line
                .strip_prefix("C: ")
                .or(line.strip_prefix("C:"))
                .unwrap();
            c.handle_input(from_server.as_bytes());
            from_server.clear();
            from_client.push_str(&format!("{command}\r\n"));
        }
    }
    c.handle_input(from_server.as_bytes());
    check(c, &mut from_client);
    outcome.expect("the client finished")
}

fn drain_client(c: &mut SmtpClient) -> (Vec<u8>, Option<Outcome>) {
    let (mut sent, mut done) = (Vec::new(), None);
    while let Some(out) = c.poll_output() {
        match out {
            ClientOutput::Send(b) => sent.extend_from_slice(&b),
            ClientOutput::Done(o) => done = Some(o),
        }
    }
    (sent, done)
}

/// Connects a client to a server and runs the session to its end.
fn run_pair(c: &mut SmtpClient, s: &mut SmtpServer, policy: &mut dyn Policy) -> (Outcome, Seen) {
    let mut seen = Seen::default();
    let mut outcome = None;
    for _ in 0..100 {
        let before = seen.replies.len();
        drain(s, policy, &mut seen);
        c.handle_input(&seen.replies.as_bytes()[before..]);
        let (sent, done) = drain_client(c);
        s.handle_input(&sent, policy);
        outcome = outcome.or(done);
        if outcome.is_some() && seen.closed {
            break;
        }
    }
    (outcome.expect("the session ended"), seen)
}

fn envelope(from: &str, rcpts: &[&str], data: &[u8]) -> Envelope {
    Envelope {
        mail_from: from.into(),
        rcpts: rcpts.iter().map(|r| r.to_string()).collect(),
        data: Bytes::copy_from_slice(data),
    }
}

fn delivered() -> RcptResult {
    RcptResult::Delivered
}

fn perm(code: u16, text: &str) -> RcptResult {
    RcptResult::PermFail {
        code,
        text: text.into(),
    }
}

fn temp(code: u16, text: &str) -> RcptResult {
    RcptResult::TempFail {
        code,
        text: text.into(),
    }
}

// RFC 5321 Appendix D.1, with our EHLO keywords in place of the RFC's
// DSN and HELP (which this server does not offer).
const D1_SERVER: &str = "
    S: 220 foo.com Simple Mail Transfer Service Ready
    C: EHLO bar.com
    S: 250-foo.com greets bar.com
    S: 250-8BITMIME
    S: 250-SIZE 10000
    S: 250 PIPELINING
    C: MAIL FROM:<Smith@bar.com>
    S: 250 OK
    C: RCPT TO:<Jones@foo.com>
    S: 250 OK
    C: RCPT TO:<Green@foo.com>
    S: 550 No such user here
    C: RCPT TO:<Brown@foo.com>
    S: 250 OK
    C: DATA
    S: 354 Start mail input; end with <CRLF>.<CRLF>
    C: Blah blah blah...
    C: ...etc. etc. etc.
    C: .
    S: 250 OK
    C: QUIT
    S: 221 foo.com Service closing transmission channel
";

// RFC 5321 Appendix D.1 verbatim.
const D1_RFC: &str = "
    S: 220 foo.com Simple Mail Transfer Service Ready
    C: EHLO bar.com
    S: 250-foo.com greets bar.com
    S: 250-8BITMIME
    S: 250-SIZE
    S: 250-DSN
    S: 250 HELP
    C: MAIL FROM:<Smith@bar.com>
    S: 250 OK
    C: RCPT TO:<Jones@foo.com>
    S: 250 OK
    C: RCPT TO:<Green@foo.com>
    S: 550 No such user here
    C: RCPT TO:<Brown@foo.com>
    S: 250 OK
    C: DATA
    S: 354 Start mail input; end with <CRLF>.<CRLF>
    C: Blah blah blah...
    C: ...etc. etc. etc.
    C: .
    S: 250 OK
    C: QUIT
    S: 221 foo.com Service closing transmission channel
";

/// The D.1 message as the server stores it: the second line was
/// dot-stuffed on the wire.
const D1_DATA: &[u8] = b"Blah blah blah...\r\n..etc. etc. etc.\r\n";

fn green_refused() -> Table {
    Table(vec![("Green@foo.com", 550, "No such user here")])
}

#[test]
fn rfc5321_d1_typical_transaction_replays_on_the_server() {
    let mut s = server("foo.com");
    let seen = replay_server(D1_SERVER, &mut s, &mut green_refused());
    assert_eq!(
        seen.messages,
        vec![envelope(
            "Smith@bar.com",
            &["Jones@foo.com", "Brown@foo.com"],
            D1_DATA
        )]
    );
    assert!(seen.closed);
    assert_eq!(s.helo_name(), Some("bar.com"));
}

#[test]
fn rfc5321_d1_typical_transaction_replays_on_the_client() {
    let env = envelope(
        "Smith@bar.com",
        &["Jones@foo.com", "Green@foo.com", "Brown@foo.com"],
        D1_DATA,
    );
    let mut c = SmtpClient::new("bar.com", env);
    let outcome = replay_client(D1_RFC, &mut c);
    assert_eq!(
        outcome.rcpts,
        vec![
            ("Jones@foo.com".to_string(), delivered()),
            ("Green@foo.com".to_string(), perm(550, "No such user here")),
            ("Brown@foo.com".to_string(), delivered()),
        ]
    );
}

const D3_MESSAGE: &str = "
    C: Date: Thu, 21 May 1998 05:33:29 -0700
    C: From: John Q. Public <JQP@bar.com>
    C: Subject: The Next Meeting of the Board
    C: To: Jones@xyz.com
    C:
    C: Bill:
    C: The next meeting of the board of directors will be
    C: on Tuesday.
    C: John.
    C: .
";

fn d3_data(prefix: &str) -> Vec<u8> {
    let mut data = prefix.as_bytes().to_vec();
    for line in D3_MESSAGE
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("C:"))
    {
        let text = line
            .strip_prefix("C: ")
            .or(line.strip_prefix("C:"))
            .unwrap();
        if text != "." {
            data.extend_from_slice(format!("{text}\r\n").as_bytes());
        }
    }
    data
}

#[test]
fn rfc5321_d3_relayed_mail_step_one_replays_on_the_server() {
    let transcript = format!(
        "S: 220 foo.com Simple Mail Transfer Service Ready
         C: EHLO bar.com
         S: 250-foo.com greets bar.com
         S: 250-8BITMIME
         S: 250-SIZE 10000
         S: 250 PIPELINING
         C: MAIL FROM:<JQP@bar.com>
         S: 250 OK
         C: RCPT TO:<Jones@XYZ.COM>
         S: 250 OK
         C: DATA
         S: 354 Start mail input; end with <CRLF>.<CRLF>
         {D3_MESSAGE}
         S: 250 OK
         C: QUIT
         S: 221 foo.com Service closing transmission channel"
    );
    let mut s = server("foo.com");
    let seen = replay_server(&transcript, &mut s, &mut Table::default());
    assert_eq!(
        seen.messages,
        vec![envelope("JQP@bar.com", &["Jones@XYZ.COM"], &d3_data(""))]
    );
}

#[test]
fn rfc5321_d3_relayed_mail_step_two_replays_on_the_client() {
    let received = "Received: from bar.com by foo.com ; Thu, 21 May 1998\r\n    05:33:29 -0700\r\n";
    let transcript = format!(
        "S: 220 xyz.com Simple Mail Transfer Service Ready
         C: EHLO foo.com
         S: 250 xyz.com is on the air
         C: MAIL FROM:<JQP@bar.com>
         S: 250 OK
         C: RCPT TO:<Jones@XYZ.COM>
         S: 250 OK
         C: DATA
         S: 354 Start mail input; end with <CRLF>.<CRLF>
         C: Received: from bar.com by foo.com ; Thu, 21 May 1998
         C:     05:33:29 -0700
         {D3_MESSAGE}
         S: 250 OK
         C: QUIT
         S: 221 foo.com Service closing transmission channel"
    );
    let env = envelope("JQP@bar.com", &["Jones@XYZ.COM"], &d3_data(received));
    let mut c = SmtpClient::new("foo.com", env);
    let outcome = replay_client(&transcript, &mut c);
    assert_eq!(
        outcome.rcpts,
        vec![("Jones@XYZ.COM".to_string(), delivered())]
    );
}

#[test]
fn byte_at_a_time_input_gives_the_same_session() {
    let session = b"EHLO bar.com\r\nMAIL FROM:<Smith@bar.com>\r\nRCPT TO:<Jones@foo.com>\r\n\
        RCPT TO:<Green@foo.com>\r\nDATA\r\nBlah\r\n..x\r\n.\r\nNOOP\r\nQUIT\r\n";
    let mut whole = server("foo.com");
    let expected = talk(&mut whole, &mut green_refused(), session);

    let mut bytewise = server("foo.com");
    let mut seen = Seen::default();
    let mut policy = green_refused();
    for &b in session.iter() {
        bytewise.handle_input(&[b], &mut policy);
        drain(&mut bytewise, &mut policy, &mut seen);
    }
    assert_eq!(seen, expected);
    assert_eq!(
        codes(&seen.replies),
        vec![220, 250, 250, 250, 550, 354, 250, 250, 221]
    );
    assert_eq!(&seen.messages[0].data[..], b"Blah\r\n.x\r\n");
}

/// Opens a session and says EHLO; returns the server ready for commands.
fn greeted() -> SmtpServer {
    let mut s = server("foo.com");
    talk(&mut s, &mut Table::default(), b"EHLO bar.com\r\n");
    s
}

/// The reply codes the server gives to `input` after EHLO.
fn codes_after_ehlo(input: &str, policy: &mut dyn Policy) -> Vec<u16> {
    let mut s = greeted();
    codes(&talk(&mut s, policy, input.as_bytes()).replies)
}

#[test]
fn unknown_commands_and_overlong_lines_get_500() {
    let mut s = server("foo.com");
    let seen = talk(&mut s, &mut Table::default(), b"FOO bar\r\nNOOP\n");
    assert_eq!(codes(&seen.replies), vec![220, 500, 500]);
    assert!(seen.replies.contains("500 5.5.2 Bare LF"));

    // Section 4.5.3.1.6: 1000 octets with CRLF is the most that is taken.
    let at_limit = format!("NOOP {}\r\n", "x".repeat(1000 - 7));
    let over = format!("NOOP {}\r\n", "x".repeat(1000 - 6));
    let seen = talk(
        &mut s,
        &mut Table::default(),
        format!("{at_limit}{over}NOOP\r\n").as_bytes(),
    );
    assert_eq!(
        seen.replies,
        "250 OK\r\n500 5.5.2 Line too long\r\n250 OK\r\n"
    );
}

#[test]
fn bad_arguments_get_501() {
    let input = "HELO\r\nMAIL FROM:bob@x.org\r\nMAIL FROM:<a@b.org> SIZE=abc\r\nDATA x\r\n";
    assert_eq!(
        codes_after_ehlo(input, &mut Table::default()),
        vec![501, 501, 501, 501]
    );
    let long = format!("MAIL FROM:<{}@{}.org>\r\n", "a".repeat(60), "b".repeat(200));
    assert_eq!(codes_after_ehlo(&long, &mut Table::default()), vec![501]);
}

#[test]
fn commands_out_of_order_get_503() {
    let mut s = server("foo.com");
    let seen = talk(&mut s, &mut Table::default(), b"MAIL FROM:<a@b.org>\r\n");
    assert_eq!(codes(&seen.replies), vec![220, 503], "MAIL before EHLO");
    let input = "RCPT TO:<a@b.org>\r\nDATA\r\nMAIL FROM:<a@b.org>\r\nDATA\r\n\
        MAIL FROM:<a@b.org>\r\n";
    // RCPT before MAIL, DATA before MAIL, MAIL ok, DATA before RCPT, nested MAIL.
    assert_eq!(
        codes_after_ehlo(input, &mut Table::default()),
        vec![503, 503, 250, 503, 503]
    );
}

#[test]
fn policy_refusals_pass_through_with_their_code() {
    let mut policy = Table(vec![
        ("x@foo.com", 550, "5.1.1 unknown mailbox"),
        (
            "y@foo.com",
            551,
            "5.1.6 User not local; please try <y@new.example>",
        ),
        ("z@foo.com", 553, "5.1.3 mailbox name not allowed"),
        ("r@elsewhere.example", 554, "5.7.1 Relay access denied"),
        ("t@foo.com", 451, "4.3.0 try later"),
    ]);
    let input = "MAIL FROM:<a@b.org>\r\nRCPT TO:<x@foo.com>\r\nRCPT TO:<y@foo.com>\r\n\
        RCPT TO:<z@foo.com>\r\nRCPT TO:<r@elsewhere.example>\r\nRCPT TO:<t@foo.com>\r\n";
    let mut s = greeted();
    let seen = talk(&mut s, &mut policy, input.as_bytes());
    assert_eq!(codes(&seen.replies), vec![250, 550, 551, 553, 554, 451]);
    assert!(
        seen.replies
            .contains("551 5.1.6 User not local; please try <y@new.example>\r\n")
    );
}

#[test]
fn a_malformed_mailbox_gets_553() {
    let input = "MAIL FROM:<a@b.org>\r\nRCPT TO:<no-domain>\r\nRCPT TO:<a@-bad-.org>\r\n";
    assert_eq!(
        codes_after_ehlo(input, &mut Table::default()),
        vec![250, 553, 553]
    );
}

#[test]
fn data_when_every_recipient_was_refused_gets_554() {
    let input = "MAIL FROM:<a@b.org>\r\nRCPT TO:<Green@foo.com>\r\nDATA\r\n";
    assert_eq!(
        codes_after_ehlo(input, &mut green_refused()),
        vec![250, 550, 554]
    );
}

#[test]
fn sizes_over_the_limit_get_552() {
    let input = "MAIL FROM:<a@b.org> SIZE=10001\r\nMAIL FROM:<a@b.org> SIZE=10000\r\n";
    assert_eq!(
        codes_after_ehlo(input, &mut Table::default()),
        vec![552, 250]
    );

    let big = format!("{}\r\n", "x".repeat(98)).repeat(101);
    let input = format!("RCPT TO:<c@d.org>\r\nDATA\r\n{big}.\r\nRSET\r\n");
    let mut s = greeted();
    let mut policy = Table::default();
    talk(&mut s, &mut policy, b"MAIL FROM:<a@b.org>\r\n");
    let seen = talk(&mut s, &mut policy, input.as_bytes());
    assert_eq!(codes(&seen.replies), vec![250, 354, 552, 250]);
    assert!(seen.messages.is_empty());
}

#[test]
fn too_many_recipients_get_452_and_unknown_parameters_555() {
    let mut s = SmtpServer::new(
        ServerConfig {
            max_rcpts: 2,
            ..config("foo.com")
        },
        Ipv4Addr::LOCALHOST,
    );
    let input = "EHLO a.org\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<1@d.org>\r\nRCPT TO:<2@d.org>\r\n\
        RCPT TO:<3@d.org>\r\nRCPT TO:<4@d.org> NOTIFY=NEVER\r\nMAIL FROM:<a@b.org> RET=HDRS\r\n";
    let seen = talk(&mut s, &mut Table::default(), input.as_bytes());
    assert_eq!(
        codes(&seen.replies),
        vec![220, 250, 250, 250, 250, 452, 555, 503]
    );
}

#[test]
fn a_long_data_line_is_refused_at_the_end_of_data() {
    let input = format!(
        "MAIL FROM:<a@b.org>\r\nRCPT TO:<c@d.org>\r\nDATA\r\nok\r\n{}\r\n.\r\nNOOP\r\n",
        "y".repeat(1500)
    );
    let mut s = greeted();
    let seen = talk(&mut s, &mut Table::default(), input.as_bytes());
    assert_eq!(codes(&seen.replies), vec![250, 250, 354, 500, 250]);
    assert!(seen.messages.is_empty());
}

#[test]
fn simple_commands_answer_per_rfc() {
    let input = "NOOP\r\nVRFY bob\r\nEXPN list\r\nHELP\r\nRSET\r\nQUIT\r\nNOOP\r\n";
    let mut s = greeted();
    let seen = talk(&mut s, &mut Table::default(), input.as_bytes());
    assert_eq!(codes(&seen.replies), vec![250, 252, 502, 214, 250, 221]);
    assert!(seen.closed);
    // After QUIT nothing more is read.
    assert_eq!(
        talk(&mut s, &mut Table::default(), b"NOOP\r\n"),
        Seen::default()
    );
}

#[test]
fn ehlo_and_rset_end_the_transaction() {
    let input = "MAIL FROM:<a@b.org>\r\nEHLO again.org\r\nRCPT TO:<c@d.org>\r\n\
        MAIL FROM:<a@b.org>\r\nRSET\r\nRCPT TO:<c@d.org>\r\n";
    let mut s = greeted();
    let seen = talk(&mut s, &mut Table::default(), input.as_bytes());
    assert_eq!(codes(&seen.replies), vec![250, 250, 503, 250, 250, 503]);
    assert_eq!(s.helo_name(), Some("again.org"));
}

#[test]
fn helo_gives_a_one_line_reply() {
    let mut s = server("foo.com");
    let seen = talk(&mut s, &mut Table::default(), b"helo bar.com\r\n");
    assert_eq!(
        seen.replies,
        "220 foo.com Simple Mail Transfer Service Ready\r\n250 foo.com\r\n"
    );
}

#[test]
fn a_space_after_the_colon_and_odd_case_are_tolerated() {
    let input = "mail from: <a@b.org>\r\nrcpt To: <c@d.org>\r\n";
    assert_eq!(
        codes_after_ehlo(input, &mut Table::default()),
        vec![250, 250]
    );
}

#[test]
fn bare_lf_inside_data_does_not_end_the_message() {
    let input = "MAIL FROM:<>\r\nRCPT TO:<c@d.org>\r\nDATA\r\na\n.\nb\r\n.\r\n";
    let mut s = greeted();
    let seen = talk(&mut s, &mut Table::default(), input.as_bytes());
    assert_eq!(codes(&seen.replies), vec![250, 250, 354, 250]);
    assert_eq!(seen.messages[0].mail_from, "");
    assert_eq!(&seen.messages[0].data[..], b"a\n.\nb\r\n");
}

#[test]
fn the_caller_decides_the_reply_to_the_data() {
    let mut s = greeted();
    let mut policy = Table::default();
    s.handle_input(
        b"MAIL FROM:<a@b.org>\r\nRCPT TO:<c@d.org>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n",
        &mut policy,
    );
    let mut replies = String::new();
    while let Some(out) = s.poll_output() {
        match out {
            ServerOutput::Reply(b) => replies.push_str(std::str::from_utf8(&b).unwrap()),
            other => assert!(matches!(other, ServerOutput::Message(_))),
        }
    }
    // The pipelined NOOP waits for the verdict on the message.
    assert_eq!(codes(&replies), vec![250, 250, 354]);
    s.complete_message(Err((451, "4.3.0 queue full".into())), &mut policy);
    let seen = talk(&mut s, &mut policy, b"");
    assert_eq!(seen.replies, "451 4.3.0 queue full\r\n250 OK\r\n");
    s.handle_input(
        b"MAIL FROM:<a@b.org>\r\nRCPT TO:<c@d.org>\r\nDATA\r\nx\r\n.\r\n",
        &mut policy,
    );
    while s.poll_output().is_some() {}
    s.complete_message(Ok("Q7".into()), &mut policy);
    assert_eq!(
        talk(&mut s, &mut policy, b"").replies,
        "250 OK queued as Q7\r\n"
    );
}

#[test]
fn ten_bad_commands_end_the_session_with_421() {
    let mut s = server("foo.com");
    let seen = talk(
        &mut s,
        &mut Table::default(),
        "BAD\r\n".repeat(12).as_bytes(),
    );
    let mut expected = vec![220];
    expected.extend([500; 9]);
    expected.push(421);
    assert_eq!(codes(&seen.replies), expected);
    assert!(seen.closed);
}

#[test]
fn garbage_gets_error_replies_and_never_a_panic() {
    let mut rng = Streams::new(5).stream("smtp/garbage");
    for round in 0..50 {
        let mut s = server("foo.com");
        let mut policy = Table::default();
        let mut garbage: Vec<u8> = (0..3000).map(|_| rng.next_u64() as u8).collect();
        garbage[round] = 0;
        // Feed in random chunk sizes.
        let mut seen = Seen::default();
        let mut rest = &garbage[..];
        while !rest.is_empty() {
            let n = (1 + rng.next_u64() % 64) as usize;
            let (chunk, tail) = rest.split_at(n.min(rest.len()));
            s.handle_input(chunk, &mut policy);
            drain(&mut s, &mut policy, &mut seen);
            rest = tail;
        }
        for code in codes(&seen.replies).into_iter().skip(1) {
            assert!([500, 501, 421].contains(&code), "unexpected {code}");
        }
    }

    let mut s = server("foo.com");
    let mut input = vec![b'A'; 5000];
    input.extend_from_slice(b"\r\n\0\0\0\r\nNOOP\r\n");
    let seen = talk(&mut s, &mut Table::default(), &input);
    assert_eq!(codes(&seen.replies), vec![220, 500, 500, 250]);
}

#[test]
fn the_client_falls_back_to_helo() {
    for refusal in [
        "500 Command unrecognized",
        "502 Not implemented",
        "504 Not implemented",
    ] {
        let mut c = SmtpClient::new("bar.com", envelope("a@bar.com", &["b@foo.com"], b"hi\r\n"));
        let transcript = format!(
            "S: 220 foo.com ready
             C: EHLO bar.com
             S: {refusal}
             C: HELO bar.com
             S: 250 foo.com
             C: MAIL FROM:<a@bar.com>
             S: 250 OK
             C: RCPT TO:<b@foo.com>
             S: 250 OK
             C: DATA
             S: 354 go ahead
             C: hi
             C: .
             S: 250 OK
             C: QUIT"
        );
        let outcome = replay_client(&transcript, &mut c);
        assert_eq!(outcome.rcpts, vec![("b@foo.com".to_string(), delivered())]);
    }
}

#[test]
fn the_client_reports_mixed_recipient_outcomes() {
    let rcpts = [
        "ok@foo.com",
        "later@foo.com",
        "gone@foo.com",
        "full@foo.com",
        "fwd@foo.com",
    ];
    let mut c = SmtpClient::new("bar.com", envelope("a@bar.com", &rcpts, b"x\r\n"));
    let transcript = "
        S: 220 foo.com ready
        C: EHLO bar.com
        S: 250-foo.com
        S: 250 8BITMIME
        C: MAIL FROM:<a@bar.com>
        S: 250 OK
        C: RCPT TO:<ok@foo.com>
        S: 250 OK
        C: RCPT TO:<later@foo.com>
        S: 450 4.2.1 mailbox busy
        C: RCPT TO:<gone@foo.com>
        S: 550 5.1.1 unknown mailbox
        C: RCPT TO:<full@foo.com>
        S: 552 too many recipients
        C: RCPT TO:<fwd@foo.com>
        S: 251 User not local; will forward
        C: DATA
        S: 354 go ahead
        C: x
        C: .
        S: 250 OK
        C: QUIT";
    let outcome = replay_client(transcript, &mut c);
    let results: Vec<RcptResult> = outcome.rcpts.into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        results,
        vec![
            delivered(),
            temp(450, "4.2.1 mailbox busy"),
            perm(550, "5.1.1 unknown mailbox"),
            temp(552, "too many recipients"),
            delivered(),
        ]
    );
}

#[test]
fn the_client_skips_data_when_no_recipient_was_accepted() {
    let mut c = SmtpClient::new("bar.com", envelope("a@bar.com", &["x@foo.com"], b"x\r\n"));
    let transcript = "
        S: 220 foo.com ready
        C: EHLO bar.com
        S: 250 foo.com
        C: MAIL FROM:<a@bar.com>
        S: 250 OK
        C: RCPT TO:<x@foo.com>
        S: 550 5.7.1 relaying denied
        C: QUIT";
    let outcome = replay_client(transcript, &mut c);
    assert_eq!(outcome.rcpts[0].1, perm(550, "5.7.1 relaying denied"));
}

#[test]
fn greeting_mail_and_data_failures_fail_recipients_by_class() {
    let cases = [
        (
            "S: 554 no service here\nC: QUIT",
            perm(554, "no service here"),
        ),
        ("S: 421 busy", temp(421, "busy")),
        (
            "S: 220 ok\nC: EHLO h\nS: 550 go away\nC: QUIT",
            perm(550, "go away"),
        ),
        (
            "S: 220 ok\nC: EHLO h\nS: 250 ok\nC: MAIL FROM:<a@h.org>\nS: 451 later\nC: QUIT",
            temp(451, "later"),
        ),
        (
            "S: 220 ok\nC: EHLO h\nS: 250 ok\nC: MAIL FROM:<a@h.org>\nS: 553 bad sender\nC: QUIT",
            perm(553, "bad sender"),
        ),
    ];
    for (transcript, expected) in cases {
        let mut c = SmtpClient::new("h", envelope("a@h.org", &["b@x.org", "c@x.org"], b"x\r\n"));
        let outcome = replay_client(transcript, &mut c);
        assert_eq!(outcome.rcpts[0].1, expected, "{transcript}");
        assert_eq!(outcome.rcpts[1].1, expected, "{transcript}");
    }
    let data_cases = [
        ("S: 451 4.3.0 no room", temp(451, "4.3.0 no room")),
        (
            "S: 354 go\nC: x\nC: .\nS: 554 5.6.0 rejected",
            perm(554, "5.6.0 rejected"),
        ),
        (
            "S: 354 go\nC: x\nC: .\nS: 452 4.3.1 full",
            temp(452, "4.3.1 full"),
        ),
    ];
    for (tail, expected) in data_cases {
        let transcript = format!(
            "S: 220 ok\nC: EHLO h\nS: 250 ok\nC: MAIL FROM:<a@h.org>\nS: 250 ok\n\
             C: RCPT TO:<b@x.org>\nS: 250 ok\nC: DATA\n{tail}\nC: QUIT"
        );
        let mut c = SmtpClient::new("h", envelope("a@h.org", &["b@x.org"], b"x\r\n"));
        assert_eq!(
            replay_client(&transcript, &mut c).rcpts[0].1,
            expected,
            "{tail}"
        );
    }
}

#[test]
fn a_lost_connection_leaves_unresolved_recipients_temporary() {
    let mut c = SmtpClient::new(
        "h",
        envelope("a@h.org", &["b@x.org", "c@x.org", "d@x.org"], b"x\r\n"),
    );
    c.handle_input(b"220 ok\r\n250 ok\r\n250 ok\r\n550 no\r\n");
    // Halfway through the second reply.
    c.handle_input(b"250-o");
    c.connection_lost();
    let (sent, done) = drain_client(&mut c);
    assert!(
        String::from_utf8(sent)
            .unwrap()
            .ends_with("RCPT TO:<c@x.org>\r\n")
    );
    let results: Vec<RcptResult> = done.unwrap().rcpts.into_iter().map(|(_, r)| r).collect();
    let lost = temp(421, "4.4.2 Connection lost");
    assert_eq!(results, vec![perm(550, "no"), lost.clone(), lost]);
    c.connection_lost();
    assert_eq!(c.poll_output(), None, "Done comes once");
}

#[test]
fn a_malformed_reply_fails_the_session_temporarily() {
    let mut c = SmtpClient::new("h", envelope("a@h.org", &["b@x.org"], b"x\r\n"));
    c.handle_input(b"220 ok\r\nHTTP/1.1 400 Bad Request\r\n");
    let (sent, done) = drain_client(&mut c);
    assert_eq!(sent, b"EHLO h\r\nQUIT\r\n");
    assert!(matches!(
        done.unwrap().rcpts[0].1,
        RcptResult::TempFail { code: 421, .. }
    ));
}

#[test]
fn dot_stuffing_doubles_leading_dots_and_terminates() {
    assert_eq!(
        dot_stuff(b".\r\n..\r\n.x\r\nx.\r\n"),
        b"..\r\n...\r\n..x\r\nx.\r\n.\r\n"
    );
    assert_eq!(
        dot_stuff(b"no final line end"),
        b"no final line end\r\n.\r\n"
    );
    assert_eq!(dot_stuff(b"bare\n.lf\n"), b"bare\r\n..lf\r\n.\r\n");
    assert_eq!(dot_stuff(b""), b".\r\n");
}

#[test]
fn dot_stuffing_matches_the_byte_by_byte_rule() {
    // Section 4.5.2 stated plainly, one byte at a time, on every string of
    // up to 6 of these bytes (line ends normalised first, as dot_stuff does).
    let by_byte = |data: &[u8]| {
        let data = crate::proto::message::normalize_line_endings(data);
        let mut out = Vec::new();
        let mut line_start = true;
        for &b in &data {
            if line_start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            line_start = b == b'\n';
        }
        if !data.is_empty() && !data.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        out
    };
    let alphabet = [b'a', b'\r', b'\n', b'.'];
    for len in 0..=6u32 {
        for code in 0..4usize.pow(len) {
            let data: Vec<u8> = (0..len)
                .map(|k| alphabet[code / 4usize.pow(k) % 4])
                .collect();
            assert_eq!(dot_stuff(&data), by_byte(&data), "{data:?}");
        }
    }
}

#[test]
fn dotted_lines_survive_client_to_server_byte_identical() {
    let data = b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n...\r\nend.\r\n.\r\n";
    let env = envelope("a@bar.com", &["b@foo.com"], data);
    let mut c = SmtpClient::new("bar.com", env.clone());
    let mut s = server("foo.com");
    let (outcome, seen) = run_pair(&mut c, &mut s, &mut Table::default());
    assert_eq!(outcome.rcpts, vec![("b@foo.com".to_string(), delivered())]);
    assert_eq!(seen.messages, vec![env]);
}

#[test]
fn a_synthetic_message_crosses_a_client_server_pair_unchanged() {
    let mut rng = Streams::new(9).stream("synth");
    let data = crate::proto::message::synthesize(
        "a@bar.com",
        &["b@foo.com"],
        "S",
        "m@bar.com",
        0,
        9000,
        &mut rng,
    );
    let env = envelope("a@bar.com", &["b@foo.com", "Green@foo.com"], &data);
    let mut c = SmtpClient::new("bar.com", env);
    let mut s = server("foo.com");
    let (outcome, seen) = run_pair(&mut c, &mut s, &mut green_refused());
    assert_eq!(outcome.rcpts[0].1, delivered());
    assert_eq!(outcome.rcpts[1].1, perm(550, "No such user here"));
    assert_eq!(seen.messages[0].data, data);
    assert_eq!(seen.messages[0].rcpts, vec!["b@foo.com".to_string()]);
}
