//! The output files of one run of `scenarios/quickstart.toml` hold what
//! the README promises, and the mailboxes are readable by a real mail
//! tool: Python's standard `mailbox` and `email` packages.
//!
//! The scenario is run once (seed 1, the scenario's own) and every test
//! reads the same output folder. The expected values come from the
//! scenario text and the specifications, not from a previous run: the two
//! undeliverable recipients are the ones the scenario names, IMAP fetches
//! set `\Seen` (RFC 3501 section 6.4.5), POP3 without `keep` deletes what
//! it downloads (RFC 1939 section 6), and Maildir keeps seen messages in
//! `cur/` with an `S` in the info suffix.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mailsim::scenario::{self, FetchProtocol, Scenario};
use mailsim::service::Transcript;
use serde_json::Value;

/// The two recipients of alice's scripted message that cannot exist: a
/// mailbox b.example does not have, and a domain with no DNS zone.
const NO_MAILBOX: &str = "nobody@b.example";
const NO_DOMAIN: &str = "someone@no-such-domain.example";

/// The columns of messages.csv, in the order the README lists them.
const MESSAGES_HEADER: [&str; 12] = [
    "id",
    "sender",
    "recipient",
    "size_bytes",
    "submitted_s",
    "accepted_s",
    "delivered_s",
    "first_fetched_s",
    "hops",
    "retries",
    "outcome",
    "reason",
];

/// The outcomes of the README's message balance.
const OUTCOMES: [&str; 5] = ["delivered", "bounced", "queued", "dropped", "lost"];

/// What the shared run left behind, read into memory so that the output
/// folder can be removed at once.
struct Run {
    scenario: Scenario,
    /// summary.json, messages.csv, links.csv and transcript.txt.
    files: BTreeMap<&'static str, String>,
    /// Files under new/ and cur/ per (account, folder), INBOX first.
    maildir_files: BTreeMap<(String, String), usize>,
    /// Python's view of the Maildir tree, and (under "extra") of the
    /// messages alice's client downloaded: her POP3 client deletes them
    /// from the server, so they are not in her Maildir.
    python: Result<Value, String>,
}

#[test]
fn summary_json_holds_the_documented_fields_and_a_balanced_ledger() {
    let s = summary();
    assert_eq!(s["seed"].as_u64(), Some(1), "the scenario's seed is 1");
    assert_eq!(
        s["sim_time_s"].as_f64(),
        Some(1800.0),
        "clients poll for all 30m"
    );
    assert!(
        s["events"].as_u64().is_some_and(|e| e > 0),
        "events: {}",
        s["events"]
    );

    let m = &s["messages"];
    let count = |k: &str| {
        m[k].as_u64()
            .unwrap_or_else(|| panic!("messages.{k} is not a count: {}", m[k]))
    };
    assert_eq!(
        count("lost"),
        0,
        "every (message, recipient) is accounted for"
    );
    let parts: u64 = ["delivered", "bounced", "queued", "dropped", "lost"]
        .iter()
        .map(|k| count(k))
        .sum();
    assert_eq!(parts, count("submitted"), "balance: {m}");
    assert!(
        count("submitted") > 2,
        "the workload and the scripted sends ran"
    );
}

#[test]
fn summary_latency_percentiles_are_ordered_and_match_messages_csv() {
    let s = summary();
    let l = &s["latency_s"];
    let get = |k: &str| {
        l[k].as_f64()
            .unwrap_or_else(|| panic!("latency_s.{k} is not a number: {}", l[k]))
    };
    let (p50, p95, p99, max) = (get("p50"), get("p95"), get("p99"), get("max"));
    assert!(0.0 <= p50 && p50 <= p95 && p95 <= p99 && p99 <= max, "{l}");

    // Latency runs from acceptance by the sender's MTA to the commit in
    // the store; recompute it from the CSV and take nearest ranks.
    let mut sample: Vec<f64> = messages()
        .iter()
        .filter(|r| r["outcome"] == "delivered")
        .map(|r| secs(&r["delivered_s"]) - secs(&r["accepted_s"]))
        .collect();
    sample.sort_by(f64::total_cmp);
    assert_eq!(l["count"].as_u64(), Some(sample.len() as u64));
    for (p, got) in [(50.0, p50), (95.0, p95), (99.0, p99), (100.0, max)] {
        let want = nearest_rank(&sample, p);
        assert!((got - want).abs() < 1e-6, "p{p}: summary {got}, csv {want}");
    }
}

