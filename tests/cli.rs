//! The `mailsim` binary as a user meets it: exit statuses, usage messages,
//! the output files of a run, and one exact `file:line:column: key:` error
//! for every kind of broken scenario, from both `check` and `run`.
//!
//! Every command runs in the crate folder with relative paths, so the file
//! names in the expected messages are the ones a user would type.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crate folder, where `scenarios/` and `tests/data/` live.
fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `mailsim` with `args` in the crate folder.
fn mailsim(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_mailsim"))
        .args(args)
        .current_dir(crate_dir())
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!("cannot start mailsim {args:?}: {e}"),
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts exit status 2, a usage message and no panic.
fn assert_usage_error(args: &[&str], fragment: &str) {
    let out = mailsim(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "mailsim {args:?}: {err}");
    assert!(err.contains("Usage: mailsim"), "mailsim {args:?}: {err}");
    assert!(err.contains(fragment), "mailsim {args:?}: {err}");
    assert!(!err.contains("panicked"), "mailsim {args:?}: {err}");
}

/// A fresh, empty folder for one test's outputs, under Cargo's own
/// temporary folder for integration tests.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    if dir.exists()
        && let Err(e) = std::fs::remove_dir_all(&dir)
    {
        panic!("cannot clear {}: {e}", dir.display());
    }
    dir
}

#[test]
fn no_arguments_print_usage_and_exit_2() {
    assert_usage_error(&[], "Commands:");
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    assert_usage_error(&["frobnicate"], "unrecognized subcommand 'frobnicate'");
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    assert_usage_error(
        &["check", "--bogus", "scenarios/quickstart.toml"],
        "unexpected argument '--bogus'",
    );
    assert_usage_error(
        &["run", "--bogus", "scenarios/quickstart.toml"],
        "unexpected argument '--bogus'",
    );
}

#[test]
fn a_missing_scenario_argument_is_a_usage_error() {
    assert_usage_error(&["run"], "<SCENARIO>");
    assert_usage_error(&["check"], "<SCENARIO>");
}

