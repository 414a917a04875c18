//! The simulated serial line and the modem model at its far end, in
//! simulated time (embassy-time's mock driver).
//!
//! Every byte takes 10 bit times (8N1) in its direction. Writes complete
//! when their last byte has left (DMA style). The modem answers each step —
//! `CONNECT`, a result, a payload — after the line's latency, with the
//! framing of the reference (`CONNECT`, payload, `OK`, `+QFTPxxx: 0,<n>`).
//! It takes counted uploads (`AT+QFTPPUT=..,<startpos>,<uploadlen>,<beof>`),
//! uploads ended by a guarded `+++` or a DTR edge, `AT+QFTPSIZE`, and
//! downloads with or without `<startpos>,<downloadlen>`. The latency is the
//! network's: what needs the server (`CONNECT`, a download's payload, the
//! `OK` and result of an FTP command or of an upload) comes after it; what
//! the module answers itself (`ATE0`, `AT+CMEE`, `AT&D1`, `AT+CPIN?`, the
//! `OK` to a DTR edge) comes at once.
//!
//! DTR ([`DtrPin`]): after `AT&D1`, a low-to-high edge in data mode (an
//! upload, counted or not, or a download's payload) leaves it at once: the
//! module answers `OK` at once and the transfer's result after the latency
//! (`+QFTPPUT: 0,<bytes taken>`, `+QFTPGET: 0,<bytes sent>`). The edge
//! takes effect when the pin changes, after every byte written before it
//! (bytes still on the wire then arrive first). Edges in command mode, or
//! before `AT&D1`, do nothing.
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