#[test]
fn summary_json_has_no_wall_clock_value() {
    fn keys(v: &Value, path: &str, out: &mut Vec<String>) {
        if let Value::Object(map) = v {
            for (k, child) in map {
                let p = format!("{path}.{k}");
                out.push(p.clone());
                keys(child, &p, out);
            }
        }
    }
    let mut all = Vec::new();
    keys(&summary(), "", &mut all);
    let wall: Vec<_> = all.iter().filter(|k| k.contains("wall")).collect();
    assert!(wall.is_empty(), "wall-clock keys in summary.json: {wall:?}");
    assert!(all.iter().any(|k| k == ".messages.submitted"), "{all:?}");
}

#[test]
fn messages_csv_has_one_row_per_message_and_recipient() {
    let text = file("messages.csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(header, MESSAGES_HEADER);

    let rows = messages();
    let s = summary();
    assert_eq!(Some(rows.len() as u64), s["messages"]["submitted"].as_u64());
    let pairs: BTreeSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r["id"].as_str(), r["recipient"].as_str()))
        .collect();
    assert_eq!(pairs.len(), rows.len(), "a (message, recipient) repeats");

    for outcome in OUTCOMES {
        let n = rows.iter().filter(|r| r["outcome"] == outcome).count();
        assert_eq!(Some(n as u64), s["messages"][outcome].as_u64(), "{outcome}");
    }
    for r in &rows {
        assert!(OUTCOMES.contains(&r["outcome"].as_str()), "{r:?}");
    }
}

#[test]
fn delivered_rows_are_in_time_order_and_passed_at_least_one_mta() {
    let rows = messages();
    let delivered: Vec<_> = rows
        .iter()
        .filter(|r| r["outcome"] == "delivered")
        .collect();
    assert!(!delivered.is_empty());
    for r in delivered {
        let (sub, acc, del) = (
            secs(&r["submitted_s"]),
            secs(&r["accepted_s"]),
            secs(&r["delivered_s"]),
        );
        assert!(sub <= acc && acc <= del, "times out of order: {r:?}");
        let hops: u32 = r["hops"].parse().expect("hops");
        assert!(
            hops >= 1,
            "a delivered copy carries a Received field: {r:?}"
        );
        if let Some(f) = opt_secs(&r["first_fetched_s"]) {
            assert!(del <= f, "fetched before delivery: {r:?}");
        }
    }
}

#[test]
fn the_two_impossible_recipients_bounce_and_nobody_else_does() {
    let rows = messages();
    let bounced: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r["outcome"] == "bounced")
        .map(|r| r["recipient"].as_str())
        .collect();
    assert_eq!(bounced, BTreeSet::from([NO_MAILBOX, NO_DOMAIN]));
    for r in rows.iter().filter(|r| r["outcome"] == "bounced") {
        assert_eq!(r["sender"], "alice@a.example");
        // RFC 5321 section 4.2.2 and RFC 3463: permanent failure, 5.1.x.
        assert!(r["reason"].starts_with("550 5.1."), "{r:?}");
    }
    let dsn = summary()["messages"]["dsn_generated"].as_u64();
    assert!(dsn.is_some_and(|n| n >= 1), "dsn_generated: {dsn:?}");
}

#[test]
fn alice_receives_a_delivery_status_notification_for_each_bounce() {
    // RFC 3464: a multipart/report of report-type delivery-status whose
    // per-recipient block names the Final-Recipient. Alice's POP3 client
    // deletes what it fetches, so look in her Maildir and in her fetches.
    let py = python();
    let in_box = py["accounts"]["alice@a.example"]["INBOX"].as_array();
    let seen: Vec<&Value> = in_box
        .into_iter()
        .flatten()
        .chain(py["extra"].as_array().into_iter().flatten())
        .collect();
    let mut named = BTreeSet::new();
    for m in seen {
        let is_dsn =
            m["content_type"] == "multipart/report" && m["report_type"] == "delivery-status";
        if is_dsn {
            for f in m["final_recipients"].as_array().into_iter().flatten() {
                named.insert(f.as_str().unwrap_or_default().to_string());
            }
        }
    }
    for addr in [NO_MAILBOX, NO_DOMAIN] {
        assert!(
            named.contains(addr),
            "no DSN names {addr}; DSNs name {named:?}"
        );
    }
}

