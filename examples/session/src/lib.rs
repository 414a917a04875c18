//! The session every firmware example runs, written once.
//!
//! - [`Pattern`]: an `embedded_io_async::Read` yielding a deterministic file
//!   of any length (salted with AT-looking lines such as `\r\nOK\r\n`, so a
//!   driver that is not binary-safe fails the check), and its CRC-32.
//! - [`CrcSink`]: an `embedded_io_async::Write` that counts and checksums.
//! - [`run`]: init, PDP, configuration, login, every file operation of the
//!   client, an upload streamed from a [`Pattern`], its download checked by
//!   CRC, cleanup and close. The first failing step is reported.
//! - [`upload`]: an upload-only session (init, PDP, configuration, login,
//!   one upload, close), for the size report's second image: a firmware
//!   links only the driver code it calls.
//! - [`stub`]: the same non-driver work without the driver (for the size
//!   report's baseline).
#![no_std]

use core::convert::Infallible;
use core::fmt;

use embedded_io_async::{ErrorType, Read, Write};
use quectel_ftp::{Error, Ftp, FtpConfig, FtpState, Listing, PdpConfig, Setting, Transfer};

/// What to do: where to log in, and how large a file to move.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    /// The PDP context to bring up.
    pub pdp: PdpConfig<'a>,
    /// The FTP settings.
    pub ftp: FtpConfig<'a>,
    /// Server host name or address, and port.
    pub host: &'a str,
    pub port: u16,
    /// A directory the session creates, works in and removes.
    pub dir: &'a str,
    /// Length of the generated file in bytes.
    pub len: u32,
    /// Bytes per `AT+QFTPGET`/`AT+QFTPPUT` round trip.
    pub chunk: u32,
}

impl Plan<'static> {
    /// A plan for real hardware, from the build environment: `FTP_HOST`
    /// (default `ftp.example.com`), `FTP_PORT` (21), `FTP_USER` and
    /// `FTP_PASSWORD` (`test`/`test`), `APN` (empty: the network picks).
    pub fn from_build_env() -> Self {
        let port = option_env!("FTP_PORT").and_then(|p| p.parse().ok()).unwrap_or(21);
        Plan {
            pdp: PdpConfig { apn: option_env!("APN").unwrap_or(""), ..PdpConfig::default() },
            ftp: FtpConfig {
                user: option_env!("FTP_USER").unwrap_or("test"),
                password: option_env!("FTP_PASSWORD").unwrap_or("test"),
                ..FtpConfig::default()
            },
            host: option_env!("FTP_HOST").unwrap_or("ftp.example.com"),
            port,
            dir: "quectel-ftp-demo",
            len: 64 * 1024,
            chunk: 4096,
        }
    }
}

/// The steps of [`run`], in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Step {
    Init,
    Activate,
    Configure,
    Setting,
    Stat,
    Open,
    Pwd,
    Mkdir,
    Cwd,
    Put,
    Len,
    Rename,
    Size,
    Mdtm,
    List,
    Nlst,
    Mlsd,
    Get,
    Crc,
    Delete,
    Rmdir,
    Close,
}

impl Step {
    /// The step's name, for logs.
    pub fn name(self) -> &'static str {
        use Step::*;
        match self {
            Init => "init",
            Activate => "activate",
            Configure => "configure",
            Setting => "setting",
            Stat => "stat",
            Open => "open",
            Pwd => "pwd",
            Mkdir => "mkdir",
            Cwd => "cwd",
            Put => "put",
            Len => "len",
            Rename => "rename",
            Size => "size",
            Mdtm => "mdtm",
            List => "list",
            Nlst => "nlst",
            Mlsd => "mlsd",
            Get => "get",
            Crc => "crc",
            Delete => "delete",
            Rmdir => "rmdir",
            Close => "close",
        }
    }
}

/// The step that failed, and the driver's error (`None`: the step
/// succeeded but returned a wrong value).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Failed {
    pub step: Step,
    pub error: Option<Error>,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(e) => write!(f, "step {} failed: {}", self.step.name(), e),
            None => write!(f, "step {} failed: wrong result", self.step.name()),
        }
    }
}

/// What a successful session moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Report {
    /// Bytes uploaded, and downloaded again.
    pub bytes: u64,
    /// CRC-32 of both.
    pub crc: u32,
    /// Bytes of the three listings together.
    pub listed: u64,
}

/// CRC-32 (IEEE 802.3, the one of zip and Ethernet), bitwise: no table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crc32(u32);

