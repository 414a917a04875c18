//! The whole client against a hostile modem, in mock time, then against a
//! well-behaved one that carries on from where the hostile part left it.
//!
//! The input picks the operations, their arguments, the points at which a
//! future is dropped, and every answer of the modem in the hostile part:
//! any bytes, any splits, any delays (none, some, or "never"). All along, a
//! model of the module ([`Module`]) follows what it is doing from the bytes
//! on the line: command mode, a transfer waiting for `CONNECT`, upload or
//! download data mode (reference section 2, with the `+++` guard times in
//! mock time), and the answers it still owes. Checked on every input:
//! - nothing panics (libFuzzer reports it);
//! - every call returns within its bound in mock time, even while the
//!   modem keeps sending bytes;
//! - then the module turns well-behaved, in the state the hostile part
//!   left: still in data mode, still owing answers, which it prints late
//!   or never, as the input chooses. The next calls succeed with the exact
//!   bytes the reference specifies: the client writes nothing into a data
//!   mode it left behind but a guarded `+++` (the model fails the input at
//!   the first such byte), takes no late answer for a later command's, a
//!   download moves exactly the file's bytes and an upload exactly its
//!   own: no desynchronisation survives the hostile part;
//! - the password is written only inside its own `AT+QFTPCFG="account"`,
//!   and the PIN only inside its own `AT+CPIN="<pin>"`.
//!
//! Where the hostile part's bytes leave the module's state ambiguous, the
//! model takes the reading that asks least of the client (command mode,
//! nothing owed), so that a failure in the well-behaved part is the
//! client's: a byte from the host aborts a connection attempt; while a
//! transfer connects or uploads, a read ends at a line end (a line that
//! ends data mode reaches the client before it writes again); a download
//! ends at its first `\r\nOK\r\n` or after the bytes asked for, whichever
//! comes first; an error cancels what its command still owes; answers
//! printed before a command count as its own; a command line starts at its
//! `AT` (the hostile part's upload data holds none, so data a module took
//! as command lines is ignored).
#![no_main]

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use embassy_time::{Duration, Instant, MockDriver};
use libfuzzer_sys::fuzz_target;
use quectel_ftp::at::parse;
use quectel_ftp::{Error, Ftp, FtpConfig, Listing, PdpConfig, Transfer};

/// The password of the configuration: it may appear on the wire only
/// inside its own command.
const SECRET: &str = "s3cr3t-pw";
/// The account command, as the reference spells it.
const ACCOUNT: &[u8] = b"AT+QFTPCFG=\"account\",\"u\",\"s3cr3t-pw\"\r";
/// The SIM's PIN: it may appear on the wire only inside its own command.
const PIN: &str = "97531";
/// The PIN command (3GPP TS 27.007 section 8.3).
const PIN_COMMAND: &[u8] = b"AT+CPIN=\"97531\"\r";
/// The file the well-behaved modem serves as `f`.
const FILE: &[u8] = b"0123\r\nOK\r\n\r\n+QFTPGET: 0,5\r\n+++CONNECT\r\n89";
/// Another file, `dir/x.bin`, of another size: a late answer about it is
/// told apart from one about `f`.
const OTHER: &[u8] = b"x.bin\r\n";
/// What a listing to `"COM:"` sends.
const LISTING: &[u8] = b"f\r\ndir\r\n";
/// What the well-behaved part uploads to `f2`, in chunks of 7 bytes:
/// command lines, a `+++` and result lines, all of which must reach the
/// file as data.
const UPLOAD: &[u8] = b"AT+QFTPSTAT\r+++\r\nOK\r\n\r\n+QFTPPUT: 0,7\r\nCONNECT\r\n\x00\xff";
/// The chunk of that upload.
const UPLOAD_CHUNK: u32 = 7;
/// Mock time moves on by this much whenever the client waits.
const STEP: Duration = Duration::from_millis(50);
/// No call may take longer (mock time): two deferred-result deadlines for
/// the preparation (a pending result waited out, a close), three rounds of
/// escape and probe, and the operation's own commands and chunks. The
/// hostile modem's bytes run out, so every wait ends.
const BOUND: Duration = Duration::from_secs(1200);
/// The documented bounds of the calls that make no preparation (see
/// "Time bounds" in the client's docs): `init` 49.2 s, `init_fresh` 47 s,
/// `init_with_pin` 80.2 s; plus one step of the mock clock. Every other
/// call's documented bound, with busy answers answered slowly, is above
/// [`BOUND`], which is checked instead.
const INIT: Duration = Duration::from_millis(49_200 + 50);
const INIT_FRESH: Duration = Duration::from_millis(47_000 + 50);
const INIT_WITH_PIN: Duration = Duration::from_millis(80_200 + 50);
/// The `+++` guard: no byte from the host for this long before and after
/// it (reference section 2).
const GUARD: Duration = Duration::from_secs(1);
/// The shortest `rsptimeout` a module can be given: it prints a deferred
/// result within it of the command, or never.
const RSPTIMEOUT_MIN: Duration = Duration::from_secs(20);

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

