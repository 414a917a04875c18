//! The typed FTP(S) client.
//!
//! [`Ftp`] owns the UART, a tokenizer and the caller's chunk buffer. Each
//! method sends one command (or one short sequence), waits for the final
//! result and the deferred `+QFTPxxx:` line with a deadline derived from the
//! module's `rsptimeout`, and returns a typed value.
//!
//! # How it is built
//!
//! The protocol is written once, as synchronous code without I/O (the
//! private `engine` module): every operation, the bookkeeping around it and
//! the resynchronisation are small coroutines that say what they need next
//! (write these bytes, read until this deadline, sleep until then, hand
//! this payload to the caller). The methods here only perform that: one
//! loop with three awaits (write, read with a deadline, sleep) shared by
//! every operation, plus the await on the caller's sink or source in
//! transfers. A firmware holds one copy of the protocol, the transfers,
//! `init`, `activate`, `configure`, `close` and `recover` are linked only
//! if called (the one-exchange operations share one body, and the answer
//! parsers are shared by all), and no operation's await points are compiled
//! into its tasks.
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
mod engine;

use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};

use embassy_time::{with_deadline, Duration};
use embedded_io_async::{Read, Write};

use crate::at::cmd::{FileOp, Listing, Names};
use crate::at::parse::{FtpState, ModifyTime};
use crate::at::urc::{UrcSink, UrcStats};
use crate::error::Error;
use engine::{Act, Body, Core, Got, Machine, Op};

pub use config::{
    Auth, DataAddress, FileType, FtpConfig, IpType, PdpConfig, Setting, SslConfig, SslType, TransferMode,
};

pub use engine::LINE_LEN;
/// During uploads the first `RX_LEN` bytes of the chunk buffer receive the
/// modem's answers; the rest carries the payload.
pub const RX_LEN: usize = 64;
/// The smallest chunk buffer [`Ftp::new`] accepts.
pub const MIN_BUF: usize = RX_LEN + 64;

/// The `+++` guard time: silence before and after the escape.
pub const GUARD: Duration = Duration::from_millis(1100);
/// Deadline for commands the module answers at once.
const QUICK: Duration = Duration::from_secs(5);
/// Added to the module's `rsptimeout` for the driver's own deadlines (s).
const MARGIN_S: u64 = 5;
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

/// The FTP(S) client over an async UART.
///
/// `U` is any `embedded_io_async::Read + Write`; for a blocking UART wrap it
/// in [`crate::blocking::Uart`] and drive the futures with
/// [`crate::blocking::block_on`].
///
/// The protocol itself is synchronous code (`engine`), shared by every
/// operation and every UART type; the methods here only perform what it
/// asks for: write, read with a deadline, sleep, and move payload between
/// the caller's sources and sinks and the chunk buffer.
pub struct Ftp<'b, U> {
    uart: U,
    core: Core<'b>,
}

impl<'b, U: Read + Write> Ftp<'b, U> {
    /// A client over `uart`, using `buf` for reception and as the upload
    /// chunk buffer (at least [`MIN_BUF`] bytes; 4 KiB or more for full
    /// speed). URCs are counted but not published; see [`Ftp::with_urcs`].
    pub fn new(uart: U, buf: &'b mut [u8]) -> Result<Self, Error> {
        if buf.len() < MIN_BUF {
            return Err(Error::Overflow);
        }
        Ok(Ftp { uart, core: Core::new(buf) })
    }

    /// Publishes every URC to `sink` (see [`crate::at::urc`]).
    pub fn with_urcs(mut self, sink: UrcSink<'b>) -> Self {
        self.core.watch.urcs = sink;
        self
    }

    /// URC counters.
    pub fn urc_stats(&self) -> UrcStats {
        // Lines too long for the tokenizer count as URCs too long to keep.
        let watch = &self.core.watch;
        let mut stats = watch.urcs.stats();
        stats.seen = stats.seen.wrapping_add(watch.overlong);
        stats.too_long = stats.too_long.wrapping_add(watch.overlong);
        stats
    }

    /// Gives the UART back.
    pub fn release(self) -> U {
        self.uart
    }

    /// True while an FTP session is open, as far as the client knows.
    pub fn is_open(&self) -> bool {
        self.core.is_open()
    }

    // -----------------------------------------------------------------------
    // The async edge: the only code that awaits the UART or the clock.

