//! Directory listings parsed line by line, without allocating.
//!
//! A listing arrives as a byte stream ([`crate::Ftp::list`]); this module
//! cuts it into lines ([`Lines`]) and reads each line as an [`Entry`]
//! ([`parse`]). [`Entries`] does both as an `embedded_io_async::Write`
//! sink, and [`crate::Ftp::list_entries`] hands its entries to a callback.
//!
//! The formats, one parser each:
//!
//! - **MLSD** ([`mlsd`]), RFC 3659 section 7: `facts SP name`, each fact
//!   `name=value;`, e.g. `type=file;size=1000;modify=20140708110039; a.txt`.
//!   Fact names and the `type` values are case-insensitive.
//! - **LIST, Unix** ([`list`]), the de-facto `ls -l` format that vsftpd,
//!   ProFTPD, Pure-FTPd and FileZilla Server print:
//!   `-rw-r--r-- 1 owner group 1000 Jul  8 11:00 a.txt`, the date ending in
//!   a time of day for recent files and in a year for older ones.
//! - **LIST, DOS** ([`list`]), what IIS prints:
//!   `07-08-14  11:00AM       <DIR>          TEST` and
//!   `07-08-14  11:00AM                 1000 a.txt`, with two- or four-digit
//!   years.
//! - **NLST**: names only; each line is an entry of kind [`Kind::Other`].
//!
//! Nothing is dropped silently: a line none of these shapes fits is an
//! entry of kind [`Kind::Other`] whose name is the whole line. Only lines
//! that are certainly not entries are skipped: empty lines, a LIST
//! `total <n>` line, the directory itself and its parent (MLSD
//! `type=cdir` / `type=pdir`, LIST directories named `.` and `..`).
//!
//! The parsers are pure functions over one line; nothing here panics or
//! allocates.

use crate::at::parse::{decimal, mdtm_time};
use crate::client::{Listing, ModifyTime};

/// The line buffer [`crate::Ftp::list_entries`] uses, in bytes: room for
/// a 255-byte name after a long `ls -l` prefix or a dozen MLSD facts.
/// Longer lines come out truncated (see [`Lines`]); for another length,
/// pass an [`Entries`] with a buffer of your own to [`crate::Ftp::list`].
pub const LINE_MAX: usize = 512;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// A regular file (MLSD `type=file`, `ls -l` `-`, a DOS line with a size).
    File,
    /// A directory (MLSD `type=dir`, `ls -l` `d`, DOS `<DIR>`).
    Dir,
    /// A symbolic link (MLSD `type=OS.unix=slink:<target>` or
    /// `type=OS.unix=symlink`, `ls -l` `l`); the name is without the
    /// `-> target` part.
    Link,
    /// Anything else: a line of no known shape, a device, socket or pipe,
    /// an NLST name, a line longer than the line buffer. The entry's name
    /// is then the whole line as received (truncated to the line buffer if
    /// it was longer), and it has no size or time.
    Other,
}

/// A modification time without a year: `ls -l` prints the time of day
/// instead of the year for files changed within about six months of the
/// server's clock (past, or slightly future), so the year is the server's
/// current one or the one before. Only the caller, who knows today's
/// date, can tell; [`Recent::in_year`] completes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Recent {
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
}

impl Recent {
    /// This time in `year`, at second 0. The usual rule: this year, or
    /// last year if that would put the date more than a day in the future.
    pub fn in_year(self, year: u16) -> ModifyTime {
        let Recent { month, day, hour, minute } = self;
        ModifyTime { year, month, day, hour, minute, second: 0, millis: None }
    }
}

/// One entry of a listing, borrowing its name from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Entry<'a> {
    /// The name, byte for byte as the server sent it (spaces inside, at
    /// the start or at the end are kept; the line end is not part of it).
    /// Bytes rather than `str`: servers send names in whatever encoding
    /// the file system holds; see [`Entry::name_str`]. For
    /// [`Kind::Other`], the whole line.
    pub name: &'a [u8],
    /// What it is.
    pub kind: Kind,
    /// The size in bytes as the server printed it (MLSD `size`, or `sizd`
    /// for a directory; `ls -l`'s size column, which for directories and
    /// links is the size of the directory or of the link itself). `None`
    /// where the line gives none (a DOS `<DIR>`, an MLSD line without a
    /// size fact, [`Kind::Other`]).
    pub size: Option<u64>,
    /// The modification time, when the line gives a full date: MLSD
    /// `modify` (UTC per RFC 3659, with milliseconds if the server sent a
    /// fraction), `ls -l` with a year (at 00:00:00, the time of day is not
    /// printed), DOS lines (two-digit years read as POSIX `%y` does:
    /// 69–99 as 1969–1999, 00–68 as 2000–2068). The server's local time
    /// for LIST lines.
    pub modified: Option<ModifyTime>,
    /// The modification time of an `ls -l` line that gives a time of day
    /// instead of a year ([`Recent`]); `modified` is then `None`.
    pub recent: Option<Recent>,
}

impl<'a> Entry<'a> {
    /// The name as UTF-8, if it is.
    pub fn name_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.name).ok()
    }

    /// A line of no known shape, kept whole.
    fn other(line: &'a [u8]) -> Self {
        Entry { name: line, kind: Kind::Other, size: None, modified: None, recent: None }
    }

    /// The directory itself or its parent, as LIST prints them.
    fn is_dot(&self) -> bool {
        self.kind == Kind::Dir && matches!(self.name, b"." | b"..")
    }
}

/// Parses one line (without its line end) of a listing of the given
/// format: [`mlsd`] for [`Listing::Mlsd`], [`list`] for [`Listing::List`],
/// and for [`Listing::Nlst`] the line as an entry of kind [`Kind::Other`].
/// `None` for a line that is not an entry (see the [module](self) docs).
pub fn parse(format: Listing, line: &[u8]) -> Option<Entry<'_>> {
    match format {
        _ if line.is_empty() => None,
        Listing::Mlsd => mlsd(line),
        Listing::List => list(line),
        Listing::Nlst => Some(Entry::other(line)),
    }
}