/// `d` after `t`, saturating.
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or(Instant::MAX)
}

/// What the module does with the host's bytes.
#[derive(Debug, Default)]
enum Mode {
    /// Command mode: the bytes are command lines.
    #[default]
    Command,
    /// A transfer command was taken; its `CONNECT` (or its failure) is
    /// still to come. A byte from the host aborts the attempt, as any
    /// character aborts a dial (ITU-T V.250), and is dropped.
    Connecting(Xfer),
    /// Upload data mode: every byte is data, until `<uploadlen>` bytes came
    /// or a guarded `+++`.
    Upload(Upload),
    /// Download data mode: the module sends; it drops the host's bytes but
    /// for a guarded `+++`, which aborts the download.
    Download(Download),
}

/// A transfer to or from `"COM:"`: what its `CONNECT` starts.
#[derive(Debug, Clone)]
enum Xfer {
    /// `AT+QFTPPUT="<name>","COM:",<start>[,<uploadlen>,<beof>]`.
    Put { name: String, start: usize, len: Option<usize> },
    /// `AT+QFTPGET="<name>","COM:",<start>[,<len>]` or a listing: the
    /// result's name, the payload a well-behaved module sends (`None`: no
    /// such file), and the `<downloadlen>` asked for.
    Get { result: &'static str, payload: Option<Vec<u8>>, limit: Option<usize> },
}

#[derive(Debug)]
struct Upload {
    name: String,
    start: usize,
    /// `<uploadlen>`: the module leaves data mode by itself after it.
    len: Option<usize>,
    data: Vec<u8>,
    /// Started by a command of the well-behaved part: its data is the
    /// client's to send. Into any other, the client sends nothing.
    ours: bool,
}

#[derive(Debug)]
struct Download {
    result: &'static str,
    payload: Vec<u8>,
    limit: Option<usize>,
    /// Bytes printed since `CONNECT`, and the last six of them.
    sent: usize,
    tail: Vec<u8>,
}

/// How data mode ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leave {
    /// The upload's `<uploadlen>` bytes came, or the download's payload
    /// was sent.
    Done,
    /// A guarded `+++`.
    Escaped,
    /// The hostile module said so itself (`OK`, an error, the result).
    Said,
}

/// An answer the module still owes for a command it took.
#[derive(Debug)]
struct Owed {
    /// When the command was taken: the module answers within
    /// `rsptimeout` of it, or never.
    at: Instant,
    /// The final result (with the information lines before it), until
    /// printed.
    now: Option<Vec<u8>>,
    /// The deferred result's name and line, until printed.
    later: Option<(String, Vec<u8>)>,
    /// Well-behaved: printed by then at the latest.
    due: Instant,
}

/// The reference's answer to a command line.
struct Reply {
    /// The final result, with the information lines before it.
    now: Vec<u8>,
    /// The deferred result: its name and its line.
    later: Option<(String, Vec<u8>)>,
    /// A transfer to `"COM:"`: `CONNECT` instead of `now`.
    xfer: Option<Xfer>,
}

impl Reply {
    fn now(now: &[u8]) -> Self {
        Reply { now: now.to_vec(), later: None, xfer: None }
    }

    /// `OK` at once, then `+<name>: <result>`.
    fn deferred(name: &str, result: &str) -> Self {
        let line = format!("\r\n+{name}: {result}\r\n").into_bytes();
        Reply { now: b"\r\nOK\r\n".to_vec(), later: Some((name.to_string(), line)), xfer: None }
    }

    /// An FTP operation: the module runs one at a time.
    fn ftp_op(&self) -> bool {
        self.later.is_some() || self.xfer.is_some()
    }
}

/// When the well-behaved module prints what the hostile part left owed.
#[derive(Debug, Clone, Copy)]
enum Late {
    /// At once.
    AtOnce,
    /// Right before it answers the next command.
    BeforeNext,
    /// After this long (within `rsptimeout` of the command), or before it
    /// answers the next FTP operation.
    After(Duration),
    /// Never.
    Never,
}

/// How the well-behaved module carries on from the hostile part; from the
/// input.
#[derive(Debug, Clone, Copy)]
struct Manners {
    late: Late,
    /// A late deferred result reports a failure (`609`, timeout) rather
    /// than the reference's value.
    late_fails: bool,
    /// A transfer still waiting for its connection gets `CONNECT` (else
    /// `ERROR`).
    connects: bool,
    /// A download left running sends the rest of its payload, `OK` and its
    /// result at once (else it waits for the client's escape).
    finishes: bool,
    /// An escaped download's result line follows its `OK`.
    reports_abort: bool,
}

impl Manners {
    fn read(input: &mut Input<'_>) -> Self {
        let late = input.byte();
        let delay = Duration::from_millis(u64::from(input.byte()) * 100);
        let flags = input.byte();
        Manners {
            late: [Late::AtOnce, Late::BeforeNext, Late::After(delay), Late::Never][usize::from(late % 4)],
            connects: flags & 1 != 0,
            finishes: flags & 2 != 0,
            reports_abort: flags & 4 != 0,
            late_fails: flags & 8 != 0,
        }
    }
}

