//! The client's protocol logic, written once and free of I/O.
//!
//! [`Core`] is the state that outlives an operation: the tokenizer, the
//! receive buffer, what the session is and what the next call must clean
//! up. A [`Machine`] is one operation in progress. The async edge in
//! `super` calls [`Core::step`], performs the [`Act`] it gets (write a
//! command, read with a deadline, sleep, hand payload to the caller's sink,
//! ...), hands the outcome to [`Machine::done`] and steps again, until
//! [`Act::Done`].
//!
//! Each routine here is a hand-written coroutine: it keeps its position in
//! a small state field of the machine, returns [`Poll::Pending`] after
//! storing the act it waits for, and is called again, from the top, when
//! that act has been performed. A routine resets its state field when it
//! finishes, so it can be entered again. Written this way, no await point
//! of any operation is compiled into the firmware's task: the whole
//! protocol is one copy of plain code, and the async part is three awaits
//! (write, read with a deadline, sleep) plus the caller's sink or source.
//!
//! A routine that fails stores its error in the machine ([`Machine::fail`])
//! and returns the zero-sized [`Failed`]; the edge reads the error once the
//! operation is over. Where a routine decides by the kind of error (a
//! timeout retried, `603` ridden out) it matches on [`Machine::explain`].

use core::task::{ready, Poll};

use embassy_time::{Duration, Instant};

use super::{GUARD, MARGIN_S, PDP_ACT, PDP_DEACT, QUICK, RX_LEN};
use crate::at::cmd::{self, Command, FileOp, Listing, Names, COM, WRITE_CHUNK};
use crate::at::parse::{self, Field, ModifyTime};
use crate::at::tokenizer::{Frame, Payload, Tokenizer};
use crate::at::urc::{Urc, UrcSink};
use crate::error::{ArgError, CmeError, Error, FtpReply};
use crate::ftp::config::{FtpConfig, PdpConfig, Setting, SslConfig};

use Poll::{Pending, Ready};

/// A routine stopped on an error, which it stored in [`Machine::error`].
/// Zero-sized, so that a routine's result is its value and a byte: the
/// `?` and `ready!` that carry a failure out through the routines are a
/// compare and a branch, not a copy of a 12-byte error at every level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failed;

/// What a routine gives: `Pending` (it asked for an act), its value, or
/// [`Failed`].
pub(crate) type Step<T = ()> = Poll<Result<T, Failed>>;

/// Longest line the client's tokenizer keeps: the longest answer,
/// `+QFTPPWD: 0,"<255-byte path>"` (269 bytes), rounded up to a word.
/// Longer lines can only be URCs; they are counted and skipped.
pub const LINE_LEN: usize = 272;

/// What an operation asks of the async edge next.
pub(crate) enum Act {
    /// Write these bytes by [`Machine::deadline`].
    Write(Out),
    /// Read into the (empty) receive buffer, waiting until
    /// [`Machine::deadline`] for at least one byte.
    Read,
    /// Wait until [`Machine::deadline`].
    Sleep,
    /// Write this download payload to the caller's sink; the input is the
    /// number of bytes written.
    Sink(Piece),
    /// Read from the caller's source into `buf[a..b]`; the input is the
    /// number of bytes read (0 at the end).
    Source(usize, usize),
    /// The operation is over.
    Done(Result<Got, Error>),
}

/// Bytes to write.
#[derive(Clone, Copy)]
pub(crate) enum Out {
    /// `tx[..n]`: a window of a command line, or `+++`.
    Tx(usize),
    /// `buf[a..b]`: upload data.
    Buf(usize, usize),
}

/// An act and its outcome: never both at once.
enum Io {
    Idle,
    /// Asked for, not yet performed.
    Ask(Act),
    /// Performed: an error, or the bytes it moved.
    Done(Result<usize, Error>),
}

/// Where a piece of download payload is.
#[derive(Clone, Copy)]
pub(crate) enum Piece {
    /// `buf[a..b]`.
    Buf(usize, usize),
    /// [`Tokenizer::held_payload`].
    Held,
}

/// An operation and its arguments.
pub(crate) enum Op<'a> {
    Init,
    Activate(&'a PdpConfig<'a>),
    Deactivate(u8),
    Configure(&'a FtpConfig<'a>, Option<&'a SslConfig<'a>>),
    Setting(Setting),
    Open(&'a str, u16),
    Close,
    File(FileOp, Names<'a>),
    Stat,
    // The transfers' `Transfer` options are flattened: a smaller `Op`.
    Get {
        remote: &'a str,
        start: u64,
        chunk: u32,
    },
    List(Listing, &'a str),
    /// Reads the source to its end, chunk by chunk.
    Put {
        remote: &'a str,
        start: u64,
        chunk: u32,
    },
    /// Streams exactly `len` bytes.
    PutSized {
        remote: &'a str,
        start: u64,
        chunk: u32,
        len: u64,
    },
    PutEscaped {
        remote: &'a str,
        start: u64,
    },
    Recover,
}

/// The value an operation produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Got {
    Num(u64),
    Text(usize),
    Time(ModifyTime),
    Ready(bool),
}

impl Got {
    /// The number, or a protocol error for anything else.
    pub(crate) fn num(self) -> Result<u64, Error> {
        match self {
            Got::Num(n) => Ok(n),
            _ => Err(Error::Protocol),
        }
    }
}

/// The line a pending command waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Nothing,
    /// `+<name>: <err>,<number>`.
    Num(&'static [u8]),
    /// `+<name>: <err>,<number>`, not waited out by a later call if it
    /// never comes (`+QFTPCLOSE:`).
    Unawaited(&'static [u8]),
    /// `+<name>: <err>,"<text>"`, copied into [`Machine::text`].
    Text(&'static [u8]),
    /// `+QFTPMDTM: <err>,"<time>"`.
    Time,
    /// `+CMEE: <n>`.
    Cmee,
    /// `+CPIN: <status>`.
    Cpin,
    /// `+QIACT: <cid>,...` (lines of other contexts are consumed too); the
    /// address text goes to [`Machine::text`] if it fits.
    QiAct(u8),
    /// `+QFTPCFG: "<name>",<value>`.
    Cfg(&'static str),
}

impl Want {
    /// The deferred FTP result this waits for, if any.
    fn result_name(self) -> Option<&'static [u8]> {
        match self {
            Want::Num(name) | Want::Text(name) => Some(name),
            Want::Time => Some(FileOp::Mdtm.result()),
            _ => None,
        }
    }
}

/// What the pending command waits for, and what it got.
struct Catch {
    want: Want,
    got: Option<Result<Got, Error>>,
}

impl Catch {
    fn new(want: Want) -> Self {
        Catch { want, got: None }
    }

    /// Offers a line; true if it answers the pending command.
    fn offer(&mut self, line: &[u8], text: &mut [u8]) -> bool {
        let got = match self.want {
            Want::Nothing => return false,
            Want::Num(name) | Want::Unawaited(name) => {
                parse::ftp_result(line, name).map(|r| ftp_value(r, r.value.num().map(Got::Num)))
            }
            Want::Time => parse::ftp_result(line, FileOp::Mdtm.result())
                .map(|r| ftp_value(r, parse::mdtm_value(r.value).map(Got::Time))),
            Want::Text(name) => parse::ftp_result(line, name).map(|r| match r {
                parse::FtpResult { err: 0, value: Field::Str(s) } => keep(text, s).ok_or(Error::Overflow),
                r => ftp_value(r, None),
            }),
            Want::Cmee => match parse::prefixed(line) {
                Some((b"CMEE", _)) => Some(Ok(Got::Ready(true))),
                _ => None,
            },
            Want::Cpin => parse::cpin(line).map(|s| Ok(Got::Ready(parse::same_text(s, b"READY")))),
            Want::QiAct(cid) => match parse::qiact(line) {
                Some(a) if a.cid == cid && a.state == 1 => Some(Ok(keep(text, a.ip).unwrap_or(Got::Ready(true)))),
                Some(_) => return true,
                None => None,
            },
            Want::Cfg(name) => parse::qftpcfg(line)
                .filter(|c| c.name == name.as_bytes())
                .map(|c| c.first.num().map(Got::Num).ok_or(Error::Protocol)),
        };
        match got {
            Some(got) => {
                self.got = Some(got);
                true
            }
            None => false,
        }
    }
}

/// Copies `s` into the front of `text`, if it fits.
fn keep(text: &mut [u8], s: &[u8]) -> Option<Got> {
    text.get_mut(..s.len())?.copy_from_slice(s);
    Some(Got::Text(s.len()))
}

/// Maps a deferred result: `<err>` 0 gives `value` (the line's value as the
/// command's type, `None` if it is not), anything else the typed error with
/// the server's reply code.
#[inline(never)]
fn ftp_value(r: parse::FtpResult<'_>, value: Option<Got>) -> Result<Got, Error> {
    if r.err == 0 {
        value.ok_or(Error::Protocol)
    } else {
        let reply = r.value.num().and_then(|n| u16::try_from(n).ok()).unwrap_or(0);
        Err(Error::ftp(r.err, reply))
    }
}

/// What the stream produced, owned so that no borrow outlives a read.
enum Ev {
    Ok,
    Error,
    Cme(CmeError),
    Connect,
    /// A line that answered the pending command.
    Answer,
    /// Payload bytes.
    Data(Piece),
    DataEnd,
}

/// What a wait waits for; see [`Core::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// The final result and, if true, the answer line (before or after it).
    Final(bool),
    /// `CONNECT`; an error result or a final error can come instead.
    Connect,
    /// The next payload piece or the payload's end.
    Data,
    /// The answer line, after an `OK` that was taken already.
    AfterOk,
    /// An `OK` after the probe's `+CMEE:`; anything else is ignored.
    Probe,
    /// Any `OK` (after `+++`).
    Escape,
    /// The answer line; anything else is ignored.
    Busy,
    /// Until no deferred result is pending.
    Settle,
}

/// Builds the command an exchange sends, from the machine's operation and
/// step. Each operation's body names its own builders, so a firmware links
/// only the command constructors of the operations it calls.
type Build = for<'m> fn(&Machine<'m>) -> Result<Command<'m>, ArgError>;

/// Checks an operation's arguments before anything is sent.
type Check = for<'m> fn(&Machine<'m>) -> Result<(), Error>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    Closed,
    Open,
    /// The network dropped the context or the module restarted.
    Lost,
}

