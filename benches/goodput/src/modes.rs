//! The ways the same file moves: the client's methods and the vendor's,
//! and the measurement of one of them at one baud rate and latency.

use std::cell::RefCell;
use std::rc::Rc;

use embassy_time::{Duration, Instant, MockDriver, Timer};
use embedded_io_async::{Read, Write};
use quectel_ftp::{Dtr, Ftp, Transfer, UploadMode};

use crate::sim::{self, file_byte, Clock, DtrPin, Line, Uart, GUARD};

/// Which way the file moves. Each mode is compared with the vendor's
/// method for the same job.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Job {
    Upload,
    Download,
}

impl Job {
    pub fn name(self) -> &'static str {
        match self {
            Job::Upload => "upload",
            Job::Download => "download",
        }
    }
}

/// How a mode moves the file.
#[derive(Clone, Copy, Debug)]
pub enum Method {
    /// `put`: length unknown, read through a chunk buffer of `buffer`
    /// bytes, each `AT+QFTPPUT` chosen as `upload` says.
    Put { buffer: usize, upload: UploadMode },
    /// `put_sized`: length known, `Transfer::default()` (one upload of the
    /// whole length), streamed through a 4 KiB buffer.
    PutSized,
    /// `put_escaped`: one upload ended by DTR or a guarded `+++`.
    PutEscaped,
    /// `get`: `AT+QFTPSIZE`, then `AT+QFTPGET`s of at most `chunk` bytes
    /// (`u32::MAX`, the default: the rest of the file in one).
    Get { chunk: u32 },
    /// The vendor's upload, as a raw AT script: `AT+QFTPPUT` without a
    /// length, the data, the least guard time, `+++`.
    VendorPut,
    /// The vendor's download, as a raw AT script: `AT+QFTPSIZE`, then one
    /// `AT+QFTPGET` of the whole file.
    VendorGet,
}

/// One row of the sweep, one line of the chart.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    pub name: &'static str,
    pub method: Method,
    /// The client has a DTR pin (`Ftp::with_dtr`, `AT&D1`): it leaves data
    /// mode by a DTR edge rather than a guarded `+++`, and `put` of unknown
    /// length goes escaped at any latency.
    pub dtr: bool,
    /// A choice forced on the client (an `UploadMode` or a chunk size that
    /// is not the default) for comparison: the targets are the automatic
    /// modes'.
    pub forced: bool,
}

impl Mode {
    pub fn job(&self) -> Job {
        match self.method {
            Method::Put { .. } | Method::PutSized | Method::PutEscaped | Method::VendorPut => Job::Upload,
            Method::Get { .. } | Method::VendorGet => Job::Download,
        }
    }

    pub fn is_vendor(&self) -> bool {
        matches!(self.method, Method::VendorPut | Method::VendorGet)
    }

    /// `put` of a source of unknown length, as the client chooses.
    pub fn is_auto_put(&self) -> bool {
        matches!(self.method, Method::Put { upload: UploadMode::Auto, .. })
    }

    /// The mode's name, marked if it uses DTR.
    pub fn label(&self) -> String {
        if self.dtr {
            format!("{}, DTR", self.name)
        } else {
            self.name.to_owned()
        }
    }
}

/// One of our modes, without DTR (`dtr` false) or with it.
const fn ours(name: &'static str, method: Method, dtr: bool, forced: bool) -> Mode {
    Mode { name, method, dtr, forced }
}

const PUT_4K: Method = Method::Put { buffer: 4096, upload: UploadMode::Auto };
const PUT_16K: Method = Method::Put { buffer: 16 * 1024, upload: UploadMode::Auto };
const PUT_4K_COUNTED: Method = Method::Put { buffer: 4096, upload: UploadMode::Counted };
const GET: Method = Method::Get { chunk: u32::MAX };
const GET_64K: Method = Method::Get { chunk: 64 * 1024 };