#[test]
fn links_csv_has_both_directions_of_every_link() {
    let r = run();
    let rows = read_csv("links.csv");
    assert_eq!(rows.len(), 2 * r.scenario.links.len());
    let mut seen = BTreeMap::new();
    for row in &rows {
        let key = (row["from"].clone(), row["to"].clone());
        assert!(seen.insert(key, row).is_none(), "direction twice: {row:?}");
        let u: f64 = row["utilisation"].parse().expect("utilisation");
        assert!(
            (0.0..=1.0).contains(&u),
            "utilisation out of [0, 1]: {row:?}"
        );
        // Every drop has its reason: the total is the sum of the reasons.
        let by_reason: u64 = row
            .iter()
            .filter(|(k, _)| k.starts_with("drops_"))
            .map(|(_, v)| v.parse::<u64>().expect("a count"))
            .sum();
        assert_eq!(row["drops"], by_reason.to_string(), "{row:?}");
    }
    for l in &r.scenario.links {
        for (from, to) in [(&l.a, &l.b), (&l.b, &l.a)] {
            let row = seen
                .get(&(from.clone(), to.clone()))
                .unwrap_or_else(|| panic!("no row {from} -> {to}"));
            assert_eq!(row["bandwidth_bps"], l.bandwidth_bps.to_string());
            if l.loss == 0.0 {
                assert_eq!(row["drops_loss"], "0", "loss on a lossless line: {row:?}");
            }
        }
    }
}

#[test]
fn link_totals_add_up_to_the_summary_network_totals() {
    let rows = read_csv("links.csv");
    let total = |col: &str| -> u64 { rows.iter().map(|r| r[col].parse::<u64>().unwrap()).sum() };
    let net = &summary()["network"];
    assert_eq!(Some(total("packets")), net["packets"].as_u64());
    assert_eq!(Some(total("bytes")), net["bytes"].as_u64());
}

#[test]
fn delay_routing_leaves_the_slow_direct_line_unused() {
    // r1-r3 direct is 40 ms; r1-r2-r3 is 5 + 20 = 25 ms, so shortest-path
    // routing by delay never puts a packet on the direct line.
    let rows = read_csv("links.csv");
    let direct: Vec<_> = rows
        .iter()
        .filter(|r| {
            matches!(
                (r["from"].as_str(), r["to"].as_str()),
                ("r1", "r3") | ("r3", "r1")
            )
        })
        .collect();
    assert_eq!(direct.len(), 2);
    for r in direct {
        assert_eq!(r["packets"], "0", "{r:?}");
    }
}

#[test]
fn python_mailbox_reads_every_maildir_file() {
    let py = python();
    let accounts = py["accounts"].as_object().expect("accounts");
    // A Maildir exists for every account that ever received mail: the
    // delivered recipients, and the senders of bounced mail (their DSN).
    let rows = read_csv("messages.csv");
    let expected: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| match r["outcome"].as_str() {
            "delivered" => Some(r["recipient"].clone()),
            "bounced" => Some(r["sender"].clone()),
            _ => None,
        })
        .collect();
    let got: BTreeSet<String> = accounts.keys().cloned().collect();
    assert_eq!(got, expected, "one Maildir per account that received mail");

    let mut seen = BTreeMap::new();
    for (acct, folders) in accounts {
        for (folder, msgs) in folders.as_object().expect("folders") {
            let n = msgs.as_array().map_or(0, Vec::len);
            seen.insert((acct.clone(), folder.clone()), n);
        }
    }
    assert_eq!(seen, run().maildir_files, "messages Python sees per folder");
}

#[test]
fn every_stored_message_parses_with_the_required_header_fields() {
    let py = python();
    let mut checked = 0;
    for (acct, m) in all_messages(py) {
        let defects = m["defects"].as_array().map_or(0, Vec::len);
        assert_eq!(defects, 0, "{acct}: parse defects {m}");
        for h in ["From", "To", "Date", "Message-ID"] {
            assert!(
                m[h].as_str().is_some_and(|v| !v.is_empty()),
                "{acct}: no {h}: {m}"
            );
        }
        assert_eq!(m["date_ok"], true, "{acct}: Date is not RFC 5322: {m}");
        assert!(m["from_addresses"].as_u64() >= Some(1), "{acct}: {m}");
        assert!(
            m["received"].as_u64() >= Some(1),
            "{acct}: no Received: {m}"
        );
        checked += 1;
    }
    assert!(checked > 0, "no message in any Maildir");
}