impl Default for Manners {
    fn default() -> Self {
        Manners { late: Late::Never, late_fails: false, connects: false, finishes: false, reports_abort: false }
    }
}

/// What a printed line is to the module's state (as the client's tokenizer
/// classifies it).
enum Said<'a> {
    Ok,
    /// `ERROR` or `+CME ERROR: <err>`.
    Error,
    Connect,
    /// `RDY`: the module restarted.
    Ready,
    /// `+<name>: ...`, and whether it is a failed FTP result.
    Result(&'a [u8], bool),
    Other,
}

fn said(line: &[u8]) -> Said<'_> {
    if line.starts_with(b"+") {
        if line.starts_with(b"+CME ERROR:") && parse::cme_error(line).is_some() {
            return Said::Error;
        }
        return match parse::prefixed(line) {
            Some((name, _)) => Said::Result(name, parse::ftp_result(line, name).is_some_and(|r| r.err != 0)),
            None => Said::Other,
        };
    }
    match line.trim_ascii_end() {
        _ if line == b"RDY" => Said::Ready,
        b"OK" => Said::Ok,
        b"ERROR" => Said::Error,
        _ if line.starts_with(b"CONNECT") => Said::Connect,
        _ => Said::Other,
    }
}

/// The module: its mode and what it owes, followed from every byte on the
/// line; in the well-behaved part it also answers.
#[derive(Default)]
struct Module {
    mode: Mode,
    well_behaved: bool,
    manners: Manners,
    /// The command line being typed.
    typed: Vec<u8>,
    /// `typed` began in the hostile part.
    typed_before: bool,
    /// The line being printed (hostile part).
    printing: Vec<u8>,
    /// When the host last wrote (the escape's leading guard).
    last_write: Option<Instant>,
    /// A lone `+++` written then, in data mode: an escape once its
    /// trailing guard passed without a byte.
    escape: Option<Instant>,
    /// Answers owed for commands taken, in order.
    owed: Vec<Owed>,
    /// Answers printed (hostile part) while none was owed, since the last
    /// command: the client may still hold them unread and take them for
    /// the next command's, so they count as its answers.
    credit_final: Option<bool>,
    credit_later: Vec<Vec<u8>>,
    /// Well-behaved: printed, not yet read.
    out: VecDeque<u8>,
    /// Well-behaved: the files uploaded.
    files: BTreeMap<String, Vec<u8>>,
}

impl Module {
    // ---- The host's bytes. ----

    /// The host wrote `bytes` at `now`.
    fn wrote(&mut self, bytes: &[u8], now: Instant) {
        self.tick(now);
        // A `+++` followed by a byte within its trailing guard was data.
        if self.escape.take().is_some() {
            self.take(b"+++", now, true);
        }
        let quiet = self.last_write.is_none_or(|t| later(t, GUARD) <= now);
        self.last_write = Some(now);
        if bytes == b"+++" && quiet {
            match &self.mode {
                // The last bytes of a counted upload are data at once: the
                // module leaves data mode all the same.
                Mode::Upload(u) if u.len.is_some_and(|len| len <= u.data.len() + 3) => {
                    return self.take(bytes, now, false);
                }
                Mode::Upload(_) | Mode::Download(_) => {
                    self.escape = Some(now);
                    return;
                }
                _ => {}
            }
        }
        self.take(bytes, now, true);
    }

    /// Bytes from the host that are no escape, as the mode takes them;
    /// `checked`: unless a guarded `+++`.
    fn take(&mut self, bytes: &[u8], now: Instant, checked: bool) {
        for &b in bytes {
            if self.well_behaved && checked {
                self.check_not_into_data_mode(bytes);
            }
            match &mut self.mode {
                Mode::Command => self.type_byte(b, now),
                Mode::Connecting(_) => self.mode = Mode::Command,
                Mode::Upload(u) => {
                    u.data.push(b);
                    if u.len == Some(u.data.len()) {
                        self.leave(Leave::Done, now);
                    }
                }
                Mode::Download(_) => {}
            }
        }
    }

    /// The property: in the well-behaved part, the client writes nothing
    /// into a data mode the hostile part left (nor into a download at
    /// all): the module would take it as upload data, or drop it.
    fn check_not_into_data_mode(&self, bytes: &[u8]) {
        match &self.mode {
            Mode::Upload(u) if !u.ours => panic!(
                "the client wrote {:?} while the module was in upload data mode (to {:?}, {} bytes in): \
                 the module takes it as data; only a guarded +++ leaves",
                String::from_utf8_lossy(bytes),
                u.name,
                u.data.len(),
            ),
            Mode::Download(d) => panic!(
                "the client wrote {:?} while the module was sending a download ({}, {} bytes in): \
                 the module drops it; only a guarded +++ leaves",
                String::from_utf8_lossy(bytes),
                d.result,
                d.sent,
            ),
            _ => {}
        }
    }

