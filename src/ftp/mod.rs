//! The typed FTP(S) client.
//!
//! [`Ftp`] owns the UART, a [`Tokenizer`] and the caller's chunk buffer. Each
//! method sends one command (or one short sequence), waits for the final
//! result and the deferred `+QFTPxxx:` line with a deadline derived from the
//! module's `rsptimeout`, and returns a typed value.
//!
//! # Cancel safety
//!
//! No method is cancel-safe in the sense of "drop it and nothing happened":
//! a command may already be on the wire. Every method is *resync-safe*: when a
//! future is dropped (or times out) midway, the client remembers that the
//! stream is in an unknown state and the next call first brings the modem back
//! to a known state (leaves data mode with a guarded `+++` if a transfer was
//! running, discards what is buffered, probes with `AT+CMEE?`, and closes an
//! FTP session whose deferred result never came, as the vendor advises).

mod config;

use embassy_time::{with_deadline, Duration, Instant, Timer};
use embedded_io_async::{Read, Write};

use crate::at::cmd::{self, Command, FileOp, Listing, Names, COM};
use crate::at::parse::{self, Field, FtpState, ModifyTime};
use crate::at::tokenizer::{Frame, Payload, Tokenizer};
use crate::at::urc::{Urc, UrcSink, UrcStats};
use crate::error::{ArgError, CmeError, Error, FtpReply};

pub use config::{
    Auth, DataAddress, FileType, FtpConfig, IpType, PdpConfig, Setting, SslConfig, SslType, TransferMode,
};

/// Longest line the client's tokenizer keeps: a 255-byte path plus prefix.
pub const LINE_LEN: usize = 300;
/// During uploads the first `RX_LEN` bytes of the chunk buffer receive the
/// modem's answers; the rest carries the payload.
pub const RX_LEN: usize = 64;
/// The smallest chunk buffer [`Ftp::new`] accepts.
pub const MIN_BUF: usize = RX_LEN + 64;

/// The `+++` guard time: silence before and after the escape.
pub const GUARD: Duration = Duration::from_millis(1100);
/// Deadline for commands the module answers at once.
const QUICK: Duration = Duration::from_secs(5);
/// Added to the module's `rsptimeout` for the driver's own deadlines.
const MARGIN: Duration = Duration::from_secs(5);
/// `AT+QIACT` may take up to 150 s (TCP/IP application note).
const PDP_ACT: Duration = Duration::from_secs(150);
/// `AT+QIDEACT` may take up to 40 s.
const PDP_DEACT: Duration = Duration::from_secs(40);

/// Options of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Transfer {
    /// Start (resume) offset in the remote file.
    pub start: u64,
    /// Bytes per `AT+QFTPGET`/`AT+QFTPPUT` round trip. Uploads are also
    /// limited by the chunk buffer. Larger chunks give more goodput.
    pub chunk: u32,
}

impl Default for Transfer {
    fn default() -> Self {
        Transfer { start: 0, chunk: 64 * 1024 }
    }
}

/// The local IP address `AT+QIACT?` reported, kept as the module printed it
/// (dotted IPv4 or IPv6 text): parsing it is left to callers that need an
/// [`core::net::IpAddr`], so firmware that only logs it pays nothing for it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LocalAddr {
    text: [u8; Self::MAX],
    len: u8,
}

impl LocalAddr {
    /// Longest text kept: a full IPv6 address with an IPv4 tail.
    pub const MAX: usize = 45;

    /// Hex digits, `.` and `:` only, at most [`Self::MAX`] bytes.
    fn new(text: &[u8]) -> Option<Self> {
        let ok = !text.is_empty() && text.iter().all(|b| b.is_ascii_hexdigit() || *b == b'.' || *b == b':');
        let mut addr = LocalAddr { text: [0; Self::MAX], len: text.len() as u8 };
        addr.text.get_mut(..text.len()).filter(|_| ok)?.copy_from_slice(text);
        Some(addr)
    }

    /// The address as text, e.g. `10.7.157.1`.
    pub fn as_str(&self) -> &str {
        let bytes = self.text.get(..usize::from(self.len)).unwrap_or_default();
        core::str::from_utf8(bytes).unwrap_or_default()
    }

    /// The address parsed; `None` if the module printed something odd.
    pub fn to_ip(&self) -> Option<core::net::IpAddr> {
        self.as_str().parse().ok()
    }
}