#[test]
fn messages_under_cur_carry_the_seen_flag_and_new_ones_do_not() {
    let py = python();
    for (acct, m) in all_messages(py) {
        let flags = m["flags"].as_str().unwrap_or_default();
        match m["subdir"].as_str() {
            Some("cur") => assert!(flags.contains('S'), "{acct}: {m}"),
            Some("new") => assert!(flags.is_empty(), "{acct}: {m}"),
            other => panic!("{acct}: message in {other:?}"),
        }
    }
}

#[test]
fn clients_that_keep_mail_leave_every_delivered_copy_in_the_maildir() {
    // IMAP clients never expunge here and POP3 with keep leaves mail on
    // the server; no DSN goes to these users (only alice's mail bounces).
    // IMAP fetches of BODY[] set \Seen (RFC 3501 section 6.4.5), so what
    // an IMAP client fetched is under cur/ and the rest under new/.
    let r = run();
    let py = python();
    let rows = messages();
    let mut checked = 0;
    for c in &r.scenario.clients {
        let Some(f) = &c.fetch else { continue };
        let imap = matches!(f.protocol, FetchProtocol::Imap);
        if !imap && !f.keep {
            continue;
        }
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r["recipient"] == c.user && r["outcome"] == "delivered")
            .collect();
        let stored = py["accounts"][&c.user]["INBOX"].as_array().expect("inbox");
        assert_eq!(stored.len(), mine.len(), "{}", c.user);
        if imap {
            let fetched = mine.iter().filter(|r| !r["first_fetched_s"].is_empty());
            let in_cur = stored.iter().filter(|m| m["subdir"] == "cur");
            assert_eq!(in_cur.count(), fetched.count(), "{}", c.user);
        }
        checked += 1;
    }
    assert!(
        checked >= 3,
        "quickstart has three IMAP users and one POP3 keep"
    );
}

#[test]
fn transcript_lines_run_in_time_order_and_show_the_550_reply() {
    let lines: Vec<&str> = file("transcript.txt").lines().collect();
    let mut last = 0.0;
    for l in &lines {
        let t = secs(l.split(' ').next().unwrap_or_default());
        assert!(t >= last, "time goes back at {l:?}");
        last = t;
    }
    // The relay offers the recipient to b.example's MX, which refuses it
    // with 550 (RFC 5321 section 4.2.2, mailbox unavailable).
    let rcpt = "SMTP mta.a.example > mx.b.example: RCPT TO:<nobody@b.example>";
    let at = lines
        .iter()
        .position(|l| l.contains(rcpt))
        .expect("the relay's RCPT for nobody@b.example");
    let reply = lines[at + 1..]
        .iter()
        .find(|l| l.contains("SMTP mx.b.example > mta.a.example: "))
        .expect("a reply from mx.b.example");
    assert!(reply.contains(": 550 "), "{reply}");
}

// ---- helpers ----------------------------------------------------------

/// Runs quickstart once for all tests of this file.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sc = scenario::load(&root.join("scenarios/quickstart.toml")).expect("load quickstart");
        let dir = std::env::temp_dir().join(format!("mailsim-outputs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create output folder");
        let transcript = File::create(dir.join("transcript.txt")).expect("transcript");
        let outcome = mailsim::experiment::run(&sc, None, |w| {
            w.transcript = Transcript::to_writer(Box::new(BufWriter::new(transcript)));
            w.record_fetches();
        });
        mailsim::report::write_all(&outcome, "quickstart.toml", &dir).expect("write outputs");
        let alice = outcome
            .world
            .agent_of("alice@a.example")
            .expect("alice's client");
        let fetched = dir.join("alice-fetched");
        fs::create_dir_all(&fetched).expect("create alice-fetched");
        let mine = outcome.world.fetches().iter().filter(|(a, _)| *a == alice);
        for (i, (_, m)) in mine.enumerate() {
            fs::write(fetched.join(format!("{i:04}.eml")), m).expect("write fetched");
        }
        let python = python_view(&dir.join("maildir"), &fetched);
        let names = [
            "summary.json",
            "messages.csv",
            "links.csv",
            "transcript.txt",
        ];
        let files = names
            .into_iter()
            .map(|n| (n, fs::read_to_string(dir.join(n)).expect(n)))
            .collect();
        let maildir_files = count_maildir(&dir.join("maildir"));
        fs::remove_dir_all(&dir).expect("remove output folder");
        Run {
            scenario: sc,
            files,
            maildir_files,
            python,
        }
    })
}

fn python() -> &'static Value {
    match &run().python {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

fn file(name: &str) -> &'static str {
    &run().files[name]
}

fn summary() -> Value {
    serde_json::from_str(file("summary.json")).expect("summary.json is JSON")
}