    /// A command-mode byte: a CR ends the line.
    fn type_byte(&mut self, b: u8, now: Instant) {
        if b != b'\r' {
            self.typed.push(b);
            return;
        }
        let line = std::mem::take(&mut self.typed);
        let ours = self.well_behaved && !std::mem::take(&mut self.typed_before);
        // The module's answer starts a line of its own.
        self.printing.clear();
        let Some(reply) = reply(&line) else { return };
        if self.well_behaved {
            self.answer(reply, ours, now);
        } else {
            self.owe(reply, now);
        }
    }

    // ---- The module's bytes, hostile part. ----

    /// How many of `bytes` the next read hands out: while the module
    /// waits for `CONNECT` or takes upload data, up to the end of a line.
    /// A line that ends data mode then reaches the client before it writes
    /// again, so the model need not guess which came first.
    fn read_len(&self, bytes: &[u8]) -> usize {
        match self.mode {
            Mode::Connecting(_) | Mode::Upload(_) => {
                bytes.iter().position(|&b| b == b'\r' || b == b'\n').map_or(bytes.len(), |i| i + 1)
            }
            _ => bytes.len(),
        }
    }

    /// The hostile module printed `bytes` (the client read them at `now`).
    fn printed(&mut self, bytes: &[u8], now: Instant) {
        self.tick(now);
        for &b in bytes {
            if let Mode::Download(d) = &mut self.mode {
                d.sent += 1;
                d.tail.push(b);
                if d.tail.len() > 6 {
                    d.tail.remove(0);
                }
                // The earliest possible end: the first `\r\nOK\r\n`, or
                // the bytes asked for.
                if d.tail == b"\r\nOK\r\n" {
                    self.leave(Leave::Said, now);
                } else if d.limit == Some(d.sent) {
                    self.leave(Leave::Done, now);
                }
                continue;
            }
            if b == b'\r' || b == b'\n' {
                let line = std::mem::take(&mut self.printing);
                if !line.is_empty() {
                    self.heard(&line, now);
                }
            } else {
                self.printing.push(b);
            }
        }
    }

    /// A line the hostile module printed, outside a download.
    fn heard(&mut self, line: &[u8], now: Instant) {
        let said = said(line);
        if let Said::Ready = said {
            self.restart();
            return;
        }
        match &self.mode {
            Mode::Connecting(xfer) => {
                let own = match xfer {
                    Xfer::Put { .. } => "QFTPPUT",
                    Xfer::Get { result, .. } => *result,
                };
                match said {
                    Said::Connect => {
                        let xfer = xfer.clone();
                        self.connect(xfer, false, now);
                    }
                    // Refused. (`OK` and a success result are late ones
                    // of earlier commands, as the client takes them.)
                    Said::Error => self.mode = Mode::Command,
                    Said::Result(name, true) if name == own.as_bytes() => self.mode = Mode::Command,
                    _ => {}
                }
            }
            Mode::Upload(_) => match said {
                // The module ended the upload itself.
                Said::Ok | Said::Error => self.leave(Leave::Said, now),
                Said::Result(b"QFTPPUT", _) => self.leave(Leave::Said, now),
                _ => {}
            },
            Mode::Command => match said {
                Said::Ok => self.pay_final(true),
                Said::Error => self.pay_final(false),
                Said::Result(b"QFTPCLOSE", _) => {
                    // The session is over, and the operations in it.
                    self.owed.iter_mut().for_each(|o| o.later = None);
                    self.pay_later(b"QFTPCLOSE");
                }
                Said::Result(name, _) => self.pay_later(name),
                _ => {}
            },
            Mode::Download(_) => unreachable!("payload is not lines"),
        }
    }

    // ---- What the module owes. ----

    /// Hostile part: the module took a command; its answers are owed
    /// until printed.
    fn owe(&mut self, reply: Reply, now: Instant) {
        // An older command's final result did not come: it never will.
        self.owed.retain(|o| o.now.is_none());
        // One FTP operation at a time: the older ones' results came, or
        // never will.
        if reply.ftp_op() {
            self.owed.clear();
        }
        let credit_final = self.credit_final.take();
        let credit_later = std::mem::take(&mut self.credit_later);
        if let Some(xfer) = reply.xfer {
            self.mode = Mode::Connecting(xfer);
            return;
        }
        let mut o = Owed { at: now, now: Some(reply.now), later: reply.later, due: Instant::MAX };
        match credit_final {
            Some(true) => o.now = None,
            Some(false) => (o.now, o.later) = (None, None),
            None => {}
        }
        if o.later.as_ref().is_some_and(|(name, _)| credit_later.iter().any(|c| c == name.as_bytes())) {
            (o.now, o.later) = (None, None);
        }
        self.push_owed(o);
    }

    fn push_owed(&mut self, o: Owed) {
        if o.now.is_some() || o.later.is_some() {
            self.owed.push(o);
        }
    }

