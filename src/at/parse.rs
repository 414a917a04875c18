//! Parsers for single response lines (reference sections 5, 6 and 6b).
//!
//! Every parser takes one line without its CR/LF terminator and returns
//! `None` when the line is not of its shape. They accept the spellings seen
//! in the vendor document and on real firmware: optional spaces after `:` and
//! around commas, quoted or bare strings, trailing spaces. They never panic
//! and never allocate; a number that does not fit its type is a parse
//! failure, never a truncated value.

use nom::bytes::complete::take_while1;
use nom::character::complete::{char, space0};
use nom::sequence::delimited;
use nom::{IResult, Parser};

use crate::client::ModifyTime;
use crate::error::CmeError;

/// One field of a result line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Field<'a> {
    /// A bare decimal number.
    Num(u64),
    /// A quoted string's contents (quotes removed), or a bare token that is
    /// not a number.
    Str(&'a [u8]),
}

impl<'a> Field<'a> {
    /// The number, if this field is one.
    pub fn num(self) -> Option<u64> {
        match self {
            Field::Num(n) => Some(n),
            Field::Str(_) => None,
        }
    }

    /// The string, if this field is one.
    pub fn str(self) -> Option<&'a [u8]> {
        match self {
            Field::Str(s) => Some(s),
            Field::Num(_) => None,
        }
    }

    /// Classifies a bare token: all digits is a number (`None` if it
    /// overflows), anything else a string.
    fn from_bare(token: &'a [u8]) -> Option<Self> {
        if token.iter().all(u8::is_ascii_digit) {
            number(token).map(Field::Num)
        } else {
            Some(Field::Str(token))
        }
    }
}

/// A deferred FTP result `+QFTPxxx: <err>,<value>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FtpResult<'a> {
    /// The module's `<err>`: 0 on success.
    pub err: u16,
    /// On success the command's value (length, size, path, time or 0),
    /// otherwise the FTP server's reply code.
    pub value: Field<'a>,
}

/// `+QIACT: <cid>,<state>,<type>,"<ip>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QiAct<'a> {
    /// The PDP context id.
    pub cid: u8,
    /// 1 activated, 0 deactivated.
    pub state: u8,
    /// 1 IPv4, 2 IPv6, 3 IPv4v6.
    pub ctx_type: u8,
    /// The local address; empty when the firmware leaves it out.
    pub ip: &'a [u8],
}

/// `+QFTPCFG: "<name>",<value>[,<value>]`, the answer to a settings query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CfgLine<'a> {
    /// The setting's name, without quotes.
    pub name: &'a [u8],
    /// The first value.
    pub first: Field<'a>,
    /// The second value (the password of `"account"`).
    pub second: Option<Field<'a>>,
}

/// `+QIURC: "<kind>",...`, an unsolicited TCP/IP report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Qiurc<'a> {
    /// `+QIURC: "pdpdeact",<cid>`: the network dropped the PDP context.
    PdpDeact {
        /// The context that was dropped.
        cid: u8,
    },
    /// Any other kind, kept as printed.
    Other {
        /// The kind, without quotes.
        kind: &'a [u8],
        /// The text after the kind's comma (empty if none).
        rest: &'a [u8],
    },
}

/// `+NAME: rest` split: returns (`b"NAME"` without `+`, the rest after `:`
/// with leading spaces trimmed).
pub fn prefixed(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let name = take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b' ' || b == b'_');
    let parsed: Res<'_, _> = delimited(char('+'), name, (char(':'), space0)).parse(line);
    parsed.ok().map(|(rest, name)| (name, rest))
}

/// Parses the result line for command `name` (e.g. `b"QFTPSIZE"`); `None` if
/// the line is not that command's result.
///
/// Accepts `+QFTPSIZE: 0,1000`, `+QFTPSIZE: 1000` (err 0), `+QFTPSIZE:88752`,
/// `+QFTPSIZE: 627,550`, `+QFTPPWD: 0,"/"`, `+QFTPPWD: 0, "/"`, `+QFTPPWD: 0,/`
/// and `+QFTPMDTM: 0,"20140708110039"`. An unquoted value is the rest of the
/// line (a bare path may hold spaces and commas); if it is all digits it is
/// a [`Field::Num`].
pub fn ftp_result<'a>(line: &'a [u8], name: &[u8]) -> Option<FtpResult<'a>> {
    match fields(body(line, name)?, 1).as_slice() {
        [value] => Some(FtpResult { err: 0, value: Field::Num(value.num()?) }),
        [err, value] => Some(FtpResult { err: err.num()?, value: value.field()? }),
        _ => None,
    }
}

/// Parses `+QIACT: <cid>,<state>,<type>,"<ip>"` (the address quoted or bare,
/// or left out).
pub fn qiact(line: &[u8]) -> Option<QiAct<'_>> {
    let (cid, state, ctx_type, ip) = match fields(body(line, b"QIACT")?, NO_REST).as_slice() {
        [cid, state, ctx_type] => (cid.num()?, state.num()?, ctx_type.num()?, &[][..]),
        [cid, state, ctx_type, ip] => (cid.num()?, state.num()?, ctx_type.num()?, ip.text),
        _ => return None,
    };
    Some(QiAct { cid, state, ctx_type, ip })
}

