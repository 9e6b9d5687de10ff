//! The `mailsim` command line: `run` a scenario, `check` one without
//! running it.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use mailsim::report;
use mailsim::scenario;
use mailsim::service::Transcript;

/// A deterministic discrete-event simulator of an email network.
#[derive(Parser)]
#[command(name = "mailsim", version, about)]
struct Cli {
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
    match cli.command {
        Command::Check { scenario } => match scenario::load(&scenario) {
            Ok(sc) => {
                println!(
                    "{}: ok ({} hosts, {} routers, {} links, {} domains, {} clients)",
                    scenario.display(),
                    sc.hosts.len(),
                    sc.routers.len(),
                    sc.links.len(),
                    sc.domains.len(),
                    sc.clients.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            scenario,
            out,
            seed,
            transcript,
            quiet,
        } => run(&scenario, &out, seed, transcript, quiet),
    }
}

fn run(path: &Path, out: &Path, seed: Option<u64>, transcript: bool, quiet: bool) -> ExitCode {
    let sc = match scenario::load(path) {
        Ok(sc) => sc,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("error: cannot create {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let mut open_error = None;
    let outcome = mailsim::experiment::run(&sc, seed, |w| {
        if !transcript {
            return;
        }
        match File::create(out.join("transcript.txt")) {
            Ok(f) => w.transcript = Transcript::to_writer(Box::new(BufWriter::new(f))),
            Err(e) => open_error = Some(e),
        }
    });
    if let Some(e) = open_error {
        eprintln!("error: cannot write transcript.txt: {e}");
        return ExitCode::from(1);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let summary = match report::write_all(&outcome, &name, out) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: writing outputs to {}: {e}", out.display());
            return ExitCode::from(1);
        }
    };
    if !quiet {
        print_table(&summary, &outcome, out);
    }
    if summary.messages.lost > 0 {
        eprintln!(
            "error: {} (message, recipient) pairs are unaccounted for",
            summary.messages.lost
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn print_table(s: &report::Summary, o: &mailsim::experiment::RunOutcome, out: &Path) {
    let wall = o.wall.as_secs_f64();
    let m = &s.messages;
    let fmt = |v: Option<f64>| v.map(|x| format!("{x:.3} s")).unwrap_or_else(|| "-".into());
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
        fmt(s.latency_s.p50),
        fmt(s.latency_s.p95),
        fmt(s.latency_s.p99),
        fmt(s.latency_s.max)
    );
    println!(
        "  sessions          SMTP {}  POP3 {}  IMAP {}  DNS answers {}",
        s.services.smtp_sessions,
        s.services.pop3_sessions,
        s.services.imap_sessions,
        s.services.dns_answered
    );
    let drops: u64 = s.network.drops.values().sum();
    println!(
        "  network           {} packets, {} bytes, {} dropped",
        s.network.packets, s.network.bytes, drops
    );
    println!("  outputs in        {}", out.display());
}