    /// A final result was printed: it answers the command that owes one.
    /// An error also answers a command whose `OK` came already (`OK`,
    /// then `ERROR`: which of the two was its answer, no one can tell):
    /// its deferred result is not owed any more.
    fn pay_final(&mut self, ok: bool) {
        let owing = match self.owed.iter().position(|o| o.now.is_some()) {
            None if !ok => self.owed.iter().rposition(|o| o.later.is_some()),
            i => i,
        };
        match owing {
            Some(i) if ok => self.owed[i].now = None,
            Some(i) => drop(self.owed.remove(i)),
            None => self.credit_final = Some(ok),
        }
        self.owed.retain(|o| o.now.is_some() || o.later.is_some());
    }

    /// A `+<name>:` line was printed: the deferred result of that name
    /// (its final result came before it, or was left out).
    fn pay_later(&mut self, name: &[u8]) {
        match self.owed.iter_mut().find(|o| o.later.as_ref().is_some_and(|(n, _)| n.as_bytes() == name)) {
            Some(o) => (o.now, o.later) = (None, None),
            None => self.credit_later.push(name.to_vec()),
        }
        self.owed.retain(|o| o.now.is_some() || o.later.is_some());
    }

    /// The module restarted (`RDY`, a power cycle): command mode, an empty
    /// line, nothing owed.
    fn restart(&mut self) {
        self.mode = Mode::Command;
        self.typed.clear();
        self.typed_before = false;
        self.escape = None;
        self.forget_owed();
    }

    /// Nothing owed any more.
    fn forget_owed(&mut self) {
        self.owed.clear();
        self.credit_final = None;
        self.credit_later.clear();
    }

    // ---- Data mode. ----

    /// `CONNECT` for `xfer`: data mode.
    fn connect(&mut self, xfer: Xfer, ours: bool, now: Instant) {
        self.mode = match xfer {
            Xfer::Put { name, start, len } => Mode::Upload(Upload { name, start, len, data: Vec::new(), ours }),
            Xfer::Get { result, payload, limit } => {
                let payload = payload.unwrap_or_default();
                Mode::Download(Download { result, payload, limit, sent: 0, tail: Vec::new() })
            }
        };
        if matches!(&self.mode, Mode::Upload(u) if u.len == Some(0)) {
            self.leave(Leave::Done, now);
        }
    }

    /// Leaves data mode: the module says `OK` and the transfer's result
    /// (well-behaved), or owes them (hostile part; unless it said how it
    /// ended itself).
    fn leave(&mut self, why: Leave, now: Instant) {
        let (result, count) = match std::mem::take(&mut self.mode) {
            Mode::Upload(u) => {
                if u.ours {
                    let file = self.files.entry(u.name.clone()).or_default();
                    file.resize(file.len().max(u.start + u.data.len()), 0);
                    file[u.start..u.start + u.data.len()].copy_from_slice(&u.data);
                }
                ("QFTPPUT", u.data.len())
            }
            Mode::Download(d) => (d.result, d.sent),
            mode => {
                self.mode = mode;
                return;
            }
        };
        if why == Leave::Said {
            return;
        }
        let aborted_download = why == Leave::Escaped && result != "QFTPPUT";
        let line = (!aborted_download || self.manners.reports_abort)
            .then(|| (result.to_string(), format!("\r\n+{result}: 0,{count}\r\n").into_bytes()));
        let o = Owed { at: now, now: Some(b"\r\nOK\r\n".to_vec()), later: line, due: now };
        if self.well_behaved {
            self.print_owed(o);
        } else {
            self.push_owed(o);
        }
    }

    /// Time passed: an escape whose trailing guard is over takes effect;
    /// owed answers that are due are printed (well-behaved).
    fn tick(&mut self, now: Instant) {
        if let Some(at) = self.escape {
            if later(at, GUARD) <= now {
                self.escape = None;
                match self.mode {
                    Mode::Upload(_) | Mode::Download(_) => self.leave(Leave::Escaped, now),
                    // The module left data mode meanwhile: the `+++`
                    // starts a command line.
                    _ => self.take(b"+++", now, true),
                }
            }
        }
        if self.well_behaved && matches!(self.mode, Mode::Command) {
            while self.owed.first().is_some_and(|o| o.due <= now) {
                let o = self.owed.remove(0);
                self.print_owed(o);
            }
        }
    }

    // ---- The well-behaved module. ----

    /// The module turns well-behaved at `now`, in the state the hostile
    /// part left.
    fn handover(&mut self, manners: Manners, now: Instant) {
        self.well_behaved = true;
        self.manners = manners;
        self.typed_before = !self.typed.is_empty();
        self.credit_final = None;
        self.credit_later.clear();
        // What was not printed within `rsptimeout` never comes.
        self.owed.retain(|o| now <= later(o.at, RSPTIMEOUT_MIN));
        if let Late::Never = manners.late {
            self.owed.clear();
        }
        for o in &mut self.owed {
            let by = later(o.at, RSPTIMEOUT_MIN);
            o.due = match manners.late {
                Late::AtOnce => now,
                Late::After(d) => later(now, d).min(by),
                Late::BeforeNext | Late::Never => by,
            };
            if manners.late_fails {
                if let Some((name, line)) = &mut o.later {
                    *line = format!("\r\n+{name}: 609,0\r\n").into_bytes();
                }
            }
        }
        // A transfer still waiting for its connection.
        if let Mode::Connecting(xfer) = &self.mode {
            let xfer = xfer.clone();
            match (manners.connects, &xfer) {
                (true, Xfer::Put { .. } | Xfer::Get { payload: Some(_), .. }) => {
                    self.print(b"\r\nCONNECT\r\n");
                    self.connect(xfer, false, now);
                }
                _ => {
                    self.print(b"\r\nERROR\r\n");
                    self.mode = Mode::Command;
                }
            }
        }
        self.download_left_running(now);
        self.tick(now);
    }

