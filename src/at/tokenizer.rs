//! The sans-IO tokenizer: bytes in, [`Frame`]s out.
//!
//! ```
//! use quectel_ftp::at::tokenizer::{Frame, Tokenizer};
//!
//! let mut tok = Tokenizer::<128>::new();
//! let mut input: &[u8] = b"\r\n+QFTPSIZE: 0,1000\r\n\r\nOK\r\n";
//! let mut frames = 0;
//! loop {
//!     let (used, frame) = tok.feed(input);
//!     input = &input[used..];
//!     match frame {
//!         Some(Frame::Line(line)) => assert_eq!(line, b"+QFTPSIZE: 0,1000"),
//!         Some(Frame::Ok) => {}
//!         Some(other) => panic!("{:?}", other),
//!         None if input.is_empty() => break,
//!         None => {}
//!     }
//!     frames += 1;
//! }
//! assert_eq!(frames, 2);
//! ```
//!
//! In command mode lines end at CR or LF; blank lines are skipped. A line
//! longer than the buffer `N` gives one [`Frame::Overflow`] and is skipped up
//! to its end, after which tokenizing resumes.
//!
//! Data mode is armed before the command that answers `CONNECT` is sent
//! ([`Tokenizer::expect_payload`]); the `CONNECT` line then switches the
//! tokenizer over, and payload bytes come out as [`Frame::Data`] slices of the
//! caller's input, uninterpreted, followed by [`Frame::DataEnd`]:
//!
//! - [`Payload::Exact`]: exactly `n` bytes follow `CONNECT`.
//! - [`Payload::Confirmed`]: the length is not known in advance (listings,
//!   the last chunk of a download). The payload ends at the first
//!   `\r\nOK\r\n` that is followed by the command's own result line whose
//!   count equals the number of payload bytes before it (or which reports a
//!   failure). Any `\r\nOK\r\n` inside the payload fails that check and is
//!   passed on as data. (A payload that itself contains `\r\nOK\r\n` followed
//!   by a result line with exactly the right count cannot be told apart from
//!   the real end by any reader of this stream.) URCs (`+...` lines) between
//!   that `OK` and the result line are looked past and come out after the
//!   payload; when they fill [`HOLD`] bytes before the result line comes,
//!   the end is taken there and the result line's count, which the caller
//!   checks, decides. Only lines shaped as URCs (`+NAME: ` and printable
//!   text) count as such: payload after an `\r\nOK\r\n` of its own
//!   (binary bytes, `+++`, plain text) is data at once. After
//!   [`Frame::DataEnd`] come the [`Frame::Ok`] and the result line as usual.
//!
//! # Reading this file
//!
//! In order: the public types ([`Payload`], [`Frame`]) and the private
//! `Mode` (command mode, armed, exact or confirmed payload); `LineBuf`,
//! the command-mode line assembler; [`Tokenizer`], whose `feed` is the one
//! entry point (a fast path for whole lines, then one loop over the modes);
//! then the free helpers by concern: `classify` (which frame a line is),
//! `judge` and `urc_like` (is this `\r\nOK\r\n` the payload's end?),
//! and the byte scanners `skip_blanks`, `line_end` and `candidate`.

use crate::at::parse::{self, Field};
use crate::error::CmeError;

/// How many bytes a candidate end of a confirmed payload may take
/// (`\r\nOK\r\n`, blank lines, a URC or two, and the result line); also the
/// most payload bytes one [`Frame::Data`] from the tokenizer's own buffer holds.
pub const HOLD: usize = 64;

/// The end of a data-mode payload on the wire.
const END: &[u8] = b"\r\nOK\r\n";

/// What follows the next `CONNECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Payload {
    /// Exactly this many payload bytes.
    Exact(u64),
    /// Exactly as many payload bytes as the `CONNECT <n>` line says, at
    /// most `limit` (`AT+QFREAD`; a `CONNECT` without a count: none).
    Counted {
        /// The most bytes the command asked for.
        limit: u64,
    },
    /// A payload of unknown length, ended by `\r\nOK\r\n` and confirmed by
    /// the result line `+<result>: 0,<count>`.
    Confirmed {
        /// The result line's name without `+`, e.g. `"QFTPNLST"`.
        result: &'static str,
        /// The payload never exceeds this many bytes (a download's
        /// `<downloadlen>`); `None` for listings.
        limit: Option<u64>,
    },
}

