//! Parsers for the quantities a scenario writes as strings: durations,
//! bandwidths, sizes, rates and the UTC start time.
//!
//! Numbers are decimal (`1.5`, `250`), never exponents, and are scaled with
//! integer arithmetic so that `"1.5s"` is exactly 1 500 000 000 ns on every
//! machine. Each error message repeats the text and gives examples, because
//! the reader is usually a person fixing a typo.

use crate::sim::SimTime;

/// Reads a span of time such as `"250us"`, `"1.5s"`, `"5m"` or `"2h"`.
///
/// Units: `ns`, `us`, `ms`, `s`, `m` or `min`, `h`, `d`. A unit is required.
pub fn parse_duration(s: &str) -> Result<SimTime, String> {
    let what = "a duration";
    let examples = r#""250us", "1.5s", "5m", "2h""#;
    let (number, unit) = split(s).ok_or_else(|| cannot(s, what, examples))?;
    let factor: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return Err(cannot(s, what, examples)),
    };
    let ns = number.scale(factor).ok_or_else(|| too_large(s, what))?;
    u64::try_from(ns)
        .map(SimTime::from_nanos)
        .map_err(|_| too_large(s, what))
}

/// Reads a bit rate such as `"50kbps"`, `"10Mbps"` or `"1Gbps"`, in bits
/// per second.
///
/// Prefixes are decimal (k = 1000); `kbit/s` style is accepted too, and the
/// case of the letters does not matter.
pub fn parse_bandwidth(s: &str) -> Result<u64, String> {
    let what = "a bandwidth";
    let examples = r#""50kbps", "10Mbps", "1Gbps""#;
    let (number, unit) = split(s).ok_or_else(|| cannot(s, what, examples))?;
    // A capital B means bytes ("MBps" is megabytes per second): refuse it
    // rather than read it eight times too slow.
    if unit.contains("Bps") || unit.contains("B/s") {
        return Err(format!(
            "\"{s}\" is in bytes per second; bandwidths are in bits: write e.g. \"80Mbps\" for 10 MB/s"
        ));
    }
    let factor: u128 = match unit.to_ascii_lowercase().as_str() {
        "bps" | "bit/s" => 1,
        "kbps" | "kbit/s" => 1_000,
        "mbps" | "mbit/s" => 1_000_000,
        "gbps" | "gbit/s" => 1_000_000_000,
        _ => return Err(cannot(s, what, examples)),
    };
    let bps = number.scale(factor).ok_or_else(|| too_large(s, what))?;
    u64::try_from(bps).map_err(|_| too_large(s, what))
}

/// Reads a size in bytes such as `"512B"`, `"8KB"` or `"1.5MiB"`.
///
/// `KB`, `MB`, `GB` count in thousands, `KiB`, `MiB`, `GiB` in 1024s.
/// Fractions round to the nearest byte.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let what = "a size";
    let examples = r#""512B", "8KB", "1.5MB", "64KiB""#;
    let (number, unit) = split(s).ok_or_else(|| cannot(s, what, examples))?;
    let factor: u128 = match unit {
        "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(cannot(s, what, examples)),
    };
    let bytes = number.scale(factor).ok_or_else(|| too_large(s, what))?;
    u64::try_from(bytes).map_err(|_| too_large(s, what))
}

/// Reads an event rate such as `"20/day"` or `"0.5/s"`, as events per
/// second.
///
/// Units: `/s`, `/min`, `/h`, `/day` (also `/sec`, `/second`, `/minute`,
/// `/hour`, `/d`).
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let what = "a rate";
    let examples = r#""20/day", "3/h", "0.5/min", "2/s""#;
    let (count, per) = s.split_once('/').ok_or_else(|| cannot(s, what, examples))?;
    let (number, rest) = split(count).ok_or_else(|| cannot(s, what, examples))?;
    if !rest.is_empty() {
        return Err(cannot(s, what, examples));
    }
    let seconds = match per.trim() {
        "s" | "sec" | "second" => 1.0,
        "min" | "minute" => 60.0,
        "h" | "hour" => 3_600.0,
        "d" | "day" => 86_400.0,
        _ => return Err(cannot(s, what, examples)),
    };
    Ok(number.to_f64() / seconds)
}

/// Reads an RFC 3339 UTC date-time ending in `Z`, such as
/// `"2026-01-05T09:00:00Z"`, as seconds since the Unix epoch.
///
/// Only whole seconds and the `Z` offset are accepted: the value serves
/// Date headers, which carry whole seconds (RFC 5322 section 3.3).
pub fn parse_utc(s: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "cannot read {s:?} as a UTC date-time \
             (example: \"2026-01-05T09:00:00Z\"; whole seconds, ending in Z)"
        )
    };
    let b = s.as_bytes();
    let shape_ok = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':'
        && matches!(b[19], b'Z' | b'z');
    if !shape_ok {
        return Err(bad());
    }
    let field = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let parts = [(0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19)];
    let mut v = [0i64; 6];
    for (slot, (from, to)) in v.iter_mut().zip(parts) {
        *slot = field(from, to).ok_or_else(bad)?;
    }
    let [year, month, day, hour, minute, second] = v;
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    Ok(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// A decimal number as written: `mantissa / 10^scale`.
#[derive(Clone, Copy, Debug)]
struct Decimal {
    mantissa: u128,
    scale: u32,
}

impl Decimal {
    /// `self * factor`, rounded to the nearest integer; `None` on overflow.
    fn scale(self, factor: u128) -> Option<u128> {
        let divisor = 10u128.checked_pow(self.scale)?;
        let product = self.mantissa.checked_mul(factor)?;
        Some((product + divisor / 2) / divisor)
    }

    fn to_f64(self) -> f64 {
        self.mantissa as f64 / 10f64.powi(self.scale as i32)
    }
}

/// Splits `"1.5 ms"` into the number and the unit text after it.
fn split(s: &str) -> Option<(Decimal, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(end);
    Some((decimal(number)?, unit.trim_start()))
}

/// Reads `digits[.digits]`, at most 30 digits in all.
fn decimal(s: &str) -> Option<Decimal> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let digits_ok = |d: &str| d.bytes().all(|c| c.is_ascii_digit());
    if whole.is_empty() || (s.contains('.') && fraction.is_empty()) {
        return None;
    }
    if !digits_ok(whole) || !digits_ok(fraction) || whole.len() + fraction.len() > 30 {
        return None;
    }
    let mut mantissa: u128 = 0;
    for c in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa
            .checked_mul(10)?
            .checked_add(u128::from(c - b'0'))?;
    }
    let scale = u32::try_from(fraction.len()).ok()?;
    Some(Decimal { mantissa, scale })
}