    /// A download the hostile part left running ends at once, or waits
    /// for the client's escape, as the manners say.
    fn download_left_running(&mut self, now: Instant) {
        let Mode::Download(d) = &mut self.mode else { return };
        if !self.manners.finishes {
            return;
        }
        let rest = d.payload.get(d.sent..).unwrap_or_default().to_vec();
        d.sent += rest.len();
        self.print(&rest);
        self.leave(Leave::Done, now);
    }

    /// Well-behaved: answers a command line (typed wholly in this part if
    /// `ours`).
    fn answer(&mut self, reply: Reply, ours: bool, now: Instant) {
        // What the module owed comes first: a final result before any
        // later answer, a deferred one before the next FTP operation.
        let before_next = matches!(self.manners.late, Late::BeforeNext);
        for mut o in std::mem::take(&mut self.owed) {
            if let Some(now) = o.now.take() {
                self.print(&now);
            }
            if before_next || reply.ftp_op() {
                self.print_owed(o);
            } else {
                self.push_owed(o);
            }
        }
        match reply.xfer {
            None => {
                self.print(&reply.now);
                if let Some((_, line)) = &reply.later {
                    self.print(line);
                }
            }
            Some(Xfer::Get { result, payload: None, .. }) => {
                self.print(format!("\r\n+{result}: 627,550\r\n").as_bytes());
            }
            // A whole download at once: `CONNECT`, the payload, `OK`, the
            // result.
            Some(Xfer::Get { result, payload: Some(payload), .. }) if ours => {
                self.print(b"\r\nCONNECT\r\n");
                self.print(&payload);
                self.print(format!("\r\nOK\r\n\r\n+{result}: 0,{}\r\n", payload.len()).as_bytes());
            }
            Some(xfer) => {
                self.print(b"\r\nCONNECT\r\n");
                self.connect(xfer, ours, now);
                self.download_left_running(now);
            }
        }
    }

    fn print_owed(&mut self, o: Owed) {
        if let Some(now) = &o.now {
            self.print(now);
        }
        if let Some((_, line)) = &o.later {
            self.print(line);
        }
    }

    fn print(&mut self, bytes: &[u8]) {
        self.out.extend(bytes);
    }
}

