//! Byte streams: std readers and writers as async `embedded-io`, and a
//! blocking serial port as an async UART.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use embedded_io::ErrorKind;

use crate::session::Failure;

/// A `std::io` reader or writer (a local file) as an async `embedded-io`
/// source or sink for [`quectel_ftp::Ftp::put`] and [`quectel_ftp::Ftp::get`].
pub struct StdIo<T>(pub T);

impl<T> embedded_io::ErrorType for StdIo<T> {
    type Error = io::Error;
}

impl<T: io::Read> embedded_io_async::Read for StdIo<T> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<T: io::Write> embedded_io_async::Write for StdIo<T> {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A local file (or stdout) as an async source or sink for a transfer,
/// which counts the bytes written to it and keeps the error of a failed
/// read or write: the driver reports that as `Error::Source(kind)` or
/// `Error::Sink(kind)`, and [`LocalFile::failure`] gives the whole error,
/// with its path.
pub struct LocalFile<T> {
    /// The reader or writer.
    pub io: T,
    /// Bytes written so far.
    pub written: u64,
    /// The error of the last failed read or write, until taken.
    pub error: Option<io::Error>,
}

impl<T> LocalFile<T> {
    /// `io`, nothing written yet.
    pub fn new(io: T) -> Self {
        LocalFile { io, written: 0, error: None }
    }

    /// The failure of a transfer that ended with `error`: a local error on
    /// `path` if this file failed, the driver's otherwise.
    pub fn failure(&mut self, step: &'static str, path: &Path, error: quectel_ftp::Error) -> Failure {
        match (error, self.error.take()) {
            (quectel_ftp::Error::Source(_) | quectel_ftp::Error::Sink(_), Some(local)) => {
                Failure::local(step, path, local)
            }
            (error, _) => Failure::modem(step, error),
        }
    }

    fn keep<V>(&mut self, r: io::Result<V>) -> io::Result<V> {
        if let Err(e) = &r {
            self.error = Some(io::Error::new(e.kind(), e.to_string()));
        }
        r
    }
}

impl<T> embedded_io::ErrorType for LocalFile<T> {
    type Error = io::Error;
}

impl<T: io::Read> embedded_io_async::Read for LocalFile<T> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.io.read(buf);
        self.keep(r)
    }
}

impl<T: io::Write> embedded_io_async::Write for LocalFile<T> {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.io.write(buf);
        if let Ok(n) = r {
            self.written += n as u64;
        }
        self.keep(r)
    }

    async fn flush(&mut self) -> io::Result<()> {
        let r = self.io.flush();
        self.keep(r)
    }
}

/// How long the reader thread blocks in one read before it checks whether
/// it should stop.
pub const READ_POLL: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Inbox {
    bytes: VecDeque<u8>,
    waker: Option<Waker>,
    failed: Option<ErrorKind>,
}

#[derive(Default)]
struct Shared {
    inbox: Mutex<Inbox>,
    stop: AtomicBool,
}

impl Inbox {
    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl Shared {
    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A blocking byte link (a serial port) as an async UART: a thread reads
/// the link into a buffer and wakes the task waiting for bytes; writes go
/// straight to the link.
///
/// The reader must return within about [`READ_POLL`] when no byte comes
/// (a read timeout), so that the thread notices when the UART is dropped.
pub struct ThreadedUart<W> {
    writer: W,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl<W: io::Write> ThreadedUart<W> {
    /// Starts the reader thread over `reader`; `writer` is the same link's
    /// sending half.
    pub fn new<R: io::Read + Send + 'static>(mut reader: R, writer: W) -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name("qftp-uart-rx".into()).spawn(move || {
            let mut buf = [0u8; 4096];
            while !thread_shared.stop.load(Ordering::Relaxed) {
                let failed = match reader.read(&mut buf) {
                    Ok(0) => Some(ErrorKind::BrokenPipe),
                    Ok(n) => {
                        let mut inbox = thread_shared.inbox();
                        inbox.bytes.extend(&buf[..n]);
                        inbox.wake();
                        None
                    }
                    Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => None,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => None,
                    Err(e) => Some(e.kind().into()),
                };
                if let Some(kind) = failed {
                    let mut inbox = thread_shared.inbox();
                    inbox.failed = Some(kind);
                    inbox.wake();
                    return;
                }
            }
        })?;
        Ok(ThreadedUart { writer, shared, thread: Some(thread) })
    }
}