/// One thing the modem said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame<'a> {
    /// An information line: a result, a URC, `RDY`, ... (terminator removed).
    Line(&'a [u8]),
    /// The final result `OK`.
    Ok,
    /// The final result `ERROR`.
    Error,
    /// The final result `+CME ERROR: <err>`.
    Cme(CmeError),
    /// `CONNECT`: the module entered data mode.
    Connect,
    /// `NO CARRIER`.
    NoCarrier,
    /// An echoed command line (echo is on).
    Echo(&'a [u8]),
    /// Payload bytes, passed through untouched.
    Data(&'a [u8]),
    /// The payload is complete: `len` bytes in all.
    DataEnd {
        /// Payload bytes delivered.
        len: u64,
    },
    /// A line did not fit the buffer; it is skipped up to its end.
    Overflow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Command,
    /// Command mode, and the next `CONNECT` starts a payload: of `limit`
    /// bytes exactly (at most, `counted` on the `CONNECT` line), or, with
    /// a result name, confirmed by that result.
    Armed {
        result: Option<&'static [u8]>,
        limit: u64,
        counted: bool,
    },
    Exact {
        left: u64,
        moved: u64,
    },
    Confirmed {
        result: &'static [u8],
        limit: u64,
        moved: u64,
    },
}

/// What a partial line buffer push produced.
enum LineEvent {
    Line,
    Overflow,
}

/// The command-mode line assembler.
struct LineBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// Skipping the rest of an overlong line.
    skipping: bool,
    /// The line begun is older than the command sent since
    /// ([`Tokenizer::stale_line`]): it comes out as a plain line.
    stale: bool,
}

impl<const N: usize> LineBuf<N> {
    /// Takes bytes up to and including the next line end. Returns the bytes
    /// consumed and, when a line ended (or overflowed), what happened.
    fn push(&mut self, src: &[u8]) -> (usize, Option<LineEvent>) {
        if self.len == 0 && !self.skipping {
            // Line ends between lines (`\r\n\r\n`) are blank lines: skip them
            // in one go.
            let blank = src.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            if blank > 0 {
                return (blank, None);
            }
        }
        let end = line_end(src);
        let body = src.get(..end.unwrap_or(src.len())).unwrap_or_default();
        let used = end.map_or(src.len(), |i| i + 1);
        if self.skipping {
            self.skipping = end.is_none();
            return (used, None);
        }
        match self.buf.get_mut(self.len..self.len + body.len()) {
            Some(dst) => {
                dst.copy_from_slice(body);
                self.len += body.len();
            }
            None => {
                self.len = 0;
                self.skipping = end.is_none();
                self.stale = false;
                return (used, Some(LineEvent::Overflow));
            }
        }
        if end.is_some() && self.len > 0 {
            return (used, Some(LineEvent::Line));
        }
        (used, None)
    }

    /// Hands out the complete line; the buffer is free for the next one.
    fn take(&mut self) -> &[u8] {
        let len = core::mem::take(&mut self.len);
        self.buf.get(..len).unwrap_or_default()
    }
}

/// The tokenizer. `N` is the longest line it keeps (256 holds any response
/// of the FTP command set, whose paths are at most 255 bytes... plus the
/// prefix; pick more if your URCs are longer).
pub struct Tokenizer<const N: usize = 320> {
    line: LineBuf<N>,
    mode: Mode,
    /// A CR ended the `CONNECT` line: an LF right after it is framing.
    skip_lf: bool,
    /// Bytes of a possible payload end, pulled from the input but not yet
    /// classified (confirmed mode), or left over for command mode.
    hold: [u8; HOLD],
    hold_len: usize,
    /// Bytes at the front of `hold` handed out as data by the last call.
    hold_taken: usize,
    /// A possible end (`\r\nOK\r\n`) of the confirmed payload armed last
    /// has been seen.
    end_seen: bool,
}

impl<const N: usize> Default for Tokenizer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Tokenizer<N> {
    /// A tokenizer in command mode.
    pub const fn new() -> Self {
        Tokenizer {
            line: LineBuf { buf: [0; N], len: 0, skipping: false, stale: false },
            mode: Mode::Command,
            skip_lf: false,
            hold: [0; HOLD],
            hold_len: 0,
            hold_taken: 0,
            end_seen: false,
        }
    }

    /// Arms data mode: the next `CONNECT` is followed by `payload`. (In
    /// command mode; a payload that is running is not disturbed.)
    pub fn expect_payload(&mut self, payload: Payload) {
        if !self.in_data_mode() {
            self.end_seen = false;
            self.mode = match payload {
                Payload::Exact(n) => Mode::Armed { result: None, limit: n, counted: false },
                Payload::Counted { limit } => Mode::Armed { result: None, limit, counted: true },
                Payload::Confirmed { result, limit } => {
                    Mode::Armed { result: Some(result.as_bytes()), limit: limit.unwrap_or(u64::MAX), counted: false }
                }
            };
        }
    }

    /// Drops the first `n` held bytes: the rest goes to a scratch array
    /// and back, two `memcpy`s. The scratch array passes through
    /// `black_box` in between; otherwise LLVM fuses the two copies into a
    /// `memmove`, which firmware would then link (1.5 KiB) for this alone.
    fn drop_held(&mut self, n: usize) {
        let n = n.min(self.hold_len);
        let k = self.hold_len - n;
        let mut rest = [0u8; HOLD];
        if let (Some(dst), Some(src)) = (rest.get_mut(..k), self.hold.get(n..self.hold_len)) {
            dst.copy_from_slice(src);
        }
        core::hint::black_box(&mut rest);
        if let (Some(dst), Some(src)) = (self.hold.get_mut(..k), rest.get(..k)) {
            dst.copy_from_slice(src);
        }
        self.hold_len = k;
    }

    /// Forgets all state: partial lines, held bytes, data mode, arming.
    /// For resynchronisation after a timeout or a dropped future.
    pub fn reset(&mut self) {
        // Field by field: the buffers' contents are never read beyond their
        // lengths, and building a whole new tokenizer would cost a
        // buffer-sized temporary on the stack. (Destructured in full, so
        // that a new field cannot be forgotten here.)
        let Tokenizer {
            line: LineBuf { buf: _, len, skipping, stale },
            mode,
            skip_lf,
            hold: _,
            hold_len,
            hold_taken,
            end_seen,
        } = self;
        *len = 0;
        *skipping = false;
        *stale = false;
        *mode = Mode::Command;
        *skip_lf = false;
        *hold_len = 0;
        *hold_taken = 0;
        *end_seen = false;
    }

    /// The payload bytes of the last [`Frame::Data`] if they came from the
    /// tokenizer's own hold rather than from the input (empty otherwise).
    /// Valid until the next [`Tokenizer::feed`]; lets a caller that cannot
    /// keep the frame's borrow pick the bytes up without copying them.
    pub fn held_payload(&self) -> &[u8] {
        self.hold.get(..self.hold_taken).unwrap_or_default()
    }

    /// Bytes taken from the input but not framed yet: they come before the
    /// rest of the input. After a payload that ended at its limit, the
    /// start of what follows it may be here (pulled in to judge a possible
    /// end that turned out to be data).
    pub fn unframed(&self) -> &[u8] {
        self.hold.get(self.hold_taken..self.hold_len).unwrap_or_default()
    }

    /// Forgets the first `n` bytes of [`Tokenizer::unframed`]: the caller
    /// read them itself.
    pub fn skip_unframed(&mut self, n: usize) {
        self.drop_held(self.hold_taken.saturating_add(n));
        self.hold_taken = 0;
    }

    /// Marks the line begun, if any, as older than the command about to be
    /// sent: it cannot be that command's answer, so when it ends it comes
    /// out as [`Frame::Line`] whatever it says (an `ERROR`, a `+CME ERROR`
    /// or a `CONNECT` that nothing asked for stays a line, for the URC
    /// dispatcher). In command mode only.
    pub fn stale_line(&mut self) {
        self.line.stale = self.line.len > 0;
    }

    /// Leaves data mode at once (after `+++` aborted a transfer), keeping
    /// nothing of the payload.
    pub fn abort_payload(&mut self) {
        if self.in_data_mode() {
            self.hold_len = 0;
            self.hold_taken = 0;
            self.skip_lf = false;
        }
        self.mode = Mode::Command;
    }

    /// True once a possible end (`\r\nOK\r\n`) of the confirmed payload
    /// armed last has been seen, whether it turned out to be the end or
    /// data. From then on a well-behaved module confirms the end within
    /// its deferred-result deadline.
    pub fn end_seen(&self) -> bool {
        self.end_seen
    }

    /// True while payload bytes are expected.
    pub fn in_data_mode(&self) -> bool {
        matches!(self.mode, Mode::Exact { .. } | Mode::Confirmed { .. })
    }

    /// Feeds bytes. Returns how many bytes of `input` were consumed and the
    /// next frame, if one is complete. Call again with the rest of the input
    /// until it is consumed and no frame comes out.
    pub fn feed<'s>(&'s mut self, input: &'s [u8]) -> (usize, Option<Frame<'s>>) {
        let (used, line, stale) = 'line: {
            // Fast path, the common case: command mode, nothing held, no line
            // begun, and a whole line in the input, handed out without a copy.
            // (The two lengths or-ed: one test, which the hot loop feels.)
            if matches!(self.mode, Mode::Command | Mode::Armed { .. })
                && (self.hold_len | self.line.len) == 0
                && !self.line.skipping
            {
                let body = skip_blanks(input);
                let blank = input.len() - body.len();
                if let Some(end) = line_end(body) {
                    let line = body.get(..end).unwrap_or_default();
                    if line.len() > N {
                        return (blank + end + 1, Some(Frame::Overflow));
                    }
                    break 'line (blank + end + 1, line, false);
                }
            }
            if self.hold_taken > 0 {
                self.drop_held(self.hold_taken);
                self.hold_taken = 0;
            }
            let mut used = 0;
            loop {
                let rest = input.get(used..).unwrap_or_default();
                match self.mode {
                    Mode::Command | Mode::Armed { .. } => {
                        // Held bytes go first: they came before `rest`.
                        let (n, event) = if self.hold_len > 0 {
                            let held = self.hold.get(..self.hold_len).unwrap_or_default();
                            let (n, event) = self.line.push(held);
                            self.drop_held(n);
                            (0, event)
                        } else if rest.is_empty() {
                            return (used, None);
                        } else {
                            self.line.push(rest)
                        };
                        used += n;
                        match event {
                            None => {}
                            Some(LineEvent::Overflow) => return (used, Some(Frame::Overflow)),
                            Some(LineEvent::Line) => {
                                let stale = core::mem::take(&mut self.line.stale);
                                break 'line (used, self.line.take(), stale);
                            }
                        }
                    }
                    _ if self.skip_lf => {
                        let src = if self.hold_len > 0 { self.hold.get(..self.hold_len) } else { Some(rest) };
                        match src.and_then(|s| s.first()) {
                            None => return (used, None),
                            Some(&b'\n') if self.hold_len > 0 => {
                                self.drop_held(1);
                            }
                            Some(&b'\n') => used += 1,
                            Some(_) => {}
                        }
                        self.skip_lf = false;
                    }
                    Mode::Exact { left: 0, moved } | Mode::Confirmed { limit: 0, moved, .. } => {
                        self.mode = Mode::Command;
                        return (used, Some(Frame::DataEnd { len: moved }));
                    }
                    Mode::Exact { left, moved } => {
                        let src = if self.hold_len > 0 { self.hold.get(..self.hold_len) } else { Some(rest) };
                        let src = src.unwrap_or_default();
                        if src.is_empty() {
                            return (used, None);
                        }
                        let take = clamp(src.len(), left);
                        self.mode = Mode::Exact { left: left - take as u64, moved: moved + take as u64 };
                        return if self.hold_len > 0 {
                            self.hold_taken = take;
                            (used, Some(Frame::Data(self.hold.get(..take).unwrap_or_default())))
                        } else {
                            (used + take, Some(Frame::Data(rest.get(..take).unwrap_or_default())))
                        };
                    }
                    Mode::Confirmed { result, limit, moved } => {
                        if self.hold_len == 0 {
                            let window = rest.get(..clamp(rest.len(), limit)).unwrap_or_default();
                            match candidate(window) {
                                Some(0) => {}
                                found => {
                                    let take = found.unwrap_or(window.len());
                                    if take == 0 {
                                        return (used, None);
                                    }
                                    self.mode = Mode::Confirmed {
                                        result,
                                        limit: limit - take as u64,
                                        moved: moved + take as u64,
                                    };
                                    return (used + take, Some(Frame::Data(rest.get(..take).unwrap_or_default())));
                                }
                            }
                        }
                        // A CR: pull what may be the end into the hold and judge it.
                        let room = HOLD - self.hold_len;
                        let pull = rest.len().min(room);
                        if let (Some(dst), Some(src)) =
                            (self.hold.get_mut(self.hold_len..self.hold_len + pull), rest.get(..pull))
                        {
                            dst.copy_from_slice(src);
                            self.hold_len += pull;
                            used += pull;
                        }
                        let held = self.hold.get(..self.hold_len).unwrap_or_default();
                        // Only a whole `\r\nOK\r\n` is a possible end: a read that
                        // stops after a line's CR or CRLF is not one.
                        self.end_seen |= held.starts_with(END);
                        match judge(held, result, moved) {
                            Verdict::NeedMore => return (used, None),
                            Verdict::Confirm => {
                                // The held bytes (`\r\nOK\r\n...`) replay in command mode.
                                self.mode = Mode::Command;
                                return (used, Some(Frame::DataEnd { len: moved }));
                            }
                            Verdict::Reject => {
                                // Payload up to the next CR, which may start the real end.
                                let next_cr =
                                    held.iter().skip(1).position(|&b| b == b'\r').map_or(held.len(), |i| i + 1);
                                let take = clamp(next_cr, limit);
                                self.mode =
                                    Mode::Confirmed { result, limit: limit - take as u64, moved: moved + take as u64 };
                                self.hold_taken = take;
                                return (used, Some(Frame::Data(self.hold.get(..take).unwrap_or_default())));
                            }
                        }
                    }
                }
            }
        };
        // Classified in one place only, which lets it inline.
        let frame = match stale {
            true => Frame::Line(line),
            false => classify(line),
        };
        if matches!(frame, Frame::Connect) {
            enter_data_mode(&mut self.mode, &mut self.skip_lf, line);
        }
        (used, Some(frame))
    }
}

