//! The `mailsim` command line: `run` a scenario (once, or as parallel
//! replications over consecutive seeds), `check` one without running it.

use std::cell::RefCell;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use clap::{Parser, Subcommand};
use rayon::prelude::*;

use mailsim::experiment::{self, RunOutcome};
use mailsim::report::{self, Capture, CapturePoints, Summary};
use mailsim::scenario::{self, Scenario};
use mailsim::service::Transcript;

/// A deterministic discrete-event simulator of an email network.
#[derive(Parser)]
#[command(name = "mailsim", version, about)]
struct Cli {
    /// Log progress to stderr (-v: milestones, -vv: MTA queue decisions).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its outputs.
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Folder for the outputs (created if missing).
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Use this seed instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Also write transcript.txt: every protocol line with time.
        #[arg(long)]
        transcript: bool,
        /// Also write capture.pcap: every packet as it leaves its host,
        /// for Wireshark or tshark.
        #[arg(long)]
        pcap: bool,
        /// Capture only at this node: packets it sends on its links or
        /// receives from them (repeatable; implies --pcap).
        #[arg(long, value_name = "NAME")]
        pcap_node: Vec<String>,
        /// Capture only on this link: packets transmitted on it, both
        /// directions (repeatable; implies --pcap).
        #[arg(long, value_name = "A-B")]
        pcap_link: Vec<String>,
        /// Use this routing protocol instead of the scenario's
        /// (static, distance-vector or link-state), e.g. to compare two
        /// protocols on the same load and faults.
        #[arg(long, value_name = "PROTOCOL")]
        routing: Option<String>,
        /// Run N replications with seeds seed, seed+1, ... in parallel;
        /// each writes into OUT/seed-<n>/, and OUT/replications.csv
        /// summarises them.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        replications: u32,
        /// Print nothing on success.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Validate a scenario without running it.
    Check {
        /// The scenario file (TOML).
        scenario: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match cli.command {
        Command::Check { scenario } => check(&scenario),
        Command::Run {
            scenario,
            out,
            seed,
            transcript,
            pcap,
            pcap_node,
            pcap_link,
            routing,
            replications,
            quiet,
        } => {
            let mut sc = match scenario::load(&scenario) {
                Ok(sc) => sc,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Some(r) = routing
                && let Err(e) = sc.set_routing(&r)
            {
                eprintln!("error: --routing: {e}");
                return ExitCode::from(2);
            }
            for w in sc.warnings() {
                eprintln!("warning: {}: {w}", scenario.display());
            }
            let name = file_name(&scenario);
            if replications > 1 {
                return replicate(&sc, &name, &out, seed, replications, quiet);
            }
            // Scenario names are kept in lower case, as DNS names compare.
            let lower = |v: Vec<String>| v.iter().map(|n| n.to_ascii_lowercase()).collect();
            let points = CapturePoints {
                nodes: lower(pcap_node),
                links: lower(pcap_link),
            };
            if let Err(e) = points.check(&sc) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            let pcap = pcap || !points.is_everywhere();
            let extras = Extras {
                transcript,
                pcap,
                points,
            };
            run_one(&sc, &name, &out, seed, extras, quiet)
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => return,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn check(path: &Path) -> ExitCode {
    match scenario::load(path) {
        Ok(sc) => {
            println!(
                "{}: ok ({} hosts, {} routers, {} links, {} domains, {} clients)",
                path.display(),
                sc.hosts.len(),
                sc.routers.len(),
                sc.links.len(),
                sc.domains.len(),
                sc.clients.len()
            );
            for w in sc.warnings() {
                eprintln!("warning: {}: {w}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The optional outputs of a single run.
struct Extras {
    transcript: bool,
    pcap: bool,
    points: CapturePoints,
}

fn run_one(
    sc: &Scenario,
    name: &str,
    out: &Path,
    seed: Option<u64>,
    extras: Extras,
    quiet: bool,
) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("error: cannot create {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let transcript_path = out.join("transcript.txt");
    let pcap_path = out.join("capture.pcap");
    // Files left by an earlier run would not match this one.
    for (wanted, path) in [
        (extras.transcript, &transcript_path),
        (extras.pcap, &pcap_path),
    ] {
        if !wanted {
            let _ = std::fs::remove_file(path);
        }
    }
    let capture = Rc::new(RefCell::new(None));
    if extras.pcap {
        match Capture::create(&pcap_path, sc.run.start_unix) {
            Ok(c) => *capture.borrow_mut() = Some(c),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", pcap_path.display());
                return ExitCode::from(1);
            }
        }
    }
    let mut open_error = None;
    let outcome = experiment::run(sc, seed, |w| {
        if extras.pcap {
            extras.points.install(w, &capture);
        }
        if extras.transcript {
            match File::create(&transcript_path) {
                Ok(f) => w.transcript = Transcript::to_writer(Box::new(BufWriter::new(f))),
                Err(e) => open_error = Some(e),
            }
        }
    });
    if let Some(e) = open_error {
        eprintln!("error: cannot write {}: {e}", transcript_path.display());
        return ExitCode::from(1);
    }
    let finished = capture.borrow_mut().take().map(Capture::finish);
    if let Some(Err(e)) = finished {
        eprintln!("error: writing {}: {e}", pcap_path.display());
        return ExitCode::from(1);
    }
    let summary = match report::write_all(&outcome, name, out) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: writing outputs to {}: {e}", out.display());
            return ExitCode::from(1);
        }
    };
    if !quiet {
        print_table(&summary, &outcome, out);
    }
    conservation(&summary)
}

/// Replications: independent runs over consecutive seeds, in parallel
/// across cores; each run is single-threaded, so the files are the same
/// whatever the number of threads.
fn replicate(
    sc: &Scenario,
    name: &str,
    out: &Path,
    seed: Option<u64>,
    n: u32,
    quiet: bool,
) -> ExitCode {
    let first = seed.unwrap_or(sc.run.seed);
    let seeds: Vec<u64> = (0..u64::from(n)).map(|i| first.wrapping_add(i)).collect();
    let started = std::time::Instant::now();
    let results: Vec<std::io::Result<Summary>> = seeds
        .par_iter()
        .map(|&s| {
            let outcome = experiment::run(sc, Some(s), |_| {});
            report::write_all(&outcome, name, &out.join(format!("seed-{s}")))
        })
        .collect();
    let mut summaries = Vec::new();
    for r in results {
        match r {
            Ok(s) => summaries.push(s),
            Err(e) => {
                eprintln!("error: writing outputs under {}: {e}", out.display());
                return ExitCode::from(1);
            }
        }
    }
    if let Err(e) = report::write_replications(&summaries, &out.join("replications.csv")) {
        eprintln!("error: writing replications.csv: {e}");
        return ExitCode::from(1);
    }
    if !quiet {
        let delivered: u64 = summaries.iter().map(|s| s.messages.balance.delivered).sum();
        println!(
            "mailsim: {name}, {n} replications (seeds {first}..={})",
            seeds[seeds.len() - 1]
        );
        println!(
            "  wall time         {:>12.3} s",
            started.elapsed().as_secs_f64()
        );
        println!("  delivered in all  {delivered:>12}");
        println!("  outputs in        {}", out.display());
    }
    summaries
        .iter()
        .map(conservation)
        .find(|c| *c != ExitCode::SUCCESS)
        .unwrap_or(ExitCode::SUCCESS)
}

fn conservation(s: &Summary) -> ExitCode {
    if s.messages.balance.lost > 0 {
        eprintln!(
            "error: seed {}: {} (message, recipient) pairs are unaccounted for",
            s.seed, s.messages.balance.lost
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn print_table(s: &Summary, o: &RunOutcome, out: &Path) {
    let wall = o.wall.as_secs_f64();
    let m = &s.messages.balance;
    let fmt = |v: Option<f64>| v.map(|x| format!("{x:.3} s")).unwrap_or_else(|| "-".into());
    let l = &s.latency_s;
    let drops: u64 = s.network.drops.values().sum();
    println!("mailsim: {} (seed {})", s.scenario, s.seed);
    println!("  simulated time    {:>12.1} s", s.sim_time_s);
    println!("  events            {:>12}", s.events);
    println!("  wall time         {:>12.3} s", wall);
    println!(
        "  events per second {:>12.0}",
        s.events as f64 / wall.max(1e-9)
    );
    println!("  messages (per recipient)");
    println!("    submitted       {:>12}", m.submitted);
    println!("    delivered       {:>12}", m.delivered);
    println!("    bounced         {:>12}", m.bounced);
    println!("    queued          {:>12}", m.queued);
    println!("    dropped         {:>12}", m.dropped);
    println!("    lost            {:>12}", m.lost);
    println!(
        "  delivery latency  p50 {}  p95 {}  p99 {}  max {}",
        fmt(l.p50),
        fmt(l.p95),
        fmt(l.p99),
        fmt(l.max)
    );
    println!(
        "  sessions          SMTP {}  POP3 {}  IMAP {}  DNS answers {}",
        s.services.smtp_sessions,
        s.services.pop3_sessions,
        s.services.imap_sessions,
        s.services.dns_answered
    );
    println!(
        "  network           {} packets, {} bytes, {} dropped",
        s.network.packets, s.network.bytes, drops
    );
    println!(
        "  link packets per second {:>6.0}",
        s.network.packets as f64 / wall.max(1e-9)
    );
    if let Some(b) = &s.bulk {
        println!(
            "  bulk flows        {} opened, {} completed, {} failed, {} bytes delivered; FCT p50 {}  p99 {}",
            b.opened,
            b.completed,
            b.failed,
            b.bytes_delivered,
            fmt(b.fct_s.p50),
            fmt(b.fct_s.p99)
        );
    }
    println!("  outputs in        {}", out.display());
}