/// Parses an MLSD line (RFC 3659 section 7.2): `facts SP name`, where the
/// facts end at the first `"; "` and the name is everything after that
/// space, exactly.
///
/// Reads the facts `type` (`file`, `dir`, `cdir`, `pdir`,
/// `OS.unix=slink:<target>`, `OS.unix=symlink`), `size`, `sizd` and
/// `modify` (`YYYYMMDDHHMMSS[.F...]`, the fraction kept to milliseconds);
/// others are ignored, and a size or time that does not parse is `None`.
///
/// `None` for an empty line and for `type=cdir` and `type=pdir` (the
/// listed directory and its parent). A line without a `type` fact, with
/// another type (a device, say), or not of this shape is [`Kind::Other`].
pub fn mlsd(line: &[u8]) -> Option<Entry<'_>> {
    if line.is_empty() {
        return None;
    }
    let (facts, name) = match line.windows(2).position(|w| w == b"; ") {
        Some(i) => (line.get(..=i).unwrap_or_default(), line.get(i + 2..).unwrap_or_default()),
        None => return Some(Entry::other(line)),
    };
    let mut entry = Entry { name, ..Entry::other(line) };
    for fact in facts.split(|&b| b == b';') {
        let (key, value) = match fact.iter().position(|&b| b == b'=') {
            Some(i) => (fact.get(..i).unwrap_or_default(), fact.get(i + 1..).unwrap_or_default()),
            None => continue,
        };
        let is = |word: &[u8]| key.eq_ignore_ascii_case(word);
        if is(b"type") {
            let value_is = |word: &[u8]| value.eq_ignore_ascii_case(word);
            let slink = value.get(..14).is_some_and(|v| v.eq_ignore_ascii_case(b"os.unix=slink:"));
            entry.kind = match () {
                _ if value_is(b"file") => Kind::File,
                _ if value_is(b"dir") => Kind::Dir,
                _ if value_is(b"cdir") || value_is(b"pdir") => return None,
                _ if slink || value_is(b"os.unix=symlink") => Kind::Link,
                _ => return Some(Entry::other(line)),
            };
        } else if is(b"size") || is(b"sizd") {
            entry.size = decimal(value);
        } else if is(b"modify") {
            entry.modified = mlsd_time(value);
        }
    }
    match entry.kind {
        Kind::Other => Some(Entry::other(line)),
        _ if name.is_empty() => Some(Entry::other(line)),
        _ => Some(entry),
    }
}

/// An MLSD `time-val`: `YYYYMMDDHHMMSS` and an optional fraction of any
/// length, kept to milliseconds.
fn mlsd_time(value: &[u8]) -> Option<ModifyTime> {
    let (clock, fraction) = match value.iter().position(|&b| b == b'.') {
        Some(i) => (value.get(..i)?, Some(value.get(i + 1..)?)),
        None => (value, None),
    };
    let mut time = mdtm_time(clock).filter(|_| clock.len() == 14)?;
    if let Some(f) = fraction {
        if f.is_empty() || !f.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let digit = |i: usize| f.get(i).map_or(0, |d| u16::from(d.wrapping_sub(b'0')));
        time.millis = Some(digit(0) * 100 + digit(1) * 10 + digit(2));
    }
    Some(time)
}

/// Parses a LIST line in the Unix `ls -l` format or the DOS (IIS) format,
/// whichever fits.
///
/// Unix: permissions (10 characters, an ACL mark may follow), then
/// columns separated by spaces up to the size, the month (English
/// abbreviation, any case), the day and `HH:MM` or a year, one space, and
/// the name to the end of the line. The columns between permissions and
/// size (links, owner, group) are not read: there may be fewer, and owner
/// names with a space in them work. A link's name ends before its first
/// `" -> "`. Devices, pipes and sockets are [`Kind::Other`].
///
/// DOS: `MM-DD-YY` or `MM-DD-YYYY`, `HH:MM` followed by `AM`/`PM` (or
/// without, 24-hour), `<DIR>` or the size, and the name after the spaces
/// that follow (a DOS name's leading spaces are not kept; Windows names
/// practically never have any).
///
/// `None` for an empty line, a `total <n>` line, and directories named
/// `.` or `..`; any line of neither format is [`Kind::Other`].
pub fn list(line: &[u8]) -> Option<Entry<'_>> {
    if line.is_empty() || is_total(line) {
        return None;
    }
    let entry = unix(line).or_else(|| dos(line)).unwrap_or(Entry::other(line));
    (!entry.is_dot()).then_some(entry)
}

/// `total <digits>`, which `ls -l` prints first: nothing else has this shape.
fn is_total(line: &[u8]) -> bool {
    line.strip_prefix(b"total ").is_some_and(|n| decimal(n.trim_ascii_start()).is_some())
}

/// A Unix `ls -l` line, or `None` if it is not one.
fn unix(line: &[u8]) -> Option<Entry<'_>> {
    let (_, end) = token(line, 0).filter(|t| t.0 == 0)?;
    let perms = line.get(..end)?;
    let kind = match perms.first()? {
        b'-' => Kind::File,
        b'd' => Kind::Dir,
        b'l' => Kind::Link,
        b'c' | b'b' | b'p' | b's' | b'D' => Kind::Other,
        _ => return None,
    };
    if !(10..=11).contains(&perms.len()) || !perms.get(1..10)?.iter().all(|b| b"rwxsStTlL-".contains(b)) {
        return None;
    }
    // The last four columns seen: size, month, day, time or year. The
    // first place they fit is the date; the name follows it.
    let mut seen = [(0, 0); 4];
    let mut at = end;
    for column in 1..=9 {
        let t = token(line, at)?;
        at = t.1;
        seen = [seen[1], seen[2], seen[3], t];
        if column >= 4 {
            if let Some(entry) = unix_tail(line, kind, seen) {
                return Some(entry);
            }
        }
    }
    None
}

/// The end of an `ls -l` line from its size column, if these four columns
/// are size, month, day and time or year, and a name follows.
fn unix_tail(line: &[u8], kind: Kind, [size, month, day, clock]: [(usize, usize); 4]) -> Option<Entry<'_>> {
    let col = |(a, b): (usize, usize)| line.get(a..b).unwrap_or_default();
    let size = decimal(col(size))?;
    let month = month_number(col(month))?;
    let day = small(col(day)).filter(|d| (1..=31).contains(d))?;
    let (modified, recent) = match col(clock) {
        [h @ .., b':', m1, m2] => {
            let hour = small(h).filter(|h| *h < 24)?;
            let minute = small(&[*m1, *m2]).filter(|m| *m < 60)?;
            (None, Some(Recent { month, day, hour, minute }))
        }
        year @ [_, _, _, _] => (Some(Recent { month, day, hour: 0, minute: 0 }.in_year(decimal(year)? as u16)), None),
        _ => return None,
    };
    let mut name = line.get(clock.1 + 1..).filter(|n| !n.is_empty())?;
    if kind == Kind::Link {
        if let Some(i) = name.windows(4).position(|w| w == b" -> ") {
            // `-> target` with no name before it: not a link line.
            name = name.get(..i).filter(|n| !n.is_empty())?;
        }
    }
    if kind == Kind::Other {
        return Some(Entry::other(line));
    }
    Some(Entry { name, kind, size: Some(size), modified, recent })
}

