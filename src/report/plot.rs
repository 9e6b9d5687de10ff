//! Plots of a run, as SVG (plotters' SVG backend: pure Rust, no system
//! fonts needed, and the same data always gives the same file).

use std::path::Path;

use plotters::prelude::*;

/// Draws the cumulative distribution of delivery latency: for each latency
/// on the x axis, the share of delivered messages that arrived within it.
pub fn latency_cdf(latencies: &[f64], path: &Path, title: &str) -> Result<(), String> {
    let mut v: Vec<f64> = latencies.to_vec();
    v.sort_by(f64::total_cmp);
    let x_max = v.last().copied().unwrap_or(1.0).max(1e-3) * 1.05;
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..x_max, 0.0..1.0)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("delivery latency (s), acceptance to mailbox")
        .y_desc("share of delivered messages")
        .draw()
        .map_err(|e| e.to_string())?;
    let n = v.len().max(1) as f64;
    let points = v.iter().enumerate().map(|(i, &x)| (x, (i + 1) as f64 / n));
    chart
        .draw_series(LineSeries::new(points, &BLUE))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}
