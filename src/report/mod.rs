//! Reports of a finished run: `summary.json`, `messages.csv`, `links.csv`,
//! `timeseries.csv`, the mailboxes as Maildir, the plots (latency, queue
//! length and utilisation, each as SVG and PNG), and the terminal table.
//!
//! Files hold only what `(scenario, seed)` decides: no wall-clock figure is
//! ever written to them (those go to the terminal), so two runs compare
//! byte for byte.

mod bulk;
mod capture_points;
pub mod charts;
mod maildir;
mod pcap;
mod plot;
mod summary;
mod timeseries;

use std::fs;
use std::io;
use std::path::Path;

use crate::experiment::RunOutcome;
use crate::net::DropReason;
use crate::service::ledger::{Fate, MsgId};

pub use bulk::BulkSummary;
pub use capture_points::{CapturePointError, CapturePoints};
pub use maildir::write_maildirs;
pub use pcap::Capture;
pub use plot::{latency_cdf, latency_cdf_png, queue_chart, routes_chart, utilisation_chart};
pub use summary::{Summary, percentile, summarize};
pub use timeseries::write_timeseries;

/// Writes every output file of `run` into `dir` (created if missing). The
/// Maildir tree of an earlier run in the same folder is replaced, not
/// merged, so the folder always shows one run.
pub fn write_all(run: &RunOutcome, scenario_name: &str, dir: &Path) -> io::Result<Summary> {
    fs::create_dir_all(dir)?;
    let maildir = dir.join("maildir");
    if maildir.exists() {
        fs::remove_dir_all(&maildir)?;
    }
    let summary = summarize(run, scenario_name);
    let mut json = serde_json::to_string_pretty(&summary).map_err(io::Error::other)?;
    json.push('\n');
    fs::write(dir.join("summary.json"), json)?;
    write_messages(run, &dir.join("messages.csv"))?;
    write_links(run, &dir.join("links.csv"))?;
    write_maildirs(run, &maildir)?;
    let title = format!("{scenario_name}, seed {}", run.seed);
    write_timeseries(run, &dir.join("timeseries.csv"))?;
    let latencies = run.world.ledger.latencies();
    latency_cdf(&latencies, &dir.join("latency.svg"), &title).map_err(io::Error::other)?;
    latency_cdf_png(&latencies, &dir.join("latency.png"), &title).map_err(io::Error::other)?;
    if run.world.net.routing().protocol().name() != "static" {
        charts::write_both(&routes_chart(run, &title), &dir.join("routes"))
            .map_err(io::Error::other)?;
    } else {
        let _ = fs::remove_file(dir.join("routes.svg"));
        let _ = fs::remove_file(dir.join("routes.png"));
    }
    if run.timeseries.interval.is_some() {
        charts::write_both(&queue_chart(run, &title), &dir.join("queue"))
            .map_err(io::Error::other)?;
        charts::write_both(&utilisation_chart(run, &title), &dir.join("utilisation"))
            .map_err(io::Error::other)?;
    } else {
        // Charts of an earlier run in the same folder would not match.
        for stale in [
            "queue.svg",
            "queue.png",
            "utilisation.svg",
            "utilisation.png",
        ] {
            let _ = fs::remove_file(dir.join(stale));
        }
    }
    Ok(summary)
}

/// One row per replication: its seed, balance and latency percentiles.
pub fn write_replications(summaries: &[Summary], path: &Path) -> io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "seed",
        "events",
        "submitted",
        "delivered",
        "bounced",
        "queued",
        "dropped",
        "lost",
        "latency_p50_s",
        "latency_p95_s",
        "latency_p99_s",
        "latency_max_s",
    ])?;
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for s in summaries {
        let (m, l) = (&s.messages.balance, &s.latency_s);
        w.write_record([
            s.seed.to_string(),
            s.events.to_string(),
            m.submitted.to_string(),
            m.delivered.to_string(),
            m.bounced.to_string(),
            m.queued.to_string(),
            m.dropped.to_string(),
            m.lost.to_string(),
            opt(l.p50),
            opt(l.p95),
            opt(l.p99),
            opt(l.max),
        ])?;
    }
    w.flush()
}

fn secs(t: Option<crate::sim::SimTime>) -> String {
    t.map(|t| t.to_string()).unwrap_or_default()
}

/// One row per (message, recipient).
fn write_messages(run: &RunOutcome, path: &Path) -> io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
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
    ])?;
    for (id, m) in run.world.ledger.msgs.iter().enumerate() {
        for r in &m.rcpts {
            // A pending pair that nothing holds is lost: say so, as the
            // summary does, rather than call it queued.
            let held = r.fate != Fate::Pending || run.world.holds(id as MsgId, &r.addr);
            let outcome = if held { r.fate.label() } else { "lost" };
            let waiting = match r.fate {
                Fate::Pending if held => run.world.queued_reason(id as MsgId, &r.addr),
                _ => None,
            };
            w.write_record([
                &id.to_string(),
                &m.sender,
                &r.addr,
                &m.size.to_string(),
                &m.created.to_string(),
                &secs(m.accepted),
                &secs(r.delivered),
                &secs(r.fetched),
                &r.hops.to_string(),
                &r.retries.to_string(),
                outcome,
                waiting.as_deref().unwrap_or(r.fate.reason()),
            ])?;
        }
    }
    w.flush()
}

/// One row per link direction; `drops` is the sum of the `drops_<reason>`
/// columns, one per reason a packet can be dropped on a link.
fn write_links(run: &RunOutcome, path: &Path) -> io::Result<()> {
    let net = &run.world.net;
    let span = run.sim_time.as_secs_f64();
    let mut w = csv::Writer::from_path(path)?;
    let mut header: Vec<String> = ["from", "to", "bandwidth_bps", "delay_s", "packets", "bytes"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.push("drops".into());
    header.extend(
        DropReason::ALL
            .iter()
            .map(|r| format!("drops_{}", r.as_str())),
    );
    header.extend(["utilisation".to_string(), "max_queue_packets".to_string()]);
    w.write_record(&header)?;
    for c in net.channels() {
        let drops: u64 = c.stats.drops.values().sum();
        let util = if span > 0.0 {
            c.stats.busy.as_secs_f64() / span
        } else {
            0.0
        };
        let mut row = vec![
            net.node(c.from).name.clone(),
            net.node(c.to).name.clone(),
            c.params.bandwidth_bps.to_string(),
            c.params.delay.to_string(),
            c.stats.packets.to_string(),
            c.stats.bytes.to_string(),
            drops.to_string(),
        ];
        row.extend(
            DropReason::ALL
                .iter()
                .map(|r| c.stats.drops.get(r).copied().unwrap_or(0).to_string()),
        );
        row.extend([format!("{util:.6}"), c.stats.max_queue.to_string()]);
        w.write_record(&row)?;
    }
    w.flush()
}