impl<W> Drop for ThreadedUart<W> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<W> embedded_io::ErrorType for ThreadedUart<W> {
    type Error = ErrorKind;
}

impl<W> embedded_io_async::Read for ThreadedUart<W> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            let mut inbox = self.shared.inbox();
            if !inbox.bytes.is_empty() {
                let n = buf.len().min(inbox.bytes.len());
                for (slot, byte) in buf.iter_mut().zip(inbox.bytes.drain(..n)) {
                    *slot = byte;
                }
                Poll::Ready(Ok(n))
            } else if let Some(kind) = inbox.failed {
                Poll::Ready(Err(kind))
            } else {
                inbox.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl<W: io::Write> embedded_io_async::Write for ThreadedUart<W> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.writer.write(buf).map_err(|e| e.kind().into())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.writer.flush().map_err(|e| e.kind().into())
    }
}

/// The UART of a modem on a serial device.
pub type SerialUart = ThreadedUart<serialport::TTYPort>;

impl SerialUart {
    /// The device's DTR line, as the driver's pin (hand it to
    /// [`quectel_ftp::Ftp::with_dtr`]): a handle of its own on the same
    /// device.
    pub fn dtr(&self, device: &str) -> io::Result<SerialDtr> {
        let port = self.writer.try_clone_native().map_err(io::Error::from)?;
        Ok(SerialDtr { port, device: device.to_owned(), warned: false })
    }
}

/// The DTR line of a serial device as the driver's DTR pin, an
/// embedded-hal [`OutputPin`](embedded_hal::digital::OutputPin).
///
/// The driver's pin rests low and goes high to leave data mode: high is
/// the level of the module's DTR input when the host does not assert DTR
/// (the module pulls it up), and low-to-high is the ON-to-OFF transition
/// that `AT&D1` acts on. DTR is active low at the module (as on an RS-232
/// wire, after the level shifter), and `serialport`'s `true` asserts it:
/// so `set_low` asserts DTR and `set_high` releases it.
///
/// A device that cannot drive DTR (a pseudo-terminal) fails every change:
/// the driver then leaves data mode with a guarded `+++`. The first
/// failure is logged (a warning, which `--trace` writes); the others are
/// not.
pub struct SerialDtr {
    port: serialport::TTYPort,
    device: String,
    warned: bool,
}

impl SerialDtr {
    fn assert(&mut self, asserted: bool) -> Result<(), DtrError> {
        use serialport::SerialPort;
        self.port.write_data_terminal_ready(asserted).map_err(|e| {
            if !self.warned {
                self.warned = true;
                log::warn!("DTR cannot be driven on {} ({e}): leaving data mode with +++ instead", self.device);
            }
            DtrError(e)
        })
    }
}

impl std::fmt::Debug for SerialDtr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialDtr").field("device", &self.device).finish_non_exhaustive()
    }
}

impl embedded_hal::digital::ErrorType for SerialDtr {
    type Error = DtrError;
}

impl embedded_hal::digital::OutputPin for SerialDtr {
    /// Asserts DTR (on).
    fn set_low(&mut self) -> Result<(), DtrError> {
        self.assert(true)
    }

    /// Releases DTR (off).
    fn set_high(&mut self) -> Result<(), DtrError> {
        self.assert(false)
    }
}

/// DTR could not be driven on the device.
#[derive(Debug)]
pub struct DtrError(pub serialport::Error);

impl std::fmt::Display for DtrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot drive DTR: {}", self.0)
    }
}

impl std::error::Error for DtrError {}

impl embedded_hal::digital::Error for DtrError {
    fn kind(&self) -> embedded_hal::digital::ErrorKind {
        embedded_hal::digital::ErrorKind::Other
    }
}

/// Opens a serial device (8N1, no flow control) as an async UART.
///
/// The port is not kept in exclusive mode: `qftp-sim` keeps its pty open
/// between clients, and a lingering `TIOCEXCL` would lock the next run out.
pub fn open_serial(path: &str, baud: u32) -> io::Result<SerialUart> {
    let mut port = serialport::new(path, baud)
        .data_bits(serialport::DataBits::Eight)
        .parity(serialport::Parity::None)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .timeout(READ_POLL)
        .open_native()
        .map_err(io::Error::from)?;
    port.set_exclusive(false).map_err(io::Error::from)?;
    let reader = port.try_clone_native().map_err(io::Error::from)?;
    ThreadedUart::new(reader, port)
}
