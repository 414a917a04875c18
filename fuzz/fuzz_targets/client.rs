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
//!   and the PIN only inside its own `AT+CPIN="<pin>"`;
//! - `ufs_read` succeeds only if each `AT+QFREAD` piece was followed by
//!   `\r\nOK\r\n` at once (else a byte was lost or doubled inside it);
//! - the well-behaved part's file store calls move exact bytes with the
//!   exact commands, and a file the hostile part left open reads again;
//! - a listing into a file of the store, store and forward up and down
//!   (`put_via_ufs`, `get_via_ufs`), `install_ca` and `ssl_files` in the
//!   well-behaved part send the exact commands and move the exact bytes,
//!   and store and forward leaves nothing staged, after an error too (a
//!   missing remote file, a source a byte short), keeps the staging file
//!   when asked and leaves one that existed already alone (`407`); in the
//!   hostile part, store and forward succeeds only with the count it
//!   moved and its staging file's `AT+QFDEL` sent (unless kept).
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
//!
//! The file store (reference section 8) is modelled too: `AT+QFLDS`,
//! `AT+QFLST`, `AT+QFDEL`, FTP with a local file, `AT+QFUPL` (data mode
//! until `<file_size>` bytes, `<timeout>` seconds of silence or a guarded
//! `+++`, then `+QFUPL: <size>,<checksum>` and `OK`; in ACK mode an `A`
//! after each KiB, which the client must have read before it sends the
//! next), `AT+QFDWL` (`CONNECT`, the file, `+QFDWL:`, `OK`) and
//! `AT+QFOPEN`/`AT+QFREAD`/`AT+QFCLOSE` (`CONNECT <n>`, exactly `n` bytes,
//! `OK`). The store's contents change only by the well-behaved part's own
//! commands. The same rule for ambiguity holds: a `AT+QFDWL` download ends
//! at the first of `\r\n+QFDWL:`, `\r\nOK\r\n` or the size the module
//! listed for the file; a `AT+QFREAD` piece after `n` bytes (at most the
//! length asked); an upload in ACK mode at anything that reads as `OK`, an
//! error or `+QFUPL:` with the `A`s, CRs and LFs taken out (the client
//! reads `A`s between lines); a file is open (and must be closed by the
//! client, or reading it again answers `+CME ERROR: 426`) only once a
//! single `+QFOPEN: <handle>` (not 0) and `OK` answered the `AT+QFOPEN` of
//! the operation still running; `AT+QFCLOSE` closes at once, whatever the
//! answer; a file left open across a simulated MCU reset is taken as closed
//! (the module keeps it open, but the new client cannot know its handle).
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
use quectel_ftp::{
    CmeError, Error, Ftp, FtpConfig, Listing, PdpConfig, SslFiles, Staging, Transfer, UfsSpace, UfsUpload,
};

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
/// The file store's files at the start: `u.bin` on the flash, `RAM:r.bin`
/// in RAM. The hostile part's file operations use these names and others
/// that name no file; the well-behaved part's own files are not among them.
const UFS_FILE: &[u8] = b"AT+QFDEL=\"*\"\r\n+QFDWL: 3,0\r\nCONNECT 4\r\nOK\r\n+++A\x00";
const RAM_FILE: &[u8] = b"ram\r\nOK\r\n";
/// The flash's size.
const UFS_TOTAL: usize = 2_097_152;
/// The local names of the hostile part's file operations: files, no file,
/// and names the client must refuse before a byte goes out.
const UFS_NAMES: [&str; 10] = [
    "u.bin",
    "UFS:u.bin",
    "a\"b",
    "",
    "none.bin",
    "*",
    "RAM:r.bin",
    "a\rAT+QFDEL=\"*\"",
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
    "COM:",
];
/// What the well-behaved part stores as `w.bin`: command lines, results,
/// `CONNECT`s, an escape and an ACK, all of which must reach the file as
/// data and come back from it byte for byte.
const STORE: &[u8] = b"AT+QFUPL=\"x\",3\r+++\r\nOK\r\n\r\n+QFUPL: 3,0\r\nCONNECT 7\r\nA\r\n+QFDWL: 1,0\r\n\x00\xff";
/// The staging file of the well-behaved part's store and forward.
const STAGED: &str = "s.bin";
/// The size of the well-behaved part's upload in ACK mode (`w2.bin`): two
/// blocks of a KiB, each acknowledged.
const ACKED: usize = 2048;
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
    /// `AT+QFUPL="<name>",<file_size>,<timeout>,<ackmode>`.
    Upl { name: String, len: usize, timeout: Duration, ack: bool },
    /// `AT+QFDWL="<name>"`: the file (`None`: no such file), and the size
    /// the hostile module last listed for it (an earliest end).
    Dwl { payload: Option<Vec<u8>>, listed: Option<usize> },
    /// `AT+QFREAD=<handle>,<len>`.
    Read { handle: u32, len: usize },
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
    /// `AT+QFUPL`'s (else `AT+QFTPPUT`'s).
    store: Option<StoreUpload>,
}

/// What an upload to the file store adds.
#[derive(Debug)]
struct StoreUpload {
    /// `<timeout>`: the module leaves data mode after this long without a
    /// byte.
    timeout: Duration,
    /// `<ackmode>` 1: an `A` after each KiB.
    ack: bool,
    /// When the last byte came (or `CONNECT`).
    last: Instant,
    /// Well-behaved: the client must have read this far into what the
    /// module printed (its last `A`) before it sends the next byte.
    read_by: usize,
    /// Hostile, ACK mode: what the module printed, less `A`, CR and LF.
    seen: Vec<u8>,
}

#[derive(Debug)]
struct Download {
    /// The result's name: `QFTPGET` or a listing's, `QFDWL` (`AT+QFDWL`)
    /// or `QFREAD` (`AT+QFREAD`).
    result: &'static str,
    payload: Vec<u8>,
    limit: Option<usize>,
    /// Bytes printed since `CONNECT`, and the last nine of them.
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
        self.later.is_some() || matches!(self.xfer, Some(Xfer::Put { .. } | Xfer::Get { .. }))
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
    /// In ACK mode, an `A` after the last KiB too, when the file is a
    /// whole number of KiB.
    ack_last: bool,
    /// `AT+QFLST` of a name that matches nothing answers
    /// `+CME ERROR: 405` (else a bare `OK`).
    missing_405: bool,
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
            ack_last: flags & 16 != 0,
            missing_405: flags & 32 != 0,
        }
    }
}

