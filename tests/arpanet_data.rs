//! The bundled ARPANET scenarios are the historical maps in
//! `scenarios/data/`, and they carry their mail.
//!
//! The CSV files are the source of truth for the IMP lines: each scenario
//! must have exactly those lines (unordered pairs, names compared without
//! case) at those bandwidths, plus one short line from each site's host to
//! its IMP. TIP sites (names ending in `-TIP`) served terminals, not
//! hosts, so they have no host line. The sizes of the maps come from the
//! history, not from the files: four IMPs and four lines in December 1969
//! (UCLA, SRI, UCSB, Utah); 18 sites, three of them TIPs, and 22 lines in
//! the September 1971 map.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mailsim::scenario::{self, FaultAction, Scenario};
use mailsim::sim::SimTime;

/// An unordered pair of node names, lower-case, smaller first.
type Pair = (String, String);

#[test]
fn the_1969_data_file_is_the_four_imp_network() {
    let map = read_map("arpanet-1969-12.csv");
    assert_eq!(map.lines.len(), 4);
    let sites = map.sites();
    let want = ["sri", "ucla", "ucsb", "utah"].map(String::from);
    assert_eq!(sites, BTreeSet::from(want));
    assert!(
        map.lines.values().all(|&bps| bps == 50_000),
        "50 kbit/s lines"
    );
}

#[test]
fn the_1971_data_file_has_eighteen_sites_and_twenty_two_lines() {
    let map = read_map("arpanet-1971-09.csv");
    assert_eq!(map.lines.len(), 22);
    assert_eq!(map.sites().len(), 18);
    let tips: Vec<String> = map.sites().into_iter().filter(|s| is_tip(s)).collect();
    assert_eq!(tips.len(), 3, "TIPs: {tips:?}");
}

#[test]
fn arpanet_1969_has_exactly_the_lines_of_its_data_file() {
    assert_topology("arpanet-1969.toml", "arpanet-1969-12.csv");
}

#[test]
fn arpanet_1971_has_exactly_the_lines_of_its_data_file() {
    assert_topology("arpanet-1971.toml", "arpanet-1971-09.csv");
}

#[test]
fn arpanet_1969_delivers_every_message_despite_the_line_fault() {
    let sc = load("arpanet-1969.toml");
    let outcome = mailsim::experiment::run(&sc, None, |_| {});
    let s = mailsim::report::summarize(&outcome, "arpanet-1969.toml");
    let m = &s.messages.balance;
    assert!(m.submitted > 0, "the workload ran");
    assert_eq!(m.lost, 0);
    assert_eq!(m.delivered, m.submitted, "{m:?}");
}

#[test]
fn arpanet_1969_mail_to_or_from_utah_waits_for_the_line_to_return() {
    // Utah's only line goes to SRI. While it is down, mail accepted on one
    // side for the other side cannot reach its store: every such delivery
    // happens after the line is back.
    let sc = load("arpanet-1969.toml");
    let (down, up) = utah_outage(&sc);
    let outcome = mailsim::experiment::run(&sc, None, |_| {});
    let mut crossing = 0;
    for msg in &outcome.world.ledger.msgs {
        let Some(accepted) = msg.accepted else {
            continue;
        };
        if accepted <= down || accepted >= up {
            continue;
        }
        for r in &msg.rcpts {
            if at_utah(&msg.sender) == at_utah(&r.addr) {
                continue;
            }
            let delivered = r.delivered.expect("delivered by the end");
            assert!(
                delivered >= up,
                "{} -> {} accepted at {accepted}, delivered at {delivered} \
                 while the line was down",
                msg.sender,
                r.addr
            );
            crossing += 1;
        }
    }
    assert!(crossing > 0, "no mail crossed the cut during the outage");
}

#[test]
fn arpanet_1971_delivers_every_message() {
    let sc = load("arpanet-1971.toml");
    let outcome = mailsim::experiment::run(&sc, None, |_| {});
    let s = mailsim::report::summarize(&outcome, "arpanet-1971.toml");
    let m = &s.messages.balance;
    assert!(m.submitted > 0, "the workload ran");
    assert_eq!(m.lost, 0);
    assert_eq!(m.delivered, m.submitted, "{m:?}");
}

