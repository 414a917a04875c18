//! Goodput of the client's uploads and downloads against the UART's line
//! rate, in simulated time (embassy-time's mock driver), swept over baud
//! rate and the modem's latency, next to the vendor's methods for the same
//! jobs.
//!
//! The real client talks to a modem model over a simulated serial line
//! (`sim.rs`), each of its modes without and with a DTR pin; the vendor's
//! methods are raw AT scripts over the same line (`modes.rs`). The same
//! 1 MiB moves each way; the table gives the goodput as a share of the line
//! rate and as a ratio to the vendor's method for the same job, then the
//! verdict on issue 18's targets for the modes the client chooses itself
//! (forced modes are for comparison). Simulated time is exact, so the
//! figures repeat: there are no wall-clock figures, and one run is enough.
//!
//! The chart (`chart.rs`) is written to `benches/goodput/goodput-latency.svg`
//! after the full sweep, or where `--svg` says.

mod chart;
mod modes;
mod sim;

use std::fmt::Write as _;
use std::path::PathBuf;

use embassy_time::Duration;

use crate::modes::{Mode, MODES};
use crate::sim::Clock;

const MIB: usize = 1 << 20;
const BAUDS: [u32; 2] = [115_200, 921_600];
const LATENCIES_MS: [u64; 4] = [0, 50, 200, 1000];
/// The chart of the full sweep, as committed.
const CHART: &str = "benches/goodput/goodput-latency.svg";

const USAGE: &str = "\
usage: quectel-ftp-goodput [--latencies MS,MS,..] [--svg PATH] [--csv PATH]

Sweeps 115200 and 921600 baud x the latencies (default 0,50,200,1000 ms).
The full sweep draws its chart into benches/goodput/goodput-latency.svg;
--svg draws it elsewhere (or for other latencies); --csv writes the rows.";

/// One mode at one baud rate and latency.
pub struct Row {
    pub mode: Mode,
    pub baud: u32,
    pub latency_ms: u64,
    /// Payload time on the wire over the time taken.
    pub goodput: f64,
    /// Our goodput over the vendor's for the same job; `None` in the
    /// vendor's rows.
    pub vs_vendor: Option<f64>,
}

struct Options {
    latencies: Vec<u64>,
    svg: Option<PathBuf>,
    csv: Option<PathBuf>,
}

impl Options {
    fn parse() -> Result<Options, String> {
        let mut o = Options { latencies: LATENCIES_MS.to_vec(), svg: None, csv: None };
        let mut custom = false;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--latencies" => {
                    o.latencies = value()?
                        .split(',')
                        .map(|ms| ms.trim().parse().map_err(|_| format!("not a latency in ms: {ms}")))
                        .collect::<Result<_, _>>()?;
                    custom = true;
                }
                "--svg" => o.svg = Some(value()?.into()),
                "--csv" => o.csv = Some(value()?.into()),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                // The old usage: one latency.
                ms if ms.parse::<u64>().is_ok() => {
                    o.latencies = vec![ms.parse().unwrap_or_default()];
                    custom = true;
                }
                _ => return Err(USAGE.to_owned()),
            }
        }
        if !custom && o.svg.is_none() {
            o.svg = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("goodput-latency.svg"));
        }
        Ok(o)
    }
}

/// Every mode at every baud rate and latency, with each mode's ratio to the
/// vendor's method for the same job.
fn sweep(latencies: &[u64], len: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for &baud in &BAUDS {
        for &latency_ms in latencies {
            let first = rows.len();
            for &mode in MODES {
                let goodput = modes::goodput(&mode, baud, Duration::from_millis(latency_ms), len, Clock::Events);
                rows.push(Row { mode, baud, latency_ms, goodput, vs_vendor: None });
            }
            let group = &mut rows[first..];
            for i in 0..group.len() {
                let (job, ours) = (group[i].mode.job(), group[i].goodput);
                let vendor = group.iter().find(|r| r.mode.is_vendor() && r.mode.job() == job).map(|r| r.goodput);
                if !group[i].mode.is_vendor() {
                    group[i].vs_vendor = vendor.map(|v| ours / v);
                }
            }
        }
    }
    rows
}

