//! `timeseries.csv` and the plots: the same rows in two runs, one row per
//! link direction and MTA per sample, RED's early drops in the columns of
//! their own reason, and SVG files that an XML parser reads.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use mailsim::report;

/// Mail flows both ways for 10 minutes over the 2 Mbit/s r2-r3 core link;
/// `core` adds keys to that link.
fn scenario(core: &str, extra: &str) -> String {
    let workload = format!(
        r#"
[[workload]]
users = "*"
rate = "60/h"
size = {{ distribution = "lognormal", median = "200KB", sigma = 0.5 }}
stop = "8m"
{extra}
"#
    );
    common::two_domains("10m", core, common::MTA, &workload)
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailsim-ts-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rows(path: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records().map(|x| x.unwrap()).collect()
}

#[test]
fn timeseries_rows_are_the_same_in_two_runs_and_cover_every_link_and_mta() {
    let text = scenario("", "");
    let dir = out_dir("twice");
    let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
    report::write_timeseries(&common::run(&text), &a).unwrap();
    report::write_timeseries(&common::run(&text), &b).unwrap();
    let (bytes_a, bytes_b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(bytes_a, bytes_b);

    // Six links (two core, four attach) give twelve directions, plus two
    // MTAs: 14 rows for each of the 600 one-second samples of 10 minutes.
    let rows = rows(&a);
    assert_eq!(rows.len(), 600 * 14);
    assert_eq!(&rows[0][0], "1.000000000");
    assert_eq!(&rows[rows.len() - 1][0], "600.000000000");
    let kinds = |k: &str| rows.iter().filter(|r| &r[2] == k).count();
    assert_eq!((kinds("link"), kinds("mta")), (600 * 12, 600 * 2));
    // Packets summed over the samples are the link totals.
    let o = common::run(&text);
    let sent: u64 = rows
        .iter()
        .filter(|r| &r[2] == "link")
        .map(|r| r[9].parse::<u64>().unwrap())
        .sum();
    let total: u64 = o.world.net.channels().iter().map(|c| c.stats.packets).sum();
    assert_eq!(sent, total);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sampling_off_records_no_samples() {
    let text = scenario("", "[output]\nsample = \"off\"");
    let o = common::run(&text);
    assert!(o.timeseries.links.is_empty() && o.timeseries.mtas.is_empty());
}

/// A 20-packet RED buffer on the 2 Mbit/s core with thresholds of 2 and 6
/// packets: TCP fills it past min_th, so some drops are early ones, and
/// every message still arrives (TCP retransmits).
#[test]
fn red_on_the_core_link_drops_early_with_its_own_reason() {
    let core = "buffer = 20\nqueue = \"red\"\nred = { min = 2, max = 6, weight = 0.02 }";
    let o = common::run(&scenario(core, ""));
    let red: u64 = o
        .world
        .net
        .channels()
        .iter()
        .map(|c| {
            c.stats
                .drops
                .get(&mailsim::net::DropReason::Red)
                .copied()
                .unwrap_or(0)
        })
        .sum();
    assert!(red > 0, "no early drops: {:?}", o.world.net.drops());
    let balance = o.world.ledger.balance(|m, a| o.world.holds(m, a));
    assert_eq!(balance.lost, 0);
}

#[test]
fn plots_are_svg_and_png_and_the_svg_parses_as_xml() {
    let dir = out_dir("plots");
    let o = common::run(&scenario("", ""));
    report::write_all(&o, "t", &dir).unwrap();
    for stem in ["latency", "queue", "utilisation"] {
        let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png");
        let svg = dir.join(format!("{stem}.svg"));
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(
            text.contains("<svg") && text.contains("<text"),
            "{stem}.svg"
        );
        parses_as_xml(&svg);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Python's xml.etree when python3 is there; otherwise a check that every
/// element opened is closed in order.
fn parses_as_xml(path: &Path) {
    let script = "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])";
    if let Ok(out) = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
    {
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let text = std::fs::read_to_string(path).unwrap();
    let mut open: Vec<String> = Vec::new();
    for tag in text.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap();
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        let name = tag.split_whitespace().next().unwrap_or("");
        match name.strip_prefix('/') {
            Some(closing) => assert_eq!(open.pop().as_deref(), Some(closing)),
            None => open.push(name.to_string()),
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
}
