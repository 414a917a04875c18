//! The command writer.
//!
//! A [`Command`] can only be built through the constructors in this module,
//! and each constructor checks every caller-supplied string against the
//! reference's limits before it returns. A refused command therefore never
//! exists, so not a single byte of it can reach the UART.
//!
//! A command is written either piece by piece straight to a UART
//! ([`Command::write`], [`Command::write_blocking`]) or into a caller-sized
//! buffer ([`Command::encode`]).

use core::fmt;

use crate::error::{ArgError, Error};

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

const MAX_ARGS: usize = 6;

/// The staging buffer of [`Command::write`]: most command lines fit.
pub const WRITE_CHUNK: usize = 64;

/// One argument of a command line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg<'a> {
    /// A double-quoted string.
    Quoted(&'a [u8]),
    /// A double-quoted string that must never be shown (passwords).
    Secret(&'a [u8]),
    /// A bare decimal number, as two halves: keeps `Arg` 4-byte aligned,
    /// so a `Command` is a quarter smaller on 32-bit MCUs.
    Num([u32; 2]),
    /// A bare hexadecimal number written as `0X...` (cipher suites).
    Hex(u32),
}

/// A validated AT command line, ready to be written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Command<'a> {
    /// `AT+QFTPOPEN`, `ATE0`, ...
    head: &'static str,
    /// `=`, `?` or nothing.
    suffix: &'static str,
    args: [Arg<'a>; MAX_ARGS],
    len: u8,
}

/// One piece of a command line as it goes to the UART.
#[derive(Clone, Copy)]
pub struct Piece<'a> {
    kind: PieceKind<'a>,
}

#[derive(Clone, Copy)]
enum PieceKind<'a> {
    Bytes(&'a [u8]),
    Digits { buf: [u8; 20], start: u8 },
}

impl Piece<'_> {
    /// The bytes of this piece.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.kind {
            PieceKind::Bytes(b) => b,
            PieceKind::Digits { buf, start } => buf.get(usize::from(*start)..).unwrap_or_default(),
        }
    }
}

/// A decimal argument.
fn num(n: impl Into<u64>) -> Arg<'static> {
    let n = n.into();
    Arg::Num([n as u32, (n >> 32) as u32])
}

fn join([lo, hi]: [u32; 2]) -> u64 {
    u64::from(hi) << 32 | u64::from(lo)
}

fn bytes(b: &[u8]) -> Piece<'_> {
    Piece { kind: PieceKind::Bytes(b) }
}

fn digits(mut n: u64, radix: u16) -> Piece<'static> {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    // 20 digits hold any u64 in base 10 or 16.
    while let Some(slot) = start.checked_sub(1).and_then(|i| buf.get_mut(i)) {
        let (rest, digit) = super::div_rem_small(n, radix);
        *slot = DIGITS.get(usize::from(digit)).copied().unwrap_or(b'?');
        start -= 1;
        n = rest;
        if n == 0 {
            break;
        }
    }
    Piece { kind: PieceKind::Digits { buf, start: start as u8 } }
}

