//! A scripted serial port for host tests: it checks the exact bytes the
//! client writes and feeds the modem's bytes back, in simulated time
//! (embassy-time's mock driver).
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use embassy_time::{Duration, Instant, MockDriver};
use quectel_ftp::Ftp;

/// One step of a modem script.
#[derive(Debug, Clone)]
pub enum Step {
    /// The client must write exactly these bytes next.
    Expect(Vec<u8>),
    /// The modem sends these bytes.
    Send(Vec<u8>),
    /// The modem sends these bytes even within a second of `+++`: a
    /// download's payload still in flight.
    Flight(Vec<u8>),
    /// The modem stays silent for this long before the next step.
    Pause(Duration),
    /// The client drives the DTR pin (see [`Modem::dtr_pin`]) to this
    /// level next (`true`: high), checked like `Expect`.
    Dtr(bool),
}

/// Builds scripts tersely.
#[derive(Default)]
pub struct Script(pub Vec<Step>);

impl Script {
    pub fn new() -> Self {
        Script(Vec::new())
    }
    /// Client writes `cmd` followed by `\r`.
    pub fn cmd(mut self, cmd: &str) -> Self {
        self.0.push(Step::Expect(format!("{cmd}\r").into_bytes()));
        self
    }
    /// Client writes exactly these bytes.
    pub fn expect(mut self, bytes: &[u8]) -> Self {
        self.0.push(Step::Expect(bytes.to_vec()));
        self
    }
    /// Modem answers with these lines, each framed `\r\n...\r\n`.
    pub fn lines(mut self, lines: &[&str]) -> Self {
        let mut out = Vec::new();
        for l in lines {
            out.extend_from_slice(format!("\r\n{l}\r\n").as_bytes());
        }
        self.0.push(Step::Send(out));
        self
    }
    /// Modem sends raw bytes.
    pub fn send(mut self, bytes: &[u8]) -> Self {
        self.0.push(Step::Send(bytes.to_vec()));
        self
    }
    /// Modem sends raw bytes of a download still in flight: also within
    /// the second after `+++` in which it answers nothing.
    pub fn in_flight(mut self, bytes: &[u8]) -> Self {
        self.0.push(Step::Flight(bytes.to_vec()));
        self
    }
    pub fn pause(mut self, d: Duration) -> Self {
        self.0.push(Step::Pause(d));
        self
    }
    /// The client drives DTR high (`true`) or low next.
    pub fn dtr(mut self, high: bool) -> Self {
        self.0.push(Step::Dtr(high));
        self
    }
    /// `cmd` answered by `OK` alone.
    pub fn ok(self, cmd: &str) -> Self {
        self.cmd(cmd).lines(&["OK"])
    }
    /// A two-phase command: `OK`, then its deferred line.
    pub fn deferred(self, cmd: &str, result: &str) -> Self {
        self.cmd(cmd).lines(&["OK"]).lines(&[result])
    }
    pub fn then(mut self, other: Script) -> Self {
        self.0.extend(other.0);
        self
    }
}

/// What the modem side saw.
#[derive(Default)]
pub struct State {
    steps: VecDeque<Step>,
    /// Bytes written by the client, with the mock time of each write call.
    pub writes: Vec<(Instant, Vec<u8>)>,
    /// Max bytes handed out per read (to exercise splits).
    pub read_chunk: usize,
    pause_until: Option<Instant>,
    /// When the client last wrote `+++`: the module answers nothing for a
    /// second after it (its guard; reference section 2).
    escape_at: Option<Instant>,
    /// A step mismatch, reported by `check`.
    pub error: Option<String>,
    /// Every level the client drove the DTR pin to, with the mock time.
    pub dtr: Vec<(Instant, bool)>,
    /// While set, the DTR pin fails every drive (see [`Modem::fail_dtr`]).
    pub dtr_fails: bool,
    /// The drives the failing pin refused, with the mock time.
    pub dtr_refused: Vec<(Instant, bool)>,
}

#[derive(Clone)]
pub struct Modem(pub Rc<RefCell<State>>);

impl Modem {
    pub fn new(script: Script) -> Self {
        Modem(Rc::new(RefCell::new(State { steps: script.0.into(), read_chunk: usize::MAX, ..Default::default() })))
    }

    pub fn with_read_chunk(self, n: usize) -> Self {
        self.0.borrow_mut().read_chunk = n;
        self
    }

    /// Appends more script.
    pub fn push(&self, script: Script) {
        self.0.borrow_mut().steps.extend(script.0);
    }