/// What the next call must do before it sends anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dirty {
    Clean,
    /// A wait was abandoned: buffered bytes and late answers must go.
    Stream,
    /// ... and the module may be in data mode.
    DataMode,
}

/// What URCs change: the session, and whether the module restarted.
pub(crate) struct Watch<'b> {
    pub(crate) urcs: UrcSink<'b>,
    context_id: u8,
    session: Session,
    /// The module restarted: echo is on again.
    need_init: bool,
    /// Lines longer than the tokenizer's buffer, skipped.
    pub(crate) overlong: u32,
}

impl Watch<'_> {
    /// Dispatches a URC; true if it says the module restarted under an
    /// open session (nothing in flight will be answered then).
    fn urc(&mut self, line: &[u8]) -> bool {
        match self.urcs.dispatch(line) {
            Some(Urc::PdpDeactivated { cid }) if cid == self.context_id => self.session = lost(self.session),
            Some(Urc::Ready) => {
                let was_open = self.session == Session::Open;
                self.session = lost(self.session);
                self.need_init = true;
                return was_open;
            }
            _ => {}
        }
        false
    }
}

fn lost(s: Session) -> Session {
    match s {
        Session::Open => Session::Lost,
        other => other,
    }
}

/// An operation's body, chosen by the public method that starts it: a
/// firmware links only the operations it calls.
pub(crate) type Body<'b> = fn(&mut Core<'b>, &mut Machine<'_>) -> Step<Got>;

/// The client's state between operations.
pub(crate) struct Core<'b> {
    tok: Tokenizer<LINE_LEN>,
    pub(crate) buf: &'b mut [u8],
    /// What goes out next: a window of a command line, or `+++`.
    tx: [u8; WRITE_CHUNK],
    /// Unread received bytes are `buf[rx_start..rx_end]`, within `buf[..rx_cap]`.
    rx_start: usize,
    rx_end: usize,
    rx_cap: usize,
    pub(crate) watch: Watch<'b>,
    /// The deadline of deferred results: the module's `rsptimeout` plus a
    /// margin.
    deferred: Duration,
    dirty: Dirty,
    /// An FTP deferred result never came: close before anything else.
    need_close: bool,
    /// The deferred result (`QFTPSIZE`, ...) of the command in flight: if its
    /// operation is dropped, the next call waits for that line (or closes the
    /// session), so that it can never pass for a later command's answer.
    pending: Option<&'static [u8]>,
}

// The routines' positions, each routine's own.

/// [`Core::exchange`]: the line goes out a window at a time, then the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Xch {
    #[default]
    Start,
    Send,
    Wait,
}

/// [`Core::begin`]: past the resynchronisation or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Begin {
    #[default]
    Start,
    Resynced,
}

/// [`Core::resync`]: escape (if needed), probe, wait out what is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Resync {
    #[default]
    Start,
    Escape,
    Probe,
    Settle,
}

/// [`Core::settle`]: waiting for a pending result or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Settle {
    #[default]
    Start,
    Wait,
}

/// [`Core::escape`]: silence, `+++`, silence, then the module's `OK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Escape {
    #[default]
    Start,
    GuardBefore,
    Plus,
    GuardAfter,
    Listen,
    Wait,
}

/// [`Core::close_session`]: the command, or riding out `603`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Close {
    #[default]
    Start,
    Command,
    Busy,
}

/// [`Core::fetch`]: command, payload pieces to the sink, the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Fetch {
    #[default]
    Start,
    Command,
    Piece,
    Sunk,
    Data,
    Trailer,
    AfterOk,
    Final,
}

/// [`Core::upload`]: command and `CONNECT`, data, the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Upload {
    #[default]
    Start,
    Data,
    Read,
    Written,
    Final,
    Escape,
    AfterOk,
}

/// One operation in progress.
pub(crate) struct Machine<'a> {
    op: Op<'a>,
    /// The act the operation waits for, then its outcome.
    io: Io,
    /// Why the operation failed, once a routine returned [`Failed`].
    error: Error,
    /// Where `pwd` copies the directory, and `activate` the address.
    text: &'a mut [u8],
    /// A transfer's progress callback.
    progress: Option<&'a mut dyn FnMut(u64)>,
    catch: Catch,
    /// Bytes of the current command line written so far.
    sent: usize,
    /// The deadline of the current wait or act.
    deadline: Instant,
    /// The current wait has seen `OK`.
    ok: bool,
    /// The payload piece a [`Until::Data`] wait found.
    piece: Option<Piece>,
    // The routines' positions and registers.
    pc: u8,
    step: u8,
    x: Xch,
    begin: Begin,
    resync: Resync,
    attempt: u8,
    was_data_mode: bool,
    escape: Escape,
    tries: u8,
    settle: Settle,
    init_at: u8,
    close: Close,
    fetch: Fetch,
    upload: Upload,
    /// The end of init's wait for the SIM, or of a close's riding out 603.
    until: Instant,
    /// Transfers: remote position, chunk length, bytes moved.
    pos: u64,
    n: u64,
    moved: u64,
    size: Option<u64>,
    carry: Option<u8>,
    last: bool,
    matched: u8,
}

impl<'a> Machine<'a> {
    /// A machine at the start of `op`.
    #[inline(never)]
    pub(crate) fn new(op: Op<'a>, text: &'a mut [u8], progress: Option<&'a mut dyn FnMut(u64)>) -> Self {
        let now = Instant::from_ticks(0);
        Machine {
            op,
            io: Io::Idle,
            error: Error::Protocol,
            sent: 0,
            text,
            progress,
            catch: Catch::new(Want::Nothing),
            deadline: now,
            ok: false,
            piece: None,
            pc: 0,
            step: 0,
            x: Xch::Start,
            begin: Begin::Start,
            resync: Resync::Start,
            attempt: 0,
            was_data_mode: false,
            escape: Escape::Start,
            tries: 0,
            settle: Settle::Start,
            init_at: 0,
            close: Close::Start,
            fetch: Fetch::Start,
            upload: Upload::Start,
            until: now,
            pos: 0,
            n: 0,
            moved: 0,
            size: None,
            carry: None,
            last: false,
            matched: 0,
        }
    }