impl Default for Manners {
    fn default() -> Self {
        Manners {
            late: Late::Never,
            late_fails: false,
            connects: false,
            finishes: false,
            reports_abort: false,
            ack_last: false,
            missing_405: false,
        }
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
    /// The file store, by [`ufs_key`]; changed only by the well-behaved
    /// part's own commands.
    ufs: BTreeMap<String, Vec<u8>>,
    /// The files open: handle, name as opened, position.
    handles: BTreeMap<u32, (String, usize)>,
    /// The handle the well-behaved module gave last.
    last_handle: u32,
    /// Hostile: an `AT+QFOPEN` whose answer is being printed.
    opening: Option<Opening>,
    /// Hostile: the smallest size printed for each file since the last
    /// `AT+QFLST`.
    listed: BTreeMap<String, usize>,
    /// Well-behaved: bytes printed, and bytes the client has read.
    printed_total: usize,
    read_total: usize,
    /// Hostile: a `CONNECT` line ended and started a download: an LF
    /// right after it ends that line too (as the client reads it).
    skip_lf: bool,
    /// Hostile: what followed the last `AT+QFREAD` piece, while it may
    /// still be `\r\nOK\r\n`.
    read_trailer: Option<Vec<u8>>,
    /// Hostile: a piece of the operation running was not followed by
    /// `\r\nOK\r\n` at once: a byte lost or doubled inside it (`ufs_read`
    /// must not succeed then).
    read_untrailed: bool,
}

/// An `AT+QFOPEN` of the hostile part and what of its answer came.
#[derive(Debug)]
struct Opening {
    name: String,
    handle: Option<u32>,
    /// `+QFOPEN:` lines printed.
    lines: u8,
    ok: bool,
}

/// The file store's key of a local name: `UFS:` is the default storage.
fn ufs_key(name: &str) -> String {
    match name.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("UFS:") => name[4..].to_string(),
        _ => name.to_string(),
    }
}

fn in_ram(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("RAM:"))
}

/// A decimal digit's value.
fn digit(b: u8) -> Option<usize> {
    b.is_ascii_digit().then(|| usize::from(b - b'0'))
}

/// The file store's checksum (reference section 8), written out here
/// rather than taken from the crate: the 16-bit XOR of the bytes two at a
/// time, the first the high 8 bits; an odd last byte the high 8 bits.
fn checksum(data: &[u8]) -> u16 {
    data.chunks(2).fold(0, |sum, pair| sum ^ u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]))
}

/// `AT+QFLST`'s patterns: `*` any run of bytes, `?` any byte.
fn matches_pattern(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| matches_pattern(rest, &name[i..])),
        Some((&p, rest)) => {
            name.split_first().is_some_and(|(&n, tail)| (p == b'?' || p == n) && matches_pattern(rest, tail))
        }
    }
}