/// Checks one caller-supplied string against a byte limit and the forbidden
/// bytes: `"`, CR, LF, any other byte below 0x20, and DEL.
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
    const fn new(head: &'static str, suffix: &'static str) -> Self {
        Command { head, suffix, args: [Arg::Num([0, 0]); MAX_ARGS], len: 0 }
    }

    /// Appends an argument. The constructors below never pass more than
    /// `MAX_ARGS`; a surplus argument is ignored rather than panicking.
    fn arg(mut self, a: Arg<'a>) -> Self {
        if let Some(slot) = self.args.get_mut(usize::from(self.len)) {
            *slot = a;
            self.len += 1;
        }
        self
    }

    fn args(&self) -> &[Arg<'a>] {
        self.args.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The command's name, e.g. `AT+QFTPOPEN`. Safe to log.
    pub fn name(&self) -> &'static str {
        self.head.trim_start_matches('\r')
    }

    /// The pieces of the command line in order, ending with the `\r`
    /// terminator.
    pub fn pieces(&self) -> impl Iterator<Item = Piece<'a>> + '_ {
        (0..self.piece_count()).map(|i| self.piece(i)).filter(|p| !p.as_bytes().is_empty())
    }

    /// Head, suffix, four pieces per argument, terminator.
    fn piece_count(&self) -> usize {
        3 + 4 * usize::from(self.len)
    }

    /// Piece `i` of the line (possibly empty): indexed rather than iterated,
    /// so that a writer keeps a number, not an iterator, across awaits.
    fn piece(&self, i: usize) -> Piece<'a> {
        let arg = i.wrapping_sub(2) / 4;
        match (i, self.args().get(arg)) {
            (0, _) => bytes(self.head.as_bytes()),
            (1, _) => bytes(self.suffix.as_bytes()),
            (_, None) => bytes(b"\r"),
            (_, Some(a)) => match ((i - 2) % 4, *a) {
                (0, _) if arg == 0 => bytes(b""),
                (0, _) => bytes(b","),
                (1, Arg::Quoted(_) | Arg::Secret(_)) | (3, Arg::Quoted(_) | Arg::Secret(_)) => bytes(b"\""),
                (2, Arg::Quoted(s) | Arg::Secret(s)) => bytes(s),
                (1, Arg::Num(n)) => digits(join(n), 10),
                (1, Arg::Hex(_)) => bytes(b"0X"),
                (2, Arg::Hex(n)) => digits(u64::from(n), 16),
                _ => bytes(b""),
            },
        }
    }

    /// Number of bytes the command line takes, terminator included.
    pub fn encoded_len(&self) -> usize {
        self.pieces().map(|p| p.as_bytes().len()).sum()
    }

    /// Writes the command line into `buf`; returns the number of bytes used.
    /// A buffer that is too small gives [`Error::Overflow`] and its content
    /// is unspecified.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = self.encode_at(0, buf);
        if n < self.encoded_len() {
            return Err(Error::Overflow);
        }
        Ok(n)
    }

    /// Writes as much of the command line as fits into `out`, starting at
    /// byte `offset` of the line; returns the number of bytes written (0
    /// once the line is done). Lets a writer stream any command through a
    /// small buffer.
    pub fn encode_at(&self, mut offset: usize, out: &mut [u8]) -> usize {
        let mut n = 0;
        for i in 0..self.piece_count() {
            let p = self.piece(i);
            let b = p.as_bytes();
            let Some(b) = b.get(offset..) else {
                offset -= b.len();
                continue;
            };
            offset = 0;
            let k = b.len().min(out.len() - n);
            if let (Some(dst), Some(src)) = (out.get_mut(n..n + k), b.get(..k)) {
                dst.copy_from_slice(src);
            }
            n += k;
            if n == out.len() {
                break;
            }
        }
        n
    }

    /// Writes the command line to an async UART, in writes of up to
    /// [`WRITE_CHUNK`] bytes (one write for most commands).
    pub async fn write<W: embedded_io_async::Write>(&self, w: &mut W) -> Result<(), W::Error> {
        let (mut chunk, mut at) = ([0u8; WRITE_CHUNK], 0);
        while let Some(bytes) = self.next_chunk(&mut at, &mut chunk) {
            w.write_all(bytes).await?;
        }
        Ok(())
    }

    /// Writes the command line to a blocking UART, like [`Command::write`].
    pub fn write_blocking<W: embedded_io::Write>(&self, w: &mut W) -> Result<(), W::Error> {
        let (mut chunk, mut at) = ([0u8; WRITE_CHUNK], 0);
        while let Some(bytes) = self.next_chunk(&mut at, &mut chunk) {
            w.write_all(bytes)?;
        }
        Ok(())
    }

    /// The writers' step: the line's bytes from `*at` on, as many as fit in
    /// `chunk`, with `*at` moved past them; `None` once the line is done.
    fn next_chunk<'c>(&self, at: &mut usize, chunk: &'c mut [u8; WRITE_CHUNK]) -> Option<&'c [u8]> {
        let n = self.encode_at(*at, chunk);
        *at += n;
        chunk.get(..n).filter(|b| !b.is_empty())
    }
}

