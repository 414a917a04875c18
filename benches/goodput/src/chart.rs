//! The sweep as an SVG: goodput against latency, one panel per baud rate,
//! one line per mode; the vendor's methods dashed, in black and grey.

use std::path::Path;

use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::modes::Job;
use crate::Row;

/// One colour per mode of ours, in the order the rows bring them.
const COLOURS: [RGBColor; 6] = [
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(31, 119, 180),
    RGBColor(23, 190, 207),
];
const VENDOR_UP: RGBColor = RGBColor(0, 0, 0);
const VENDOR_DOWN: RGBColor = RGBColor(127, 127, 127);

const FONT: &str = "sans-serif";
const WIDTH: u32 = 1200;
const PANELS_HEIGHT: u32 = 500;
/// Legend entries per line, and the height of a line.
const LEGEND_COLUMNS: usize = 5;
const LEGEND_LINE: i32 = 26;

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
    colour: RGBColor,
}

impl Series {
    fn draw_key<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
        (x0, y0): (i32, i32),
    ) -> Result<(), Error>
    where
        DB::ErrorType: 'static,
    {
        let line = [(x0, y0), (x0 + 36, y0)];
        let style = self.colour.stroke_width(2);
        if self.vendor {
            area.draw(&DashedPathElement::new(line, 8, 5, style))?;
        } else {
            area.draw(&PathElement::new(line, style))?;
        }
        area.draw(&Circle::new((x0 + 18, y0), 3, self.colour.filled()))?;
        area.draw(&Text::new(self.label.as_str(), (x0 + 44, y0 - 8), (FONT, 14)))?;
        Ok(())
    }
}

type Error = Box<dyn std::error::Error>;

/// Draws `rows` (every mode at every baud rate and latency) into `path`.
pub fn draw(path: &Path, rows: &[Row], bauds: &[u32], latencies: &[u64]) -> Result<(), Error> {
    let mut series: Vec<Series> = Vec::new();
    for row in rows {
        let label = row.mode.label();
        if series.iter().any(|s| s.label == label) {
            continue;
        }
        let ours = series.iter().filter(|s| !s.vendor).count();
        let colour = match (row.mode.is_vendor(), row.mode.job()) {
            (true, Job::Upload) => VENDOR_UP,
            (true, Job::Download) => VENDOR_DOWN,
            (false, _) => COLOURS[ours % COLOURS.len()],
        };
        series.push(Series { label, job: row.mode.job(), vendor: row.mode.is_vendor(), colour });
    }
    // The legend: a line (or more) per job.
    let jobs = [Job::Upload, Job::Download];
    let lines: usize =
        jobs.iter().map(|&job| series.iter().filter(|s| s.job == job).count().div_ceil(LEGEND_COLUMNS)).sum();
    let height = PANELS_HEIGHT + 12 + LEGEND_LINE as u32 * lines as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, legend) = root.split_vertically(PANELS_HEIGHT);
    let top = top.titled("Goodput of 1 MiB against the modem's latency per step (simulated UART, 8N1)", (FONT, 20))?;
    let panels = top.split_evenly((1, bauds.len()));
    let (lo, hi) = (x(*latencies.iter().min().unwrap_or(&0)), x(*latencies.iter().max().unwrap_or(&1000)));
    let pad = (hi - lo).max(500) / 25;
    for (panel, &baud) in panels.iter().zip(bauds) {
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{baud} baud"), (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(
                ((lo - pad)..(hi + pad)).with_key_points(latencies.iter().map(|&ms| x(ms)).collect()),
                0f64..101.0,
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
        for s in &series {
            let points: Vec<(i32, f64)> = rows
                .iter()
                .filter(|r| r.baud == baud && r.mode.label() == s.label)
                .map(|r| (x(r.latency_ms), r.goodput * 100.0))
                .collect();
            let style = s.colour.stroke_width(2);
            if s.vendor {
                chart.draw_series(DashedLineSeries::new(points.clone(), 8, 5, style))?;
            } else {
                chart.draw_series(LineSeries::new(points.clone(), style))?;
            }
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, s.colour.filled())))?;
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
                s.draw_key(&legend, (110 + 215 * col as i32, y))?;
            }
            line += 1;
        }
    }
    root.present()?;
    Ok(())
}
