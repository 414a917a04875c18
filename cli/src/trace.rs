//! `--trace FILE`: the whole AT transcript, one record a line.
//!
//! The driver logs every line it sends (`> ...`) and receives (`< ...`)
//! through the `log` facade at trace level, with control bytes escaped,
//! payload summarised by its length and credentials shown as `***`; this
//! logger writes those records, and qftp's own few (a DTR line it cannot
//! drive, how the built-in simulator's module left data mode), and nothing
//! else, with the seconds since the start:
//! `   0.123 > AT+QFTPOPEN="ftp.example.com",21`. Each line is
//! written with one call and flushed, so a run that crashes leaves the
//! transcript up to its last line.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Instant;

/// The target prefix of the driver's records.
const DRIVER: &str = "quectel_ftp";

/// The target prefix of qftp's own records (a DTR line it cannot drive,
/// the built-in simulator's escape counts).
const QFTP: &str = "qftp";

/// Whether `target` is `prefix` or a module in it.
fn within(target: &str, prefix: &str) -> bool {
    target.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// A logger that writes the driver's records to a file or stderr.
pub struct Transcript {
    start: Instant,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Transcript {
    /// A transcript into `out`, timed from now.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Transcript { start: Instant::now(), out: Mutex::new(out) }
    }

    fn out(&self) -> std::sync::MutexGuard<'_, Box<dyn Write + Send>> {
        self.out.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl log::Log for Transcript {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        within(metadata.target(), DRIVER) || within(metadata.target(), QFTP)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!("{:8.3} {}\n", self.start.elapsed().as_secs_f64(), record.args());
        let mut out = self.out();
        // A transcript that cannot be written must not stop the transfer.
        let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
    }

    fn flush(&self) {
        let _ = self.out().flush();
    }
}

/// Installs the process's logger: the transcript goes to `dest`, a file
/// (created or truncated) or `-` for stderr. Once per process.
pub fn install(dest: &str) -> io::Result<()> {
    let out: Box<dyn Write + Send> = match dest {
        "-" => Box::new(io::stderr()),
        path => Box::new(File::create(path)?),
    };
    let logger: &'static Transcript = Box::leak(Box::new(Transcript::new(out)));
    log::set_logger(logger).map_err(|e| io::Error::other(e.to_string()))?;
    log::set_max_level(log::LevelFilter::Trace);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Log;
    use std::sync::Arc;

    /// A `Write` whose bytes the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn only_the_drivers_and_qftps_records_are_written_each_with_its_time() {
        let sink = Shared::default();
        let transcript = Transcript::new(Box::new(sink.clone()));
        let record = |target: &'static str, text: &str| {
            transcript.log(
                &log::Record::builder().target(target).level(log::Level::Trace).args(format_args!("{text}")).build(),
            );
        };
        record("quectel_ftp::client::edge", "> AT+QFTPCLOSE");
        record("rustyline", "key event");
        record("quectel_ftp_sim", "not the driver");
        record("qftpx", "not qftp");
        record("qftp::cli", "simulator: escapes from data mode: 1 by DTR, 0 by +++");
        record("quectel_ftp::client::edge", "< OK");
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("   0.0") && lines[0].ends_with(" > AT+QFTPCLOSE"), "{text}");
        assert!(lines[1].ends_with(" simulator: escapes from data mode: 1 by DTR, 0 by +++"), "{text}");
        assert!(lines[2].ends_with(" < OK"), "{text}");
    }
}
