//! The outbound queue: a destination MTA that is down at first gets its
//! mail once it comes back (queued, retried with back-off); one that never
//! comes back makes the sender's MTA bounce at the queue lifetime
//! (RFC 5321 section 4.5.4.1), with a DSN from the null reverse-path.

mod common;

use common::{fates_of, run, two_domains};
use mailsim::service::ledger::Fate;

const SEND: &str = r#"
[[send]]
at = "10s"
from = "alice@a.test"
to = ["bob@b.test"]
file = "messages/dots.eml"

[[fault]]
at = "1s"
host_down = "mx.b.test"
"#;

const COME_BACK: &str = r#"
[[fault]]
at = "20m"
host_up = "mx.b.test"
"#;

/// Retry after 5 min, doubling, at most 30 min; lifetime 1 day.
const MTA: &str = r#"retry = "5m", backoff = 2.0, retry_max = "30m", queue_lifetime = "1d""#;

#[test]
fn mail_for_a_down_mx_waits_in_the_queue() {
    let o = run(&two_domains("15m", "", MTA, SEND));
    assert_eq!(fates_of(&o, "bob@b.test"), vec![&Fate::Pending]);
    let b = o.world.ledger.balance(|m, a| o.world.holds(m, a));
    assert_eq!(
        (b.queued, b.lost),
        (1, 0),
        "the message is counted as queued, not lost"
    );
    assert_eq!(o.world.queued_messages(), 1);
}

#[test]
fn mail_for_a_down_mx_is_delivered_after_it_comes_back() {
    let o = run(&two_domains("1h", "", MTA, &format!("{SEND}{COME_BACK}")));
    assert_eq!(fates_of(&o, "bob@b.test"), vec![&Fate::Delivered]);
    let r = &o.world.ledger.msgs[0].rcpts[0];
    let delivered = r.delivered.unwrap().as_secs_f64();
    // Attempts: at 10 s (the SYNs time out), then 5 and 10 minutes after
    // each failure; the MX is back at 20 min, so the third attempt wins.
    assert!(delivered > 1200.0, "not before the MX is back: {delivered}");
    assert!(r.retries >= 2, "retried {} times", r.retries);
    assert_eq!(o.world.queued_messages(), 0);
}

#[test]
fn mail_for_an_mx_that_never_returns_bounces_at_the_queue_lifetime() {
    let mta = r#"retry = "5m", backoff = 1.0, retry_max = "5m", queue_lifetime = "1h""#;
    let o = run(&two_domains("3h", "", mta, SEND));
    let r = &o.world.ledger.msgs[0].rcpts[0];
    match &r.fate {
        Fate::Bounced(why) => assert!(why.contains("expired"), "{why}"),
        other => panic!("expected a bounce, got {other:?}"),
    }
    // The last attempt starts when the lifetime is up and fails once its
    // SYNs time out (about two minutes); then the bounce goes out.
    let accepted = o.world.ledger.msgs[0].accepted.unwrap().as_secs_f64();
    let bounced = r.settled.unwrap().as_secs_f64() - accepted;
    assert!(
        (3600.0..3600.0 + 130.0).contains(&bounced),
        "bounced after {bounced} s"
    );
    // About one attempt every 5 min plus the connect time-out.
    assert!((8..=13).contains(&r.retries), "retries {}", r.retries);
    assert_eq!(o.world.queued_messages(), 0);
    assert_eq!(o.world.stats.dsn_generated, 1);
    let alice = o.world.agent_of("alice@a.test").unwrap();
    let dsn: Vec<_> = o
        .world
        .fetches()
        .iter()
        .filter(|(a, _)| *a == alice)
        .collect();
    assert_eq!(dsn.len(), 1, "the DSN reaches the sender");
    let text = String::from_utf8_lossy(&dsn[0].1);
    assert!(text.starts_with("Return-Path: <>\r\n"));
    assert!(text.contains("Status: 4.4.7"), "{text}");
}

#[test]
fn a_bounce_that_cannot_be_delivered_is_dropped_not_bounced_again() {
    // a.test submits through smtp.a.test, which holds no mailboxes: the
    // DSN for alice must be relayed to mta.a.test. With both mta.a.test
    // and mx.b.test down for good, the message to bob expires, its DSN
    // expires too, and the DSN (null reverse-path) is dropped (RFC 5321
    // section 6.1), never bounced.
    let mta = r#"retry = "5m", backoff = 1.0, retry_max = "5m", queue_lifetime = "30m""#;
    let extra = format!(
        r#"{SEND}
[[host]]
name = "smtp.a.test"
attach = "r1"
services = ["mta"]
mta = {{ {mta} }}

[[fault]]
at = "2s"
host_down = "mta.a.test"
"#
    );
    let text = two_domains("3h", "", mta, &extra).replace(
        "users = [\"alice\", \"adam\"]",
        "users = [\"alice\", \"adam\"]\nsubmission = \"smtp.a.test\"\nstore = \"mta.a.test\"",
    );
    let o = run(&text);
    assert!(matches!(fates_of(&o, "bob@b.test")[..], [Fate::Bounced(_)]));
    assert_eq!(o.world.stats.dsn_generated, 1, "one DSN, for bob's message");
    assert_eq!(
        o.world.stats.double_bounces, 1,
        "its failure is dropped, not bounced"
    );
    assert_eq!(o.world.queued_messages(), 0);
}
