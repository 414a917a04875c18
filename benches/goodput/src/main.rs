//! Goodput of `put` and `get` against the UART's line rate, in simulated
//! time (embassy-time's mock driver).
//!
//! The client talks to a modem model over a simulated serial line: every
//! byte takes 10 bit times in its direction (8N1), and the modem answers each
//! step after a configurable latency, with the framing of the reference
//! (`CONNECT`, payload, `OK`, `+QFTPxxx: 0,<n>`). The same 1 MiB moves four
//! ways: our chunked `put` (`<uploadlen>,<beof>`) and `get`
//! (`<startpos>,<downloadlen>`), and the vendor reference code's way, a
//! `+++`-terminated upload with its guard times and `AT+QFTPSIZE` followed
//! by one long download.
//!
//! Usage: `goodput [latency ms]` (default: 0 and 50)

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use embassy_time::{Duration, Instant, MockDriver};
use quectel_ftp::{Ftp, Transfer};

const MIB: usize = 1 << 20;

/// What the modem model is doing with the bytes it receives.
enum Rx {
    /// Collecting a command line.
    Line(Vec<u8>),
    /// Taking `left` upload bytes of a counted `AT+QFTPPUT`.
    Counted { left: usize, total: usize },
    /// Taking upload bytes until a guarded `+++`.
    Escaped { data: usize, plus: usize, last: Instant },
}

struct Line {
    /// One byte's time on the wire, in nanoseconds (kept exact: at 115200
    /// baud a byte takes 86.8 µs, and the clock ticks in microseconds).
    byte_ns: u64,
    latency: Duration,
    guard: Duration,
    /// Host to modem: the wire is busy until then (ns).
    tx_free: u64,
    /// Modem to host: bytes with the time each arrives.
    to_host: VecDeque<(Instant, u8)>,
    rx_free: u64,
    rx: Rx,
    file_len: usize,
    /// Bytes moved in each direction, payload and overhead.
    wire_up: usize,
    wire_down: usize,
    commands: usize,
}

impl Line {
    /// Queues the modem's answer, `after` the latency from `at`.
    fn answer(&mut self, at: Instant, bytes: &[u8]) {
        let mut t = ns(at + self.latency).max(self.rx_free);
        for &b in bytes {
            t += self.byte_ns;
            self.to_host.push_back((instant(t), b));
        }
        self.rx_free = t;
        self.wire_down += bytes.len();
    }

    /// The modem takes one byte that finished arriving at `at`.
    fn take(&mut self, at: Instant, b: u8) {
        match &mut self.rx {
            Rx::Line(line) => {
                if b != b'\r' {
                    line.push(b);
                    return;
                }
                let cmd = String::from_utf8_lossy(line).into_owned();
                line.clear();
                self.command(at, &cmd);
            }
            Rx::Counted { left, total } => {
                *left -= 1;
                if *left == 0 {
                    let total = *total;
                    self.rx = Rx::Line(Vec::new());
                    self.answer(at, format!("\r\nOK\r\n\r\n+QFTPPUT: 0,{total}\r\n").as_bytes());
                }
            }
            Rx::Escaped { data, plus, last } => {
                let quiet_before = at.checked_duration_since(*last).is_some_and(|d| d >= self.guard);
                *last = at;
                if b == b'+' && (*plus > 0 || quiet_before) {
                    *plus += 1;
                } else {
                    *data += *plus + 1;
                    *plus = 0;
                }
            }
        }
    }

    /// A `+++` followed by the guard's silence ends an escaped upload.
    fn tick(&mut self, now: Instant) {
        if let Rx::Escaped { data, plus: 3, last } = self.rx {
            if now.checked_duration_since(last).is_some_and(|d| d >= self.guard) {
                self.rx = Rx::Line(Vec::new());
                self.answer(now, format!("\r\nOK\r\n\r\n+QFTPPUT: 0,{data}\r\n").as_bytes());
            }
        }
    }

