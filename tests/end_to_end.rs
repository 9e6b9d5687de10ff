//! One email's whole path: client -> MSA -> DNS MX -> relay -> store ->
//! POP3 or IMAP client, on real bytes, and what arrives equals what was
//! sent apart from the trace fields MTAs add.

mod common;

use common::{MTA, fates_of, fixture_crlf, run, strip_trace, two_domains};
use mailsim::service::ledger::Fate;

fn send(at: &str, from: &str, to: &str) -> String {
    format!(
        r#"
[[send]]
at = "{at}"
from = "{from}"
to = ["{to}"]
file = "messages/dots.eml"
"#
    )
}

/// Messages fetched by the client of `user`.
fn fetched_by(o: &mailsim::experiment::RunOutcome, user: &str) -> Vec<Vec<u8>> {
    let agent = o.world.agent_of(user).expect("user has a client");
    o.world
        .fetches()
        .iter()
        .filter(|(a, _)| *a == agent)
        .map(|(_, d)| d.to_vec())
        .collect()
}

fn count_received(data: &[u8]) -> usize {
    data.split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"Received:"))
        .count()
}

#[test]
fn a_message_fetched_over_pop3_in_the_other_domain_equals_what_was_sent() {
    let o = run(&two_domains(
        "10m",
        "",
        MTA,
        &send("10s", "alice@a.test", "bob@b.test"),
    ));
    let got = fetched_by(&o, "bob@b.test");
    assert_eq!(got.len(), 1, "bob fetched exactly one message");
    assert_eq!(strip_trace(&got[0]), fixture_crlf("messages/dots.eml"));
    // Two MTAs on the way, each adds a Received field (RFC 5321 4.4).
    assert_eq!(count_received(&got[0]), 2);
    assert!(got[0].starts_with(b"Return-Path: <alice@a.test>\r\n"));
    assert_eq!(fates_of(&o, "bob@b.test"), vec![&Fate::Delivered]);
}

#[test]
fn a_message_fetched_over_imap_in_the_other_domain_equals_what_was_sent() {
    let o = run(&two_domains(
        "10m",
        "",
        MTA,
        &send("10s", "alice@a.test", "carol@b.test"),
    ));
    let got = fetched_by(&o, "carol@b.test");
    assert_eq!(got.len(), 1, "carol fetched exactly one message");
    assert_eq!(strip_trace(&got[0]), fixture_crlf("messages/dots.eml"));
    assert_eq!(count_received(&got[0]), 2);
}

#[test]
fn lines_that_begin_with_a_dot_arrive_unchanged() {
    let o = run(&two_domains(
        "10m",
        "",
        MTA,
        &send("10s", "adam@a.test", "bob@b.test"),
    ));
    let got = &fetched_by(&o, "bob@b.test")[0];
    let text = String::from_utf8_lossy(got);
    assert!(
        text.contains("\r\n.\r\n..\r\n.signature\r\n"),
        "dot lines intact: {text}"
    );
}

#[test]
fn mail_within_a_domain_is_delivered_locally_without_dns() {
    let o = run(&two_domains(
        "10m",
        "",
        MTA,
        &send("10s", "alice@a.test", "adam@a.test"),
    ));
    let got = fetched_by(&o, "adam@a.test");
    assert_eq!(got.len(), 1);
    assert_eq!(count_received(&got[0]), 1, "only the MSA handled it");
    assert_eq!(
        o.world.stats.dns_answered, 0,
        "local delivery needs no MX lookup"
    );
}

#[test]
fn each_hop_and_time_is_recorded_in_the_ledger() {
    let o = run(&two_domains(
        "10m",
        "",
        MTA,
        &send("10s", "alice@a.test", "bob@b.test"),
    ));
    let m = &o.world.ledger.msgs[0];
    let r = &m.rcpts[0];
    let (acc, del, fet) = (
        m.accepted.unwrap(),
        r.delivered.unwrap(),
        r.fetched.unwrap(),
    );
    assert!(m.created.as_secs_f64() == 10.0 && acc > m.created && del > acc && fet > del);
    assert_eq!(r.hops, 2);
    assert_eq!(r.retries, 0);
}