fn messages() -> Vec<BTreeMap<String, String>> {
    read_csv("messages.csv")
}

/// Rows of an output CSV file as column -> value maps.
fn read_csv(name: &str) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(file(name).as_bytes());
    let header = reader.headers().expect("csv header").clone();
    reader
        .records()
        .map(|rec| {
            let rec = rec.expect("csv record");
            assert_eq!(rec.len(), header.len(), "ragged row in {name}");
            header
                .iter()
                .map(String::from)
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn secs(v: &str) -> f64 {
    v.parse()
        .unwrap_or_else(|_| panic!("not a time in seconds: {v:?}"))
}

fn opt_secs(v: &str) -> Option<f64> {
    (!v.is_empty()).then(|| secs(v))
}

/// The nearest-rank percentile of an ascending sample.
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Counts the files under new/ and cur/ of every folder of every account:
/// the account folder itself is INBOX, `.<name>` folders are Maildir++
/// subfolders.
fn count_maildir(root: &Path) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for acct in subfolders(root) {
        let name = file_name(&acct);
        let count = |dir: &Path| count_files(&dir.join("new")) + count_files(&dir.join("cur"));
        counts.insert((name.clone(), "INBOX".to_string()), count(&acct));
        for sub in subfolders(&acct) {
            if let Some(folder) = file_name(&sub).strip_prefix('.') {
                counts.insert((name.clone(), folder.to_string()), count(&sub));
            }
        }
    }
    counts
}

fn subfolders(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_file()))
        .count()
}

/// Every message Python saw, with its account.
fn all_messages(py: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (acct, folders) in py["accounts"].as_object().expect("accounts") {
        for msgs in folders.as_object().expect("folders").values() {
            for m in msgs.as_array().expect("messages") {
                out.push((acct.clone(), m));
            }
        }
    }
    out
}

/// Python's view of a Maildir tree (and of loose message files in
/// `extra`), as JSON: per account, per folder, each message's Maildir
/// subfolder and flags, parse defects, header fields and DSN recipients.
const PYTHON_VIEW: &str = r#"
import email, email.policy, json, mailbox, os, sys

def describe(data):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    d = {"defects": [type(x).__name__ for x in msg.defects]}
    for h in ("From", "To", "Date", "Message-ID"):
        v = msg[h]
        d[h] = None if v is None else str(v)
        if v is not None:
            d["defects"] += [h + ":" + type(x).__name__ for x in v.defects]
    date = msg["Date"]
    d["date_ok"] = date is not None and date.datetime is not None
    d["from_addresses"] = 0 if msg["From"] is None else len(msg["From"].addresses)
    d["received"] = len(msg.get_all("Received") or [])
    d["content_type"] = msg.get_content_type()
    d["report_type"] = msg.get_param("report-type")
    finals = []
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload()[1:]:
                fr = block.get("Final-Recipient")
                if fr is not None:
                    finals.append(str(fr).split(";", 1)[-1].strip().lower())
    d["final_recipients"] = finals
    return d

root = sys.argv[1]
out = {"accounts": {}, "extra": []}
for acct in sorted(os.listdir(root)):
    md = mailbox.Maildir(os.path.join(root, acct), factory=None, create=False)
    boxes = {"INBOX": md}
    for name in md.list_folders():
        boxes[name] = md.get_folder(name)
    folders = {}
    for name, box in boxes.items():
        msgs = []
        for key in sorted(box.keys()):
            m = box[key]
            d = describe(box.get_bytes(key))
            d["subdir"] = m.get_subdir()
            d["flags"] = m.get_flags()
            msgs.append(d)
        folders[name] = msgs
    out["accounts"][acct] = folders
for f in sorted(os.listdir(sys.argv[2])):
    with open(os.path.join(sys.argv[2], f), "rb") as fh:
        out["extra"].append(describe(fh.read()))
print(json.dumps(out))
"#;

/// Runs [`PYTHON_VIEW`]. A missing python3 is an error that the tests
/// reading the Maildir report as a failure, never a skip.
fn python_view(maildir: &Path, extra: &Path) -> Result<Value, String> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(PYTHON_VIEW)
        .arg(maildir)
        .arg(extra)
        .output()
        .map_err(|e| {
            format!(
                "cannot run python3 ({e}): these tests read the Maildir \
                 with Python's standard mailbox module; install Python 3 \
                 (CI does)"
            )
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("python3 failed on {}:\n{err}", maildir.display()));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("python3 printed no JSON: {e}"))
}