/// After the `CONNECT` line `line`: switches to data mode if a payload is
/// armed. (A free function over the two fields, so that a frame borrowing
/// the line buffer can stay alive meanwhile.)
fn enter_data_mode(mode: &mut Mode, skip_lf: &mut bool, line: &[u8]) {
    if let Mode::Armed { result, limit, counted } = *mode {
        *mode = match result {
            // `CONNECT <n>`: `n` bytes, at most the limit.
            None if counted => {
                let n = line.get(b"CONNECT".len()..).and_then(|n| parse::decimal(n.trim_ascii()));
                Mode::Exact { left: n.unwrap_or(0).min(limit), moved: 0 }
            }
            None => Mode::Exact { left: limit, moved: 0 },
            Some(result) => Mode::Confirmed { result, limit, moved: 0 },
        };
        *skip_lf = true;
    }
}

/// The frame for a complete command-mode line. The two most common kinds,
/// `OK` and a `+` line that is not `+CME ERROR:`, are told inline.
#[inline(always)]
fn classify(line: &[u8]) -> Frame<'_> {
    match line {
        b"OK" => Frame::Ok,
        [b'+', b'C', ..] => classify_other(line),
        [b'+', ..] => Frame::Line(line),
        _ => classify_other(line),
    }
}

/// [`classify`] for the rarer lines.
#[inline(never)]
fn classify_other(line: &[u8]) -> Frame<'_> {
    match line {
        [b'+', b'C', b'M', b'E', b' ', b'E', b'R', b'R', b'O', b'R', b':', ..] => {
            parse::cme_error(line).map_or(Frame::Line(line), Frame::Cme)
        }
        [b'+', ..] => Frame::Line(line),
        // Trimmed once, and only for the lines that are not results.
        _ => match line.trim_ascii_end() {
            b"OK" => Frame::Ok,
            b"ERROR" => Frame::Error,
            b"NO CARRIER" => Frame::NoCarrier,
            [b'C', ..] if line.starts_with(b"CONNECT") => Frame::Connect,
            [a, t, ..] if a.eq_ignore_ascii_case(&b'A') && t.eq_ignore_ascii_case(&b'T') => Frame::Echo(line),
            _ => Frame::Line(line),
        },
    }
}