    /// Performs what `m`'s operation asks until it is over or needs the
    /// caller's source or sink.
    async fn drive(&mut self, m: &mut Machine<'_>, body: Body<'b>) -> Act {
        loop {
            let act = self.core.step(m, body);
            let sleep = match act {
                Act::Write(_) | Act::Read => false,
                Act::Sleep => true,
                outside => return outside,
            };
            // One deadline future for every act: a sleep is an act that
            // never finishes by itself.
            let io = async {
                match act {
                    Act::Write(out) => {
                        // `write_all`, without a future of its own.
                        let mut rest = self.core.out(out);
                        while !rest.is_empty() {
                            match self.uart.write(rest).await.map_err(io_error)? {
                                0 => return Err(Error::Io(embedded_io::ErrorKind::WriteZero)),
                                n => rest = rest.get(n..).unwrap_or_default(),
                            }
                        }
                        self.uart.flush().await.map(|()| 0).map_err(io_error)
                    }
                    Act::Read => match self.uart.read(self.core.rx_room()).await {
                        Err(e) => Err(io_error(e)),
                        Ok(0) => Err(Error::Io(embedded_io::ErrorKind::BrokenPipe)),
                        Ok(n) => {
                            self.core.received(n);
                            Ok(n)
                        }
                    },
                    _ => core::future::pending().await,
                }
            };
            let input = match with_deadline(m.deadline(), io).await {
                Err(_) if sleep => Ok(0),
                Err(_) => Err(Error::Timeout),
                Ok(r) => r,
            };
            m.done(input);
        }
    }

