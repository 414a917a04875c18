//! The whole client against a hostile modem, in mock time.
//!
//! The input picks the operations, their arguments, the points at which a
//! future is dropped, and every answer of the modem: any bytes, any splits,
//! any delays (none, some, or "never"). Checked on every input:
//! - nothing panics (libFuzzer reports it);
//! - every call returns within its bound in mock time, even while the
//!   modem keeps sending bytes;
//! - then, with a well-behaved modem (a model of the reference's
//!   exchanges), the next calls succeed with the exact bytes the reference
//!   specifies, and a download moves exactly the file's bytes: no
//!   desynchronisation survives the hostile part;
//! - the password is written only inside its own `AT+QFTPCFG="account"`.
#![no_main]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use embassy_time::{Duration, Instant, MockDriver};
use libfuzzer_sys::fuzz_target;
use quectel_ftp::{Error, Ftp, FtpConfig, Listing, PdpConfig, Transfer};

/// The password of the configuration: it may appear on the wire only
/// inside its own command.
const SECRET: &str = "s3cr3t-pw";
/// The account command, as the reference spells it.
const ACCOUNT: &[u8] = b"AT+QFTPCFG=\"account\",\"u\",\"s3cr3t-pw\"\r";
/// The file the well-behaved modem serves.
const FILE: &[u8] = b"0123\r\nOK\r\n\r\n+QFTPGET: 0,5\r\n+++CONNECT\r\n89";
/// Mock time moves on by this much whenever the client waits.
const STEP: Duration = Duration::from_millis(50);
/// No call may take longer (mock time): two deferred-result deadlines for
/// the preparation (a pending result waited out, a close), three rounds of
/// escape and probe, and the operation's own commands and chunks. The
/// hostile modem's bytes run out, so every wait ends.
const BOUND: Duration = Duration::from_secs(1200);

/// Reads the fuzz input.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The modem's side of the line.
#[derive(Default)]
struct Line {
    /// Hostile: the answers, as scripted by the input.
    script: VecDeque<Act>,
    /// Well-behaved: a model's answers still to be read.
    answers: VecDeque<u8>,
    well_behaved: bool,
    /// The model's command line so far.
    partial: Vec<u8>,
    /// Every byte the client wrote.
    written: Vec<u8>,
    /// Silent until then.
    quiet_until: Option<Instant>,
}

enum Act {
    Send(Vec<u8>),
    Quiet(Duration),
    Never,
}

#[derive(Clone)]
struct Modem(Rc<RefCell<Line>>);

impl embedded_io_async::ErrorType for Modem {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Modem {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        std::future::poll_fn(|_| self.poll_read(buf)).await
    }
}