enum Verdict {
    NeedMore,
    Confirm,
    Reject,
}

/// Judges held bytes that start with a CR: are they `\r\nOK\r\n`, blank
/// lines, and the command's result line confirming `moved` payload bytes?
fn judge(held: &[u8], result: &[u8], moved: u64) -> Verdict {
    let full = held.len() >= HOLD;
    let k = held.len().min(END.len());
    if held.get(..k) != END.get(..k) {
        return Verdict::Reject;
    }
    let mut rest = held.get(END.len()..).unwrap_or_default();
    loop {
        let start = rest.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(rest.len());
        let from = rest.get(start..).unwrap_or_default();
        let Some(end) = line_end(from) else {
            return match full {
                false => Verdict::NeedMore,
                // The hold is full of unsolicited lines (and perhaps the
                // start of one more): a module back in command mode that
                // keeps talking. Taken as the end; the result line's count,
                // checked by the caller, still decides.
                true if from.is_empty() || urc_like(from, true) => Verdict::Confirm,
                true => Verdict::Reject,
            };
        };
        let line = from.get(..end).unwrap_or_default();
        match parse::ftp_result(line, result) {
            Some(r) if r.err != 0 => return Verdict::Confirm,
            Some(r) if r.value == Field::Num(moved) => return Verdict::Confirm,
            Some(_) => return Verdict::Reject,
            // A URC between the payload's `OK` and its result: look past it
            // (it comes out as a line after the payload).
            None if urc_like(line, false) => rest = from.get(end..).unwrap_or_default(),
            None => return Verdict::Reject,
        }
    }
}

/// Whether `line` looks like an unsolicited result code: `+`, a name of
/// capitals and digits, `:`, then printable ASCII only; with `partial`,
/// whether it may be the start of one. Payload that follows an
/// `\r\nOK\r\n` of its own rarely does (binary bytes, `+++`, text lines),
/// so it is told from the module's own lines after the real end.
fn urc_like(line: &[u8], partial: bool) -> bool {
    let Some(rest) = line.strip_prefix(b"+") else {
        return false;
    };
    let name = rest.iter().take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit()).count();
    let after = rest.get(name..).unwrap_or_default();
    let printable = rest.iter().all(|b| (0x20..0x7f).contains(b));
    printable && (name > 0 || partial) && (after.first() == Some(&b':') || (partial && after.is_empty()))
}

