//! A link's buffer keys: `buffer` in packets or bytes, `queue` (the
//! discipline) and its `red = { ... }` and `codel = { ... }` settings.

use toml::Spanned;

use super::error::ScenarioError;
use super::schema::{RawCodel, RawLinkParams, RawRed};
use super::units::parse_size;
use super::validate::Check;
use crate::net::{CodelParams, Discipline, QueueConfig, RedParams};

/// The buffer settings of a link as the layers of defaults build them up.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub buffer_bytes: Option<u64>,
    kind: Kind,
    red: RedParams,
    codel: CodelParams,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Kind {
    #[default]
    DropTail,
    Red,
    Codel,
}

impl Settings {
    /// The settings overridden by `queue`, `red` and `codel` in `raw`; `at`
    /// is the key path of the table.
    pub fn apply(
        &mut self,
        check: &Check,
        raw: &RawLinkParams,
        at: &str,
    ) -> Result<(), ScenarioError> {
        if let Some(v) = &raw.queue {
            self.kind = match v.get_ref().as_str() {
                "droptail" => Kind::DropTail,
                "red" => Kind::Red,
                "codel" => Kind::Codel,
                other => {
                    let message =
                        format!(r#"unknown queue {other:?} (use "droptail", "red" or "codel")"#);
                    return Err(check.err(v.span(), &format!("{at}.queue"), message));
                }
            };
        }
        if let Some(v) = &raw.red {
            self.red = red(check, v.get_ref(), self.red, &format!("{at}.red"))?;
            self.needs(check, Kind::Red, v.span(), &format!("{at}.red"))?;
        }
        if let Some(v) = &raw.codel {
            self.codel = codel(check, v.get_ref(), self.codel, &format!("{at}.codel"))?;
            self.needs(check, Kind::Codel, v.span(), &format!("{at}.codel"))?;
        }
        Ok(())
    }

    /// The net layer's form.
    pub fn config(&self) -> QueueConfig {
        QueueConfig {
            buffer_bytes: self.buffer_bytes,
            discipline: match self.kind {
                Kind::DropTail => Discipline::DropTail,
                Kind::Red => Discipline::Red(self.red),
                Kind::Codel => Discipline::Codel(self.codel),
            },
        }
    }

    /// Settings of a discipline the link does not use are a mistake.
    fn needs(
        &self,
        check: &Check,
        kind: Kind,
        span: std::ops::Range<usize>,
        key: &str,
    ) -> Result<(), ScenarioError> {
        if self.kind == kind {
            return Ok(());
        }
        let name = if kind == Kind::Red { "red" } else { "codel" };
        let message =
            format!(r#"these settings need queue = "{name}" (here or in [link_defaults])"#);
        Err(check.err(span, key, message))
    }
}

/// Reads `buffer`: an integer or `"N packets"` gives a limit in packets;
/// a size such as `"64KB"` a limit in bytes. Returns (packets, bytes).
pub(crate) fn buffer(
    check: &Check,
    v: &Spanned<toml::Value>,
    key: &str,
) -> Result<(usize, Option<u64>), ScenarioError> {
    let err = |m: String| check.err(v.span(), key, m);
    let packets = |n: i64| {
        if (1..=1_000_000).contains(&n) {
            Ok((n as usize, None))
        } else {
            Err(err(format!(
                "{n} is out of range: use 1 to 1000000 packets"
            )))
        }
    };
    let text = match v.get_ref() {
        toml::Value::Integer(n) => return packets(*n),
        toml::Value::String(s) => s.trim(),
        other => {
            return Err(err(format!(
                r#"{other} is not a buffer: write 100, "100 packets" or "64KB""#
            )));
        }
    };
    let count = text
        .strip_suffix("packets")
        .or_else(|| text.strip_suffix("packet"))
        .map(str::trim);
    if let Some(count) = count {
        return match count.parse::<i64>() {
            Ok(n) => packets(n),
            Err(_) => Err(err(format!(
                r#"cannot read {text:?} as a number of packets like "100 packets""#
            ))),
        };
    }
    let bytes = parse_size(text).map_err(|m| {
        err(format!(
            r#"{m}; a buffer is in packets ("100 packets") or bytes ("64KB")"#
        ))
    })?;
    if bytes == 0 || bytes > 1 << 30 {
        return Err(err(format!("{text:?} is out of range: use 1 byte to 1GiB")));
    }
    Ok((usize::MAX, Some(bytes)))
}

fn red(check: &Check, raw: &RawRed, base: RedParams, at: &str) -> Result<RedParams, ScenarioError> {
    let mut p = base;
    let number = |v: &Spanned<f64>, field: &str, ok: fn(f64) -> bool, range: &str| {
        let x = *v.get_ref();
        if x.is_finite() && ok(x) {
            Ok(x)
        } else {
            let message = format!("{x} is out of range: use {range}");
            Err(check.err(v.span(), &format!("{at}.{field}"), message))
        }
    };
    if let Some(v) = &raw.min {
        p.min_th = number(v, "min", |x| x >= 0.0, "0 packets or more")?;
    }
    if let Some(v) = &raw.max {
        p.max_th = number(v, "max", |x| x > 0.0, "more than 0 packets")?;
    }
    if let Some(v) = &raw.max_p {
        p.max_p = number(v, "max_p", |x| x > 0.0 && x <= 1.0, "more than 0, up to 1")?;
    }
    if let Some(v) = &raw.weight {
        p.weight = number(v, "weight", |x| x > 0.0 && x <= 1.0, "more than 0, up to 1")?;
    }
    if p.max_th <= p.min_th {
        let (span, field) = match (&raw.max, &raw.min) {
            (Some(v), _) => (v.span(), "max"),
            (None, Some(v)) => (v.span(), "min"),
            (None, None) => (0..0, "max"),
        };
        let message = format!(
            "max ({}) must be more than min ({}) packets",
            p.max_th, p.min_th
        );
        return Err(check.err(span, &format!("{at}.{field}"), message));
    }
    Ok(p)
}

fn codel(
    check: &Check,
    raw: &RawCodel,
    base: CodelParams,
    at: &str,
) -> Result<CodelParams, ScenarioError> {
    let mut p = base;
    if let Some(v) = &raw.target {
        p.target = check.positive_duration(v, &format!("{at}.target"))?;
    }
    if let Some(v) = &raw.interval {
        p.interval = check.positive_duration(v, &format!("{at}.interval"))?;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::net::{CodelParams, Discipline, QueueConfig, RedParams};
    use crate::scenario::{ScenarioError, parse_str};
    use crate::sim::SimTime;

    /// Two routers and one link; `defaults` and `link` are inserted into
    /// `[link_defaults]` (line 2) and the `[[link]]` (line 9).
    fn text(defaults: &str, link: &str) -> String {
        format!(
            "[run]\nduration = \"1h\"\n[link_defaults]\n{defaults}\n[[router]]\nname = \"r1\"\n\
             [[router]]\nname = \"r2\"\n[[link]]\nbetween = [\"r1\", \"r2\"]\n{link}\n"
        )
    }

    fn link(defaults: &str, link: &str) -> (usize, QueueConfig) {
        match parse_str(&text(defaults, link), "t.toml", Path::new(".")) {
            Ok(s) => (s.links[0].buffer_packets, s.links[0].queue),
            Err(e) => panic!("{e}"),
        }
    }

    fn error(defaults: &str, link: &str) -> ScenarioError {
        match parse_str(&text(defaults, link), "t.toml", Path::new(".")) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    #[test]
    fn buffers_are_packets_or_bytes() {
        assert_eq!(link("", "buffer = 100").0, 100);
        assert_eq!(link("", r#"buffer = "7 packets""#).0, 7);
        assert_eq!(link("", r#"buffer = "1 packet""#).0, 1);
        let (packets, q) = link("", r#"buffer = "64KB""#);
        assert_eq!((packets, q.buffer_bytes), (usize::MAX, Some(64_000)));
        // A link's own buffer replaces the default's, unit and all.
        let (packets, q) = link(r#"buffer = "64KB""#, "buffer = 20");
        assert_eq!((packets, q.buffer_bytes), (20, None));
        assert_eq!(link("", "").0, 100);
    }

    #[test]
    fn queue_disciplines_take_their_documented_defaults_and_overrides() {
        assert_eq!(link("", "").1.discipline, Discipline::DropTail);
        let red = link(r#"queue = "red""#, "").1.discipline;
        assert_eq!(red, Discipline::Red(RedParams::default()));
        assert_eq!(
            RedParams::default(),
            RedParams {
                min_th: 5.0,
                max_th: 15.0,
                max_p: 0.1,
                weight: 0.002
            }
        );
        let red = link(r#"queue = "red""#, "red = { min = 10, max = 30 }").1;
        let want = RedParams {
            min_th: 10.0,
            max_th: 30.0,
            ..RedParams::default()
        };
        assert_eq!(red.discipline, Discipline::Red(want));
        let codel = link("", r#"queue = "codel""#).1.discipline;
        let rfc = CodelParams {
            target: SimTime::from_millis(5),
            interval: SimTime::from_millis(100),
        };
        assert_eq!(codel, Discipline::Codel(rfc));
        let codel = link("", "queue = \"codel\"\ncodel = { target = \"2ms\" }").1;
        let want = CodelParams {
            target: SimTime::from_millis(2),
            ..rfc
        };
        assert_eq!(codel.discipline, Discipline::Codel(want));
    }

    #[test]
    fn bad_buffer_and_queue_settings_point_at_the_key() {
        let e = error("", r#"buffer = "lots""#);
        assert_eq!((e.line, e.key.as_str()), (11, "link[0].buffer"), "{e}");
        let e = error("", "buffer = 0");
        assert_eq!((e.line, e.column), (11, 10), "{e}");
        let e = error("", r#"queue = "fifo""#);
        assert_eq!(e.key, "link[0].queue", "{e}");
        assert!(e.message.contains("droptail"), "{e}");
        let e = error("", "red = { min = 5 }");
        assert_eq!(e.key, "link[0].red", "{e}");
        assert!(e.message.contains(r#"queue = "red""#), "{e}");
        let e = error(r#"queue = "red""#, "red = { min = 20 }");
        assert_eq!(e.key, "link[0].red.min", "{e}");
        let e = error(r#"queue = "red""#, "red = { max_p = 1.5 }");
        assert_eq!((e.line, e.key.as_str()), (11, "link[0].red.max_p"), "{e}");
        let e = error(r#"queue = "red""#, "red = { mix = 1 }");
        assert!(e.message.contains("mix"), "{e}");
        let e = error("", "queue = \"codel\"\ncodel = { interval = \"0s\" }");
        assert_eq!(
            (e.line, e.key.as_str()),
            (12, "link[0].codel.interval"),
            "{e}"
        );
    }
}