/// The month of an English three-letter abbreviation, any case.
fn month_number(word: &[u8]) -> Option<u8> {
    const MONTHS: &[u8; 36] = b"janfebmaraprmayjunjulaugsepoctnovdec";
    let i = MONTHS.chunks(3).position(|m| word.eq_ignore_ascii_case(m))?;
    Some(i as u8 + 1)
}

/// A DOS (IIS) LIST line, or `None` if it is not one.
fn dos(line: &[u8]) -> Option<Entry<'_>> {
    let (_, date_end) = token(line, 0).filter(|t| t.0 == 0)?;
    let mut date = line.get(..date_end)?.split(|&b| b == b'-');
    let (month, day, year) = (small(date.next()?)?, small(date.next()?)?, date.next()?);
    if date.next().is_some() {
        return None;
    }
    let year = match (year.len(), decimal(year)?) {
        (2, y @ 0..=68) => 2000 + y,
        (2, y) => 1900 + y,
        (4, y) => y,
        _ => return None,
    };
    let (start, clock_end) = token(line, date_end)?;
    let (clock, half) = match line.get(start..clock_end)? {
        [clock @ .., b'A' | b'a', b'M' | b'm'] => (clock, Some(0)),
        [clock @ .., b'P' | b'p', b'M' | b'm'] => (clock, Some(12)),
        clock => (clock, None),
    };
    let (hour, minute) = match clock {
        [h @ .., b':', m1, m2] => (small(h)?, small(&[*m1, *m2])?),
        _ => return None,
    };
    let hour = match half {
        Some(half) if (1..=12).contains(&hour) => hour % 12 + half,
        Some(_) => return None,
        None => hour,
    };
    let (start, size_end) = token(line, clock_end)?;
    let (kind, size) = match line.get(start..size_end)? {
        b"<DIR>" => (Kind::Dir, None),
        digits => (Kind::File, Some(decimal(digits)?)),
    };
    let (name_start, _) = token(line, size_end)?;
    let modified = ModifyTime { year: year as u16, month, day, hour, minute, second: 0, millis: None };
    let name = line.get(name_start..)?;
    modified.is_valid().then_some(Entry { name, kind, size, modified: Some(modified), recent: None })
}

/// The next run of non-space bytes at or after `from`: (start, end).
fn token(line: &[u8], from: usize) -> Option<(usize, usize)> {
    let rest = line.get(from..)?;
    let start = from + rest.iter().position(|&b| b != b' ')?;
    let len = line.get(start..)?.iter().position(|&b| b == b' ').unwrap_or(line.len() - start);
    Some((start, start + len))
}

/// A decimal that fits a `u8`.
fn small(digits: &[u8]) -> Option<u8> {
    u8::try_from(decimal(digits)?).ok()
}

/// Cuts a stream that arrives in pieces of any size into lines, in a
/// caller-provided buffer.
///
/// A line ends at LF; a CR right before the LF is part of the line end
/// (CRLF and LF both work; a CR elsewhere is kept). The last line may go
/// without a line end: [`Lines::finish`] hands it out.
///
/// A line longer than the buffer is not dropped: it is handed out
/// truncated to the buffer's length, marked as such (its rest is
/// discarded up to its line end). Whatever the pieces, the lines handed
/// out are the same.
#[derive(Debug)]
pub struct Lines<'l> {
    buf: &'l mut [u8],
    /// Bytes of the current line so far, including any not kept.
    total: usize,
    /// The current line's last byte so far.
    last: u8,
}

impl<'l> Lines<'l> {
    /// A splitter keeping lines of up to `buf.len()` bytes whole.
    pub fn new(buf: &'l mut [u8]) -> Self {
        Lines { buf, total: 0, last: 0 }
    }

    /// Takes the next piece of the stream; calls `each(line, truncated)`
    /// for every line it completes (without the line end; empty lines
    /// too). `truncated` is true if the line was longer than the buffer
    /// and `line` is its start.
    pub fn feed(&mut self, mut piece: &[u8], mut each: impl FnMut(&[u8], bool)) {
        while !piece.is_empty() {
            let (part, ended, rest) = match memchr::memchr(b'\n', piece) {
                Some(i) => (piece.get(..i), true, piece.get(i + 1..)),
                None => (Some(piece), false, None),
            };
            self.push(part.unwrap_or_default());
            if ended {
                self.end(&mut each);
            }
            piece = rest.unwrap_or_default();
        }
    }

    /// Ends the stream: hands out the last line if it had no line end (a
    /// lone CR at the very end counts as its line end). The splitter is
    /// then ready for a new stream.
    pub fn finish(&mut self, mut each: impl FnMut(&[u8], bool)) {
        if self.total > 0 {
            self.end(&mut each);
        }
    }

    fn push(&mut self, part: &[u8]) {
        let kept = self.total.min(self.buf.len());
        if let Some(room) = self.buf.get_mut(kept..) {
            let n = room.len().min(part.len());
            if let (Some(to), Some(from)) = (room.get_mut(..n), part.get(..n)) {
                to.copy_from_slice(from);
            }
        }
        self.total = self.total.saturating_add(part.len());
        if let Some(&b) = part.last() {
            self.last = b;
        }
    }

    fn end(&mut self, each: &mut impl FnMut(&[u8], bool)) {
        let len = self.total - usize::from(self.total > 0 && self.last == b'\r');
        let kept = len.min(self.buf.len());
        each(self.buf.get(..kept).unwrap_or_default(), len > kept);
        self.total = 0;
        self.last = 0;
    }
}

