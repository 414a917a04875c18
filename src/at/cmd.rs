//! The command writer.
//!
//! A [`Command`] can only be built through the constructors in this module,
//! and each constructor checks every caller-supplied string against the
//! reference's limits before it returns. A refused command therefore never
//! exists, so not a single byte of it can reach the UART.
//!
//! A command is its name and a static *form*: the rest of the line, with
//! one-byte slots where its arguments go (`="\x01",\x05\r` for
//! `AT+QFTPOPEN`). Building one stores a few words; one loop writes any of
//! them, either piece by piece straight to a UART ([`Command::write`],
//! [`Command::write_blocking`]), into a caller-sized buffer
//! ([`Command::encode`]) or a window at a time ([`Command::encode_at`]).

use core::fmt;

use crate::client::Listing;
use crate::error::ArgError;

/// Limit for remote file names and paths (bytes).
pub const MAX_REMOTE: usize = 255;
/// Limit for local (UFS) file names (bytes).
pub const MAX_LOCAL: usize = 80;
/// Limit for host names (bytes).
pub const MAX_HOST: usize = 200;
/// Limit for user names and passwords (bytes each).
pub const MAX_ACCOUNT: usize = 255;
/// Limit for access point names (bytes).
pub const MAX_APN: usize = 100;

/// The local name that routes a transfer through the UART in data mode.
pub const COM: &str = "COM:";

// The slots of a form. A form's own bytes are printable ASCII, so a slot
// can never be mistaken for text.
/// `strs[0]`, `strs[1]`, `strs[2]` as they are (the form holds the quotes).
const S0: u8 = 1;
/// `strs[0]`, `strs[1]`, `strs[2]`, never shown by `Debug` nor in a trace
/// (credentials: user names, passwords, the PIN).
const SECRET0: u8 = 0x11;
const SECRET2: u8 = 0x13;
/// `nums[0]`, `nums[1]`, `nums[2]` in decimal.
const N0: u8 = 5;
/// `nums[2]` in hexadecimal, after `0X`.
const HEX: u8 = 8;

/// A validated AT command line, ready to be written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Command<'a> {
    /// `AT+QFTPOPEN`, `ATE0`, ...
    head: &'static str,
    /// The rest of the line, with slots, ending in `\r`.
    form: &'static [u8],
    strs: [&'a [u8]; 3],
    nums: [u64; 3],
}

/// One piece of a command line: its bytes in a small buffer.
struct Piece {
    buf: [u8; 20],
    start: u8,
}

impl Piece {
    fn as_bytes(&self) -> &[u8] {
        self.buf.get(usize::from(self.start)..).unwrap_or_default()
    }
}

/// `n` in base `radix`: 10, or 16 after `0X`.
fn digits(mut n: u64, radix: u16) -> Piece {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut p = Piece { buf: [0u8; 20], start: 20 };
    // 20 digits hold any u64 in base 10 or 16.
    while let Some(slot) = usize::from(p.start).checked_sub(1).and_then(|i| p.buf.get_mut(i)) {
        let (rest, digit) = super::div_rem_small(n, radix);
        *slot = DIGITS.get(usize::from(digit)).copied().unwrap_or(b'?');
        p.start -= 1;
        n = rest;
        if n == 0 {
            break;
        }
    }
    // At most 16 hex digits: the prefix fits.
    if radix == 16 {
        for b in [b'X', b'0'] {
            p.start -= 1;
            if let Some(slot) = p.buf.get_mut(usize::from(p.start)) {
                *slot = b;
            }
        }
    }
    p
}

/// Checks one caller-supplied string against a byte limit and the forbidden
/// bytes: `"`, CR, LF, any other byte below 0x20, and DEL.
#[inline(never)]
pub fn check_str(s: &str, max: usize, allow_empty: bool) -> Result<&[u8], ArgError> {
    let b = s.as_bytes();
    if b.len() > max {
        return Err(ArgError::TooLong { max: max as u16 });
    }
    if b.is_empty() && !allow_empty {
        return Err(ArgError::Empty);
    }
    match b.iter().position(|&c| c == b'"' || c < 0x20 || c == 0x7F) {
        Some(at) => Err(ArgError::ForbiddenByte { at: at as u16 }),
        None => Ok(b),
    }
}

