//! The three lesson scenarios show what their header comments promise. Each
//! lesson is run as a reader would run it, its output files are written,
//! and the claims are checked on those files. The expected values come
//! from the topology and from queueing theory, not from a previous run:
//! a cut vertex isolates what lies behind it; offered load above a line's
//! rate keeps the line busy all the time and the buffer full; a link-state
//! protocol settles within a flood and an SPF delay, distance vector needs
//! rounds of 2/3 s and loops meanwhile.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use mailsim::report::{summarize, write_all};
use mailsim::scenario::{self, Scenario};

fn lesson(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs `sc`, writes its outputs into a fresh folder and returns the
/// folder and the summary.
fn run_lesson(sc: &Scenario, tag: &str) -> (PathBuf, mailsim::report::Summary) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lesson-{tag}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("output folder");
    let outcome = mailsim::experiment::run(sc, None, |_| {});
    write_all(&outcome, tag, &dir).expect("write outputs");
    let summary = summarize(&outcome, tag);
    let m = &summary.messages.balance;
    assert_eq!(m.lost, 0, "{tag}: a message was lost");
    assert_eq!(
        m.delivered, m.submitted,
        "{tag}: every message is delivered"
    );
    (dir, summary)
}

type Row = BTreeMap<String, String>;

fn read_csv(path: &Path) -> Vec<Row> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.deserialize().map(|row| row.expect("csv row")).collect()
}

fn num(row: &Row, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} = {:?} is not a number", row[key]))
}

/// Delivery latency of each message row.
fn latency(row: &Row) -> f64 {
    num(row, "delivered_s") - num(row, "submitted_s")
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty(), "median of nothing");
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn sri_fails_cuts_utah_off_and_its_mail_flows_after_the_restart() {
    let (dir, _) = run_lesson(&lesson("arpanet-1969-sri-fails.toml"), "sri-fails");
    let (crash, restart) = (1800.0, 3000.0);

    // Utah's only line goes to SRI: while SRI is down, nothing crosses it.
    for row in read_csv(&dir.join("timeseries.csv")) {
        let t = num(&row, "time_s");
        let on_utah_line = row["kind"] == "link"
            && ((row["node"] == "SRI" && row["peer"] == "UTAH")
                || (row["node"] == "UTAH" && row["peer"] == "SRI"));
        // A sample covers the interval before its time.
        if on_utah_line && t - num(&row, "interval_s") >= crash && t <= restart {
            assert_eq!(row["packets"], "0", "packet on the Utah line at {t} s");
        }
    }

    let messages = read_csv(&dir.join("messages.csv"));
    let during = |row: &&Row| {
        let t = num(row, "submitted_s");
        (crash..restart).contains(&t)
    };
    // Mail from elsewhere to Utah submitted during the outage can only
    // arrive after the restart, and must have been retried.
    let to_utah: Vec<&Row> = messages
        .iter()
        .filter(during)
        .filter(|r| r["recipient"].ends_with("@utah.arpa") && !r["sender"].ends_with("@utah.arpa"))
        .filter(|r| !r["sender"].ends_with("@sri.arpa"))
        .collect();
    assert!(
        !to_utah.is_empty(),
        "the workload mails Utah during the outage"
    );
    for r in &to_utah {
        assert!(
            num(r, "delivered_s") > restart,
            "{} arrived while Utah was cut off",
            r["id"]
        );
        assert!(num(r, "retries") >= 1.0, "{} was never retried", r["id"]);
    }
    // UCLA and UCSB have their own line: their mail does not wait.
    let west: Vec<f64> = messages
        .iter()
        .filter(during)
        .filter(|r| {
            let (s, d) = (&r["sender"], &r["recipient"]);
            (s.ends_with("@ucla.arpa") && d.ends_with("@ucsb.arpa"))
                || (s.ends_with("@ucsb.arpa") && d.ends_with("@ucla.arpa"))
        })
        .map(latency)
        .collect();
    assert!(
        !west.is_empty(),
        "the workload mails between UCLA and UCSB during the outage"
    );
    assert!(
        west.iter().all(|&l| l < 60.0),
        "UCLA-UCSB mail was held up by SRI's crash: {west:?}"
    );
}