/// Parses `+QFTPCFG: "<name>",<value>[,<value>]`.
pub fn qftpcfg(line: &[u8]) -> Option<CfgLine<'_>> {
    let (name, first, second) = match fields(body(line, b"QFTPCFG")?, NO_REST).as_slice() {
        [name, first] => (name.text, first.field()?, None),
        [name, first, second] => (name.text, first.field()?, Some(second.field()?)),
        _ => return None,
    };
    Some(CfgLine { name, first, second })
}

/// Parses a `+QFTPMDTM` time, `YYYYMMDDHHMMSS` or `YYYYMMDDHHMMSS.NNN` (the
/// unquoted string field), checking each part's range.
pub fn mdtm_time(s: &[u8]) -> Option<ModifyTime> {
    let s = s.trim_ascii_end();
    let (clock, millis) = match s {
        [clock @ .., b'.', a, b, c] => (clock, Some(number([*a, *b, *c].as_slice())?)),
        _ => (s, None),
    };
    if clock.len() != 14 {
        return None;
    }
    // Fixed-width runs of digits: year, then two digits each.
    let two = |at: usize| clock.get(at..at + 2).and_then(number::<u8>);
    let time = ModifyTime {
        year: clock.get(..4).and_then(number)?,
        month: two(4)?,
        day: two(6)?,
        hour: two(8)?,
        minute: two(10)?,
        second: two(12)?,
        millis,
    };
    time.is_valid().then_some(time)
}

/// Parses the value of `+QFTPMDTM: 0,<time>`, quoted or bare (a bare time
/// reads as a [`Field::Num`], whose 14 digits are rebuilt here).
pub fn mdtm_value(value: Field<'_>) -> Option<ModifyTime> {
    match value {
        Field::Str(s) => mdtm_time(s),
        Field::Num(n) if n < 100_000_000_000_000 => {
            let mut digits = [0u8; 14];
            let mut rest = n;
            for d in digits.iter_mut().rev() {
                let (next, digit) = super::div_rem_small(rest, 10);
                *d = b'0' + digit as u8;
                rest = next;
            }
            mdtm_time(&digits)
        }
        Field::Num(_) => None,
    }
}

/// Parses `+QIURC: "pdpdeact",<cid>` and keeps other kinds as
/// [`Qiurc::Other`].
pub fn qiurc(line: &[u8]) -> Option<Qiurc<'_>> {
    let (kind, after) = item(body(line, b"QIURC")?, is_comma)?;
    // The rest is kept as the module printed it, quotes and all.
    let rest = match after.trim_ascii_start() {
        [] => &[][..],
        [b',', rest @ ..] => rest.trim_ascii(),
        _ => return None,
    };
    if same_text(kind.text, b"pdpdeact") {
        Some(Qiurc::PdpDeact { cid: number(rest)? })
    } else {
        Some(Qiurc::Other { kind: kind.text, rest })
    }
}

/// Parses `+CME ERROR: 603` (numeric) or `+CME ERROR: SIM not inserted`
/// (verbose). Common 3GPP texts map to their numbers, case-insensitively;
/// other texts become [`CmeError::Text`] with an FNV-1a hash of the trimmed
/// text.
pub fn cme_error(line: &[u8]) -> Option<CmeError> {
    // The common numeric form, without the general field grammar.
    if let Some(code) = line.strip_prefix(b"+CME ERROR: ").and_then(number::<u16>) {
        return Some(CmeError::Code(code));
    }
    match fields(body(line, b"CME ERROR")?, 0).as_slice() {
        [item] => match item.field()? {
            Field::Num(n) => u16::try_from(n).ok().map(CmeError::Code),
            Field::Str(text) => Some(verbose_cme(text)),
        },
        _ => None,
    }
}

/// Parses `+CPIN: <status>` and returns the status (e.g. `b"READY"`).
pub fn cpin(line: &[u8]) -> Option<&[u8]> {
    match fields(body(line, b"CPIN")?, 0).as_slice() {
        [status] => Some(status.text),
        _ => None,
    }
}

/// Parses the answer to a registration query, `+<name>: <n>,<stat>[,...]`
/// (`name` is `CEREG`, `CGREG` or `CREG`), to `<stat>`. The unsolicited
/// form, `+<name>: <stat>[,"<tac>",...]`, has no number second and is not
/// an answer.
pub fn creg(line: &[u8], name: &[u8]) -> Option<u8> {
    match fields(body(line, name)?, 2).as_slice() {
        [n, stat, ..] => n.num::<u8>().and(stat.num()),
        _ => None,
    }
}

/// Parses `+CSQ: <rssi>,<ber>` to `<rssi>` (0–31, 99 unknown).
pub fn csq(line: &[u8]) -> Option<u8> {
    match fields(body(line, b"CSQ")?, 2).as_slice() {
        [rssi, _] => rssi.num(),
        _ => None,
    }
}

/// Parses `+QFLST: "<name>",<size>` or `+QFLST: <name>,<size>`.
pub fn qflst(line: &[u8]) -> Option<(&[u8], u64)> {
    match fields(body(line, b"QFLST")?, NO_REST).as_slice() {
        [name, size] => Some((name.text, size.num()?)),
        _ => None,
    }
}