    /// The outcome of the last act: the count it moved, or [`Failed`].
    #[inline(never)]
    fn io(&mut self) -> Result<usize, Failed> {
        match core::mem::replace(&mut self.io, Io::Idle) {
            Io::Done(r) => self.ok(r),
            _ => Ok(0),
        }
    }

    /// Stores `e` as the operation's error.
    #[inline(never)]
    fn fail(&mut self, e: Error) -> Failed {
        self.error = e;
        Failed
    }

    /// `r`, its error (if any) stored as the operation's.
    fn ok<T, E: Into<Error>>(&mut self, r: Result<T, E>) -> Result<T, Failed> {
        r.map_err(|e| self.fail(e.into()))
    }

    /// The value of the last exchange's answer line, if one came.
    fn answer(&self) -> Option<Got> {
        match self.catch.got {
            Some(Ok(got)) => Some(got),
            _ => None,
        }
    }

    /// `r`, a failure explained by the stored error: to match on.
    fn explain<T>(&self, r: Result<T, Failed>) -> Result<T, Error> {
        r.map_err(|Failed| self.error)
    }

    /// Asks for `act`.
    fn ask<T>(&mut self, act: Act) -> Poll<T> {
        self.io = Io::Ask(act);
        Pending
    }

    /// Asks for `act`, to be done by `deadline`.
    fn ask_by<T>(&mut self, act: Act, deadline: Instant) -> Poll<T> {
        self.deadline = deadline;
        self.ask(act)
    }

    /// The deadline of the act asked for.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The edge performed the act: this is its outcome.
    pub(crate) fn done(&mut self, outcome: Result<usize, Error>) {
        self.io = Io::Done(outcome);
    }

    /// Tells the caller's progress callback.
    fn progress(&mut self, n: u64) {
        if let Some(progress) = &mut self.progress {
            progress(n)
        }
    }
}

/// The deadline `d` from now. One copy of the overflow check (saturating
/// here, where `Instant + Duration` would panic).
#[inline(never)]
fn after(d: Duration) -> Instant {
    now().checked_add(d).unwrap_or(Instant::MAX)
}

/// The clock: one copy of the time driver's read.
#[inline(never)]
fn now() -> Instant {
    Instant::now()
}

/// Resets a routine's stage once it has finished.
fn finished<S: Default, T>(stage: &mut S, r: Poll<T>) -> Poll<T> {
    if r.is_ready() {
        *stage = S::default();
    }
    r
}