#[test]
fn congestion_saturates_the_bottleneck_and_delay_drops_and_retransmissions_grow() {
    let (dir, summary) = run_lesson(&lesson("congestion.toml"), "congestion");
    let rows = read_csv(&dir.join("timeseries.csv"));

    // Per five-minute load step: mean utilisation and queue of r1>r2, its
    // buffer drops, and mta.a.example's retransmissions.
    let mut util = [0.0; 4];
    let mut queue = [0.0; 4];
    let mut samples = [0.0; 4];
    let mut drops = [0.0; 4];
    let mut retransmits = [0.0; 4];
    for row in &rows {
        let t = num(row, "time_s");
        let step = ((t - 1e-9) / 300.0).floor() as usize;
        if step >= 4 {
            continue;
        }
        if row["kind"] == "link" && row["node"] == "r1" && row["peer"] == "r2" {
            util[step] += num(row, "utilisation");
            queue[step] += num(row, "queue_packets");
            samples[step] += 1.0;
            drops[step] += num(row, "drops_buffer_full");
        }
        if row["kind"] == "mta" && row["node"] == "mta.a.example" {
            retransmits[step] += num(row, "tcp_retransmits");
        }
    }
    for s in 0..4 {
        util[s] /= samples[s];
        queue[s] /= samples[s];
    }

    // Below capacity the line carries what is offered: the rates are
    // 72, 216 and 360 per hour, so utilisation grows about 3 and 5 times.
    // 50 users x 72/h x 10 KB of message alone is 80 kbit/s, 0.156 of
    // 512 kbit/s; headers and SMTP add a little.
    assert!(
        (0.156..0.25).contains(&util[0]),
        "light-load utilisation {}",
        util[0]
    );
    let ratio = util[1] / util[0];
    assert!(
        (2.5..3.5).contains(&ratio),
        "step 2 / step 1 utilisation {ratio}"
    );
    // Offered load above the line rate: the line never idles, and the
    // drop-tail buffer (25 packets) stays close to full.
    assert!(util[3] > 0.97, "overload utilisation {}", util[3]);
    assert!(queue[3] > 0.6 * 25.0, "overload mean queue {}", queue[3]);
    // A queue at 16 % load almost never reaches 25 packets.
    assert_eq!(drops[0], 0.0, "drops at light load");
    assert!(
        drops[3] > 10.0 * drops[2] && drops[3] > 1000.0,
        "drops {drops:?}"
    );
    // Every dropped data segment is repaired by a retransmission.
    assert_eq!(retransmits[0], 0.0, "retransmissions at light load");
    assert!(retransmits[3] > 1000.0, "retransmissions {retransmits:?}");

    // Delay: at light load a message takes a handful of round trips
    // (about 40 ms each, plus 10 KB at 512 kbit/s); in overload it waits
    // in the router's queue and for retransmission timeouts.
    let messages = read_csv(&dir.join("messages.csv"));
    let step_latency = |s: usize| {
        median(
            messages
                .iter()
                .filter(|r| ((num(r, "submitted_s") / 300.0) as usize) == s)
                .map(latency)
                .collect(),
        )
    };
    let (light, heavy) = (step_latency(0), step_latency(3));
    assert!(light < 2.0, "light-load median latency {light} s");
    assert!(
        heavy > 10.0 * light,
        "overload median {heavy} s against {light} s"
    );
    assert!(summary.services.tcp_retransmits as f64 >= retransmits.iter().sum::<f64>());
}

#[test]
fn dv_vs_spf_link_state_settles_faster_and_distance_vector_loops() {
    let base = lesson("arpanet-1971-dv-vs-spf.toml");
    let settle_after_failure = |s: &mailsim::report::Summary| {
        let c = s
            .routing
            .convergence
            .iter()
            .find(|c| c.at_s == 1800.0)
            .expect("the failure at 30 minutes is a topology change");
        c.converged_after_s
    };
    let ttl_drops = |dir: &Path| -> f64 {
        read_csv(&dir.join("links.csv"))
            .iter()
            .map(|r| num(r, "drops_ttl_expired"))
            .sum()
    };

    let (dv_dir, dv) = run_lesson(&base, "dv");
    assert_eq!(dv.routing.protocol, "distance-vector");
    let mut ls_sc = base.clone();
    ls_sc
        .set_routing("link-state")
        .expect("link-state is a protocol");
    let (ls_dir, ls) = run_lesson(&ls_sc, "spf");
    let mut static_sc = base.clone();
    static_sc
        .set_routing("static")
        .expect("static is a protocol");
    let (_, st) = run_lesson(&static_sc, "static");

    let dv_settle = settle_after_failure(&dv).expect("distance vector settles in 30 minutes");
    let ls_settle = settle_after_failure(&ls).expect("link state settles");
    // Link state: the update floods across at most 17 lines of 50 kbit/s
    // (a few ms each plus about 20 ms per hop to send 1000 bits and wait
    // in a queue), then SPF runs after its 50 ms hold-down.
    assert!(ls_settle < 1.0, "link state settled after {ls_settle} s");
    // Distance vector: bad news moves one neighbour per 2/3 s round.
    assert!(
        dv_settle > 2.0 / 3.0,
        "distance vector settled after {dv_settle} s"
    );
    assert!(dv_settle > 5.0 * ls_settle);
    // Static routes never route around the failure.
    assert_eq!(settle_after_failure(&st), None);

    // Packets caught in distance vector's transient loops die of old age.
    let (dv_loops, ls_loops) = (ttl_drops(&dv_dir), ttl_drops(&ls_dir));
    assert!(dv_loops > 0.0, "no TTL drops under distance vector");
    assert!(
        ls_loops < dv_loops,
        "link state {ls_loops} against distance vector {dv_loops}"
    );
    // Distance vector sends every table every 2/3 s; link state floods
    // only what changed.
    assert!(dv.routing.bytes > 2 * ls.routing.bytes);
}