/// A download's payload on its way to the host: the module is in data mode
/// from `from` to `to` (ns), its `len` bytes arriving from `first` (ns) on,
/// one a byte time.
#[derive(Clone, Copy)]
struct Download {
    from: u64,
    first: u64,
    len: usize,
    to: u64,
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
    /// `AT&D1` taken: a low-to-high DTR edge leaves data mode.
    dtr_escape: bool,
    /// DTR's level (the host's pin rests low).
    dtr_high: bool,
    /// The last download's payload, for a DTR edge during it.
    download: Option<Download>,
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
            dtr_escape: false,
            dtr_high: false,
            download: None,
        }
    }

    /// Queues the modem's answer that needs the server: after the latency
    /// from `at`.
    fn answer(&mut self, at: Instant, bytes: &[u8]) {
        self.send(at + self.latency, bytes);
    }

    /// Queues bytes that start no sooner than `at`, after those queued.
    fn send(&mut self, at: Instant, bytes: &[u8]) {
        let mut t = ns(at).max(self.rx_free);
        for &b in bytes {
            t += self.byte_ns;
            self.to_host.push_back((instant(t), b));
        }
        self.rx_free = t;
    }

    /// The host writes `buf` at `now`: its bytes go out after those still
    /// on the wire, one a byte time, and the modem takes each as it
    /// arrives (all of them now, each with its time of arrival). Returns
    /// when the last has arrived.
    fn write(&mut self, now: Instant, buf: &[u8]) -> Instant {
        // A write issued at the tick the one before was reported done
        // follows its last byte at once: the clock's 1 µs ticks round that
        // report up (by up to 0.8 µs a write at 921600 baud), a gap no
        // real line has between two writes queued back to back.
        let mut t = if now == instant(self.tx_free) { self.tx_free } else { self.tx_free.max(ns(now)) };
        for &b in buf {
            t += self.byte_ns;
            self.take(instant(t), b);
        }
        self.tx_free = t;
        instant(t)
    }

    /// The host drives DTR to `high` at `now`.
    fn dtr(&mut self, high: bool, now: Instant) {
        let rising = high && !self.dtr_high;
        self.dtr_high = high;
        if rising && self.dtr_escape {
            // The bytes written before the edge were taken already (see
            // `Uart::write`): those still on the wire arrive first.
            self.dtr_edge(now.max(instant(self.tx_free)));
        }
    }

    /// A low-to-high DTR edge at `at`: data mode ends at once, with the
    /// module's own `OK` at once and the transfer's result after the
    /// latency. In command mode it does nothing.
    fn dtr_edge(&mut self, at: Instant) {
        let (name, n) = match std::mem::replace(&mut self.rx, Rx::Line(Vec::new())) {
            // The `+`s of a `+++` not yet confirmed by the guard are data.
            Rx::Escaped { data, plus, .. } => ("QFTPPUT", data + plus),
            Rx::Counted { left, total } => ("QFTPPUT", total - left),
            Rx::Line(line) => {
                self.rx = Rx::Line(line);
                let e = ns(at);
                match self.download {
                    Some(d) if (d.from..d.to).contains(&e) => {
                        // What has arrived by the edge stays; the rest of the
                        // payload and its trailer are not sent.
                        self.to_host.retain(|&(t, _)| t <= at);
                        self.rx_free = e;
                        self.download = None;
                        let sent = if e < d.first { 0 } else { ((e - d.first) / self.byte_ns + 1) as usize };
                        ("QFTPGET", sent.min(d.len))
                    }
                    _ => return,
                }
            }
        };
        self.send(at, b"\r\nOK\r\n");
        self.answer(at, format!("\r\n+{name}: 0,{n}\r\n").as_bytes());
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
            self.answer(at, b"\r\nCONNECT\r\n");
            let from = self.rx_free;
            let out: Vec<u8> = (pos..pos + len).map(file_byte).collect();
            self.send(at, &out);
            self.download = Some(Download { from, first: from + self.byte_ns, len, to: self.rx_free });
            self.send(at, format!("\r\nOK\r\n\r\n+QFTPGET: 0,{len}\r\n").as_bytes());
        } else if cmd.starts_with("AT+QFTPSIZE") {
            let size = self.file_len;
            self.answer(at, format!("\r\nOK\r\n\r\n+QFTPSIZE: 0,{size}\r\n").as_bytes());
        } else if cmd.starts_with("AT+QFTPOPEN") {
            self.answer(at, b"\r\nOK\r\n\r\n+QFTPOPEN: 0,0\r\n");
        } else if cmd.starts_with("AT+QFTP") {
            // Anything else of the server's: after the latency too.
            self.answer(at, b"\r\nOK\r\n");
        } else if cmd.starts_with("AT+CMEE?") {
            self.send(at, b"\r\n+CMEE: 1\r\n\r\nOK\r\n");
        } else if cmd.starts_with("AT+CPIN?") {
            self.send(at, b"\r\n+CPIN: READY\r\n\r\nOK\r\n");
        } else if cmd == "AT&D1" {
            self.dtr_escape = true;
            self.send(at, b"\r\nOK\r\n");
        } else if cmd.is_empty() {
            // The probe's lone CR.
        } else if !cmd.starts_with("AT") {
            // The `+++` that init sends to a module in command mode, made a
            // line by the probe's CR.
            self.send(at, b"\r\nERROR\r\n");
        } else {
            // `ATE0`, `AT+CMEE=1`.
            self.send(at, b"\r\nOK\r\n");
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
        let done = self.0.borrow_mut().write(Instant::now(), buf);
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

/// The host's output wired to the modem's DTR input (the pin rests low).
pub struct DtrPin(pub Rc<RefCell<Line>>);

impl embedded_hal::digital::ErrorType for DtrPin {
    type Error = core::convert::Infallible;
}

impl embedded_hal::digital::OutputPin for DtrPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.borrow_mut().dtr(false, Instant::now());
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.borrow_mut().dtr(true, Instant::now());
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A modem at 115200 baud, 50 ms of latency, serving `file_len` bytes.
    fn modem(file_len: usize) -> Line {
        let mut line = Line::new(115_200, file_len);
        line.latency = Duration::from_millis(50);
        line
    }

    fn at(ns: u64) -> Instant {
        instant(ns)
    }

    /// The modem's lines so far (blank ones left out), each with the
    /// arrival of its first byte (µs).
    fn lines(line: &Line) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        let mut text = String::new();
        let mut first = 0;
        for &(t, b) in &line.to_host {
            if text.is_empty() {
                first = t.as_micros();
            }
            text.push(b as char);
            if let Some(l) = text.strip_suffix("\r\n") {
                if !l.is_empty() {
                    out.push((first, l.to_owned()));
                }
                text.clear();
            }
        }
        out
    }

    fn texts(line: &Line) -> Vec<String> {
        lines(line).into_iter().map(|(_, l)| l).collect()
    }

    /// The host's write of `bytes` at `t` ns; returns when it is done (ns).
    fn write(line: &mut Line, t: u64, bytes: &[u8]) -> u64 {
        line.write(at(t), bytes);
        line.tx_free
    }

    #[test]
    fn a_dtr_edge_counts_only_after_at_d1_and_in_data_mode() {
        let mut line = modem(0);
        let t = write(&mut line, 0, b"AT+QFTPPUT=\"f\",\"COM:\",0\r");
        let t = write(&mut line, t + 60 * MS, b"abc");
        line.dtr(true, at(t));
        line.dtr(false, at(t));
        assert!(matches!(line.rx, Rx::Escaped { data: 3, .. }), "no AT&D1: the edge is ignored");
        // A new modem, with AT&D1: an edge in command mode does nothing.
        let mut line = modem(0);
        let t = write(&mut line, 0, b"AT&D1\r");
        line.dtr(true, at(t + MS));
        line.dtr(false, at(t + MS));
        assert_eq!(texts(&line), ["OK"], "only AT&D1's answer");
        assert!(line.dtr_escape);
    }

    #[test]
    fn a_dtr_edge_ends_an_escaped_upload_after_the_bytes_on_the_wire() {
        let mut line = modem(0);
        let t = write(&mut line, 0, b"AT&D1\r");
        let t = write(&mut line, t, b"AT+QFTPPUT=\"f\",\"COM:\",0\r");
        // 100 bytes written at 60 ms, the edge while the last 10 are still
        // on the wire: they arrive first and count.
        let done = write(&mut line, t + 60 * MS, &[b'+'; 100]);
        let edge = done - 10 * line.byte_ns;
        line.dtr(true, at(edge));
        // Bytes written after the edge are a command.
        let t = write(&mut line, done + MS, b"AT\r");
        let got = lines(&line);
        assert_eq!(texts(&line), ["OK", "CONNECT", "OK", "+QFTPPUT: 0,100", "OK"], "{got:?}");
        // The edge's `OK` at once (its `O` is the third byte after the
        // edge), the result after the latency, `AT`'s answer after both.
        let edge_at = instant(done).as_micros();
        assert_eq!(got[2].0, (edge_at * 1000 + 3 * line.byte_ns).div_ceil(1000), "{got:?}");
        assert!(got[3].0 >= edge_at + 50_000, "{got:?}");
        assert!(got[4].0 * 1000 >= t);
    }

    #[test]
    fn a_dtr_edge_ends_a_counted_upload_early() {
        let mut line = modem(0);
        let t = write(&mut line, 0, b"AT&D1\r");
        let t = write(&mut line, t, b"AT+QFTPPUT=\"f\",\"COM:\",0,1000,1\r");
        let t = write(&mut line, t + 60 * MS, &[0; 40]);
        line.dtr(true, at(t));
        assert_eq!(texts(&line), ["OK", "CONNECT", "OK", "+QFTPPUT: 0,40"]);
    }

    #[test]
    fn a_dtr_edge_cuts_a_download_where_the_payload_has_reached() {
        let mut line = modem(1000);
        let t = write(&mut line, 0, b"AT&D1\r");
        line.to_host.clear();
        let t = write(&mut line, t, b"AT+QFTPGET=\"f\",\"COM:\"\r");
        let d = line.download.expect("a download");
        // The edge as the 100th payload byte arrives.
        let edge = d.first + 99 * line.byte_ns;
        line.dtr(true, at(edge.max(t)));
        let payload = line.to_host.iter().skip(b"\r\nCONNECT\r\n".len()).take_while(|&&(t, _)| t <= at(edge)).count();
        assert_eq!(payload, 100);
        let got = texts(&line);
        assert_eq!(got[got.len() - 2..], ["OK", "+QFTPGET: 0,100"], "{got:?}");
    }
}