/// Parses the end of a file moved to or from the file store,
/// `+QFUPL: <upload_size>,<checksum>` or `+QFDWL: <download_size>,<checksum>`
/// (`name` without `+`), the checksum in hexadecimal (`613e`).
pub fn file_moved(line: &[u8], name: &[u8]) -> Option<(u64, u16)> {
    match fields(body(line, name)?, NO_REST).as_slice() {
        [size, checksum] => Some((size.num()?, hex16(checksum.text)?)),
        _ => None,
    }
}

/// Parses `+QFLDS: <free_size>,<total_size>` (bytes; or, for `AT+QFLDS`
/// without a storage, `<used>,<files>`).
pub fn qflds(line: &[u8]) -> Option<(u64, u64)> {
    match fields(body(line, b"QFLDS")?, NO_REST).as_slice() {
        [a, b] => Some((a.num()?, b.num()?)),
        _ => None,
    }
}

/// Parses `+QFOPEN: <filehandle>`.
pub fn qfopen(line: &[u8]) -> Option<u32> {
    match fields(body(line, b"QFOPEN")?, NO_REST).as_slice() {
        [handle] => handle.num(),
        _ => None,
    }
}

/// The value of 1 to 4 hexadecimal digits, either case.
fn hex16(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 4 {
        return None;
    }
    digits.iter().try_fold(0u16, |n, &b| Some(n << 4 | char::from(b).to_digit(16)? as u16))
}

type Res<'a, T> = IResult<&'a [u8], T, ()>;

/// One comma-separated item of a result line: a quoted string's contents,
/// or a bare token with its trailing spaces trimmed.
#[derive(Clone, Copy)]
struct Item<'a> {
    text: &'a [u8],
    quoted: bool,
}

impl<'a> Item<'a> {
    /// A bare decimal number that fits `T`.
    fn num<T: TryFrom<u64>>(self) -> Option<T> {
        if self.quoted {
            return None;
        }
        number(self.text)
    }

    /// As a [`Field`]: a quoted string, or a bare token, which is a number
    /// if it is all digits (`None` if that overflows).
    fn field(self) -> Option<Field<'a>> {
        match self.quoted {
            true => Some(Field::Str(self.text)),
            false => Field::from_bare(self.text),
        }
    }
}

/// The items of one line, at most [`Items::MAX`].
struct Items<'a> {
    items: [Item<'a>; Items::MAX],
    len: usize,
}

impl<'a> Items<'a> {
    const MAX: usize = 4;

    fn as_slice(&self) -> &[Item<'a>] {
        self.items.get(..self.len).unwrap_or_default()
    }
}

/// For [`fields`]: no item takes the rest of the line.
const NO_REST: usize = usize::MAX;

/// Splits a result line's body into its items: quoted strings or bare
/// tokens, separated by commas with optional spaces around them. The item
/// at index `rest` is the rest of the line (a bare path may hold commas).
/// No items at all if one is empty or malformed, or there are more than
/// [`Items::MAX`] (every line has at least one). Returned as it is, not in
/// an `Option`: each caller would copy it out. One parser serves every
/// result line.
#[inline(never)]
fn fields(body: &[u8], rest: usize) -> Items<'_> {
    let mut out = Items { items: [Item { text: &[], quoted: false }; Items::MAX], len: 0 };
    if split(body, rest, &mut out).is_none() {
        out.len = 0;
    }
    out
}

/// [`fields`]' loop; `None` if the line is malformed.
fn split<'a>(body: &'a [u8], rest: usize, out: &mut Items<'a>) -> Option<()> {
    let mut input = body;
    loop {
        let (item, after) = item(input, if out.len == rest { never } else { is_comma })?;
        *out.items.get_mut(out.len)? = item;
        out.len += 1;
        match after.trim_ascii_start() {
            [] => return Some(()),
            [b',', next @ ..] => input = next.trim_ascii_start(),
            _ => return None,
        }
    }
}

/// The item at the start of `input`, and what follows it. A quoted item is
/// a double-quoted string's contents (AT strings have no escapes); a bare
/// one ends where `stop` matches, is never empty, never starts with a
/// quote, and has its trailing spaces trimmed. Not inlined: `fields` and
/// `qiurc` share it.
#[inline(never)]
fn item(input: &[u8], stop: fn(u8) -> bool) -> Option<(Item<'_>, &[u8])> {
    if let [b'"', rest @ ..] = input {
        let (text, after) = rest.split_at_checked(rest.iter().position(|&b| b == b'"')?)?;
        return Some((Item { text, quoted: true }, after.get(1..)?));
    }
    let (text, after) = input.split_at_checked(input.iter().position(|&b| stop(b)).unwrap_or(input.len()))?;
    let text = text.trim_ascii_end();
    (!text.is_empty()).then_some((Item { text, quoted: false }, after))
}

/// ASCII text compared case-insensitively. One copy for every parser.
#[inline(never)]
pub(crate) fn same_text(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The text after `+<name>:`, if the line has that prefix.
fn body<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let (found, rest) = prefixed(line)?;
    (found == name).then_some(rest)
}

/// The value of a non-empty run of ASCII digits, if it fits `T`.
fn number<T: TryFrom<u64>>(digits: &[u8]) -> Option<T> {
    T::try_from(decimal(digits)?).ok()
}

/// The value of a non-empty run of ASCII digits, if it fits `u64`. One
/// copy for every [`number`] type.
#[inline(never)]
pub(crate) fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn is_comma(b: u8) -> bool {
    b == b','
}

fn never(_: u8) -> bool {
    false
}

