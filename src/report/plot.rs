//! Plots of a run, as SVG (plotters' SVG backend: pure Rust, no system
//! fonts needed, and the same data always gives the same file).

use std::path::Path;

use plotters::prelude::*;

/// Draws the cumulative distribution of delivery latency as a step curve:
/// for each latency on the (logarithmic) x axis, the share of delivered
/// messages that arrived within it. A log axis shows both the sub-second
/// deliveries and the ones that waited in a queue for minutes.
pub fn latency_cdf(latencies: &[f64], path: &Path, title: &str) -> Result<(), String> {
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
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("delivery latency (s, log scale), acceptance by the first MTA to the mailbox")
        .y_desc("share of delivered messages")
        .draw()
        .map_err(|e| e.to_string())?;
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
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}
