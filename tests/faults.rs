//! The fault schedule end to end: partitions that heal, MTA crashes with a
//! queue on disk or in memory, TCP connections whose path fails (RTO
//! back-off, then abort) or whose peer restarts (RST), a router crash, and
//! a scenario with every fault kind run twice.

mod common;

use std::cell::RefCell;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::rc::Rc;

use common::{MTA, fates_of, run, two_domains};
use mailsim::experiment::{self, RunOutcome};
use mailsim::net::{DropReason, L4, TcpFlags};
use mailsim::scenario;
use mailsim::service::Transcript;
use mailsim::service::ledger::Fate;
use mailsim::sim::SimTime;

const SEND: &str = r#"
[[send]]
at = "10s"
from = "alice@a.test"
to = ["bob@b.test"]
file = "messages/dots.eml"
"#;

#[test]
fn mail_across_a_partition_waits_and_is_delivered_after_the_heal() {
    let extra = format!(
        r#"{SEND}
[[fault]]
at = "1s"
partition = [["r1", "mta.a.test", "pc.a.test"], ["r2", "r3", "mx.b.test", "pc.b.test"]]
heal = "20m"
"#
    );
    let o = run(&two_domains("2h", "", MTA, &extra));
    assert_eq!(fates_of(&o, "bob@b.test"), vec![&Fate::Delivered]);
    let r = &o.world.ledger.msgs[0].rcpts[0];
    let delivered = r.delivered.unwrap().as_secs_f64();
    assert!(delivered > 1201.0, "not before the heal: {delivered}");
    assert!(r.retries >= 1, "it waited in the queue");
    let b = o.world.ledger.balance(|m, a| o.world.holds(m, a));
    assert_eq!((b.delivered, b.dropped, b.bounced, b.lost), (1, 0, 0, 0));
}