/// A listing sink: an `embedded_io_async::Write` that cuts what it is
/// given into lines ([`Lines`]), parses each ([`parse`]) and calls back
/// with every entry. A line longer than the buffer becomes a
/// [`Kind::Other`] entry holding its start. Writing never fails.
///
/// ```
/// use quectel_ftp::listing::{Entries, Kind};
/// use quectel_ftp::Listing;
///
/// let mut buf = [0u8; 128];
/// let mut names = 0;
/// let mut sink = Entries::new(Listing::Mlsd, &mut buf, |e| {
///     assert_eq!((e.name, e.kind, e.size), (&b"a b.txt"[..], Kind::File, Some(1000)));
///     names += 1;
/// });
/// sink.feed(b"type=file;size=1000;modify=2014070811");
/// sink.feed(b"0039; a b.txt\r\ntype=cdir; .\r\n");
/// assert_eq!(sink.finish(), 1);
/// assert_eq!(names, 1);
/// ```
pub struct Entries<'l, F> {
    lines: Lines<'l>,
    format: Listing,
    each: F,
    count: u64,
}

impl<'l, F: FnMut(Entry<'_>)> Entries<'l, F> {
    /// A sink for a listing of `format`, keeping lines in `buf` (see
    /// [`LINE_MAX`]), calling `each` with every entry.
    pub fn new(format: Listing, buf: &'l mut [u8], each: F) -> Self {
        Entries { lines: Lines::new(buf), format, each, count: 0 }
    }

    /// Takes the next piece of the listing.
    pub fn feed(&mut self, piece: &[u8]) {
        let Entries { lines, format, each, count } = self;
        lines.feed(piece, |line, truncated| deliver(*format, line, truncated, each, count));
    }

    /// Ends the listing (a last line without a line end is parsed now);
    /// returns the number of entries handed out.
    pub fn finish(&mut self) -> u64 {
        let Entries { lines, format, each, count } = self;
        lines.finish(|line, truncated| deliver(*format, line, truncated, each, count));
        *count
    }

    /// The number of entries handed out so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Parses one line and hands out its entry, if it is one.
fn deliver(format: Listing, line: &[u8], truncated: bool, each: &mut impl FnMut(Entry<'_>), count: &mut u64) {
    let entry = match truncated {
        true => Some(Entry::other(line)),
        false => parse(format, line),
    };
    if let Some(entry) = entry {
        *count += 1;
        each(entry);
    }
}

impl<F> embedded_io_async::ErrorType for Entries<'_, F> {
    type Error = core::convert::Infallible;
}