impl Crc32 {
    pub const fn new() -> Self {
        Crc32(!0)
    }

    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u32::from(b);
            for _ in 0..8 {
                self.0 = (self.0 >> 1) ^ (0xEDB8_8320 & (self.0 & 1).wrapping_neg());
            }
        }
    }

    pub const fn value(self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// A deterministic file of `len` bytes: pseudo-random bytes, with lines the
/// modem itself prints at the start of every KiB.
pub struct Pattern {
    pos: u32,
    len: u32,
    crc: Crc32,
}

impl Pattern {
    /// Lines a payload must be able to carry.
    const SALT: &'static [u8] = b"\r\nOK\r\n+QFTPGET: 0,1\r\nCONNECT\r\n+++";

    pub fn new(len: u32) -> Self {
        Pattern { pos: 0, len, crc: Crc32::new() }
    }

    /// The byte at offset `i`.
    pub fn byte(i: u32) -> u8 {
        match Self::SALT.get((i % 1024) as usize) {
            Some(&b) => b,
            None => (i.wrapping_mul(0x9E37_79B1) >> 24) as u8 ^ i as u8,
        }
    }

    /// CRC-32 of the bytes yielded so far.
    pub fn crc(&self) -> u32 {
        self.crc.value()
    }

    /// Bytes yielded so far.
    pub fn yielded(&self) -> u32 {
        self.pos
    }
}

impl ErrorType for Pattern {
    type Error = Infallible;
}

impl Read for Pattern {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let n = buf.len().min((self.len - self.pos) as usize);
        let out = &mut buf[..n];
        for b in out.iter_mut() {
            *b = Self::byte(self.pos);
            self.pos += 1;
        }
        self.crc.update(out);
        Ok(n)
    }
}

/// Counts and checksums what is written to it.
#[derive(Default)]
pub struct CrcSink {
    pub crc: Crc32,
    pub len: u64,
}

impl ErrorType for CrcSink {
    type Error = Infallible;
}

impl Write for CrcSink {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.crc.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Counts what is written to it and whether `needle` occurred (a listing
/// that must name a file). Needles must not repeat their first byte.
pub struct Find<'a> {
    needle: &'a [u8],
    matched: usize,
    pub found: bool,
    pub len: u64,
}

impl<'a> Find<'a> {
    pub fn new(needle: &'a str) -> Self {
        Find { needle: needle.as_bytes(), matched: 0, found: false, len: 0 }
    }
}

impl ErrorType for Find<'_> {
    type Error = Infallible;
}

impl Write for Find<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &b in buf {
            if self.needle.get(self.matched) != Some(&b) {
                self.matched = 0;
            }
            if self.needle.get(self.matched) == Some(&b) {
                self.matched += 1;
                self.found |= self.matched == self.needle.len();
            }
        }
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

const TEMP: &str = "upload.part";
const FILE: &str = "pattern.bin";

/// `step!(on_step, Step, future)`: announces the step, awaits the future,
/// tags its error with the step.
macro_rules! step {
    ($on_step:ident, $step:expr, $fut:expr) => {{
        $on_step($step);
        $fut.await.map_err(|e| Failed { step: $step, error: Some(e) })?
    }};
}

/// Runs the whole session. `on_step` is called as each step begins (for
/// logs). On failure the session is left as it is; the caller may
/// [`Ftp::recover`] or [`Ftp::close`].
pub async fn run<U: embedded_io_async::Read + embedded_io_async::Write>(
    ftp: &mut Ftp<'_, U>,
    plan: &Plan<'_>,
    on_step: &mut dyn FnMut(Step),
) -> Result<Report, Failed> {
    let check = |step, ok: bool| if ok { Ok(()) } else { Err(Failed { step, error: None }) };
    let transfer = || Transfer { start: 0, chunk: plan.chunk, ..Transfer::default() };

    step!(on_step, Step::Init, ftp.init());
    step!(on_step, Step::Activate, ftp.activate(&plan.pdp));
    step!(on_step, Step::Configure, ftp.configure(&plan.ftp, None));
    let timeout = step!(on_step, Step::Setting, ftp.setting(Setting::RspTimeout));
    check(Step::Setting, timeout == u32::from(plan.ftp.rsp_timeout_s))?;
    step!(on_step, Step::Open, ftp.open(plan.host, plan.port));
    let mut path = [0u8; 64];
    let home = step!(on_step, Step::Pwd, ftp.pwd(&mut path));
    check(Step::Pwd, home.starts_with('/'))?;
    step!(on_step, Step::Mkdir, ftp.mkdir(plan.dir));
    step!(on_step, Step::Cwd, ftp.cwd(plan.dir));

    let mut src = Pattern::new(plan.len);
    let sent = step!(on_step, Step::Put, ftp.put(TEMP, &mut src, transfer()));
    check(Step::Put, sent == u64::from(plan.len) && src.yielded() == plan.len)?;
    // The last `AT+QFTPPUT` moved the last chunk.
    let moved = step!(on_step, Step::Len, ftp.len());
    check(Step::Len, moved > 0 && moved <= sent)?;
    step!(on_step, Step::Rename, ftp.rename(TEMP, FILE));
    let size = step!(on_step, Step::Size, ftp.size(FILE));
    check(Step::Size, size == sent)?;
    let time = step!(on_step, Step::Mdtm, ftp.mdtm(FILE));
    check(Step::Mdtm, time.year >= 2024 && (1..=12).contains(&time.month))?;

    let mut listed = 0;
    for (step, kind) in [(Step::List, Listing::List), (Step::Nlst, Listing::Nlst), (Step::Mlsd, Listing::Mlsd)] {
        let mut find = Find::new(FILE);
        step!(on_step, step, ftp.list(kind, ".", &mut find));
        check(step, find.found)?;
        listed += find.len;
    }

    let mut sink = CrcSink::default();
    let got = step!(on_step, Step::Get, ftp.get(FILE, &mut sink, transfer()));
    check(Step::Get, got == sent && sink.len == sent)?;
    on_step(Step::Crc);
    check(Step::Crc, sink.crc.value() == src.crc())?;
    let state = step!(on_step, Step::Stat, ftp.stat());
    check(Step::Stat, state == FtpState::Idle)?;

    step!(on_step, Step::Delete, ftp.delete(FILE));
    step!(on_step, Step::Cwd, ftp.cwd(home));
    step!(on_step, Step::Rmdir, ftp.rmdir(plan.dir));
    step!(on_step, Step::Close, ftp.close());
    Ok(Report { bytes: sent, crc: src.crc(), listed })
}