    fn command(&mut self, at: Instant, cmd: &str) {
        self.commands += 1;
        let args: Vec<&str> = cmd.split(',').collect();
        let num = |i: usize| args.get(i).and_then(|a| a.trim().parse::<usize>().ok());
        if cmd.starts_with("AT+QFTPPUT") {
            self.answer(at, b"\r\nCONNECT\r\n");
            self.rx = match num(3) {
                Some(len) => Rx::Counted { left: len, total: len },
                None => Rx::Escaped { data: 0, plus: 0, last: at },
            };
        } else if cmd.starts_with("AT+QFTPGET") {
            let pos = num(2).unwrap_or(0).min(self.file_len);
            let len = num(3).unwrap_or(usize::MAX).min(self.file_len - pos);
            let mut out = b"\r\nCONNECT\r\n".to_vec();
            out.extend((pos..pos + len).map(|i| (i * 7 + i / 251) as u8));
            out.extend_from_slice(format!("\r\nOK\r\n\r\n+QFTPGET: 0,{len}\r\n").as_bytes());
            self.answer(at, &out);
        } else if cmd.starts_with("AT+QFTPSIZE") {
            let size = self.file_len;
            self.answer(at, format!("\r\nOK\r\n\r\n+QFTPSIZE: 0,{size}\r\n").as_bytes());
        } else if cmd.starts_with("AT+QFTPOPEN") {
            self.answer(at, b"\r\nOK\r\n\r\n+QFTPOPEN: 0,0\r\n");
        } else if cmd.starts_with("AT+CMEE?") {
            self.answer(at, b"\r\n+CMEE: 1\r\n\r\nOK\r\n");
        } else if cmd.starts_with("AT+CPIN?") {
            self.answer(at, b"\r\n+CPIN: READY\r\n\r\nOK\r\n");
        } else if cmd.is_empty() {
            // The probe's lone CR.
        } else {
            self.answer(at, b"\r\nOK\r\n");
        }
    }
}

#[derive(Clone)]
struct Uart(Rc<RefCell<Line>>);

