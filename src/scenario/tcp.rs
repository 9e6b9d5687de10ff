//! The `[tcp]` table: TCP options shared by every host.

use crate::sim::SimTime;

use super::schema::RawTcp;
use super::validate::Check;
use super::{ScenarioError, Tcp};

/// RFC 1122 section 4.2.3.2: an ACK "MUST" not be delayed 0.5 s or more.
const ACK_DELAY_LIMIT: SimTime = SimTime::from_millis(500);

/// Reads `[tcp]`; a missing table gives the defaults.
pub(crate) fn build(check: &Check, raw: Option<&RawTcp>) -> Result<Tcp, ScenarioError> {
    let mut tcp = Tcp::default();
    let Some(raw) = raw else {
        return Ok(tcp);
    };
    if let Some(on) = &raw.delayed_ack {
        tcp.delayed_ack = *on.get_ref();
    }
    if let Some(delay) = &raw.ack_delay {
        let d = check.positive_duration(delay, "tcp.ack_delay")?;
        if d >= ACK_DELAY_LIMIT {
            let message = "must be less than 500ms (RFC 1122 section 4.2.3.2)";
            return Err(check.err(delay.span(), "tcp.ack_delay", message));
        }
        tcp.ack_delay = d;
    }
    Ok(tcp)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::parse_str;
    use super::*;

    const RUN: &str = "[run]\nduration = \"1h\"\n";

    fn parse(extra: &str) -> Result<super::super::Scenario, ScenarioError> {
        parse_str(&format!("{RUN}{extra}"), "t.toml", Path::new("."))
    }

    #[test]
    fn delayed_acks_are_on_by_default_and_can_be_turned_off() {
        let s = parse("").unwrap();
        assert_eq!(s.tcp, Tcp::default());
        assert!(s.tcp.delayed_ack);
        let s = parse("[tcp]\ndelayed_ack = false\nack_delay = \"40ms\"\n").unwrap();
        assert!(!s.tcp.delayed_ack);
        assert_eq!(s.tcp.ack_delay, SimTime::from_millis(40));
    }

    #[test]
    fn bad_tcp_keys_name_their_line_and_column() {
        let e = parse("[tcp]\nack_delay = \"500ms\"\n").unwrap_err();
        assert_eq!((e.line, e.column, e.key.as_str()), (4, 13, "tcp.ack_delay"));
        assert!(e.message.contains("RFC 1122"), "{e}");

        let e = parse("[tcp]\ndelayed_ack = \"no\"\n").unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (4, "tcp.delayed_ack"), "{e}");

        let e = parse("[tcp]\ndelayed_acks = false\n").unwrap_err();
        assert_eq!((e.line, e.column), (4, 1), "{e}");
        assert!(e.message.contains("did you mean `delayed_ack`"), "{e}");
    }
}
