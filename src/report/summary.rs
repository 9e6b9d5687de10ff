//! The run summary: the message balance, latency percentiles and totals.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::experiment::RunOutcome;
use crate::service::ledger::Balance;

/// What `summary.json` holds.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// The scenario file's name.
    pub scenario: String,
    /// The master seed.
    pub seed: u64,
    /// Simulated seconds covered.
    pub sim_time_s: f64,
    /// Events run by the kernel.
    pub events: u64,
    /// The balance per (message, recipient).
    pub messages: Messages,
    /// Delivery latency, acceptance by the sender's MTA to commit.
    pub latency_s: Latency,
    /// Latency from acceptance to the first download by a client.
    pub fetch_latency_s: Latency,
    /// Service totals.
    pub services: Services,
    /// Network totals.
    pub network: Network,
    /// Bulk transfers; absent when the scenario has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bulk: Option<super::bulk::BulkSummary>,
    /// Control-plane totals.
    pub routing: crate::net::routing::RoutingSummary,
}

/// The message balance, with the bounce and queue figures beside it.
#[derive(Debug, Serialize)]
pub struct Messages {
    /// Pairs submitted, delivered, bounced, queued, dropped and lost
    /// (flattened into this object in the JSON).
    #[serde(flatten)]
    pub balance: Balance,
    /// Delivery status notifications generated.
    pub dsn_generated: u64,
    /// Messages left in MTA queues at the end (entries, not recipients).
    pub queue_entries_at_end: usize,
}

/// Percentiles (nearest rank) of a latency sample, in seconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    /// Sample size.
    pub count: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
    /// Arithmetic mean.
    pub mean: Option<f64>,
}

/// Service totals.
#[derive(Debug, Serialize)]
pub struct Services {
    /// SMTP sessions served.
    pub smtp_sessions: u64,
    /// POP3 sessions served.
    pub pop3_sessions: u64,
    /// IMAP sessions served.
    pub imap_sessions: u64,
    /// DNS queries answered.
    pub dns_answered: u64,
    /// Messages downloaded by clients.
    pub fetched: u64,
    /// Bounces of bounces dropped.
    pub double_bounces: u64,
    /// Messages from senders outside the simulation.
    pub untracked_accepted: u64,
    /// TCP connections that failed.
    pub connect_failures: u64,
    /// TCP retransmissions.
    pub tcp_retransmits: u64,
    /// TCP resets for closed ports.
    pub tcp_resets: u64,
}

/// Network totals.
#[derive(Debug, Serialize)]
pub struct Network {
    /// Packets put on a line, over all link directions.
    pub packets: u64,
    /// IP bytes put on a line.
    pub bytes: u64,
    /// Drops by reason.
    pub drops: BTreeMap<String, u64>,
}

/// The nearest-rank percentile `p` (0-100) of an ascending sample.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub(super) fn latency(mut v: Vec<f64>) -> Latency {
    v.sort_by(f64::total_cmp);
    let mean = (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    Latency {
        count: v.len(),
        p50: percentile(&v, 50.0),
        p95: percentile(&v, 95.0),
        p99: percentile(&v, 99.0),
        max: v.last().copied(),
        mean,
    }
}

/// Builds the summary of a finished run.
pub fn summarize(run: &RunOutcome, scenario: &str) -> Summary {
    let w = &run.world;
    let b = w.ledger.balance(|m, a| w.holds(m, a));
    let fetch: Vec<f64> = w
        .ledger
        .msgs
        .iter()
        .filter_map(|m| m.accepted.map(|a| (a, m)))
        .flat_map(|(a, m)| {
            m.rcpts
                .iter()
                .filter_map(move |r| r.fetched.map(|f| (f - a).as_secs_f64()))
        })
        .collect();
    let s = &w.stats;
    let chans = w.net.channels();
    Summary {
        scenario: scenario.to_string(),
        seed: run.seed,
        sim_time_s: run.sim_time.as_secs_f64(),
        events: w.sched.events_run(),
        messages: Messages {
            balance: b,
            dsn_generated: s.dsn_generated,
            queue_entries_at_end: w.queued_messages(),
        },
        latency_s: latency(w.ledger.latencies()),
        fetch_latency_s: latency(fetch),
        services: Services {
            smtp_sessions: s.smtp_sessions,
            pop3_sessions: s.pop3_sessions,
            imap_sessions: s.imap_sessions,
            dns_answered: s.dns_answered,
            fetched: s.fetched,
            double_bounces: s.double_bounces,
            untracked_accepted: s.untracked_accepted,
            connect_failures: s.connect_failures,
            tcp_retransmits: s.tcp_retransmits,
            tcp_resets: s.tcp_resets,
        },
        network: Network {
            packets: chans.iter().map(|c| c.stats.packets).sum(),
            bytes: chans.iter().map(|c| c.stats.bytes).sum(),
            drops: w
                .net
                .drops()
                .iter()
                .map(|(r, n)| (r.as_str().to_string(), *n))
                .collect(),
        },
        bulk: super::bulk::summarize_bulk(w),
        routing: w.net.routing().summary(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_match_the_definition() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[3.0], 99.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