    /// Drops the rest of the script and any pause in progress: cuts an
    /// endless stream short (then `push` what comes next).
    pub fn clear(&self) {
        let mut s = self.0.borrow_mut();
        s.steps.clear();
        s.pause_until = None;
    }

    /// Panics unless the whole script ran and nothing went wrong.
    pub fn finished(&self) {
        let s = self.0.borrow();
        if let Some(e) = &s.error {
            panic!("script error: {e}");
        }
        let rest =
            s.steps.iter().filter(|st| !matches!(st, Step::Send(b) if b.iter().all(|c| c.is_ascii_whitespace())));
        assert!(rest.clone().next().is_none(), "script not finished, next: {:?}", rest.clone().next().map(short));
    }

    /// Every byte the client wrote, concatenated.
    pub fn written(&self) -> Vec<u8> {
        self.0.borrow().writes.iter().flat_map(|(_, w)| w.clone()).collect()
    }

    /// A DTR pin wired to this modem: each level the client drives it to
    /// is checked against the script's next step (`Step::Dtr`).
    pub fn dtr_pin(&self) -> DtrPin {
        DtrPin(self.clone())
    }

    /// Makes the DTR pin fail (`set_high`/`set_low` return an error, and
    /// the script is not consulted) or work again.
    pub fn fail_dtr(&self, fail: bool) {
        self.0.borrow_mut().dtr_fails = fail;
    }

    /// Every level the client drove the DTR pin to, with the mock time.
    pub fn dtr_levels(&self) -> Vec<(Instant, bool)> {
        self.0.borrow().dtr.clone()
    }

    /// The client drives DTR to `high`: checked against the script.
    fn drive_dtr(&self, high: bool) -> Result<(), embedded_hal::digital::ErrorKind> {
        let mut s = self.0.borrow_mut();
        let now = Instant::now();
        if s.dtr_fails {
            s.dtr_refused.push((now, high));
            return Err(embedded_hal::digital::ErrorKind::Other);
        }
        s.dtr.push((now, high));
        while matches!(s.steps.front(), Some(Step::Send(b)) if b.iter().all(|c| c.is_ascii_whitespace())) {
            s.steps.pop_front();
        }
        match s.steps.front() {
            Some(Step::Dtr(want)) if *want == high => {
                s.steps.pop_front();
            }
            other => {
                let e = format!(
                    "client drove DTR {} while the script is at {:?}",
                    if high { "high" } else { "low" },
                    other.map(short)
                );
                s.error.get_or_insert(e);
            }
        }
        Ok(())
    }
}

/// The module's DTR input, driven by the client (`Ftp::with_dtr`); it
/// shares the state of its [`Modem`].
pub struct DtrPin(pub Modem);

impl embedded_hal::digital::ErrorType for DtrPin {
    type Error = embedded_hal::digital::ErrorKind;
}

impl embedded_hal::digital::OutputPin for DtrPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.drive_dtr(false)
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.drive_dtr(true)
    }
}

fn short(s: &Step) -> String {
    match s {
        Step::Expect(b) | Step::Send(b) | Step::Flight(b) => {
            let t = String::from_utf8_lossy(&b[..b.len().min(80)]).into_owned();
            format!("{:?}({t:?})", if matches!(s, Step::Expect(_)) { "expect" } else { "send" })
        }
        Step::Pause(d) => format!("pause {d:?}"),
        Step::Dtr(high) => format!("dtr {}", if *high { "high" } else { "low" }),
    }
}

impl embedded_io_async::ErrorType for Modem {
    type Error = embedded_io::ErrorKind;
}

impl Modem {
    /// One read attempt: bytes the modem sends now, or `Pending` while it is
    /// silent (a pause, waiting for the client, or the script is over).
    pub fn poll_read(&self, buf: &mut [u8]) -> Poll<usize> {
        let mut s = self.0.borrow_mut();
        if let Some(until) = s.pause_until {
            if Instant::now() < until {
                return Poll::Pending;
            }
            s.pause_until = None;
            s.steps.pop_front();
        }
        if let Some(at) = s.escape_at {
            if Instant::now() < at + MODULE_GUARD && !matches!(s.steps.front(), Some(Step::Flight(_))) {
                return Poll::Pending;
            }
            if Instant::now() >= at + MODULE_GUARD {
                s.escape_at = None;
            }
        }
        match s.steps.front_mut() {
            Some(Step::Pause(d)) => {
                let until = Instant::now() + *d;
                s.pause_until = Some(until);
                Poll::Pending
            }
            Some(Step::Send(_) | Step::Flight(_)) => {
                let chunk = s.read_chunk;
                let Some(Step::Send(bytes) | Step::Flight(bytes)) = s.steps.front_mut() else { unreachable!() };
                let n = bytes.len().min(buf.len()).min(chunk);
                buf[..n].copy_from_slice(&bytes[..n]);
                bytes.drain(..n);
                if bytes.is_empty() {
                    s.steps.pop_front();
                }
                Poll::Ready(n)
            }
            // Waiting for the client to write, or the script is over:
            // the modem is silent.
            _ => Poll::Pending,
        }
    }
}