#[test]
fn a_domain_that_does_not_exist_bounces_at_once_with_a_dsn_to_the_sender() {
    let o = run(&two_domains(
        "10m",
        "",
        MTA,
        &send("10s", "alice@a.test", "x@nowhere.test"),
    ));
    match fates_of(&o, "x@nowhere.test")[..] {
        [Fate::Bounced(why)] => assert!(why.contains("NXDOMAIN"), "{why}"),
        ref other => panic!("expected one bounce, got {other:?}"),
    }
    // The DSN reaches alice's mailbox from the null reverse-path.
    let dsn = fetched_by(&o, "alice@a.test");
    assert_eq!(dsn.len(), 1);
    let text = String::from_utf8_lossy(&dsn[0]);
    assert!(text.starts_with("Return-Path: <>\r\n"), "{text}");
    assert!(text.contains("multipart/report"));
    assert!(text.contains("report-type=delivery-status"));
    assert!(text.contains("Final-Recipient: rfc822; x@nowhere.test"));
    assert!(text.contains("Status: 5.1.2"));
}

#[test]
fn an_unknown_mailbox_at_the_far_end_bounces_with_its_550() {
    let o = run(&two_domains(
        "10m",
        "",
        MTA,
        &send("10s", "alice@a.test", "zed@b.test"),
    ));
    match fates_of(&o, "zed@b.test")[..] {
        [Fate::Bounced(why)] => assert!(why.starts_with("550"), "{why}"),
        ref other => panic!("expected one bounce, got {other:?}"),
    }
    let dsn = &fetched_by(&o, "alice@a.test")[0];
    assert!(String::from_utf8_lossy(dsn).contains("Status: 5.1.1"));
}

/// Messages left in `user`'s INBOX on its store at the end.
fn left_on_server(o: &mailsim::experiment::RunOutcome, store: &str, user: &str) -> usize {
    let h = o.world.host_named(store).unwrap();
    let s = o.world.hosts()[h].store.as_ref().unwrap();
    s.folder(user, "INBOX")
        .map(|f| f.messages.len())
        .unwrap_or(0)
}

fn three_sends(to: &str) -> String {
    ["10s", "2m", "4m"]
        .iter()
        .map(|t| send(t, "alice@a.test", to))
        .collect()
}

#[test]
fn pop3_delete_mode_empties_the_mailbox_after_download() {
    let o = run(&two_domains("10m", "", MTA, &three_sends("bob@b.test")));
    assert_eq!(fetched_by(&o, "bob@b.test").len(), 3);
    assert_eq!(left_on_server(&o, "mx.b.test", "bob@b.test"), 0);
}

#[test]
fn pop3_keep_mode_leaves_mail_and_downloads_each_message_once() {
    let text = two_domains("10m", "", MTA, &three_sends("bob@b.test")).replace(
        "user = \"bob@b.test\"\nhost = \"pc.b.test\"\nfetch = { protocol = \"pop3\", every = \"1m\" }",
        "user = \"bob@b.test\"\nhost = \"pc.b.test\"\nfetch = { protocol = \"pop3\", every = \"1m\", keep = true }",
    );
    assert!(text.contains("keep = true"));
    let o = run(&text);
    // Ten polls, three messages: the UIDLs seen before are not fetched again.
    assert_eq!(fetched_by(&o, "bob@b.test").len(), 3);
    assert_eq!(left_on_server(&o, "mx.b.test", "bob@b.test"), 3);
}

#[test]
fn imap_on_two_devices_fetches_every_message_on_each_and_marks_it_seen() {
    let phone = r#"
[[client]]
user = "carol@b.test"
host = "pc.a.test"
fetch = { protocol = "imap", every = "90s" }
"#;
    let o = run(&two_domains(
        "10m",
        "",
        MTA,
        &format!("{}{phone}", three_sends("carol@b.test")),
    ));
    let agents: Vec<_> = o.world.fetches().iter().map(|(a, _)| *a).collect();
    let laptop = o.world.agent_of("carol@b.test").unwrap();
    let on_laptop = agents.iter().filter(|a| **a == laptop).count();
    let on_phone = agents.iter().filter(|a| **a != laptop).count();
    assert_eq!((on_laptop, on_phone), (3, 3), "each device has all three");
    let h = o.world.host_named("mx.b.test").unwrap();
    let inbox = o.world.hosts()[h]
        .store
        .as_ref()
        .unwrap()
        .folder("carol@b.test", "INBOX")
        .unwrap();
    assert_eq!(inbox.messages.len(), 3, "IMAP keeps mail on the server");
    assert!(
        inbox.messages.iter().all(|m| m.flags.seen),
        "and marks it \\Seen"
    );
}
