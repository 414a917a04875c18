//! The simulated serial line and the modem model at its far end, in
//! simulated time (embassy-time's mock driver).
//!
//! Every byte takes 10 bit times (8N1) in its direction. Writes complete
//! when their last byte has left (DMA style). The modem answers each step —
//! `CONNECT`, a result, a payload — after the line's latency, with the
//! framing of the reference (`CONNECT`, payload, `OK`, `+QFTPxxx: 0,<n>`).
//! It takes counted uploads (`AT+QFTPPUT=..,<startpos>,<uploadlen>,<beof>`),
//! uploads ended by a guarded `+++`, `AT+QFTPSIZE`, and downloads with or
//! without `<startpos>,<downloadlen>`.
//!
//! The clock jumps from one event on the line to the next (a byte
//! arriving, a write done, the end of a `+++`'s trailing guard, a script's
//! wake-up); with none ahead, the client is waiting on a timer of its own,
//! and the clock goes one tick (1 µs) at a time, so that timer ends on its
//! tick. Every figure is therefore the same on every run.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use embassy_time::{Duration, Instant, MockDriver};

/// The least silence the module needs on each side of `+++` (reference
/// section 2).
pub const GUARD: Duration = Duration::from_secs(1);

/// The byte at `i` of the modem's file.
pub fn file_byte(i: usize) -> u8 {
    (i * 7 + i / 251) as u8
}

/// What the modem model is doing with the bytes it receives.
enum Rx {
    /// Collecting a command line.
    Line(Vec<u8>),
    /// Taking `left` upload bytes of a counted `AT+QFTPPUT`.
    Counted { left: usize, total: usize },
    /// Taking upload bytes until a guarded `+++`.
    Escaped { data: usize, plus: usize, last: Instant },
}

/// The line and the modem model, shared by the UART handles.
pub struct Line {
    /// One byte's time on the wire, in nanoseconds (kept exact: at 115200
    /// baud a byte takes 86.8 µs, and the clock ticks in microseconds).
    pub byte_ns: u64,
    /// How long the modem takes to answer each step.
    pub latency: Duration,
    /// Host to modem: the wire is busy until then (ns).
    tx_free: u64,
    /// Modem to host: bytes with the time each arrives.
    to_host: VecDeque<(Instant, u8)>,
    rx_free: u64,
    rx: Rx,
    /// The size of the file the modem serves.
    file_len: usize,
    /// A script's own timer, so that the clock can jump to it.
    pub wake_at: Option<Instant>,
}

impl Line {
    /// A quiet line at `baud` to a modem serving a file of `file_len` bytes.
    pub fn new(baud: u32, file_len: usize) -> Self {
        Line {
            byte_ns: 10_000_000_000 / u64::from(baud),
            latency: Duration::from_ticks(0),
            tx_free: 0,
            to_host: VecDeque::new(),
            rx_free: 0,
            rx: Rx::Line(Vec::new()),
            file_len,
            wake_at: None,
        }
    }

    /// Queues the modem's answer, `after` the latency from `at`.
    fn answer(&mut self, at: Instant, bytes: &[u8]) {
        let mut t = ns(at + self.latency).max(self.rx_free);
        for &b in bytes {
            t += self.byte_ns;
            self.to_host.push_back((instant(t), b));
        }
        self.rx_free = t;
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
                let quiet_before = at.checked_duration_since(*last).is_some_and(|d| d >= GUARD);
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
        if let Some(end) = self.escape_end() {
            if now >= end {
                let Rx::Escaped { data, .. } = self.rx else { unreachable!() };
                self.rx = Rx::Line(Vec::new());
                self.answer(now, format!("\r\nOK\r\n\r\n+QFTPPUT: 0,{data}\r\n").as_bytes());
            }
        }
    }

    /// When the `+++` just received ends the upload, if the line stays quiet.
    fn escape_end(&self) -> Option<Instant> {
        match self.rx {
            Rx::Escaped { plus: 3, last, .. } => Some(last + GUARD),
            _ => None,
        }
    }

    /// The next moment after `now` at which something happens on the line.
    fn next_event(&self, now: Instant) -> Option<Instant> {
        let arrival = self.to_host.get(self.to_host.partition_point(|&(t, _)| t <= now)).map(|&(t, _)| t);
        [arrival, Some(instant(self.tx_free)), self.escape_end(), self.wake_at]
            .into_iter()
            .flatten()
            .filter(|&t| t > now)
            .min()
    }

    fn command(&mut self, at: Instant, cmd: &str) {
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
            out.extend((pos..pos + len).map(file_byte));
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

/// The host's end of the line.
#[derive(Clone)]
pub struct Uart(pub Rc<RefCell<Line>>);

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

/// How the clock moves while the future waits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Clock {
    /// From one event on the line to the next, one tick at a time when
    /// none is ahead.
    Events,
    /// One tick at a time throughout: slow, the reference `Events` must match.
    #[cfg_attr(not(test), allow(dead_code))]
    Ticks,
    /// From event to event, a millisecond at a time when none is ahead:
    /// for what is not measured (the client's timers end up to 1 ms late).
    Coarse,
}

/// Remembers that the future asked to be polled again.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `fut` to its end in simulated time. A future that wakes itself
/// (a timer already due, a yield) is polled again at the same instant.
pub fn run<F: Future>(line: &Rc<RefCell<Line>>, clock: Clock, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let idle = match clock {
        Clock::Events | Clock::Ticks => Duration::from_ticks(1),
        Clock::Coarse => Duration::from_millis(1),
    };
    loop {
        flag.0.store(false, Ordering::Relaxed);
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        if flag.0.load(Ordering::Relaxed) {
            continue;
        }
        let now = Instant::now();
        let next = match clock {
            Clock::Events | Clock::Coarse => line.borrow().next_event(now).unwrap_or(now + idle),
            Clock::Ticks => now + idle,
        };
        MockDriver::get().advance(next - now);
        line.borrow_mut().tick(Instant::now());
    }
}