impl embedded_io_async::Read for Modem {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        std::future::poll_fn(|_cx| self.poll_read(buf).map(Ok)).await
    }
}

impl embedded_io_async::Write for Modem {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(self.write_bytes(buf))
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl Modem {
    /// Checks one write call of the client against the script.
    pub fn write_bytes(&self, buf: &[u8]) -> usize {
        let mut s = self.0.borrow_mut();
        s.writes.push((Instant::now(), buf.to_vec()));
        if buf == b"+++" {
            s.escape_at = Some(Instant::now());
        }
        let mut rest = buf;
        // The trailing LF of the modem's last line may still be unread when
        // the client writes its next command: that is fine.
        while matches!(s.steps.front(), Some(Step::Send(b)) if b.iter().all(|c| c.is_ascii_whitespace())) {
            s.steps.pop_front();
        }
        while !rest.is_empty() {
            match s.steps.front_mut() {
                Some(Step::Expect(want)) => {
                    let n = want.len().min(rest.len());
                    if want[..n] != rest[..n] {
                        let e = format!(
                            "client wrote {:?}, script expects {:?}",
                            String::from_utf8_lossy(&rest[..n.min(80)]),
                            String::from_utf8_lossy(&want[..want.len().min(80)])
                        );
                        s.error.get_or_insert(e);
                        return buf.len();
                    }
                    want.drain(..n);
                    rest = &rest[n..];
                    if want.is_empty() {
                        s.steps.pop_front();
                    }
                }
                other => {
                    let e = format!(
                        "client wrote {:?} while the script is at {:?}",
                        String::from_utf8_lossy(&rest[..rest.len().min(80)]),
                        other.map(|s| short(s))
                    );
                    s.error.get_or_insert(e);
                    return buf.len();
                }
            }
        }
        buf.len()
    }
}

/// Serialises tests that use the global mock clock.
pub fn clock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    MockDriver::get().reset();
    guard
}

/// Runs a future to completion in simulated time: whenever it is pending,
/// the mock clock moves on by 1 ms. Panics after `limit` of simulated time.
pub fn run<F: Future>(limit: Duration, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let end = Instant::now() + limit;
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        assert!(Instant::now() < end, "future still pending after {limit:?} of simulated time");
        MockDriver::get().advance(Duration::from_millis(1));
    }
}

/// [`run`], but the mock clock stands still while the future wakes itself
/// (a timer already expired, a yield): it moves on by 1 ms only when the
/// future waits for the modem or for time, so that mock time shows what
/// real time would between two events (no 1 ms per executor round).
pub fn run_precise<F: Future>(limit: Duration, fut: F) -> F::Output {
    struct Flag(std::sync::atomic::AtomicBool);
    impl std::task::Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let flag = std::sync::Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let end = Instant::now() + limit;
    let mut rounds = 0;
    loop {
        flag.0.store(false, std::sync::atomic::Ordering::SeqCst);
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        // A future that keeps waking itself at one instant is busy
        // polling: let time go on after all.
        if flag.0.load(std::sync::atomic::Ordering::SeqCst) && rounds < 1000 {
            rounds += 1;
            continue;
        }
        rounds = 0;
        assert!(Instant::now() < end, "future still pending after {limit:?} of simulated time");
        MockDriver::get().advance(Duration::from_millis(1));
    }
}

/// Polls a future `n` times (advancing 1 ms each), then drops it.
pub fn poll_then_drop<F: Future>(n: usize, fut: F) {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..n {
        if fut.as_mut().poll(&mut cx).is_ready() {
            panic!("future finished before it was dropped");
        }
        MockDriver::get().advance(Duration::from_millis(1));
    }
}

/// A buffer-backed sink.
pub struct Sink(pub Vec<u8>);