impl<'b> Core<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        let rx_cap = buf.len();
        Core {
            tok: Tokenizer::new(),
            buf,
            tx: [0; WRITE_CHUNK],
            rx_start: 0,
            rx_end: 0,
            rx_cap,
            watch: Watch {
                urcs: UrcSink::new(None),
                context_id: 1,
                session: Session::Closed,
                need_init: false,
                overlong: 0,
            },
            deferred: Duration::from_secs(90 + MARGIN_S),
            dirty: Dirty::Clean,
            need_close: false,
            pending: None,
        }
    }

    /// True while an FTP session is open, as far as the client knows.
    pub(crate) fn is_open(&self) -> bool {
        self.watch.session == Session::Open
    }

    /// The next act of `m`'s operation.
    pub(crate) fn step(&mut self, m: &mut Machine<'_>, body: Body<'b>) -> Act {
        match body(self, m) {
            Ready(r) => Act::Done(m.explain(r)),
            Pending => match core::mem::replace(&mut m.io, Io::Idle) {
                Io::Ask(act) => act,
                _ => Act::Done(Err(Error::Protocol)),
            },
        }
    }

    /// The receive buffer's bytes `a..b` (a payload piece or upload data).
    fn bytes(&self, a: usize, b: usize) -> &[u8] {
        self.buf.get(a..b).unwrap_or_default()
    }

    /// The bytes an [`Act::Write`] writes.
    pub(crate) fn out(&self, out: Out) -> &[u8] {
        match out {
            Out::Tx(n) => self.tx.get(..n).unwrap_or_default(),
            Out::Buf(a, b) => self.bytes(a, b),
        }
    }

    /// Room for source data.
    #[inline(never)]
    pub(crate) fn room(&mut self, a: usize, b: usize) -> &mut [u8] {
        self.buf.get_mut(a..b).unwrap_or_default()
    }

    /// The bytes of a payload piece.
    #[inline(never)]
    pub(crate) fn piece(&self, p: Piece) -> &[u8] {
        match p {
            Piece::Buf(a, b) => self.bytes(a, b),
            Piece::Held => self.tok.held_payload(),
        }
    }

    /// Where the edge reads to: the emptied receive buffer.
    pub(crate) fn rx_room(&mut self) -> &mut [u8] {
        self.rx_start = 0;
        self.rx_end = 0;
        self.buf.get_mut(..self.rx_cap).unwrap_or_default()
    }

    /// The edge read `n` bytes into [`Core::rx_room`].
    pub(crate) fn received(&mut self, n: usize) {
        self.rx_end = n.min(self.rx_cap);
    }

    // -----------------------------------------------------------------------
    // The stream.

    /// The next event from the buffered input, `None` once it is used up.
    /// Lines that do not answer the pending command go to the URC
    /// dispatcher.
    fn event(&mut self, m: &mut Machine<'_>) -> Option<Result<Ev, Error>> {
        loop {
            let base = self.buf.as_ptr() as usize;
            let input = self.buf.get(self.rx_start..self.rx_end).unwrap_or_default();
            // The tokenizer may hold bytes (the `\r\nOK\r\n` after a listing)
            // that it replays only when fed, even with nothing new.
            let (used, frame) = self.tok.feed(input);
            if used == 0 && frame.is_none() {
                return None;
            }
            let mut restarted = false;
            let ev = match frame {
                None | Some(Frame::Echo(_)) | Some(Frame::NoCarrier) => None,
                Some(Frame::Overflow) => {
                    warn!("overlong line skipped");
                    self.watch.overlong = self.watch.overlong.wrapping_add(1);
                    None
                }
                Some(Frame::Ok) => Some(Ev::Ok),
                // A command refused outright has no deferred result to come.
                Some(Frame::Error) => {
                    self.pending = None;
                    Some(Ev::Error)
                }
                Some(Frame::Cme(e)) => {
                    self.pending = None;
                    Some(Ev::Cme(e))
                }
                Some(Frame::Connect) => Some(Ev::Connect),
                Some(Frame::DataEnd { .. }) => Some(Ev::DataEnd),
                Some(Frame::Line(line)) => {
                    // The deferred result of the command in flight (or of an
                    // abandoned one) has come: nothing is pending any more.
                    let pending =
                        self.pending.is_some_and(|name| parse::prefixed(line).is_some_and(|(n, _)| n == name));
                    if pending {
                        self.pending = None;
                    }
                    if m.catch.offer(line, m.text) || pending {
                        Some(Ev::Answer)
                    } else {
                        restarted = self.watch.urc(line);
                        None
                    }
                }
                Some(Frame::Data(d)) => {
                    let start = (d.as_ptr() as usize).wrapping_sub(base);
                    if start < self.rx_end && start + d.len() <= self.rx_end {
                        Some(Ev::Data(Piece::Buf(start, start + d.len())))
                    } else {
                        Some(Ev::Data(Piece::Held))
                    }
                }
            };
            self.rx_start += used;
            if restarted {
                // `RDY`: the module restarted, no answer will come.
                self.pending = None;
                return Some(Err(Error::SessionClosed));
            }
            if let Some(ev) = ev {
                return Some(Ok(ev));
            }
        }
    }

    /// Reads events (until `m.deadline`) until `until` is met.
    fn wait(&mut self, m: &mut Machine<'_>, until: Until) -> Step {
        m.io()?;
        // Waits for a command's own answers stop at a failed result.
        let answers = matches!(until, Until::Final(_) | Until::Connect | Until::Data);
        // Waits that are not the resynchronisation's stop at error results.
        let strict = answers || until == Until::AfterOk;
        loop {
            let done = match until {
                Until::Final(need) => m.ok && (!need || m.catch.got.is_some()),
                Until::AfterOk => m.catch.got.is_some(),
                Until::Settle => self.pending.is_none(),
                _ => false,
            };
            if done {
                return Ready(Ok(()));
            }
            if let (true, Some(Err(e))) = (answers, m.catch.got) {
                return Ready(Err(m.fail(e)));
            }
            let Some(ev) = self.event(m) else {
                return m.ask(Act::Read);
            };
            match (m.ok(ev)?, until) {
                (Ev::Error, _) if strict => return Ready(Err(m.fail(Error::AtError))),
                (Ev::Cme(e), _) if strict => return Ready(Err(m.fail(Error::Cme(e)))),
                (Ev::Ok, Until::Final(_)) => m.ok = true,
                (Ev::Ok, Until::Escape) | (Ev::Answer, Until::Busy) | (Ev::Connect, Until::Connect) => {
                    return Ready(Ok(()))
                }
                (Ev::Ok, Until::Probe) if m.catch.got.is_some() => return Ready(Ok(())),
                // A success result before the payload is a late one.
                (Ev::Answer, Until::Connect | Until::Data) if matches!(m.catch.got, Some(Ok(_))) => m.catch.got = None,
                // If the operation is dropped in data mode, the next call must escape.
                (Ev::Connect, Until::Data) => self.dirty = Dirty::DataMode,
                (Ev::Data(p), Until::Data) => {
                    m.piece = Some(p);
                    return Ready(Ok(()));
                }
                (Ev::DataEnd, Until::Data) => {
                    self.dirty = Dirty::Stream;
                    return Ready(Ok(()));
                }
                (Ev::Connect | Ev::Data(_) | Ev::DataEnd, Until::Final(_) | Until::Connect) => {
                    return Ready(Err(m.fail(Error::Protocol)))
                }
                _ => {}
            }
            if until == Until::Data {
                // `rsptimeout` bounds the gap between two packets.
                m.deadline = after(self.deferred);
            }
        }
    }

    /// Sends a command and waits (for `timeout`) until `until`; the answer
    /// line's value, if one came, is then [`Machine::answer`].
    fn exchange<'a>(&mut self, m: &mut Machine<'a>, build: Build, timeout: Duration, want: Want, until: Until) -> Step {
        let r = self.exchange_steps(m, build, timeout, want, until);
        finished(&mut m.x, r)
    }

    fn exchange_steps<'a>(
        &mut self,
        m: &mut Machine<'a>,
        build: Build,
        timeout: Duration,
        want: Want,
        until: Until,
    ) -> Step {
        loop {
            match m.x {
                Xch::Start => {
                    m.catch = Catch::new(want);
                    // The probe must not forget what an abandoned command
                    // left pending.
                    if until != Until::Probe {
                        self.pending = want.result_name();
                    }
                    m.sent = 0;
                    m.x = Xch::Send;
                }
                Xch::Send => {
                    // The line goes out a window at a time, built afresh for
                    // each: the machine holds a count, not the command.
                    m.io()?;
                    let c = m.ok(build(m))?;
                    if m.sent == 0 {
                        debug!("> {}", c.name());
                    }
                    let n = c.encode_at(m.sent, &mut self.tx);
                    if n > 0 {
                        m.sent += n;
                        return m.ask_by(Act::Write(Out::Tx(n)), after(QUICK));
                    }
                    m.deadline = after(timeout);
                    m.ok = false;
                    m.x = Xch::Wait;
                }
                Xch::Wait => {
                    ready!(self.wait(m, until))?;
                    return match m.catch.got {
                        Some(Err(e)) => Ready(Err(m.fail(e))),
                        _ => Ready(Ok(())),
                    };
                }
            }
        }
    }

    /// Forgets every byte received and the tokenizer's state, and gives
    /// reads the whole buffer again (an upload dropped midway leaves them
    /// only its first `RX_LEN` bytes).
    fn forget_input(&mut self) {
        self.tok.reset();
        self.rx_start = 0;
        self.rx_end = 0;
        self.rx_cap = self.buf.len();
    }

    /// Feeds what is left in the receive buffer to the tokenizer so that
    /// the buffer can be reused; lines go to the URC dispatcher.
    fn drain(&mut self) {
        while self.rx_start < self.rx_end {
            let input = self.buf.get(self.rx_start..self.rx_end).unwrap_or_default();
            let (used, frame) = self.tok.feed(input);
            match frame {
                Some(Frame::Line(line)) => {
                    self.watch.urc(line);
                }
                Some(Frame::Overflow) => self.watch.overlong = self.watch.overlong.wrapping_add(1),
                Some(_) => warn!("stray frame dropped"),
                None => {}
            }
            self.rx_start += used;
        }
        self.rx_start = 0;
        self.rx_end = 0;
    }

    // -----------------------------------------------------------------------
    // Bookkeeping around every operation.

    /// Brings the stream to a known state before a command: resynchronises,
    /// re-initialises a restarted module, closes a session left in doubt,
    /// and checks that a session is open if `needs_session`.
    fn begin(&mut self, m: &mut Machine<'_>, needs_session: bool) -> Step {
        let r = self.begin_steps(m, needs_session);
        finished(&mut m.begin, r)
    }

    fn begin_steps(&mut self, m: &mut Machine<'_>, needs_session: bool) -> Step {
        // Each condition holds until its step is done, so re-entering a
        // step finds it again.
        if m.begin == Begin::Start && self.dirty != Dirty::Clean {
            ready!(self.resync(m))?;
        }
        m.begin = Begin::Resynced;
        if self.watch.need_init {
            ready!(self.init_at(m))?;
        }
        if self.need_close {
            ready!(self.close_session(m))?;
            self.need_close = false;
            self.watch.session = Session::Closed;
        }
        if needs_session {
            match self.watch.session {
                Session::Open => {}
                Session::Closed => return Ready(Err(m.fail(Error::NotOpen))),
                Session::Lost => {
                    self.watch.session = Session::Closed;
                    return Ready(Err(m.fail(Error::SessionClosed)));
                }
            }
        }
        self.dirty = Dirty::Stream;
        Ready(Ok(()))
    }

    /// Records how an operation ended; `r` as it was.
    fn end<T>(&mut self, m: &mut Machine<'_>, r: Result<T, Failed>) -> Result<T, Failed> {
        self.ended(m, r.is_ok());
        r
    }

    /// Records how an operation ended: well, or with `m.error`, which
    /// becomes the error to report.
    #[inline(never)]
    fn ended(&mut self, m: &mut Machine<'_>, ok: bool) {
        if ok {
            self.dirty = Dirty::Clean;
            return;
        }
        match m.error {
            Error::Timeout | Error::Io(_) | Error::Protocol => {
                if self.watch.session == Session::Open {
                    self.need_close = true;
                }
            }
            _ => self.dirty = Dirty::Clean,
        }
        if self.watch.session == Session::Lost {
            // Reported once: the next call finds the session closed.
            self.watch.session = Session::Closed;
            m.error = Error::SessionClosed;
        }
    }

    /// Discards buffered bytes and late answers: leaves data mode if needed,
    /// then probes with `AT+CMEE?` (up to three times, escaping before each
    /// retry) and waits out what an abandoned command left pending.
    fn resync(&mut self, m: &mut Machine<'_>) -> Step {
        let r = self.resync_steps(m);
        finished(&mut m.resync, r)
    }

    fn resync_steps(&mut self, m: &mut Machine<'_>) -> Step {
        loop {
            match m.resync {
                Resync::Start => {
                    debug!("resynchronising");
                    m.was_data_mode = self.dirty == Dirty::DataMode;
                    m.attempt = 0;
                    m.catch = Catch::new(Want::Nothing);
                    m.resync = Resync::Escape;
                }
                Resync::Escape => {
                    if self.dirty == Dirty::DataMode || m.attempt > 0 {
                        // Errors here are fine: the probe decides.
                        let _ = ready!(self.escape(m));
                    }
                    self.forget_input();
                    m.resync = Resync::Probe;
                }
                Resync::Probe => {
                    // Only an `OK` after `+CMEE:` counts, so a late `OK` of
                    // an abandoned command cannot pass for the probe's.
                    let two = Duration::from_secs(2);
                    match ready!(self.exchange(m, |_| Ok(cmd::probe()), two, Want::Cmee, Until::Probe)) {
                        Ok(_) => m.resync = Resync::Settle,
                        Err(_) if m.attempt < 2 => {
                            m.attempt += 1;
                            m.resync = Resync::Escape;
                        }
                        Err(_) => return Ready(Err(m.fail(Error::Timeout))),
                    }
                }
                Resync::Settle => {
                    ready!(self.settle(m));
                    self.dirty = Dirty::Clean;
                    return Ready(Ok(()));
                }
            }
        }
    }

    /// After a resynchronisation: waits out the deferred result of an
    /// abandoned command, or, when it does not come (or the command was a
    /// transfer), has the session closed before anything else.
    fn settle(&mut self, m: &mut Machine<'_>) -> Poll<()> {
        if m.settle == Settle::Start {
            // A transfer broken off in data mode leaves the module's state
            // unknown: close, as the vendor advises. So does a command that
            // already timed out (`need_close` is set).
            if self.pending.is_some() && !m.was_data_mode && !self.need_close {
                m.catch = Catch::new(Want::Nothing);
                m.deadline = after(self.deferred);
                m.settle = Settle::Wait;
            }
        }
        if m.settle == Settle::Wait {
            // An error (a timeout) ends the wait.
            let _ = ready!(self.wait(m, Until::Settle));
            m.settle = Settle::Start;
        }
        if self.pending.take().is_some() && self.watch.session == Session::Open {
            self.need_close = true;
        }
        Ready(())
    }

    /// Sends a guarded `+++` (retried up to three times) and waits for the
    /// module's `OK`. The tokenizer leaves data mode at once.
    fn escape(&mut self, m: &mut Machine<'_>) -> Step {
        let r = self.escape_steps(m);
        finished(&mut m.escape, r)
    }

    fn escape_steps(&mut self, m: &mut Machine<'_>) -> Step {
        loop {
            match m.escape {
                Escape::Start => {
                    self.tok.abort_payload();
                    m.tries = 0;
                    m.escape = Escape::GuardBefore;
                }
                Escape::GuardBefore => {
                    m.escape = Escape::Plus;
                    return m.ask_by(Act::Sleep, after(GUARD));
                }
                Escape::Plus => {
                    m.io()?;
                    m.escape = Escape::GuardAfter;
                    let plus = b"+++";
                    if let Some(tx) = self.tx.get_mut(..plus.len()) {
                        tx.copy_from_slice(plus);
                    }
                    return m.ask_by(Act::Write(Out::Tx(plus.len())), after(QUICK));
                }
                Escape::GuardAfter => {
                    m.io()?;
                    m.escape = Escape::Listen;
                    return m.ask_by(Act::Sleep, after(GUARD));
                }
                Escape::Listen => {
                    m.io()?;
                    m.deadline = after(Duration::from_secs(2));
                    m.escape = Escape::Wait;
                }
                Escape::Wait => match ready!(self.wait(m, Until::Escape)) {
                    Ok(()) => return Ready(Ok(())),
                    Err(_) if m.error == Error::Timeout && m.tries < 2 => {
                        m.tries += 1;
                        m.escape = Escape::GuardBefore;
                    }
                    Err(failed) => return Ready(Err(failed)),
                },
            }
        }
    }

    /// `ATE0` and `AT+CMEE=1`.
    fn init_at(&mut self, m: &mut Machine<'_>) -> Step {
        while m.init_at < 2 {
            let build: Build = match m.init_at {
                0 => |_| Ok(cmd::echo_off()),
                _ => |_| Ok(cmd::cmee_numeric()),
            };
            let r = ready!(self.exchange(m, build, QUICK, Want::Nothing, Until::Final(false)));
            m.init_at += 1;
            if let Err(e) = r {
                m.init_at = 0;
                return Ready(Err(e));
            }
        }
        m.init_at = 0;
        self.watch.need_init = false;
        Ready(Ok(()))
    }

    /// `AT+QFTPCLOSE`, riding out `+CME ERROR: 603` (a close already
    /// pending) until `+QFTPCLOSE:` arrives.
    fn close_session(&mut self, m: &mut Machine<'_>) -> Step {
        let r = self.close_steps(m);
        finished(&mut m.close, r)
    }

    fn close_steps(&mut self, m: &mut Machine<'_>) -> Step {
        if m.close == Close::Start {
            m.until = after(self.deferred);
            m.close = Close::Command;
        }
        loop {
            if m.close == Close::Command {
                let left = m.until.saturating_duration_since(now());
                let close: Build = |_| Ok(cmd::qftpclose());
                let r = ready!(self.exchange(m, close, left, Want::Unawaited(b"QFTPCLOSE"), Until::Final(true)));
                match m.explain(r) {
                    // Closed, or there was nothing to close.
                    Ok(_) | Err(Error::Ftp { .. }) | Err(Error::AtError) => return Ready(Ok(())),
                    Err(Error::Cme(CmeError::Code(603))) => {
                        // Busy closing: wait a little for the pending result.
                        m.deadline = (after(Duration::from_secs(1))).min(m.until);
                        m.close = Close::Busy;
                    }
                    Err(Error::Cme(_)) => return Ready(Ok(())),
                    Err(_) => return Ready(Err(Failed)),
                }
            }
            let r = ready!(self.wait(m, Until::Busy));
            match m.explain(r) {
                Ok(()) => return Ready(Ok(())),
                Err(Error::Timeout) if now() < m.until => m.close = Close::Command,
                Err(_) => return Ready(Err(Failed)),
            }
        }
    }

    // -----------------------------------------------------------------------
    // The operations.

    /// The operations of one exchange: open, deactivate, setting, stat
    /// and the file commands.
    pub(crate) fn one(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        let needs_session = matches!(m.op, Op::File(..));
        self.simple(m, needs_session, |m| checked(one_command(m)), Core::one_steps)
    }

    /// `activate`: see [`Core::activate_steps`].
    pub(crate) fn activate(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        self.simple(m, false, |m| checked(activate_command(m)), Core::activate_steps)
    }

    /// `configure`: see [`Core::configure_steps`].
    pub(crate) fn configure(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        self.simple(m, false, check_configure, Core::configure_steps)
    }

    /// `close`: `AT+QFTPCLOSE`, riding out `603`; the session is closed
    /// whatever the answer.
    pub(crate) fn close(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        self.simple(m, false, |_| Ok(()), Core::logout)
    }

    /// [`Core::close_session`], after which the session is closed whatever
    /// the answer: the end of `close` and of `recover`.
    fn logout(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        let r = ready!(self.close_session(m));
        self.watch.session = Session::Closed;
        self.need_close = false;
        Ready(r.map(|()| Got::Ready(true)))
    }

    /// `list`: one confirmed-length payload.
    pub(crate) fn list(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        self.simple(
            m,
            true,
            |m| checked(list_command(m)),
            |core, m| {
                let Op::List(kind, _) = m.op else {
                    return Ready(Err(m.fail(Error::Protocol)));
                };
                let name = kind.result_name();
                let payload = Payload::Confirmed { result: name, limit: None };
                core.fetch(m, payload, Want::Num(name.as_bytes()), list_command)
            },
        )
    }

    /// `put_escaped`: one upload ended by a guarded `+++`.
    pub(crate) fn put_escaped(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        self.simple(
            m,
            true,
            |m| checked(put_command(m)),
            |core, m| {
                if m.step == 0 {
                    // The first `RX_LEN` bytes receive answers, the rest carries data.
                    core.drain();
                    core.rx_cap = RX_LEN;
                    m.step = 1;
                }
                let r = ready!(core.upload(m));
                core.rx_cap = core.buf.len();
                Ready(r.map(Got::Num))
            },
        )
    }

    /// An operation made of one `begin` and `inner`: its arguments are
    /// checked first, and how it ended is recorded.
    ///
    /// `m.pc`: 0 check, 1 begin, 2 the operation.
    #[inline(never)]
    fn simple(&mut self, m: &mut Machine<'_>, needs_session: bool, check: Check, inner: Body<'b>) -> Step<Got> {
        if m.pc == 0 {
            // Everything is checked before the first byte is sent.
            m.ok(check(m))?;
            m.pc = 1;
        }
        if m.pc == 1 {
            ready!(self.begin(m, needs_session))?;
            m.pc = 2;
        }
        let r = ready!(inner(self, m));
        Ready(self.end(m, r))
    }

    /// The exchange of [`Core::one`].
    fn one_steps(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        let deferred = self.deferred;
        let (timeout, want) = match m.op {
            Op::Deactivate(_) => (PDP_DEACT, Want::Nothing),
            Op::Setting(s) => (QUICK, Want::Cfg(s.name())),
            Op::Open(..) => (deferred, Want::Num(b"QFTPOPEN")),
            Op::Stat => (QUICK, Want::Num(b"QFTPSTAT")),
            Op::File(FileOp::Pwd, _) => (deferred, Want::Text(FileOp::Pwd.result())),
            Op::File(FileOp::Mdtm, _) => (deferred, Want::Time),
            Op::File(op, _) => (deferred, Want::Num(op.result())),
            _ => (QUICK, Want::Nothing),
        };
        let need = want != Want::Nothing;
        let r = ready!(self.exchange(m, one_command, timeout, want, Until::Final(need)));
        match (&m.op, &r) {
            (Op::Deactivate(cid), _) if *cid == self.watch.context_id => self.watch.session = Session::Closed,
            (Op::Open(..), Ok(_)) => self.watch.session = Session::Open,
            // The module may still finish opening: close it next time.
            (Op::Open(..), Err(_)) if m.error == Error::Timeout => self.need_close = true,
            _ => {}
        }
        Ready(match need {
            true => r.and_then(|()| match m.answer() {
                Some(got) => Ok(got),
                None => Err(m.fail(Error::Protocol)),
            }),
            false => r.map(|_| Got::Ready(true)),
        })
    }

    /// Configures PDP context `pdp.cid` and activates it unless `AT+QIACT?`
    /// shows it active already: QICSGP, QIACT? (done if active), QIACT,
    /// QIACT?.
    fn activate_steps(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        let Op::Activate(pdp) = m.op else {
            return Ready(Err(m.fail(Error::Protocol)));
        };
        let mut got = None;
        while m.step < 4 {
            let timeout = if m.step == 2 { PDP_ACT } else { QUICK };
            let want = if m.step % 2 == 1 { Want::QiAct(pdp.cid) } else { Want::Nothing };
            ready!(self.exchange(m, activate_command, timeout, want, Until::Final(m.step == 3)))?;
            got = m.answer();
            m.step = if m.step == 1 && got.is_some() { 4 } else { m.step + 1 };
        }
        self.watch.context_id = pdp.cid;
        // The address, if the module printed one.
        Ready(Ok(got.unwrap_or(Got::Ready(true))))
    }

    /// Every `AT+QFTPCFG` setting, then the SSL context's settings.
    fn configure_steps(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        let Op::Configure(cfg, ssl) = m.op else {
            return Ready(Err(m.fail(Error::Protocol)));
        };
        while m.step < CONFIG_STEPS {
            if has_config_step(ssl, m.step) {
                ready!(self.exchange(m, configure_command, QUICK, Want::Nothing, Until::Final(false)))?;
            }
            m.step += 1;
        }
        self.deferred = Duration::from_secs(u64::from(cfg.rsp_timeout_s) + MARGIN_S);
        self.watch.context_id = cfg.context_id;
        Ready(Ok(Got::Ready(true)))
    }

    /// Brings the module up: waits until it answers `AT` (up to 10 s), turns
    /// echo off, selects numeric errors and waits up to 20 s for the SIM.
    ///
    /// `m.pc`: 0 forget the stream, 1 `AT` until answered (`m.step` counts
    /// the tries), 2 resynchronise, 3 echo and error mode, 4 `AT+CPIN?`,
    /// 5 a second's pause before asking again.
    pub(crate) fn init(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        loop {
            match m.pc {
                0 => {
                    self.forget_input();
                    self.dirty = Dirty::Clean;
                    m.pc = 1;
                }
                1 => {
                    self.dirty = Dirty::Stream;
                    let second = Duration::from_secs(1);
                    match ready!(self.exchange(m, |_| Ok(cmd::at()), second, Want::Nothing, Until::Final(false))) {
                        Ok(_) => m.pc = 2,
                        Err(_) => {
                            if m.error == Error::Timeout {
                                self.tok.reset();
                            }
                            m.step += 1;
                            if m.step == 10 {
                                return Ready(Err(m.fail(Error::Timeout)));
                            }
                        }
                    }
                }
                2 => {
                    // Late answers of the probes above must not confuse
                    // what follows.
                    ready!(self.resync(m))?;
                    m.pc = 3;
                }
                3 => {
                    ready!(self.init_at(m))?;
                    m.until = after(Duration::from_secs(20));
                    m.pc = 4;
                }
                4 => {
                    let r = ready!(self.exchange(m, |_| Ok(cmd::cpin_query()), QUICK, Want::Cpin, Until::Final(true)));
                    let r = r.map(|()| m.answer());
                    match m.explain(r) {
                        Ok(Some(Got::Ready(true))) => {
                            self.watch.session = Session::Closed;
                            return Ready(self.end(m, Ok(Got::Ready(true))));
                        }
                        Ok(_) | Err(Error::Cme(_)) | Err(Error::AtError) if now() < m.until => {
                            m.pc = 5;
                            return m.ask_by(Act::Sleep, after(Duration::from_secs(1)));
                        }
                        Ok(_) => {
                            let failed = m.fail(Error::Protocol);
                            return Ready(self.end(m, Err(failed)));
                        }
                        Err(_) => return Ready(self.end(m, Err(Failed))),
                    }
                }
                _ => {
                    m.io()?;
                    m.pc = 4;
                }
            }
        }
    }

    /// Leaves data mode, closes the FTP session, riding out `603`.
    ///
    /// `m.pc`: 0 start, 1 resynchronise (escaping first), 2 re-initialise
    /// a restarted module, 3 close.
    pub(crate) fn recover(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        if m.pc == 0 {
            self.dirty = Dirty::DataMode;
            m.pc = 1;
        }
        if m.pc == 1 {
            ready!(self.resync(m))?;
            m.pc = 2;
        }
        if m.pc == 2 {
            if self.watch.need_init {
                ready!(self.init_at(m))?;
            }
            self.dirty = Dirty::Stream;
            m.pc = 3;
        }
        let r = ready!(self.logout(m));
        Ready(self.end(m, r))
    }

    /// Downloads a file in chunks of known length: the size first (servers
    /// that cannot tell get chunks whose end the modem's count confirms).
    ///
    /// `m.pc`: 0 check, 1 begin, 2 `AT+QFTPSIZE`, 3 the next chunk's length
    /// (or done), 4 begin, 5 the chunk.
    pub(crate) fn get(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        let Op::Get { start, chunk, .. } = m.op else {
            return Ready(Err(m.fail(Error::Protocol)));
        };
        loop {
            match m.pc {
                0 => {
                    m.ok(get_command(m))?;
                    m.pc = 1;
                }
                1 => {
                    ready!(self.begin(m, true))?;
                    m.pc = 2;
                }
                2 => {
                    let want = Want::Num(FileOp::Size.result());
                    let r = ready!(self.exchange(m, size_command, self.deferred, want, Until::Final(true)));
                    let r = r.and_then(|()| {
                        let size = m.answer().ok_or(Error::Protocol).and_then(Got::num);
                        m.ok(size)
                    });
                    let r = self.end(m, r);
                    m.size = match m.explain(r) {
                        Ok(size) => Some(size),
                        Err(Error::Ftp { reply: Some(FtpReply::NotImplemented | FtpReply::SyntaxError), .. }) => None,
                        Err(_) => return Ready(Err(Failed)),
                    };
                    m.pos = start;
                    m.pc = 3;
                }
                3 => {
                    let chunk = u64::from(chunk.max(1));
                    m.n = match m.size {
                        Some(size) => size.saturating_sub(m.pos).min(chunk),
                        None => chunk,
                    };
                    if m.n == 0 {
                        return Ready(Ok(Got::Num(m.pos - start)));
                    }
                    m.pc = 4;
                }
                4 => {
                    ready!(self.begin(m, true))?;
                    m.pc = 5;
                }
                _ => {
                    let payload = match m.size {
                        Some(_) => Payload::Exact(m.n),
                        None => Payload::Confirmed { result: "QFTPGET", limit: Some(m.n) },
                    };
                    let r = ready!(self.fetch(m, payload, Want::Num(b"QFTPGET"), get_command));
                    let got = self.end(m, r)?;
                    let n = m.ok(got.num())?;
                    m.pos = m.pos.saturating_add(n);
                    let done = m.pos - start;
                    m.progress(done);
                    if n < m.n {
                        if m.size.is_some() {
                            return Ready(Err(m.fail(Error::LengthMismatch { moved: sat32(n), reported: sat32(m.n) })));
                        }
                        return Ready(Ok(Got::Num(done)));
                    }
                    m.pc = 3;
                }
            }
        }
    }

    /// One download-direction exchange (a chunk of a file, or a listing):
    /// command, `CONNECT`, payload to the caller's sink, `OK`, and the
    /// result line whose count must match.
    fn fetch(&mut self, m: &mut Machine<'_>, payload: Payload, want: Want, build: Build) -> Step<Got> {
        let r = self.fetch_steps(m, payload, want, build);
        if r.is_ready() {
            if matches!(r, Ready(Err(_))) && self.tok.in_data_mode() {
                self.dirty = Dirty::DataMode;
            }
            self.tok.abort_payload();
        }
        finished(&mut m.fetch, r)
    }

    fn fetch_steps(&mut self, m: &mut Machine<'_>, payload: Payload, want: Want, build: Build) -> Step<Got> {
        const TRAILER: &[u8] = b"\r\nOK\r\n";
        loop {
            match m.fetch {
                Fetch::Start => {
                    self.tok.expect_payload(payload);
                    m.moved = 0;
                    m.fetch = Fetch::Command;
                }
                Fetch::Command => {
                    ready!(self.exchange(m, build, self.deferred, want, Until::Data))?;
                    m.fetch = Fetch::Piece;
                }
                Fetch::Piece => match m.piece.take() {
                    Some(p) => {
                        m.fetch = Fetch::Sunk;
                        return m.ask(Act::Sink(p));
                    }
                    None => {
                        m.ok = false;
                        m.matched = 0;
                        m.deadline = after(self.deferred);
                        m.fetch = if matches!(payload, Payload::Exact(_)) { Fetch::Trailer } else { Fetch::Final };
                    }
                },
                Fetch::Sunk => {
                    m.moved += m.io()? as u64;
                    m.deadline = after(self.deferred);
                    m.fetch = Fetch::Data;
                }
                Fetch::Data => {
                    ready!(self.wait(m, Until::Data))?;
                    m.fetch = Fetch::Piece;
                }
                Fetch::Trailer => {
                    // After an exact-length payload the module prints
                    // `\r\nOK\r\n` at once. Anything else means that the line
                    // lost or doubled a byte inside the payload, whose count
                    // then still matches the module's: refuse the chunk
                    // rather than pass corrupt data on.
                    m.io()?;
                    while usize::from(m.matched) < TRAILER.len() {
                        if self.rx_start >= self.rx_end {
                            return m.ask(Act::Read);
                        }
                        let avail = self.buf.get(self.rx_start..self.rx_end).unwrap_or_default();
                        let at = usize::from(m.matched);
                        let k = avail.len().min(TRAILER.len() - at);
                        if avail.get(..k) != TRAILER.get(at..at + k) {
                            warn!("payload not followed by OK: bytes lost or doubled");
                            return Ready(Err(m.fail(Error::Protocol)));
                        }
                        m.matched += k as u8;
                        self.rx_start += k;
                    }
                    m.deadline = after(self.deferred);
                    m.fetch = Fetch::AfterOk;
                }
                Fetch::AfterOk => {
                    ready!(self.wait(m, Until::AfterOk))?;
                    return Ready(counted(m).map(Got::Num));
                }
                Fetch::Final => {
                    ready!(self.wait(m, Until::Final(true)))?;
                    return Ready(counted(m).map(Got::Num));
                }
            }
        }
    }

    /// Uploads with `put` or `put_sized`: chunk by chunk, each announced
    /// with `<uploadlen>,<beof>` so that the module leaves data mode by
    /// itself.
    ///
    /// `m.pc`: 0 check, 1 begin (and the chunk's length for `put_sized`),
    /// 2 read more of the chunk (`put`: one byte more than a chunk, to know
    /// if it is the last), 3 what the read gave, 4 upload the chunk.
    pub(crate) fn put(&mut self, m: &mut Machine<'_>) -> Step<Got> {
        let (start, chunk, len) = match m.op {
            Op::Put { start, chunk, .. } => (start, chunk, None),
            Op::PutSized { start, chunk, len, .. } => (start, chunk, Some(len)),
            _ => return Ready(Err(m.fail(Error::Protocol))),
        };
        // With a length the data streams through the buffer; without, a
        // chunk is read whole first, one byte more to know if it is the last.
        let chunk = match len {
            Some(_) => u64::from(chunk.max(1)),
            None => (chunk as usize).clamp(1, self.buf.len().saturating_sub(RX_LEN + 1).max(1)) as u64,
        };
        loop {
            match m.pc {
                0 => {
                    m.ok(put_command(m))?;
                    if let Some(len) = len {
                        m.ok(start.checked_add(len).ok_or(ArgError::OutOfRange))?;
                    }
                    m.pos = start;
                    m.pc = 1;
                }
                1 => {
                    if let Some(len) = len {
                        let done = m.pos - start;
                        m.n = (len - done).min(chunk);
                        m.last = done + m.n == len;
                    }
                    ready!(self.begin(m, true))?;
                    self.drain();
                    self.rx_cap = RX_LEN;
                    if len.is_some() {
                        m.pc = 4;
                        continue;
                    }
                    // `put`: the chunk starts with the byte read beyond the
                    // last one.
                    m.n = 0;
                    if let (Some(b), Some(first)) = (m.carry.take(), self.buf.get_mut(RX_LEN)) {
                        *first = b;
                        m.n = 1;
                    }
                    m.pc = 2;
                }
                2 => {
                    m.pc = 3;
                    let (a, b) = (RX_LEN + m.n as usize, RX_LEN + chunk as usize + 1);
                    return m.ask(Act::Source(a, b));
                }
                3 => match m.io() {
                    // More to read.
                    Ok(k) if k > 0 && m.n + k as u64 <= chunk => {
                        m.n += k as u64;
                        m.pc = 2;
                    }
                    // The source ended, or gave the byte beyond the chunk,
                    // which goes with the next one.
                    Ok(k) => {
                        m.n += k as u64;
                        m.last = m.n <= chunk;
                        if !m.last {
                            m.carry = self.buf.get(RX_LEN + chunk as usize).copied();
                            m.n = chunk;
                        }
                        m.pc = 4;
                    }
                    Err(e) => {
                        self.rx_cap = self.buf.len();
                        self.dirty = Dirty::Clean;
                        return Ready(Err(e));
                    }
                },
                _ => {
                    let r = ready!(self.upload(m));
                    self.rx_cap = self.buf.len();
                    self.end(m, r)?;
                    m.pos = m.pos.saturating_add(m.n);
                    m.progress(m.pos - start);
                    if m.last {
                        return Ready(Ok(Got::Num(m.pos - start)));
                    }
                    m.pc = 1;
                }
            }
        }
    }

    /// One upload exchange: the command, `CONNECT`, the data (already in
    /// the buffer for `put`, streamed from the source for `put_sized`, or
    /// streamed to the source's end and ended by a guarded `+++` for
    /// `put_escaped`) and the result, whose count must match.
    fn upload(&mut self, m: &mut Machine<'_>) -> Step<u64> {
        let r = self.upload_steps(m);
        finished(&mut m.upload, r)
    }

    fn upload_steps(&mut self, m: &mut Machine<'_>) -> Step<u64> {
        let (streamed, escaped) = match m.op {
            Op::Put { .. } => (false, false),
            Op::PutSized { .. } => (true, false),
            _ => (true, true),
        };
        loop {
            // Bytes still to send: all of the source's for `put_escaped`.
            let left = if escaped { u64::MAX } else { m.n.saturating_sub(m.moved) };
            match m.upload {
                Upload::Start => {
                    let want = Want::Num(b"QFTPPUT");
                    ready!(self.exchange(m, put_command, self.deferred, want, Until::Connect))?;
                    self.dirty = Dirty::DataMode;
                    m.moved = 0;
                    m.upload = Upload::Data;
                }
                Upload::Data if left == 0 => {
                    self.dirty = Dirty::Stream;
                    m.deadline = after(self.deferred);
                    m.ok = false;
                    m.upload = Upload::Final;
                }
                Upload::Data if !streamed => {
                    // `put`: the chunk is in the buffer.
                    m.upload = Upload::Written;
                    m.moved = left;
                    let end = RX_LEN + m.moved as usize;
                    let deadline = after(self.deferred);
                    return m.ask_by(Act::Write(Out::Buf(RX_LEN, end)), deadline);
                }
                Upload::Data => {
                    m.upload = Upload::Read;
                    let room = self.buf.len().saturating_sub(RX_LEN) as u64;
                    return m.ask(Act::Source(RX_LEN, RX_LEN + left.min(room) as usize));
                }
                Upload::Read => match m.io()? {
                    0 if escaped => m.upload = Upload::Escape,
                    0 => return Ready(Err(m.fail(Error::Io(embedded_io::ErrorKind::InvalidInput)))),
                    k => {
                        m.moved += k as u64;
                        if escaped {
                            m.progress(m.moved);
                        }
                        m.upload = Upload::Written;
                        let deadline = after(self.deferred);
                        return m.ask_by(Act::Write(Out::Buf(RX_LEN, RX_LEN + k)), deadline);
                    }
                },
                Upload::Written => {
                    m.io()?;
                    m.upload = Upload::Data;
                }
                Upload::Final => {
                    ready!(self.wait(m, Until::Final(true)))?;
                    return Ready(counted(m));
                }
                Upload::Escape => {
                    // `escape` takes the `OK`; the result line follows.
                    ready!(self.escape(m))?;
                    self.dirty = Dirty::Stream;
                    m.deadline = after(self.deferred);
                    m.upload = Upload::AfterOk;
                }
                Upload::AfterOk => {
                    ready!(self.wait(m, Until::AfterOk))?;
                    return Ready(counted(m));
                }
            }
        }
    }
}