/// Every mode of the sweep, each of ours without and with DTR, the
/// vendor's last in each job.
pub const MODES: &[Mode] = &[
    ours("put, 4 KiB buffer", PUT_4K, false, false),
    ours("put, 4 KiB buffer", PUT_4K, true, false),
    ours("put, 16 KiB buffer", PUT_16K, false, false),
    ours("put, 16 KiB buffer", PUT_16K, true, false),
    ours("put_sized", Method::PutSized, false, false),
    ours("put_sized", Method::PutSized, true, false),
    ours("put_escaped", Method::PutEscaped, false, false),
    ours("put_escaped", Method::PutEscaped, true, false),
    ours("put, 4 KiB buffer, counted", PUT_4K_COUNTED, false, true),
    ours("put, 4 KiB buffer, counted", PUT_4K_COUNTED, true, true),
    Mode { name: "vendor: PUT ended by +++", method: Method::VendorPut, dtr: false, forced: false },
    ours("get", GET, false, false),
    ours("get", GET, true, false),
    ours("get, 64 KiB chunks", GET_64K, false, true),
    ours("get, 64 KiB chunks", GET_64K, true, true),
    Mode { name: "vendor: SIZE, one GET", method: Method::VendorGet, dtr: false, forced: false },
];

/// Moves `len` bytes the `mode`'s way at `baud`, the modem answering each
/// network step after `latency`. Returns the goodput: the payload's time
/// on the wire over the time taken. The session comes up with the latency
/// in force (the client measures its round trip at `AT+QFTPOPEN`), but only
/// the transfer is timed.
pub fn goodput(mode: &Mode, baud: u32, latency: Duration, len: usize, clock: Clock) -> f64 {
    MockDriver::get().reset();
    let line = Rc::new(RefCell::new(Line::new(baud, len)));
    line.borrow_mut().latency = latency;
    let byte_ns = line.borrow().byte_ns;
    let file: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
    let mut sink = Vec::with_capacity(len);
    let buffer = match mode.method {
        Method::Put { buffer, .. } => buffer,
        // The README's recommendation.
        _ => 4096,
    };
    let mut buf = vec![0u8; buffer];
    let (start, moved) = match (mode.is_vendor(), mode.dtr) {
        (true, _) => {
            let start = Instant::now();
            let moved = sim::run(&line, clock, async {
                match mode.method {
                    Method::VendorPut => Script::new(&line).put(&file).await,
                    _ => Script::new(&line).get(&mut Sink(&mut sink)).await,
                }
            });
            (start, moved)
        }
        (false, dtr) => {
            let ftp = Ftp::new(Uart(line.clone()), &mut buf).expect("buffer is large enough");
            let job = Client { mode, line: &line, file: &file, sink: &mut sink, clock };
            match dtr {
                false => job.run(ftp),
                true => job.run(ftp.with_dtr(DtrPin(line.clone()))),
            }
        }
    };
    let elapsed_ns = Instant::now().duration_since(start).as_micros() * 1000;
    assert_eq!(moved, len);
    if mode.job() == Job::Download {
        assert!(sink.iter().enumerate().all(|(i, &b)| b == file_byte(i)), "download corrupted");
    }
    (len as u64 * byte_ns) as f64 / elapsed_ns as f64
}

/// One of our modes' transfer.
struct Client<'a> {
    mode: &'a Mode,
    line: &'a Rc<RefCell<Line>>,
    file: &'a [u8],
    sink: &'a mut Vec<u8>,
    clock: Clock,
}