impl core::fmt::Debug for LocalAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Display for LocalAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for LocalAddr {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

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

/// The line a pending command waits for, and what it got.
enum Want<'t> {
    Nothing,
    /// `+<name>: <err>,<number>`.
    Num(&'static [u8]),
    /// `+<name>: <err>,"<text>"`, copied into the buffer.
    Text(&'static [u8], &'t mut [u8]),
    /// `+QFTPMDTM: <err>,"<time>"`.
    Time,
    /// `+CMEE: <n>`.
    Cmee,
    /// `+CPIN: <status>`.
    Cpin,
    /// `+QIACT: <cid>,...` (lines of other contexts are consumed too); the
    /// address goes to the option.
    QiAct(u8, &'t mut Option<LocalAddr>),
    /// `+QFTPCFG: "<name>",<value>`.
    Cfg(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Got {
    Num(u64),
    Text(usize),
    Time(ModifyTime),
    Ready(bool),
}

struct Catch<'t> {
    want: Want<'t>,
    got: Option<Result<Got, Error>>,
}

impl<'t> Catch<'t> {
    fn new(want: Want<'t>) -> Self {
        Catch { want, got: None }
    }
}

impl Want<'_> {
    /// The deferred FTP result this waits for, if any.
    fn result_name(&self) -> Option<&'static [u8]> {
        match self {
            Want::Num(name) | Want::Text(name, _) => Some(name),
            Want::Time => Some(b"QFTPMDTM"),
            _ => None,
        }
    }
}

impl Catch<'_> {
    /// Offers a line; true if it answers the pending command.
    fn offer(&mut self, line: &[u8]) -> bool {
        let got = match &mut self.want {
            Want::Nothing => return false,
            Want::Num(name) => parse::ftp_result(line, name).map(|r| ftp_value(r, |v| v.num().map(Got::Num))),
            Want::Time => {
                parse::ftp_result(line, b"QFTPMDTM").map(|r| ftp_value(r, |v| parse::mdtm_value(v).map(Got::Time)))
            }
            Want::Text(name, buf) => parse::ftp_result(line, name).map(|r| match r {
                parse::FtpResult { err: 0, value: Field::Str(s) } => match buf.get_mut(..s.len()) {
                    Some(dst) => {
                        dst.copy_from_slice(s);
                        Ok(Got::Text(s.len()))
                    }
                    None => Err(Error::Overflow),
                },
                r => ftp_value(r, |_| None),
            }),
            Want::Cmee => match parse::prefixed(line) {
                Some((b"CMEE", _)) => Some(Ok(Got::Ready(true))),
                _ => None,
            },
            Want::Cpin => parse::cpin(line).map(|s| Ok(Got::Ready(s.eq_ignore_ascii_case(b"READY")))),
            Want::QiAct(cid, addr) => match parse::qiact(line) {
                Some(a) if a.cid == *cid && a.state == 1 => {
                    **addr = LocalAddr::new(a.ip);
                    Some(Ok(Got::Ready(true)))
                }
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

/// Maps a deferred result: `<err>` 0 gives the value, anything else the
/// typed error with the server's reply code.
fn ftp_value(r: parse::FtpResult<'_>, value: impl FnOnce(Field<'_>) -> Option<Got>) -> Result<Got, Error> {
    if r.err == 0 {
        value(r.value).ok_or(Error::Protocol)
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

/// Where a piece of download payload is.
#[derive(Clone, Copy)]
enum Piece {
    /// `buf[a..b]`.
    Buf(usize, usize),
    /// [`Tokenizer::held_payload`].
    Held,
}

/// The command of a download exchange, as ingredients: the command itself
/// (92 bytes) is built only while it is being sent.
enum Fetch<'a> {
    Get { remote: &'a str, pos: u64, len: u32 },
    List(Listing, &'a str),
}

impl<'a> Fetch<'a> {
    fn command(&self) -> Result<Command<'a>, ArgError> {
        match *self {
            Fetch::Get { remote, pos, len } => cmd::qftpget(remote, COM, pos, Some(len)),
            Fetch::List(kind, dir) => cmd::qftplist(kind, dir, COM),
        }
    }
}

/// A download exchange in progress.
struct Recv {
    catch: Catch<'static>,
    /// Payload bytes passed on so far.
    moved: u64,
    /// The command went out.
    sent: bool,
}

/// The FTP(S) client over an async UART.
///
/// `U` is any `embedded_io_async::Read + Write`; for a blocking UART wrap it
/// in [`crate::blocking::Uart`] and drive the futures with
/// [`crate::blocking::block_on`].
pub struct Ftp<'b, U> {
    uart: U,
    tok: Tokenizer<LINE_LEN>,
    buf: &'b mut [u8],
    /// Unread received bytes are `buf[rx_start..rx_end]`, within `buf[..rx_cap]`.
    rx_start: usize,
    rx_end: usize,
    rx_cap: usize,
    watch: Watch<'b>,
    rsp_timeout: Duration,
    dirty: Dirty,
    /// An FTP deferred result never came: close before anything else.
    need_close: bool,
    /// The deferred result (`QFTPSIZE`, ...) of the command in flight: if its
    /// future is dropped, the next call waits for that line (or closes the
    /// session), so that it can never pass for a later command's answer.
    pending: Option<&'static [u8]>,
}

/// What URCs change: the session, and whether the module restarted.
struct Watch<'b> {
    urcs: UrcSink<'b>,
    context_id: u8,
    session: Session,
    /// The module restarted: echo is on again.
    need_init: bool,
    /// Lines longer than the tokenizer's buffer, skipped.
    overlong: u32,
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

impl<'b, U: Read + Write> Ftp<'b, U> {
    /// A client over `uart`, using `buf` for reception and as the upload
    /// chunk buffer (at least [`MIN_BUF`] bytes; 4 KiB or more for full
    /// speed). URCs are counted but not published; see [`Ftp::with_urcs`].
    pub fn new(uart: U, buf: &'b mut [u8]) -> Result<Self, Error> {
        if buf.len() < MIN_BUF {
            return Err(Error::Overflow);
        }
        let rx_cap = buf.len();
        Ok(Ftp {
            uart,
            tok: Tokenizer::new(),
            buf,
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
            rsp_timeout: Duration::from_secs(90),
            dirty: Dirty::Clean,
            need_close: false,
            pending: None,
        })
    }

    /// Publishes every URC to `sink` (see [`crate::at::urc`]).
    pub fn with_urcs(mut self, sink: UrcSink<'b>) -> Self {
        self.watch.urcs = sink;
        self
    }

    /// URC counters.
    pub fn urc_stats(&self) -> UrcStats {
        // Lines too long for the tokenizer count as URCs too long to keep.
        let mut stats = self.watch.urcs.stats();
        stats.seen = stats.seen.wrapping_add(self.watch.overlong);
        stats.too_long = stats.too_long.wrapping_add(self.watch.overlong);
        stats
    }

    /// Gives the UART back.
    pub fn release(self) -> U {
        self.uart
    }

    /// True while an FTP session is open, as far as the client knows.
    pub fn is_open(&self) -> bool {
        self.watch.session == Session::Open
    }

    // -----------------------------------------------------------------------
    // The stream.

    /// The next event, reading the UART as needed until `deadline`. Lines
    /// that do not answer the pending command go to the URC dispatcher.
    async fn event(&mut self, deadline: Instant, catch: &mut Catch<'_>) -> Result<Ev, Error> {
        // The tokenizer may hold bytes (the `\r\nOK\r\n` after a listing) that
        // it replays only when fed again: read only once it has nothing left.
        let mut idle = false;
        loop {
            if self.rx_start >= self.rx_end && idle {
                self.fill(deadline).await?;
            }
            let base = self.buf.as_ptr() as usize;
            let input = self.buf.get(self.rx_start..self.rx_end).unwrap_or_default();
            let (used, frame) = self.tok.feed(input);
            let mut restarted = false;
            idle = used == 0 && frame.is_none();
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
                    if catch.offer(line) || pending {
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
                return Err(Error::SessionClosed);
            }
            if let Some(ev) = ev {
                return Ok(ev);
            }
        }
    }

    /// Reads what the UART has into the (empty) receive buffer, waiting
    /// until `deadline` for at least one byte.
    async fn fill(&mut self, deadline: Instant) -> Result<(), Error> {
        self.rx_start = 0;
        self.rx_end = 0;
        let dst = self.buf.get_mut(..self.rx_cap).unwrap_or_default();
        self.rx_end = match with_deadline(deadline, self.uart.read(dst)).await {
            Err(_) => return Err(Error::Timeout),
            Ok(Err(e)) => return Err(Error::Io(embedded_io::Error::kind(&e))),
            Ok(Ok(0)) => return Err(Error::Io(embedded_io::ErrorKind::BrokenPipe)),
            Ok(Ok(n)) => n,
        };
        Ok(())
    }

    /// Writes bytes to the UART within `deadline`.
    async fn send(&mut self, cmd: &Command<'_>) -> Result<(), Error> {
        debug!("> {}", cmd.name());
        let io = async {
            cmd.write(&mut self.uart).await?;
            self.uart.flush().await
        };
        io_result(with_deadline(Instant::now() + QUICK, io).await)
    }

    /// Waits for the final result and, if `need`, the answer line (before or
    /// after `OK`).
    async fn finish(&mut self, deadline: Instant, catch: &mut Catch<'_>, need: bool) -> Result<(), Error> {
        let mut ok = false;
        loop {
            if ok && (!need || catch.got.is_some()) {
                return Ok(());
            }
            // A failed deferred result needs no `OK` after it.
            if let Some(Err(e)) = catch.got {
                return Err(e);
            }
            match self.event(deadline, catch).await? {
                Ev::Ok => ok = true,
                Ev::Answer => {}
                Ev::Error => return Err(Error::AtError),
                Ev::Cme(e) => return Err(Error::Cme(e)),
                Ev::Connect | Ev::Data(_) | Ev::DataEnd => return Err(Error::Protocol),
            }
        }
    }

    /// Sends `cmd` and waits for `OK` and the wanted line.
    async fn exchange(
        &mut self,
        cmd: &Command<'_>,
        timeout: Duration,
        want: Want<'_>,
        need: bool,
    ) -> Result<Option<Got>, Error> {
        let mut catch = Catch::new(want);
        self.pending = catch.want.result_name();
        self.send(cmd).await?;
        self.finish(Instant::now() + timeout, &mut catch, need).await?;
        catch.got.transpose()
    }

    fn deferred(&self) -> Duration {
        self.rsp_timeout + MARGIN
    }

    /// A two-phase FTP command: `OK`, then its `+QFTPxxx:` line.
    /// The command is built here, from its head and names, so that each
    /// operation's call site holds a few words rather than a `Command`.
    /// `want` defaults to `+<name>: <err>,<number>`.
    async fn ftp(&mut self, op: FileOp, names: Names<'_>, want: Option<Want<'_>>) -> Result<Got, Error> {
        let c = cmd::file_cmd(op, names)?;
        let want = want.unwrap_or(Want::Num(op.result()));
        self.begin(true).await?;
        let r = self.exchange(&c, self.deferred(), want, true).await;
        self.end(r.and_then(|g| g.ok_or(Error::Protocol)))
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

    /// Brings the stream to a known state before a command.
    async fn begin(&mut self, needs_session: bool) -> Result<(), Error> {
        if self.dirty != Dirty::Clean {
            self.resync().await?;
        }
        if self.watch.need_init {
            self.init_at().await?;
        }
        if self.need_close {
            self.close_session().await?;
            self.need_close = false;
            self.watch.session = Session::Closed;
        }
        if needs_session {
            match self.watch.session {
                Session::Open => {}
                Session::Closed => return Err(Error::NotOpen),
                Session::Lost => {
                    self.watch.session = Session::Closed;
                    return Err(Error::SessionClosed);
                }
            }
        }
        self.dirty = Dirty::Stream;
        Ok(())
    }

    /// Records how an operation ended.
    fn end<T>(&mut self, r: Result<T, Error>) -> Result<T, Error> {
        match r {
            Ok(v) => {
                self.dirty = Dirty::Clean;
                Ok(v)
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Records how an operation failed; the error to report. Not inlined:
    /// one copy serves every operation.
    #[inline(never)]
    fn failed(&mut self, e: Error) -> Error {
        match e {
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
            return Error::SessionClosed;
        }
        e
    }

    /// Discards buffered bytes and late answers: leaves data mode if needed,
    /// then probes with `AT+CMEE?` and waits for its own answer.
    async fn resync(&mut self) -> Result<(), Error> {
        debug!("resynchronising");
        let was_data_mode = self.dirty == Dirty::DataMode;
        for attempt in 0..3 {
            if self.dirty == Dirty::DataMode || attempt > 0 {
                // Errors here are fine: the probe decides.
                let _ = self.escape().await;
            }
            self.tok.reset();
            self.rx_start = 0;
            self.rx_end = 0;
            self.rx_cap = self.buf.len();
            if self.probe().await.is_ok() {
                self.settle(was_data_mode).await;
                self.dirty = Dirty::Clean;
                return Ok(());
            }
        }
        Err(Error::Timeout)
    }

    /// After a resynchronisation: waits out the deferred result of an
    /// abandoned command, or, when it does not come (or the command was a
    /// transfer), has the session closed before anything else.
    async fn settle(&mut self, was_data_mode: bool) {
        if self.pending.is_none() {
            return;
        }
        // A transfer broken off in data mode leaves the module's state
        // unknown: close, as the vendor advises. So does a command that
        // already timed out (`need_close` is set).
        if !was_data_mode && !self.need_close {
            let mut nothing = Catch::new(Want::Nothing);
            let deadline = Instant::now() + self.deferred();
            while self.pending.is_some() {
                if self.event(deadline, &mut nothing).await.is_err() {
                    break;
                }
            }
        }
        if self.pending.take().is_some() && self.watch.session == Session::Open {
            self.need_close = true;
        }
    }

    /// `AT+CMEE?`: only an `OK` after `+CMEE:` counts, so a late `OK` of an
    /// abandoned command cannot pass for the probe's answer.
    async fn probe(&mut self) -> Result<(), Error> {
        let mut catch = Catch::new(Want::Cmee);
        // With a CR first: the probe must start a line (see `cmd::probe`).
        self.send(&cmd::probe()).await?;
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match self.event(deadline, &mut catch).await? {
                Ev::Ok if catch.got.is_some() => return Ok(()),
                _ => {}
            }
        }
    }

    /// Sends a guarded `+++` (retried up to three times) and waits for the
    /// module's `OK`. The tokenizer leaves data mode at once.
    async fn escape(&mut self) -> Result<(), Error> {
        self.tok.abort_payload();
        let mut catch = Catch::new(Want::Nothing);
        for _ in 0..3 {
            Timer::after(GUARD).await;
            write_all(&mut self.uart, b"+++", Instant::now() + QUICK).await?;
            Timer::after(GUARD).await;
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                match self.event(deadline, &mut catch).await {
                    Ok(Ev::Ok) => return Ok(()),
                    Ok(_) => {}
                    Err(Error::Timeout) => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Err(Error::Timeout)
    }

    // -----------------------------------------------------------------------
    // Bring-up and PDP.

    async fn init_at(&mut self) -> Result<(), Error> {
        // One await for both commands: each await costs code in every
        // firmware's state machine.
        for step in 0..2 {
            let c = if step == 0 { cmd::echo_off() } else { cmd::cmee_numeric() };
            self.exchange(&c, QUICK, Want::Nothing, false).await.map(drop)?;
        }
        self.watch.need_init = false;
        Ok(())
    }

    /// Brings the module up: waits until it answers `AT` (up to 10 s, for a
    /// module still booting), turns echo off, selects numeric errors and waits
    /// up to 20 s for the SIM to be ready.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn init(&mut self) -> Result<(), Error> {
        self.tok.reset();
        self.rx_start = 0;
        self.rx_end = 0;
        self.dirty = Dirty::Clean;
        let mut alive = false;
        for _ in 0..10 {
            self.dirty = Dirty::Stream;
            match self.exchange(&cmd::at(), Duration::from_secs(1), Want::Nothing, false).await.map(drop) {
                Ok(()) => {
                    alive = true;
                    break;
                }
                Err(Error::Timeout) => self.tok.reset(),
                Err(_) => {}
            }
        }
        if !alive {
            return Err(Error::Timeout);
        }
        // Late answers of the probes above must not confuse what follows.
        self.resync().await?;
        self.init_at().await?;
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.exchange(&cmd::cpin_query(), QUICK, Want::Cpin, true).await;
            match r {
                Ok(Some(Got::Ready(true))) => break,
                Ok(_) | Err(Error::Cme(_)) | Err(Error::AtError) if Instant::now() < until => {
                    Timer::after(Duration::from_secs(1)).await
                }
                Ok(_) => return self.end(Err(Error::Protocol)),
                Err(e) => return self.end(Err(e)),
            }
        }
        self.watch.session = Session::Closed;
        self.end(Ok(()))
    }

    /// Configures PDP context `pdp.cid` and activates it unless `AT+QIACT?`
    /// shows it active already. Returns the local IP address, if the module
    /// reported one.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn activate(&mut self, pdp: &PdpConfig<'_>) -> Result<Option<LocalAddr>, Error> {
        // Checked before anything is sent, built again when sent (a smaller
        // future than one holding every command).
        let csgp = || cmd::qicsgp(pdp.cid, pdp.ip_type as u8, pdp.apn, pdp.user, pdp.password, pdp.auth as u8);
        csgp()?;
        cmd::qiact(pdp.cid)?;
        self.begin(false).await?;
        let mut ip = None;
        let r = async {
            // QICSGP, QIACT? (done if active), QIACT, QIACT?: one await.
            for step in 0..4u8 {
                let (c, timeout) = match step {
                    0 => (csgp()?, QUICK),
                    2 => (cmd::qiact(pdp.cid)?, PDP_ACT),
                    _ => (cmd::qiact_query(), QUICK),
                };
                let want = if step % 2 == 1 { Want::QiAct(pdp.cid, &mut ip) } else { Want::Nothing };
                let got = self.exchange(&c, timeout, want, step == 3).await?;
                if step == 1 && got.is_some() {
                    break;
                }
            }
            Ok(())
        }
        .await;
        if r.is_ok() {
            self.watch.context_id = pdp.cid;
        }
        self.end(r.map(|()| ip))
    }

    /// `AT+QIDEACT=<cid>`. Any FTP session over it is gone.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn deactivate(&mut self, cid: u8) -> Result<(), Error> {
        let c = cmd::qideact(cid)?;
        self.begin(false).await?;
        let r = self.exchange(&c, PDP_DEACT, Want::Nothing, false).await.map(drop);
        if cid == self.watch.context_id {
            self.watch.session = Session::Closed;
        }
        self.end(r)
    }

    // -----------------------------------------------------------------------
    // Configuration.

    /// Applies every `AT+QFTPCFG` setting of `cfg` and, for FTPS, the
    /// `AT+QSSLCFG` settings of its SSL context. Everything is validated
    /// before the first byte is sent.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn configure(&mut self, cfg: &FtpConfig<'_>, ssl: Option<&SslConfig<'_>>) -> Result<(), Error> {
        // Everything is checked first; the commands are built again one at a
        // time below, so that the future holds one command, not six.
        cfg.validate()?;
        cmd::qftpcfg_account(cfg.user, cfg.password)?;
        let ssl = match (cfg.ssl, ssl) {
            (SslType::None, _) => None,
            (_, ssl) => Some(ssl.copied().unwrap_or_default()),
        };
        if let Some(s) = &ssl {
            s.validate()?;
        }
        for step in 0..CONFIG_STEPS {
            config_command(cfg, ssl.as_ref(), step)?;
        }
        self.begin(false).await?;
        let r = async {
            // Every command from one generator, sent at one await.
            for step in 0..CONFIG_STEPS {
                if let Some(c) = config_command(cfg, ssl.as_ref(), step)? {
                    self.exchange(&c, QUICK, Want::Nothing, false).await.map(drop)?;
                }
            }
            Ok(())
        }
        .await;
        if r.is_ok() {
            self.rsp_timeout = Duration::from_secs(cfg.rsp_timeout_s.into());
            self.watch.context_id = cfg.context_id;
        }
        self.end(r)
    }

    /// Reads one numeric `AT+QFTPCFG` setting back from the module.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn setting(&mut self, setting: Setting) -> Result<u32, Error> {
        self.begin(false).await?;
        let r = self.exchange(&cmd::qftpcfg_query(setting.name()), QUICK, Want::Cfg(setting.name()), true).await;
        let r = match r {
            Ok(Some(Got::Num(n))) => u32::try_from(n).map_err(|_| Error::Protocol),
            Ok(_) => Err(Error::Protocol),
            Err(e) => Err(e),
        };
        self.end(r)
    }

    // -----------------------------------------------------------------------
    // The session and file operations.

    /// `AT+QFTPOPEN`: connects and logs in.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn open(&mut self, host: &str, port: u16) -> Result<(), Error> {
        let c = cmd::qftpopen(host, port)?;
        self.begin(false).await?;
        let r = self.exchange(&c, self.deferred(), Want::Num(b"QFTPOPEN"), true).await;
        if r.is_ok() {
            self.watch.session = Session::Open;
        } else if matches!(r, Err(Error::Timeout)) {
            // The module may still finish opening: close it next time.
            self.need_close = true;
        }
        self.end(r.map(drop))
    }

    /// `AT+QFTPCLOSE`: logs out and disconnects. Closing a session that is
    /// not open is not an error.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn close(&mut self) -> Result<(), Error> {
        self.begin(false).await?;
        let r = self.close_session().await;
        self.watch.session = Session::Closed;
        self.need_close = false;
        self.end(r)
    }

    /// `AT+QFTPCLOSE`, riding out `+CME ERROR: 603` (a close already pending)
    /// until `+QFTPCLOSE:` arrives.
    async fn close_session(&mut self) -> Result<(), Error> {
        let until = Instant::now() + self.deferred();
        loop {
            let mut catch = Catch::new(Want::Num(b"QFTPCLOSE"));
            self.send(&cmd::qftpclose()).await?;
            match self.finish(until, &mut catch, true).await {
                // Closed, or there was nothing to close.
                Ok(()) | Err(Error::Ftp { .. }) | Err(Error::AtError) => return Ok(()),
                Err(Error::Cme(CmeError::Code(603))) => {
                    // Busy closing: wait a little for the pending result.
                    let deadline = Instant::now() + Duration::from_secs(1);
                    loop {
                        match self.event(deadline.min(until), &mut catch).await {
                            Ok(Ev::Answer) => return Ok(()),
                            Ok(_) => {}
                            Err(Error::Timeout) if Instant::now() < until => break,
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(Error::Cme(_)) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// `AT+QFTPCWD`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn cwd(&mut self, path: &str) -> Result<(), Error> {
        self.ftp(FileOp::Cwd, Names::One(path), None).await.map(drop)
    }

    /// `AT+QFTPPWD`: the current directory, copied into `buf`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn pwd<'p>(&mut self, buf: &'p mut [u8]) -> Result<&'p str, Error> {
        let n = match self.ftp(FileOp::Pwd, Names::None, Some(Want::Text(FileOp::Pwd.result(), &mut *buf))).await? {
            Got::Text(n) => n,
            _ => return Err(Error::Protocol),
        };
        buf.get(..n).and_then(|b| core::str::from_utf8(b).ok()).ok_or(Error::Protocol)
    }

    /// `AT+QFTPSIZE`: the size of a remote file in bytes.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn size(&mut self, name: &str) -> Result<u64, Error> {
        self.ftp_num(FileOp::Size, Names::One(name)).await
    }

    /// `AT+QFTPDEL`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn delete(&mut self, name: &str) -> Result<(), Error> {
        self.ftp(FileOp::Del, Names::One(name), None).await.map(drop)
    }

    /// `AT+QFTPMKDIR`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn mkdir(&mut self, dir: &str) -> Result<(), Error> {
        self.ftp(FileOp::Mkdir, Names::One(dir), None).await.map(drop)
    }

    /// `AT+QFTPRMDIR`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn rmdir(&mut self, dir: &str) -> Result<(), Error> {
        self.ftp(FileOp::Rmdir, Names::One(dir), None).await.map(drop)
    }

    /// `AT+QFTPRENAME`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn rename(&mut self, old: &str, new: &str) -> Result<(), Error> {
        self.ftp(FileOp::Rename, Names::Two(old, new), None).await.map(drop)
    }