/// A transfer's result line, checked against the bytes moved.
#[inline(never)]
fn counted(m: &mut Machine<'_>) -> Result<u64, Failed> {
    let e = match m.catch.got {
        Some(Ok(Got::Num(n))) if n == m.moved => return Ok(n),
        Some(Ok(Got::Num(n))) => Error::LengthMismatch { moved: sat32(m.moved), reported: sat32(n) },
        Some(Err(e)) => e,
        _ => Error::Protocol,
    };
    Err(m.fail(e))
}

/// An argument check by building a command.
fn checked(c: Result<Command<'_>, ArgError>) -> Result<(), Error> {
    c.map(drop).map_err(Error::from)
}

/// `configure` checks every setting and every command it will send.
fn check_configure(m: &Machine<'_>) -> Result<(), Error> {
    let Op::Configure(cfg, ssl) = m.op else {
        return Err(Error::Protocol);
    };
    cfg.validate()?;
    if let Some(s) = ssl {
        s.validate()?;
    }
    for step in (0..CONFIG_STEPS).filter(|&s| has_config_step(ssl, s)) {
        config_command(cfg, ssl, step)?;
    }
    Ok(())
}

// The operations' commands, built from their arguments and the machine's
// step. (Each arm gives the result as it is: a `?` would copy a command.)

