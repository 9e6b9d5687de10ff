//! The `bulk` section of `summary.json`: bulk transfers opened, completed
//! and failed, bytes delivered, and flow completion times.

use serde::Serialize;

use super::summary::{Latency, latency};
use crate::service::World;

/// Bulk transfer totals (present only when the scenario has a bulk
/// workload).
#[derive(Debug, Serialize)]
pub struct BulkSummary {
    /// Connections opened by senders.
    pub opened: usize,
    /// Flows whose last byte reached the sink.
    pub completed: usize,
    /// Flows whose sender's connection ended before that.
    pub failed: usize,
    /// Flows neither completed nor failed at the end of the run.
    pub in_progress: usize,
    /// Bytes received by discard sinks.
    pub bytes_delivered: u64,
    /// Flow completion time: from the open to the last byte at the sink.
    pub fct_s: Latency,
}

/// The bulk section of a finished run, if any flow was opened.
pub(super) fn summarize_bulk(w: &World) -> Option<BulkSummary> {
    let stats = w.bulk_stats();
    if stats.flows.is_empty() {
        return None;
    }
    let (completed, failed) = (stats.completed(), stats.failed());
    Some(BulkSummary {
        opened: stats.flows.len(),
        completed,
        failed,
        in_progress: stats.flows.len() - completed - failed,
        bytes_delivered: stats.bytes_delivered,
        fct_s: latency(stats.completion_times()),
    })
}