impl embedded_io_async::ErrorType for Uart {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Uart {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        std::future::poll_fn(|_| {
            let mut line = self.0.borrow_mut();
            let now = Instant::now();
            let mut n = 0;
            while n < buf.len() {
                match line.to_host.front() {
                    Some(&(t, b)) if t <= now => {
                        buf[n] = b;
                        n += 1;
                        line.to_host.pop_front();
                    }
                    _ => break,
                }
            }
            if n > 0 {
                Poll::Ready(Ok(n))
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

impl embedded_io_async::Write for Uart {
    /// A DMA write: done when the last byte has left.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let done = {
            let mut line = self.0.borrow_mut();
            let mut t = line.tx_free.max(ns(Instant::now()));
            for &b in buf {
                t += line.byte_ns;
                line.take(instant(t), b);
            }
            line.tx_free = t;
            line.wire_up += buf.len();
            instant(t)
        };
        embassy_time::Timer::at(done).await;
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn ns(t: Instant) -> u64 {
    t.as_micros() * 1000
}

/// The first clock tick at or after `ns`.
fn instant(ns: u64) -> Instant {
    Instant::from_micros(ns.div_ceil(1000))
}

/// Runs `fut` in simulated time, stepping the clock by `step`.
fn run<F: Future>(line: &Rc<RefCell<Line>>, step: Duration, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        MockDriver::get().advance(step);
        line.borrow_mut().tick(Instant::now());
    }
}

struct Outcome {
    seconds: f64,
    wire_up: usize,
    wire_down: usize,
    commands: usize,
}

#[derive(Clone, Copy)]
enum Job {
    Put,
    /// `put` with a 16 KiB chunk buffer.
    PutLarge,
    /// `put_sized`: the length is known, 64 KiB chunks through the 4 KiB buffer.
    PutSized,
    Get,
    VendorPut,
    VendorGet,
}

fn measure(job: Job, baud: u32, latency: Duration) -> Outcome {
    MockDriver::get().reset();
    let byte_ns = 10_000_000_000 / u64::from(baud);
    let line = Rc::new(RefCell::new(Line {
        byte_ns,
        latency,
        guard: Duration::from_secs(1),
        tx_free: 0,
        to_host: VecDeque::new(),
        rx_free: 0,
        rx: Rx::Line(Vec::new()),
        file_len: MIB,
        wire_up: 0,
        wire_down: 0,
        commands: 0,
    }));
    // A 4 KiB chunk buffer, the README's recommendation.
    let mut buf = vec![0u8; if matches!(job, Job::PutLarge) { 16 * 1024 } else { 4096 }];
    let mut ftp = Ftp::new(Uart(line.clone()), &mut buf).expect("buffer is large enough");
    let step = Duration::from_micros((byte_ns / 2000).max(1));
    run(&line, step, async {
        ftp.init().await.expect("init");
        ftp.open("ftp.example.com", 21).await.expect("open");
    });
    let (up0, down0, cmds0) = {
        let l = line.borrow();
        (l.wire_up, l.wire_down, l.commands)
    };
    let start = Instant::now();
    let file: Vec<u8> = (0..MIB).map(|i| (i * 13) as u8).collect();
    let moved = run(&line, step, async {
        let mut src = &file[..];
        let mut sink = Vec::with_capacity(MIB);
        let r = match job {
            Job::PutSized => ftp.put_sized("f.bin", &mut src, MIB as u64, Transfer::default()).await,
            Job::Put | Job::PutLarge => ftp.put("f.bin", &mut src, Transfer::default()).await,
            Job::VendorPut => ftp.put_escaped("f.bin", &mut src, Transfer::default()).await,
            Job::Get => ftp.get("f.bin", &mut Sink(&mut sink), Transfer::default()).await,
            Job::VendorGet => {
                let whole = Transfer { start: 0, chunk: MIB as u32, ..Transfer::default() };
                ftp.get("f.bin", &mut Sink(&mut sink), whole).await
            }
        };
        r.expect("transfer")
    });
    assert_eq!(moved, MIB as u64);
    let l = line.borrow();
    Outcome {
        seconds: Instant::now().duration_since(start).as_micros() as f64 / 1e6,
        wire_up: l.wire_up - up0,
        wire_down: l.wire_down - down0,
        commands: l.commands - cmds0,
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

fn main() {
    let latencies: Vec<u64> = match std::env::args().nth(1) {
        Some(ms) => vec![ms.parse().expect("latency in ms")],
        None => vec![0, 50],
    };
    println!("1 MiB through a simulated UART (8N1: 10 bits per byte), 4 KiB chunk buffer, simulated time");
    println!(
        "{:<34} {:>7} {:>7} {:>9} {:>9} {:>9} {:>12}",
        "job", "baud", "lat ms", "seconds", "goodput", "commands", "ms/command"
    );
    for latency in latencies {
        for baud in [115_200u32, 921_600] {
            for (job, name) in [
                (Job::Put, "put, <uploadlen>,<beof> chunks"),
                (Job::PutLarge, "put, the same, 16 KiB buffer"),
                (Job::PutSized, "put_sized, 64 KiB chunks"),
                (Job::Get, "get, <startpos>,<downloadlen> 64 KiB"),
                (Job::VendorPut, "vendor: put ended by guarded +++"),
                (Job::VendorGet, "vendor: SIZE, one long get"),
            ] {
                let o = measure(job, baud, Duration::from_millis(latency));
                let line_rate = f64::from(baud) / 10.0;
                let ideal = MIB as f64 / line_rate;
                let goodput = ideal / o.seconds;
                let per_command = (o.seconds - ideal) * 1000.0 / o.commands.max(1) as f64;
                println!(
                    "{name:<34} {baud:>7} {latency:>7} {:>9.3} {:>8.2}% {:>9} {:>12.2}",
                    o.seconds,
                    goodput * 100.0,
                    o.commands,
                    per_command
                );
                let _ = (o.wire_up, o.wire_down);
            }
        }
    }
}