/// The one-exchange operations' commands.
fn one_command<'m>(m: &Machine<'m>) -> Result<Command<'m>, ArgError> {
    match m.op {
        Op::Deactivate(cid) => cmd::qideact(cid),
        Op::Setting(s) => Ok(cmd::qftpcfg_query(s.name())),
        Op::Open(host, port) => cmd::qftpopen(host, port),
        Op::File(op, names) => cmd::file_cmd(op, names),
        Op::Stat => Ok(cmd::qftpstat()),
        _ => Err(ArgError::OutOfRange),
    }
}

/// QICSGP, QIACT?, QIACT, QIACT?.
fn activate_command<'m>(m: &Machine<'m>) -> Result<Command<'m>, ArgError> {
    match (&m.op, m.step) {
        (Op::Activate(p), 0) => cmd::qicsgp(p.cid, p.ip_type as u8, p.apn, p.user, p.password, p.auth as u8),
        (Op::Activate(p), 2) => cmd::qiact(p.cid),
        _ => Ok(cmd::qiact_query()),
    }
}

fn configure_command<'m>(m: &Machine<'m>) -> Result<Command<'m>, ArgError> {
    match m.op {
        Op::Configure(cfg, ssl) => config_command(cfg, ssl, m.step),
        _ => Err(ArgError::OutOfRange),
    }
}