impl embedded_io_async::ErrorType for Sink {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Write for Sink {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A slice-backed source.
pub struct Source<'a>(pub &'a [u8]);

impl embedded_io_async::ErrorType for Source<'_> {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Source<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// A payload with every byte value and the framing the modem uses.
pub fn hostile(len: usize) -> Vec<u8> {
    let pieces: [&[u8]; 5] =
        [b"\r\nOK\r\n", b"+QFTPGET: 0,5\r\n", b"\r\nCONNECT\r\n", b"+++", b"\r\nOK\r\n\r\n+QFTPGET: 0,1\r\n"];
    let mut v = Vec::with_capacity(len + 300);
    let mut i = 0usize;
    while v.len() < len {
        v.extend(0..=255u8);
        v.extend_from_slice(pieces[i % pieces.len()]);
        i += 1;
    }
    v.truncate(len);
    v
}

// ---------------------------------------------------------------------------
// Helpers shared by the client test files.

/// The silence the module needs after `+++` before it answers (reference
/// section 2).
pub const MODULE_GUARD: Duration = Duration::from_secs(1);

/// A generous bound of simulated time for one `run`.
pub const LONG: Duration = Duration::from_secs(1200);

/// What `Ftp::init` sends first: after a guard time of silence, a guarded
/// `+++` (which a module in command mode takes as the start of a command
/// line: the probe's CR ends it, and it answers `ERROR`).
pub fn escape_at_init() -> Script {
    Script::new().expect(b"+++")
}

/// Bring-up of a module with echo off: what `Ftp::init` sends.
pub fn boot() -> Script {
    escape_at_init()
        .then(probe_cmd())
        .lines(&["ERROR", "+CMEE: 1", "OK"])
        .ok("ATE0")
        .ok("AT+CMEE=1")
        .cmd("AT+CPIN?")
        .lines(&["+CPIN: READY", "OK"])
}

/// Bring-up with a DTR pin: `with_dtr` drives it low at once, then what
/// `Ftp::init` sends, `AT&D1` after `AT+CMEE=1`.
pub fn boot_dtr() -> Script {
    Script::new().dtr(false).then(init_dtr())
}

/// What `Ftp::init` sends with a DTR pin (resting low already): `AT&D1`
/// after `AT+CMEE=1`.
pub fn init_dtr() -> Script {
    escape_at_init()
        .then(probe_cmd())
        .lines(&["ERROR", "+CMEE: 1", "OK"])
        .ok("ATE0")
        .ok("AT+CMEE=1")
        .ok("AT&D1")
        .cmd("AT+CPIN?")
        .lines(&["+CPIN: READY", "OK"])
}

/// `boot()` then a successful `AT+QFTPOPEN="h",21`.
pub fn boot_open() -> Script {
    boot().then(open_ok())
}

/// The registration query `activate` makes before `AT+QIACT`, answered:
/// registered (home network).
pub fn registered() -> Script {
    Script::new().cmd("AT+CEREG?").lines(&["+CEREG: 0,1", "OK"])
}

/// A successful `AT+QFTPOPEN="h",21`.
pub fn open_ok() -> Script {
    Script::new().deferred("AT+QFTPOPEN=\"h\",21", "+QFTPOPEN: 0,0")
}

/// What the client writes to probe the modem: a lone CR ends any partial
/// command line, then `AT+CMEE?`.
pub fn probe_cmd() -> Script {
    Script::new().expect(b"\r").cmd("AT+CMEE?")
}

/// The resynchronisation probe, answered.
pub fn probe() -> Script {
    probe_cmd().lines(&["+CMEE: 1", "OK"])
}

/// `AT+QFTPCLOSE` answered `OK`, `+QFTPCLOSE: 0,0`.
pub fn close_ok() -> Script {
    Script::new().deferred("AT+QFTPCLOSE", "+QFTPCLOSE: 0,0")
}

/// One chunk of a download of `data` at `pos`: command, `CONNECT`,
/// payload, `OK`, result.
pub fn get_chunk(remote: &str, pos: u64, len: u64, data: &[u8]) -> Script {
    let mut s = Script::new().cmd(&format!("AT+QFTPGET=\"{remote}\",\"COM:\",{pos},{len}")).send(b"\r\nCONNECT\r\n");
    if !data.is_empty() {
        s = s.send(data);
    }
    s.lines(&["OK"]).lines(&[&format!("+QFTPGET: 0,{}", data.len())])
}

/// A whole file of `data` in one download from its start: what `get`
/// asks by default.
pub fn get_whole(remote: &str, data: &[u8]) -> Script {
    get_chunk(remote, 0, data.len() as u64, data)
}

/// One chunk of an upload with `<uploadlen>,<beof>`.
pub fn put_chunk(remote: &str, pos: u64, data: &[u8], last: bool) -> Script {
    Script::new()
        .cmd(&format!("AT+QFTPPUT=\"{remote}\",\"COM:\",{pos},{},{}", data.len(), last as u8))
        .lines(&["CONNECT"])
        .expect(data)
        .lines(&["OK"])
        .lines(&[&format!("+QFTPPUT: 0,{}", data.len())])
}

/// The script's `(time, bytes)` of every write call of the client.
pub fn writes(modem: &Modem) -> Vec<(Instant, Vec<u8>)> {
    modem.0.borrow().writes.clone()
}

/// Index of the first write call equal to `bytes` at or after `from`.
pub fn find_write(w: &[(Instant, Vec<u8>)], from: usize, bytes: &[u8]) -> Option<usize> {
    w.iter().skip(from).position(|(_, b)| b == bytes).map(|i| i + from)
}

/// Index of the first write call after `init`'s escape: where the writes
/// of the operations under test begin.
pub fn after_init(w: &[(Instant, Vec<u8>)]) -> usize {
    find_write(w, 0, b"+++").map_or(0, |i| i + 1)
}

/// Runs `fut` and returns its output and the simulated time it took.
pub fn timed<F: Future>(limit: Duration, fut: F) -> (F::Output, Duration) {
    let t0 = Instant::now();
    let out = run(limit, fut);
    (out, Instant::now() - t0)
}

/// The scripted modem behind a blocking `embedded-io` UART. Simulated time
/// moves on by 1 ms whenever the client finds nothing to read.
pub struct BlockingModem(pub Modem);

impl embedded_io::ErrorType for BlockingModem {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for BlockingModem {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let end = Instant::now() + LONG;
        loop {
            if let Poll::Ready(n) = self.0.poll_read(buf) {
                return Ok(n);
            }
            assert!(Instant::now() < end, "blocking read starved");
            MockDriver::get().advance(Duration::from_millis(1));
        }
    }
}

impl embedded_io::ReadReady for BlockingModem {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        let mut s = self.0 .0.borrow_mut();
        if let Some(until) = s.pause_until {
            if Instant::now() >= until {
                s.pause_until = None;
                s.steps.pop_front();
            }
        }
        let ready = s.pause_until.is_none() && matches!(s.steps.front(), Some(Step::Send(_)));
        if !ready {
            if let (None, Some(Step::Pause(d))) = (s.pause_until, s.steps.front()) {
                let until = Instant::now() + *d;
                s.pause_until = Some(until);
            }
            drop(s);
            MockDriver::get().advance(Duration::from_millis(1));
        }
        Ok(ready)
    }
}