impl Client<'_> {
    /// Brings the session up (not timed), then moves the file (timed).
    /// Returns when the transfer started and the bytes it moved.
    fn run<D: Dtr>(self, mut ftp: Ftp<'_, Uart, D>) -> (Instant, usize) {
        sim::run(self.line, Clock::Coarse, async {
            ftp.init().await.expect("init");
            ftp.open("ftp.example.com", 21).await.expect("open");
        });
        let start = Instant::now();
        let moved = sim::run(self.line, self.clock, async {
            let mut src = self.file;
            let sink = &mut Sink(self.sink);
            let len = self.file.len() as u64;
            let opts = Transfer::default();
            let r = match self.mode.method {
                Method::Put { upload, .. } => ftp.put("f.bin", &mut src, Transfer { upload, ..opts }).await,
                Method::PutSized => ftp.put_sized("f.bin", &mut src, len, opts).await,
                Method::PutEscaped => ftp.put_escaped("f.bin", &mut src, opts).await,
                Method::Get { chunk } => ftp.get("f.bin", sink, Transfer { chunk, ..opts }).await,
                Method::VendorPut | Method::VendorGet => unreachable!("the vendor's are scripts"),
            };
            r.expect("transfer") as usize
        });
        (start, moved)
    }
}

struct Sink<'a>(&'a mut Vec<u8>);

impl embedded_io_async::ErrorType for Sink<'_> {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Write for Sink<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The vendor's methods as raw AT over the UART, with no checks beyond the
/// counts: the baseline our methods must match. Its guards are the least
/// the module takes, so the baseline is the best the method can do.
struct Script {
    uart: Uart,
    /// Received, not yet taken.
    pending: Vec<u8>,
}

impl Script {
    fn new(line: &Rc<RefCell<Line>>) -> Self {
        Script { uart: Uart(line.clone()), pending: Vec::new() }
    }

    /// `AT+QFTPPUT` without a length, the data, a guarded `+++`.
    async fn put(&mut self, data: &[u8]) -> usize {
        self.send(b"AT+QFTPPUT=\"f.bin\",\"COM:\",0\r").await;
        self.until(b"CONNECT\r\n").await;
        self.send(data).await;
        self.sleep(GUARD).await;
        self.send(b"+++").await;
        self.result("+QFTPPUT: ").await
    }

    /// `AT+QFTPSIZE`, then one `AT+QFTPGET` of the whole file, read to the
    /// size.
    async fn get(&mut self, sink: &mut Sink<'_>) -> usize {
        self.send(b"AT+QFTPSIZE=\"f.bin\"\r").await;
        let size = self.result("+QFTPSIZE: ").await;
        self.send(b"AT+QFTPGET=\"f.bin\",\"COM:\"\r").await;
        self.until(b"CONNECT\r\n").await;
        while self.pending.len() < size {
            self.fill().await;
        }
        sink.0.extend(self.pending.drain(..size));
        let n = self.result("+QFTPGET: ").await;
        assert_eq!(n, size);
        n
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.uart.write_all(bytes).await.expect("write");
    }

    async fn sleep(&mut self, d: Duration) {
        let at = Instant::now() + d;
        self.uart.0.borrow_mut().wake_at = Some(at);
        Timer::at(at).await;
    }

    async fn fill(&mut self) {
        let mut buf = [0u8; 4096];
        let n = self.uart.read(&mut buf).await.expect("read");
        self.pending.extend_from_slice(&buf[..n]);
    }

    /// Reads up to `pattern`; drops that and everything before it.
    async fn until(&mut self, pattern: &[u8]) {
        let mut from = 0;
        loop {
            if let Some(i) = self.pending[from..].windows(pattern.len()).position(|w| w == pattern) {
                self.pending.drain(..from + i + pattern.len());
                return;
            }
            from = self.pending.len().saturating_sub(pattern.len() - 1);
            self.fill().await;
        }
    }

    /// Waits for `<name>0,<n>` and returns `n`.
    async fn result(&mut self, name: &str) -> usize {
        self.until(name.as_bytes()).await;
        while !self.pending.windows(2).any(|w| w == b"\r\n") {
            self.fill().await;
        }
        let end = self.pending.windows(2).position(|w| w == b"\r\n").expect("a line end");
        let line = String::from_utf8(self.pending.drain(..end + 2).collect()).expect("text");
        let n = line.trim_end().strip_prefix("0,").expect("success");
        n.parse().expect("a count")
    }
}