/// `AT+QFTPSIZE` of a download's remote file.
fn size_command<'m>(m: &Machine<'m>) -> Result<Command<'m>, ArgError> {
    match m.op {
        Op::Get { remote, .. } => cmd::file_cmd(FileOp::Size, Names::One(remote)),
        _ => Err(ArgError::OutOfRange),
    }
}

/// A download's chunk at `m.pos`, `m.n` bytes.
fn get_command<'m>(m: &Machine<'m>) -> Result<Command<'m>, ArgError> {
    match m.op {
        Op::Get { remote, .. } => cmd::qftpget(remote, COM, m.pos, Some(sat32(m.n))),
        _ => Err(ArgError::OutOfRange),
    }
}

fn list_command<'m>(m: &Machine<'m>) -> Result<Command<'m>, ArgError> {
    match m.op {
        Op::List(kind, dir) => cmd::qftplist(kind, dir, COM),
        _ => Err(ArgError::OutOfRange),
    }
}

/// An upload's chunk at `m.pos`, `m.n` bytes (the last if `m.last`), or
/// the whole `+++`-ended stream.
fn put_command<'m>(m: &Machine<'m>) -> Result<Command<'m>, ArgError> {
    match m.op {
        Op::Put { remote, .. } | Op::PutSized { remote, .. } => {
            cmd::qftpput(remote, COM, m.pos, Some((sat32(m.n), m.last)))
        }
        Op::PutEscaped { remote, start } => cmd::qftpput(remote, COM, start, None),
        _ => Err(ArgError::OutOfRange),
    }
}