/// The reference's answer to a command line; `None` for a line that is no
/// command. The command starts at its `AT` (what comes before is ignored);
/// a malformed one gets `ERROR`.
fn reply(line: &[u8]) -> Option<Reply> {
    let at = line.windows(2).position(|w| w == b"AT" || w == b"at")?;
    let text = String::from_utf8_lossy(&line[at + 2..]).into_owned();
    let (head, args) = match text.split_once('=') {
        Some((head, args)) => (head.to_string(), args.split(',').collect::<Vec<_>>()),
        None => (text.clone(), Vec::new()),
    };
    let well_formed_head = head == "E0"
        || head.strip_prefix('+').is_some_and(|h| {
            let h = h.strip_suffix('?').unwrap_or(h);
            !h.is_empty() && h.bytes().all(|b| b.is_ascii_uppercase())
        });
    let quoted = |a: &str| a.len() >= 2 && a.starts_with('"') && a.ends_with('"') && !a[1..a.len() - 1].contains('"');
    let bare = |a: &str| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric());
    if !well_formed_head || !args.iter().all(|a| quoted(a) || bare(a)) {
        return Some(Reply::now(b"\r\nERROR\r\n"));
    }
    let str_arg = |i: usize| args.get(i).map(|a| a.trim_matches('"').to_string());
    let num_arg = |i: usize| args.get(i).map(|a| a.parse::<usize>().ok());
    let file = |name: &str| match name {
        "f" => Some(FILE),
        "dir/x.bin" => Some(OTHER),
        _ => None,
    };
    let to_com = str_arg(1).is_none_or(|local| local == "COM:");
    Some(match head.as_str() {
        "+CMEE?" => Reply::now(b"\r\n+CMEE: 1\r\n\r\nOK\r\n"),
        "+CPIN?" => Reply::now(b"\r\n+CPIN: READY\r\n\r\nOK\r\n"),
        "+QFTPSTAT" => Reply::now(b"\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n"),
        "+QIACT?" => Reply::now(b"\r\n+QIACT: 1,1,1,\"10.0.0.2\"\r\n\r\nOK\r\n"),
        "+CEREG?" | "+CGREG?" | "+CREG?" => {
            Reply::now(format!("\r\n{}: 0,1\r\n\r\nOK\r\n", head.trim_end_matches('?')).as_bytes())
        }
        "+CSQ" => Reply::now(b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"),
        "+QFTPCLOSE" => Reply::deferred("QFTPCLOSE", "0,0"),
        "+QFTPOPEN" => Reply::deferred("QFTPOPEN", "0,0"),
        "+QFTPCWD" => Reply::deferred("QFTPCWD", "0,0"),
        "+QFTPSIZE" => match str_arg(0).as_deref().and_then(file) {
            Some(f) => Reply::deferred("QFTPSIZE", &format!("0,{}", f.len())),
            None => Reply::deferred("QFTPSIZE", "627,550"),
        },
        "+QFTPPUT" if to_com => {
            let (Some(name), Some(Some(start))) = (str_arg(0), num_arg(2).or(Some(Some(0)))) else {
                return Some(Reply::now(b"\r\nERROR\r\n"));
            };
            let len = match num_arg(3) {
                None => None,
                Some(Some(len)) => Some(len),
                Some(None) => return Some(Reply::now(b"\r\nERROR\r\n")),
            };
            Reply { now: Vec::new(), later: None, xfer: Some(Xfer::Put { name, start, len }) }
        }
        "+QFTPGET" if to_com => {
            let (Some(name), Some(Some(start))) = (str_arg(0), num_arg(2).or(Some(Some(0)))) else {
                return Some(Reply::now(b"\r\nERROR\r\n"));
            };
            let limit = match num_arg(3) {
                None => None,
                Some(Some(len)) => Some(len),
                Some(None) => return Some(Reply::now(b"\r\nERROR\r\n")),
            };
            let payload = file(&name).map(|f| {
                let from = start.min(f.len());
                f[from..from.saturating_add(limit.unwrap_or(usize::MAX)).min(f.len())].to_vec()
            });
            Reply { now: Vec::new(), later: None, xfer: Some(Xfer::Get { result: "QFTPGET", payload, limit }) }
        }
        "+QFTPLIST" | "+QFTPNLST" | "+QFTPMLSD" if to_com => {
            let result = match head.as_str() {
                "+QFTPLIST" => "QFTPLIST",
                "+QFTPNLST" => "QFTPNLST",
                _ => "QFTPMLSD",
            };
            let xfer = Xfer::Get { result, payload: Some(LISTING.to_vec()), limit: None };
            Reply { now: Vec::new(), later: None, xfer: Some(xfer) }
        }
        // Every other command the client sends is one a module knows.
        _ => Reply::now(b"\r\nOK\r\n"),
    })
}