impl<'a> Command<'a> {
    /// A command without arguments yet. Not inlined: one copy of the
    /// clearing serves every constructor.
    #[inline(never)]
    const fn new(head: &'static str, form: &'static [u8]) -> Self {
        Command { head, form, strs: [&[]; 3], nums: [0; 3] }
    }

    const fn strs(mut self, strs: [&'a [u8]; 3]) -> Self {
        self.strs = strs;
        self
    }

    /// Sets `strs[0]` only; the others stay empty.
    const fn str0(mut self, s: &'a [u8]) -> Self {
        self.strs[0] = s;
        self
    }

    /// Sets `nums[0]` only; the others stay 0.
    const fn num0(mut self, n: u64) -> Self {
        self.nums[0] = n;
        self
    }

    const fn nums(mut self, nums: [u64; 3]) -> Self {
        self.nums = nums;
        self
    }

    /// Calls `f` with each piece of the line in order, the terminator last,
    /// until it returns false. Secrets are shown as `***` if `hide`.
    fn pieces(&self, hide: bool, mut f: impl FnMut(&[u8]) -> bool) {
        if !f(self.head.as_bytes()) {
            return;
        }
        for (i, &b) in self.form.iter().enumerate() {
            let slot = usize::from(b);
            let num = |k: usize| self.nums.get(k).copied().unwrap_or(0);
            // One call of `f` below, so that it is inlined once.
            let number;
            let piece = match b {
                SECRET0..=SECRET2 if hide => b"***",
                S0..=3 | SECRET0..=SECRET2 => self.strs.get(slot.wrapping_sub(1) & 0x0f).copied().unwrap_or_default(),
                N0..=HEX => {
                    number = match b {
                        HEX => digits(num(2), 16),
                        _ => digits(num(slot - usize::from(N0)), 10),
                    };
                    number.as_bytes()
                }
                _ => self.form.get(i..=i).unwrap_or_default(),
            };
            if !f(piece) {
                return;
            }
        }
    }

    /// Writes as much of the command line as fits into `out`, starting at
    /// byte `offset` of the line; returns the number of bytes written (0
    /// once the line is done). Lets a writer stream any command through a
    /// small buffer.
    pub fn encode_at(&self, mut offset: usize, out: &mut [u8]) -> usize {
        let mut n = 0;
        self.pieces(false, |b| {
            let Some(b) = b.get(offset..) else {
                offset -= b.len();
                return true;
            };
            offset = 0;
            let k = b.len().min(out.len() - n);
            if let (Some(dst), Some(src)) = (out.get_mut(n..n + k), b.get(..k)) {
                dst.copy_from_slice(src);
            }
            n += k;
            n < out.len()
        });
        n
    }
}

/// Shows the command as it goes on the wire, without its terminator, with
/// credentials as `***` and control bytes escaped (`\r`): what the
/// client's trace shows.
impl fmt::Display for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut r = Ok(());
        self.pieces(true, |p| {
            r = fmt::Display::fmt(&crate::fmt::Escaped(p.strip_suffix(b"\r").unwrap_or(p)), f);
            r.is_ok()
        });
        r
    }
}

/// As [`Display`](fmt::Display).
impl fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The line with credentials as `***`, as [`Debug`](fmt::Debug) shows it.
#[cfg(feature = "defmt")]
impl defmt::Format for Command<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        self.pieces(true, |p| {
            defmt::write!(f, "{=[u8]:a}", p.strip_suffix(b"\r").unwrap_or(p));
            true
        });
    }
}

// ---------------------------------------------------------------------------
// Constructors. Every caller string goes through `check_str`.

fn remote(s: &str) -> Result<&[u8], ArgError> {
    check_str(s, MAX_REMOTE, false)
}

fn local(s: &str) -> Result<&[u8], ArgError> {
    check_str(s, MAX_LOCAL, false)
}