/// `v` rounded down to `decimals`, so that a figure shown meets a target
/// only if the figure itself does (a ratio of 0.99999 shows as 0.999).
fn down(v: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (v * scale).floor() / scale
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The rows as a Markdown table.
fn table(rows: &[Row]) -> String {
    let mut t = String::new();
    t.push_str("| baud | latency | job | mode | DTR | forced | goodput, % of line rate | vs vendor |\n");
    t.push_str("| ---: | ---: | --- | --- | --- | --- | ---: | ---: |\n");
    for r in rows {
        let vs = r.vs_vendor.map_or("(vendor)".to_owned(), |v| format!("{:.3}×", down(v, 3)));
        let _ = writeln!(
            t,
            "| {} | {} ms | {} | {} | {} | {} | {:.2} % | {vs} |",
            r.baud,
            r.latency_ms,
            r.mode.job().name(),
            r.mode.name,
            yes(r.mode.dtr),
            if r.mode.is_vendor() { "" } else { yes(r.mode.forced) },
            down(r.goodput * 100.0, 2),
        );
    }
    t
}

fn csv(rows: &[Row]) -> String {
    let mut c = String::from("baud,latency_ms,job,mode,dtr,forced,goodput_pct,vs_vendor\n");
    for r in rows {
        let vs = r.vs_vendor.map_or(String::new(), |v| format!("{v:.6}"));
        let _ = writeln!(
            c,
            "{},{},{},\"{}\",{},{},{:.4},{vs}",
            r.baud,
            r.latency_ms,
            r.mode.job().name(),
            r.mode.name,
            r.mode.dtr,
            r.mode.forced,
            r.goodput * 100.0
        );
    }
    c
}

/// The rows' verdict on the targets of issue 18, which concern the
/// automatic modes (ours, not forced): each target's misses, or "met".
fn targets(rows: &[Row]) -> String {
    let auto = || rows.iter().filter(|r| !r.mode.is_vendor() && !r.mode.forced);
    let name = |r: &Row| format!("{} {} baud {} ms", r.mode.label(), r.baud, r.latency_ms);
    let pct = |r: &Row| down(r.goodput * 100.0, 2);
    let vs = |r: &Row| r.vs_vendor.unwrap_or(1.0);
    // How much longer than the vendor's the file took: the line time over
    // our goodput, less the line time over the vendor's.
    let slower_ms = |r: &Row| {
        let line_ms = MIB as f64 * 10.0 / f64::from(r.baud) * 1000.0;
        line_ms / r.goodput - line_ms / (r.goodput / vs(r))
    };
    let checks: [(&str, Vec<String>); 3] = [
        (
            "115200 baud, 50 ms: every automatic mode at least 97 %",
            auto()
                .filter(|r| r.baud == 115_200 && r.latency_ms == 50 && pct(r) < 97.0)
                .map(|r| format!("{} ({:.2} %)", name(r), pct(r)))
                .collect(),
        ),
        (
            "every automatic mode at least as fast as the vendor's (1.000×)",
            auto()
                .filter(|r| r.vs_vendor.is_some_and(|v| down(v, 3) < 1.0))
                .map(|r| format!("{} ({:.3}×, {:.1} ms slower)", name(r), down(vs(r), 3), slower_ms(r)))
                .collect(),
        ),
        (
            "put of unknown length with DTR, 115200 baud, up to 200 ms: at least 99 %",
            auto()
                .filter(|r| r.mode.dtr && r.mode.is_auto_put())
                .filter(|r| r.baud == 115_200 && r.latency_ms <= 200 && pct(r) < 99.0)
                .map(|r| format!("{} ({:.2} %)", name(r), pct(r)))
                .collect(),
        ),
    ];
    let mut t = String::from("Targets (the automatic modes; forced rows are for comparison):\n");
    for (target, misses) in checks {
        let verdict = if misses.is_empty() { "met".to_owned() } else { format!("missed: {}", misses.join("; ")) };
        let _ = writeln!(t, "- {target}: {verdict}");
    }
    t
}

fn main() {
    let opts = match Options::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    println!("1 MiB each way through a simulated UART (8N1: 10 bit times a byte), simulated time: the");
    println!("figures repeat exactly. Chunk buffer 4 KiB unless the mode says otherwise. The vendor's");
    println!("methods are raw AT scripts, with the least guard time the module takes (1 s each side of");
    println!("`+++`). \"vs vendor\": goodput over the vendor's method's for the same job (> 1: faster).");
    println!("Figures are rounded down: 97.00 % is at least 97 %, 1.000× at least as fast as the vendor.");
    println!("The session comes up with the latency in force; only the transfer is timed. DTR: the");
    println!("client has a DTR pin (`with_dtr`, `AT&D1`). Forced: an upload mode or chunk size set by");
    println!("hand, for comparison (the defaults choose for the other rows).");
    println!();
    let rows = sweep(&opts.latencies, MIB);
    print!("{}", table(&rows));
    println!();
    print!("{}", targets(&rows));
    if let Some(path) = &opts.csv {
        std::fs::write(path, csv(&rows)).expect("write the CSV");
        println!("\nrows: {}", path.display());
    }
    if let Some(path) = &opts.svg {
        chart::draw(path, &rows, &BAUDS, &opts.latencies).expect("draw the chart");
        let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("goodput-latency.svg");
        let shown = if *path == default { PathBuf::from(CHART) } else { path.clone() };
        println!("\nchart: {}", shown.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clock's jumps from event to event give the very figures of
    /// moving it one tick at a time, in every mode, DTR ones included (the
    /// client's timers, the guard before a `+++` and the deadlines, are not
    /// events the clock sees). (The `+++` modes idle through their guards
    /// tick by tick either way, so they run at one latency only: slow in a
    /// debug build.)
    #[test]
    fn event_clock_matches_tick_clock() {
        for mode in MODES {
            for (baud, ms) in [(921_600, 0), (115_200, 150)] {
                let guarded = !mode.dtr && matches!(mode.method, modes::Method::PutEscaped | modes::Method::VendorPut);
                if guarded && ms == 0 {
                    continue;
                }
                let latency = Duration::from_millis(ms);
                let events = modes::goodput(mode, baud, latency, 6000, Clock::Events);
                let ticks = modes::goodput(mode, baud, latency, 6000, Clock::Ticks);
                assert_eq!(events, ticks, "{} at {baud} baud, {ms} ms", mode.name);
            }
        }
    }
}
