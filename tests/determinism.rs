//! The same scenario and seed give byte-identical output files, whatever
//! else runs at the same time and on however many threads; another seed
//! gives another run.
//!
//! Every `scenarios/*.toml` is covered: the folder is listed, so a new
//! scenario is tested without touching this file. Each run writes every
//! output (summary.json, messages.csv, links.csv, transcript.txt and the
//! Maildir tree) and the trees are compared file by file, names included.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use mailsim::scenario::{self, Scenario};
use mailsim::service::Transcript;
use rayon::prelude::*;

/// An output tree: relative path -> contents (`None` for a folder).
type Tree = BTreeMap<String, Option<Vec<u8>>>;

#[test]
fn the_scenarios_folder_holds_the_bundled_scenarios() {
    let names: Vec<String> = scenario_files()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for bundled in ["quickstart.toml", "arpanet-1969.toml", "arpanet-1971.toml"] {
        assert!(
            names.iter().any(|n| n == bundled),
            "{bundled} missing: {names:?}"
        );
    }
}

#[test]
fn two_runs_with_the_same_seed_write_identical_files() {
    let tmp = Scratch::new("same-seed");
    for path in scenario_files() {
        let sc = load(&path);
        let first = run_tree(&sc, sc.run.seed, &tmp.sub(&path, "first"));
        let second = run_tree(&sc, sc.run.seed, &tmp.sub(&path, "second"));
        assert_has_every_output(&path, &first);
        assert_same_tree(&path.display().to_string(), &first, &second);
    }
}

#[test]
fn another_seed_gives_another_message_log() {
    let tmp = Scratch::new("other-seed");
    let mut checked = 0;
    for path in scenario_files() {
        let sc = load(&path);
        if sc.workloads.is_empty() {
            continue;
        }
        let other = sc.run.seed.wrapping_add(1);
        let a = run_tree(&sc, sc.run.seed, &tmp.sub(&path, "a"));
        let b = run_tree(&sc, other, &tmp.sub(&path, "b"));
        assert_ne!(
            a["messages.csv"],
            b["messages.csv"],
            "{}: seeds {} and {other} gave the same messages.csv",
            path.display(),
            sc.run.seed
        );
        checked += 1;
    }
    assert!(checked > 0, "no scenario with a workload");
}

#[test]
fn concurrent_runs_on_several_threads_match_sequential_runs() {
    let tmp = Scratch::new("threads");
    let scenarios: Vec<(PathBuf, Scenario)> = scenario_files()
        .into_iter()
        .map(|p| (p.clone(), load(&p)))
        .collect();
    // Two seeds per scenario, so that runs of one scenario overlap too.
    let jobs: Vec<(usize, u64)> = (0..scenarios.len())
        .flat_map(|i| {
            let s = scenarios[i].1.run.seed;
            [(i, s), (i, s.wrapping_add(1))]
        })
        .collect();
    let job_dir =
        |tag: &str, (i, seed): (usize, u64)| tmp.sub(&scenarios[i].0, &format!("{tag}-{seed}"));

    let sequential: Vec<Tree> = jobs
        .iter()
        .map(|&j| run_tree(&scenarios[j.0].1, j.1, &job_dir("seq", j)))
        .collect();
    for threads in [2, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        // Reversed, so the interleaving differs from the sequential order.
        let parallel: Vec<Tree> = pool.install(|| {
            jobs.par_iter()
                .rev()
                .map(|&j| {
                    let dir = job_dir(&format!("par{threads}"), j);
                    run_tree(&scenarios[j.0].1, j.1, &dir)
                })
                .collect()
        });
        for (k, tree) in parallel.iter().rev().enumerate() {
            let (i, seed) = jobs[k];
            let path = scenarios[i].0.display();
            let label = format!("{path} (seed {seed}, {threads} threads)");
            assert_same_tree(&label, &sequential[k], tree);
        }
    }
}

/// The bundled scenarios route statically or by distance vector; the
/// lesson comparing the two dynamic protocols is also run under link state
/// (as its header tells readers to), twice at once on two threads and once
/// alone.
#[test]
fn the_link_state_variant_of_the_routing_lesson_is_deterministic_too() {
    let tmp = Scratch::new("link-state");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/arpanet-1971-dv-vs-spf.toml");
    let mut sc = load(&path);
    sc.set_routing("link-state").expect("a protocol");
    let alone = run_tree(&sc, sc.run.seed, &tmp.sub(&path, "alone"));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("thread pool");
    let together: Vec<Tree> = pool.install(|| {
        ["x", "y"]
            .par_iter()
            .map(|tag| run_tree(&sc, sc.run.seed, &tmp.sub(&path, tag)))
            .collect()
    });
    let summary =
        String::from_utf8_lossy(alone["summary.json"].as_ref().expect("a file")).into_owned();
    assert!(summary.contains("\"link-state\""), "not a link-state run");
    for (k, tree) in together.iter().enumerate() {
        assert_same_tree(&format!("link state, concurrent run {k}"), &alone, tree);
    }
}