fn exec(head: &'static str) -> Command<'static> {
    Command::new(head, b"\r")
}

fn query(head: &'static str) -> Command<'static> {
    Command::new(head, b"?\r")
}

/// `ATE0` — echo off.
pub fn echo_off() -> Command<'static> {
    exec("ATE0")
}
/// `AT&D1` — a low-to-high DTR edge leaves data mode (reference section 2).
pub fn dtr_escape() -> Command<'static> {
    exec("AT&D1")
}
/// `AT+CMEE=1` — numeric `+CME ERROR` codes.
pub fn cmee_numeric() -> Command<'static> {
    Command::new("AT+CMEE", b"=1\r")
}
/// `\rAT+CMEE?` — the resynchronisation probe: the lone CR first ends any
/// partial command line (a `+++` that reached a module in command mode,
/// say), so the probe starts a line of its own. One write.
pub fn probe() -> Command<'static> {
    query("\rAT+CMEE")
}
/// `AT+CPIN?` — SIM status.
pub fn cpin_query() -> Command<'static> {
    query("AT+CPIN")
}
/// `AT+CPIN="<pin>"` — enters the SIM PIN: 4 to 8 digits (3GPP TS 31.101
/// section 9.9), never shown by `Debug` nor logged.
pub fn cpin_enter(pin: &str) -> Result<Command<'_>, ArgError> {
    if pin.len() < 4 {
        return Err(ArgError::OutOfRange);
    }
    let digits = check_str(pin, 8, false)?;
    if let Some(at) = digits.iter().position(|c| !c.is_ascii_digit()) {
        return Err(ArgError::ForbiddenByte { at: at as u16 });
    }
    Ok(Command::new("AT+CPIN", b"=\"\x13\"\r").strs([&[], &[], digits]))
}
/// The network queries, each by the name of its answer and the rest of its
/// line: `AT+CEREG?`, `AT+CGREG?`, `AT+CREG?` (registration: EPS, GPRS,
/// circuit switched) and `AT+CSQ` (signal quality).
pub const NETWORK: [(&[u8], &[u8]); 4] =
    [(b"CEREG", b"CEREG?\r"), (b"CGREG", b"CGREG?\r"), (b"CREG", b"CREG?\r"), (b"CSQ", b"CSQ\r")];

/// One of the [`NETWORK`] queries, by the rest of its line.
pub fn network_query(rest: &'static [u8]) -> Command<'static> {
    Command::new("AT+", rest)
}
/// `AT+QICSGP=<cid>,<type>,"<apn>","<user>","<pass>",<auth>`.
pub fn qicsgp<'a>(
    cid: u8,
    ip_type: u8,
    apn: &'a str,
    user: &'a str,
    pass: &'a str,
    auth: u8,
) -> Result<Command<'a>, ArgError> {
    in_range(cid, 1, 16)?;
    in_range(ip_type, 1, 3)?;
    in_range(auth, 0, 3)?;
    let strs =
        [check_str(apn, MAX_APN, true)?, check_str(user, MAX_ACCOUNT, true)?, check_str(pass, MAX_ACCOUNT, true)?];
    Ok(Command::new("AT+QICSGP", b"=\x05,\x06,\"\x01\",\"\x12\",\"\x13\",\x07\r").strs(strs).nums([
        cid.into(),
        ip_type.into(),
        auth.into(),
    ]))
}

/// `AT+QIACT=<cid>`.
pub fn qiact(cid: u8) -> Result<Command<'static>, ArgError> {
    in_range(cid, 1, 16)?;
    Ok(Command::new("AT+QIACT", b"=\x05\r").num0(cid.into()))
}
/// `AT+QIACT?`.
pub fn qiact_query() -> Command<'static> {
    query("AT+QIACT")
}
/// `AT+QIDEACT=<cid>`.
pub fn qideact(cid: u8) -> Result<Command<'static>, ArgError> {
    in_range(cid, 1, 16)?;
    Ok(Command::new("AT+QIDEACT", b"=\x05\r").num0(cid.into()))
}