    /// Runs an operation that needs no source or sink; `text` receives
    /// `pwd`'s directory or `activate`'s address. Not generic: one copy
    /// serves every such operation.
    async fn exec<'a>(&mut self, op: Op<'a>, text: &'a mut [u8], body: Body<'b>) -> Result<Got, Error> {
        match self.drive(&mut Machine::new(op, text, None), body).await {
            Act::Done(r) => r,
            _ => Err(Error::Protocol),
        }
    }

    /// [`Ftp::exec`], its value converted for the caller.
    fn run<'s, 'a, T: Output>(
        &'s mut self,
        op: Op<'a>,
        text: &'a mut [u8],
        body: Body<'b>,
    ) -> Typed<impl Future<Output = Result<Got, Error>> + use<'s, 'a, 'b, U, T>, T> {
        Typed { fut: self.exec(op, text, body), out: PhantomData }
    }

    /// Runs a download-direction operation, writing its payload to `sink`.
    async fn download<'a, W: Write>(
        &mut self,
        op: Op<'a>,
        body: Body<'b>,
        sink: &mut W,
        progress: Option<&'a mut dyn FnMut(u64)>,
    ) -> Result<u64, Error> {
        // Built here, not passed in: an argument would be kept twice in
        // the future.
        let mut m = Machine::new(op, &mut [], progress);
        loop {
            let outcome = match self.drive(&mut m, body).await {
                Act::Sink(piece) => {
                    let data = self.core.piece(piece);
                    sink.write_all(data).await.map(|()| data.len()).map_err(io_error)
                }
                Act::Done(r) => return r.and_then(Got::num),
                _ => Err(Error::Protocol),
            };
            m.done(outcome);
        }
    }

    /// Runs an upload, reading its data from `src`.
    async fn upload<'a, R: Read>(
        &mut self,
        op: Op<'a>,
        body: Body<'b>,
        src: &mut R,
        progress: Option<&'a mut dyn FnMut(u64)>,
    ) -> Result<u64, Error> {
        let mut m = Machine::new(op, &mut [], progress);
        loop {
            let outcome = match self.drive(&mut m, body).await {
                Act::Source(a, b) => src.read(self.core.room(a, b)).await.map_err(io_error),
                Act::Done(r) => return r.and_then(Got::num),
                _ => Err(Error::Protocol),
            };
            m.done(outcome);
        }
    }

    // -----------------------------------------------------------------------
    // Bring-up and PDP.

    /// Brings the module up: waits until it answers `AT` (up to 10 s, for a
    /// module still booting), turns echo off, selects numeric errors and waits
    /// up to 20 s for the SIM to be ready.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub fn init<'s>(&'s mut self) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U> {
        self.run(Op::Init, &mut [], Core::init)
    }

    /// Configures PDP context `pdp.cid` and activates it unless `AT+QIACT?`
    /// shows it active already. Returns the local IP address, if the module
    /// reported one.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn activate(&mut self, pdp: &PdpConfig<'_>) -> Result<Option<LocalAddr>, Error> {
        let mut text = [0; LocalAddr::MAX];
        Ok(match self.run::<Got>(Op::Activate(pdp), &mut text, Core::activate).await? {
            Got::Text(n) => text.get(..n).and_then(LocalAddr::new),
            _ => None,
        })
    }

    /// `AT+QIDEACT=<cid>`. Any FTP session over it is gone.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub fn deactivate<'s>(&'s mut self, cid: u8) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U> {
        self.run(Op::Deactivate(cid), &mut [], Core::one)
    }

    // -----------------------------------------------------------------------
    // Configuration.

    /// Applies every `AT+QFTPCFG` setting of `cfg` and, for FTPS, the
    /// `AT+QSSLCFG` settings of its SSL context (`ssl`, or the defaults).
    /// Everything is validated before the first byte is sent.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub fn configure<'s>(
        &'s mut self,
        cfg: &'s FtpConfig<'_>,
        ssl: Option<&'s SslConfig<'_>>,
    ) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U> {
        let ssl = match cfg.ssl {
            SslType::None => None,
            _ => Some(ssl.unwrap_or(&SslConfig::DEFAULT)),
        };
        self.run(Op::Configure(cfg, ssl), &mut [], Core::configure)
    }

    /// Reads one numeric `AT+QFTPCFG` setting back from the module.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub fn setting<'s>(&'s mut self, setting: Setting) -> impl Future<Output = Result<u32, Error>> + use<'s, 'b, U> {
        self.run(Op::Setting(setting), &mut [], Core::one)
    }

    // -----------------------------------------------------------------------
    // The session and file operations.

    /// `AT+QFTPOPEN`: connects and logs in.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn open<'s>(
        &'s mut self,
        host: &'s str,
        port: u16,
    ) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U> {
        self.run(Op::Open(host, port), &mut [], Core::one)
    }

    /// `AT+QFTPCLOSE`: logs out and disconnects, riding out `+CME ERROR:
    /// 603` (a close already pending). Closing a session that is not open
    /// is not an error.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub fn close<'s>(&'s mut self) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U> {
        self.run(Op::Close, &mut [], Core::close)
    }

    /// `AT+QFTPCWD`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn cwd<'s>(&'s mut self, path: &'s str) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U> {
        self.run(Op::File(FileOp::Cwd, Names::One(path)), &mut [], Core::one)
    }

    /// `AT+QFTPPWD`: the current directory, copied into `buf`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn pwd<'p>(&mut self, buf: &'p mut [u8]) -> Result<&'p str, Error> {
        let n = match self.run::<Got>(Op::File(FileOp::Pwd, Names::None), buf, Core::one).await? {
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
    pub fn size<'s>(&'s mut self, name: &'s str) -> impl Future<Output = Result<u64, Error>> + use<'s, 'b, U> {
        self.run(Op::File(FileOp::Size, Names::One(name)), &mut [], Core::one)
    }

    /// `AT+QFTPDEL`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn delete<'s>(&'s mut self, name: &'s str) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U> {
        self.run(Op::File(FileOp::Del, Names::One(name)), &mut [], Core::one)
    }

    /// `AT+QFTPMKDIR`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn mkdir<'s>(&'s mut self, dir: &'s str) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U> {
        self.run(Op::File(FileOp::Mkdir, Names::One(dir)), &mut [], Core::one)
    }

    /// `AT+QFTPRMDIR`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn rmdir<'s>(&'s mut self, dir: &'s str) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U> {
        self.run(Op::File(FileOp::Rmdir, Names::One(dir)), &mut [], Core::one)
    }

    /// `AT+QFTPRENAME`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn rename<'s>(
        &'s mut self,
        old: &'s str,
        new: &'s str,
    ) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U> {
        self.run(Op::File(FileOp::Rename, Names::Two(old, new)), &mut [], Core::one)
    }

    /// `AT+QFTPMDTM`: a remote file's modification time.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn mdtm<'s>(&'s mut self, name: &'s str) -> impl Future<Output = Result<ModifyTime, Error>> + use<'s, 'b, U> {
        self.run(Op::File(FileOp::Mdtm, Names::One(name)), &mut [], Core::one)
    }

    /// `AT+QFTPLEN`: bytes moved by the last transfer.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (and closes the
    /// session if it never comes), so it can never pass for a later answer.
    #[allow(clippy::len_without_is_empty)]
    pub fn len<'s>(&'s mut self) -> impl Future<Output = Result<u64, Error>> + use<'s, 'b, U> {
        self.run(Op::File(FileOp::Len, Names::None), &mut [], Core::one)
    }

    /// `AT+QFTPSTAT`: the module's FTP state. Works without an open session.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub fn stat<'s>(&'s mut self) -> impl Future<Output = Result<FtpState, Error>> + use<'s, 'b, U> {
        self.run(Op::Stat, &mut [], Core::one)
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
    pub fn get<'s, W: Write>(
        &'s mut self,
        remote: &'s str,
        sink: &'s mut W,
        opts: Transfer,
        progress: &'s mut dyn FnMut(u64),
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'b, U, W> {
        let op = Op::Get { remote, start: opts.start, chunk: opts.chunk };
        self.download(op, Core::get, sink, Some(progress))
    }

    /// Streams a listing of `dir` (`"."` for the current directory) into
    /// `sink`; returns its length. NLST gives names only, MLSD RFC 3659
    /// facts.
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode with a guarded `+++`, resynchronises and closes the
    /// session (open it again).
    pub fn list<'s, W: Write>(
        &'s mut self,
        kind: Listing,
        dir: &'s str,
        sink: &'s mut W,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'b, U, W> {
        self.download(Op::List(kind, dir), Core::list, sink, None)
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
    pub fn put<'s, R: Read>(
        &'s mut self,
        remote: &'s str,
        src: &'s mut R,
        opts: Transfer,
        progress: &'s mut dyn FnMut(u64),
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'b, U, R> {
        let op = Op::Put { remote, start: opts.start, chunk: opts.chunk };
        self.upload(op, Core::put, src, Some(progress))
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
    pub fn put_sized<'s, R: Read>(
        &'s mut self,
        remote: &'s str,
        src: &'s mut R,
        len: u64,
        opts: Transfer,
        progress: &'s mut dyn FnMut(u64),
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'b, U, R> {
        let op = Op::PutSized { remote, start: opts.start, chunk: opts.chunk, len };
        self.upload(op, Core::put, src, Some(progress))
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
    pub fn put_escaped<'s, R: Read>(
        &'s mut self,
        remote: &'s str,
        src: &'s mut R,
        start: u64,
        progress: &'s mut dyn FnMut(u64),
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'b, U, R> {
        let op = Op::PutEscaped { remote, start };
        self.upload(op, Core::put_escaped, src, Some(progress))
    }

    /// Aborts a running transfer and brings the session back to a known
    /// state the way the vendor advises: leaves data mode, closes the FTP
    /// session (riding out `+CME ERROR: 603`), and, with `pdp`, deactivates
    /// and reactivates the PDP context. Afterwards [`Ftp::open`] works again.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next call
    /// resynchronises first, and `recover` can simply be called again.
    pub async fn recover(&mut self, pdp: Option<&PdpConfig<'_>>) -> Result<(), Error> {
        self.run::<()>(Op::Recover, &mut [], Core::recover).await?;
        if let Some(pdp) = pdp {
            self.deactivate(pdp.cid).await?;
            self.activate(pdp).await?;
        }
        Ok(())
    }
}

