//! `capture.pcap` is a real capture: tshark (Wireshark's dissectors, an
//! independent decoder) reads it, verifies every checksum, and sees the
//! SMTP, DNS, POP3 and IMAP dialogues of the quickstart run.

use std::path::{Path, PathBuf};
use std::process::Command;

fn out_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mailsim-capture-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Runs the quickstart with `--pcap` and returns the capture's path.
fn capture(tag: &str) -> PathBuf {
    let out = out_dir(tag);
    let status = Command::new(env!("CARGO_BIN_EXE_mailsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "scenarios/quickstart.toml",
            "--quiet",
            "--pcap",
            "--out",
        ])
        .arg(&out)
        .status()
        .expect("mailsim runs");
    assert!(status.success());
    out.join("capture.pcap")
}

/// tshark's field output for packets matching `filter`, one line each.
fn tshark(pcap: &Path, filter: &str, field: &str) -> Vec<String> {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(pcap)
        .args([
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ])
        .args([
            "-o",
            "udp.check_checksum:TRUE",
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            field,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run tshark ({e}): install it (CI does: apt tshark)"));
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn wireshark_reads_the_capture_and_every_checksum_is_right() {
    let pcap = capture("checksums");
    let all = tshark(&pcap, "ip", "frame.number");
    assert!(all.len() > 1000, "a real capture: {} packets", all.len());
    // Checksum status 0 means "bad" in Wireshark's dissectors.
    let bad = "ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0";
    assert_eq!(tshark(&pcap, bad, "frame.number"), Vec::<String>::new());
    let good = tshark(&pcap, "tcp.checksum.status == 1", "frame.number");
    assert_eq!(good.len(), tshark(&pcap, "tcp", "frame.number").len());
}

#[test]
fn wireshark_sees_every_protocol_of_the_mail_path() {
    let pcap = capture("protocols");
    let smtp = tshark(&pcap, "smtp.req.command", "smtp.req.command");
    for cmd in ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"] {
        assert!(smtp.iter().any(|c| c == cmd), "SMTP {cmd} in {smtp:?}");
    }
    let pop = tshark(&pcap, "pop.request.command", "pop.request.command");
    for cmd in ["USER", "PASS", "UIDL", "RETR", "DELE", "QUIT"] {
        assert!(pop.iter().any(|c| c == cmd), "POP3 {cmd} in {pop:?}");
    }
    let imap = tshark(&pcap, "imap.request.command", "imap.request.command");
    for cmd in ["LOGIN", "SELECT", "FETCH", "STORE", "LOGOUT"] {
        assert!(
            imap.iter().any(|c| c.eq_ignore_ascii_case(cmd)),
            "IMAP {cmd} in {imap:?}"
        );
    }
    // MX questions, and the NXDOMAIN (rcode 3) for the domain that does
    // not exist.
    let mx = tshark(
        &pcap,
        "dns.flags.response == 0 && dns.qry.type == 15",
        "dns.qry.name",
    );
    assert!(mx.iter().any(|n| n == "b.example"), "{mx:?}");
    let nx = tshark(&pcap, "dns.flags.rcode == 3", "dns.qry.name");
    assert_eq!(nx, vec!["no-such-domain.example".to_string()]);
    // The message with dot lines, reassembled by Wireshark's IMF dissector.
    let subjects = tshark(&pcap, "imf", "imf.subject");
    assert!(
        subjects.iter().any(|s| s == "Hello from the quickstart"),
        "{subjects:?}"
    );
}

#[test]
fn the_same_seed_writes_the_same_capture() {
    let a = std::fs::read(capture("det-a")).unwrap();
    let b = std::fs::read(capture("det-b")).unwrap();
    assert!(a == b, "captures differ");
}