/// `AT+QFTPCFG="<name>",<value>` for the numeric settings.
pub fn qftpcfg_num(name: &'static str, value: u32) -> Command<'static> {
    Command::new("AT+QFTPCFG", b"=\"\x01\",\x05\r").str0(name.as_bytes()).num0(value.into())
}
/// `AT+QFTPCFG="account","<user>","<pass>"`.
pub fn qftpcfg_account<'a>(user: &'a str, pass: &'a str) -> Result<Command<'a>, ArgError> {
    let strs = [check_str(user, MAX_ACCOUNT, true)?, &[][..], check_str(pass, MAX_ACCOUNT, true)?];
    Ok(Command::new("AT+QFTPCFG", b"=\"account\",\"\x11\",\"\x13\"\r").strs(strs))
}
/// `AT+QFTPCFG="<name>"` — query one setting.
pub fn qftpcfg_query(name: &'static str) -> Command<'static> {
    Command::new("AT+QFTPCFG", b"=\"\x01\"\r").str0(name.as_bytes())
}

/// `AT+QSSLCFG="<param>",<ctx>,<value>` for numeric parameters.
pub fn qsslcfg_num(param: &'static str, ctx: u8, value: u32) -> Result<Command<'static>, ArgError> {
    in_range(ctx, 0, 5)?;
    let c = Command::new("AT+QSSLCFG", b"=\"\x01\",\x05,\x06\r");
    Ok(c.str0(param.as_bytes()).nums([ctx.into(), value.into(), 0]))
}
/// `AT+QSSLCFG="ciphersuite",<ctx>,0X<suite>`.
pub fn qsslcfg_ciphersuite(ctx: u8, suite: u16) -> Result<Command<'static>, ArgError> {
    in_range(ctx, 0, 5)?;
    Ok(Command::new("AT+QSSLCFG", b"=\"ciphersuite\",\x05,\x08\r").nums([ctx.into(), 0, suite.into()]))
}
/// `AT+QSSLCFG="<param>",<ctx>,"<ufs file>"` for the certificate files:
/// `cacert`, `clientcert`, `clientkey`.
pub fn qsslcfg_file<'a>(param: &'static str, ctx: u8, file: &'a str) -> Result<Command<'a>, ArgError> {
    in_range(ctx, 0, 5)?;
    let c = Command::new("AT+QSSLCFG", b"=\"\x02\",\x05,\"\x01\"\r");
    Ok(c.strs([local(file)?, param.as_bytes(), &[]]).num0(ctx.into()))
}

/// `AT+QFTPOPEN="<host>",<port>`.
pub fn qftpopen(host: &str, port: u16) -> Result<Command<'_>, ArgError> {
    if port == 0 {
        return Err(ArgError::OutOfRange);
    }
    let host = check_str(host, MAX_HOST, false)?;
    Ok(Command::new("AT+QFTPOPEN", b"=\"\x01\",\x05\r").str0(host).num0(port.into()))
}

/// The remote names of a file command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Names<'a> {
    /// `AT+QFTPPWD`, `AT+QFTPLEN`.
    None,
    /// CWD, SIZE, DEL, MKDIR, RMDIR, MDTM.
    One(&'a str),
    /// RENAME.
    Two(&'a str, &'a str),
}

/// The FTP file commands, answered by `OK` and then `+QFTP<name>:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileOp {
    Cwd,
    Pwd,
    Size,
    Del,
    Mkdir,
    Rmdir,
    Rename,
    Mdtm,
    Len,
}

impl FileOp {
    fn head(self) -> &'static str {
        match self {
            FileOp::Cwd => "AT+QFTPCWD",
            FileOp::Pwd => "AT+QFTPPWD",
            FileOp::Size => "AT+QFTPSIZE",
            FileOp::Del => "AT+QFTPDEL",
            FileOp::Mkdir => "AT+QFTPMKDIR",
            FileOp::Rmdir => "AT+QFTPRMDIR",
            FileOp::Rename => "AT+QFTPRENAME",
            FileOp::Mdtm => "AT+QFTPMDTM",
            FileOp::Len => "AT+QFTPLEN",
        }
    }

    /// The name of the result line: the head without `AT+`.
    pub(crate) fn result(self) -> &'static [u8] {
        self.head().as_bytes().get(3..).unwrap_or_default()
    }
}

/// A file command with its quoted, checked remote names.
pub(crate) fn file_cmd<'a>(op: FileOp, names: Names<'a>) -> Result<Command<'a>, ArgError> {
    let (form, strs): (&[u8], _) = match names {
        Names::None => (b"\r", [&[][..], &[]]),
        Names::One(path) => (b"=\"\x01\"\r", [remote(path)?, &[]]),
        Names::Two(old, new) => (b"=\"\x01\",\"\x02\"\r", [remote(old)?, remote(new)?]),
    };
    let [a, b] = strs;
    Ok(Command::new(op.head(), form).strs([a, b, &[]]))
}

/// `AT+QFTPSTAT`.
pub fn qftpstat() -> Command<'static> {
    exec("AT+QFTPSTAT")
}
/// `AT+QFTPCLOSE`.
pub fn qftpclose() -> Command<'static> {
    exec("AT+QFTPCLOSE")
}