impl embedded_io_async::Write for Modem {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let mut line = self.0.borrow_mut();
        line.written.extend_from_slice(buf);
        if line.well_behaved {
            line.model(buf);
        }
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl Modem {
    fn poll_read(&self, buf: &mut [u8]) -> Poll<Result<usize, embedded_io::ErrorKind>> {
        let mut line = self.0.borrow_mut();
        if line.well_behaved {
            if line.answers.is_empty() {
                return Poll::Pending;
            }
            let n = buf.len().min(line.answers.len());
            for (slot, b) in buf.iter_mut().zip(line.answers.drain(..n)) {
                *slot = b;
            }
            return Poll::Ready(Ok(n));
        }
        if let Some(until) = line.quiet_until {
            if Instant::now() < until {
                return Poll::Pending;
            }
            line.quiet_until = None;
        }
        match line.script.pop_front() {
            Some(Act::Send(bytes)) => {
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                if n < bytes.len() {
                    line.script.push_front(Act::Send(bytes[n..].to_vec()));
                }
                Poll::Ready(Ok(n))
            }
            Some(Act::Quiet(d)) => {
                line.quiet_until = Some(Instant::now() + d);
                Poll::Pending
            }
            Some(Act::Never) => {
                line.script.push_front(Act::Never);
                Poll::Pending
            }
            None => Poll::Pending,
        }
    }
}

impl Line {
    /// A model of the reference's exchanges: a module in command mode with
    /// one open-able FTP session and one file, `f`.
    fn model(&mut self, bytes: &[u8]) {
        if bytes == b"+++" {
            // In command mode `+++` is the start of a line.
            self.partial.extend_from_slice(bytes);
            return;
        }
        for &b in bytes {
            if b != b'\r' {
                self.partial.push(b);
                continue;
            }
            let line = std::mem::take(&mut self.partial);
            let answer: Vec<u8> = match &line[..] {
                b"" => Vec::new(),
                b"AT+CMEE?" => b"\r\n+CMEE: 1\r\n\r\nOK\r\n".to_vec(),
                b"ATE0" | b"AT+CMEE=1" => b"\r\nOK\r\n".to_vec(),
                b"AT+CPIN?" => b"\r\n+CPIN: READY\r\n\r\nOK\r\n".to_vec(),
                b"AT+QFTPSTAT" => b"\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n".to_vec(),
                l if l.starts_with(b"AT+QICSGP=1,") || l == b"AT+QIACT=1" => b"\r\nOK\r\n".to_vec(),
                b"AT+QIACT?" => b"\r\n+QIACT: 1,1,1,\"10.0.0.2\"\r\n\r\nOK\r\n".to_vec(),
                b"AT+CEREG?" => b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n".to_vec(),
                b"AT+CSQ" => b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n".to_vec(),
                b"AT+QFTPCLOSE" => b"\r\nOK\r\n\r\n+QFTPCLOSE: 0,0\r\n".to_vec(),
                b"AT+QFTPOPEN=\"h\",21" => b"\r\nOK\r\n\r\n+QFTPOPEN: 0,0\r\n".to_vec(),
                b"AT+QFTPSIZE=\"f\"" => format!("\r\nOK\r\n\r\n+QFTPSIZE: 0,{}\r\n", FILE.len()).into_bytes(),
                l if l.starts_with(b"AT+QFTPGET=\"f\",\"COM:\",") => {
                    let args = String::from_utf8_lossy(&l[22..]).into_owned();
                    let mut nums = args.split(',').map(|n| n.parse::<usize>().unwrap_or(usize::MAX));
                    let start = nums.next().unwrap_or(usize::MAX).min(FILE.len());
                    let len = nums.next().unwrap_or(usize::MAX);
                    let data = &FILE[start..(start.saturating_add(len)).min(FILE.len())];
                    let mut out = b"\r\nCONNECT\r\n".to_vec();
                    out.extend_from_slice(data);
                    out.extend_from_slice(format!("\r\nOK\r\n\r\n+QFTPGET: 0,{}\r\n", data.len()).as_bytes());
                    out
                }
                _ => b"\r\nERROR\r\n".to_vec(),
            };
            self.answers.extend(answer);
        }
    }
}

/// Polls `fut` in mock time until it ends, or drops it after `polls`
/// polls; returns its output and the mock time it took, or `None` if
/// dropped.
fn drive<F: Future>(fut: F, polls: Option<u32>) -> Option<(F::Output, Duration)> {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let t0 = Instant::now();
    let mut n = 0u32;
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some((v, Instant::now() - t0));
        }
        if polls.is_some_and(|p| n >= p) {
            return None;
        }
        n += 1;
        assert!(Instant::now() - t0 <= BOUND, "a call still runs after {:?} of mock time", BOUND);
        MockDriver::get().advance(STEP);
    }
}

/// Runs one operation, chosen by the input, maybe dropped midway.
fn operation(ftp: &mut Ftp<'_, Modem>, input: &mut Input<'_>) {
    let op = input.byte();
    let drop_after = match input.byte() {
        d @ 0..=63 => Some(u32::from(d) * 7),
        _ => None,
    };
    let name = ["f", "a\"b", "", "dir/x.bin"][usize::from(input.byte() % 4)];
    let chunk = [1u32, 7, 64, 1000][usize::from(input.byte() % 4)];
    let mut sink = Vec::new();
    let len = usize::from(input.byte());
    let mut data = input.bytes(len);
    // Upload data is the caller's: if it holds the password, that is not
    // the client's leak.
    if data.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()) {
        data = &[];
    }
    let mut src = data;
    let opts = Transfer { start: u64::from(input.byte()), chunk, ..Transfer::default() };
    let cfg = FtpConfig { user: "u", password: SECRET, ..FtpConfig::default() };
    let pdp = PdpConfig::default();
    macro_rules! go {
        ($fut:expr) => {{
            let _ = drive($fut, drop_after);
        }};
    }
    match op % 14 {
        0 => go!(ftp.init_fresh()),
        1 => go!(ftp.open("h", 21)),
        2 => go!(ftp.size(name)),
        3 => go!(ftp.cwd(name)),
        4 => go!(ftp.get(name, &mut sink, opts)),
        5 => go!(ftp.put(name, &mut src, opts)),
        6 => go!(ftp.put_sized(name, &mut src, data.len() as u64, opts)),
        7 => go!(ftp.put_escaped(name, &mut src, opts)),
        8 => go!(ftp.list(Listing::Nlst, name, &mut sink)),
        9 => go!(ftp.stat()),
        10 => go!(ftp.close()),
        11 => go!(ftp.configure(&cfg, None)),
        12 => go!(ftp.activate(&pdp)),
        _ => go!(ftp.recover(None)),
    }
}