#[test]
fn a_seed_that_is_not_a_number_is_refused() {
    let out = mailsim(&["run", "tests/data/two_domains.toml", "--seed", "x"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid value 'x' for '--seed <SEED>'"),
        "{err}"
    );
}

#[test]
fn check_accepts_the_quickstart_scenario() {
    let out = mailsim(&["check", "scenarios/quickstart.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "scenarios/quickstart.toml: ok (6 hosts, 3 routers, 9 links, 2 domains, 5 clients)\n"
    );
}

#[test]
fn run_writes_the_summary_tables_and_maildirs() {
    let dir = fresh_dir("run");
    let out_arg = dir.to_string_lossy().into_owned();
    let out = mailsim(&["run", "tests/data/two_domains.toml", "--out", &out_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("delivered                  1"));
    for file in ["summary.json", "messages.csv", "links.csv"] {
        assert!(dir.join(file).is_file(), "{file} is missing");
    }
    assert!(dir.join("maildir/bob@b.example/cur").is_dir());
    assert!(!dir.join("transcript.txt").exists());
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap_or_default();
    assert!(summary.contains("\"seed\": 7"), "{summary}");
}

#[test]
fn run_with_transcript_also_writes_every_protocol_line() {
    let dir = fresh_dir("transcript");
    let out_arg = dir.to_string_lossy().into_owned();
    let args = [
        "run",
        "tests/data/two_domains.toml",
        "--out",
        &out_arg,
        "--transcript",
        "--quiet",
    ];
    let out = mailsim(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "--quiet prints nothing on success");
    for file in [
        "summary.json",
        "messages.csv",
        "links.csv",
        "transcript.txt",
    ] {
        assert!(dir.join(file).is_file(), "{file} is missing");
    }
    assert!(dir.join("maildir").is_dir());
    let transcript = std::fs::read_to_string(dir.join("transcript.txt")).unwrap_or_default();
    assert!(
        transcript.contains("MAIL FROM:<alice@a.example>"),
        "{transcript}"
    );
}

/// A broken scenario: both `check` and `run` exit with 2, print exactly
/// one `error: ` line that starts with `prefix` and contains `fragment`,
/// never panic, and `run` writes nothing.
fn assert_bad_scenario(file: &str, prefix: &str, fragment: &str) {
    let dir = fresh_dir(&file.replace(['/', '.'], "_"));
    let out_arg = dir.to_string_lossy().into_owned();
    let runs = [
        mailsim(&["check", file]),
        mailsim(&["run", file, "--out", &out_arg]),
    ];
    for out in &runs {
        let err = stderr(out);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(!err.contains("panicked"), "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "{file}: {err}");
        let expected = format!("error: {prefix}");
        assert!(
            err.starts_with(&expected),
            "{file}:\n{err}wanted: {expected}"
        );
        assert!(err.contains(fragment), "{file}:\n{err}wanted: {fragment}");
        assert_eq!(stdout(out), "", "{file}");
    }
    assert!(!dir.exists(), "{file}: run created its output folder");
}

#[test]
fn the_broken_fixtures_differ_from_a_valid_scenario() {
    let out = mailsim(&["check", "tests/data/bad/good.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_toml_syntax_error_names_line_column_and_key() {
    assert_bad_scenario(
        "tests/data/bad/syntax_error.toml",
        "tests/data/bad/syntax_error.toml:5:11: router[0].name: ",
        "invalid basic string",
    );
}

#[test]
fn an_unknown_top_level_key_gets_a_suggestion() {
    assert_bad_scenario(
        "tests/data/bad/unknown_top_key.toml",
        "tests/data/bad/unknown_top_key.toml:4:3: routers: ",
        "unknown key `routers` (did you mean `router`?)",
    );
}

#[test]
fn an_unknown_nested_key_names_its_table() {
    assert_bad_scenario(
        "tests/data/bad/unknown_nested_key.toml",
        "tests/data/bad/unknown_nested_key.toml:8:1: link[0].bandwith: ",
        "unknown key `bandwith` (did you mean `bandwidth`?)",
    );
}

#[test]
fn a_value_of_the_wrong_type_names_the_key() {
    assert_bad_scenario(
        "tests/data/bad/wrong_type.toml",
        "tests/data/bad/wrong_type.toml:8:7: link[0].mtu: ",
        "expected a whole number, found string \"1500\"",
    );
}

#[test]
fn a_bad_unit_is_reported_with_examples() {
    assert_bad_scenario(
        "tests/data/bad/bad_unit.toml",
        "tests/data/bad/bad_unit.toml:7:13: link[0].bandwidth: ",
        "cannot read \"10Mbs\" as a bandwidth (examples: \"50kbps\", \"10Mbps\", \"1Gbps\")",
    );
}

#[test]
fn a_link_to_an_undeclared_router_is_a_dangling_reference() {
    assert_bad_scenario(
        "tests/data/bad/dangling_reference.toml",
        "tests/data/bad/dangling_reference.toml:7:12: link[0].between[0]: ",
        "no router or host is named \"r9\" (did you mean \"r1\"?)",
    );
}

#[test]
fn a_missing_send_file_is_reported_at_its_key() {
    assert_bad_scenario(
        "tests/data/bad/missing_send_file.toml",
        "tests/data/bad/missing_send_file.toml:25:8: send[0].file: ",
        "cannot read \"tests/data/bad/messages/none.eml\"",
    );
}

#[test]
fn a_send_file_that_is_not_a_message_is_reported_at_its_key() {
    assert_bad_scenario(
        "tests/data/bad/headerless_send_file.toml",
        "tests/data/bad/headerless_send_file.toml:25:8: send[0].file: ",
        "does not start with a header field",
    );
}

#[test]
fn a_disconnected_network_names_the_unreachable_host() {
    assert_bad_scenario(
        "tests/data/bad/disconnected.toml",
        "tests/data/bad/disconnected.toml:22:8: host[2].name: ",
        "host \"pc.b.example\" cannot be reached from \"r1\"",
    );
}

#[test]
fn a_nonexistent_scenario_is_named_without_a_line() {
    assert_bad_scenario(
        "tests/data/bad/no_such_file.toml",
        "tests/data/bad/no_such_file.toml: cannot read the scenario: ",
        "No such file",
    );
}

#[test]
fn a_folder_given_as_scenario_is_refused() {
    assert_bad_scenario(
        "tests/data/bad",
        "tests/data/bad: cannot read the scenario: ",
        "",
    );
}

#[test]
fn a_scenario_that_is_not_utf8_is_refused() {
    assert_bad_scenario(
        "tests/data/bad/not_utf8.toml",
        "tests/data/bad/not_utf8.toml: cannot read the scenario: ",
        "UTF-8",
    );
}

/// Mail across a ring of 200 routers between hosts on r1 and r101: the
/// path with the fewest routers has 101 of them (r1 ... r101). A packet
/// sent with TTL t crosses t - 1 routers (each decrements it; RFC 791
/// 3.2), so TTL 102 is the least that delivers.
fn far_apart(ttl: &str) -> String {
    format!(
        r#"[run]
duration = "10m"
[network]
{ttl}
[[topology]]
generator = "ring"
nodes = 200
link = {{ bandwidth = "10Mbps", delay = "1ms" }}
[[host]]
name = "mta.a.example"
attach = "r1"
services = ["mta", "pop3", "dns"]
[[host]]
name = "mx.b.example"
attach = "r101"
services = ["mta", "pop3", "dns"]
[[domain]]
name = "a.example"
mx = [{{ host = "mta.a.example", preference = 10 }}]
users = ["alice"]
[[domain]]
name = "b.example"
mx = [{{ host = "mx.b.example", preference = 10 }}]
users = ["bob"]
[[client]]
users = "*@a.example"
host = "mta.a.example"
[[client]]
users = "*@b.example"
host = "mx.b.example"
[[workload]]
users = "*@a.example"
to = "*@b.example"
rate = "60/h"
stop = "5m"
size = {{ distribution = "fixed", value = "2KB" }}
"#
    )
}

#[test]
fn hosts_farther_apart_than_the_ttl_get_a_warning_and_ttl_can_be_raised() {
    let dir = fresh_dir("ttl");
    std::fs::create_dir_all(&dir).expect("folder");
    let delivered = |ttl: &str, tag: &str| {
        let file = dir.join(format!("{tag}.toml"));
        std::fs::write(&file, far_apart(ttl)).expect("write scenario");
        let file = file.to_string_lossy().into_owned();
        let checked = mailsim(&["check", &file]);
        assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
        let out = dir.join(tag).to_string_lossy().into_owned();
        let ran = mailsim(&["run", &file, "--quiet", "--out", &out]);
        assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
        let summary = std::fs::read_to_string(dir.join(tag).join("summary.json")).expect("summary");
        let v: serde_json::Value = serde_json::from_str(&summary).expect("json");
        let warned = stderr(&checked).contains("warning:") && stderr(&ran).contains("warning:");
        (
            v["messages"]["delivered"].as_u64().expect("count"),
            stderr(&checked),
            warned,
        )
    };
    let (n, err, warned) = delivered("", "default");
    assert!(warned && n == 0, "{n} delivered: {err}");
    assert!(
        err.contains("mta.a.example")
            && err.contains("mx.b.example")
            && err.contains("101 routers apart"),
        "{err}"
    );
    assert!(
        err.contains("TTL 64 crosses at most 63") && err.contains("ttl to at least 102"),
        "{err}"
    );
    let (n, err, warned) = delivered("ttl = 101", "ttl101");
    assert!(warned && n == 0, "{n} delivered: {err}");
    // What is still queued at the end says where it waits and why.
    let rows =
        std::fs::read_to_string(dir.join("ttl101").join("messages.csv")).expect("messages.csv");
    let queued: Vec<&str> = rows.lines().filter(|l| l.contains(",queued,")).collect();
    assert!(!queued.is_empty(), "{rows}");
    for l in queued {
        assert!(
            l.contains(",queued,in the queue of mta.a.example; last attempt: "),
            "{l}"
        );
    }
    let (n, err, warned) = delivered("ttl = 102", "ttl102");
    assert!(!warned && n > 0, "{n} delivered: {err}");

    let file = dir.join("bad.toml");
    std::fs::write(&file, far_apart("ttl = 300")).expect("write scenario");
    let out = mailsim(&["check", &file.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("network.ttl"), "{}", stderr(&out));
}

#[test]
fn a_fault_after_the_end_of_the_run_gets_a_warning() {
    let dir = fresh_dir("late-fault");
    std::fs::create_dir_all(&dir).expect("folder");
    let file = dir.join("late.toml");
    let text = far_apart("ttl = 102")
        + "[[fault]]\nat = \"1h\"\nlink_down = [\"r1\", \"r2\"]\n[[fault]]\nat = \"5m\"\nlink_down = [\"r2\", \"r3\"]\n";
    std::fs::write(&file, text).expect("write scenario");
    let out = mailsim(&["check", &file.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning:")
            && err.contains("after the end of the run (600 s) will not happen: at 3600 s ("),
        "{err}"
    );
}