/// The modem's side of the line.
struct Line {
    /// Hostile: the answers, as scripted by the input.
    script: VecDeque<Act>,
    /// Hostile: silent until then.
    quiet_until: Option<Instant>,
    /// Every byte the client wrote.
    written: Vec<u8>,
    module: Module,
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
        line.module.wrote(buf, Instant::now());
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl Modem {
    fn poll_read(&self, buf: &mut [u8]) -> Poll<Result<usize, embedded_io::ErrorKind>> {
        let mut line = self.0.borrow_mut();
        let now = Instant::now();
        line.module.tick(now);
        if line.module.well_behaved {
            let out = &mut line.module.out;
            if out.is_empty() {
                return Poll::Pending;
            }
            let n = buf.len().min(out.len());
            for (slot, b) in buf.iter_mut().zip(out.drain(..n)) {
                *slot = b;
            }
            return Poll::Ready(Ok(n));
        }
        if let Some(until) = line.quiet_until {
            if now < until {
                return Poll::Pending;
            }
            line.quiet_until = None;
        }
        match line.script.pop_front() {
            Some(Act::Send(bytes)) => {
                let n = line.module.read_len(&bytes[..bytes.len().min(buf.len())]);
                buf[..n].copy_from_slice(&bytes[..n]);
                if n < bytes.len() {
                    line.script.push_front(Act::Send(bytes[n..].to_vec()));
                }
                line.module.printed(&buf[..n], now);
                Poll::Ready(Ok(n))
            }
            Some(Act::Quiet(d)) => {
                line.quiet_until = Some(later(now, d));
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

/// Upload data the hostile part may use: not the password or the PIN
/// (that would be the caller's leak, not the client's), and no `AT` (data
/// a module takes as command lines, once it left data mode, then only ever
/// forms lines it ignores).
fn harmless(data: &[u8]) -> &[u8] {
    let secret = [SECRET, PIN].iter().any(|s| data.windows(s.len()).any(|w| w == s.as_bytes()));
    let command = data.windows(2).any(|w| w.eq_ignore_ascii_case(b"AT"));
    if secret || command {
        &[]
    } else {
        data
    }
}

/// Runs one operation, chosen by the input, maybe dropped midway.
fn operation(ftp: &mut Ftp<'_, Modem>, line: &RefCell<Line>, input: &mut Input<'_>) {
    let op = input.byte();
    let drop_after = match input.byte() {
        d @ 0..=63 => Some(u32::from(d) * 7),
        _ => None,
    };
    let name = ["f", "a\"b", "", "dir/x.bin"][usize::from(input.byte() % 4)];
    let chunk = [1u32, 7, 64, 1000][usize::from(input.byte() % 4)];
    let mut sink = Vec::new();
    let len = usize::from(input.byte());
    let data = harmless(input.bytes(len));
    let mut src = data;
    let opts = Transfer { start: u64::from(input.byte()), chunk, ..Transfer::default() };
    let cfg = FtpConfig { user: "u", password: SECRET, ..FtpConfig::default() };
    let pdp = PdpConfig::default();
    macro_rules! go {
        ($fut:expr) => {{
            let _ = drive($fut, drop_after);
        }};
        ($fut:expr, within $bound:expr) => {{
            if let Some((_, took)) = drive($fut, drop_after) {
                assert!(took <= $bound, "{} took {took:?}, more than {:?}", stringify!($fut), $bound);
            }
        }};
    }
    if op == 0xFF {
        // Enters the PIN if the SIM asks for it (`+CPIN: SIM PIN`).
        return go!(ftp.init_with_pin(PIN), within INIT_WITH_PIN);
    }
    match op % 14 {
        0 => {
            // Only right after a power-up, as its documentation says.
            line.borrow_mut().module.restart();
            go!(ftp.init_fresh(), within INIT_FRESH)
        }
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

/// The bytes `put` writes for [`UPLOAD`] to `f2`: each chunk's command,
/// then its data, nothing else.
fn upload_wire() -> Vec<u8> {
    let mut wire = Vec::new();
    let mut pos = 0;
    for chunk in UPLOAD.chunks(UPLOAD_CHUNK as usize) {
        let last = u8::from(pos + chunk.len() == UPLOAD.len());
        wire.extend(format!("AT+QFTPPUT=\"f2\",\"COM:\",{pos},{},{last}\r", chunk.len()).as_bytes());
        wire.extend(chunk);
        pos += chunk.len();
    }
    wire
}

fuzz_target!(|data: &[u8]| {
    MockDriver::get().reset();
    let mut input = Input(data);
    let line = Rc::new(RefCell::new(Line {
        script: script(&mut input),
        quiet_until: None,
        written: Vec::new(),
        module: Module::default(),
    }));
    let modem = Modem(line.clone());
    let mut buf = [0u8; 256];
    let Ok(mut ftp) = Ftp::new(modem, &mut buf) else { return };

    // The hostile part: up to eight operations.
    for _ in 0..(input.byte() % 8) {
        operation(&mut ftp, &line, &mut input);
        // A simulated MCU reset: a fresh client on the same line, which
        // starts with `init` (the module may be in data mode). What the
        // module printed meanwhile went to the MCU that was down.
        if input.byte() == 0xA5 {
            drop(ftp);
            line.borrow_mut().module.forget_owed();
            ftp = Ftp::new(Modem(line.clone()), &mut buf).unwrap_or_else(|_| unreachable!());
            let (_, took) = drive(ftp.init(), None).expect("not dropped");
            assert!(took <= INIT, "init after a reset took {took:?}");
        }
    }

    // The well-behaved part: whatever the hostile part left, the next calls
    // succeed, with the reference's bytes.
    {
        let manners = Manners::read(&mut input);
        let mut l = line.borrow_mut();
        l.script.clear();
        l.quiet_until = None;
        l.module.handover(manners, Instant::now());
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
    // An upload whose data looks like commands, results and an escape:
    // all of it is data, and nothing else goes out.
    let before = line.borrow().written.len();
    let mut src = UPLOAD;
    let opts = Transfer { chunk: UPLOAD_CHUNK, ..Transfer::default() };
    let (r, _) = drive(ftp.put("f2", &mut src, opts), None).expect("not dropped");
    assert_eq!(r, Ok(UPLOAD.len() as u64));
    assert_eq!(
        String::from_utf8_lossy(&line.borrow().written[before..]),
        String::from_utf8_lossy(&upload_wire()),
        "the upload's wire"
    );
    assert_eq!(line.borrow().module.files.get("f2").map(Vec::as_slice), Some(UPLOAD), "the uploaded file");
    let r: Result<(), Error> = drive(ftp.close(), None).expect("not dropped").0;
    assert!(r.is_ok(), "close: {r:?}");
    assert!(matches!(line.borrow().module.mode, Mode::Command), "the module is left in command mode");

    // The password and the PIN only ever inside their own commands.
    let written = &line.borrow().written;
    let count = |s: &[u8]| written.windows(s.len()).filter(|w| *w == s).count();
    let shown = String::from_utf8_lossy(written);
    assert_eq!(count(SECRET.as_bytes()), count(ACCOUNT), "the password went out outside its command: {shown:?}");
    assert_eq!(count(PIN.as_bytes()), count(PIN_COMMAND), "the PIN went out outside its command: {shown:?}");
});
