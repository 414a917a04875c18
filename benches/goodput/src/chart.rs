//! The sweep as an SVG: goodput against latency, one column of panels per
//! baud rate (the whole range above, 80–100 % below), one line per mode: a
//! colour per mode of ours, solid with filled markers without DTR, dashed
//! with rings with DTR (under the solid one: where both coincide, a dot in
//! a ring); the vendor's methods wide, in black and grey, under ours (where
//! one of ours matches the vendor's, the vendor's shows as a rim around it).

use std::ops::Range;
use std::path::Path;

use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::modes::Job;
use crate::Row;

/// One colour per mode of ours (its DTR variant shares it), in the order
/// the rows bring them.
const COLOURS: [RGBColor; 8] = [
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(31, 119, 180),
    RGBColor(23, 190, 207),
    RGBColor(227, 119, 194),
];
const VENDOR_UP: RGBColor = RGBColor(0, 0, 0);
const VENDOR_DOWN: RGBColor = RGBColor(127, 127, 127);

const FONT: &str = "sans-serif";
const WIDTH: u32 = 1200;
/// The panels' rows: their y range (goodput, %) and height.
const ROWS: [(Range<f64>, u32); 2] = [(0.0..101.0, 470), (80.0..100.5, 370)];
/// Legend entries per line, their width, and the height of a line.
const LEGEND_COLUMNS: usize = 4;
const LEGEND_COLUMN: i32 = 270;
const LEGEND_LINE: i32 = 26;
/// Line widths: ours, and the vendor's under them.
const OURS: u32 = 2;
const VENDOR: u32 = 6;
/// Dashes of the DTR variants: length and gap.
const DASH: (u32, u32) = (7, 4);

/// The x axis: latency on a log scale of 1 + ms, so that 0 has a place
/// (in thousandths of a decade: integer axes take labels of our choosing).
fn x(ms: u64) -> i32 {
    ((1.0 + ms as f64).log10() * 1000.0).round() as i32
}

/// A line of the chart: one mode, with or without DTR.
struct Series {
    label: String,
    job: Job,
    vendor: bool,
    dtr: bool,
    colour: RGBColor,
}

impl Series {
    fn style(&self) -> ShapeStyle {
        self.colour.stroke_width(if self.vendor { VENDOR } else { OURS })
    }

    /// The order of drawing: the vendor's, then the DTR variants, then the
    /// rest, each over the ones before.
    fn layer(&self) -> u8 {
        match (self.vendor, self.dtr) {
            (true, _) => 0,
            (false, true) => 1,
            (false, false) => 2,
        }
    }

    /// A point's marker: a dot, a ring (a white disc with a rim) for a DTR
    /// variant, none for the vendor's (its wide line is mark enough).
    fn marker<C: Copy>(&self, at: C) -> Vec<Circle<C, i32>> {
        match (self.vendor, self.dtr) {
            (true, _) => vec![],
            (false, false) => vec![Circle::new(at, 3, self.colour.filled())],
            (false, true) => vec![Circle::new(at, 5, WHITE.filled()), Circle::new(at, 5, self.colour.stroke_width(2))],
        }
    }

    fn draw_key<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
        (x0, y0): (i32, i32),
    ) -> Result<(), Error>
    where
        DB::ErrorType: 'static,
    {
        let line = [(x0, y0), (x0 + 36, y0)];
        if self.dtr {
            area.draw(&DashedPathElement::new(line, DASH.0, DASH.1, self.style()))?;
        } else {
            area.draw(&PathElement::new(line, self.style()))?;
        }
        for marker in self.marker((x0 + 18, y0)) {
            area.draw(&marker)?;
        }
        area.draw(&Text::new(self.label.as_str(), (x0 + 44, y0 - 7), (FONT, 13)))?;
        Ok(())
    }
}

type Error = Box<dyn std::error::Error>;

/// The lines of the chart, in the order the rows bring them.
fn series(rows: &[Row]) -> Vec<Series> {
    let mut series: Vec<Series> = Vec::new();
    // Our modes' names, in order: a colour each, for both variants.
    let mut names: Vec<&str> = Vec::new();
    for row in rows {
        let label = row.mode.label();
        if series.iter().any(|s| s.label == label) {
            continue;
        }
        let colour = match (row.mode.is_vendor(), row.mode.job()) {
            (true, Job::Upload) => VENDOR_UP,
            (true, Job::Download) => VENDOR_DOWN,
            (false, _) => {
                let i = names.iter().position(|&n| n == row.mode.name).unwrap_or_else(|| {
                    names.push(row.mode.name);
                    names.len() - 1
                });
                COLOURS[i % COLOURS.len()]
            }
        };
        let (job, vendor, dtr) = (row.mode.job(), row.mode.is_vendor(), row.mode.dtr);
        series.push(Series { label, job, vendor, dtr, colour });
    }
    series
}