/// Maps a verbose `+CME ERROR` text to its 3GPP TS 27.007 number.
fn verbose_cme(text: &[u8]) -> CmeError {
    const KNOWN: &[(&[u8], u16)] = &[
        (b"operation not allowed", 3),
        (b"operation not supported", 4),
        (b"SIM not inserted", 10),
        (b"SIM PIN required", 11),
        (b"SIM PUK required", 12),
        (b"SIM failure", 13),
        (b"SIM busy", 14),
        (b"SIM wrong", 15),
        (b"incorrect password", 16),
        (b"memory full", 20),
        (b"invalid index", 21),
        (b"not found", 22),
        (b"no network service", 30),
        (b"network timeout", 31),
        (b"unknown", 100),
    ];
    match KNOWN.iter().find(|(known, _)| same_text(known, text)) {
        Some(&(_, code)) => CmeError::Code(code),
        None => CmeError::Text { hash: fnv1a(text) },
    }
}

/// 32-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &b| (hash ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    use Field::{Num, Str};

    /// A table row: a line and what the parser under test makes of it.
    type Row<T> = (&'static [u8], Option<T>);

    const fn ok(err: u16, value: Field<'static>) -> Option<FtpResult<'static>> {
        Some(FtpResult { err, value })
    }

    /// (line, command name, expected): every `+QFTPxxx:` shape of sections
    /// 4, 5, 6 and 6b, then rejections.
    #[rustfmt::skip]
    const FTP_RESULTS: &[(&[u8], &[u8], Option<FtpResult>)] = &[
        // Section 5.
        (b"+QFTPOPEN: 0,0",                        b"QFTPOPEN",   ok(0, Num(0))),
        (b"+QFTPCWD: 0,0",                         b"QFTPCWD",    ok(0, Num(0))),
        (br#"+QFTPPWD: 0,"/""#,                    b"QFTPPWD",    ok(0, Str(b"/"))),
        (b"+QFTPMKDIR: 0,0",                       b"QFTPMKDIR",  ok(0, Num(0))),
        (b"+QFTPRENAME: 0,0",                      b"QFTPRENAME", ok(0, Num(0))),
        (b"+QFTPRMDIR: 0,0",                       b"QFTPRMDIR",  ok(0, Num(0))),
        (b"+QFTPSIZE: 0,1000",                     b"QFTPSIZE",   ok(0, Num(1000))),
        (br#"+QFTPMDTM: 0,"20140708110039""#,      b"QFTPMDTM",   ok(0, Str(b"20140708110039"))),
        (b"+QFTPDEL: 0,0",                         b"QFTPDEL",    ok(0, Num(0))),
        (b"+QFTPSTAT: 0,1",                        b"QFTPSTAT",   ok(0, Num(1))),
        (b"+QFTPPUT: 0,1000",                      b"QFTPPUT",    ok(0, Num(1000))),
        (b"+QFTPPUT: 0,1024",                      b"QFTPPUT",    ok(0, Num(1024))),
        (b"+QFTPGET: 0,500",                       b"QFTPGET",    ok(0, Num(500))),
        (b"+QFTPGET: 0,550",                       b"QFTPGET",    ok(0, Num(550))),
        (b"+QFTPLEN: 0,550",                       b"QFTPLEN",    ok(0, Num(550))),
        (b"+QFTPLIST: 0,1000",                     b"QFTPLIST",   ok(0, Num(1000))),
        (b"+QFTPCLOSE: 0,0",                       b"QFTPCLOSE",  ok(0, Num(0))),
        // Section 4.
        (b"+QFTPOPEN: 604,0",                      b"QFTPOPEN",   ok(604, Num(0))),
        (b"+QFTPNLST: 0,120",                      b"QFTPNLST",   ok(0, Num(120))),
        (b"+QFTPMLSD: 0,300",                      b"QFTPMLSD",   ok(0, Num(300))),
        (br#"+QFTPMDTM: 0,"20140708110039.123""#,  b"QFTPMDTM",   ok(0, Str(b"20140708110039.123"))),
        // Section 6.
        (br#"+QFTPPWD: 0, "/""#,                   b"QFTPPWD",    ok(0, Str(b"/"))),
        (b"+QFTPSIZE: 1000",                       b"QFTPSIZE",   ok(0, Num(1000))),
        (br#"+QFTPMDTM: 0, "20140708110039""#,     b"QFTPMDTM",   ok(0, Str(b"20140708110039"))),
        (b"+QFTPLEN: 0,1000",                      b"QFTPLEN",    ok(0, Num(1000))),
        (b"+QFTPNLSD: 0,300",                      b"QFTPNLSD",   ok(0, Num(300))),
        // Section 6b.
        (b"+QFTPPWD: 0,/",                         b"QFTPPWD",    ok(0, Str(b"/"))),
        (b"+QFTPSIZE: 627,550",                    b"QFTPSIZE",   ok(627, Num(550))),
        (b"+QFTPSIZE:88752",                       b"QFTPSIZE",   ok(0, Num(88752))),
        (b"+QFTPGET: 627,150",                     b"QFTPGET",    ok(627, Num(150))),
        (b"+QFTPOPEN: 606,0",                      b"QFTPOPEN",   ok(606, Num(0))),
        // Tolerated variations.
        (b"+QFTPSIZE: 0,1000  ",                   b"QFTPSIZE",   ok(0, Num(1000))),
        (b"+QFTPSIZE: 0 , 1000",                   b"QFTPSIZE",   ok(0, Num(1000))),
        (br#"+QFTPPWD: 0,"/my dir" "#,             b"QFTPPWD",    ok(0, Str(b"/my dir"))),
        (b"+QFTPPWD: 0,/my dir, old  ",            b"QFTPPWD",    ok(0, Str(b"/my dir, old"))),
        (br#"+QFTPPWD: 0,"""#,                     b"QFTPPWD",    ok(0, Str(b""))),
        (b"+QFTPPWD: 627,550",                     b"QFTPPWD",    ok(627, Num(550))),
        (b"+QFTPSIZE: 0,18446744073709551615",     b"QFTPSIZE",   ok(0, Num(u64::MAX))),
        // Rejections: wrong prefix, overflow, truncation, garbage.
        (b"+QFTPSIZE: 0,1000",                     b"QFTPGET",    None),
        (b"QFTPSIZE: 0,1000",                      b"QFTPSIZE",   None),
        (b"+QFTPSIZE 0,1000",                      b"QFTPSIZE",   None),
        (b"+QFTPSIZE: 0,99999999999999999999999",  b"QFTPSIZE",   None),
        (b"+QFTPSIZE: 99999999999999999999999",    b"QFTPSIZE",   None),
        (b"+QFTPSIZE: 0,18446744073709551616",     b"QFTPSIZE",   None),
        (b"+QFTPSIZE: 70000,0",                    b"QFTPSIZE",   None),
        (b"+QFTPSIZE: 0,",                         b"QFTPSIZE",   None),
        (b"+QFTPSIZE: 0, ",                        b"QFTPSIZE",   None),
        (b"+QFTPSIZE:",                            b"QFTPSIZE",   None),
        (b"+QFTPSIZE: ",                           b"QFTPSIZE",   None),
        (b"+QFTPSIZE: x,1",                        b"QFTPSIZE",   None),
        (b"+QFTPSIZE: -1",                         b"QFTPSIZE",   None),
        (br#"+QFTPPWD: 0,"/"#,                     b"QFTPPWD",    None),
        (br#"+QFTPPWD: 0,"/"x"#,                   b"QFTPPWD",    None),
        (b"+QFTPPWD: /",                           b"QFTPPWD",    None),
        (b"1",                                     b"QFTPCFG",    None),
        (b"",                                      b"QFTPSIZE",   None),
        (b"OK",                                    b"QFTPSIZE",   None),
        (b"+",                                     b"QFTPSIZE",   None),
    ];

    #[test]
    fn ftp_results() {
        for &(line, name, expected) in FTP_RESULTS {
            assert_eq!(ftp_result(line, name), expected, "{:?}", std::str::from_utf8(line));
        }
    }

    const fn act(cid: u8, state: u8, ctx_type: u8, ip: &'static [u8]) -> Option<QiAct<'static>> {
        Some(QiAct { cid, state, ctx_type, ip })
    }

    #[rustfmt::skip]
    const QIACT: &[Row<QiAct>] = &[
        (br#"+QIACT: 1,1,1,"10.7.157.1""#,      act(1, 1, 1, b"10.7.157.1")),
        (br#"+QIACT: 1,1,1, "10.7.157.1""#,     act(1, 1, 1, b"10.7.157.1")),
        (b"+QIACT: 1,1,1,10.7.157.1 ",          act(1, 1, 1, b"10.7.157.1")),
        (br#"+QIACT:2,0,3,"2001:db8::1""#,      act(2, 0, 3, b"2001:db8::1")),
        (b"+QIACT: 1,1,1",                      act(1, 1, 1, b"")),
        (br#"+QIACT: 16,1,1,"""#,               act(16, 1, 1, b"")),
        (b"+QIACT: 1,1",                        None),
        (b"+QIACT: 1,1,1,",                     None),
        (br#"+QIACT: 1,1,1,"10.7"#,             None),
        (br#"+QIACT: 256,1,1,"10.7.157.1""#,    None),
        (b"+QIACT: 1,1,99999999999999999999999", None),
        (br#"+QIACT: 1,1,1,"10.7.157.1",5"#,    None),
        (b"+QIACTX: 1,1,1",                     None),
        (b"",                                   None),
    ];

    #[test]
    fn qiact_lines() {
        for &(line, expected) in QIACT {
            assert_eq!(qiact(line), expected, "{:?}", std::str::from_utf8(line));
        }
    }

    const fn cfg(
        name: &'static [u8],
        first: Field<'static>,
        second: Option<Field<'static>>,
    ) -> Option<CfgLine<'static>> {
        Some(CfgLine { name, first, second })
    }

    /// Query answers for all eight settings of section 4, plus variations.
    #[rustfmt::skip]
    const QFTPCFG: &[Row<CfgLine>] = &[
        (br#"+QFTPCFG: "account","test","test""#,      cfg(b"account", Str(b"test"), Some(Str(b"test")))),
        (br#"+QFTPCFG: "filetype",1"#,                 cfg(b"filetype", Num(1), None)),
        (br#"+QFTPCFG: "transmode",1"#,                cfg(b"transmode", Num(1), None)),
        (br#"+QFTPCFG: "contextid",1"#,                cfg(b"contextid", Num(1), None)),
        (br#"+QFTPCFG: "rsptimeout",90"#,              cfg(b"rsptimeout", Num(90), None)),
        (br#"+QFTPCFG: "ssltype",1"#,                  cfg(b"ssltype", Num(1), None)),
        (br#"+QFTPCFG: "sslctxid",0"#,                 cfg(b"sslctxid", Num(0), None)),
        (br#"+QFTPCFG: "data_address",0"#,             cfg(b"data_address", Num(0), None)),
        (br#"+QFTPCFG: "restenable",1"#,               cfg(b"restenable", Num(1), None)),
        (br#"+QFTPCFG: "account", "user", "p w" "#,    cfg(b"account", Str(b"user"), Some(Str(b"p w")))),
        (b"+QFTPCFG: account,user,pass",               cfg(b"account", Str(b"user"), Some(Str(b"pass")))),
        (br#"+QFTPCFG:"rsptimeout", 90"#,              cfg(b"rsptimeout", Num(90), None)),
        (br#"+QFTPCFG: "account""#,                    None),
        (br#"+QFTPCFG: "contextid","#,                 None),
        (br#"+QFTPCFG: "contextid"#,                   None),
        (br#"+QFTPCFG: "a",1,2,3"#,                    None),
        (br#"+QFTPCFG: "rsptimeout",99999999999999999999999"#, None),
        (b"+QFTPCFG: ",                                None),
        (b"1",                                         None),
    ];

    #[test]
    fn qftpcfg_lines() {
        for &(line, expected) in QFTPCFG {
            assert_eq!(qftpcfg(line), expected, "{:?}", std::str::from_utf8(line));
        }
    }

    const fn time(ymd: (u16, u8, u8), hms: (u8, u8, u8), millis: Option<u16>) -> Option<ModifyTime> {
        let ((year, month, day), (hour, minute, second)) = (ymd, hms);
        Some(ModifyTime { year, month, day, hour, minute, second, millis })
    }

    /// (`+QFTPMDTM` line, parsed time, its display form).
    #[rustfmt::skip]
    const MDTM: &[(&[u8], Option<ModifyTime>, &str)] = &[
        (br#"+QFTPMDTM: 0,"20140708110039""#,      time((2014, 7, 8), (11, 0, 39), None),     "2014-07-08 11:00:39"),
        (br#"+QFTPMDTM: 0, "20140708110039""#,     time((2014, 7, 8), (11, 0, 39), None),     "2014-07-08 11:00:39"),
        (br#"+QFTPMDTM: 0,"20140708110039.123""#,  time((2014, 7, 8), (11, 0, 39), Some(123)), "2014-07-08 11:00:39.123"),
        (br#"+QFTPMDTM: 0,"20141231235960.007""#,  time((2014, 12, 31), (23, 59, 60), Some(7)), "2014-12-31 23:59:60.007"),
        (b"+QFTPMDTM: 0,19700101000000",           time((1970, 1, 1), (0, 0, 0), None),       "1970-01-01 00:00:00"),
        (br#"+QFTPMDTM: 0,"20141308110039""#,      None, ""),
        (br#"+QFTPMDTM: 0,"20140008110039""#,      None, ""),
        (br#"+QFTPMDTM: 0,"20140700110039""#,      None, ""),
        (br#"+QFTPMDTM: 0,"20140732110039""#,      None, ""),
        (br#"+QFTPMDTM: 0,"20140708240039""#,      None, ""),
        (br#"+QFTPMDTM: 0,"20140708116039""#,      None, ""),
        (br#"+QFTPMDTM: 0,"20140708110061""#,      None, ""),
        (br#"+QFTPMDTM: 0,"2014070811003""#,       None, ""),
        (br#"+QFTPMDTM: 0,"201407081100390""#,     None, ""),
        (br#"+QFTPMDTM: 0,"20140708110039.12""#,   None, ""),
        (br#"+QFTPMDTM: 0,"20140708110039.1234""#, None, ""),
        (br#"+QFTPMDTM: 0,"20140708110039.""#,     None, ""),
        (br#"+QFTPMDTM: 0,"2014070811003x""#,      None, ""),
        (br#"+QFTPMDTM: 0,"""#,                    None, ""),
        (b"+QFTPMDTM: 0,201407081100390",          None, ""),
        (b"+QFTPMDTM: 0,99999999999999999999",     None, ""),
    ];

    #[test]
    fn mdtm_times() {
        for &(line, expected, shown) in MDTM {
            let parsed = ftp_result(line, b"QFTPMDTM").and_then(|r| mdtm_value(r.value));
            assert_eq!(parsed, expected, "{:?}", std::str::from_utf8(line));
            assert_eq!(parsed.map(|t| t.to_string()).unwrap_or_default(), shown);
        }
        assert_eq!(mdtm_time(b"20140708110039 "), time((2014, 7, 8), (11, 0, 39), None));
        assert_eq!(mdtm_time(b""), None);
    }

    const fn other(kind: &'static [u8], rest: &'static [u8]) -> Option<Qiurc<'static>> {
        Some(Qiurc::Other { kind, rest })
    }

    #[rustfmt::skip]
    const QIURC: &[Row<Qiurc>] = &[
        (br#"+QIURC: "pdpdeact",1"#,     Some(Qiurc::PdpDeact { cid: 1 })),
        (br#"+QIURC: "pdpdeact", 2 "#,   Some(Qiurc::PdpDeact { cid: 2 })),
        (b"+QIURC: pdpdeact,3",          Some(Qiurc::PdpDeact { cid: 3 })),
        (br#"+QIURC: "recv",0,4"#,       other(b"recv", b"0,4")),
        (br#"+QIURC: "closed", 0"#,      other(b"closed", b"0")),
        (br#"+QIURC: "incoming full""#,  other(b"incoming full", b"")),
        (br#"+QIURC: "incoming full"  "#, other(b"incoming full", b"")),
        (br#"+QIURC: "pdpdeact""#,       None),
        (br#"+QIURC: "pdpdeact","#,      None),
        (br#"+QIURC: "pdpdeact",x"#,     None),
        (br#"+QIURC: "pdpdeact",256"#,   None),
        (br#"+QIURC: "pdpdeact",99999999999999999999999"#, None),
        (br#"+QIURC: "recv"x"#,          None),
        (br#"+QIURC: "pdpdeact"#,        None),
        (b"+QIURC:",                     None),
    ];

    #[test]
    fn qiurc_lines() {
        for &(line, expected) in QIURC {
            assert_eq!(qiurc(line), expected, "{:?}", std::str::from_utf8(line));
        }
    }

    /// FNV-1a 32 of "foobar" (a published test vector).
    const FOOBAR: Option<CmeError> = Some(CmeError::Text { hash: 0xbf9c_f968 });

    const fn code(n: u16) -> Option<CmeError> {
        Some(CmeError::Code(n))
    }

    #[rustfmt::skip]
    const CME: &[Row<CmeError>] = &[
        (b"+CME ERROR: 603",                         code(603)),
        (b"+CME ERROR: 615 ",                        code(615)),
        (b"+CME ERROR:3",                            code(3)),
        (b"+CME ERROR: SIM not inserted",            code(10)),
        (b"+CME ERROR: sim pin required",            code(11)),
        (b"+CME ERROR: SIM failure",                 code(13)),
        (b"+CME ERROR: SIM busy",                    code(14)),
        (b"+CME ERROR: incorrect password",          code(16)),
        (b"+CME ERROR: operation not allowed",       code(3)),
        (b"+CME ERROR: Operation not supported  ",   code(4)),
        (b"+CME ERROR: memory full",                 code(20)),
        (b"+CME ERROR: invalid index",               code(21)),
        (b"+CME ERROR: not found",                   code(22)),
        (b"+CME ERROR: network timeout",             code(31)),
        (b"+CME ERROR: unknown",                     code(100)),
        (br#"+CME ERROR: "SIM busy""#,               code(14)),
        (b"+CME ERROR: foobar",                      FOOBAR),
        (b"+CME ERROR: foobar  ",                    FOOBAR),
        (b"+CME ERROR:",                             None),
        (b"+CME ERROR: ",                            None),
        (b"+CME ERROR: 70000",                       None),
        (b"+CME ERROR: 99999999999999999999999",     None),
        (b"+CMS ERROR: 500",                         None),
        (b"ERROR",                                   None),
    ];

    #[test]
    fn cme_errors() {
        for &(line, expected) in CME {
            assert_eq!(cme_error(line), expected, "{:?}", std::str::from_utf8(line));
        }
    }

    #[rustfmt::skip]
    const CPIN: &[Row<&[u8]>] = &[
        (b"+CPIN: READY",   Some(b"READY")),
        (b"+CPIN:READY ",   Some(b"READY")),
        (b"+CPIN: SIM PIN", Some(b"SIM PIN")),
        (b"+CPIN:",         None),
        (b"+CPIN: ",        None),
        (b"+QUSIM: 1",      None),
        (b"RDY",            None),
    ];

    #[test]
    fn cpin_lines() {
        for &(line, expected) in CPIN {
            assert_eq!(cpin(line), expected, "{:?}", std::str::from_utf8(line));
        }
    }

    #[rustfmt::skip]
    const QFLST: &[Row<(&[u8], u64)>] = &[
        (br#"+QFLST: "test2.txt",1000"#,       Some((b"test2.txt", 1000))),
        (b"+QFLST: test.txt,1000",             Some((b"test.txt", 1000))),
        (br#"+QFLST: "UFS:a b.txt", 5 "#,      Some((b"UFS:a b.txt", 5))),
        (br#"+QFLST: "a.txt""#,                None),
        (b"+QFLST: a.txt,",                    None),
        (b"+QFLST: a.txt,x",                   None),
        (b"+QFLST: a.txt,99999999999999999999999", None),
        (b"+QFLST: ,5",                        None),
    ];

    #[rustfmt::skip]
    const FILE_MOVED: &[Row<(u64, u16)>] = &[
        // The FILE manual's example, and hex digits of either case.
        (b"+QFUPL: 10,613e",                   Some((10, 0x613e))),
        (b"+QFUPL: 0,0",                       Some((0, 0))),
        (b"+QFUPL: 1048576,FFFF",              Some((1_048_576, 0xffff))),
        (b"+QFUPL: 5, 0a1 ",                   Some((5, 0x0a1))),
        (b"+QFUPL: 5,10000",                   None),
        (b"+QFUPL: 5,",                        None),
        (b"+QFUPL: 5,xyz",                     None),
        (b"+QFUPL: 5",                         None),
        (b"+QFDWL: 5,1",                       None),
    ];

    #[test]
    fn file_moved_lines() {
        for &(line, expected) in FILE_MOVED {
            assert_eq!(file_moved(line, b"QFUPL"), expected, "{:?}", std::str::from_utf8(line));
        }
        assert_eq!(file_moved(b"+QFDWL: 7,2a", b"QFDWL"), Some((7, 0x2a)));
        assert_eq!(qflds(b"+QFLDS: 2096640,2097152"), Some((2_096_640, 2_097_152)));
        assert_eq!(qflds(b"+QFLDS: 1,"), None);
        assert_eq!(qfopen(b"+QFOPEN: 1027"), Some(1027));
        assert_eq!(qfopen(b"+QFOPEN: x"), None);
        assert_eq!(qfopen(b"+QFOPEN: 99999999999"), None);
    }

    #[test]
    fn qflst_lines() {
        for &(line, expected) in QFLST {
            assert_eq!(qflst(line), expected, "{:?}", std::str::from_utf8(line));
        }
    }

    #[rustfmt::skip]
    const PREFIXED: &[Row<(&[u8], &[u8])>] = &[
        (b"+QFTPSIZE: 0,1",  Some((b"QFTPSIZE", b"0,1"))),
        (b"+QFTPSIZE:88752", Some((b"QFTPSIZE", b"88752"))),
        (b"+CME ERROR: 603", Some((b"CME ERROR", b"603"))),
        (b"+QIND: SMS DONE", Some((b"QIND", b"SMS DONE"))),
        (b"+QUSIM: 1",       Some((b"QUSIM", b"1"))),
        (b"+QIACT:",         Some((b"QIACT", b""))),
        (b"",                None),
        (b"1",               None),
        (b"OK",              None),
        (b"RDY",             None),
        (b"+",               None),
        (b"+:x",             None),
        (b"+QFTPSIZE 1",     None),
        (b"++QFTPSIZE: 1",   None),
    ];

    #[test]
    fn prefixed_lines() {
        for &(line, expected) in PREFIXED {
            assert_eq!(prefixed(line), expected, "{:?}", std::str::from_utf8(line));
        }
    }

    /// Lines that are no parser's shape.
    #[rustfmt::skip]
    const FOREIGN: &[&[u8]] = &[
        b"", b"1", b"OK", b"ERROR", b"RDY", b"CONNECT", b"NO CARRIER", b"+QIND: SMS DONE", b"\x00\xff",
    ];

    #[rustfmt::skip]
    const NAMES: &[&[u8]] = &[
        b"QFTPOPEN", b"QFTPCWD", b"QFTPPWD", b"QFTPMKDIR", b"QFTPRENAME", b"QFTPRMDIR", b"QFTPSIZE",
        b"QFTPMDTM", b"QFTPDEL", b"QFTPSTAT", b"QFTPPUT", b"QFTPGET", b"QFTPLEN", b"QFTPLIST",
        b"QFTPNLST", b"QFTPMLSD", b"QFTPCLOSE",
    ];

    #[test]
    fn foreign_lines_are_rejected_by_every_parser() {
        for &line in FOREIGN {
            assert!(NAMES.iter().all(|name| ftp_result(line, name).is_none()));
            assert_eq!(qiact(line), None);
            assert_eq!(qftpcfg(line), None);
            assert_eq!(mdtm_time(line), None);
            assert_eq!(qiurc(line), None);
            assert_eq!(cme_error(line), None);
            assert_eq!(cpin(line), None);
            assert_eq!(qflst(line), None);
        }
    }

    fn feed_every_parser(line: &[u8]) {
        let _ = prefixed(line);
        for name in NAMES {
            let _ = ftp_result(line, name).map(|r| mdtm_value(r.value));
        }
        let _ = (qiact(line), qftpcfg(line), mdtm_time(line), qiurc(line));
        let _ = (cme_error(line), cpin(line), qflst(line));
    }

    #[test]
    fn no_panic_on_truncations_or_random_bytes() {
        let mut lines: Vec<&[u8]> = FOREIGN.to_vec();
        lines.extend(FTP_RESULTS.iter().map(|r| r.0));
        lines.extend(MDTM.iter().map(|r| r.0));
        lines.extend(QIACT.iter().map(|r| r.0));
        lines.extend(QFTPCFG.iter().map(|r| r.0));
        lines.extend(QIURC.iter().map(|r| r.0));
        lines.extend(CME.iter().map(|r| r.0));
        lines.extend(CPIN.iter().map(|r| r.0));
        lines.extend(QFLST.iter().map(|r| r.0));
        lines.extend(PREFIXED.iter().map(|r| r.0));
        for line in &lines {
            for end in 0..=line.len() {
                feed_every_parser(&line[..end]);
            }
        }

        // xorshift64: random tails after truncated table lines, every other
        // round drawn from the bytes the grammar cares about.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as usize
        };
        const ALPHABET: &[u8] = b"0123456789\",. :+/-\t\xffQFTPSIZECMERORab";
        let mut buf = Vec::new();
        for round in 0..20_000 {
            let line = lines[next() % lines.len()];
            buf.clear();
            buf.extend_from_slice(&line[..next() % (line.len() + 1)]);
            for _ in 0..next() % 40 {
                let r = next();
                buf.push(if round % 2 == 0 { ALPHABET[r % ALPHABET.len()] } else { r as u8 });
            }
            feed_every_parser(&buf);
        }
    }
}