/// How many `AT+QSSLCFG` commands an FTPS configuration takes at most.
const SSL_STEPS: u8 = 4;

/// The settings of [`Setting::ALL`], the account, then the SSL commands.
const CONFIG_STEPS: u8 = SETTINGS + 1 + SSL_STEPS;
const SETTINGS: u8 = Setting::ALL.len() as u8;

/// Whether a configuration has a `step`-th command: the settings and
/// the account always, the SSL commands for FTPS (the CA file if set).
fn has_config_step(ssl: Option<&SslConfig<'_>>, step: u8) -> bool {
    match ssl {
        _ if step <= SETTINGS => true,
        Some(s) => step < CONFIG_STEPS - 1 || s.cacert.is_some(),
        None => false,
    }
}

/// The `step`-th command of a configuration (see [`has_config_step`]).
fn config_command<'a>(cfg: &FtpConfig<'a>, ssl: Option<&SslConfig<'a>>, step: u8) -> Result<Command<'a>, ArgError> {
    let ctx = cfg.ssl_ctx;
    match (Setting::ALL.get(usize::from(step)), ssl) {
        (Some(setting), _) => Ok(cmd::qftpcfg_num(setting.name(), setting.value(cfg))),
        (None, _) if step == SETTINGS => cmd::qftpcfg_account(cfg.user, cfg.password),
        (None, Some(s)) => match step - SETTINGS - 1 {
            0 => cmd::qsslcfg_num("sslversion", ctx, s.version.into()),
            1 => cmd::qsslcfg_ciphersuite(ctx, s.ciphersuite),
            2 => cmd::qsslcfg_num("seclevel", ctx, s.seclevel.into()),
            _ => cmd::qsslcfg_cacert(ctx, s.cacert.unwrap_or_default()),
        },
        (None, None) => Err(ArgError::OutOfRange),
    }
}

/// A count for [`Error::LengthMismatch`], saturated.
pub(crate) fn sat32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