/// The parts of the line through `points` inside `range` (plotters would
/// draw the rest along the panel's edge): each segment that leaves it ends
/// where it crosses the edge.
fn clip(points: &[(i32, f64)], range: &Range<f64>) -> Vec<Vec<(i32, f64)>> {
    let edge = |y: f64| y.clamp(range.start, range.end);
    let mut parts: Vec<Vec<(i32, f64)>> = Vec::new();
    let mut part: Vec<(i32, f64)> = Vec::new();
    for pair in points.windows(2) {
        let [(x0, y0), (x1, y1)] = [pair[0], pair[1]];
        let at = |y: f64| (x0 + ((x1 - x0) as f64 * (y - y0) / (y1 - y0)).round() as i32, y);
        let (a, b) = (range.contains(&y0), range.contains(&y1));
        match (a, b) {
            (true, true) => {
                if part.is_empty() {
                    part.push((x0, y0));
                }
                part.push((x1, y1));
            }
            (true, false) => {
                if part.is_empty() {
                    part.push((x0, y0));
                }
                part.push(at(edge(y1)));
                parts.push(std::mem::take(&mut part));
            }
            (false, true) => part.extend([at(edge(y0)), (x1, y1)]),
            (false, false) => {}
        }
    }
    parts.push(part);
    parts.retain(|p| p.len() > 1);
    parts
}

/// Draws `rows` (every mode at every baud rate and latency) into `path`.
pub fn draw(path: &Path, rows: &[Row], bauds: &[u32], latencies: &[u64]) -> Result<(), Error> {
    let series = series(rows);
    // The legend: a line (or more) per job, and a line to read it by.
    let jobs = [Job::Upload, Job::Download];
    let lines: usize =
        jobs.iter().map(|&job| series.iter().filter(|s| s.job == job).count().div_ceil(LEGEND_COLUMNS)).sum();
    let title = 40;
    let panels_height: u32 = ROWS.iter().map(|(_, h)| h).sum();
    let height = title + panels_height + 12 + LEGEND_LINE as u32 * (lines as u32 + 1);
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, legend) = root.split_vertically(title + panels_height);
    let mut top =
        top.titled("Goodput of 1 MiB against the modem's latency per step (simulated UART, 8N1)", (FONT, 20))?;
    let (lo, hi) = (x(*latencies.iter().min().unwrap_or(&0)), x(*latencies.iter().max().unwrap_or(&1000)));
    let pad = (hi - lo).max(500) / 25;
    for (i, (range, row_height)) in ROWS.iter().enumerate() {
        let (row, rest) = top.split_vertically(*row_height);
        top = rest;
        for (panel, &baud) in row.split_evenly((1, bauds.len())).iter().zip(bauds) {
            let caption = match i {
                0 => format!("{baud} baud"),
                _ => format!("{baud} baud, {:.0}–100 %", range.start),
            };
            let mut chart = ChartBuilder::on(panel)
                .caption(caption, (FONT, 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(
                    ((lo - pad)..(hi + pad)).with_key_points(latencies.iter().map(|&ms| x(ms)).collect()),
                    range.clone(),
                )?;
            chart
                .configure_mesh()
                .x_desc("modem latency per step, ms (log scale)")
                .y_desc("goodput, % of the line rate")
                .x_label_formatter(&|v| latencies.iter().find(|&&ms| x(ms) == *v).map_or(String::new(), u64::to_string))
                .y_labels(11)
                .y_label_formatter(&|v| format!("{v:.0}"))
                .max_light_lines(0)
                .label_style((FONT, 13))
                .draw()?;
            for layer in 0..3 {
                for s in series.iter().filter(|s| s.layer() == layer) {
                    let points: Vec<(i32, f64)> = rows
                        .iter()
                        .filter(|r| r.baud == baud && r.mode.label() == s.label)
                        .map(|r| (x(r.latency_ms), r.goodput * 100.0))
                        .collect();
                    for part in clip(&points, range) {
                        if s.dtr {
                            chart.draw_series(DashedLineSeries::new(part, DASH.0, DASH.1, s.style()))?;
                        } else {
                            chart.draw_series(LineSeries::new(part, s.style()))?;
                        }
                    }
                    let inside = points.iter().filter(|(_, y)| range.contains(y));
                    chart.draw_series(inside.flat_map(|&p| s.marker(p)))?;
                }
            }
        }
    }
    let mut line = 0;
    for job in jobs {
        let of_job: Vec<&Series> = series.iter().filter(|s| s.job == job).collect();
        for (i, chunk) in of_job.chunks(LEGEND_COLUMNS).enumerate() {
            let y = 12 + LEGEND_LINE * line;
            if i == 0 {
                legend.draw(&Text::new(job.name(), (20, y - 8), (FONT, 14).into_font().style(FontStyle::Bold)))?;
            }
            for (col, s) in chunk.iter().enumerate() {
                s.draw_key(&legend, (110 + LEGEND_COLUMN * col as i32, y))?;
            }
            line += 1;
        }
    }
    let note = "solid, dots: without DTR; dashed, rings: with a DTR pin (a dot in a ring: both alike); \
                wide, black and grey: the vendor's methods, under ours";
    legend.draw(&Text::new(note, (20, 12 + LEGEND_LINE * line - 8), (FONT, 13)))?;
    root.present()?;
    Ok(())
}