/// Shows the command as it goes on the wire, with secrets replaced by `***`.
impl fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.head)?;
        f.write_str(self.suffix)?;
        for (i, a) in self.args().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match *a {
                Arg::Quoted(s) => write!(f, "\"{}\"", core::str::from_utf8(s).unwrap_or("?"))?,
                Arg::Secret(_) => f.write_str("\"***\"")?,
                Arg::Num(n) => write!(f, "{}", join(n))?,
                Arg::Hex(n) => write!(f, "0X{:X}", n)?,
            }
        }
        Ok(())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Command<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        // Arguments may hold user data; the name is enough to follow a log.
        defmt::write!(f, "{=str}", self.head)
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
    Command::new(head, "")
}

fn write_cmd<'a>(head: &'static str) -> Command<'a> {
    Command::new(head, "=")
}

/// `AT` — is anybody there?
pub fn at() -> Command<'static> {
    exec("AT")
}
/// `ATE0` — echo off.
pub fn echo_off() -> Command<'static> {
    exec("ATE0")
}
/// `AT+CMEE=1` — numeric `+CME ERROR` codes.
pub fn cmee_numeric() -> Command<'static> {
    write_cmd("AT+CMEE").arg(num(1u8))
}
/// `AT+CMEE?` — used as a resynchronisation probe.
pub fn cmee_query() -> Command<'static> {
    Command::new("AT+CMEE", "?")
}
/// `\rAT+CMEE?` — the resynchronisation probe: the lone CR first ends any
/// partial command line (a `+++` that reached a module in command mode,
/// say), so the probe starts a line of its own. One write.
pub fn probe() -> Command<'static> {
    Command::new("\rAT+CMEE", "?")
}
/// `AT+CPIN?` — SIM status.
pub fn cpin_query() -> Command<'static> {
    Command::new("AT+CPIN", "?")
}
/// `ATO` — return to data mode after `+++`.
pub fn ato() -> Command<'static> {
    exec("ATO")
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
    Ok(write_cmd("AT+QICSGP")
        .arg(num(cid))
        .arg(num(ip_type))
        .arg(Arg::Quoted(check_str(apn, MAX_APN, true)?))
        .arg(Arg::Quoted(check_str(user, MAX_ACCOUNT, true)?))
        .arg(Arg::Secret(check_str(pass, MAX_ACCOUNT, true)?))
        .arg(num(auth)))
}

/// `AT+QIACT=<cid>`.
pub fn qiact(cid: u8) -> Result<Command<'static>, ArgError> {
    in_range(cid, 1, 16)?;
    Ok(write_cmd("AT+QIACT").arg(num(cid)))
}
/// `AT+QIACT?`.
pub fn qiact_query() -> Command<'static> {
    Command::new("AT+QIACT", "?")
}
/// `AT+QIDEACT=<cid>`.
pub fn qideact(cid: u8) -> Result<Command<'static>, ArgError> {
    in_range(cid, 1, 16)?;
    Ok(write_cmd("AT+QIDEACT").arg(num(cid)))
}