// ---- helpers ----------------------------------------------------------

/// Scenarios too heavy to run the dozen times each test here needs (a
/// minute or more in all); tests/heavy_scenarios.rs checks their
/// determinism on a shortened run instead.
const HEAVY: [&str; 2] = ["large-1000.toml", "ns3-grid-reference.toml"];

/// Every `*.toml` directly under `scenarios/` but the `HEAVY` ones, in
/// name order.
fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| !HEAVY.iter().any(|h| p.file_name().is_some_and(|n| n == *h)))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario in {}", dir.display());
    files
}

fn load(path: &Path) -> Scenario {
    scenario::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `sc` with `seed`, writes every output with a transcript into
/// `dir`, and reads the tree back.
fn run_tree(sc: &Scenario, seed: u64, dir: &Path) -> Tree {
    fs::create_dir_all(dir).expect("create output folder");
    let transcript = File::create(dir.join("transcript.txt")).expect("transcript.txt");
    let outcome = mailsim::experiment::run(sc, Some(seed), |w| {
        w.transcript = Transcript::to_writer(Box::new(BufWriter::new(transcript)));
    });
    let name = sc
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    mailsim::report::write_all(&outcome, &name.unwrap_or_default(), dir).expect("write outputs");
    drop(outcome);
    read_tree(dir)
}

fn read_tree(root: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, tree: &mut Tree) {
        for entry in fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("directory entry").path();
            let rel = path.strip_prefix(root).expect("under root");
            let rel = rel.to_string_lossy().replace('\\', "/");
            if path.is_dir() {
                tree.insert(rel, None);
                walk(root, &path, tree);
            } else {
                tree.insert(rel, Some(fs::read(&path).expect("read output")));
            }
        }
    }
    let mut tree = Tree::new();
    walk(root, root, &mut tree);
    tree
}

fn assert_has_every_output(scenario: &Path, tree: &Tree) {
    for f in [
        "summary.json",
        "messages.csv",
        "links.csv",
        "transcript.txt",
    ] {
        let size = tree.get(f).and_then(|c| c.as_ref()).map(Vec::len);
        assert!(
            size > Some(0),
            "{}: {f} missing or empty",
            scenario.display()
        );
    }
    assert!(
        tree.keys().any(|k| k.starts_with("maildir/")),
        "{}: no maildir",
        scenario.display()
    );
}

/// Compares two trees name by name, then byte by byte, naming the first
/// differing line of the first differing file.
fn assert_same_tree(run: &str, a: &Tree, b: &Tree) {
    let names_a: Vec<&String> = a.keys().collect();
    let names_b: Vec<&String> = b.keys().collect();
    assert_eq!(names_a, names_b, "{run}: file lists differ");
    for (name, content) in a {
        let (x, y) = (content.as_deref(), b[name].as_deref());
        if x != y {
            let (x, y) = (x.unwrap_or_default(), y.unwrap_or_default());
            panic!("{run}: {name} {}", first_difference(x, y));
        }
    }
}

/// Where two byte strings first differ: the line number and both lines.
fn first_difference(x: &[u8], y: &[u8]) -> String {
    let at = x
        .iter()
        .zip(y)
        .position(|(p, q)| p != q)
        .unwrap_or(x.len().min(y.len()));
    let line_no = x[..at].iter().filter(|&&c| c == b'\n').count();
    let line = |s: &[u8]| {
        let text = String::from_utf8_lossy(s).into_owned();
        text.split('\n')
            .nth(line_no)
            .unwrap_or_default()
            .to_string()
    };
    format!(
        "differs from byte {at} (line {}; sizes {} and {}):\n  {:?}\n  {:?}",
        line_no + 1,
        x.len(),
        y.len(),
        line(x),
        line(y)
    )
}

/// A scratch folder under the system temp folder, removed when the test
/// passes (kept for inspection when it fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("mailsim-determinism-{pid}-{test}"));
        let _ = fs::remove_dir_all(&dir);
        Scratch(dir)
    }

    /// The folder for one run of `scenario`.
    fn sub(&self, scenario: &Path, run: &str) -> PathBuf {
        let stem = scenario.file_stem().unwrap_or_default().to_string_lossy();
        self.0.join(format!("{stem}-{run}"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}