/// mx.b.test is down, so alice's message waits in mta.a.test's queue;
/// mta.a.test crashes at 5 min and restarts at 6 min; mx.b.test is back
/// at 10 min.
fn crash_while_queued(queue: &str) -> RunOutcome {
    let mta = format!(r#"{MTA}, queue = "{queue}""#);
    let extra = format!(
        r#"{SEND}
[[fault]]
at = "1s"
crash = "mx.b.test"
[[fault]]
at = "5m"
crash = "mta.a.test"
[[fault]]
at = "6m"
restart = "mta.a.test"
[[fault]]
at = "10m"
restart = "mx.b.test"
"#
    );
    run(&two_domains("1h", "", &mta, &extra))
}

#[test]
fn a_queue_on_disk_survives_a_crash_and_delivers_after_the_restart() {
    let o = crash_while_queued("disk");
    assert_eq!(fates_of(&o, "bob@b.test"), vec![&Fate::Delivered]);
    let delivered = o.world.ledger.msgs[0].rcpts[0].delivered.unwrap();
    assert!(
        delivered > SimTime::from_secs(600),
        "after mx.b.test is back"
    );
    let b = o.world.ledger.balance(|m, a| o.world.holds(m, a));
    assert_eq!((b.delivered, b.dropped, b.lost), (1, 0, 0));
}

#[test]
fn a_queue_in_memory_is_lost_in_a_crash_and_counted_as_dropped() {
    let o = crash_while_queued("memory");
    let fates = fates_of(&o, "bob@b.test");
    assert_eq!(fates, vec![&Fate::Dropped("crash".into())]);
    assert_eq!((fates[0].label(), fates[0].reason()), ("dropped", "crash"));
    let settled = o.world.ledger.msgs[0].rcpts[0].settled.unwrap();
    assert_eq!(settled, SimTime::from_secs(300), "at the crash");
    let b = o.world.ledger.balance(|m, a| o.world.holds(m, a));
    assert_eq!(
        (b.submitted, b.delivered, b.dropped, b.queued, b.lost),
        (1, 0, 1, 0, 0)
    );
    assert_eq!(o.world.queued_messages(), 0);
}

/// A 2 MB message relayed over r2 - r3 made a 2 s satellite hop, so that
/// the DATA transfer lasts minutes and a fault at 100 s hits it mid-way.
struct BigRelay {
    outcome: RunOutcome,
    /// (time, TCP header, payload length) of every segment mta.a.test
    /// sent to mx.b.test port 25.
    segments: Vec<(SimTime, mailsim::net::TcpHeader, usize)>,
    /// The transcript's NOTE lines.
    notes: Vec<String>,
}

fn big_relay(faults: &str) -> BigRelay {
    big_relay_on(r#"delay = "2s""#, faults)
}

/// As [`big_relay`], with `link` the keys of the r2 - r3 change at 0 s.
fn big_relay_on(link: &str, faults: &str) -> BigRelay {
    let dir = scratch_dir(faults);
    let mut eml = b"From: alice@a.test\r\nTo: bob@b.test\r\nSubject: big\r\n\r\n".to_vec();
    while eml.len() < 2_000_000 {
        eml.extend_from_slice(&[b'x'; 76]);
        eml.extend_from_slice(b"\r\n");
    }
    std::fs::write(dir.join("big.eml"), eml).expect("write big.eml");
    let extra = format!(
        r#"
[[send]]
at = "10s"
from = "alice@a.test"
to = ["bob@b.test"]
file = "big.eml"

[[fault]]
at = "0s"
link_change = {{ link = ["r2", "r3"], {link} }}
{faults}
"#
    );
    let text = two_domains("1h", "", MTA, &extra);
    let sc = scenario::parse_str(&text, "big.toml", &dir).expect("scenario loads");
    let segments = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::new(RefCell::new(Vec::new()));
    let (seg, out) = (segments.clone(), log.clone());
    let outcome = experiment::run(&sc, None, move |w| {
        let (from, to) = (addr(w, "mta.a.test"), addr(w, "mx.b.test"));
        w.tap = Some(Box::new(move |t, p| {
            if let L4::Tcp(h) = p.l4
                && p.src == from
                && p.dst == to
                && h.dst_port == 25
            {
                seg.borrow_mut().push((t, h, p.payload.len()));
            }
        }));
        w.transcript = Transcript::to_writer(Box::new(Shared(out)));
    });
    let text = String::from_utf8(log.borrow().clone()).expect("utf-8 transcript");
    let notes = text
        .lines()
        .filter(|l| l.contains(" NOTE "))
        .map(str::to_string)
        .collect();
    let segments = segments.borrow().clone();
    let _ = std::fs::remove_dir_all(&dir);
    BigRelay {
        outcome,
        segments,
        notes,
    }
}

#[test]
fn a_connection_whose_link_fails_times_out_after_the_backed_off_retries() {
    let r = big_relay("[[fault]]\nat = \"100s\"\nlink_down = [\"r2\", \"r3\"]\n");
    let fail = SimTime::from_secs(100);
    let rst = r
        .segments
        .iter()
        .find(|(t, h, _)| *t > fail && h.flags.contains(TcpFlags::RST))
        .map(|(t, _, _)| *t)
        .expect("the aborting side sends a RST (RFC 9293 section 3.10.5)");
    let last = r
        .segments
        .iter()
        .rfind(|(t, _, n)| *t > fail && *t < rst && *n > 0)
        .expect("data was outstanding when the link failed");
    // Every resend after the failure is of the oldest unacknowledged
    // segment (one segment per time-out: the loss window is one SMSS).
    let resent: Vec<SimTime> = r
        .segments
        .iter()
        .filter(|(t, h, n)| *t > fail && *t < rst && *n > 0 && h.seq == last.1.seq)
        .map(|(t, _, _)| *t)
        .collect();
    // The last data_retries = 12 sends are retransmissions (RFC 1122
    // 4.2.3.5 R2: give up after a retry limit); the first may be the
    // original transmission if ACKs still in flight opened the window.
    assert!(
        resent.len() == 12 || resent.len() == 13,
        "{} sends of the head segment",
        resent.len()
    );
    let retx = &resent[resent.len() - 12..];
    // RFC 6298 5.5: each time-out doubles the RTO, up to the 60 s maximum
    // (5.6 then restarts the timer), so each gap is min(2 x previous, 60 s),
    // and the abort comes one more back-off after the last retransmission.
    let cap = SimTime::from_secs(60);
    let mut gaps: Vec<SimTime> = retx.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.push(rst - retx[11]);
    for w in gaps.windows(2) {
        assert_eq!(w[1], (w[0] + w[0]).min(cap), "gaps {gaps:?}");
    }
    assert_eq!(*gaps.last().unwrap(), cap, "the RTO reached its maximum");
    let secs = rst.to_string();
    let note = r
        .notes
        .iter()
        .find(|l| l.contains("timed out: no answer to retransmissions"))
        .expect("a NOTE line for the time-out");
    assert!(note.starts_with(&secs), "{note} at {secs}");
    assert_eq!(fates_of(&r.outcome, "bob@b.test"), vec![&Fate::Pending]);
    assert_eq!(
        r.outcome.world.queued_messages(),
        1,
        "deferred, still queued"
    );
}

#[test]
fn a_restarted_peer_answers_a_forgotten_connection_with_rst() {
    let r = big_relay(
        "[[fault]]\nat = \"100s\"\ncrash = \"mx.b.test\"\n\
         [[fault]]\nat = \"103s\"\nrestart = \"mx.b.test\"\n",
    );
    let restart = SimTime::from_secs(103);
    // One way from mta.a.test to mx.b.test: 1 ms + 5 ms + 2 s + 1 ms of
    // propagation. The first segment of the old connection that arrives
    // after the restart finds no connection there and is reset; the RST
    // reaches mta.a.test one round trip after that segment left.
    let one_way = SimTime::from_millis(2_007);
    let probe = r
        .segments
        .iter()
        .find(|(t, _, _)| *t > SimTime::from_secs(100) && *t + one_way >= restart)
        .map(|(t, _, _)| *t)
        .expect("a retransmission that arrives after the restart");
    let note = r
        .notes
        .iter()
        .find(|l| l.contains("was reset (RST)"))
        .expect("a NOTE line for the reset");
    let at: f64 = note.split(' ').next().unwrap().parse().unwrap();
    // Round trip: 2 x (1 ms + 5 ms + 2 s + 1 ms) of propagation, plus
    // serialisation of at most 1500 bytes on the 2 Mbit/s hop each way and
    // microseconds on the others.
    let rtt = at - probe.as_secs_f64();
    assert!(
        (4.014..4.030).contains(&rtt),
        "reset {rtt} s after the probe"
    );
    assert!(
        r.notes
            .iter()
            .any(|l| l.contains("mx.b.test: TCP segment from mta.a.test")
                && l.contains("answered with RST")),
        "the restarted host notes why it resets"
    );
    assert!(r.outcome.world.stats.tcp_resets >= 1);
    assert!(!r.notes.iter().any(|l| l.contains("timed out")));
    // The MTA defers and delivers on its next attempt.
    assert_eq!(fates_of(&r.outcome, "bob@b.test"), vec![&Fate::Delivered]);
}

#[test]
fn a_crashed_router_drops_its_buffered_packets_as_node_down() {
    // At 64 kbit/s and 10 ms the r2 - r3 hop holds under 100 bytes, so
    // nearly all of TCP's 65535-byte window (44 segments of 1460 bytes,
    // fewer than the 100-packet buffer) waits in r2's buffer.
    let r = big_relay_on(
        r#"bandwidth = "64kbps""#,
        "[[fault]]\nat = \"100s\"\ncrash = \"r2\"\n[[fault]]\nat = \"101s\"\nrestart = \"r2\"\n",
    );
    let net = &r.outcome.world.net;
    let node_down = net.drops().get(&DropReason::NodeDown).copied().unwrap_or(0);
    let note = r
        .notes
        .iter()
        .find(|l| l.contains("r2: router down (crash)"))
        .expect("a NOTE line for the router crash");
    let buffered: u64 = note
        .split("crash): ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("a count in the note");
    // Mid-transfer at 100 s: the window minus the packets on the lines.
    assert!((30..=44).contains(&buffered), "{note}");
    let r2 = net.node_named("r2").unwrap();
    let on_r2: u64 = net
        .channels()
        .iter()
        .filter(|c| c.from == r2)
        .map(|c| {
            c.stats
                .drops
                .get(&DropReason::NodeDown)
                .copied()
                .unwrap_or(0)
        })
        .sum();
    // Buffered packets, plus the one on each busy line of r2 and anything
    // reaching r2 during its second of downtime (charged to the links
    // into r2), make up the total.
    assert!(
        on_r2 >= buffered && on_r2 <= buffered + 2,
        "{on_r2} vs {buffered}"
    );
    assert!(node_down >= on_r2);
    let per_link: u64 = net
        .channels()
        .iter()
        .map(|c| {
            c.stats
                .drops
                .get(&DropReason::NodeDown)
                .copied()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(per_link, node_down, "every node_down drop is on some link");
    // TCP repairs the loss and the message gets through.
    assert_eq!(fates_of(&r.outcome, "bob@b.test"), vec![&Fate::Delivered]);
}

#[test]
fn every_fault_kind_twice_gives_byte_identical_outputs() {
    let path = common::data_dir().join("../../scenarios/faults.toml");
    let sc = scenario::load(&path).expect("scenarios/faults.toml loads");
    let kinds = |a: &scenario::FaultAction| std::mem::discriminant(a);
    let seen: std::collections::BTreeSet<String> = sc
        .faults
        .iter()
        .map(|f| format!("{:?}", kinds(&f.action)))
        .collect();
    assert!(seen.len() >= 8, "every kind of fault appears: {seen:?}");
    let once = |tag: &str| {
        let dir = scratch_dir(tag);
        let log = Rc::new(RefCell::new(Vec::new()));
        let out = log.clone();
        let o = experiment::run(&sc, None, move |w| {
            w.transcript = Transcript::to_writer(Box::new(Shared(out)));
        });
        mailsim::report::write_all(&o, "faults.toml", &dir).expect("outputs");
        let mut files = Vec::new();
        for name in ["summary.json", "messages.csv", "links.csv"] {
            files.push(std::fs::read(dir.join(name)).expect(name));
        }
        files.push(log.borrow().clone());
        let _ = std::fs::remove_dir_all(&dir);
        let b = o.world.ledger.balance(|m, a| o.world.holds(m, a));
        assert_eq!(b.lost, 0, "nothing lost");
        files
    };
    let (a, b) = (once("det-a"), once("det-b"));
    assert!(a[3].windows(5).any(|w| w == b" NOTE"), "transcript written");
    assert!(a == b, "two runs differ");
}

fn addr(w: &mailsim::service::World, name: &str) -> Ipv4Addr {
    let h = w.host_named(name).expect("host exists");
    w.hosts()[h].addr
}

fn scratch_dir(tag: &str) -> PathBuf {
    let hash = tag
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(b));
    let dir = std::env::temp_dir().join(format!("mailsim-faults-{}-{hash:x}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// A writer into a shared buffer, for reading the transcript back.
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
