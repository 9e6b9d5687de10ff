//! What `capture.pcap` holds, checked with tshark (Wireshark's dissectors,
//! an independent decoder): the quickstart capture decodes as SMTP, DNS,
//! POP3 and IMAP with no bad checksum; one SMTP stream followed by tshark
//! is the dialogue of `transcript.txt`, line for line; and `--pcap-link` /
//! `--pcap-node` record exactly the packets that crossed those points, as
//! counted independently in `links.csv`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const QUICKSTART: &str = "scenarios/quickstart.toml";

fn mailsim(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", QUICKSTART, "--quiet", "--out"])
        .arg(out)
        .args(args)
        .output()
        .expect("mailsim runs")
}

/// Runs the quickstart with `args` into a fresh folder and returns it.
fn run(tag: &str, args: &[&str]) -> PathBuf {
    let out = std::env::temp_dir().join(format!("mailsim-points-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = mailsim(args, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// The default capture with the transcript, made once for every test.
fn full_run() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| run("full", &["--pcap", "--transcript"]))
}

fn tshark_raw(pcap: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args([
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ])
        .args(["-o", "udp.check_checksum:TRUE"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tshark ({e}): install it (CI does: apt tshark)"));
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// tshark's tab-separated `fields` for packets matching `filter`.
fn fields(pcap: &Path, filter: &str, names: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["-Y", filter, "-T", "fields"];
    for n in names {
        args.extend(["-e", n]);
    }
    tshark_raw(pcap, &args)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn count(pcap: &Path, filter: &str) -> usize {
    fields(pcap, filter, &["frame.number"]).len()
}

/// Host names by address, from the scenario itself.
fn hosts() -> BTreeMap<Ipv4Addr, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(QUICKSTART);
    let sc = mailsim::scenario::load(&path).expect("quickstart loads");
    sc.hosts
        .iter()
        .map(|h| (h.address, h.name.clone()))
        .collect()
}

fn addr_of(name: &str) -> Ipv4Addr {
    *hosts().iter().find(|(_, n)| *n == name).expect("a host").0
}

/// `links.csv` as (from, to) -> column -> value.
fn links(dir: &Path) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let text = std::fs::read_to_string(dir.join("links.csv")).unwrap();
    let mut rows = text.lines();
    let head: Vec<&str> = rows.next().unwrap().split(',').collect();
    rows.map(|r| {
        let cells: Vec<&str> = r.split(',').collect();
        let row: BTreeMap<String, String> = head
            .iter()
            .zip(&cells)
            .map(|(h, c)| (h.to_string(), c.to_string()))
            .collect();
        ((cells[0].to_string(), cells[1].to_string()), row)
    })
    .collect()
}

fn link_value(dir: &Path, from: &str, to: &str, column: &str) -> usize {
    links(dir)[&(from.to_string(), to.to_string())][column]
        .parse()
        .unwrap()
}

#[test]
fn tshark_decodes_every_protocol_with_no_bad_checksum_or_malformed_packet() {
    let pcap = full_run().join("capture.pcap");
    for proto in ["smtp", "dns", "pop", "imap"] {
        assert!(count(&pcap, proto) > 0, "no {proto} in the capture");
    }
    let bad = "ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0";
    assert_eq!(count(&pcap, bad), 0);
    assert_eq!(count(&pcap, "ip"), count(&pcap, "tcp || udp"));

    // Wireshark 4.0 flags a retransmitted segment as a reassembly error
    // when it already rebuilt the PDU from the original copy (a capture at
    // the sender holds both). That is the only malformed frame allowed, and
    // only if its bytes equal those of the first copy at that sequence.
    let cols = ["frame.number", "tcp.stream", "tcp.seq_raw", "tcp.payload"];
    let all = fields(&pcap, "tcp.len > 0", &cols);
    let malformed = fields(
        &pcap,
        "_ws.malformed || _ws.expert.severity == error",
        &cols,
    );
    for m in &malformed {
        let first = all
            .iter()
            .find(|f| f[1] == m[1] && f[2] == m[2])
            .expect("an earlier copy");
        assert!(first[0] != m[0], "frame {} is malformed: {m:?}", m[0]);
        assert_eq!(first[3], m[3], "frame {} resends other bytes", m[0]);
        let retrans = "tcp.analysis.retransmission || tcp.analysis.fast_retransmission";
        assert_eq!(
            count(&pcap, &format!("frame.number == {} && ({retrans})", m[0])),
            1
        );
    }
}

/// The lines of one side's data in tshark's `follow,tcp,ascii` output:
/// chunks from node 1 are indented with a tab, each after its length.
fn follow(pcap: &Path, stream: &str) -> (String, Vec<(bool, String)>) {
    let text = tshark_raw(pcap, &["-q", "-z", &format!("follow,tcp,ascii,{stream}")]);
    let mut rest = text.as_str();
    let mut node0 = String::new();
    while let Some((line, more)) = rest.split_once('\n') {
        rest = more;
        if let Some(n) = line.strip_prefix("Node 0: ") {
            node0 = n.to_string();
        }
        if line.starts_with("Node 1: ") {
            break;
        }
    }
    let mut pending = [String::new(), String::new()];
    let mut lines = Vec::new();
    while let Some((head, more)) = rest.split_once('\n') {
        let Ok(len) = head.trim_start_matches('\t').parse::<usize>() else {
            break;
        };
        let from_node1 = head.starts_with('\t');
        let (chunk, after) = more.split_at(len);
        rest = after.strip_prefix('\n').unwrap_or(after);
        let buf = &mut pending[usize::from(from_node1)];
        buf.push_str(chunk);
        while let Some((l, tail)) = buf.split_once("\r\n") {
            lines.push((from_node1, l.to_string()));
            *buf = tail.to_string();
        }
    }
    (node0, lines)
}

#[test]
fn following_one_smtp_stream_gives_the_dialogue_of_the_transcript() {
    let dir = full_run();
    let pcap = dir.join("capture.pcap");
    let names = hosts();

    // The first SMTP session in the capture and its endpoints.
    let ehlo = &fields(
        &pcap,
        "smtp.req.command == \"EHLO\"",
        &["tcp.stream", "ip.src", "ip.dst"],
    )[0];
    let stream = &ehlo[0];
    let client = &names[&ehlo[1].parse().unwrap()];
    let server = &names[&ehlo[2].parse().unwrap()];
    let (node0, lines) = follow(&pcap, stream);
    let client_is_node0 = node0.starts_with(&format!("{}:", ehlo[1]));

    // The transcript's lines between the two, within the stream's time
    // span (capture times count from the scenario's start).
    let times = fields(
        &pcap,
        &format!("tcp.stream == {stream}"),
        &["frame.time_epoch"],
    );
    let sc =
        mailsim::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(QUICKSTART)).unwrap();
    let t = |row: &Vec<String>| row[0].parse::<f64>().unwrap() - sc.run.start_unix as f64;
    let (start, end) = (t(&times[0]) - 1e-6, t(&times[times.len() - 1]) + 1e-6);
    let transcript = std::fs::read_to_string(dir.join("transcript.txt")).unwrap();
    let mut expected: Vec<(bool, String)> = Vec::new();
    for l in transcript.lines() {
        let mut parts = l.splitn(3, ' ');
        let (Some(at), Some("SMTP"), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let at: f64 = at.parse().unwrap();
        let from_client = rest.starts_with(&format!("{client} > {server}: "));
        let from_server = rest.starts_with(&format!("{server} > {client}: "));
        if at < start || at > end || !(from_client || from_server) {
            continue;
        }
        let text = rest.split_once(": ").unwrap().1;
        expected.push((from_client, text.to_string()));
    }
    assert!(expected.len() > 10, "a whole session: {expected:?}");

    // Line for line, per direction; a summarised message body stands for
    // its first line and the number of lines and bytes it names.
    let mut sides: [Vec<&String>; 2] = [Vec::new(), Vec::new()];
    for (from_node1, l) in &lines {
        let from_client = *from_node1 != client_is_node0;
        sides[usize::from(from_client)].push(l);
    }
    let mut next = [0usize, 0usize];
    for (from_client, text) in &expected {
        let side = usize::from(*from_client);
        let got = &sides[side];
        match text.split_once("  [... ") {
            Some((first, summary)) => {
                let (more, bytes) = summary
                    .trim_end_matches(" bytes in all]")
                    .split_once(" more lines, ")
                    .unwrap();
                let n = 1 + more.parse::<usize>().unwrap();
                let body = &got[next[side]..next[side] + n];
                assert_eq!(body[0], first);
                let len: usize = body.iter().map(|l| l.len() + 2).sum();
                assert_eq!(len, bytes.parse::<usize>().unwrap(), "body size");
                next[side] += n;
            }
            None => {
                assert_eq!(
                    got.get(next[side]).copied(),
                    Some(text),
                    "line {}",
                    next[side]
                );
                next[side] += 1;
            }
        }
    }
    assert_eq!(
        next,
        [sides[0].len(), sides[1].len()],
        "stream lines left over"
    );
}

#[test]
fn a_link_capture_holds_exactly_the_packets_transmitted_on_that_link() {
    // r2-r3 carries traffic between the hosts behind r3 and all others.
    let dir = run("link", &["--pcap-link", "r3-r2"]);
    let pcap = dir.join("capture.pcap");
    let expected =
        link_value(&dir, "r2", "r3", "packets") + link_value(&dir, "r3", "r2", "packets");
    let rows = fields(&pcap, "ip", &["ip.src", "ip.dst"]);
    assert_eq!(rows.len(), expected);
    let behind_r3: BTreeSet<Ipv4Addr> = ["mx.b.example", "ns.b.example"].map(addr_of).into();
    for r in &rows {
        let src = behind_r3.contains(&r[0].parse().unwrap());
        let dst = behind_r3.contains(&r[1].parse().unwrap());
        assert!(src != dst, "{r:?} does not cross r2-r3");
    }
    // Packets lost on the line were transmitted, so they are in it.
    assert!(link_value(&dir, "r2", "r3", "drops_loss") > 0);
}

#[test]
fn a_node_capture_holds_what_the_node_sent_and_received() {
    let node = "pc.a.example";
    let dir = run("node", &["--pcap-node", node]);
    let pcap = dir.join("capture.pcap");
    let me = addr_of(node).to_string();
    let rows = fields(&pcap, "ip", &["ip.src", "ip.dst"]);
    let sent = rows.iter().filter(|r| r[0] == me).count();
    let received = rows.iter().filter(|r| r[1] == me).count();
    assert_eq!(sent + received, rows.len(), "only its own packets");
    assert_eq!(sent, link_value(&dir, node, "r1", "packets"));
    // Arrivals: what r1 transmitted to it, less what the line lost.
    let lost = link_value(&dir, "r1", node, "drops_loss")
        + link_value(&dir, "r1", node, "drops_link_down")
        + link_value(&dir, "r1", node, "drops_node_down");
    assert_eq!(received, link_value(&dir, "r1", node, "packets") - lost);
    assert!(count(&pcap, "smtp") > 0 && count(&pcap, "imap || pop") > 0);
}

#[test]
fn unknown_capture_points_stop_the_run_with_status_2() {
    let out = std::env::temp_dir().join(format!("mailsim-points-bad-{}", std::process::id()));
    for args in [["--pcap-link", "r1-r9"], ["--pcap-node", "nowhere"]] {
        let o = mailsim(&args, &out);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(args[1]));
    }
}

#[test]
fn a_router_capture_holds_its_distance_vector_updates_as_real_udp() {
    // Names are matched as the scenario keeps them, whatever their case.
    let dir = run(
        "router",
        &["--routing", "distance-vector", "--pcap-node", "R2"],
    );
    let pcap = dir.join("capture.pcap");
    // The 1969 protocol's updates go to UDP port 1969 between router
    // addresses; tshark checks every IP and UDP checksum.
    assert_eq!(
        count(&pcap, "ip.checksum.status == 0 || udp.checksum.status == 0"),
        0
    );
    let updates = fields(&pcap, "udp.dstport == 1969", &["ip.src", "ip.dst"]);
    let mut by_source: BTreeMap<String, usize> = BTreeMap::new();
    for r in &updates {
        assert!(
            r[0].starts_with("10.255.") && r[1].starts_with("10.255."),
            "{r:?}"
        );
        *by_source.entry(r[0].clone()).or_default() += 1;
    }
    // r2 has two neighbouring routers, r1 and r3. Each router sends each
    // neighbour its table every 2/3 s on average, over the 30 minutes:
    // 2 x 2700 from r2, 2700 from each neighbour.
    let mut counts: Vec<usize> = by_source.values().copied().collect();
    counts.sort_unstable();
    assert_eq!(counts.len(), 3, "{by_source:?}");
    let near = |n: usize, expect: f64| (n as f64 - expect).abs() < 0.05 * expect;
    assert!(near(counts[2], 5400.0), "{by_source:?}");
    assert!(
        near(counts[0], 2700.0) && near(counts[1], 2700.0),
        "{by_source:?}"
    );
}
