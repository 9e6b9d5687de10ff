//! The protocol transcript: every line each side sent, with time, sender,
//! receiver and protocol, for a teacher to read.
//!
//! Message contents (an SMTP DATA body, a POP3 RETR or IMAP literal) are
//! summarised as one line with their size: the transcript shows the
//! dialogue, the mailboxes in the output hold the messages themselves.

use std::io::Write;

use crate::sim::SimTime;

/// Longest chunk, in lines, written out line by line; longer chunks are
/// message contents and get summarised.
const MAX_LINES: usize = 12;

/// Where protocol lines go; disabled unless a writer is given.
#[derive(Default)]
pub struct Transcript {
    out: Option<Box<dyn Write>>,
    failed: bool,
}

impl Transcript {
    /// A transcript writing to `out`.
    pub fn to_writer(out: Box<dyn Write>) -> Self {
        Transcript {
            out: Some(out),
            failed: false,
        }
    }

    /// Whether lines are being recorded (callers skip formatting if not).
    pub fn enabled(&self) -> bool {
        self.out.is_some() && !self.failed
    }

    /// Records one chunk of protocol output sent from `from` to `to`.
    pub fn chunk(&mut self, now: SimTime, proto: &str, from: &str, to: &str, bytes: &[u8]) {
        if !self.enabled() {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        if lines.len() <= MAX_LINES {
            for l in lines {
                self.line(now, proto, from, to, l);
            }
            return;
        }
        let first = lines[0];
        let summary = format!(
            "{first}  [... {} more lines, {} bytes in all]",
            lines.len() - 1,
            bytes.len()
        );
        self.line(now, proto, from, to, &summary);
    }

    /// Records one line.
    pub fn line(&mut self, now: SimTime, proto: &str, from: &str, to: &str, line: &str) {
        let Some(out) = self.out.as_mut() else { return };
        let shown: String = line
            .chars()
            .map(|c| if c.is_control() && c != '\t' { '.' } else { c })
            .collect();
        if writeln!(out, "{now} {proto:<4} {from} > {to}: {shown}").is_err() {
            self.failed = true;
        }
    }

    /// Records an event that is not protocol bytes (a crash, a time-out, a
    /// queue decision), so the reader sees why the dialogue changes.
    pub fn note(&mut self, now: SimTime, who: &str, text: &str) {
        let Some(out) = self.out.as_mut() else { return };
        if writeln!(out, "{now} NOTE {who}: {text}").is_err() {
            self.failed = true;
        }
    }

    /// Flushes the writer; a failure is reported once.
    pub fn flush(&mut self) -> std::io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}
