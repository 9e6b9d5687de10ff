//! Charts as SVG and PNG from one drawing routine, with the bundled font.
//!
//! Text is set in DejaVu Sans, compiled into the binary
//! (`assets/fonts/DejaVuSans.ttf`, licence beside it) and handed to
//! plotters' `ab_glyph` renderer, so drawing a PNG never looks for a
//! system font or touches fontconfig. SVG files name the font family
//! `sans-serif` in their `<text>` elements and viewers use their own.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// Width and height of every chart, in pixels (SVG user units).
pub const SIZE: (u32, u32) = (800, 500);

/// The bundled font.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the bundled font as `sans-serif` (once per process).
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to parse; a failure would show
        // as a drawing error naming the missing font.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, DEJAVU_SANS);
    });
}

/// A drawing routine that works on any backend.
pub trait Draw {
    /// Draws the whole chart on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Writes `chart` as an SVG file at `path`.
pub fn write_svg(chart: &impl Draw, path: &Path) -> Result<(), String> {
    register_fonts();
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    chart.draw(&root)?;
    root.present().map_err(|e| e.to_string())
}

/// Writes `chart` as an 8-bit RGB PNG file at `path`.
pub fn write_png(chart: &impl Draw, path: &Path) -> Result<(), String> {
    let rgb = render_rgb(chart)?;
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), SIZE.0, SIZE.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}

/// Draws `chart` into memory: `SIZE.0 * SIZE.1` pixels of 3 bytes, row by
/// row from the top.
pub fn render_rgb(chart: &impl Draw) -> Result<Vec<u8>, String> {
    register_fonts();
    let mut rgb = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(rgb)
}

/// Writes `chart` as `<stem>.svg` and `<stem>.png`.
pub fn write_both(chart: &impl Draw, stem: &Path) -> Result<(), String> {
    write_svg(chart, &stem.with_extension("svg"))?;
    write_png(chart, &stem.with_extension("png"))
}

/// One named line of a time-series chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its legend label.
    pub label: String,
    /// (time in seconds, value), in time order.
    pub points: Vec<(f64, f64)>,
}

/// A chart of values over simulated time, one line per series, with a
/// legend. `steps` draws each value as held until the next point (for
/// state such as a route); otherwise points are joined by straight lines.
#[derive(Clone, Debug)]
pub struct TimeChart {
    /// The caption.
    pub title: String,
    /// The y axis label.
    pub y_desc: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Hold values until the next point.
    pub steps: bool,
    /// The y axis ends at least here (e.g. 1 for utilisation).
    pub y_min_top: f64,
    /// The x axis ends at least here (the end of the run, in seconds).
    pub x_end: f64,
    /// Events drawn as dots, not lines (e.g. topology changes), after the
    /// lines and in the legend.
    pub markers: Vec<Series>,
    /// Put the legend in the upper left corner, for curves that rise to
    /// the right.
    pub legend_left: bool,
}

impl Draw for TimeChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let points = self
            .series
            .iter()
            .chain(&self.markers)
            .flat_map(|s| s.points.iter());
        let x_max = points.clone().map(|p| p.0).fold(self.x_end, f64::max);
        let x_max = if x_max > 0.0 { x_max } else { 1.0 };
        let y_max = points.map(|p| p.1).fold(self.y_min_top, f64::max);
        let y_top = if y_max > 0.0 { y_max * 1.05 } else { 1.0 };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_top)
            .map_err(err)?;
        // Whole numbers on axes that span tens or more.
        let label = |span: f64| {
            move |v: &f64| {
                if span >= 10.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            }
        };
        chart
            .configure_mesh()
            .x_desc("simulated time (s)")
            .y_desc(self.y_desc.as_str())
            .x_label_formatter(&label(x_max))
            .y_label_formatter(&label(y_top))
            .draw()
            .map_err(err)?;
        for (i, s) in self.series.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            let line: Vec<(f64, f64)> = if self.steps {
                held(&s.points, x_max)
            } else {
                s.points.clone()
            };
            chart
                .draw_series(LineSeries::new(line, colour.stroke_width(1)))
                .map_err(err)?
                .label(s.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                });
        }
        for (i, s) in self.markers.iter().enumerate() {
            let colour = Palette99::pick(self.series.len() + i).to_rgba();
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                .map_err(err)?
                .label(s.label.as_str())
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, colour.filled()));
        }
        if !self.series.is_empty() || !self.markers.is_empty() {
            let corner = if self.legend_left {
                SeriesLabelPosition::UpperLeft
            } else {
                SeriesLabelPosition::UpperRight
            };
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .position(corner)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }
}

/// Each value held until the next point's time, the last until `end`.
fn held(points: &[(f64, f64)], end: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2 + 1);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, y));
    }
    if let Some(&(x, y)) = points.last()
        && end > x
    {
        out.push((end, y));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(title: &str) -> TimeChart {
        TimeChart {
            title: title.to_string(),
            y_desc: "packets".into(),
            series: vec![Series {
                label: "r1 > r2".into(),
                points: vec![(0.0, 0.0), (1.0, 3.0), (2.0, 1.0)],
            }],
            steps: true,
            y_min_top: 1.0,
            x_end: 2.0,
            markers: Vec::new(),
            legend_left: false,
        }
    }

    /// Pixels darker than mid-grey in rows `rows` of an RGB image.
    fn dark(rgb: &[u8], rows: std::ops::Range<usize>) -> usize {
        let w = SIZE.0 as usize;
        rgb[rows.start * w * 3..rows.end * w * 3]
            .chunks(3)
            .filter(|p| p.iter().map(|&c| u32::from(c)).sum::<u32>() < 3 * 128)
            .count()
    }

    #[test]
    fn png_files_carry_the_signature_and_the_chart_size_in_ihdr() {
        let dir = std::env::temp_dir().join(format!("mailsim-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.png");
        write_png(&chart("Queue"), &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // PNG signature (RFC 2083 section 3.1), then the IHDR chunk: length
        // 13, type, width and height big-endian, depth 8, colour type 2 (RGB).
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&bytes[8..16], b"\0\0\0\x0dIHDR");
        let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
        assert_eq!((be(16), be(20)), SIZE);
        assert_eq!((bytes[24], bytes[25]), (8, 2));
    }

    /// The caption sits in the top 15 + 25 pixels (margin and 20-pixel
    /// font): only glyphs can put dark pixels there, so with the bundled
    /// font some appear, and none with an empty title.
    #[test]
    fn png_text_is_drawn_with_the_bundled_font() {
        let with = render_rgb(&chart("Queue length over time")).unwrap();
        let without = render_rgb(&chart("")).unwrap();
        assert!(dark(&with, 0..38) > 50, "no caption pixels");
        assert_eq!(dark(&without, 0..12), 0);
        assert_ne!(with, without);
        // Axis labels: the y description runs down the left edge.
        assert!(dark(&with, 100..400) > 0);
    }

    #[test]
    fn held_values_step_until_the_next_point() {
        let got = held(&[(0.0, 1.0), (2.0, 5.0)], 3.0);
        assert_eq!(got, vec![(0.0, 1.0), (2.0, 1.0), (2.0, 5.0), (3.0, 5.0)]);
    }
}