    /// `AT+QFTPMDTM`: a remote file's modification time.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn mdtm(&mut self, name: &str) -> Result<ModifyTime, Error> {
        match self.ftp(FileOp::Mdtm, Names::One(name), Some(Want::Time)).await? {
            Got::Time(t) => Ok(t),
            _ => Err(Error::Protocol),
        }
    }

    /// `AT+QFTPLEN`: bytes moved by the last transfer.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    #[allow(clippy::len_without_is_empty)]
    pub async fn len(&mut self) -> Result<u64, Error> {
        self.ftp_num(FileOp::Len, Names::None).await
    }

    /// `AT+QFTPSTAT`: the module's FTP state. Works without an open session.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn stat(&mut self) -> Result<FtpState, Error> {
        self.begin(false).await?;
        let r = self.exchange(&cmd::qftpstat(), QUICK, Want::Num(b"QFTPSTAT"), true).await;
        self.end(match r {
            Ok(Some(Got::Num(n))) => Ok(FtpState::from_code(n)),
            Ok(_) => Err(Error::Protocol),
            Err(e) => Err(e),
        })
    }

    async fn ftp_num(&mut self, op: FileOp, names: Names<'_>) -> Result<u64, Error> {
        match self.ftp(op, names, None).await? {
            Got::Num(n) => Ok(n),
            _ => Err(Error::Protocol),
        }
    }

    // -----------------------------------------------------------------------
    // Transfers.

    /// Downloads `remote` from `opts.start` into `sink`, in chunks of
    /// `opts.chunk` bytes, each requested with `<startpos>,<downloadlen>` so
    /// the number of payload bytes is always known. The size is asked first
    /// (`AT+QFTPSIZE`); servers that cannot tell get chunks whose end is
    /// confirmed by the modem's count. Every chunk's `+QFTPGET: 0,<n>` is
    /// checked against the bytes received. `progress` sees the bytes moved so
    /// far. Returns the number of bytes written to `sink`.
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode with a guarded `+++`, resynchronises and closes the
    /// session (open it again). Bytes already moved stay moved: resume with
    /// [`Transfer::start`].
    pub async fn get<W: Write>(
        &mut self,
        remote: &str,
        sink: &mut W,
        opts: Transfer,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, Error> {
        cmd::qftpget(remote, COM, opts.start, Some(opts.chunk))?;
        let size = match self.size(remote).await {
            Ok(size) => Some(size),
            Err(Error::Ftp { reply: Some(FtpReply::NotImplemented | FtpReply::SyntaxError), .. }) => None,
            Err(e) => return Err(e),
        };
        let chunk = u64::from(opts.chunk.max(1));
        let mut pos = opts.start;
        loop {
            let want = match size {
                Some(size) => size.saturating_sub(pos).min(chunk),
                None => chunk,
            };
            if want == 0 {
                break;
            }
            let payload = match size {
                Some(_) => Payload::Exact(want),
                None => Payload::Confirmed { result: "QFTPGET", limit: Some(want) },
            };
            // `want` <= `opts.chunk`, a u32.
            let fetch = Fetch::Get { remote, pos, len: want as u32 };
            let n = self.transfer_in(&fetch, payload, b"QFTPGET", sink).await?;
            pos = pos.saturating_add(n);
            progress(pos - opts.start);
            if n < want {
                if size.is_some() {
                    return Err(Error::LengthMismatch { moved: sat32(n), reported: sat32(want) });
                }
                break;
            }
        }
        Ok(pos - opts.start)
    }

    /// Streams a listing of `dir` (`"."` for the current directory) into
    /// `sink`; returns its length. NLST gives names only, MLSD RFC 3659
    /// facts.
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode with a guarded `+++`, resynchronises and closes the
    /// session (open it again). Bytes already moved stay moved: resume with
    /// [`Transfer::start`].
    pub async fn list<W: Write>(&mut self, kind: Listing, dir: &str, sink: &mut W) -> Result<u64, Error> {
        cmd::qftplist(kind, dir, COM)?;
        let name = kind.result_name();
        let payload = Payload::Confirmed { result: name, limit: None };
        self.transfer_in(&Fetch::List(kind, dir), payload, name.as_bytes(), sink).await
    }

    /// One download-direction exchange: command, `CONNECT`, payload into
    /// `sink`, `OK`, and the result line whose count must match.
    async fn transfer_in<W: Write>(
        &mut self,
        fetch: &Fetch<'_>,
        payload: Payload,
        name: &'static [u8],
        sink: &mut W,
    ) -> Result<u64, Error> {
        self.begin(true).await?;
        self.tok.expect_payload(payload);
        let exact = matches!(payload, Payload::Exact(_));
        let mut st = Recv { catch: Catch::new(Want::Num(name)), moved: 0, sent: false };
        // Only the writes to `sink` are generic: the protocol is in
        // `recv_step`, one copy for every sink type.
        let r = loop {
            let data = match self.recv_step(fetch, &mut st, exact).await {
                Ok(Some(Piece::Buf(a, b))) => self.buf.get(a..b).unwrap_or_default(),
                Ok(Some(Piece::Held)) => self.tok.held_payload(),
                Ok(None) => break Ok(st.moved),
                Err(e) => break Err(e),
            };
            if let Err(e) = sink.write_all(data).await {
                break Err(Error::Io(embedded_io::Error::kind(&e)));
            }
            st.moved += data.len() as u64;
        };
        if r.is_err() && self.tok.in_data_mode() {
            self.dirty = Dirty::DataMode;
        }
        self.tok.abort_payload();
        self.end(r)
    }

    /// The next piece of a download's payload; `None` once the payload has
    /// ended, `OK` and the result line came and the counts match. The first
    /// call sends `fetch`'s command. Until the payload: `CONNECT`; an error result or a
    /// final error can come instead.
    async fn recv_step(&mut self, fetch: &Fetch<'_>, st: &mut Recv, exact: bool) -> Result<Option<Piece>, Error> {
        if !st.sent {
            // Built here, not held by the caller across the whole transfer.
            let c = fetch.command()?;
            self.pending = st.catch.want.result_name();
            self.send(&c).await?;
            st.sent = true;
        }
        // `rsptimeout` bounds the gap between two packets.
        let mut deadline = Instant::now() + self.deferred();
        loop {
            if let Some(Err(e)) = st.catch.got {
                return Err(e);
            }
            match self.event(deadline, &mut st.catch).await? {
                // If this future is dropped in data mode, the next call must escape.
                Ev::Connect => self.dirty = Dirty::DataMode,
                Ev::Data(piece) => return Ok(Some(piece)),
                Ev::DataEnd => {
                    self.dirty = Dirty::Stream;
                    break;
                }
                // A success result before the payload is a late one.
                Ev::Answer if matches!(st.catch.got, Some(Ok(_))) => st.catch.got = None,
                Ev::Ok | Ev::Answer => {}
                Ev::Error => return Err(Error::AtError),
                Ev::Cme(e) => return Err(Error::Cme(e)),
            }
            deadline = Instant::now() + self.deferred();
        }
        if exact {
            self.expect_ok_trailer(deadline).await?;
            self.finish_after_ok(&mut st.catch).await?;
        } else {
            self.finish(deadline, &mut st.catch, true).await?;
        }
        match st.catch.got {
            Some(Ok(Got::Num(n))) if n == st.moved => Ok(None),
            Some(Ok(Got::Num(n))) => Err(Error::LengthMismatch { moved: sat32(st.moved), reported: sat32(n) }),
            _ => Err(Error::Protocol),
        }
    }

    /// After an exact-length payload the module prints `\r\nOK\r\n` at
    /// once. Anything else means that the line lost or doubled a byte inside
    /// the payload, whose count then still matches the module's: refuse the
    /// chunk rather than pass corrupt data on.
    async fn expect_ok_trailer(&mut self, deadline: Instant) -> Result<(), Error> {
        const TRAILER: &[u8] = b"\r\nOK\r\n";
        let mut matched = 0;
        while matched < TRAILER.len() {
            if self.rx_start >= self.rx_end {
                self.fill(deadline).await?;
            }
            let avail = self.buf.get(self.rx_start..self.rx_end).unwrap_or_default();
            let n = avail.len().min(TRAILER.len() - matched);
            if avail.get(..n) != TRAILER.get(matched..matched + n) {
                warn!("payload not followed by OK: bytes lost or doubled");
                return Err(Error::Protocol);
            }
            matched += n;
            self.rx_start += n;
        }
        Ok(())
    }

    /// Uploads everything `src` yields to `remote`, starting at `opts.start`
    /// (non-zero resumes/appends). Each chunk goes with
    /// `<uploadlen>,<beof>`, so the module leaves data mode by itself: no
    /// `+++`, no guard time. A chunk is at most `opts.chunk` bytes and at
    /// most the chunk buffer less [`RX_LEN`] + 1. Every chunk's
    /// `+QFTPPUT: 0,<n>` is checked. Returns the bytes uploaded.
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode with a guarded `+++`, resynchronises and closes the
    /// session (open it again). Bytes already moved stay moved: resume with
    /// [`Transfer::start`].
    pub async fn put<R: Read>(
        &mut self,
        remote: &str,
        src: &mut R,
        opts: Transfer,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, Error> {
        cmd::qftpput(remote, COM, opts.start, Some((opts.chunk, true)))?;
        let chunk = (opts.chunk as usize).clamp(1, self.buf.len() - RX_LEN - 1);
        let mut pos = opts.start;
        let mut carry = None;
        loop {
            self.begin(true).await?;
            self.drain();
            self.rx_cap = RX_LEN;
            // Read one byte more than a chunk, to know whether it is the last.
            let data = self.buf.get_mut(RX_LEN..RX_LEN + chunk + 1).unwrap_or_default();
            let mut n = 0;
            if let Some(b) = carry.take() {
                if let Some(first) = data.first_mut() {
                    *first = b;
                    n = 1;
                }
            }
            while n < data.len() {
                match src.read(data.get_mut(n..).unwrap_or_default()).await {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) => {
                        self.rx_cap = self.buf.len();
                        self.dirty = Dirty::Clean;
                        return Err(Error::Io(embedded_io::Error::kind(&e)));
                    }
                }
            }
            let last = n <= chunk;
            if !last {
                carry = data.get(chunk).copied();
                n = chunk;
            }
            let r = self.upload(remote, pos, n as u64, last, None::<&mut R>).await;
            self.rx_cap = self.buf.len();
            self.end(r)?;
            pos = pos.saturating_add(n as u64);
            progress(pos - opts.start);
            if last {
                return Ok(pos - opts.start);
            }
        }
    }

    /// Uploads exactly `len` bytes from `src` to `remote`, starting at
    /// `opts.start`. Knowing the length, each `AT+QFTPPUT` can announce a
    /// chunk of `opts.chunk` bytes however small the chunk buffer is: the
    /// data streams through it. Fewer round trips than [`Ftp::put`], which
    /// matters on a slow network. A source that ends before `len` bytes
    /// gives `Error::Io(InvalidInput)` and the session is closed at the
    /// next call. Returns the bytes uploaded.
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode with a guarded `+++`, resynchronises and closes the
    /// session (open it again). Bytes already moved stay moved: resume with
    /// [`Transfer::start`].
    pub async fn put_sized<R: Read>(
        &mut self,
        remote: &str,
        src: &mut R,
        len: u64,
        opts: Transfer,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, Error> {
        cmd::qftpput(remote, COM, opts.start, Some((opts.chunk, true)))?;
        opts.start.checked_add(len).ok_or(ArgError::OutOfRange)?;
        let chunk = u64::from(opts.chunk.max(1));
        let mut done = 0;
        loop {
            let n = (len - done).min(chunk);
            let last = done + n == len;
            self.begin(true).await?;
            self.drain();
            self.rx_cap = RX_LEN;
            // `n` <= `opts.chunk`, a u32.
            let r = self.upload(remote, opts.start + done, n, last, Some(&mut *src)).await;
            self.rx_cap = self.buf.len();
            self.end(r)?;
            done += n;
            progress(done);
            if last {
                return Ok(done);
            }
        }
    }

    /// One counted upload chunk of `n` bytes (at most `u32::MAX`, checked by
    /// the callers) to `remote` at `pos`: the command, `CONNECT`, the data —
    /// read from `src` through the buffer, or with `None` already at
    /// `buf[RX_LEN..RX_LEN + n]` — and the result, whose count must match.
    async fn upload<R: Read>(
        &mut self,
        remote: &str,
        pos: u64,
        n: u64,
        last: bool,
        src: Option<&mut R>,
    ) -> Result<(), Error> {
        let mut catch = Catch::new(Want::Num(b"QFTPPUT"));
        {
            // Built here, and only held while it is sent.
            let c = cmd::qftpput(remote, COM, pos, Some((sat32(n), last)))?;
            self.pending = catch.want.result_name();
            self.send(&c).await?;
        }
        self.await_connect(&mut catch).await?;
        self.dirty = Dirty::DataMode;
        let gap = self.deferred();
        match src {
            None => {
                let data = self.buf.get(RX_LEN..RX_LEN + n as usize).unwrap_or_default();
                write_all(&mut self.uart, data, Instant::now() + gap).await?;
            }
            Some(src) => {
                let mut left = n;
                while left > 0 {
                    let room = self.buf.get_mut(RX_LEN..).unwrap_or_default();
                    let room = clamp_len(room, left);
                    let k = src.read(room).await.map_err(|e| Error::Io(embedded_io::Error::kind(&e)))?;
                    if k == 0 {
                        return Err(Error::Io(embedded_io::ErrorKind::InvalidInput));
                    }
                    let data = self.buf.get(RX_LEN..RX_LEN + k).unwrap_or_default();
                    write_all(&mut self.uart, data, Instant::now() + gap).await?;
                    left -= k as u64;
                }
            }
        }
        self.dirty = Dirty::Stream;
        self.finish(Instant::now() + self.deferred(), &mut catch, true).await?;
        match catch.got {
            Some(Ok(Got::Num(m))) if m == n => Ok(()),
            Some(Ok(Got::Num(m))) => Err(Error::LengthMismatch { moved: sat32(n), reported: sat32(m) }),
            _ => Err(Error::Protocol),
        }
    }

    /// Waits for `CONNECT` after an upload command; an error result or final
    /// error can come instead.
    async fn await_connect(&mut self, catch: &mut Catch<'_>) -> Result<(), Error> {
        let deadline = Instant::now() + self.deferred();
        loop {
            if let Some(Err(e)) = catch.got {
                return Err(e);
            }
            match self.event(deadline, catch).await? {
                Ev::Connect => return Ok(()),
                // A success result before `CONNECT` is a late one.
                Ev::Answer if matches!(catch.got, Some(Ok(_))) => catch.got = None,
                Ev::Ok | Ev::Answer => {}
                Ev::Error => return Err(Error::AtError),
                Ev::Cme(e) => return Err(Error::Cme(e)),
                Ev::Data(_) | Ev::DataEnd => return Err(Error::Protocol),
            }
        }
    }

    /// Uploads a stream of unknown length the vendor's way: one
    /// `AT+QFTPPUT` without `<uploadlen>`, all data, then a guarded `+++`
    /// (1 s of silence before and after, sent in one write, retried if the
    /// module stays in data mode). Slower than [`Ftp::put`] by the guard
    /// times. Returns the bytes uploaded.
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode with a guarded `+++`, resynchronises and closes the
    /// session (open it again). Bytes already moved stay moved: resume with
    /// [`Transfer::start`].
    pub async fn put_escaped<R: Read>(
        &mut self,
        remote: &str,
        src: &mut R,
        start: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, Error> {
        let c = cmd::qftpput(remote, COM, start, None)?;
        self.begin(true).await?;
        self.drain();
        self.rx_cap = RX_LEN;
        let r = self.stream_escaped(&c, src, progress).await;
        self.rx_cap = self.buf.len();
        self.end(r)
    }

    async fn stream_escaped<R: Read>(
        &mut self,
        c: &Command<'_>,
        src: &mut R,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, Error> {
        let mut catch = Catch::new(Want::Num(b"QFTPPUT"));
        self.pending = catch.want.result_name();
        self.send(c).await?;
        self.await_connect(&mut catch).await?;
        self.dirty = Dirty::DataMode;
        let mut moved = 0u64;
        loop {
            let data = self.buf.get_mut(RX_LEN..).unwrap_or_default();
            let n = src.read(data).await.map_err(|e| Error::Io(embedded_io::Error::kind(&e)))?;
            if n == 0 {
                break;
            }
            let deadline = Instant::now() + self.deferred();
            let data = self.buf.get(RX_LEN..RX_LEN + n).unwrap_or_default();
            write_all(&mut self.uart, data, deadline).await?;
            moved += n as u64;
            progress(moved);
        }
        self.escape().await?;
        self.dirty = Dirty::Stream;
        // `escape` consumed the `OK`; the result line follows.
        self.finish_after_ok(&mut catch).await?;
        match catch.got {
            Some(Ok(Got::Num(m))) if m == moved => Ok(moved),
            Some(Ok(Got::Num(m))) => Err(Error::LengthMismatch { moved: sat32(moved), reported: sat32(m) }),
            _ => Err(Error::Protocol),
        }
    }

    async fn finish_after_ok(&mut self, catch: &mut Catch<'_>) -> Result<(), Error> {
        let deadline = Instant::now() + self.deferred();
        while catch.got.is_none() {
            match self.event(deadline, catch).await? {
                Ev::Error => return Err(Error::AtError),
                Ev::Cme(e) => return Err(Error::Cme(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Aborts a running transfer and brings the session back to a known
    /// state the way the vendor advises: leaves data mode, closes the FTP
    /// session (riding out `+CME ERROR: 603`), and, with `pdp`, deactivates
    /// and reactivates the PDP context. Afterwards [`Ftp::open`] works again.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next call
    /// resynchronises first, and `recover` can simply be called again.
    pub async fn recover(&mut self, pdp: Option<&PdpConfig<'_>>) -> Result<(), Error> {
        self.dirty = Dirty::DataMode;
        self.resync().await?;
        if self.watch.need_init {
            self.init_at().await?;
        }
        self.dirty = Dirty::Stream;
        let r = self.close_session().await;
        self.watch.session = Session::Closed;
        self.need_close = false;
        self.end(r)?;
        if let Some(pdp) = pdp {
            self.deactivate(pdp.cid).await?;
            self.activate(pdp).await?;
        }
        Ok(())
    }
}

/// How many `AT+QSSLCFG` commands an FTPS configuration takes at most.
const SSL_STEPS: u8 = 4;

/// The settings of [`Setting::ALL`], the account, then the SSL commands.
const CONFIG_STEPS: u8 = SETTINGS + 1 + SSL_STEPS;
const SETTINGS: u8 = Setting::ALL.len() as u8;

/// The `step`-th command of a configuration, if there is one.
fn config_command<'a>(
    cfg: &FtpConfig<'a>,
    ssl: Option<&SslConfig<'a>>,
    step: u8,
) -> Result<Option<Command<'a>>, ArgError> {
    Ok(match (Setting::ALL.get(usize::from(step)), ssl) {
        (Some(setting), _) => Some(cmd::qftpcfg_num(setting.name(), setting.value(cfg))),
        (None, _) if step == SETTINGS => Some(cmd::qftpcfg_account(cfg.user, cfg.password)?),
        (None, Some(s)) => ssl_command(cfg.ssl_ctx, s, step.saturating_sub(SETTINGS + 1))?,
        (None, None) => None,
    })
}

/// The `step`-th `AT+QSSLCFG` command for SSL context `ctx`, if there is one.
fn ssl_command<'a>(ctx: u8, s: &SslConfig<'a>, step: u8) -> Result<Option<Command<'a>>, ArgError> {
    Ok(match step {
        0 => Some(cmd::qsslcfg_num("sslversion", ctx, s.version.into())?),
        1 => Some(cmd::qsslcfg_ciphersuite(ctx, s.ciphersuite)?),
        2 => Some(cmd::qsslcfg_num("seclevel", ctx, s.seclevel.into())?),
        _ => s.cacert.map(|f| cmd::qsslcfg_cacert(ctx, f)).transpose()?,
    })
}

/// Writes and flushes `bytes` within `deadline`.
async fn write_all<U: Write>(uart: &mut U, bytes: &[u8], deadline: Instant) -> Result<(), Error> {
    let io = async {
        uart.write_all(bytes).await?;
        uart.flush().await
    };
    io_result(with_deadline(deadline, io).await)
}

/// The error of an I/O operation run under a deadline.
fn io_result<E: embedded_io::Error>(r: Result<Result<(), E>, embassy_time::TimeoutError>) -> Result<(), Error> {
    match r {
        Err(_) => Err(Error::Timeout),
        Ok(Err(e)) => Err(Error::Io(e.kind())),
        Ok(Ok(())) => Ok(()),
    }
}

/// The front of `buf`, at most `limit` bytes long.
fn clamp_len(buf: &mut [u8], limit: u64) -> &mut [u8] {
    let n = usize::try_from(limit).map_or(buf.len(), |l| l.min(buf.len()));
    buf.get_mut(..n).unwrap_or_default()
}

/// A count for [`Error::LengthMismatch`], saturated.
fn sat32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn lost(s: Session) -> Session {
    match s {
        Session::Open => Session::Lost,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addr_keeps_address_text_and_refuses_anything_else() {
        let v4 = LocalAddr::new(b"10.7.157.1").unwrap();
        assert_eq!(v4.as_str(), "10.7.157.1");
        assert_eq!(v4.to_ip(), "10.7.157.1".parse().ok());
        let v6 = LocalAddr::new(b"2001:db8::ffff:10.0.0.1").unwrap();
        assert_eq!(v6.to_ip(), "2001:db8::ffff:10.0.0.1".parse().ok());
        // Not an address: kept out rather than passed on.
        for odd in [&b""[..], b"10.0.0.1\"", b"host.example", b"1.2.3.4 ", &[b'1'; LocalAddr::MAX + 1]] {
            assert_eq!(LocalAddr::new(odd), None, "{:?}", odd);
        }
        // Hex digits and dots only, but no address: text kept, no IpAddr.
        assert_eq!(LocalAddr::new(b"abc.def").unwrap().to_ip(), None);
    }

    #[test]
    fn sat32_saturates() {
        assert_eq!(sat32(5), 5);
        assert_eq!(sat32(u64::MAX), u32::MAX);
    }
}