/// `s` after the CR and LF bytes it starts with. Lines come as
/// `\r\n<line>\r\n`, so these are usually two or three: one machine word tells.
fn skip_blanks(mut s: &[u8]) -> &[u8] {
    const ONES: usize = usize::MAX / 255;
    if let Some(word) = s.first_chunk() {
        let x = usize::from_le_bytes(*word);
        // The high bit of every nonzero byte of `y` (exact: no carries between bytes).
        let nonzero = |y: usize| (((y & (ONES * 0x7f)) + ONES * 0x7f) | y) & (ONES * 0x80);
        let other = nonzero(x ^ (ONES * usize::from(b'\r'))) & nonzero(x ^ (ONES * usize::from(b'\n')));
        if other != 0 {
            return s.get((other.trailing_zeros() / 8) as usize..).unwrap_or_default();
        }
    }
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    s
}

/// The first CR or LF in `s`. AT lines are short, so instead of a general
/// search this looks at a machine word at a time for bytes below 14 (CR is
/// 13, LF 10), which printable text never has.
fn line_end(s: &[u8]) -> Option<usize> {
    const W: usize = core::mem::size_of::<usize>();
    const ONES: usize = usize::MAX / 255;
    let is_end = |b: &u8| *b == b'\r' || *b == b'\n';
    let mut words = s.chunks_exact(W);
    let mut at = 0;
    for word in &mut words {
        let mut bytes = [0u8; W];
        bytes.copy_from_slice(word);
        let x = usize::from_le_bytes(bytes);
        // The lowest set bit marks the first byte below 14 exactly.
        let low = x.wrapping_sub(ONES * 14) & !x & (ONES * 0x80);
        if low != 0 {
            let first = (low.trailing_zeros() / 8) as usize;
            if let Some(i) = word.iter().skip(first).position(is_end) {
                return Some(at + first + i);
            }
        }
        at += W;
    }
    words.remainder().iter().position(is_end).map(|i| at + i)
}

