//! The heavy bundled scenarios (left out of tests/determinism.rs) load,
//! and a shortened run of each is deterministic: the same seed writes the
//! same files, another seed other ones.

use std::fs;
use std::path::{Path, PathBuf};

use mailsim::scenario::{self, Scenario};
use mailsim::sim::SimTime;

/// (scenario, simulated time to run it for).
const HEAVY: [(&str, u64); 2] = [("large-1000.toml", 120), ("ns3-grid-reference.toml", 3)];

fn load(name: &str, secs: u64) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    let mut sc = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    sc.run.duration = SimTime::from_secs(secs);
    sc
}

/// Runs `sc` with `seed` and returns summary.json, links.csv and
/// messages.csv.
fn outputs(sc: &Scenario, seed: u64, dir: &Path) -> Vec<Vec<u8>> {
    let outcome = mailsim::experiment::run(sc, Some(seed), |_| {});
    mailsim::report::write_all(&outcome, "heavy", dir).expect("write outputs");
    ["summary.json", "links.csv", "messages.csv"]
        .iter()
        .map(|f| fs::read(dir.join(f)).expect("read output"))
        .collect()
}

fn scratch(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mailsim-heavy-{}-{tag}", std::process::id()))
}

#[test]
fn shortened_heavy_scenarios_repeat_byte_for_byte_and_differ_by_seed() {
    for (name, secs) in HEAVY {
        let sc = load(name, secs);
        let seed = sc.run.seed;
        let a = outputs(&sc, seed, &scratch(&format!("{name}-a")));
        let b = outputs(&sc, seed, &scratch(&format!("{name}-b")));
        let c = outputs(&sc, seed + 1, &scratch(&format!("{name}-c")));
        assert!(a == b, "{name}: the same seed gave different files");
        assert_ne!(a[1], c[1], "{name}: another seed gave the same links.csv");
        for tag in ["a", "b", "c"] {
            let _ = fs::remove_dir_all(scratch(&format!("{name}-{tag}")));
        }
    }
}

#[test]
fn the_ns3_reference_is_a_ten_by_ten_grid_with_a_host_per_router() {
    let sc = load("ns3-grid-reference.toml", 60);
    assert_eq!(sc.routers.len(), 100);
    assert_eq!(sc.hosts.len(), 100);
    // 10 (10 - 1) + 10 (10 - 1) grid links plus 100 host links.
    assert_eq!(sc.links.len(), 180 + 100);
    let b = &sc.bulk[0];
    assert_eq!(
        (b.senders.len(), b.rate_per_sec, b.bytes),
        (100, 2.0, 25_000)
    );
}

#[test]
fn the_large_scenario_has_a_thousand_routers_in_a_barabasi_albert_graph() {
    let sc = load("large-1000.toml", 60);
    assert_eq!(sc.routers.len(), 1000);
    // m (m + 1) / 2 + m (n - m - 1) links for m = 2, plus one per host.
    assert_eq!(sc.links.len(), 3 + 2 * 997 + sc.hosts.len());
    assert_eq!(sc.domains.len(), 20);
}