/// `AT+QFTPCFG="<name>",<value>` for the numeric settings.
pub fn qftpcfg_num(name: &'static str, value: u32) -> Command<'static> {
    write_cmd("AT+QFTPCFG").arg(Arg::Quoted(name.as_bytes())).arg(num(value))
}
/// `AT+QFTPCFG="account","<user>","<pass>"`.
pub fn qftpcfg_account<'a>(user: &'a str, pass: &'a str) -> Result<Command<'a>, ArgError> {
    Ok(write_cmd("AT+QFTPCFG")
        .arg(Arg::Quoted(b"account"))
        .arg(Arg::Quoted(check_str(user, MAX_ACCOUNT, true)?))
        .arg(Arg::Secret(check_str(pass, MAX_ACCOUNT, true)?)))
}
/// `AT+QFTPCFG="<name>"` — query one setting.
pub fn qftpcfg_query(name: &'static str) -> Command<'static> {
    write_cmd("AT+QFTPCFG").arg(Arg::Quoted(name.as_bytes()))
}

/// `AT+QSSLCFG="<param>",<ctx>,<value>` for numeric parameters.
pub fn qsslcfg_num(param: &'static str, ctx: u8, value: u32) -> Result<Command<'static>, ArgError> {
    in_range(ctx, 0, 5)?;
    Ok(write_cmd("AT+QSSLCFG").arg(Arg::Quoted(param.as_bytes())).arg(num(ctx)).arg(num(value)))
}
/// `AT+QSSLCFG="ciphersuite",<ctx>,0X<suite>`.
pub fn qsslcfg_ciphersuite(ctx: u8, suite: u16) -> Result<Command<'static>, ArgError> {
    in_range(ctx, 0, 5)?;
    Ok(write_cmd("AT+QSSLCFG").arg(Arg::Quoted(b"ciphersuite")).arg(num(ctx)).arg(Arg::Hex(suite.into())))
}
/// `AT+QSSLCFG="cacert",<ctx>,"<ufs file>"`.
pub fn qsslcfg_cacert(ctx: u8, file: &str) -> Result<Command<'_>, ArgError> {
    in_range(ctx, 0, 5)?;
    Ok(write_cmd("AT+QSSLCFG").arg(Arg::Quoted(b"cacert")).arg(num(ctx)).arg(Arg::Quoted(local(file)?)))
}

/// `AT+QFTPOPEN="<host>",<port>`.
pub fn qftpopen(host: &str, port: u16) -> Result<Command<'_>, ArgError> {
    if port == 0 {
        return Err(ArgError::OutOfRange);
    }
    Ok(write_cmd("AT+QFTPOPEN").arg(Arg::Quoted(check_str(host, MAX_HOST, false)?)).arg(num(port)))
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
    let head = op.head();
    Ok(match names {
        Names::None => exec(head),
        Names::One(path) => write_cmd(head).arg(Arg::Quoted(remote(path)?)),
        Names::Two(old, new) => write_cmd(head).arg(Arg::Quoted(remote(old)?)).arg(Arg::Quoted(remote(new)?)),
    })
}

/// `AT+QFTPCWD="<path>"`.
pub fn qftpcwd(path: &str) -> Result<Command<'_>, ArgError> {
    file_cmd(FileOp::Cwd, Names::One(path))
}
/// `AT+QFTPPWD`.
pub fn qftppwd() -> Command<'static> {
    exec(FileOp::Pwd.head())
}
/// `AT+QFTPSIZE="<name>"`.
pub fn qftpsize(name: &str) -> Result<Command<'_>, ArgError> {
    file_cmd(FileOp::Size, Names::One(name))
}
/// `AT+QFTPDEL="<name>"`.
pub fn qftpdel(name: &str) -> Result<Command<'_>, ArgError> {
    file_cmd(FileOp::Del, Names::One(name))
}
/// `AT+QFTPMKDIR="<dir>"`.
pub fn qftpmkdir(dir: &str) -> Result<Command<'_>, ArgError> {
    file_cmd(FileOp::Mkdir, Names::One(dir))
}
/// `AT+QFTPRMDIR="<dir>"`.
pub fn qftprmdir(dir: &str) -> Result<Command<'_>, ArgError> {
    file_cmd(FileOp::Rmdir, Names::One(dir))
}
/// `AT+QFTPMDTM="<name>"`.
pub fn qftpmdtm(name: &str) -> Result<Command<'_>, ArgError> {
    file_cmd(FileOp::Mdtm, Names::One(name))
}
/// `AT+QFTPRENAME="<old>","<new>"`.
pub fn qftprename<'a>(old: &'a str, new: &'a str) -> Result<Command<'a>, ArgError> {
    file_cmd(FileOp::Rename, Names::Two(old, new))
}
/// `AT+QFTPLEN`.
pub fn qftplen() -> Command<'static> {
    exec(FileOp::Len.head())
}
/// `AT+QFTPSTAT`.
pub fn qftpstat() -> Command<'static> {
    exec("AT+QFTPSTAT")
}
/// `AT+QFTPCLOSE`.
pub fn qftpclose() -> Command<'static> {
    exec("AT+QFTPCLOSE")
}

/// The three listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Listing {
    /// `AT+QFTPLIST`: the server's long listing.
    List,
    /// `AT+QFTPNLST`: names only.
    Nlst,
    /// `AT+QFTPMLSD`: RFC 3659 facts.
    Mlsd,
}

