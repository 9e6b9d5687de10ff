//! Plots of a run, each as SVG and PNG (see `charts` for the backends and
//! the bundled font): the delivery latency CDF, queue lengths over time
//! and link utilisation over time.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::charts::{Draw, Series, TimeChart, write_png, write_svg};
use crate::experiment::RunOutcome;
use crate::sim::SimTime;

/// How many link directions the queue and utilisation charts show.
pub const TOP_LINKS: usize = 6;

/// Draws the cumulative distribution of delivery latency as a step curve:
/// for each latency on the (logarithmic) x axis, the share of delivered
/// messages that arrived within it. A log axis shows both the sub-second
/// deliveries and the ones that waited in a queue for minutes.
pub fn latency_cdf(latencies: &[f64], path: &Path, title: &str) -> Result<(), String> {
    write_svg(&LatencyCdf::new(latencies, title), path)
}

/// The same chart as [`latency_cdf`], as a PNG file.
pub fn latency_cdf_png(latencies: &[f64], path: &Path, title: &str) -> Result<(), String> {
    write_png(&LatencyCdf::new(latencies, title), path)
}

/// Queue length in packets over time for the link directions whose queue
/// grew longest (at most [`TOP_LINKS`], ties by link order).
pub fn queue_chart(run: &RunOutcome, title: &str) -> TimeChart {
    let ts = &run.timeseries;
    let mut peak: BTreeMap<usize, usize> = BTreeMap::new();
    for s in &ts.links {
        let p = peak.entry(s.channel).or_default();
        *p = (*p).max(s.queue_packets);
    }
    let mut order: Vec<(usize, usize)> = peak.into_iter().filter(|(_, p)| *p > 0).collect();
    order.sort_by_key(|&(ch, p)| (std::cmp::Reverse(p), ch));
    let series = top_series(run, &order, |s| s.queue_packets as f64);
    TimeChart {
        title: format!("{title}: queue length (longest queues)"),
        y_desc: "packets waiting behind the one on the line".into(),
        series,
        steps: false,
        y_min_top: 1.0,
        x_end: run.sim_time.as_secs_f64(),
        markers: Vec::new(),
        legend_left: false,
    }
}

/// Utilisation over each sampling interval for the busiest link
/// directions (most transmitting time over the run; at most
/// [`TOP_LINKS`], ties by link order).
pub fn utilisation_chart(run: &RunOutcome, title: &str) -> TimeChart {
    let ts = &run.timeseries;
    let mut busy: BTreeMap<usize, SimTime> = BTreeMap::new();
    for s in &ts.links {
        *busy.entry(s.channel).or_default() += s.busy;
    }
    let mut order: Vec<(usize, SimTime)> = busy.into_iter().filter(|(_, b)| b.0 > 0).collect();
    order.sort_by_key(|&(ch, b)| (std::cmp::Reverse(b), ch));
    let series = top_series(run, &order, |s| s.utilisation());
    TimeChart {
        title: format!("{title}: link utilisation (busiest links)"),
        y_desc: "share of the interval spent transmitting".into(),
        series,
        steps: false,
        y_min_top: 1.0,
        x_end: run.sim_time.as_secs_f64(),
        markers: Vec::new(),
        legend_left: false,
    }
}

/// One series per channel of the first [`TOP_LINKS`] of `order`.
fn top_series<K>(
    run: &RunOutcome,
    order: &[(usize, K)],
    value: impl Fn(&crate::experiment::LinkSample) -> f64,
) -> Vec<Series> {
    let net = &run.world.net;
    order
        .iter()
        .take(TOP_LINKS)
        .map(|&(ch, _)| {
            let c = &net.channels()[ch];
            Series {
                label: format!("{} > {}", net.node(c.from).name, net.node(c.to).name),
                points: run
                    .timeseries
                    .links
                    .iter()
                    .filter(|s| s.channel == ch)
                    .map(|s| (s.time.as_secs_f64(), value(s)))
                    .collect(),
            }
        })
        .collect()
}

/// The latency CDF's data, sorted, with its axis range.
struct LatencyCdf {
    sorted: Vec<f64>,
    lo: f64,
    hi: f64,
    title: String,
}

impl LatencyCdf {
    fn new(latencies: &[f64], title: &str) -> Self {
        let mut v: Vec<f64> = latencies.to_vec();
        v.sort_by(f64::total_cmp);
        // Local deliveries can take no simulated time at all; a log axis
        // needs a floor, so they are drawn at one microsecond.
        const FLOOR: f64 = 1e-6;
        let lo = v
            .iter()
            .copied()
            .find(|&x| x > FLOOR)
            .unwrap_or(1e-3)
            .max(FLOOR)
            / 2.0;
        let hi = v.last().copied().unwrap_or(1.0).max(lo * 10.0) * 2.0;
        LatencyCdf {
            sorted: v,
            lo,
            hi,
            title: title.to_string(),
        }
    }
}

impl Draw for LatencyCdf {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let (lo, hi, v) = (self.lo, self.hi, &self.sorted);
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("delivery latency (s, log scale), acceptance by the first MTA to the mailbox")
            .y_desc("share of delivered messages")
            .draw()
            .map_err(err)?;
        let n = v.len().max(1) as f64;
        let mut steps = Vec::with_capacity(2 * v.len() + 1);
        for (i, &x) in v.iter().enumerate() {
            let x = x.max(lo);
            steps.push((x, i as f64 / n));
            steps.push((x, (i + 1) as f64 / n));
        }
        if let Some(&(_, y)) = steps.last() {
            steps.push((hi, y));
        }
        chart
            .draw_series(LineSeries::new(steps, &BLUE))
            .map_err(err)?;
        Ok(())
    }
}

/// Route changes over time: the running count over all routers and
/// destinations (a step line), with one point per topology change so a
/// reader sees where each burst of changes began.
pub fn routes_chart(run: &RunOutcome, title: &str) -> TimeChart {
    let stats = run.world.net.routing().stats();
    let mut count = 0.0;
    let mut changes = vec![(0.0, 0.0)];
    for (t, _, _) in &stats.route_changes {
        count += 1.0;
        changes.push((t.as_secs_f64(), count));
    }
    let series = vec![Series {
        label: "route changes so far (all routers)".into(),
        points: changes,
    }];
    let topo: Vec<(f64, f64)> = stats
        .topology_changes
        .iter()
        .map(|t| {
            let before = stats.route_changes.partition_point(|c| c.0 <= *t);
            (t.as_secs_f64(), before as f64)
        })
        .collect();
    let markers = if topo.is_empty() {
        Vec::new()
    } else {
        vec![Series {
            label: "topology change (link or node down or up)".into(),
            points: topo,
        }]
    };
    TimeChart {
        title: format!(
            "{title}: {} routing, route changes",
            run.world.net.routing().protocol().name()
        ),
        y_desc: "route changes since the start".into(),
        series,
        steps: true,
        y_min_top: 1.0,
        x_end: run.sim_time.as_secs_f64(),
        markers,
        legend_left: true,
    }
}