/// `AT+QFTPLIST="<dir>","<local>"` (likewise NLST, MLSD); `local` is
/// [`COM`] for data mode or a UFS file name.
pub fn qftplist<'a>(kind: Listing, dir: &'a str, local_name: &'a str) -> Result<Command<'a>, ArgError> {
    let head = match kind {
        Listing::List => "AT+QFTPLIST",
        Listing::Nlst => "AT+QFTPNLST",
        Listing::Mlsd => "AT+QFTPMLSD",
    };
    Ok(Command::new(head, b"=\"\x01\",\"\x02\"\r").strs([remote(dir)?, local(local_name)?, &[]]))
}

/// `AT+QFTPPUT="<remote>","<local>",<startpos>[,<uploadlen>,<beof>]`.
/// With `chunk` = `Some((uploadlen, last))` the module leaves data mode by
/// itself after `uploadlen` bytes.
pub fn qftpput<'a>(
    remote_name: &'a str,
    local_name: &'a str,
    startpos: u64,
    chunk: Option<(u32, bool)>,
) -> Result<Command<'a>, ArgError> {
    let (form, len, last): (&[u8], _, _) = match chunk {
        Some((len, last)) => (b"=\"\x01\",\"\x02\",\x05,\x06,\x07\r", len, last),
        None => (b"=\"\x01\",\"\x02\",\x05\r", 0, false),
    };
    let strs = [remote(remote_name)?, local(local_name)?, &[]];
    Ok(Command::new("AT+QFTPPUT", form).strs(strs).nums([startpos, len.into(), last.into()]))
}

/// `AT+QFTPGET="<remote>","<local>",<startpos>[,<downloadlen>]`; a start
/// of 0 without a length is left out (the module's default).
pub fn qftpget<'a>(
    remote_name: &'a str,
    local_name: &'a str,
    startpos: u64,
    len: Option<u32>,
) -> Result<Command<'a>, ArgError> {
    let form: &[u8] = match (startpos, len) {
        (_, Some(_)) => b"=\"\x01\",\"\x02\",\x05,\x06\r",
        (0, None) => b"=\"\x01\",\"\x02\"\r",
        (_, None) => b"=\"\x01\",\"\x02\",\x05\r",
    };
    let strs = [remote(remote_name)?, local(local_name)?, &[]];
    Ok(Command::new("AT+QFTPGET", form).strs(strs).nums([startpos, len.unwrap_or(0).into(), 0]))
}

// ---------------------------------------------------------------------------
// The file store (Quectel FILE AT Commands Manual; reference section 8).
// Names are local names: 80 bytes at most, `UFS:` or `RAM:` prefixed or not.

/// `AT+QFLDS="UFS"` — free and total bytes of the file store.
pub fn qflds() -> Command<'static> {
    Command::new("AT+QFLDS", b"=\"UFS\"\r")
}
/// `AT+QFLST="<pattern>"` — the files whose names match (`*` all).
pub fn qflst(pattern: &str) -> Result<Command<'_>, ArgError> {
    Ok(Command::new("AT+QFLST", b"=\"\x01\"\r").str0(local(pattern)?))
}
/// `AT+QFDEL="<name>"` — deletes a file (`*` deletes all).
pub fn qfdel(name: &str) -> Result<Command<'_>, ArgError> {
    Ok(Command::new("AT+QFDEL", b"=\"\x01\"\r").str0(local(name)?))
}
/// `AT+QFUPL="<name>",<file_size>,<timeout>,<ackmode>` — uploads a file:
/// `<file_size>` bytes follow `CONNECT`; the module leaves data mode after
/// them, or after `<timeout>` seconds without a byte; with `<ackmode>` 1 it
/// sends `A` after each 1 KiB and waits for the host.
pub fn qfupl(name: &str, file_size: u64, timeout_s: u8, ack: bool) -> Result<Command<'_>, ArgError> {
    if timeout_s == 0 {
        return Err(ArgError::OutOfRange);
    }
    let c = Command::new("AT+QFUPL", b"=\"\x01\",\x05,\x06,\x07\r").str0(local(name)?);
    Ok(c.nums([file_size, timeout_s.into(), ack.into()]))
}
/// `AT+QFDWL="<name>"` — downloads a file: `CONNECT`, its bytes, then
/// `+QFDWL: <download_size>,<checksum>`.
pub fn qfdwl(name: &str) -> Result<Command<'_>, ArgError> {
    Ok(Command::new("AT+QFDWL", b"=\"\x01\"\r").str0(local(name)?))
}
/// `AT+QFOPEN="<name>",<mode>` — 0: open or create, 1: create or
/// truncate, 2: read only (the file must exist).
pub fn qfopen(name: &str, mode: u8) -> Result<Command<'_>, ArgError> {
    in_range(mode, 0, 2)?;
    Ok(Command::new("AT+QFOPEN", b"=\"\x01\",\x05\r").str0(local(name)?).num0(mode.into()))
}
/// `AT+QFREAD=<filehandle>,<length>` — `CONNECT <n>`, then exactly `<n>`
/// bytes (fewer than asked at the end of the file).
pub fn qfread(handle: u32, len: u32) -> Command<'static> {
    Command::new("AT+QFREAD", b"=\x05,\x06\r").nums([handle.into(), len.into(), 0])
}
/// `AT+QFCLOSE=<filehandle>`.
pub fn qfclose(handle: u32) -> Command<'static> {
    Command::new("AT+QFCLOSE", b"=\x05\r").num0(handle.into())
}