/// The first CR in `window` that may start the payload's end: the bytes
/// after it (as far as `window` goes) match `\r\nOK\r\n`. Other CRs are data.
fn candidate(window: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'\r', window.get(from..)?) {
        let at = from + i;
        let tail = window.get(at..).unwrap_or_default();
        let k = tail.len().min(END.len());
        if tail.get(..k) == END.get(..k) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `min(n, limit)` as a `usize`.
fn clamp(n: usize, limit: u64) -> usize {
    usize::try_from(limit).map_or(n, |l| n.min(l))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// Owned copy of a frame, so frames from different runs compare.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum F {
        Line(Vec<u8>),
        Ok,
        Error,
        Cme(CmeError),
        Connect,
        NoCarrier,
        Echo(Vec<u8>),
        Data(Vec<u8>),
        DataEnd(u64),
        Overflow,
    }

    /// Feeds `input` in the given chunk sizes, arming data mode with the
    /// payload spec before the stream starts; coalesces adjacent data.
    fn run<const N: usize>(input: &[u8], sizes: &mut dyn FnMut() -> usize, arm: &[Payload]) -> Vec<F> {
        let mut tok = Tokenizer::<N>::new();
        let mut arms = arm.iter();
        if let Some(p) = arms.next() {
            tok.expect_payload(*p);
        }
        let mut out: Vec<F> = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let n = sizes().clamp(1, rest.len());
            let mut chunk = &rest[..n];
            rest = &rest[n..];
            loop {
                let (used, frame) = tok.feed(chunk);
                chunk = &chunk[used..];
                let f = match frame {
                    None if chunk.is_empty() => break,
                    None => continue,
                    Some(Frame::Line(l)) => F::Line(l.to_vec()),
                    Some(Frame::Ok) => F::Ok,
                    Some(Frame::Error) => F::Error,
                    Some(Frame::Cme(e)) => F::Cme(e),
                    Some(Frame::Connect) => F::Connect,
                    Some(Frame::NoCarrier) => F::NoCarrier,
                    Some(Frame::Echo(l)) => F::Echo(l.to_vec()),
                    Some(Frame::Data(d)) => {
                        assert!(!d.is_empty(), "empty data frame");
                        if let Some(F::Data(prev)) = out.last_mut() {
                            prev.extend_from_slice(d);
                            continue;
                        }
                        F::Data(d.to_vec())
                    }
                    Some(Frame::DataEnd { len }) => {
                        if let Some(p) = arms.next() {
                            tok.expect_payload(*p);
                        }
                        F::DataEnd(len)
                    }
                    Some(Frame::Overflow) => F::Overflow,
                };
                out.push(f);
            }
        }
        out
    }

    fn whole<const N: usize>(input: &[u8], arm: &[Payload]) -> Vec<F> {
        run::<N>(input, &mut || usize::MAX, arm)
    }

    /// Every split of the same stream gives the same frames.
    fn check_all_splits<const N: usize>(input: &[u8], arm: &[Payload]) -> Vec<F> {
        let reference = whole::<N>(input, arm);
        for size in 1..=input.len().min(70) {
            assert_eq!(run::<N>(input, &mut || size, arm), reference, "chunk size {size}");
        }
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200 {
            let mut rnd = || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % 40) as usize + 1
            };
            assert_eq!(run::<N>(input, &mut rnd, arm), reference);
        }
        reference
    }

    fn hostile_payload() -> Vec<u8> {
        let mut p: Vec<u8> = (0..=255u8).collect();
        for chunk in [
            &b"\r\nOK\r\n"[..],
            b"+QFTPGET: 0,5\r\n",
            b"\r\nCONNECT\r\n",
            b"+++",
            b"\r\nOK\r\n\r\n+QFTPGET: 0,5\r\n",
            b"\r\nOK\r\n\r\n+QFTPLIST: 0,1\r\n",
            b"\r\nERROR\r\n\r",
        ] {
            p.extend_from_slice(chunk);
            p.extend(0..=255u8);
        }
        p
    }

    #[test]
    fn section_5_transcript_splits_identically() {
        let input = b"AT+QFTPCWD=\"/\"\r\r\nOK\r\n\r\n+QFTPCWD: 0,0\r\n\
            \r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n\
            \r\nOK\r\n\r\n+QFTPPWD: 0, \"/\"\r\n\
            \r\nERROR\r\n\r\n+CME ERROR: 603\r\n\
            \r\n+QIURC: \"pdpdeact\",1\r\n\
            \r\nNO CARRIER\r\n1\r\n\r\n\r\n\nRDY\n";
        let frames = check_all_splits::<64>(input, &[]);
        assert_eq!(
            frames,
            [
                F::Echo(b"AT+QFTPCWD=\"/\"".to_vec()),
                F::Ok,
                F::Line(b"+QFTPCWD: 0,0".to_vec()),
                F::Line(b"+QFTPSTAT: 0,1".to_vec()),
                F::Ok,
                F::Ok,
                F::Line(b"+QFTPPWD: 0, \"/\"".to_vec()),
                F::Error,
                F::Cme(CmeError::Code(603)),
                F::Line(b"+QIURC: \"pdpdeact\",1".to_vec()),
                F::NoCarrier,
                F::Line(b"1".to_vec()),
                F::Line(b"RDY".to_vec()),
            ]
        );
    }

    #[test]
    fn exact_payload_passes_every_byte_untouched() {
        let payload = hostile_payload();
        let input = confirmed_stream(&payload, "QFTPGET");
        let frames = check_all_splits::<64>(&input, &[Payload::Exact(payload.len() as u64)]);
        assert_eq!(frames, transfer_frames(&payload, "QFTPGET"));
    }

    /// A download or listing on the wire: `CONNECT`, payload, `OK`, result.
    fn confirmed_stream(payload: &[u8], result: &str) -> Vec<u8> {
        let mut input = b"\r\nCONNECT\r\n".to_vec();
        input.extend_from_slice(payload);
        input.extend_from_slice(std::format!("\r\nOK\r\n\r\n+{result}: 0,{}\r\n", payload.len()).as_bytes());
        input
    }

    /// The frames `confirmed_stream` must give.
    fn transfer_frames(payload: &[u8], result: &str) -> Vec<F> {
        std::vec![
            F::Connect,
            F::Data(payload.to_vec()),
            F::DataEnd(payload.len() as u64),
            F::Ok,
            F::Line(std::format!("+{result}: 0,{}", payload.len()).into_bytes()),
        ]
    }

    #[test]
    fn confirmed_payload_passes_every_byte_untouched() {
        let payload = hostile_payload();
        for limit in [None, Some(payload.len() as u64), Some(payload.len() as u64 + 100)] {
            let input = confirmed_stream(&payload, "QFTPGET");
            let frames = check_all_splits::<64>(&input, &[Payload::Confirmed { result: "QFTPGET", limit }]);
            assert_eq!(frames, transfer_frames(&payload, "QFTPGET"), "limit {limit:?}");
        }
    }

    #[test]
    fn name_list_with_a_file_called_ok_comes_out_exactly() {
        for listing in
            [&b"OK\r\n"[..], b"a\r\nOK\r\n", b"OK\r\nOK\r\nb\r\n", b"\r\nOK\r\n", b"x\r\nOK\r\n\r\n+QFTPNLST: 0,9\r\n"]
        {
            let input = confirmed_stream(listing, "QFTPNLST");
            let frames = check_all_splits::<64>(&input, &[Payload::Confirmed { result: "QFTPNLST", limit: None }]);
            assert_eq!(frames, transfer_frames(listing, "QFTPNLST"));
        }
    }

    #[test]
    fn urc_between_the_payload_ok_and_its_result_is_looked_past() {
        let listing = b"a.bin\r\nOK\r\n\r\n+CEREG: 1\r\nb.bin\r\n";
        let mut input = b"\r\nCONNECT\r\n".to_vec();
        input.extend_from_slice(listing);
        input.extend_from_slice(b"\r\nOK\r\n\r\n+QIURC: \"pdpdeact\",1\r\n\r\n+QFTPNLST: 0,");
        input.extend_from_slice(std::format!("{}\r\n", listing.len()).as_bytes());
        let frames = check_all_splits::<64>(&input, &[Payload::Confirmed { result: "QFTPNLST", limit: None }]);
        assert_eq!(
            frames,
            [
                F::Connect,
                F::Data(listing.to_vec()),
                F::DataEnd(listing.len() as u64),
                F::Ok,
                F::Line(b"+QIURC: \"pdpdeact\",1".to_vec()),
                F::Line(std::format!("+QFTPNLST: 0,{}", listing.len()).into_bytes()),
            ]
        );
    }

    #[test]
    fn a_storm_of_urcs_after_the_payload_ok_ends_the_payload_exactly() {
        let listing = b"a.txt\r\nb.txt\r\n";
        let urcs = ["+CEREG: 5", "+QIND: \"csq\",20,99", "+QUSIM: 1"];
        for n in [2, 3, 12] {
            let mut input = b"\r\nCONNECT\r\n".to_vec();
            input.extend_from_slice(listing);
            input.extend_from_slice(b"\r\nOK\r\n");
            let mut lines = std::vec![F::Connect, F::Data(listing.to_vec()), F::DataEnd(14), F::Ok];
            for urc in urcs.iter().cycle().take(n) {
                input.extend_from_slice(std::format!("\r\n{urc}\r\n").as_bytes());
                lines.push(F::Line(urc.as_bytes().to_vec()));
            }
            input.extend_from_slice(b"\r\n+QFTPLIST: 0,14\r\n");
            lines.push(F::Line(b"+QFTPLIST: 0,14".to_vec()));
            let frames = check_all_splits::<64>(&input, &[Payload::Confirmed { result: "QFTPLIST", limit: None }]);
            assert_eq!(frames, lines, "{n} URCs");
        }
    }

    #[test]
    fn a_payload_holding_an_ok_and_a_urc_line_is_data() {
        let listing = b"a.txt\r\nOK\r\n\r\n+CEREG: 5\r\nb.txt\r\n";
        let input = confirmed_stream(listing, "QFTPLIST");
        let frames = check_all_splits::<64>(&input, &[Payload::Confirmed { result: "QFTPLIST", limit: None }]);
        assert_eq!(frames, transfer_frames(listing, "QFTPLIST"));
    }

    #[test]
    fn a_payload_with_its_own_ok_then_plus_lines_that_are_not_urcs_is_data() {
        // `+++`, binary and text after an `OK` inside the payload: data,
        // however long (more than the hold).
        let mut listing = b"a\r\nOK\r\n+++".to_vec();
        listing.extend(0..=255u8);
        listing.extend_from_slice(b"\r\nOK\r\n\r\n+abc: 1\r\n");
        listing.extend(std::iter::repeat_n(b'+', 100));
        listing.extend_from_slice(b"\r\nOK\r\n\r\n+QIURC: \"pdpdeact\",1\r\n\x01\r\nz");
        let input = confirmed_stream(&listing, "QFTPLIST");
        let frames = check_all_splits::<64>(&input, &[Payload::Confirmed { result: "QFTPLIST", limit: None }]);
        assert_eq!(frames, transfer_frames(&listing, "QFTPLIST"));
        assert!(urc_like(b"+CEREG: 5", false) && urc_like(b"+QIND: \"csq\",20,99", false));
        assert!(urc_like(b"+QIN", true) && urc_like(b"+", true));
        assert!(!urc_like(b"+++", true) && !urc_like(b"+abc: 1", false) && !urc_like(b"+Q: \x01", false));
    }

    #[test]
    fn a_possible_end_is_noticed() {
        let mut tok = Tokenizer::<64>::new();
        tok.expect_payload(Payload::Confirmed { result: "QFTPLIST", limit: None });
        let _ = tok.feed(b"\r\nCONNECT\r\n");
        let _ = tok.feed(b"abc");
        assert!(!tok.end_seen());
        // Reads that stop after a line's CR, or inside `\r\nOK\r\n`.
        for part in [&b"\r"[..], b"\nline\r\n", b"more\r\nO", b"K\r"] {
            let mut input = part;
            while let (n @ 1.., _) = tok.feed(input) {
                input = &input[n..];
            }
            assert!(!tok.end_seen(), "after {:?}", String::from_utf8_lossy(part));
        }
        let _ = tok.feed(b"\nxyz");
        assert!(tok.end_seen());
        tok.abort_payload();
        tok.expect_payload(Payload::Confirmed { result: "QFTPLIST", limit: None });
        assert!(!tok.end_seen(), "forgotten when the next payload is armed");
    }

    #[test]
    fn empty_listing_and_failed_result_end_the_payload() {
        let input = b"\r\nCONNECT\r\n\r\nOK\r\n\r\n+QFTPLIST: 0,0\r\n";
        let frames = check_all_splits::<64>(input, &[Payload::Confirmed { result: "QFTPLIST", limit: None }]);
        assert_eq!(frames, [F::Connect, F::DataEnd(0), F::Ok, F::Line(b"+QFTPLIST: 0,0".to_vec())]);

        let input = b"\r\nCONNECT\r\nabc\r\nOK\r\n\r\n+QFTPGET: 627,550\r\n";
        let frames = check_all_splits::<64>(input, &[Payload::Confirmed { result: "QFTPGET", limit: Some(10) }]);
        assert_eq!(
            frames,
            [F::Connect, F::Data(b"abc".to_vec()), F::DataEnd(3), F::Ok, F::Line(b"+QFTPGET: 627,550".to_vec())]
        );
    }

    #[test]
    fn short_last_chunk_ends_at_the_confirmed_count_and_full_chunk_at_the_limit() {
        // Short: 5 of 10 requested.
        let input = confirmed_stream(b"\r\r\n\nO", "QFTPGET");
        let frames = check_all_splits::<64>(&input, &[Payload::Confirmed { result: "QFTPGET", limit: Some(10) }]);
        assert_eq!(frames[1], F::Data(b"\r\r\n\nO".to_vec()));
        assert_eq!(frames[2], F::DataEnd(5));
        // Full: the limit ends it even though the payload ends in a CR.
        let input = confirmed_stream(b"abcd\r", "QFTPGET");
        let frames = check_all_splits::<64>(&input, &[Payload::Confirmed { result: "QFTPGET", limit: Some(5) }]);
        assert_eq!(
            frames,
            [F::Connect, F::Data(b"abcd\r".to_vec()), F::DataEnd(5), F::Ok, F::Line(b"+QFTPGET: 0,5".to_vec())]
        );
    }

    #[test]
    fn two_transfers_in_a_row() {
        let mut input = confirmed_stream(b"one\r\nOK\r\n", "QFTPLIST");
        input.extend_from_slice(b"\r\nCONNECT\r\n12345\r\nOK\r\n\r\n+QFTPGET: 0,5\r\n");
        let arms = [Payload::Confirmed { result: "QFTPLIST", limit: None }, Payload::Exact(5)];
        let frames = check_all_splits::<64>(&input, &arms);
        assert_eq!(frames[1], F::Data(b"one\r\nOK\r\n".to_vec()));
        assert_eq!(frames[5], F::Connect);
        assert_eq!(frames[6], F::Data(b"12345".to_vec()));
        assert_eq!(frames.len(), 10);
    }

    #[test]
    fn overlong_line_is_reported_skipped_and_the_stream_resyncs() {
        let mut input = b"\r\n+QIURC: ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 500));
        input.extend_from_slice(b"\r\n+QFTPSIZE: 0,1\r\nOK\r\n");
        let frames = check_all_splits::<32>(&input, &[]);
        assert_eq!(frames, [F::Overflow, F::Line(b"+QFTPSIZE: 0,1".to_vec()), F::Ok]);
        // Exactly N fits, N + 1 does not.
        assert_eq!(whole::<4>(b"ABCD\r\n", &[]), [F::Line(b"ABCD".to_vec())]);
        assert_eq!(whole::<4>(b"ABCDE\r\nOK\r\n", &[]), [F::Overflow, F::Ok]);
    }

    #[test]
    fn line_end_finds_the_first_cr_or_lf_at_any_offset() {
        let mut buf = [b'a'; 40];
        assert_eq!(line_end(&buf), None);
        for at in 0..buf.len() {
            for (end, other) in [(b'\r', 9u8), (b'\n', 0), (b'\r', 13 + 1)] {
                buf = [b'a'; 40];
                if at > 0 {
                    buf[at - 1] = other; // a control byte that is not a line end
                }
                buf[at] = end;
                buf[(at + 3).min(39)] = b'\n';
                assert_eq!(line_end(&buf), Some(at), "at {at}");
            }
        }
    }

    #[test]
    fn skip_blanks_stops_at_the_first_byte_that_is_not_cr_or_lf() {
        for len in 0..20 {
            for stop in 0..=len {
                for other in [0u8, 9, 11, 12, 14, b'O', 0x8d, 0x8a, 0xff] {
                    let mut buf: Vec<u8> = (0..len).map(|i| if i % 3 == 0 { b'\n' } else { b'\r' }).collect();
                    if stop < len {
                        buf[stop] = other;
                    }
                    assert_eq!(skip_blanks(&buf).len(), len - stop, "len {len} stop {stop} byte {other}");
                }
            }
        }
    }

    #[test]
    fn a_line_begun_before_the_command_comes_out_as_a_plain_line() {
        let payload = Payload::Exact(2);
        for begun in [&b"+CME ERROR: 3"[..], b"ERROR", b"CONNECT", b"OK"] {
            let mut tok = Tokenizer::<64>::new();
            assert_eq!(tok.feed(b"\r\n"), (2, None));
            let (used, frame) = tok.feed(begun);
            assert_eq!((used, frame), (begun.len(), None));
            tok.stale_line();
            tok.expect_payload(payload);
            // The answer's CR ends it: a line, and no data mode.
            assert_eq!(tok.feed(b"\r\nOK\r\n"), (1, Some(Frame::Line(begun))));
            assert_eq!(tok.feed(b"\nOK\r\n"), (4, Some(Frame::Ok)));
            assert!(!tok.in_data_mode());
        }
        // Only the line begun: the next one is classified again, and with
        // nothing begun there is nothing to mark.
        let mut tok = Tokenizer::<64>::new();
        tok.stale_line();
        assert_eq!(tok.feed(b"\r\nERROR\r\n"), (8, Some(Frame::Error)));
        assert_eq!(tok.feed(b"ERR"), (3, None));
        tok.stale_line();
        assert_eq!(tok.feed(b"OR\r\nERROR\r\n"), (3, Some(Frame::Line(b"ERROR"))));
        assert_eq!(tok.feed(b"\nERROR\r\n"), (7, Some(Frame::Error)));
    }

    #[test]
    fn a_counted_payload_takes_its_length_from_the_connect_line_at_every_split() {
        let counted = [Payload::Counted { limit: 8 }];
        // `AT+QFREAD`: five bytes that look like an end, then `OK`.
        let frames = check_all_splits::<64>(b"\r\nCONNECT 5\r\n\r\nOK\r\n\r\nOK\r\n", &counted);
        assert_eq!(frames, [F::Connect, F::Data(b"\r\nOK\r".to_vec()), F::DataEnd(5), F::Ok]);
        // The end of the file, and a count without a number.
        for input in [&b"\r\nCONNECT 0\r\n\r\nOK\r\n"[..], b"\r\nCONNECT\r\n\r\nOK\r\n"] {
            assert_eq!(check_all_splits::<64>(input, &counted), [F::Connect, F::DataEnd(0), F::Ok]);
        }
        // More than asked for is cut at the limit: the rest is lines.
        let frames = check_all_splits::<64>(b"\r\nCONNECT 99\r\n12345678\r\nOK\r\n", &counted);
        assert_eq!(frames, [F::Connect, F::Data(b"12345678".to_vec()), F::DataEnd(8), F::Ok]);
    }

    #[test]
    fn connect_without_arming_stays_in_command_mode() {
        let frames = whole::<64>(b"\r\nCONNECT\r\n\r\nOK\r\n", &[]);
        assert_eq!(frames, [F::Connect, F::Ok]);
    }

    #[test]
    fn random_bytes_never_panic_and_are_always_consumed() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let len = (next() % 400) as usize;
            let alphabet = b"\r\nOK+QFTPGET:0,1CONNECT";
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 3 == 0 {
                        (r >> 8) as u8
                    } else {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    }
                })
                .collect();
            let arm = match round % 3 {
                0 => [Payload::Exact(next() % 50)],
                1 => [Payload::Confirmed { result: "QFTPGET", limit: Some(next() % 50) }],
                _ => [Payload::Confirmed { result: "QFTPLIST", limit: None }],
            };
            let a = whole::<16>(&input, &arm);
            let mut one = || 1;
            assert_eq!(run::<16>(&input, &mut one, &arm), a);
        }
    }
}
