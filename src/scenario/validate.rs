//! From TOML text to a checked [`Scenario`]: parsing, then the `[run]` and
//! `[network]` tables, then the network (`network`) and mail (`mail`)
//! sections, in an order where every reference points at something built.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use super::error::{ScenarioError, Source};
use super::schema::{RawRun, RawScenario, Str};
use super::units::{parse_duration, parse_utc};
use super::{Run, Scenario, bulk, faults, mail, network};
use crate::sim::SimTime;

/// The default of `[run] start`.
pub(crate) const DEFAULT_START: &str = "2026-01-05T09:00:00Z";

/// Parses, checks and completes a scenario.
pub(crate) fn parse(
    text: &str,
    file_name: &str,
    base_dir: &Path,
) -> Result<Scenario, ScenarioError> {
    let table = match DeTable::parse(text) {
        Ok(table) => table,
        Err(e) => {
            // The partial document still tells which key the error is in.
            let (partial, _) = DeTable::parse_recoverable(text);
            let src = Source::new(file_name, text, Some(partial.get_ref()));
            return Err(src.toml_error(&e));
        }
    };
    let src = Source::new(file_name, text, Some(table.get_ref()));
    let raw = RawScenario::deserialize(toml::de::Deserializer::from(table))
        .map_err(|e| src.toml_error(&e))?;
    let check = Check {
        src: &src,
        base_dir,
    };
    build(&check, raw, file_name)
}

fn build(check: &Check, raw: RawScenario, file_name: &str) -> Result<Scenario, ScenarioError> {
    let Some(raw_run) = &raw.run else {
        let message = r#"the [run] table is missing; it needs at least duration = "1h""#;
        return Err(check.err(0..0, "run", message));
    };
    let run = run(check, raw_run)?;
    let (routing, protocol) = super::routing::protocol(check, &raw)?;
    let ttl = match raw.network.as_ref().and_then(|n| n.ttl.as_ref()) {
        Some(v) => u8::try_from(check.int_in(v, "network.ttl", 2, 255)?).unwrap_or(64),
        None => crate::net::DEFAULT_TTL,
    };
    let tcp = super::tcp::build(check, raw.tcp.as_ref())?;
    let mut net = network::build(check, &raw, run.seed)?;
    super::routing::router_addresses(check, &raw, &mut net)?;
    let mail = mail::build(check, &raw, &net, run.duration)?;
    let bulk = bulk::build(check, &raw.workload, &net, run.duration)?;
    let faults = faults::faults(check, &raw.fault, &net)?;
    Ok(Scenario {
        file: PathBuf::from(file_name),
        run,
        routing,
        tcp,
        protocol,
        ttl,
        routers: net.routers,
        hosts: net.hosts,
        links: net.links,
        domains: mail.domains,
        records: mail.records,
        clients: mail.clients,
        workloads: mail.workloads,
        bulk,
        sends: mail.sends,
        faults,
        output: super::output::build(check, raw.output.as_ref())?,
    })
}

fn run(check: &Check, raw: &RawRun) -> Result<Run, ScenarioError> {
    let duration = check.positive_duration(&raw.duration, "run.duration")?;
    let seed = match &raw.seed {
        Some(seed) => {
            let value = check.int_in(seed, "run.seed", 0, i64::MAX)?;
            u64::try_from(value).unwrap_or_default()
        }
        None => 1,
    };
    let start_unix = match &raw.start {
        None => parse_utc(DEFAULT_START).unwrap_or_default(),
        Some(start) => start_time(check, start)?,
    };
    Ok(Run {
        duration,
        seed,
        start_unix,
    })
}

/// `start` may be a string or an unquoted TOML date-time.
fn start_time(check: &Check, start: &Spanned<toml::Value>) -> Result<i64, ScenarioError> {
    let text = match start.get_ref() {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => format!("{other}"),
    };
    parse_utc(&text).map_err(|m| check.err(start.span(), "run.start", m))
}

/// What every check needs: the source map and the scenario's folder.
pub(crate) struct Check<'a> {
    pub src: &'a Source<'a>,
    pub base_dir: &'a Path,
}

