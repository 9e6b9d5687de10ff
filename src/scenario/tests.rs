//! Whole-loader tests: the full fixture, one test per class of error, and
//! random mutations that must never panic.

use std::path::{Path, PathBuf};

use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scenarios")
}

fn secs(s: u64) -> SimTime {
    SimTime::from_secs(s)
}

fn full() -> Scenario {
    match load(&fixtures().join("full.toml")) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// A small valid scenario; tests append sections from line 19 on.
const BASE: &str = r#"[run]
duration = "1h"
[[router]]
name = "r1"
[[host]]
name = "mx.a.example"
attach = "r1"
services = ["mta", "dns"]
[[host]]
name = "pc.a.example"
attach = "r1"
[[domain]]
name = "a.example"
mx = [{ host = "mx.a.example", preference = 10 }]
users = ["alice", "bob"]
[[client]]
users = "*@a.example"
host = "pc.a.example"
"#;

fn error(text: &str) -> ScenarioError {
    match parse_str(text, "t.toml", &fixtures()) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts the error's line, column and key exactly, and a message fragment.
fn assert_error(text: &str, line: usize, column: usize, key: &str, fragment: &str) {
    let e = error(text);
    assert_eq!(
        (e.line, e.column, e.key.as_str()),
        (line, column, key),
        "{e}"
    );
    assert!(e.message.contains(fragment), "{e}\nwanted: {fragment}");
}

fn with_base(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn the_base_scenario_is_valid() {
    let s = parse_str(BASE, "t.toml", &fixtures()).unwrap();
    assert_eq!(s.clients.len(), 2);
    assert_eq!(s.file, PathBuf::from("t.toml"));
}

#[test]
fn the_full_fixture_reads_run_and_network() {
    let s = full();
    assert_eq!(s.file, fixtures().join("full.toml"));
    let start = 1_772_368_200; // 2026-03-01T12:30:00Z
    let run = Run {
        duration: secs(7_200),
        seed: 42,
        start_unix: start,
    };
    assert_eq!(s.run, run);
    assert_eq!(s.routing, Routing::Hops);
    let routers: Vec<&str> = s.routers.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(routers, ["r1", "r2"]);

    let addresses: Vec<String> = s.hosts.iter().map(|h| h.address.to_string()).collect();
    assert_eq!(
        addresses,
        ["10.0.0.1", "10.0.2.10", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    );
    let mx_a = &s.hosts[0];
    assert_eq!(mx_a.mta, Some(MtaConfig::default()));
    assert!(mx_a.dns && !mx_a.pop3 && !mx_a.imap);
    let mx_b = &s.hosts[1];
    let mta = MtaConfig {
        retry_initial: secs(60),
        retry_backoff: 1.5,
        retry_max: secs(1_800),
        queue_lifetime: secs(86_400),
        memory_queue: false,
    };
    assert_eq!(mx_b.mta, Some(mta));
    assert!(mx_b.pop3 && mx_b.imap && !mx_b.dns);
    assert_eq!(s.hosts[4].mta, None);
}

#[test]
fn links_keep_file_order_and_layer_their_parameters() {
    let s = full();
    let link = |a: &str, b: &str, bps, delay, loss, mtu, buffer| Link {
        a: a.into(),
        b: b.into(),
        bandwidth_bps: bps,
        delay,
        loss,
        mtu,
        buffer_packets: buffer,
        queue: Default::default(),
    };
    let ms5 = SimTime::from_millis(5);
    let expected = vec![
        link(
            "r1",
            "r2",
            10_000_000,
            SimTime::from_millis(20),
            0.001,
            1400,
            50,
        ),
        link("mx.a.example", "r1", 10_000_000, ms5, 0.001, 1400, 50),
        link(
            "mx.b.example",
            "r2",
            1_000_000_000,
            SimTime::from_micros(100),
            0.001,
            1400,
            50,
        ),
        link("ns.b.example", "r2", 10_000_000, ms5, 0.001, 1400, 50),
        link("pc.a.example", "r1", 10_000_000, ms5, 0.001, 1400, 50),
        link("pc.b.example", "r2", 10_000_000, ms5, 0.0, 1400, 50),
    ];
    assert_eq!(s.links, expected);
}

#[test]
fn domains_fill_store_submission_dns_and_users() {
    let s = full();
    let user = |local: &str, password: &str| User {
        local: local.into(),
        password: password.into(),
    };
    let a = Domain {
        name: "a.example".into(),
        mx: vec![("mx.a.example".into(), 10)],
        store: Some("mx.a.example".into()),
        submission: Some("mx.a.example".into()),
        dns: vec!["mx.a.example".into(), "ns.b.example".into()],
        ttl: 3_600,
        users: vec![user("alice", "mailsim"), user("dave", "s3cret")],
    };
    let b = Domain {
        name: "b.example".into(),
        mx: vec![("mx.b.example".into(), 20), ("mx.a.example".into(), 5)],
        store: Some("mx.b.example".into()),
        submission: Some("mx.b.example".into()),
        dns: vec!["ns.b.example".into()],
        ttl: 600,
        users: vec![
            user("user1", "pw"),
            user("user2", "pw"),
            user("user3", "pw"),
        ],
    };
    assert_eq!(s.domains, vec![a, b]);
    assert_eq!(s.addresses().len(), 5);
    assert_eq!(
        s.zone_of("www.b.example").map(|d| d.name.as_str()),
        Some("b.example")
    );

    let records = vec![
        Record {
            zone: "b.example".into(),
            name: "www.b.example".into(),
            kind: RecordKind::A,
            value: "10.0.2.80".into(),
            ttl: 300,
        },
        Record {
            zone: "a.example".into(),
            name: "a.example".into(),
            kind: RecordKind::Txt,
            value: "v=spf1 -all".into(),
            ttl: 3_600,
        },
    ];
    assert_eq!(s.records, records);
}

#[test]
fn clients_expand_patterns_and_default_their_servers() {
    let s = full();
    let imap = Fetch {
        protocol: FetchProtocol::Imap,
        every: secs(300),
        keep: true,
        server: "mx.b.example".into(),
    };
    let client = |user: &str, host: &str, submit: &str, fetch: Option<Fetch>| Client {
        user: user.into(),
        host: host.into(),
        submit: submit.into(),
        fetch,
    };
    let pop3 = Fetch {
        protocol: FetchProtocol::Pop3,
        every: secs(600),
        keep: false,
        server: "mx.b.example".into(),
    };
    let expected = vec![
        client("alice@a.example", "pc.a.example", "mx.a.example", None),
        client(
            "user1@b.example",
            "pc.b.example",
            "mx.b.example",
            Some(imap.clone()),
        ),
        client(
            "user2@b.example",
            "pc.b.example",
            "mx.b.example",
            Some(imap.clone()),
        ),
        client(
            "user3@b.example",
            "pc.b.example",
            "mx.b.example",
            Some(imap),
        ),
        client("dave@a.example", "pc.a.example", "mx.a.example", Some(pop3)),
    ];
    assert_eq!(s.clients, expected);
}

#[test]
fn workloads_read_rates_sizes_and_recipient_pools() {
    let s = full();
    let b_users: Vec<String> = (1..=3).map(|n| format!("user{n}@b.example")).collect();
    let everyone: Vec<String> = ["alice@a.example", "dave@a.example"]
        .iter()
        .map(|a| a.to_string())
        .chain(b_users.clone())
        .collect();
    let first = Workload {
        senders: b_users.clone(),
        rate_per_sec: 20.0 / 86_400.0,
        size: SizeDist::LogNormal {
            median: 8_000,
            sigma: 1.0,
        },
        recipients: everyone.clone(),
        local_fraction: Some(0.5),
        start: secs(60),
        stop: secs(3_600),
    };
    let mut pool = b_users;
    pool.push("nobody@nowhere.example".into());
    let second = Workload {
        senders: vec!["alice@a.example".into()],
        rate_per_sec: 2.0 / 3_600.0,
        size: SizeDist::Uniform {
            min: 1_000,
            max: 10_240,
        },
        recipients: pool,
        local_fraction: None,
        start: SimTime::ZERO,
        stop: secs(7_200),
    };
    let third = Workload {
        senders: vec!["dave@a.example".into()],
        rate_per_sec: 1.0 / 60.0,
        size: SizeDist::Fixed(4_000),
        recipients: everyone,
        local_fraction: None,
        start: SimTime::ZERO,
        stop: secs(7_200),
    };
    assert_eq!(s.workloads, vec![first, second, third]);
}

#[test]
fn sends_carry_their_file_and_faults_name_declared_links() {
    let s = full();
    let file = fixtures().join("messages/hello.eml");
    let send = Send {
        at: secs(10),
        from: "alice@a.example".into(),
        to: vec!["bob@b.example".into(), "user1@b.example".into()],
        data: std::fs::read(&file).unwrap(),
        file,
    };
    assert_eq!(s.sends, vec![send]);
    assert!(s.sends[0].data.starts_with(b"From: Alice"));
    let fault = |m: u64, action| Fault {
        at: secs(m * 60),
        action,
    };
    let expected = vec![
        fault(30, FaultAction::HostDown("mx.b.example".into())),
        fault(40, FaultAction::HostUp("mx.b.example".into())),
        fault(50, FaultAction::LinkDown("r1".into(), "r2".into())),
        fault(55, FaultAction::LinkUp("r1".into(), "r2".into())),
    ];
    assert_eq!(s.faults, expected);
}

#[test]
fn a_missing_scenario_file_is_an_error_without_a_line() {
    let e = load(Path::new("/nonexistent/x.toml")).unwrap_err();
    assert_eq!((e.line, e.column, e.key.as_str()), (0, 0, ""));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/x.toml: cannot read the scenario")
    );
}

#[test]
fn toml_syntax_errors_point_at_the_broken_text() {
    assert_error(
        "[run]\nduration = \"1h\n",
        2,
        15,
        "run.duration",
        "invalid basic string",
    );
    assert_error(
        "[run]\nduration = \"1h\"\nduration = \"2h\"",
        3,
        1,
        "duration",
        "given twice",
    );
    assert_error("[run\nduration = \"1h\"", 1, 5, "", "");
}

#[test]
fn unknown_keys_are_refused_with_a_suggestion() {
    let top = with_base("[[linkk]]\nbetween = [\"r1\", \"r2\"]\n");
    assert_error(
        &top,
        19,
        3,
        "linkk",
        "unknown key `linkk` (did you mean `link`?)",
    );
    let nested = with_base(
        "[[router]]\nname = \"r2\"\n[[link]]\nbetween = [\"r1\", \"r2\"]\nbandwith = \"1Mbps\"\n",
    );
    assert_error(
        &nested,
        23,
        1,
        "link[0].bandwith",
        "(did you mean `bandwidth`?)",
    );
    let inline = BASE.replace(
        "services = [\"mta\", \"dns\"]",
        "services = [\"mta\", \"dns\"]\nmta = { retry = \"1m\", bakoff = 2 }",
    );
    assert_error(
        &inline,
        9,
        23,
        "host[0].mta.bakoff",
        "allowed here: retry, backoff",
    );
}

#[test]
fn wrong_types_and_missing_keys_name_the_key() {
    assert_error(
        "[run]\nduration = 5",
        2,
        12,
        "run.duration",
        "expected a string, found integer `5`",
    );
    assert_error(
        "[run]\nseed = 5",
        1,
        1,
        "run.duration",
        "required key is missing",
    );
    assert_error(
        "[network]\nrouting = \"hops\"",
        1,
        1,
        "run",
        "the [run] table is missing",
    );
    let users = with_base("[[domain]]\nname = \"b.example\"\nusers = 5\n");
    assert_error(&users, 21, 9, "domain[1].users", "expected a list of users");
}

#[test]
fn bad_units_are_reported_with_examples() {
    let text = with_base(
        "[[router]]\nname = \"r2\"\n[[link]]\nbetween = [\"r1\", \"r2\"]\nbandwidth = \"10Mbs\"\n",
    );
    let e = error(&text);
    assert_eq!(
        e.to_string(),
        concat!(
            r#"t.toml:23:13: link[0].bandwidth: cannot read "10Mbs" as a bandwidth "#,
            r#"(examples: "50kbps", "10Mbps", "1Gbps")"#
        )
    );
    assert_error(
        "[run]\nduration = \"0s\"",
        2,
        12,
        "run.duration",
        "longer than zero",
    );
    assert_error(
        "[run]\nduration = \"1h\"\nstart = 2026-01-05T09:00:00+01:00",
        3,
        9,
        "run.start",
        "ending in Z",
    );
}

#[test]
fn dangling_references_point_at_the_referring_key() {
    let link = with_base("[[link]]\nbetween = [\"r1\", \"r9\"]\n");
    assert_error(
        &link,
        20,
        18,
        "link[0].between[1]",
        "no router or host is named \"r9\"",
    );
    let attach = BASE.replace("attach = \"r1\"\n[[domain]]", "attach = \"r2\"\n[[domain]]");
    assert_error(&attach, 11, 10, "host[1].attach", "(did you mean \"r1\"?)");
    let mx = BASE.replace("{ host = \"mx.a.example\"", "{ host = \"pc.a.example\"");
    assert_error(&mx, 14, 16, "domain[0].mx[0].host", "does not run \"mta\"");
    let client_host = BASE.replace("host = \"pc.a.example\"", "host = \"pc.b.example\"");
    assert_error(&client_host, 18, 8, "client[0].host", "no host is named");
    let fetch = with_base("fetch = { protocol = \"pop3\", server = \"mx.a.example\" }\n");
    assert_error(
        &fetch,
        19,
        39,
        "client[0].fetch.server",
        "does not run \"pop3\"",
    );
    let workload = with_base(
        r#"[[workload]]
users = "*@c.example"
rate = "1/h"
size = { distribution = "fixed", value = "1KB" }
"#,
    );
    assert_error(
        &workload,
        20,
        9,
        "workload[0].users",
        "no [[domain]] is named \"c.example\"",
    );
    let send = with_base(
        r#"[[send]]
at = "1s"
from = "carol@a.example"
to = ["bob@a.example"]
file = "messages/hello.eml"
"#,
    );
    assert_error(&send, 21, 8, "send[0].from", "no user \"carol@a.example\"");
    let fault = with_base(
        r#"[[fault]]
at = "1s"
link_down = ["r1", "mx.a.example"]
[[fault]]
at = "2s"
link_up = ["mx.a.example", "pc.a.example"]
"#,
    );
    assert_error(&fault, 24, 11, "fault[1].link_up", "no link between");
}

#[test]
fn duplicate_names_are_refused_at_the_second_use() {
    let host = with_base("[[host]]\nname = \"R1\"\n");
    assert_error(&host, 20, 8, "host[2].name", "already used by router[0]");
    let domain = with_base("[[domain]]\nname = \"A.example\"\n");
    assert_error(
        &domain,
        20,
        8,
        "domain[1].name",
        "already declared by domain[0]",
    );
    let user = BASE.replace("[\"alice\", \"bob\"]", "[\"alice\", \"Alice\"]");
    assert_error(
        &user,
        15,
        19,
        "domain[0].users[1]",
        "alice@a.example is listed twice",
    );
    let link = with_base("[[link]]\nbetween = [\"r1\", \"pc.a.example\"]\n");
    assert_error(
        &link,
        20,
        11,
        "link[0].between",
        "already linked by host[1].attach",
    );
}

#[test]
fn a_disconnected_network_names_an_unreachable_host() {
    let text = with_base("[[host]]\nname = \"pc.b.example\"\n");
    assert_error(
        &text,
        20,
        8,
        "host[2].name",
        "\"pc.b.example\" cannot be reached from \"r1\"",
    );
}

#[test]
fn a_missing_send_file_is_reported_at_its_key() {
    let text = with_base(
        r#"[[send]]
at = "1s"
from = "alice@a.example"
to = ["x@y.example"]
file = "messages/none.eml"
"#,
    );
    assert_error(&text, 23, 8, "send[0].file", "cannot read");
}

#[test]
fn patterns_that_match_nobody_are_errors() {
    let text = with_base(
        r#"[[domain]]
name = "b.example"
[[client]]
users = "*@b.example"
host = "pc.a.example"
"#,
    );
    assert_error(&text, 22, 9, "client[1].users", "matches no user");
    let bad = with_base("[[client]]\nusers = \"a*@a.example\"\nhost = \"pc.a.example\"\n");
    assert_error(&bad, 20, 9, "client[1].users", "is not a pattern");
}

/// A tiny deterministic generator for the mutation test.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Breaks `text` at the character level (mostly syntax errors) or swaps
/// the values of two `key = value` lines (mostly semantic errors).
fn mutate(text: &str, rng: &mut XorShift) -> String {
    if rng.below(2) == 0 {
        swap_values(text, rng)
    } else {
        mutate_chars(text, rng)
    }
}

fn swap_values(text: &str, rng: &mut XorShift) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let values: Vec<String> = lines
        .iter()
        .filter_map(|l| l.split_once(" = ").map(|(_, v)| v.to_string()))
        .collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(lines.len());
        let value = &values[rng.below(values.len())];
        if let Some((key, _)) = lines[at].split_once(" = ") {
            lines[at] = format!("{key} = {value}");
        }
    }
    lines.join("\n")
}

fn mutate_chars(text: &str, rng: &mut XorShift) -> String {
    const PIECES: [&str; 16] = [
        "\"",
        "[",
        "]",
        "{",
        "}",
        "=",
        ",",
        "\n",
        "*",
        "9",
        "-1",
        "é",
        "@",
        "[[link]]\n",
        "users = { count = 0 }\n",
        "between = [\"r1\", \"r1\"]\n",
    ];
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(chars.len() + 1);
        match rng.below(4) {
            0 => {
                let end = (at + 1 + rng.below(12)).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            1 => {
                let piece = PIECES[rng.below(PIECES.len())];
                chars.splice(at..at, piece.chars());
            }
            2 if at < chars.len() => chars[at] = char::from(b' ' + rng.below(95) as u8),
            _ => {
                let line: String = text.lines().nth(rng.below(130)).unwrap_or("").to_string();
                chars.splice(at..at, line.chars().chain(['\n']));
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn random_mutations_of_a_valid_file_never_panic() {
    let text = std::fs::read_to_string(fixtures().join("full.toml")).unwrap();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut errors = 0;
    for _ in 0..2_000 {
        let mutated = mutate(&text, &mut rng);
        if let Err(e) = parse_str(&mutated, "m.toml", &fixtures()) {
            assert!(e.line >= 1, "{e}");
            assert!(!e.message.is_empty(), "{e}");
            errors += 1;
        }
    }
    // The mutations must actually break files, or the test tests nothing.
    assert!(errors > 1_000, "{errors}");
}

#[test]
fn a_hundred_thousand_users_load_without_quadratic_work() {
    let text = BASE.replace("users = [\"alice\", \"bob\"]", "users = { count = 100000 }")
        + "[[workload]]\nusers = \"*\"\nrate = \"1/day\"\n\
         size = { distribution = \"fixed\", value = \"1KB\" }\nto = [\"*\", \"*@a.example\"]\n";
    let s = parse_str(&text, "t.toml", &fixtures()).unwrap();
    assert_eq!(s.clients.len(), 100_000);
    assert_eq!(s.workloads[0].recipients.len(), 100_000);
    assert_eq!(s.clients[99_999].user, "user100000@a.example");
}

#[test]
fn the_example_in_the_user_docs_loads() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scenario.md");
    let text = std::fs::read_to_string(docs).unwrap();
    let example = text
        .rsplit("```toml")
        .next()
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let s = parse_str(example, "docs/scenario.md", &fixtures()).unwrap();
    assert_eq!(s.clients.len(), 2);
    assert_eq!(s.domains[0].store.as_deref(), Some("mx.a.example"));
    assert_eq!(
        s.workloads[0].size,
        SizeDist::LogNormal {
            median: 8_000,
            sigma: 1.0
        }
    );
}

#[test]
fn settings_that_do_not_apply_are_refused() {
    let services = BASE.replace("[\"mta\", \"dns\"]", "[\"mta\", \"smtp\"]");
    assert_error(
        &services,
        8,
        20,
        "host[0].services[1]",
        "unknown service \"smtp\"",
    );
    let mta = with_base("[[host]]\nname = \"h\"\nattach = \"r1\"\nmta = { retry = \"1m\" }\n");
    assert_error(
        &mta,
        22,
        7,
        "host[2].mta",
        "need \"mta\" in this host's services",
    );
    let link = with_base("[[host]]\nname = \"h\"\nlink = { delay = \"1ms\" }\n");
    assert_error(&link, 21, 8, "host[2].link", "add attach");
    let size = with_base(
        r#"[[workload]]
users = "*"
rate = "1/h"
size = { distribution = "fixed", value = "1KB", sigma = 2.0 }
"#,
    );
    assert_error(
        &size,
        22,
        57,
        "workload[0].size.sigma",
        "does not apply to the \"fixed\"",
    );
    let fault = with_base("[[fault]]\nat = \"1s\"\nhost_down = \"r1\"\nhost_up = \"r1\"\n");
    assert_error(&fault, 22, 11, "fault[0].host_up", "exactly one action");
    let store = BASE.replace("mx = [{ host = \"mx.a.example\", preference = 10 }]\n", "");
    assert_error(
        &store,
        14,
        9,
        "domain[0].users",
        "users need a mailbox store",
    );
}