impl Module {
    /// A module that just started, its store as the target begins it.
    fn new() -> Self {
        let mut m = Module::default();
        m.ufs.insert("u.bin".to_string(), UFS_FILE.to_vec());
        m.ufs.insert("RAM:r.bin".to_string(), RAM_FILE.to_vec());
        m.last_handle = 1026;
        m
    }

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
                    if let Some(st) = &mut u.store {
                        assert!(
                            !(u.ours && self.read_total < st.read_by),
                            "ACK mode: the client sent more than a KiB of {:?} before it read the module's A",
                            u.name,
                        );
                        st.last = now;
                    }
                    u.data.push(b);
                    let n = u.data.len();
                    let ack = u.store.as_ref().is_some_and(|st| st.ack) && n % 1024 == 0;
                    if u.len == Some(n) {
                        self.leave(Leave::Done, now);
                    } else if ack && self.well_behaved {
                        self.acknowledge();
                    }
                }
                Mode::Download(_) => {}
            }
        }
    }

    /// Well-behaved, ACK mode: a KiB came; `A`, which the client must read
    /// before it sends more.
    fn acknowledge(&mut self) {
        self.print(b"A");
        let printed = self.printed_total;
        if let Mode::Upload(Upload { store: Some(st), .. }) = &mut self.mode {
            st.read_by = printed;
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
        // What came for an `AT+QFOPEN` before answers it no more.
        self.opening = None;
        let Some(reply) = self.reply(&line, ours) else { return };
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
            if std::mem::take(&mut self.skip_lf) && b == b'\n' {
                continue;
            }
            if let Some(trailer) = &mut self.read_trailer {
                trailer.push(b);
                if !b"\r\nOK\r\n".starts_with(trailer) {
                    self.read_untrailed = true;
                    self.read_trailer = None;
                } else if trailer.len() == 6 {
                    self.read_trailer = None;
                }
            }
            if let Mode::Download(d) = &mut self.mode {
                d.sent += 1;
                d.tail.push(b);
                if d.tail.len() > 9 {
                    d.tail.remove(0);
                }
                // The earliest possible end: the first `\r\nOK\r\n`, the
                // first `\r\n+QFDWL:` of a file's download (the file ended
                // before it), or the bytes asked for (listed).
                if d.tail.ends_with(b"\r\nOK\r\n") {
                    self.leave(Leave::Said, now);
                } else if d.result == "QFDWL" && d.tail.ends_with(b"\r\n+QFDWL:") {
                    self.leave(Leave::Said, now);
                    self.printing = b"+QFDWL:".to_vec();
                } else if d.limit == Some(d.sent) {
                    self.leave(Leave::Done, now);
                }
                continue;
            }
            if let Mode::Upload(Upload { store: Some(st), .. }) = &mut self.mode {
                // ACK mode: the client reads `A`s between the bytes of
                // lines (and the CRs and LFs before them), which may join
                // what the module printed into an end of data mode.
                if st.ack && !matches!(b, b'A' | b'\r' | b'\n') {
                    st.seen.push(b);
                    if st.seen.len() > 16 {
                        st.seen.remove(0);
                    }
                    let seen = st.seen.as_slice();
                    if seen.ends_with(b"OK") || seen.ends_with(b"ERROR") || seen.ends_with(b"+QFUPL:") {
                        self.leave(Leave::Said, now);
                    }
                }
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
                    // The file store's fail with `+CME ERROR:`.
                    Xfer::Upl { .. } | Xfer::Dwl { .. } | Xfer::Read { .. } => "",
                };
                match said {
                    Said::Connect => {
                        let xfer = xfer.clone();
                        self.connect(xfer, false, line, now);
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
                Said::Result(b"QFTPPUT" | b"QFUPL", _) => self.leave(Leave::Said, now),
                _ => {}
            },
            Mode::Command => {
                self.heard_about_files(line, &said);
                self.heard_in_command_mode(said);
            }
            Mode::Download(_) => unreachable!("payload is not lines"),
        }
    }

    /// Hostile part: what a line in command mode says of the file store:
    /// an `AT+QFOPEN`'s answer, a file's listed size.
    fn heard_about_files(&mut self, line: &[u8], said: &Said<'_>) {
        if let Some((name, size)) = parse::qflst(line) {
            let key = ufs_key(&String::from_utf8_lossy(name));
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            let least = self.listed.get(&key).map_or(size, |&s| s.min(size));
            self.listed.insert(key, least);
        }
        let Some(o) = &mut self.opening else { return };
        match said {
            Said::Result(b"QFOPEN", _) => {
                o.lines += 1;
                o.handle = parse::qfopen(line);
            }
            Said::Ok => o.ok = true,
            Said::Error => o.lines = u8::MAX,
            _ => {}
        }
        match (o.lines, o.handle) {
            // Two answers, or an error: which the client took, no one
            // can tell; the file is not taken as open.
            (2.., _) => self.opening = None,
            (1, Some(handle)) if o.ok => {
                if handle != 0 {
                    self.handles.insert(handle, (o.name.clone(), 0));
                }
                self.opening = None;
            }
            _ => {}
        }
    }

    fn heard_in_command_mode(&mut self, said: Said<'_>) {
        match said {
            Said::Ok => self.pay_final(true),
            Said::Error => self.pay_final(false),
            Said::Result(b"QFTPCLOSE", _) => {
                // The session is over, and the operations in it.
                self.owed.iter_mut().for_each(|o| o.later = None);
                self.pay_later(b"QFTPCLOSE");
            }
            Said::Result(name, _) => self.pay_later(name),
            _ => {}
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
    /// line, nothing owed, no file open.
    fn restart(&mut self) {
        self.mode = Mode::Command;
        self.typed.clear();
        self.typed_before = false;
        self.escape = None;
        self.forget_owed();
        self.handles.clear();
        self.opening = None;
    }

    /// Nothing owed any more.
    fn forget_owed(&mut self) {
        self.owed.clear();
        self.credit_final = None;
        self.credit_later.clear();
    }

    /// The MCU restarted (the module did not): what the module printed
    /// meanwhile went to no one. A file left open stays open on the module,
    /// but the new client cannot know its handle: not modelled (taken as
    /// closed).
    fn mcu_reset(&mut self) {
        self.forget_owed();
        self.handles.clear();
        self.opening = None;
    }

    /// The operation that ran is over: answers read from now on were not
    /// its own.
    fn op_ended(&mut self) {
        self.opening = None;
    }

    // ---- Data mode. ----

    /// `CONNECT` for `xfer` (the line `line`, `CONNECT <n>` for a read):
    /// data mode.
    fn connect(&mut self, xfer: Xfer, ours: bool, line: &[u8], now: Instant) {
        self.mode = match xfer {
            Xfer::Put { name, start, len } => {
                Mode::Upload(Upload { name, start, len, data: Vec::new(), ours, store: None })
            }
            Xfer::Get { result, payload, limit } => {
                let payload = payload.unwrap_or_default();
                Mode::Download(Download { result, payload, limit, sent: 0, tail: Vec::new() })
            }
            Xfer::Upl { name, len, timeout, ack } => {
                let store = StoreUpload { timeout, ack, last: now, read_by: 0, seen: Vec::new() };
                Mode::Upload(Upload { name, start: 0, len: Some(len), data: Vec::new(), ours, store: Some(store) })
            }
            Xfer::Dwl { payload, listed } => {
                let payload = payload.unwrap_or_default();
                Mode::Download(Download { result: "QFDWL", payload, limit: listed, sent: 0, tail: Vec::new() })
            }
            Xfer::Read { handle, len } => {
                // `CONNECT <n>`: `n` bytes, no more than asked (a count
                // missing or malformed: none).
                let n = line
                    .get(b"CONNECT".len()..)
                    .map(<[u8]>::trim_ascii)
                    .filter(|n| !n.is_empty())
                    .and_then(|n| n.iter().try_fold(0usize, |a, &b| a.checked_mul(10)?.checked_add(digit(b)?)))
                    .unwrap_or(0)
                    .min(len);
                let mut payload = self.piece(handle, n);
                payload.resize(n, b'.');
                Mode::Download(Download { result: "QFREAD", payload, limit: Some(n), sent: 0, tail: Vec::new() })
            }
        };
        // The client skips an LF right after the `CONNECT` line of a
        // download.
        self.skip_lf = matches!(self.mode, Mode::Download(_));
        match &self.mode {
            Mode::Upload(u) if u.len == Some(0) => self.leave(Leave::Done, now),
            Mode::Download(d) if d.limit == Some(0) => self.leave(Leave::Done, now),
            _ => {}
        }
    }

    /// The next `len` bytes (at most) of the file open as `handle`, which
    /// move its position on.
    fn piece(&mut self, handle: u32, len: usize) -> Vec<u8> {
        let Some((name, pos)) = self.handles.get_mut(&handle) else { return Vec::new() };
        let file = self.ufs.get(&ufs_key(name)).map(Vec::as_slice).unwrap_or_default();
        let from = (*pos).min(file.len());
        let piece = file[from..from.saturating_add(len).min(file.len())].to_vec();
        *pos = from + piece.len();
        piece
    }

    /// Leaves data mode: the module says `OK` and the transfer's result
    /// (well-behaved), or owes them (hostile part; unless it said how it
    /// ended itself).
    fn leave(&mut self, why: Leave, now: Instant) {
        let (now_bytes, line) = match std::mem::take(&mut self.mode) {
            Mode::Upload(u) => match u.store {
                // `+QFUPL: <upload_size>,<checksum>`, then `OK`; what was
                // sent is kept, however the upload ended.
                Some(st) => {
                    let n = u.data.len();
                    if self.well_behaved && st.ack && self.manners.ack_last && n > 0 && n % 1024 == 0 {
                        self.print(b"A");
                    }
                    if u.ours {
                        self.ufs.insert(ufs_key(&u.name), u.data.clone());
                    }
                    let now_bytes = format!("\r\n+QFUPL: {n},{:x}\r\n\r\nOK\r\n", checksum(&u.data));
                    (now_bytes.into_bytes(), None)
                }
                None => {
                    if u.ours {
                        let file = self.files.entry(u.name.clone()).or_default();
                        file.resize(file.len().max(u.start + u.data.len()), 0);
                        file[u.start..u.start + u.data.len()].copy_from_slice(&u.data);
                    }
                    let line = format!("\r\n+QFTPPUT: 0,{}\r\n", u.data.len()).into_bytes();
                    (b"\r\nOK\r\n".to_vec(), Some(("QFTPPUT".to_string(), line)))
                }
            },
            Mode::Download(d) => match d.result {
                "QFDWL" => {
                    let sent = &d.payload[..d.sent.min(d.payload.len())];
                    let result = format!("\r\n+QFDWL: {},{:x}\r\n", sent.len(), checksum(sent)).into_bytes();
                    let reported = why != Leave::Escaped || self.manners.reports_abort;
                    let now_bytes = [if reported { &result[..] } else { &[] }, b"\r\nOK\r\n"].concat();
                    (now_bytes, None)
                }
                "QFREAD" => {
                    // The piece's `n` bytes came: `\r\nOK\r\n` must follow.
                    if why == Leave::Done && !self.well_behaved {
                        self.read_trailer = Some(Vec::new());
                    }
                    (b"\r\nOK\r\n".to_vec(), None)
                }
                result => {
                    let aborted_download = why == Leave::Escaped;
                    let line = (!aborted_download || self.manners.reports_abort)
                        .then(|| (result.to_string(), format!("\r\n+{result}: 0,{}\r\n", d.sent).into_bytes()));
                    (b"\r\nOK\r\n".to_vec(), line)
                }
            },
            mode => {
                self.mode = mode;
                return;
            }
        };
        if why == Leave::Said {
            return;
        }
        let o = Owed { at: now, now: Some(now_bytes), later: line, due: now };
        if self.well_behaved {
            self.print_owed(o);
        } else {
            self.push_owed(o);
        }
    }

    /// Time passed: an escape whose trailing guard is over takes effect;
    /// an upload to the store silent for its `<timeout>` ends; owed
    /// answers that are due are printed (well-behaved).
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
        if let Mode::Upload(Upload { store: Some(st), .. }) = &self.mode {
            if later(st.last, st.timeout) <= now && self.escape.is_none() {
                self.leave(Leave::Done, now);
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
        self.opening = None;
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
            self.mode = Mode::Command;
            match (manners.connects, &xfer) {
                (true, Xfer::Put { .. } | Xfer::Get { payload: Some(_), .. }) => {
                    self.print(b"\r\nCONNECT\r\n");
                    self.connect(xfer, false, b"CONNECT", now);
                }
                // The file store's: as the store has it.
                (true, Xfer::Upl { .. } | Xfer::Dwl { .. } | Xfer::Read { .. }) => self.start(xfer, false, now),
                _ => self.print(b"\r\nERROR\r\n"),
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
            Some(xfer) => self.start(xfer, ours, now),
        }
    }

    /// Well-behaved: a transfer's answer, and data mode.
    fn start(&mut self, xfer: Xfer, ours: bool, now: Instant) {
        match xfer {
            Xfer::Get { result, payload: None, .. } => {
                self.print(format!("\r\n+{result}: 627,550\r\n").as_bytes());
            }
            // A whole download at once: `CONNECT`, the payload, `OK`, the
            // result.
            Xfer::Get { result, payload: Some(payload), .. } if ours => {
                self.print(b"\r\nCONNECT\r\n");
                self.print(&payload);
                self.print(format!("\r\nOK\r\n\r\n+{result}: 0,{}\r\n", payload.len()).as_bytes());
            }
            Xfer::Upl { name, .. } if self.ufs.contains_key(&ufs_key(&name)) => {
                self.print(b"\r\n+CME ERROR: 407\r\n");
            }
            Xfer::Dwl { payload: None, .. } => self.print(b"\r\n+CME ERROR: 405\r\n"),
            Xfer::Dwl { payload: Some(payload), .. } if ours => {
                self.print(b"\r\nCONNECT\r\n");
                self.print(&payload);
                let sum = checksum(&payload);
                self.print(format!("\r\n+QFDWL: {},{sum:x}\r\n\r\nOK\r\n", payload.len()).as_bytes());
            }
            Xfer::Read { handle, .. } if !self.handles.contains_key(&handle) => {
                self.print(b"\r\n+CME ERROR: 416\r\n");
            }
            Xfer::Read { handle, len } => {
                let piece = self.piece(handle, len);
                let connect = format!("CONNECT {}", piece.len());
                self.print(format!("\r\n{connect}\r\n").as_bytes());
                if ours {
                    self.print(&piece);
                    self.print(b"\r\nOK\r\n");
                } else {
                    // The position moved already: the piece as it is.
                    let limit = Some(piece.len());
                    self.mode =
                        Mode::Download(Download { result: "QFREAD", payload: piece, limit, sent: 0, tail: Vec::new() });
                    if limit == Some(0) {
                        self.leave(Leave::Done, now);
                    }
                    self.download_left_running(now);
                }
            }
            xfer => {
                self.print(b"\r\nCONNECT\r\n");
                self.connect(xfer, ours, b"CONNECT", now);
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
        self.printed_total += bytes.len();
    }
}

impl Module {
    /// The reference's answer to a command line; `None` for a line that is
    /// no command. The command starts at its `AT` (what comes before is
    /// ignored); a malformed one gets `ERROR`. The file store answers as
    /// it stands; the command changes it only if it is the well-behaved
    /// part's own (`ours`). An `AT+QFCLOSE` closes its file at once.
    fn reply(&mut self, line: &[u8], ours: bool) -> Option<Reply> {
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
        let quoted =
            |a: &str| a.len() >= 2 && a.starts_with('"') && a.ends_with('"') && !a[1..a.len() - 1].contains('"');
        let bare = |a: &str| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric());
        let error = || Some(Reply::now(b"\r\nERROR\r\n"));
        if !well_formed_head || !args.iter().all(|a| quoted(a) || bare(a)) {
            return error();
        }
        let str_arg = |i: usize| args.get(i).map(|a| a.trim_matches('"').to_string());
        let num_arg = |i: usize| args.get(i).map(|a| a.parse::<usize>().ok());
        let file = |name: &str| match name {
            "f" => Some(FILE),
            "dir/x.bin" => Some(OTHER),
            _ => None,
        };
        let cme = |code: u16| Reply::now(format!("\r\n+CME ERROR: {code}\r\n").as_bytes());
        let to_com = str_arg(1).is_none_or(|local| local == "COM:");
        let apply = self.well_behaved && ours;
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
                    return error();
                };
                let len = match num_arg(3) {
                    None => None,
                    Some(Some(len)) => Some(len),
                    Some(None) => return error(),
                };
                Reply { now: Vec::new(), later: None, xfer: Some(Xfer::Put { name, start, len }) }
            }
            "+QFTPGET" if to_com => {
                let (Some(name), Some(Some(start))) = (str_arg(0), num_arg(2).or(Some(Some(0)))) else {
                    return error();
                };
                let limit = match num_arg(3) {
                    None => None,
                    Some(Some(len)) => Some(len),
                    Some(None) => return error(),
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
            // FTP with a local file: the module moves it by itself, `OK`,
            // then the result.
            "+QFTPPUT" => {
                let (Some(remote), Some(local), Some(Some(start))) =
                    (str_arg(0), str_arg(1), num_arg(2).or(Some(Some(0))))
                else {
                    return error();
                };
                match self.ufs.get(&ufs_key(&local)).cloned() {
                    Some(f) => {
                        if apply {
                            let file = self.files.entry(remote).or_default();
                            file.resize(start, 0);
                            file.extend_from_slice(&f);
                        }
                        Reply::deferred("QFTPPUT", &format!("0,{}", f.len()))
                    }
                    // No such local file.
                    None => Reply::deferred("QFTPPUT", "611,0"),
                }
            }
            "+QFTPGET" => {
                let (Some(remote), Some(local), Some(Some(start))) =
                    (str_arg(0), str_arg(1), num_arg(2).or(Some(Some(0))))
                else {
                    return error();
                };
                match file(&remote) {
                    Some(f) => {
                        let part = &f[start.min(f.len())..];
                        if apply {
                            self.ufs.insert(ufs_key(&local), part.to_vec());
                        }
                        Reply::deferred("QFTPGET", &format!("0,{}", part.len()))
                    }
                    None => Reply::deferred("QFTPGET", "627,550"),
                }
            }
            "+QFTPLIST" | "+QFTPNLST" | "+QFTPMLSD" => {
                let Some(local) = str_arg(1) else { return error() };
                if apply {
                    self.ufs.insert(ufs_key(&local), LISTING.to_vec());
                }
                Reply::deferred(&head[1..], &format!("0,{}", LISTING.len()))
            }
            // The file store (reference section 8).
            "+QFLDS" => {
                let used: usize = self.ufs.iter().filter(|(k, _)| !in_ram(k)).map(|(_, f)| f.len()).sum();
                Reply::now(format!("\r\n+QFLDS: {},{UFS_TOTAL}\r\n\r\nOK\r\n", UFS_TOTAL - used).as_bytes())
            }
            "+QFLST" => {
                let pattern = ufs_key(&str_arg(0).unwrap_or_else(|| "*".to_string()));
                if !self.well_behaved {
                    self.listed.clear();
                }
                let mut out = Vec::new();
                for (key, f) in &self.ufs {
                    if in_ram(&pattern) == in_ram(key) && matches_pattern(pattern.as_bytes(), key.as_bytes()) {
                        out.extend_from_slice(format!("\r\n+QFLST: \"{key}\",{}\r\n", f.len()).as_bytes());
                    }
                }
                if out.is_empty() && self.manners.missing_405 {
                    cme(405)
                } else {
                    out.extend_from_slice(b"\r\nOK\r\n");
                    Reply::now(&out)
                }
            }
            "+QFDEL" => {
                let Some(name) = str_arg(0) else { return error() };
                let key = ufs_key(&name);
                let open: Vec<String> = self.handles.values().map(|(n, _)| ufs_key(n)).collect();
                if name == "*" {
                    if apply {
                        self.ufs.retain(|k, _| in_ram(k) || open.contains(k));
                    }
                    Reply::now(b"\r\nOK\r\n")
                } else if !self.ufs.contains_key(&key) {
                    cme(405)
                } else if open.contains(&key) {
                    cme(418)
                } else {
                    if apply {
                        self.ufs.remove(&key);
                    }
                    Reply::now(b"\r\nOK\r\n")
                }
            }
            "+QFUPL" => {
                let Some(name) = str_arg(0) else { return error() };
                let (Some(len), Some(timeout), Some(ack @ 0..=1)) =
                    (num_arg(1).unwrap_or(Some(10240)), num_arg(2).unwrap_or(Some(5)), num_arg(3).unwrap_or(Some(0)))
                else {
                    return error();
                };
                let timeout = Duration::from_secs(timeout.max(1) as u64);
                Reply { now: Vec::new(), later: None, xfer: Some(Xfer::Upl { name, len, timeout, ack: ack == 1 }) }
            }
            "+QFDWL" => {
                let Some(name) = str_arg(0) else { return error() };
                let key = ufs_key(&name);
                let listed = self.listed.get(&key).copied().filter(|_| !self.well_behaved);
                let xfer = Xfer::Dwl { payload: self.ufs.get(&key).cloned(), listed };
                Reply { now: Vec::new(), later: None, xfer: Some(xfer) }
            }
            "+QFOPEN" => {
                let Some(name) = str_arg(0) else { return error() };
                let key = ufs_key(&name);
                if !self.well_behaved {
                    self.opening = Some(Opening { name: name.clone(), handle: None, lines: 0, ok: false });
                }
                if !self.ufs.contains_key(&key) {
                    // Read only (the client's mode 2): the file must exist.
                    cme(405)
                } else if self.handles.values().any(|(n, _)| ufs_key(n) == key) {
                    cme(426)
                } else {
                    let handle = (self.last_handle + 1..).find(|h| !self.handles.contains_key(h)).unwrap_or(0);
                    if apply {
                        self.last_handle = handle;
                        self.handles.insert(handle, (name, 0));
                    }
                    Reply::now(format!("\r\n+QFOPEN: {handle}\r\n\r\nOK\r\n").as_bytes())
                }
            }
            "+QFREAD" => {
                let (Some(Some(handle)), Some(Some(len))) = (num_arg(0), num_arg(1)) else { return error() };
                let Ok(handle) = u32::try_from(handle) else { return Some(cme(416)) };
                Reply { now: Vec::new(), later: None, xfer: Some(Xfer::Read { handle, len }) }
            }
            "+QFCLOSE" => {
                let Some(Some(handle)) = num_arg(0) else { return error() };
                let open = u32::try_from(handle).ok().and_then(|h| self.handles.remove(&h)).is_some();
                if open {
                    Reply::now(b"\r\nOK\r\n")
                } else {
                    cme(416)
                }
            }
            // Every other command the client sends is one a module knows.
            _ => Reply::now(b"\r\nOK\r\n"),
        })
    }
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
            line.module.read_total += n;
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
    let names = input.byte();
    let name = ["f", "a\"b", "", "dir/x.bin"][usize::from(names % 4)];
    // The file operations' local name; FTP through the store takes the
    // remote name from the same byte.
    let local = UFS_NAMES[usize::from(names) % UFS_NAMES.len()];
    let remote = ["f", "a\"b", "", "dir/x.bin"][usize::from(names / 10 % 4)];
    // The chunk; for store and forward also whether the staging file is
    // kept (bit 2), for a listing to the store its kind (bits 3-4).
    let how = input.byte();
    let chunk = [1u32, 7, 64, 1000][usize::from(how % 4)];
    let mut sink = Vec::new();
    let len = usize::from(input.byte());
    let data = harmless(input.bytes(len));
    let mut src = data;
    let start = input.byte();
    let opts = Transfer { start: u64::from(start), chunk, ..Transfer::default() };
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
    // The file store's: `<timeout>` (0 is refused), whether `src` ends a
    // byte short of the size given, the module's own transfer's time.
    let timeout_s = [5u8, 1, 20, 0][usize::from(start % 4)];
    let short = u64::from(start >> 2 & 1);
    let within_s = [2u32, 30, 0, 120][usize::from(start >> 3 & 3)];
    // ACK mode: the data again and again, past a KiB.
    let long: Vec<u8> = data.iter().copied().cycle().take(1024 + usize::from(start) * 8).collect();
    let long = harmless(&long);
    match op % 29 {
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
        13 => go!(ftp.recover(None)),
        14 => go!(ftp.ufs_space()),
        15 => go!(ftp.ufs_list(local, |_, _| {})),
        16 => go!(ftp.ufs_size(local)),
        17 => go!(ftp.ufs_delete(local)),
        18 => {
            let how = UfsUpload { timeout_s, ack: false };
            go!(ftp.ufs_upload(local, &mut src, data.len() as u64 + short, how, Transfer::default()))
        }
        19 => {
            let how = UfsUpload { timeout_s, ack: true };
            let mut src = long;
            go!(ftp.ufs_upload(local, &mut src, long.len() as u64 + short, how, Transfer::default()))
        }
        20 => go!(ftp.ufs_download(local, &mut sink, Transfer::default())),
        21 => {
            line.borrow_mut().module.read_untrailed = false;
            let r = drive(ftp.ufs_read(local, &mut sink, Transfer { chunk, ..Transfer::default() }), drop_after);
            if let Some((Ok(n), _)) = r {
                assert!(
                    !line.borrow().module.read_untrailed,
                    "ufs_read gave Ok({n}) though a piece was not followed by \\r\\nOK\\r\\n at once"
                );
            }
        }
        22 => go!(ftp.put_from_ufs(remote, local, u64::from(start >> 5), within_s)),
        23 => go!(ftp.get_to_ufs(remote, local, u64::from(start >> 5), within_s)),
        24 => {
            let kind = [Listing::List, Listing::Nlst, Listing::Mlsd][usize::from(how >> 3 & 3) % 3];
            go!(ftp.list_to_ufs(kind, name, local, within_s))
        }
        // Store and forward: the staging file is `local`.
        25 | 26 => {
            let keep = how & 4 != 0;
            let staging = Staging { name: local, keep, upload: UfsUpload { timeout_s, ack: false }, within_s };
            let opts = Transfer { start: u64::from(start >> 5), chunk, ..Transfer::default() };
            let before = line.borrow().written.len();
            let size = data.len() as u64 + short;
            let r = match op % 29 {
                25 => drive(ftp.put_via_ufs(remote, &mut src, size, &staging, opts), drop_after),
                _ => drive(ftp.get_via_ufs(remote, &mut sink, &staging, opts), drop_after),
            };
            // A success moved the size given (up) or what the sink got
            // (down), and deleted the staging file unless it was kept.
            if let Some((Ok(n), _)) = r {
                let expected = if op % 29 == 25 { size } else { sink.len() as u64 };
                assert_eq!(n, expected, "store and forward ({op}): the count");
                let delete = format!("AT+QFDEL=\"{local}\"\r");
                let deleted = line.borrow().written[before..].windows(delete.len()).any(|w| w == delete.as_bytes());
                assert!(keep || deleted, "store and forward ({op}) succeeded without deleting its staging file");
            }
        }
        27 => go!(ftp.install_ca(local, &mut src, data.len() as u64 + short, start >> 5)),
        _ => {
            let second = UFS_NAMES[usize::from(names / 10) % UFS_NAMES.len()];
            let files = SslFiles {
                cacert: Some(local).filter(|_| how & 4 != 0),
                clientcert: Some(second).filter(|_| how & 8 != 0),
                clientkey: Some(local).filter(|_| how & 16 != 0),
            };
            go!(ftp.ssl_files(start >> 5, &files))
        }
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

/// The well-behaved part's listing to the store and store and forward, in
/// the session: exact commands on the wire, exact bytes moved, and nothing
/// the client staged left on the store, after an error too (the crate's
/// promise: "stage, transfer, delete; nothing left behind after an
/// error"); a staging file kept when asked, and one that existed already
/// left alone.
fn well_behaved_forward(ftp: &mut Ftp<'_, Modem>, line: &RefCell<Line>) {
    let wire_since = |before: usize| String::from_utf8_lossy(&line.borrow().written[before..]).into_owned();
    let stored = |name: &str| line.borrow().module.ufs.get(name).cloned();
    let staging = Staging { within_s: 60, ..Staging::new(STAGED) };

    // A listing into a local file.
    let before = line.borrow().written.len();
    let (r, _) = drive(ftp.list_to_ufs(Listing::Mlsd, "dir", "l.bin", 60), None).expect("not dropped");
    assert_eq!(r, Ok(LISTING.len() as u64), "list_to_ufs");
    assert_eq!(wire_since(before), "AT+QFTPMLSD=\"dir\",\"l.bin\"\r", "list_to_ufs: the wire");
    assert_eq!(stored("l.bin").as_deref(), Some(LISTING), "the listing stored");
    let (r, _) = drive(ftp.ufs_delete("l.bin"), None).expect("not dropped");
    assert_eq!(r, Ok(()), "ufs_delete of the listing");

    // Up: staged, sent by the module, deleted.
    let len = STORE.len();
    let before = line.borrow().written.len();
    let r = drive(ftp.put_via_ufs("f4", &mut &STORE[..], len as u64, &staging, Transfer::default()), None);
    assert_eq!(r.expect("not dropped").0, Ok(len as u64), "put_via_ufs");
    let expected = [
        format!("AT+QFUPL=\"{STAGED}\",{len},5,0\r").as_bytes(),
        STORE,
        format!("AT+QFTPPUT=\"f4\",\"{STAGED}\",0\rAT+QFDEL=\"{STAGED}\"\r").as_bytes(),
    ]
    .concat();
    assert_eq!(wire_since(before), String::from_utf8_lossy(&expected), "put_via_ufs: the wire");
    assert_eq!(line.borrow().module.files.get("f4").map(Vec::as_slice), Some(STORE), "the file put via the store");
    assert_eq!(stored(STAGED), None, "put_via_ufs left its staging file");

    // Down: fetched by the module, read back, deleted.
    let before = line.borrow().written.len();
    let mut sink = Vec::new();
    let (r, _) = drive(ftp.get_via_ufs("f", &mut sink, &staging, Transfer::default()), None).expect("not dropped");
    assert_eq!(r, Ok(FILE.len() as u64), "get_via_ufs");
    assert_eq!(sink, FILE, "the file got via the store");
    let expected =
        format!("AT+QFTPGET=\"f\",\"{STAGED}\"\rAT+QFLST=\"{STAGED}\"\rAT+QFDWL=\"{STAGED}\"\rAT+QFDEL=\"{STAGED}\"\r");
    assert_eq!(wire_since(before), expected, "get_via_ufs: the wire");
    assert_eq!(stored(STAGED), None, "get_via_ufs left its staging file");

    // An error: a missing remote file. Nothing stays staged.
    let mut sink = Vec::new();
    let (r, _) = drive(ftp.get_via_ufs("nope", &mut sink, &staging, Transfer::default()), None).expect("not dropped");
    assert!(matches!(r, Err(Error::Ftp { .. })), "get_via_ufs of a missing file: {r:?}");
    assert_eq!(stored(STAGED), None, "a failed get_via_ufs left its staging file");

    // Kept when asked; then a staging file that exists already is left
    // alone (`+CME ERROR: 407`).
    let keep = Staging { keep: true, ..staging };
    let (r, _) = drive(ftp.get_via_ufs("f", &mut Vec::new(), &keep, Transfer::default()), None).expect("not dropped");
    assert_eq!(r, Ok(FILE.len() as u64), "get_via_ufs, kept");
    assert_eq!(stored(STAGED).as_deref(), Some(FILE), "the staging file kept");
    let r = drive(ftp.put_via_ufs("f6", &mut &STORE[..], len as u64, &staging, Transfer::default()), None);
    assert_eq!(r.expect("not dropped").0, Err(Error::Cme(CmeError::Code(407))), "put_via_ufs onto a staged file");
    assert_eq!(stored(STAGED).as_deref(), Some(FILE), "a staging file that existed already was touched");
    assert_eq!(line.borrow().module.files.get("f6"), None, "put_via_ufs onto a staged file sent one");
    let (r, _) = drive(ftp.ufs_delete(STAGED), None).expect("not dropped");
    assert_eq!(r, Ok(()), "ufs_delete of the kept staging file");

    // An error midway: a source a byte short (the module's `<timeout>`
    // ends the upload with what came). Nothing stays staged; a failed
    // source leaves the session in doubt, closed by the next call, so the
    // session is opened again.
    let before = line.borrow().written.len();
    let r = drive(ftp.put_via_ufs("f5", &mut &STORE[..], len as u64 + 1, &staging, Transfer::default()), None);
    let r = r.expect("not dropped").0;
    assert!(matches!(r, Err(Error::Source(_))), "put_via_ufs of a source a byte short: {r:?}");
    // The client escapes the upload its source left (the module may still
    // wait for the byte), resynchronises, closes the session in doubt,
    // then deletes the staging file.
    let wire = line.borrow().written[before..].to_vec();
    let upload = [format!("AT+QFUPL=\"{STAGED}\",{},5,0\r", len + 1).as_bytes(), STORE].concat();
    let shown = String::from_utf8_lossy(&wire);
    assert!(wire.starts_with(&upload), "put_via_ufs of a source a byte short: the wire {shown:?}");
    assert!(wire.ends_with(format!("AT+QFDEL=\"{STAGED}\"\r").as_bytes()), "no deletion last: {shown:?}");
    assert_eq!(stored(STAGED), None, "a failed put_via_ufs left its staging file");
    assert_eq!(line.borrow().module.files.get("f5"), None, "a failed put_via_ufs sent the file");

    let (r, _) = drive(ftp.open("h", 21), None).expect("not dropped");
    assert!(r.is_ok(), "open after put_via_ufs of a source a byte short: {r:?}");

    // A CA certificate installed, then replaced; the certificate files of
    // another context named.
    for pem in [&b"-----BEGIN CERTIFICATE-----\nMIIB\n"[..], STORE] {
        let before = line.borrow().written.len();
        let (r, _) = drive(ftp.install_ca("ca.pem", &mut &pem[..], pem.len() as u64, 1), None).expect("not dropped");
        assert_eq!(r, Ok(()), "install_ca");
        let expected = [
            format!("AT+QFDEL=\"ca.pem\"\rAT+QFUPL=\"ca.pem\",{},5,0\r", pem.len()).as_bytes(),
            pem,
            b"AT+QSSLCFG=\"seclevel\",1,1\rAT+QSSLCFG=\"cacert\",1,\"ca.pem\"\r",
        ]
        .concat();
        assert_eq!(wire_since(before), String::from_utf8_lossy(&expected), "install_ca: the wire");
        assert_eq!(stored("ca.pem").as_deref(), Some(pem), "the CA certificate stored");
    }
    let before = line.borrow().written.len();
    let files = SslFiles { cacert: Some("ca.pem"), clientcert: None, clientkey: Some("RAM:k.pem") };
    let (r, _) = drive(ftp.ssl_files(5, &files), None).expect("not dropped");
    assert_eq!(r, Ok(()), "ssl_files");
    let expected = "AT+QSSLCFG=\"cacert\",5,\"ca.pem\"\rAT+QSSLCFG=\"clientkey\",5,\"RAM:k.pem\"\r";
    assert_eq!(wire_since(before), expected, "ssl_files: the wire");
    assert!(matches!(line.borrow().module.mode, Mode::Command), "the module is left in command mode");
}

/// The well-behaved part's file store checks: an upload whose data looks
/// like commands, results, `+++` and an ACK, read back by `AT+QFDWL` and
/// by `AT+QFREAD` in pieces, byte for byte and with the exact commands on
/// the wire; an upload in ACK mode; the files the hostile part left open
/// read again; space, list, delete.
fn well_behaved_store(ftp: &mut Ftp<'_, Modem>, line: &RefCell<Line>, left_open: &[String]) {
    let wire_since = |before: usize| String::from_utf8_lossy(&line.borrow().written[before..]).into_owned();
    let stored = |name: &str| line.borrow().module.ufs.get(name).cloned();
    let len = STORE.len();

    let before = line.borrow().written.len();
    let mut src = STORE;
    let (r, _) = drive(ftp.ufs_upload("w.bin", &mut src, len as u64, UfsUpload::default(), Transfer::default()), None)
        .expect("not dropped");
    assert_eq!(r, Ok(len as u64), "ufs_upload");
    let expected = [format!("AT+QFUPL=\"w.bin\",{len},5,0\r").as_bytes(), STORE].concat();
    assert_eq!(wire_since(before), String::from_utf8_lossy(&expected), "the upload's wire");
    assert_eq!(stored("w.bin").as_deref(), Some(STORE), "the uploaded file");

    let before = line.borrow().written.len();
    let mut sink = Vec::new();
    let (r, _) = drive(ftp.ufs_download("w.bin", &mut sink, Transfer::default()), None).expect("not dropped");
    assert_eq!(r, Ok(len as u64), "ufs_download");
    assert_eq!(sink, STORE, "the file downloaded");
    assert_eq!(wire_since(before), "AT+QFLST=\"w.bin\"\rAT+QFDWL=\"w.bin\"\r", "the download's wire");

    let before = line.borrow().written.len();
    let mut sink = Vec::new();
    let (r, _) = drive(ftp.ufs_read("w.bin", &mut sink, Transfer { chunk: 7, ..Transfer::default() }), None)
        .expect("not dropped");
    assert_eq!(r, Ok(len as u64), "ufs_read");
    assert_eq!(sink, STORE, "the file read");
    let handle = line.borrow().module.last_handle;
    let expected = format!(
        "AT+QFOPEN=\"w.bin\",2\r{}AT+QFCLOSE={handle}\r",
        format!("AT+QFREAD={handle},7\r").repeat(len.div_ceil(7) + 1)
    );
    assert_eq!(wire_since(before), expected, "the read's wire");

    // ACK mode: two KiB, each acknowledged before the next.
    let acked: Vec<u8> = STORE.iter().copied().cycle().take(ACKED).collect();
    let before = line.borrow().written.len();
    let how = UfsUpload { timeout_s: 5, ack: true };
    let (r, _) = drive(ftp.ufs_upload("w2.bin", &mut &acked[..], ACKED as u64, how, Transfer::default()), None)
        .expect("not dropped");
    assert_eq!(r, Ok(ACKED as u64), "ufs_upload in ACK mode");
    let expected = [format!("AT+QFUPL=\"w2.bin\",{ACKED},5,1\r").as_bytes(), &acked].concat();
    assert!(line.borrow().written[before..] == expected, "the ACK mode upload's wire");
    let mut sink = Vec::new();
    let (r, _) = drive(ftp.ufs_download("w2.bin", &mut sink, Transfer::default()), None).expect("not dropped");
    assert_eq!(r, Ok(ACKED as u64), "ufs_download of the ACK mode upload");
    assert!(sink == acked, "the ACK mode upload read back");

    // A file the hostile part left open (a read dropped or timed out) was
    // closed: it reads again.
    for name in left_open {
        let Some(content) = stored(&ufs_key(name)) else { continue };
        let mut sink = Vec::new();
        let opts = Transfer { chunk: 64, ..Transfer::default() };
        let (r, _) = drive(ftp.ufs_read(name, &mut sink, opts), None).expect("not dropped");
        assert_eq!(r, Ok(content.len() as u64), "ufs_read of {name:?}, left open by the hostile part");
        assert_eq!(sink, content, "{name:?} read again");
    }

    let (used, names) = {
        let l = line.borrow();
        let flash = l.module.ufs.iter().filter(|(k, _)| !in_ram(k));
        (flash.clone().map(|(_, f)| f.len()).sum::<usize>(), flash.map(|(k, _)| k.clone()).collect::<Vec<_>>())
    };
    let (r, _) = drive(ftp.ufs_space(), None).expect("not dropped");
    assert_eq!(r, Ok(UfsSpace { free: (UFS_TOTAL - used) as u64, total: UFS_TOTAL as u64 }), "ufs_space");
    let mut listed = Vec::new();
    let (r, _) = drive(ftp.ufs_list("*", |name, _| listed.push(String::from_utf8_lossy(name).into_owned())), None)
        .expect("not dropped");
    assert_eq!(r, Ok(names.len() as u32), "ufs_list");
    assert_eq!(listed, names, "the files listed");
    let (r, _) = drive(ftp.ufs_delete("w.bin"), None).expect("not dropped");
    assert_eq!(r, Ok(()), "ufs_delete");
    let (r, _) = drive(ftp.ufs_size("w.bin"), None).expect("not dropped");
    assert_eq!(r, Ok(None), "ufs_size of a deleted file");
    let (r, _) = drive(ftp.ufs_delete("w.bin"), None).expect("not dropped");
    assert_eq!(r, Err(Error::Cme(CmeError::Code(405))), "ufs_delete of a deleted file");

    let l = line.borrow();
    assert!(matches!(l.module.mode, Mode::Command), "the module is left in command mode");
    assert!(l.module.handles.is_empty(), "files left open: {:?}", l.module.handles);
}

fuzz_target!(|data: &[u8]| {
    MockDriver::get().reset();
    let mut input = Input(data);
    let line = Rc::new(RefCell::new(Line {
        script: script(&mut input),
        quiet_until: None,
        written: Vec::new(),
        module: Module::new(),
    }));
    let modem = Modem(line.clone());
    let mut buf = [0u8; 256];
    let Ok(mut ftp) = Ftp::new(modem, &mut buf) else { return };

    // The hostile part: up to eight operations.
    for _ in 0..(input.byte() % 8) {
        operation(&mut ftp, &line, &mut input);
        line.borrow_mut().module.op_ended();
        // A simulated MCU reset: a fresh client on the same line, which
        // starts with `init` (the module may be in data mode). What the
        // module printed meanwhile went to the MCU that was down.
        if input.byte() == 0xA5 {
            drop(ftp);
            line.borrow_mut().module.mcu_reset();
            ftp = Ftp::new(Modem(line.clone()), &mut buf).unwrap_or_else(|_| unreachable!());
            let (_, took) = drive(ftp.init(), None).expect("not dropped");
            assert!(took <= INIT, "init after a reset took {took:?}");
        }
    }

    // The well-behaved part: whatever the hostile part left, the next calls
    // succeed, with the reference's bytes.
    let left_open: Vec<String> = {
        let manners = Manners::read(&mut input);
        let mut l = line.borrow_mut();
        l.script.clear();
        l.quiet_until = None;
        l.module.handover(manners, Instant::now());
        // The files a dropped or timed-out read left open: reading them
        // again must work.
        l.module.handles.values().map(|(name, _)| name.clone()).collect()
    };
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
    // FTP through the file store: the module fetches `f` into a local
    // file and sends that on, by itself.
    let before = line.borrow().written.len();
    let (r, _) = drive(ftp.get_to_ufs("f", "g.bin", 0, 60), None).expect("not dropped");
    assert_eq!(r, Ok(FILE.len() as u64), "get_to_ufs");
    let (r, _) = drive(ftp.put_from_ufs("f3", "g.bin", 0, 60), None).expect("not dropped");
    assert_eq!(r, Ok(FILE.len() as u64), "put_from_ufs");
    assert_eq!(
        String::from_utf8_lossy(&line.borrow().written[before..]),
        "AT+QFTPGET=\"f\",\"g.bin\"\rAT+QFTPPUT=\"f3\",\"g.bin\",0\r",
        "FTP through the store: the wire"
    );
    assert_eq!(line.borrow().module.files.get("f3").map(Vec::as_slice), Some(FILE), "the file sent on");
    well_behaved_forward(&mut ftp, &line);
    let r: Result<(), Error> = drive(ftp.close(), None).expect("not dropped").0;
    assert!(r.is_ok(), "close: {r:?}");
    assert!(matches!(line.borrow().module.mode, Mode::Command), "the module is left in command mode");

    well_behaved_store(&mut ftp, &line, &left_open);

    // The password and the PIN only ever inside their own commands.
    let written = &line.borrow().written;
    let count = |s: &[u8]| written.windows(s.len()).filter(|w| *w == s).count();
    let shown = String::from_utf8_lossy(written);
    assert_eq!(count(SECRET.as_bytes()), count(ACCOUNT), "the password went out outside its command: {shown:?}");
    assert_eq!(count(PIN.as_bytes()), count(PIN_COMMAND), "the PIN went out outside its command: {shown:?}");
});