impl embedded_io::Write for BlockingModem {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(self.0.write_bytes(buf))
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A blocking `Vec`-backed sink.
pub struct BlockingSink(pub Vec<u8>);

impl embedded_io::ErrorType for BlockingSink {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for BlockingSink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Runs `Ftp::init` and opens `"h"`, port 21 (the `boot_open()` script).
pub async fn up<D: quectel_ftp::Dtr>(ftp: &mut Ftp<'_, Modem, D>) {
    ftp.init().await.unwrap();
    ftp.open("h", 21).await.unwrap();
}

/// Opens the session again after a close (the script's `open_ok()`).
pub async fn open_again<D: quectel_ftp::Dtr>(ftp: &mut Ftp<'_, Modem, D>) {
    ftp.open("h", 21).await.unwrap();
}

/// When the client wrote each occurrence of `line` (the time of the write
/// call holding its first byte), however its writes were split.
pub fn sent_at(modem: &Modem, line: &[u8]) -> Vec<Instant> {
    let w = writes(modem);
    let mut bytes = Vec::new();
    let mut times = Vec::new();
    for (t, b) in &w {
        bytes.extend_from_slice(b);
        times.extend(std::iter::repeat_n(*t, b.len()));
    }
    let mut at = Vec::new();
    let mut i = 0;
    while i + line.len() <= bytes.len() {
        if bytes[i..].starts_with(line) {
            at.push(times[i]);
            i += line.len();
        } else {
            i += 1;
        }
    }
    at
}

/// The gaps between consecutive instants.
pub fn gaps(at: &[Instant]) -> Vec<Duration> {
    at.windows(2).map(|p| p[1] - p[0]).collect()
}