fn cannot(s: &str, what: &str, examples: &str) -> String {
    format!("cannot read {s:?} as {what} (examples: {examples})")
}

fn too_large(s: &str, what: &str) -> String {
    format!("{s:?} is too large for {what}")
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
///
/// Counts whole 400-year eras (146 097 days each) from 0000-03-01, treating
/// March as the first month so the leap day falls at the end of a year.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_scale_exactly_for_every_unit() {
        let cases = [
            ("1ns", 1),
            ("250us", 250_000),
            ("1.5s", 1_500_000_000),
            ("2ms", 2_000_000),
            ("5m", 300_000_000_000),
            ("5min", 300_000_000_000),
            ("2h", 7_200_000_000_000),
            ("1d", 86_400_000_000_000),
            (" 10 s ", 10_000_000_000),
            ("0s", 0),
            ("0.0000000015s", 2),
        ];
        for (text, ns) in cases {
            assert_eq!(parse_duration(text), Ok(SimTime::from_nanos(ns)), "{text}");
        }
    }

    #[test]
    fn durations_without_a_known_unit_are_refused() {
        for text in [
            "", "5", "s", "-1s", "1.s", ".5s", "1e3s", "5 sec", "5M", "1..2s", "5µ",
        ] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.starts_with("cannot read"), "{text}: {err}");
        }
        assert!(parse_duration("300000d").unwrap_err().contains("too large"));
    }

    #[test]
    fn bandwidths_use_decimal_prefixes_in_any_case() {
        let cases = [
            ("50kbps", 50_000),
            ("10Mbps", 10_000_000),
            ("1Gbps", 1_000_000_000),
            ("1.5 Mbit/s", 1_500_000),
            ("9600bps", 9_600),
            ("100MBPS", 100_000_000),
        ];
        for (text, bps) in cases {
            assert_eq!(parse_bandwidth(text), Ok(bps), "{text}");
        }
        // Bytes per second are refused, not read as bits.
        for bytes in ["10MBps", "1.25 MB/s", "100kBps"] {
            assert!(
                parse_bandwidth(bytes)
                    .unwrap_err()
                    .contains("bytes per second"),
                "{bytes}"
            );
        }
        assert_eq!(
            parse_bandwidth("10Mbs").unwrap_err(),
            r#"cannot read "10Mbs" as a bandwidth (examples: "50kbps", "10Mbps", "1Gbps")"#
        );
    }

    #[test]
    fn sizes_distinguish_thousands_from_1024s() {
        let cases = [
            ("512B", 512),
            ("8KB", 8_000),
            ("8kB", 8_000),
            ("8KiB", 8_192),
            ("1.5MB", 1_500_000),
            ("1MiB", 1_048_576),
            ("2GB", 2_000_000_000),
        ];
        for (text, bytes) in cases {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for text in ["8", "8kb", "8 bytes", "KB"] {
            assert!(parse_size(text).is_err(), "{text}");
        }
    }

    #[test]
    fn rates_are_converted_to_events_per_second() {
        let cases = [
            ("2/s", 2.0),
            ("30/min", 0.5),
            ("36/h", 0.01),
            ("86.4/day", 0.001),
            ("1 / hour", 1.0 / 3600.0),
        ];
        for (text, per_second) in cases {
            let got = parse_rate(text).unwrap();
            assert!((got - per_second).abs() < 1e-12, "{text}: {got}");
        }
        for text in ["20", "20/week", "/s", "x/s", "2s/s"] {
            assert!(parse_rate(text).is_err(), "{text}");
        }
    }

    #[test]
    fn utc_times_count_seconds_from_the_unix_epoch() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_utc("2000-03-01T00:00:00Z"), Ok(951_868_800));
        assert_eq!(parse_utc("2026-01-05T09:00:00Z"), Ok(1_767_603_600));
        assert_eq!(parse_utc("1969-12-31T23:59:59Z"), Ok(-1));
        for text in [
            "2026-02-29T00:00:00Z",
            "2026-01-05T09:00:00+01:00",
            "2026-01-05T09:00:00.5Z",
            "2026-01-05T24:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-1-05T09:00:00Z",
            "2026-01-05T09:00:0éZ",
        ] {
            assert!(parse_utc(text).is_err(), "{text}");
        }
    }
}