impl Listing {
    /// The result line's name, e.g. `QFTPLIST`.
    pub fn result_name(self) -> &'static str {
        match self {
            Listing::List => "QFTPLIST",
            Listing::Nlst => "QFTPNLST",
            Listing::Mlsd => "QFTPMLSD",
        }
    }
}

/// `AT+QFTPLIST="<dir>","<local>"` (likewise NLST, MLSD); `local` is
/// [`COM`] for data mode or a UFS file name.
pub fn qftplist<'a>(kind: Listing, dir: &'a str, local_name: &'a str) -> Result<Command<'a>, ArgError> {
    let head = match kind {
        Listing::List => "AT+QFTPLIST",
        Listing::Nlst => "AT+QFTPNLST",
        Listing::Mlsd => "AT+QFTPMLSD",
    };
    Ok(write_cmd(head).arg(Arg::Quoted(remote(dir)?)).arg(Arg::Quoted(local(local_name)?)))
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
    let c = write_cmd("AT+QFTPPUT")
        .arg(Arg::Quoted(remote(remote_name)?))
        .arg(Arg::Quoted(local(local_name)?))
        .arg(num(startpos));
    Ok(match chunk {
        Some((len, last)) => c.arg(num(len)).arg(num(u64::from(last))),
        None => c,
    })
}

/// `AT+QFTPGET="<remote>","<local>",<startpos>[,<downloadlen>]`.
pub fn qftpget<'a>(
    remote_name: &'a str,
    local_name: &'a str,
    startpos: u64,
    len: Option<u32>,
) -> Result<Command<'a>, ArgError> {
    let c = write_cmd("AT+QFTPGET")
        .arg(Arg::Quoted(remote(remote_name)?))
        .arg(Arg::Quoted(local(local_name)?))
        .arg(num(startpos));
    Ok(match len {
        Some(n) => c.arg(num(n)),
        None => c,
    })
}

/// `AT+QFDEL="<ufs name>"` — delete a file from the module's flash.
pub fn qfdel(name: &str) -> Result<Command<'_>, ArgError> {
    Ok(write_cmd("AT+QFDEL").arg(Arg::Quoted(local(name)?)))
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

    fn wire(c: &Command<'_>) -> Vec<u8> {
        let mut buf = [0u8; 600];
        let mut w: &mut [u8] = &mut buf;
        c.write_blocking(&mut w).unwrap();
        let left = w.len();
        buf[..600 - left].to_vec()
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
            (qftppwd(), b"AT+QFTPPWD\r"),
            (qftprename("TEST", "TEST_NEW").unwrap(), b"AT+QFTPRENAME=\"TEST\",\"TEST_NEW\"\r"),
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
            assert_eq!(wire(cmd), *expect, "{:?}", cmd);
            let mut buf = [0u8; 600];
            let n = cmd.encode(&mut buf).unwrap();
            assert_eq!(&buf[..n], *expect);
            assert_eq!(cmd.encoded_len(), expect.len());
        }
    }

    #[test]
    fn injection_and_limits_are_refused_before_anything_exists() {
        let hostile = "a\"\r\nAT+QFDEL=\"*";
        assert_eq!(qftpdel(hostile), Err(ArgError::ForbiddenByte { at: 1 }));
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
    fn passwords_never_show_in_debug() {
        let c = qftpcfg_account("user", "hunter2").unwrap();
        let shown = format!("{:?}", c);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(shown, "AT+QFTPCFG=\"account\",\"user\",\"***\"");
        let c = qicsgp(1, 1, "apn", "u", "s3cret", 1).unwrap();
        assert!(!format!("{:?}", c).contains("s3cret"));
        // ... while the wire carries it.
        assert!(wire(&c).windows(6).any(|w| w == b"s3cret"));
    }

    #[test]
    fn encode_reports_overflow() {
        let c = qftpcwd("/some/long/path").unwrap();
        let mut small = [0u8; 8];
        assert_eq!(c.encode(&mut small), Err(Error::Overflow));
        assert_eq!(digits(u64::MAX, 10).as_bytes(), b"18446744073709551615");
    }
}
