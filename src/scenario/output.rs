//! `[output]`: how often the run samples its time series.

use super::Output;
use super::error::ScenarioError;
use super::schema::RawOutput;
use super::validate::Check;
use crate::sim::SimTime;

/// The default sampling interval of `timeseries.csv`.
pub(crate) const DEFAULT_SAMPLE: SimTime = SimTime::from_secs(1);

/// Reads `[output]`; `sample = "off"` turns sampling off.
pub(crate) fn build(check: &Check, raw: Option<&RawOutput>) -> Result<Output, ScenarioError> {
    let Some(v) = raw.and_then(|r| r.sample.as_ref()) else {
        return Ok(Output {
            sample: Some(DEFAULT_SAMPLE),
        });
    };
    if v.get_ref().trim() == "off" {
        return Ok(Output { sample: None });
    }
    let interval = check.duration(v, "output.sample").map_err(|mut e| {
        e.message.push_str(r#"; or "off" for no time series"#);
        e
    })?;
    if interval < SimTime::from_millis(1) {
        let message = r#"must be at least "1ms" (or "off")"#;
        return Err(check.err(v.span(), "output.sample", message));
    }
    Ok(Output {
        sample: Some(interval),
    })
}