// ---- helpers ----------------------------------------------------------

/// A map from a data file: lines with their bandwidths.
struct Map {
    lines: BTreeMap<Pair, u64>,
}

impl Map {
    fn sites(&self) -> BTreeSet<String> {
        self.lines
            .keys()
            .flat_map(|(a, b)| [a.clone(), b.clone()])
            .collect()
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn load(name: &str) -> Scenario {
    let path = root().join(name);
    scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pair(a: &str, b: &str) -> Pair {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    if a <= b { (a, b) } else { (b, a) }
}

fn is_tip(site: &str) -> bool {
    site.to_ascii_lowercase().ends_with("-tip")
}

fn at_utah(addr: &str) -> bool {
    addr.to_ascii_lowercase().ends_with("@utah.arpa")
}

/// Reads a data file with columns `a`, `b`, `bandwidth_bps`.
fn read_map(name: &str) -> Map {
    let path = root().join("data").join(name);
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = reader.headers().expect("header").clone();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .unwrap_or_else(|| panic!("{name}: no column {n}"))
    };
    let (a, b, bw) = (col("a"), col("b"), col("bandwidth_bps"));
    let mut lines = BTreeMap::new();
    for rec in reader.records() {
        let rec = rec.expect("csv record");
        let bps: u64 = rec[bw].parse().expect("bandwidth_bps is an integer");
        let key = pair(&rec[a], &rec[b]);
        assert!(
            lines.insert(key.clone(), bps).is_none(),
            "{name}: {key:?} twice"
        );
    }
    Map { lines }
}

/// The scenario's IMP lines equal the data file's, and every non-TIP site
/// (and no TIP) has exactly one line to a host.
fn assert_topology(scenario: &str, data: &str) {
    let sc = load(scenario);
    let map = read_map(data);
    let hosts: BTreeSet<String> = sc
        .hosts
        .iter()
        .map(|h| h.name.to_ascii_lowercase())
        .collect();
    let routers: BTreeSet<String> = sc
        .routers
        .iter()
        .map(|r| r.name.to_ascii_lowercase())
        .collect();
    assert_eq!(
        routers,
        map.sites(),
        "{scenario}: routers are the map's sites"
    );

    let mut imp_lines = BTreeMap::new();
    let mut host_lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in &sc.links {
        let (a, b) = (l.a.to_ascii_lowercase(), l.b.to_ascii_lowercase());
        match (hosts.contains(&a), hosts.contains(&b)) {
            (false, false) => {
                let key = pair(&a, &b);
                let dup = imp_lines.insert(key.clone(), l.bandwidth_bps);
                assert!(dup.is_none(), "{scenario}: {key:?} twice");
            }
            (true, false) => host_lines.entry(b).or_default().push(a),
            (false, true) => host_lines.entry(a).or_default().push(b),
            (true, true) => panic!("{scenario}: host-to-host line {a} - {b}"),
        }
    }
    assert_eq!(imp_lines, map.lines, "{scenario}: IMP lines and bandwidths");

    let expected: BTreeSet<String> = map.sites().into_iter().filter(|s| !is_tip(s)).collect();
    let got: BTreeSet<String> = host_lines.keys().cloned().collect();
    assert_eq!(got, expected, "{scenario}: sites with a host line");
    for (site, hs) in &host_lines {
        assert_eq!(hs.len(), 1, "{scenario}: {site} has host lines to {hs:?}");
    }
    assert_eq!(sc.links.len(), map.lines.len() + expected.len());
}

/// When the SRI-UTAH line goes down and comes back, from the faults.
fn utah_outage(sc: &Scenario) -> (SimTime, SimTime) {
    let is_cut = |a: &str, b: &str| pair(a, b) == pair("SRI", "UTAH");
    let at = |want_down: bool| {
        sc.faults
            .iter()
            .find(|f| match &f.action {
                FaultAction::LinkDown(a, b) => want_down && is_cut(a, b),
                FaultAction::LinkUp(a, b) => !want_down && is_cut(a, b),
                _ => false,
            })
            .map(|f| f.at)
            .expect("the scenario takes the SRI-UTAH line down and up")
    };
    let (down, up) = (at(true), at(false));
    assert!(down < up);
    (down, up)
}