/// An upload-only session: init, PDP, configuration, login, one upload
/// streamed from a [`Pattern`] to `pattern.bin`, close. Nothing else of the
/// client is called, so a firmware running only this links no download,
/// listing or answer parsing code (the size report checks it).
pub async fn upload<U: embedded_io_async::Read + embedded_io_async::Write>(
    ftp: &mut Ftp<'_, U>,
    plan: &Plan<'_>,
    on_step: &mut dyn FnMut(Step),
) -> Result<Report, Failed> {
    step!(on_step, Step::Init, ftp.init());
    step!(on_step, Step::Activate, ftp.activate(&plan.pdp));
    step!(on_step, Step::Configure, ftp.configure(&plan.ftp, None));
    step!(on_step, Step::Open, ftp.open(plan.host, plan.port));
    let mut src = Pattern::new(plan.len);
    let transfer = Transfer { start: 0, chunk: plan.chunk, ..Transfer::default() };
    let sent = step!(on_step, Step::Put, ftp.put(FILE, &mut src, transfer));
    if sent != u64::from(plan.len) || src.yielded() != plan.len {
        return Err(Failed { step: Step::Put, error: None });
    }
    step!(on_step, Step::Close, ftp.close());
    Ok(Report { bytes: sent, crc: src.crc(), listed: 0 })
}

/// The non-driver work of [`run`] without the driver: the file goes from a
/// [`Pattern`] through `buf` into a [`CrcSink`], chunk by chunk, and the
/// CRCs are compared. The size report's baseline.
pub async fn stub(buf: &mut [u8], plan: &Plan<'_>, on_step: &mut dyn FnMut(Step)) -> Result<Report, Failed> {
    let chunk = buf.len().min(plan.chunk as usize).max(1);
    let mut src = Pattern::new(plan.len);
    let mut sink = CrcSink::default();
    on_step(Step::Put);
    loop {
        let Ok(n) = src.read(&mut buf[..chunk]).await;
        if n == 0 {
            break;
        }
        let _ = sink.write_all(&buf[..n]).await;
    }
    on_step(Step::Crc);
    if sink.crc.value() != src.crc() || sink.len != u64::from(plan.len) {
        return Err(Failed { step: Step::Crc, error: None });
    }
    Ok(Report { bytes: sink.len, crc: src.crc(), listed: 0 })
}

/// The non-driver work of [`upload`] without the driver: the file is
/// generated through `buf` chunk by chunk and its CRC taken. The upload-only
/// image's baseline.
pub async fn stub_upload(buf: &mut [u8], plan: &Plan<'_>, on_step: &mut dyn FnMut(Step)) -> Result<Report, Failed> {
    let chunk = buf.len().min(plan.chunk as usize).max(1);
    let mut src = Pattern::new(plan.len);
    on_step(Step::Put);
    loop {
        let Ok(n) = src.read(&mut buf[..chunk]).await;
        if n == 0 {
            break;
        }
    }
    if src.yielded() != plan.len {
        return Err(Failed { step: Step::Put, error: None });
    }
    Ok(Report { bytes: u64::from(src.yielded()), crc: src.crc(), listed: 0 })
}