/// The future of [`Ftp::exec`], its value converted to `T`. Every
/// one-exchange operation's future is one of these: their common part is
/// polled by one out-of-line function, not compiled into each caller's
/// state machine (an `async` wrapper would be: one per `T`, inlined into
/// every caller; 1.2 KiB more in the QEMU firmware).
///
/// It holds the crate's only `unsafe` block, the pin projection to `fut`.
/// For it to stay sound `Typed` must never implement `Drop` or `Unpin`
/// itself, nor hand out `&mut F`.
struct Typed<F, T> {
    fut: F,
    out: PhantomData<fn() -> T>,
}

impl<F: Future<Output = Result<Got, Error>>, T: Output> Future for Typed<F, T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of
        // `self`, `Typed` has no `Drop`, and it is `Unpin` only if `F` is.
        #[allow(unsafe_code)]
        let fut = unsafe { self.map_unchecked_mut(|t| &mut t.fut) };
        poll_shared(fut, cx).map(|r| r.and_then(T::from_got))
    }
}

/// Polls `f`: one copy for every caller of a future type.
#[inline(never)]
fn poll_shared<F: Future>(f: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
    f.poll(cx)
}

/// What an operation's value becomes for the caller.
trait Output: Sized {
    fn from_got(got: Got) -> Result<Self, Error>;
}

impl Output for Got {
    fn from_got(got: Got) -> Result<Self, Error> {
        Ok(got)
    }
}

impl Output for () {
    fn from_got(_: Got) -> Result<Self, Error> {
        Ok(())
    }
}

impl Output for u64 {
    fn from_got(got: Got) -> Result<Self, Error> {
        got.num()
    }
}

impl Output for u32 {
    fn from_got(got: Got) -> Result<Self, Error> {
        u32::try_from(got.num()?).map_err(|_| Error::Protocol)
    }
}

impl Output for FtpState {
    fn from_got(got: Got) -> Result<Self, Error> {
        got.num().map(FtpState::from_code)
    }
}

impl Output for ModifyTime {
    fn from_got(got: Got) -> Result<Self, Error> {
        match got {
            Got::Time(t) => Ok(t),
            _ => Err(Error::Protocol),
        }
    }
}

fn io_error<E: embedded_io::Error>(e: E) -> Error {
    Error::Io(e.kind())
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::sat32;

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