/// The modem's answers for the hostile part, from the input.
fn script(input: &mut Input<'_>) -> VecDeque<Act> {
    const SHAPES: &[&[u8]] = &[
        b"\r\nOK\r\n",
        b"\r\nERROR\r\n",
        b"\r\n+CME ERROR: 603\r\n",
        b"\r\nCONNECT\r\n",
        b"\r\n+QFTPGET: 0,5\r\n",
        b"\r\n+QFTPPUT: 0,3\r\n",
        b"\r\n+QFTPSIZE: 0,9\r\n",
        b"\r\n+CMEE: 1\r\n",
        b"\r\nRDY\r\n",
        b"\r\n+QIURC: \"pdpdeact\",1\r\n",
        b"\r\n+QFTPOPEN: 0,0\r\n",
        b"\r\n+CPIN: READY\r\n",
    ];
    let mut acts = VecDeque::new();
    for _ in 0..(usize::from(input.byte()) * 2) {
        if input.is_empty() {
            break;
        }
        let act = match input.byte() {
            0..=127 => {
                let n = usize::from(input.byte() % 32);
                Act::Send(input.bytes(n).to_vec())
            }
            128..=223 => Act::Send(SHAPES[usize::from(input.byte()) % SHAPES.len()].to_vec()),
            224..=253 => Act::Quiet(Duration::from_millis(u64::from(input.byte()) * 40)),
            254 => Act::Quiet(Duration::from_secs(100)),
            _ => Act::Never,
        };
        acts.push_back(act);
    }
    acts
}

fuzz_target!(|data: &[u8]| {
    MockDriver::get().reset();
    let mut input = Input(data);
    let line = Rc::new(RefCell::new(Line { script: script(&mut input), ..Line::default() }));
    let modem = Modem(line.clone());
    let mut buf = [0u8; 256];
    let Ok(mut ftp) = Ftp::new(modem, &mut buf) else { return };

    // The hostile part: up to eight operations.
    for _ in 0..(input.byte() % 8) {
        operation(&mut ftp, &mut input);
        // A simulated MCU reset: a fresh client on the same line.
        if input.byte() == 0xA5 {
            drop(ftp);
            ftp = Ftp::new(Modem(line.clone()), &mut buf).unwrap_or_else(|_| unreachable!());
        }
    }

    // The well-behaved part: whatever the hostile part left, the next calls
    // succeed, with the reference's bytes.
    {
        let mut l = line.borrow_mut();
        l.well_behaved = true;
        l.script.clear();
        l.quiet_until = None;
    }
    let (r, _) = drive(ftp.stat(), None).expect("not dropped");
    assert!(r.is_ok(), "stat after the hostile part: {r:?}");
    let (r, _) = drive(ftp.open("h", 21), None).expect("not dropped");
    assert!(r.is_ok(), "open after the hostile part: {r:?}");
    let before = line.borrow().written.len();
    let (r, _) = drive(ftp.size("f"), None).expect("not dropped");
    assert_eq!(r, Ok(FILE.len() as u64));
    assert_eq!(&line.borrow().written[before..], b"AT+QFTPSIZE=\"f\"\r", "SIZE not alone on the wire");
    let mut sink = Vec::new();
    let (r, _) =
        drive(ftp.get("f", &mut sink, Transfer { chunk: 16, ..Transfer::default() }), None).expect("not dropped");
    assert_eq!(r, Ok(FILE.len() as u64));
    assert_eq!(sink, FILE);
    let r: Result<(), Error> = drive(ftp.close(), None).expect("not dropped").0;
    assert!(r.is_ok(), "close: {r:?}");

    // The password only ever inside its own command.
    let written = &line.borrow().written;
    let secrets = written.windows(SECRET.len()).filter(|w| *w == SECRET.as_bytes()).count();
    let accounts = written.windows(ACCOUNT.len()).filter(|w| *w == ACCOUNT).count();
    assert_eq!(secrets, accounts, "the password went out outside its command: {:?}", String::from_utf8_lossy(written));
});