/// `v` within `lo..=hi`, or [`ArgError::OutOfRange`].
pub(crate) fn in_range(v: u8, lo: u8, hi: u8) -> Result<(), ArgError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(ArgError::OutOfRange)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::{format, vec::Vec};

    /// The line as the client writes it: windows of `window` bytes.
    fn wire_in(c: &Command<'_>, window: usize) -> Vec<u8> {
        let (mut out, mut at, mut buf) = (Vec::new(), 0, [0u8; 64]);
        loop {
            let n = c.encode_at(at, &mut buf[..window]);
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
            at += n;
        }
    }

    fn wire(c: &Command<'_>) -> Vec<u8> {
        wire_in(c, 32)
    }

    fn qftpcwd(path: &str) -> Result<Command<'_>, ArgError> {
        file_cmd(FileOp::Cwd, Names::One(path))
    }

    fn qftpsize(name: &str) -> Result<Command<'_>, ArgError> {
        file_cmd(FileOp::Size, Names::One(name))
    }

    #[test]
    fn documented_command_lines_are_written_exactly() {
        let cases: &[(Command<'_>, &[u8])] = &[
            (qicsgp(1, 1, "CMNBIOT", "", "", 1).unwrap(), b"AT+QICSGP=1,1,\"CMNBIOT\",\"\",\"\",1\r"),
            (qiact(1).unwrap(), b"AT+QIACT=1\r"),
            (qiact_query(), b"AT+QIACT?\r"),
            (qftpcfg_num("contextid", 1), b"AT+QFTPCFG=\"contextid\",1\r"),
            (probe(), b"\rAT+CMEE?\r"),
            (qftpcfg_account("test", "test").unwrap(), b"AT+QFTPCFG=\"account\",\"test\",\"test\"\r"),
            (qftpcfg_query("rsptimeout"), b"AT+QFTPCFG=\"rsptimeout\"\r"),
            (qsslcfg_ciphersuite(0, 0xFFFF).unwrap(), b"AT+QSSLCFG=\"ciphersuite\",0,0XFFFF\r"),
            (qsslcfg_num("seclevel", 0, 0).unwrap(), b"AT+QSSLCFG=\"seclevel\",0,0\r"),
            (qftpopen("hf.quectel.com", 990).unwrap(), b"AT+QFTPOPEN=\"hf.quectel.com\",990\r"),
            (qftpcwd("/").unwrap(), b"AT+QFTPCWD=\"/\"\r"),
            (file_cmd(FileOp::Pwd, Names::None).unwrap(), b"AT+QFTPPWD\r"),
            (
                file_cmd(FileOp::Rename, Names::Two("TEST", "TEST_NEW")).unwrap(),
                b"AT+QFTPRENAME=\"TEST\",\"TEST_NEW\"\r",
            ),
            (
                qftpput("test.txt", COM, 1024, Some((1024, true))).unwrap(),
                b"AT+QFTPPUT=\"test.txt\",\"COM:\",1024,1024,1\r",
            ),
            (qftpput("test_my.txt", COM, 0, None).unwrap(), b"AT+QFTPPUT=\"test_my.txt\",\"COM:\",0\r"),
            (qftpget("test.txt", COM, 0, Some(500)).unwrap(), b"AT+QFTPGET=\"test.txt\",\"COM:\",0,500\r"),
            (
                qftpget("test_my1.txt", "test1.txt", 450, None).unwrap(),
                b"AT+QFTPGET=\"test_my1.txt\",\"test1.txt\",450\r",
            ),
            (qftplist(Listing::List, ".", COM).unwrap(), b"AT+QFTPLIST=\".\",\"COM:\"\r"),
            (qftplist(Listing::Mlsd, "/a", COM).unwrap(), b"AT+QFTPMLSD=\"/a\",\"COM:\"\r"),
            (qftpclose(), b"AT+QFTPCLOSE\r"),
            (qideact(1).unwrap(), b"AT+QIDEACT=1\r"),
            (echo_off(), b"ATE0\r"),
            (cmee_numeric(), b"AT+CMEE=1\r"),
        ];
        for (cmd, expect) in cases {
            // Whatever the window, the same line.
            for window in [1, 3, 32, 64] {
                assert_eq!(wire_in(cmd, window), *expect, "{:?} in windows of {window}", cmd);
            }
        }
    }

    #[test]
    fn injection_and_limits_are_refused_before_anything_exists() {
        let hostile = "a\"\r\nAT+QFDEL=\"*";
        assert_eq!(file_cmd(FileOp::Del, Names::One(hostile)), Err(ArgError::ForbiddenByte { at: 1 }));
        assert_eq!(qftpcwd("a\rb"), Err(ArgError::ForbiddenByte { at: 1 }));
        assert_eq!(qftpcwd("ab\n"), Err(ArgError::ForbiddenByte { at: 2 }));
        assert_eq!(qftpcwd("\x7f"), Err(ArgError::ForbiddenByte { at: 0 }));
        for c in 0u8..0x20 {
            let s = [b'x', c];
            let s = core::str::from_utf8(&s).unwrap();
            assert!(qftpsize(s).is_err(), "byte {c:#x} accepted");
        }
        let long = "n".repeat(256);
        assert_eq!(qftpsize(&long), Err(ArgError::TooLong { max: 255 }));
        assert!(qftpsize(&long[..255]).is_ok());
        assert_eq!(qftpopen(&long[..201], 21), Err(ArgError::TooLong { max: 200 }));
        assert_eq!(qftpget("f", &long[..81], 0, None), Err(ArgError::TooLong { max: 80 }));
        assert_eq!(qftpcfg_account(&long, "p"), Err(ArgError::TooLong { max: 255 }));
        assert_eq!(qftpcfg_account("u", "p\"w"), Err(ArgError::ForbiddenByte { at: 1 }));
        assert_eq!(qftpsize(""), Err(ArgError::Empty));
        assert_eq!(qiact(0), Err(ArgError::OutOfRange));
        assert_eq!(qiact(17), Err(ArgError::OutOfRange));
        assert_eq!(qsslcfg_num("seclevel", 6, 0), Err(ArgError::OutOfRange));
        // UTF-8 beyond ASCII is data, not control.
        assert!(qftpsize("données.bin").is_ok());
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let c = qftpcfg_account("user", "hunter2").unwrap();
        assert_eq!(format!("{:?}", c), "AT+QFTPCFG=\"account\",\"***\",\"***\"");
        let c = qicsgp(1, 1, "apn", "s3cret", "s3cret", 1).unwrap();
        assert_eq!(format!("{:?}", c), "AT+QICSGP=1,1,\"apn\",\"***\",\"***\",1");
        // ... while the wire carries them.
        assert_eq!(wire(&c), b"AT+QICSGP=1,1,\"apn\",\"s3cret\",\"s3cret\",1\r");
        let c = cpin_enter("1234").unwrap();
        assert_eq!(format!("{:?}", c), "AT+CPIN=\"***\"");
        assert_eq!(wire(&c), b"AT+CPIN=\"1234\"\r");
    }

    #[test]
    fn numbers_in_both_radixes() {
        assert_eq!(digits(u64::MAX, 10).as_bytes(), b"18446744073709551615");
        assert_eq!(digits(0xFFFF, 16).as_bytes(), b"0XFFFF");
        assert_eq!(digits(u64::MAX, 16).as_bytes(), b"0XFFFFFFFFFFFFFFFF");
    }
}