impl<F: FnMut(Entry<'_>)> embedded_io_async::Write for Entries<'_, F> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.feed(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry as owned data, for comparing runs.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Owned {
        name: String,
        kind: Kind,
        size: Option<u64>,
        modified: Option<ModifyTime>,
        recent: Option<Recent>,
    }

    impl From<Entry<'_>> for Owned {
        fn from(e: Entry<'_>) -> Self {
            let name = String::from_utf8_lossy(e.name).into_owned();
            Owned { name, kind: e.kind, size: e.size, modified: e.modified, recent: e.recent }
        }
    }

    /// The entries of `listing` fed `chunk` bytes at a time, and the count.
    fn collect(format: Listing, listing: &[u8], chunk: usize, buf_len: usize) -> (Vec<Owned>, u64) {
        let mut buf = vec![0u8; buf_len];
        let mut out = Vec::new();
        let mut sink = Entries::new(format, &mut buf, |e| out.push(Owned::from(e)));
        for piece in listing.chunks(chunk.max(1)) {
            sink.feed(piece);
        }
        let n = sink.finish();
        (out, n)
    }

    const fn time(ymd: (u16, u8, u8), hms: (u8, u8, u8), millis: Option<u16>) -> Option<ModifyTime> {
        let ((year, month, day), (hour, minute, second)) = (ymd, hms);
        Some(ModifyTime { year, month, day, hour, minute, second, millis })
    }

    /// A full date at midnight, as `ls -l` gives for older files.
    const fn date(year: u16, month: u8, day: u8) -> Option<ModifyTime> {
        time((year, month, day), (0, 0, 0), None)
    }

    const fn recent(month: u8, day: u8, hour: u8, minute: u8) -> Option<Recent> {
        Some(Recent { month, day, hour, minute })
    }

    type Row = (&'static str, Kind, Option<u64>, Option<ModifyTime>, Option<Recent>);

    use Kind::{Dir, File, Link, Other};

    const G4: u64 = 1 << 32;

    // vsftpd 3.0: numeric ids, `%b %d` (zero-padded day), CRLF.
    const VSFTPD: &str = "\
drwxr-xr-x    2 1000     1000         4096 Jul 08 11:00 dir\r
drwxr-xr-x    2 1000     1000         4096 Mar 15  2021 dir with spaces\r
-rw-r--r--    1 1000     1000         1000 Jul 08 11:00 test.txt\r
-rw-r--r--    1 1000     1000            0 Jan 02 03:04 .profile\r
-rw-------    1 1000     1000     5368709120 Dec 31  2019 big.iso\r
-rw-r--r--    1 1000     1000           42 Feb 29  2016 two  spaces .txt\r
lrwxrwxrwx    1 1000     1000            8 Jul 08 11:00 latest -> test.txt\r
lrwxrwxrwx    1 1000     1000           15 Jul 08 11:00 my link -> dir with spaces\r
-rwxr-xr-x    1 1000     1000        18432 Nov 30 23:59 run.sh\r
-rw-r--r--    1 1000     1000     18446744073709551615 Jan 01  1970 max\r
prw-r--r--    1 1000     1000            0 Jul 08 11:00 fifo\r
-rw-r--r--    1 1000     1000            5 Jul 08 11:00  leading space\r
";
    #[rustfmt::skip]
    const VSFTPD_ENTRIES: &[Row] = &[
        ("dir", Dir, Some(4096), None, recent(7, 8, 11, 0)),
        ("dir with spaces", Dir, Some(4096), date(2021, 3, 15), None),
        ("test.txt", File, Some(1000), None, recent(7, 8, 11, 0)),
        (".profile", File, Some(0), None, recent(1, 2, 3, 4)),
        ("big.iso", File, Some(5 * G4 / 4), date(2019, 12, 31), None),
        ("two  spaces .txt", File, Some(42), date(2016, 2, 29), None),
        ("latest", Link, Some(8), None, recent(7, 8, 11, 0)),
        ("my link", Link, Some(15), None, recent(7, 8, 11, 0)),
        ("run.sh", File, Some(18432), None, recent(11, 30, 23, 59)),
        ("max", File, Some(u64::MAX), date(1970, 1, 1), None),
        ("prw-r--r--    1 1000     1000            0 Jul 08 11:00 fifo", Other, None, None, None),
        (" leading space", File, Some(5), None, recent(7, 8, 11, 0)),
    ];

    // ProFTPD 1.3 with `ListOptions -a`: `total`, `.` and `..`, names of
    // owners, `%b %e` (space-padded day), an ACL mark.
    const PROFTPD: &str = "\
total 24\r
drwxr-xr-x   4 ftp      ftp          4096 Jul  8 11:00 .\r
drwxr-xr-x   3 root     root         4096 Jan  1  2020 ..\r
-rw-r--r--   1 ftp      ftp          1000 Jul  8 11:00 test.txt\r
-rw-r--r--   1 ftp      ftp           220 Jul  8  2014 .bash_logout\r
drwxr-xr-x   2 ftp      ftp          4096 Aug 12 09:05 Reports 2024\r
-rw-r--r--   1 ftp      ftp     4294967296 Sep  1 00:00 exactly4g.bin\r
-rw-r--r--   1 ftp      ftp     10737418240 Oct 10  2023 ten gig.img\r
lrwxrwxrwx   1 ftp      ftp            12 Jul  8 11:00 current -> Reports 2024\r
-rw-r-----+  1 ftp      ftp            77 Jul  8 11:00 acl.txt\r
-rw-r--r--   1 ftp      ftp            12 Jul  8 11:00 OK\r
-rw-r--r--   1 ftp      ftp            14 Jul  8 11:00 +QFTPLIST: 0,5\r
-rw-r--r--   1 ftp      ftp             3 Jul  8 11:00 a -> b.txt\r
";
    #[rustfmt::skip]
    const PROFTPD_ENTRIES: &[Row] = &[
        ("test.txt", File, Some(1000), None, recent(7, 8, 11, 0)),
        (".bash_logout", File, Some(220), date(2014, 7, 8), None),
        ("Reports 2024", Dir, Some(4096), None, recent(8, 12, 9, 5)),
        ("exactly4g.bin", File, Some(G4), None, recent(9, 1, 0, 0)),
        ("ten gig.img", File, Some(10 * (G4 / 4)), date(2023, 10, 10), None),
        ("current", Link, Some(12), None, recent(7, 8, 11, 0)),
        ("acl.txt", File, Some(77), None, recent(7, 8, 11, 0)),
        ("OK", File, Some(12), None, recent(7, 8, 11, 0)),
        ("+QFTPLIST: 0,5", File, Some(14), None, recent(7, 8, 11, 0)),
        // A file, not a link: its name holds the arrow.
        ("a -> b.txt", File, Some(3), None, recent(7, 8, 11, 0)),
    ];

    // Pure-FTPd 1.0: wide numeric id columns, `.` and `..`, LF only; a name
    // that looks like a date, a socket, a trailing space, a tab.
    const PURE_FTPD: &str = "\
drwxr-xr-x    4 1000       1000             4096 Jul  8 11:00 .
drwxr-xr-x    3 0          0                4096 Jul  8 10:00 ..
-rw-r--r--    1 1000       1000             1000 Jul  8 11:00 test.txt
-rw-r--r--    1 1000       1000               18 Feb  3  2015 .ftpquota
drwxr-xr-x    2 1000       1000             4096 Jul  8 11:00 photos
-rw-r--r--    1 1000       1000       6442450944 Mar  4 05:06 backup 2024-03-04.tar
lrwxrwxrwx    1 1000       1000                6 Jul  8 11:00 www -> public
-rw-r--r--    1 1000       1000              512 Dec 25  2001 xmas card.jpg
-rwxrwxrwx    1 1000       1000                1 Jun 30 12:00 Jul 08 11:00
srwxrwxrwx    1 1000       1000                0 Jul  8 11:00 socket
-rw-r--r--    1 1000       1000              100 Apr  1 00:00 trailing space 
-rw-r--r--    1 1000       1000              200 May 31  2022 tab\tname
";
    #[rustfmt::skip]
    const PURE_FTPD_ENTRIES: &[Row] = &[
        ("test.txt", File, Some(1000), None, recent(7, 8, 11, 0)),
        (".ftpquota", File, Some(18), date(2015, 2, 3), None),
        ("photos", Dir, Some(4096), None, recent(7, 8, 11, 0)),
        ("backup 2024-03-04.tar", File, Some(6 * (G4 / 4)), None, recent(3, 4, 5, 6)),
        ("www", Link, Some(6), None, recent(7, 8, 11, 0)),
        ("xmas card.jpg", File, Some(512), date(2001, 12, 25), None),
        ("Jul 08 11:00", File, Some(1), None, recent(6, 30, 12, 0)),
        ("srwxrwxrwx    1 1000       1000                0 Jul  8 11:00 socket", Other, None, None, None),
        ("trailing space ", File, Some(100), None, recent(4, 1, 0, 0)),
        ("tab\tname", File, Some(200), date(2022, 5, 31), None),
    ];

    // FileZilla Server 0.9 / 1.x: `1 ftp ftp`, sizes right-aligned, `%b %d`.
    const FILEZILLA: &str = "\
drwxr-xr-x 1 ftp ftp              0 Jul 08 11:00 New folder\r
drwxr-xr-x 1 ftp ftp              0 Jan 01  2015 Documents\r
-rw-r--r-- 1 ftp ftp           1000 Jul 08 11:00 test.txt\r
-rw-r--r-- 1 ftp ftp     8589934592 Jul 08  2014 disk.vhd\r
-rw-r--r-- 1 ftp ftp             20 Jul 08 11:00 .gitignore\r
-rw-r--r-- 1 ftp ftp              5 Jul 08 11:00 Copy of test (2).txt\r
-rw-r--r-- 1 ftp ftp              7 Aug 31 07:07 r\u{e9}sum\u{e9}.pdf\r
-rw-r--r-- 1 ftp ftp             99 Sep 09  2009 semi;colon,comma.txt\r
drwxr-xr-x 1 ftp ftp              0 Oct 10 10:10 total 3\r
-rw-r--r-- 1 ftp ftp    99999999999 Nov 11  2011 huge.bin\r
-rw-r--r-- 1 ftp ftp              1 Dec 12 12:12 -rw-r--r--\r
-rw-r--r-- 1 ftp ftp              2 Feb 02 02:02 CONNECT\r
";
    #[rustfmt::skip]
    const FILEZILLA_ENTRIES: &[Row] = &[
        ("New folder", Dir, Some(0), None, recent(7, 8, 11, 0)),
        ("Documents", Dir, Some(0), date(2015, 1, 1), None),
        ("test.txt", File, Some(1000), None, recent(7, 8, 11, 0)),
        ("disk.vhd", File, Some(2 * G4), date(2014, 7, 8), None),
        (".gitignore", File, Some(20), None, recent(7, 8, 11, 0)),
        ("Copy of test (2).txt", File, Some(5), None, recent(7, 8, 11, 0)),
        ("r\u{e9}sum\u{e9}.pdf", File, Some(7), None, recent(8, 31, 7, 7)),
        ("semi;colon,comma.txt", File, Some(99), date(2009, 9, 9), None),
        ("total 3", Dir, Some(0), None, recent(10, 10, 10, 10)),
        ("huge.bin", File, Some(99_999_999_999), date(2011, 11, 11), None),
        ("-rw-r--r--", File, Some(1), None, recent(12, 12, 12, 12)),
        ("CONNECT", File, Some(2), None, recent(2, 2, 2, 2)),
    ];

    // IIS in MS-DOS style: two-digit years (and four, with "long date").
    const IIS: &str = "\
07-08-14  11:00AM       <DIR>          TEST\r
07-08-14  11:00AM                 1000 test.txt\r
01-01-2013  12:00AM           5368709120 big.iso\r
12-31-99  11:59PM                    0 old name.txt\r
02-29-16  12:30PM       <DIR>          My Documents\r
10-10-23  01:05PM                   42 .hidden\r
06-15-69  01:00AM                    1 y1969.txt\r
06-15-68  01:00AM                    2 y2068.txt\r
03-04-24  05:06AM          17179869184 disk image.vhdx\r
11-30-2021  11:59PM       <DIR>          aspnet_client\r
05-05-05  12:01AM                    9 OK\r
09-09-09  09:09PM                   10 trailing \r
";
    #[rustfmt::skip]
    const IIS_ENTRIES: &[Row] = &[
        ("TEST", Dir, None, time((2014, 7, 8), (11, 0, 0), None), None),
        ("test.txt", File, Some(1000), time((2014, 7, 8), (11, 0, 0), None), None),
        ("big.iso", File, Some(5 * G4 / 4), time((2013, 1, 1), (0, 0, 0), None), None),
        ("old name.txt", File, Some(0), time((1999, 12, 31), (23, 59, 0), None), None),
        ("My Documents", Dir, None, time((2016, 2, 29), (12, 30, 0), None), None),
        (".hidden", File, Some(42), time((2023, 10, 10), (13, 5, 0), None), None),
        ("y1969.txt", File, Some(1), time((1969, 6, 15), (1, 0, 0), None), None),
        ("y2068.txt", File, Some(2), time((2068, 6, 15), (1, 0, 0), None), None),
        ("disk image.vhdx", File, Some(4 * G4), time((2024, 3, 4), (5, 6, 0), None), None),
        ("aspnet_client", Dir, None, time((2021, 11, 30), (23, 59, 0), None), None),
        ("OK", File, Some(9), time((2005, 5, 5), (0, 1, 0), None), None),
        ("trailing ", File, Some(10), time((2009, 9, 9), (21, 9, 0), None), None),
    ];

    // MLSD from ProFTPD (UNIX.* facts, `OS.unix=symlink`), Pure-FTPd
    // (`OS.unix=slink:`), FileZilla Server (fractions), IIS (facts first
    // letter capitalised on some versions).
    const MLSD: &str = "\
modify=20140708110039;perm=flcdmpe;type=cdir;unique=FD00U2;UNIX.group=1000;UNIX.mode=0755;UNIX.owner=1000; .\r
modify=20140708100000;perm=flcdmpe;type=pdir;unique=FD00U1;UNIX.group=0;UNIX.mode=0755;UNIX.owner=0; ..\r
modify=20140708110039;perm=adfrw;size=1000;type=file;unique=FD00U1C2E6F;UNIX.group=1000;UNIX.mode=0644;UNIX.owner=1000; test.txt\r
modify=20240304050607;perm=flcdmpe;type=dir;unique=FD00U3;UNIX.group=1000;UNIX.mode=0755;UNIX.owner=1000; Reports 2024\r
modify=20231010101010;perm=adfrw;size=10737418240;type=file;unique=FD00U4; ten gig.img\r
modify=20140708110039;perm=adfrw;size=11;type=OS.unix=symlink;unique=FD00U5; current\r
type=OS.unix=slink:/srv/ftp/public;modify=20140708110039;UNIX.mode=0777; www\r
Type=File;Size=5;Modify=20140708110039.5; OK\r
type=file;size=14;modify=20140708110039.123456; +QFTPLIST: 0,5\r
type=file;size=0;modify=19700101000000; .hidden\r
type=dir;sizd=4096;modify=20140708110039; dir;with; semicolons\r
type=file;size=1;  leading space\r
type=OS.unix=chr-13/29;modify=20140708110039; zero\r
modify=20140708110039.123;size=1000;type=file; IIS file.txt\r
";
    #[rustfmt::skip]
    const MLSD_ENTRIES: &[Row] = &[
        ("test.txt", File, Some(1000), time((2014, 7, 8), (11, 0, 39), None), None),
        ("Reports 2024", Dir, None, time((2024, 3, 4), (5, 6, 7), None), None),
        ("ten gig.img", File, Some(10 * (G4 / 4)), time((2023, 10, 10), (10, 10, 10), None), None),
        ("current", Link, Some(11), time((2014, 7, 8), (11, 0, 39), None), None),
        ("www", Link, None, time((2014, 7, 8), (11, 0, 39), None), None),
        ("OK", File, Some(5), time((2014, 7, 8), (11, 0, 39), Some(500)), None),
        ("+QFTPLIST: 0,5", File, Some(14), time((2014, 7, 8), (11, 0, 39), Some(123)), None),
        (".hidden", File, Some(0), time((1970, 1, 1), (0, 0, 0), None), None),
        ("dir;with; semicolons", Dir, Some(4096), time((2014, 7, 8), (11, 0, 39), None), None),
        (" leading space", File, Some(1), None, None),
        ("type=OS.unix=chr-13/29;modify=20140708110039; zero", Other, None, None, None),
        ("IIS file.txt", File, Some(1000), time((2014, 7, 8), (11, 0, 39), Some(123)), None),
    ];

    // NLST: names only, whatever they look like.
    const NLST: &str = "a.txt\r\nOK\r\n+QFTPLIST: 0,5\r\n\r\nname with spaces\r\ntotal 12\r\n.\r\nno line end";
    #[rustfmt::skip]
    const NLST_ENTRIES: &[Row] = &[
        ("a.txt", Other, None, None, None),
        ("OK", Other, None, None, None),
        ("+QFTPLIST: 0,5", Other, None, None, None),
        ("name with spaces", Other, None, None, None),
        ("total 12", Other, None, None, None),
        (".", Other, None, None, None),
        ("no line end", Other, None, None, None),
    ];

    const SAMPLES: &[(&str, Listing, &str, &[Row])] = &[
        ("vsftpd", Listing::List, VSFTPD, VSFTPD_ENTRIES),
        ("ProFTPD", Listing::List, PROFTPD, PROFTPD_ENTRIES),
        ("Pure-FTPd", Listing::List, PURE_FTPD, PURE_FTPD_ENTRIES),
        ("FileZilla Server", Listing::List, FILEZILLA, FILEZILLA_ENTRIES),
        ("IIS", Listing::List, IIS, IIS_ENTRIES),
        ("MLSD", Listing::Mlsd, MLSD, MLSD_ENTRIES),
        ("NLST", Listing::Nlst, NLST, NLST_ENTRIES),
    ];

    fn expected(rows: &[Row]) -> Vec<Owned> {
        rows.iter()
            .map(|&(name, kind, size, modified, recent)| Owned { name: name.into(), kind, size, modified, recent })
            .collect()
    }

    #[test]
    fn every_server_sample_parses_to_its_entries_at_every_chunk_size() {
        for &(server, format, text, rows) in SAMPLES {
            let want = expected(rows);
            for chunk in 1..=text.len() {
                let (got, n) = collect(format, text.as_bytes(), chunk, LINE_MAX);
                assert_eq!(got, want, "{server}, chunk {chunk}");
                assert_eq!(n, want.len() as u64, "{server}, chunk {chunk}");
            }
        }
    }

    #[test]
    fn lf_and_crlf_line_ends_give_the_same_entries() {
        for &(server, format, text, rows) in SAMPLES {
            let lf = text.replace("\r\n", "\n");
            let crlf = lf.replace('\n', "\r\n");
            for t in [lf, crlf] {
                assert_eq!(collect(format, t.as_bytes(), t.len(), LINE_MAX).0, expected(rows), "{server}");
            }
        }
    }

    #[test]
    fn lines_longer_than_the_buffer_come_out_truncated_as_other_at_every_chunk_size() {
        let text = b"short\r\n0123456789abcdef\r\n0123456789\r\n0123456789\r\r\n\r\nlast-one-long";
        let other = |name: &str| Owned { name: name.into(), kind: Other, size: None, modified: None, recent: None };
        // Exactly 10 bytes fit; the CR of a line end never counts; a CR
        // inside a line does.
        let want =
            vec![other("short"), other("0123456789"), other("0123456789"), other("0123456789"), other("last-one-l")];
        for chunk in 1..=text.len() {
            assert_eq!(collect(Listing::Nlst, text, chunk, 10).0, want, "chunk {chunk}");
        }
        let mut buf = [0u8; 10];
        let mut lines = Lines::new(&mut buf);
        let mut seen = Vec::new();
        lines.feed(text, |l, cut| seen.push((l.to_vec(), cut)));
        lines.finish(|l, cut| seen.push((l.to_vec(), cut)));
        let cuts: Vec<bool> = seen.iter().map(|s| s.1).collect();
        assert_eq!(cuts, [false, true, false, true, false, true]);
        // A truncated `ls -l` line is not parsed: it might have lost its
        // name's end.
        let line = b"-rw-r--r-- 1 ftp ftp 5 Jul 08 11:00 a-long-name\n";
        assert_eq!(collect(Listing::List, line, 1, 40).0, vec![other("-rw-r--r-- 1 ftp ftp 5 Jul 08 11:00 a-lo")]);
        // An empty buffer: every line is an empty `Other`, none is lost.
        assert_eq!(collect(Listing::List, b"a\nb\n\nc", 1, 0).0, vec![other(""), other(""), other("")]);
    }

    #[test]
    fn the_splitter_keeps_lone_crs_and_hands_out_the_last_line() {
        let mut buf = [0u8; 16];
        let mut lines = Lines::new(&mut buf);
        let mut seen = Vec::new();
        lines.feed(b"a\rb\r\n\n\r\r\nc", |l, _| seen.push(l.to_vec()));
        assert_eq!(seen, [&b"a\rb"[..], b"", b"\r"]);
        lines.finish(|l, _| seen.push(l.to_vec()));
        assert_eq!(seen.last().unwrap(), b"c");
        // Ready for the next stream; a lone CR at the very end is a line end.
        lines.feed(b"d\r", |l, _| seen.push(l.to_vec()));
        lines.finish(|l, _| seen.push(l.to_vec()));
        lines.finish(|l, _| seen.push(l.to_vec()));
        assert_eq!(seen.len(), 5);
        assert_eq!(seen[4], b"d");
    }

    #[test]
    fn totals_are_skipped_only_when_unambiguous() {
        assert_eq!(list(b"total 12"), None);
        assert_eq!(list(b"total  0"), None);
        for odd in [&b"total"[..], b"total ", b"total 12 x", b"total x", b"Total 12", b"total -1"] {
            assert_eq!(list(odd), Some(Entry::other(odd)), "{:?}", String::from_utf8_lossy(odd));
        }
        // In a names-only listing it is a name.
        assert_eq!(parse(Listing::Nlst, b"total 12"), Some(Entry::other(b"total 12")));
    }

    #[test]
    fn malformed_lines_are_other_and_whole() {
        #[rustfmt::skip]
        let list_lines: &[&[u8]] = &[
            b"-", b"d", b"drwxr-xr-x", b" ", b"   -rw-r--r-- 1 a b 5 Jul 08 11:00 x",
            b"-rw-r--r-- 1 a b 5 Jul 08 11:00", b"-rw-r--r-- 1 a b 5 Jul 08 11:00 ",
            b"-rw-r--r-- 1 a b 99999999999999999999999 Jul 08 11:00 x",
            b"-rw-r--r-- 1 a b 5 Foo 08 11:00 x", b"-rw-r--r-- 1 a b 5 Jul 32 11:00 x",
            b"-rw-r--r-- 1 a b 5 Jul 0 11:00 x", b"-rw-r--r-- 1 a b 5 Jul 08 24:00 x",
            b"-rw-r--r-- 1 a b 5 Jul 08 11:60 x", b"-rw-r--r-- 1 a b 5 Jul 08 :00 x",
            b"-rw-r--r-- 1 a b 5 Jul 08 20140 x", b"-rw-r--r-- 1 a b -5 Jul 08 11:00 x",
            b"-rwxrwxrwq 1 a b 5 Jul 08 11:00 x", b"-rw-r--r--xx 1 a b 5 Jul 08 11:00 x",
            b"xrw-r--r-- 1 a b 5 Jul 08 11:00 x", b"crw-rw-rw- 1 root root 1, 3 Jul 08 11:00 null",
            b"-rw-r--r-- 1 a b c d e f g h i j 5 Jul 08 11:00 x",
            b"07-08-14", b"07-08-14  11:00AM", b"07-08-14  11:00AM  <DIR>", b"07-08-14  11:00AM  5",
            b"13-08-14  11:00AM  5 x", b"07-32-14  11:00AM  5 x", b"07-08-145  11:00AM  5 x",
            b"07-08-14  13:00PM  5 x", b"07-08-14  00:00AM  5 x", b"07-08-14  11:00XM  5 x",
            b"07-08-14  25:00  5 x", b"07-08  11:00AM  5 x", b"07-08-14-1  11:00AM  5 x",
            b"07-08-14  11:00AM  <JUNCTION> x", b"07-08-14  11:00AM  1x x", b"\xff\xfe\x00\r",
            b"OK", b"+QFTPLIST: 0,5", b"\r\nOK\r\n",
        ];
        for &line in list_lines {
            assert_eq!(list(line), Some(Entry::other(line)), "{:?}", String::from_utf8_lossy(line));
        }
        #[rustfmt::skip]
        let mlsd_lines: &[&[u8]] = &[
            b"x", b"type=file", b"type=file;", b"type=file; ", b"type=file;size=1 x", b" name",
            b"; name", b"size=1; name", b"type=; name", b"type=files; name", b"type=OS.unix=slink; name",
            b"type=OS.unix=sl; name", b"=file; name", b"type; name", b"OK", b"+QFTPLIST: 0,5",
        ];
        for &line in mlsd_lines {
            assert_eq!(mlsd(line), Some(Entry::other(line)), "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn mlsd_facts_that_do_not_parse_are_none_but_the_entry_stays() {
        let e = |line: &'static [u8]| mlsd(line).unwrap();
        assert_eq!(e(b"type=file;size=x;modify=2014; a").size, None);
        assert_eq!(e(b"type=file;size=99999999999999999999; a").size, None);
        for modify in
            ["2014", "20141308110039", "20140708110039.", "20140708110039.1x", "201407081100391", "+0140708110039"]
        {
            let line = format!("type=file;modify={modify}; a");
            let got = mlsd(line.as_bytes()).unwrap();
            assert_eq!((got.name, got.kind, got.modified), (&b"a"[..], File, None), "{modify}");
        }
        // A fraction of any length, kept to milliseconds.
        let long = e(b"type=file;modify=20140708110039.0123456789012345678901234567890; a");
        assert_eq!(long.modified.unwrap().millis, Some(12));
        // Facts without `=` and unknown facts are ignored; the last of a repeated fact wins.
        assert_eq!(e(b"junk;type=dir;x=y;size=1;size=2; d").size, Some(2));
        // The directory and its parent, in any case, are not entries.
        assert_eq!(mlsd(b"TYPE=CDIR; /home/me"), None);
        assert_eq!(mlsd(b"type=Pdir;modify=20140708110039; .."), None);
        assert_eq!(mlsd(b""), None);
    }

    #[test]
    fn every_prefix_of_every_sample_line_parses_without_panic_and_other_keeps_the_line() {
        for &(_, format, text, _) in SAMPLES {
            for line in text.split('\n') {
                let line = line.trim_end_matches('\r').as_bytes();
                for end in 0..=line.len() {
                    for start in 0..=end.min(3) {
                        let part = &line[start..end];
                        for format in [format, Listing::List, Listing::Mlsd] {
                            if let Some(e) = parse(format, part) {
                                if e.kind == Other {
                                    assert_eq!(e.name, part);
                                }
                                assert!(!e.name.is_empty() || part.is_empty());
                            }
                        }
                    }
                }
            }
        }
    }

    /// The fuzzer's finding (stop 15, CI's smoke run): a link line whose
    /// name is empty before ` -> ` is no entry of that name, but a line
    /// of no known shape, kept whole.
    #[test]
    fn a_link_without_a_name_is_another_line() {
        let line = b"lrwxrwxrwx 1 ftp ftp 2 Jul  8  2014  -> target";
        let e = parse(Listing::List, line).unwrap();
        assert_eq!((e.kind, e.name), (Other, &line[..]));
        let named = parse(Listing::List, b"lrwxrwxrwx 1 ftp ftp 2 Jul  8  2014 a -> target").unwrap();
        assert_eq!((named.kind, named.name), (Link, &b"a"[..]));
    }

    #[test]
    fn recent_times_take_the_year_the_caller_knows() {
        let r = Recent { month: 7, day: 8, hour: 11, minute: 0 };
        assert_eq!(r.in_year(2024), time((2024, 7, 8), (11, 0, 0), None).unwrap());
    }

    #[test]
    fn names_come_out_as_str_when_utf8() {
        assert_eq!(parse(Listing::Nlst, "r\u{e9}sum\u{e9}".as_bytes()).unwrap().name_str(), Some("r\u{e9}sum\u{e9}"));
        assert_eq!(parse(Listing::Nlst, b"r\xe9sum\xe9").unwrap().name_str(), None);
    }
}
