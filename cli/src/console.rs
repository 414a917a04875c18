//! Where a command's output goes: the data to stdout, notes and the
//! progress bar to stderr.

use std::io::{self, IsTerminal};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

/// The output streams of one run.
pub struct Console<'a> {
    /// Listings, sizes, paths and the demo's report.
    pub out: &'a mut dyn io::Write,
    /// Transfer summaries.
    pub err: &'a mut dyn io::Write,
    /// Whether to draw progress bars (on stderr).
    pub progress: bool,
}

impl<'a> Console<'a> {
    /// The process's stdout and stderr; progress bars only when stderr is a
    /// terminal.
    pub fn new(out: &'a mut dyn io::Write, err: &'a mut dyn io::Write) -> Self {
        Console { out, err, progress: io::stderr().is_terminal() }
    }

    /// A progress bar for a transfer of `len` bytes (unknown: a spinner),
    /// hidden unless progress is on. It clears itself when dropped (as
    /// when an interrupt drops the transfer).
    pub fn bar(&self, len: Option<u64>, label: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar =
            ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr()).with_finish(ProgressFinish::AndClear);
        let style = match len {
            Some(_) => "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            None => "{msg} {spinner} {bytes} {binary_bytes_per_sec}",
        };
        if let Ok(style) = ProgressStyle::with_template(style) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}

/// `n` bytes moved in `elapsed`, in words: `262144 bytes in 0.41 s (624.4 KiB/s)`.
pub fn rate(n: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let per_sec = if secs > 0.0 { n as f64 / secs / 1024.0 } else { f64::INFINITY };
    format!("{n} bytes in {secs:.2} s ({per_sec:.1} KiB/s)")
}