impl Check<'_> {
    /// An error at `span` about `key`.
    pub fn err(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ScenarioError {
        self.src.error(span, key, message)
    }

    /// Reads a duration; zero is allowed.
    pub fn duration(&self, v: &Str, key: &str) -> Result<SimTime, ScenarioError> {
        parse_duration(v.get_ref()).map_err(|m| self.err(v.span(), key, m))
    }

    /// Reads a duration that must be longer than zero.
    pub fn positive_duration(&self, v: &Str, key: &str) -> Result<SimTime, ScenarioError> {
        let d = self.duration(v, key)?;
        if d == SimTime::ZERO {
            return Err(self.err(v.span(), key, "must be longer than zero"));
        }
        Ok(d)
    }

    /// Reads an integer in `lo..=hi`.
    pub fn int_in(
        &self,
        v: &Spanned<i64>,
        key: &str,
        lo: i64,
        hi: i64,
    ) -> Result<i64, ScenarioError> {
        let value = *v.get_ref();
        if value < lo || value > hi {
            let message = format!("{value} is out of range: use {lo} to {hi}");
            return Err(self.err(v.span(), key, message));
        }
        Ok(value)
    }

    /// Reads a probability: finite, at least 0, and below 1 unless
    /// `one_allowed`.
    pub fn probability(
        &self,
        v: &Spanned<f64>,
        key: &str,
        one_allowed: bool,
    ) -> Result<f64, ScenarioError> {
        let p = *v.get_ref();
        let ok = p >= 0.0 && (p < 1.0 || (one_allowed && p == 1.0));
        if !ok {
            let range = if one_allowed {
                "0 to 1"
            } else {
                "0 up to (not including) 1"
            };
            let message = format!("{p} is not a probability from {range}");
            return Err(self.err(v.span(), key, message));
        }
        Ok(p)
    }

    /// Reads a node or domain name: dot-separated labels of letters,
    /// digits, `-` and `_`, folded to lower case (RFC 1035 section 2.3.1,
    /// relaxed to allow `_` and leading digits).
    pub fn name(&self, v: &Str, key: &str) -> Result<String, ScenarioError> {
        dns_name(v.get_ref()).map_err(|m| self.err(v.span(), key, m))
    }

    /// Reads a mail address `local@domain` (RFC 5322 section 3.4.1,
    /// dot-atom local parts only), folded to lower case.
    pub fn address(&self, v: &Str, key: &str) -> Result<String, ScenarioError> {
        mail_address(v.get_ref()).map_err(|m| self.err(v.span(), key, m))
    }
}

/// `section[i].field`.
pub(crate) fn key(section: &str, i: usize, field: &str) -> String {
    format!("{section}[{i}].{field}")
}

/// Checks a DNS-style name and folds it to lower case.
pub(crate) fn dns_name(s: &str) -> Result<String, String> {
    let lower = s.to_ascii_lowercase();
    let bad = |why: &str| format!("{s:?} is not a valid name: {why}");
    if lower.is_empty() || lower.len() > 253 {
        return Err(bad("it must have 1 to 253 characters"));
    }
    for label in lower.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("each dot-separated part needs 1 to 63 characters"));
        }
        let allowed =
            |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_';
        if !label.bytes().all(allowed) {
            return Err(bad("use only letters, digits, '-', '_' and dots"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a part may not start or end with '-'"));
        }
    }
    Ok(lower)
}

/// Checks a local part (RFC 5322 section 3.2.3 dot-atom) and folds it.
pub(crate) fn local_part(s: &str) -> Result<String, String> {
    let atext = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&c);
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(atext));
    if !ok {
        return Err(format!(
            "{s:?} is not a valid user name \
             (letters, digits, dots between them, and !#$%&'*+/=?^_`{{|}}~-)"
        ));
    }
    Ok(s.to_ascii_lowercase())
}

/// Checks `local@domain` and folds it to lower case.
pub(crate) fn mail_address(s: &str) -> Result<String, String> {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Err(format!(
            "{s:?} is not a mail address like \"bob@b.example\""
        ));
    };
    let local = local_part(local)?;
    let domain = dns_name(domain)?;
    Ok(format!("{local}@{domain}"))
}

/// The item whose name is the longest suffix of `name` on a label boundary.
pub(crate) fn zone_of<'a, T>(
    items: &'a [T],
    name: &str,
    name_of: impl Fn(&T) -> &str,
) -> Option<&'a T> {
    items
        .iter()
        .filter(|item| {
            let zone = name_of(item);
            name == zone
                || name
                    .strip_suffix(zone)
                    .is_some_and(|head| head.ends_with('.'))
        })
        .max_by_key(|item| name_of(item).len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_to_lower_case_and_refuse_bad_labels() {
        assert_eq!(dns_name("MX.B.Example"), Ok("mx.b.example".to_string()));
        assert_eq!(dns_name("r1"), Ok("r1".to_string()));
        for bad in ["", "a..b", "-a", "a b", "a.", "ä.example"] {
            assert!(dns_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_need_a_dot_atom_and_a_domain() {
        assert_eq!(
            mail_address("Bob.Smith@B.example"),
            Ok("bob.smith@b.example".into())
        );
        for bad in [
            "bob",
            "@b.example",
            "bob@",
            "a..b@c",
            "bob smith@c",
            "bob@c d",
        ] {
            assert!(mail_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn zones_are_the_longest_suffix_on_a_label_boundary() {
        let zones = ["example", "b.example", "xb.example"];
        let find = |n: &str| zone_of(&zones, n, |z| z).copied();
        assert_eq!(find("www.b.example"), Some("b.example"));
        assert_eq!(find("b.example"), Some("b.example"));
        assert_eq!(find("c.example"), Some("example"));
        assert_eq!(find("other"), None);
        assert_eq!(find("ab.example"), Some("example"));
    }
}
