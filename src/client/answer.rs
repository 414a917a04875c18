//! Which line answers the pending command, and when a wait is over.
//!
//! Pure decisions, no I/O: the edge (`edge.rs`) turns the byte stream into
//! [`Event`]s and asks [`Waiting::take`] what each one means for the wait in
//! progress. Every rule about answers lives here: a deferred result
//! `+QFTPxxx: <err>,<value>` answers only its own command, a success result
//! that arrives before a payload is a late one, `OK` after `+++` ends an
//! escape, only an `OK` after `+CMEE:` ends a probe, and so on.

use crate::at::parse::{self, Field};
use crate::client::ModifyTime;
use crate::error::{CmeError, Error};

/// The answer line a command waits for, besides its final result.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want {
    /// Only the final result.
    Nothing,
    /// `+<name>: <err>,<number>` (sizes, lengths, `0`).
    Num(&'static [u8]),
    /// `+<name>: <err>,<number>`, not waited out by a later call if the
    /// wait is abandoned (`+QFTPCLOSE:`).
    Unawaited(&'static [u8]),
    /// `+<name>: <err>,"<text>"`, the text copied into the wait's buffer.
    Text(&'static [u8]),
    /// `+QFTPMDTM: <err>,"<time>"`, the time parsed by the function
    /// given: a function pointer rather than a call here, so that only a
    /// firmware that calls `mdtm` links the time parser.
    Time(fn(Field<'_>) -> Option<ModifyTime>),
    /// `+CMEE: <n>`: the probe's own line.
    Cmee,
    /// `+CPIN: <status>`, as a [`Got::Num`]: [`CPIN_READY`], [`CPIN_PIN`],
    /// [`CPIN_PUK`] or [`CPIN_OTHER`].
    Cpin,
    /// `+<name>: <n>,<stat>` (`CEREG`, `CGREG`, `CREG`): `<stat>`; or
    /// `+CSQ: <rssi>,<ber>`: `<rssi>`.
    Network(&'static [u8]),
    /// `+QIACT: <cid>,...`; the lines of other contexts are consumed too.
    /// The address text goes to the wait's buffer if it fits.
    QiAct(u8),
    /// `+QFTPCFG: "<name>",<value>`.
    Cfg(&'static str),
    /// A line the function given recognises and reads (the file store's
    /// answers, `ufs.rs`); like [`Want::Time`], a function pointer, so that
    /// only a firmware that uses them links their parsers.
    Custom(ReadAnswer),
}

/// Reads a line for [`Want::Custom`]: `None` if it is not the answer;
/// text goes to the buffer given.
pub(crate) type ReadAnswer = fn(&[u8], &mut [u8]) -> Option<Result<Got, Error>>;

/// The SIM states of [`Want::Cpin`]: `READY`, `SIM PIN`, `SIM PUK`, any
/// other (a lock this crate does not handle).
pub(crate) const CPIN_READY: u64 = 0;
pub(crate) const CPIN_PIN: u64 = 1;
pub(crate) const CPIN_PUK: u64 = 2;
pub(crate) const CPIN_OTHER: u64 = 3;

/// The name of `+QFTPMDTM:`.
pub(crate) const MDTM: &[u8] = b"QFTPMDTM";

impl Want {
    /// Whether the command must give this line before its wait can end:
    /// every answer but `+QIACT:`, which the module leaves out for an
    /// inactive context.
    pub(crate) fn required(self) -> bool {
        !matches!(self, Want::Nothing | Want::QiAct(_))
    }

    /// The deferred FTP result this waits for, if any: if the wait is
    /// abandoned, the next call must wait that line out (see `session.rs`).
    pub(crate) fn deferred(self) -> Option<&'static [u8]> {
        match self {
            Want::Num(name) | Want::Text(name) => Some(name),
            Want::Time(_) => Some(MDTM),
            _ => None,
        }
    }
}

/// The value an answer line carried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Got {
    /// A number (`+QFTPSIZE: 0,<size>`, `+QFTPCFG: "...",<value>`, ...).
    Num(u64),
    /// Text of this many bytes, copied into the wait's buffer.
    Text(usize),
    /// A modification time.
    Time(ModifyTime),
    /// A yes/no line: `+CMEE:`, an active context whose address did not
    /// fit.
    Flag(bool),
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

/// What a line is to the pending command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Match {
    /// Not its answer: a URC (or a late line of another command).
    No,
    /// Its kind of line, but not its answer (another context's `+QIACT:`):
    /// consumed, not a URC.
    Consumed,
    /// Its answer: a value, or the failure the line reports.
    Answer(Result<Got, Error>),
}

impl Want {
    /// Offers `line` to the command waiting for `self`; text answers are
    /// copied into `text`.
    pub(crate) fn offer(self, line: &[u8], text: &mut [u8]) -> Match {
        let got = match self {
            // The deferred results, `+<name>: <err>,<value>`: one parse
            // for the four kinds, then the value by kind.
            Want::Num(name) | Want::Unawaited(name) | Want::Text(name) => ftp_answer(self, line, name, text),
            Want::Time(_) => ftp_answer(self, line, MDTM, text),
            Want::Nothing => None,
            Want::Cmee => match parse::prefixed(line) {
                Some((b"CMEE", _)) => Some(Ok(Got::Flag(true))),
                _ => None,
            },
            Want::Cpin => parse::cpin(line).map(|s| {
                Ok(Got::Num(match s {
                    b"READY" => CPIN_READY,
                    b"SIM PIN" => CPIN_PIN,
                    b"SIM PUK" => CPIN_PUK,
                    _ => CPIN_OTHER,
                }))
            }),
            Want::Custom(read) => read(line, text),
            Want::Network(b"CSQ") => parse::csq(line).map(|rssi| Ok(Got::Num(rssi.into()))),
            Want::Network(name) => parse::creg(line, name).map(|stat| Ok(Got::Num(stat.into()))),
            Want::QiAct(cid) => match parse::qiact(line) {
                Some(a) if a.cid == cid && a.state == 1 => Some(Ok(keep(text, a.ip).unwrap_or(Got::Flag(true)))),
                Some(_) => return Match::Consumed,
                None => None,
            },
            Want::Cfg(name) => parse::qftpcfg(line)
                .filter(|c| c.name == name.as_bytes())
                .map(|c| c.first.num().map(Got::Num).ok_or(Error::Protocol)),
        };
        got.map_or(Match::No, Match::Answer)
    }
}

/// `line` as the deferred result `+<name>: <err>,<value>` that `want` (a
/// number, a time or a text) waits for: `None` if it is not that line.
/// `<err>` 0 gives the value (a protocol error if it is not of the kind
/// wanted; text goes to `text`), anything else the typed error with the
/// server's reply code.
fn ftp_answer(want: Want, line: &[u8], name: &[u8], text: &mut [u8]) -> Option<Result<Got, Error>> {
    let r = parse::ftp_result(line, name)?;
    if r.err != 0 {
        let reply = r.value.num().and_then(|n| u16::try_from(n).ok()).unwrap_or(0);
        return Some(Err(Error::ftp(r.err, reply)));
    }
    Some(match (want, r.value) {
        (Want::Text(_), Field::Str(s)) => keep(text, s).ok_or(Error::BufferTooSmall { needed: s.len() as u32 }),
        (Want::Time(time), value) => time(value).map(Got::Time).ok_or(Error::Protocol),
        (Want::Num(_) | Want::Unawaited(_), Field::Num(n)) => Ok(Got::Num(n)),
        _ => Err(Error::Protocol),
    })
}

/// Copies `s` into the front of `text`, if it fits.
fn keep(text: &mut [u8], s: &[u8]) -> Option<Got> {
    text.get_mut(..s.len())?.copy_from_slice(s);
    Some(Got::Text(s.len()))
}

/// A transfer's result count, checked against the bytes moved.
#[inline(never)]
pub(crate) fn counted(reported: Got, moved: u64) -> Result<u64, Error> {
    match reported.num()? {
        n if n == moved => Ok(n),
        n => Err(Error::LengthMismatch { moved: super::sat32(moved), reported: super::sat32(n) }),
    }
}

/// What the stream produced, owned so that no borrow outlives a read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Event {
    Ok,
    Error,
    Cme(CmeError),
    Connect,
    /// A line that answered the pending command (its value is in
    /// [`Waiting::answer`]), or the deferred result an abandoned command
    /// left pending.
    Answer,
    /// Payload bytes, where the edge keeps them.
    Data(Piece),
    /// The payload is complete.
    DataEnd,
}

/// Where a piece of download payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// The receive buffer's bytes `a..b`.
    Buf(usize, usize),
    /// The tokenizer's own hold.
    Held,
}

/// What a wait waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// The final result and the answer line (before or after it), if the
    /// command has one it must give (see [`Want::required`]).
    Final,
    /// `CONNECT`; a failed result or a final error can come instead.
    Connect,
    /// The next payload piece or the payload's end.
    Data,
    /// The answer line, with or without an `OK` before it (taken already,
    /// or the end of an upload's data mode, which the module may leave
    /// out when it ends the upload itself).
    Answer,
    /// An `OK` after the probe's `+CMEE:`; anything else is ignored.
    Probe,
    /// Any `OK` (after `+++`).
    Escape,
    /// The answer line; anything else is ignored (riding out `603`).
    Busy,
    /// The next of several answer lines, or the final `OK` after them
    /// (`AT+QFLST`).
    Each,
    /// Until no deferred result is pending.
    Settle,
}

/// How a wait goes on after an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// Keep reading.
    More,
    /// The wait is over.
    Done,
    /// The wait failed.
    Fail(Error),
    /// `CONNECT` arrived while waiting for payload: the module is in data
    /// mode now. Keep reading.
    Entered,
    /// A payload piece for the caller.
    Piece(Piece),
    /// The payload is over.
    End,
}

/// A wait in progress: what it waits for and what it has seen.
pub(crate) struct Waiting<'t> {
    pub(crate) want: Want,
    pub(crate) until: Until,
    /// The final `OK` came (for an upload: the module left data mode).
    pub(crate) ok: bool,
    /// An error result came while probing: the module is there, but
    /// refuses the probe.
    pub(crate) refused: bool,
    /// The answer line's value, once it came.
    pub(crate) answer: Option<Result<Got, Error>>,
    /// Where text answers go (`pwd`'s path, `activate`'s address).
    pub(crate) text: &'t mut [u8],
}

impl<'t> Waiting<'t> {
    #[inline(never)]
    pub(crate) fn new(want: Want, until: Until, text: &'t mut [u8]) -> Self {
        Waiting { want, until, ok: false, refused: false, answer: None, text }
    }

    /// Whether the wait is over before the next event; `settled` tells if
    /// nothing is pending any more (for [`Until::Settle`]).
    pub(crate) fn over(&self, settled: bool) -> Option<Verdict> {
        let done = match self.until {
            Until::Final => self.ok && (self.answer.is_some() || !self.want.required()),
            Until::Answer => self.answer.is_some(),
            Until::Each => self.ok || self.answer.is_some(),
            Until::Settle => settled,
            _ => false,
        };
        if done {
            return Some(Verdict::Done);
        }
        match self.answer {
            // A command answered before its final result (`+QFTPSTAT:`,
            // `+QFTPCFG:`) still owes its `OK`: failing before it would
            // leave that `OK` for the next command to take.
            Some(Err(_)) if self.until == Until::Final && !self.ok => None,
            Some(Err(e)) if self.answers() => Some(Verdict::Fail(e)),
            _ => None,
        }
    }

    /// A final result seen in this wait is the waiting command's own (not a
    /// wait of the resynchronisation).
    pub(crate) fn own_result(&self) -> bool {
        self.answers() || self.until == Until::Answer
    }

    /// The waits for a command's own answers, which stop at a failure.
    fn answers(&self) -> bool {
        matches!(self.until, Until::Final | Until::Connect | Until::Data | Until::Each)
    }

    /// What `event` means to this wait.
    pub(crate) fn take(&mut self, event: Event) -> Verdict {
        // Waits that are not the resynchronisation's stop at error results.
        let strict = self.own_result();
        match (event, self.until) {
            (Event::Error | Event::Cme(_), Until::Probe) => {
                self.refused = true;
                Verdict::More
            }
            (Event::Error, _) if strict => Verdict::Fail(Error::AtError),
            (Event::Cme(e), _) if strict => Verdict::Fail(Error::Cme(e)),
            (Event::Ok, Until::Final | Until::Answer | Until::Each) => {
                self.ok = true;
                Verdict::More
            }
            (Event::Ok, Until::Escape) | (Event::Answer, Until::Busy) | (Event::Connect, Until::Connect) => {
                Verdict::Done
            }
            (Event::Ok, Until::Probe) if self.answer.is_some() => Verdict::Done,
            // A success result before the payload is a late one.
            (Event::Answer, Until::Connect | Until::Data) if matches!(self.answer, Some(Ok(_))) => {
                self.answer = None;
                Verdict::More
            }
            (Event::Connect, Until::Data) => Verdict::Entered,
            (Event::Data(p), Until::Data) => Verdict::Piece(p),
            (Event::DataEnd, Until::Data) => Verdict::End,
            (Event::Connect | Event::Data(_) | Event::DataEnd, Until::Final | Until::Connect) => {
                Verdict::Fail(Error::Protocol)
            }
            _ => Verdict::More,
        }
    }

    /// The answer's value. If none came: a protocol error where one is
    /// required, [`Got::Flag`]`(false)` where not.
    #[inline(never)]
    pub(crate) fn value(&self) -> Result<Got, Error> {
        match self.answer {
            Some(answer) => answer,
            None if self.want.required() => Err(Error::Protocol),
            None => Ok(Got::Flag(false)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(want: Want, line: &[u8]) -> Match {
        want.offer(line, &mut [0; 16])
    }

    #[test]
    fn a_result_answers_only_its_own_command() {
        let size = Want::Num(b"QFTPSIZE");
        assert_eq!(offer(size, b"+QFTPSIZE: 0,1000"), Match::Answer(Ok(Got::Num(1000))));
        assert_eq!(offer(size, b"+QFTPGET: 0,1000"), Match::No);
        // A URC sharing the prefix is not the answer.
        assert_eq!(offer(size, b"+QFTPSIZEX: 0,1"), Match::No);
        assert_eq!(offer(Want::Nothing, b"+QFTPSIZE: 0,1000"), Match::No);
        assert_eq!(offer(size, b"+QFTPSIZE: 627,550"), Match::Answer(Err(Error::ftp(627, 550))));
        assert_eq!(offer(size, b"+QFTPSIZE: 0,\"x\""), Match::Answer(Err(Error::Protocol)));
    }

    #[test]
    fn text_is_copied_or_reported_too_long() {
        let mut text = [0u8; 4];
        let pwd = Want::Text(b"QFTPPWD");
        assert_eq!(pwd.offer(b"+QFTPPWD: 0,\"/ab\"", &mut text), Match::Answer(Ok(Got::Text(3))));
        assert_eq!(&text[..3], b"/ab");
        assert_eq!(
            pwd.offer(b"+QFTPPWD: 0,\"/abcd\"", &mut text),
            Match::Answer(Err(Error::BufferTooSmall { needed: 5 }))
        );
    }

    #[test]
    fn other_contexts_are_consumed_not_answers() {
        assert_eq!(offer(Want::QiAct(1), b"+QIACT: 2,1,1,\"10.0.0.2\""), Match::Consumed);
        assert_eq!(offer(Want::QiAct(1), b"+QIACT: 1,0,1"), Match::Consumed);
        let mut text = [0u8; 16];
        assert_eq!(Want::QiAct(1).offer(b"+QIACT: 1,1,1,\"10.0.0.1\"", &mut text), Match::Answer(Ok(Got::Text(8))));
    }

    #[test]
    fn final_waits_for_ok_and_the_answer_in_either_order() {
        let mut w = Waiting::new(Want::Num(b"QFTPSIZE"), Until::Final, &mut []);
        assert_eq!(w.take(Event::Ok), Verdict::More);
        assert_eq!(w.over(true), None);
        w.answer = Some(Ok(Got::Num(5)));
        assert_eq!(w.over(true), Some(Verdict::Done));
        // A failed answer after the OK ends it at once, with that failure.
        let mut w = Waiting::new(Want::Num(b"QFTPSIZE"), Until::Final, &mut []);
        w.take(Event::Ok);
        w.answer = Some(Err(Error::ftp(627, 550)));
        assert_eq!(w.over(true), Some(Verdict::Done));
        assert_eq!(w.value(), Err(Error::ftp(627, 550)));
        // While waiting for CONNECT, a failed result ends the wait at once.
        let mut w = Waiting::new(Want::Num(b"QFTPGET"), Until::Connect, &mut []);
        w.answer = Some(Err(Error::ftp(627, 550)));
        assert_eq!(w.over(true), Some(Verdict::Fail(Error::ftp(627, 550))));
    }

    #[test]
    fn an_error_answer_before_the_final_ok_waits_for_that_ok() {
        let mut w = Waiting::new(Want::Num(b"QFTPSTAT"), Until::Final, &mut []);
        w.answer = Some(Err(Error::ftp(601, 0)));
        assert_eq!(w.over(true), None, "its OK is still to come");
        assert_eq!(w.take(Event::Ok), Verdict::More);
        assert_eq!(w.over(true), Some(Verdict::Done));
        assert_eq!(w.value(), Err(Error::ftp(601, 0)));
    }

    #[test]
    fn an_inactive_context_has_no_line_and_that_is_an_answer() {
        let mut w = Waiting::new(Want::QiAct(1), Until::Final, &mut []);
        assert_eq!(w.take(Event::Ok), Verdict::More);
        assert_eq!(w.over(true), Some(Verdict::Done));
        assert_eq!(w.value(), Ok(Got::Flag(false)));
        let mut w = Waiting::new(Want::Num(b"QFTPLEN"), Until::Final, &mut []);
        w.take(Event::Ok);
        assert_eq!(w.over(true), None, "a required answer is still due");
        assert_eq!(w.value(), Err(Error::Protocol));
    }

    #[test]
    fn errors_end_command_waits_but_not_the_resynchronisation() {
        for until in [Until::Final, Until::Connect, Until::Data, Until::Answer] {
            let mut w = Waiting::new(Want::Nothing, until, &mut []);
            assert_eq!(w.take(Event::Error), Verdict::Fail(Error::AtError), "{until:?}");
        }
        for until in [Until::Probe, Until::Escape, Until::Busy, Until::Settle] {
            let mut w = Waiting::new(Want::Nothing, until, &mut []);
            assert_eq!(w.take(Event::Error), Verdict::More, "{until:?}");
            assert_eq!(w.take(Event::Cme(CmeError::Code(603))), Verdict::More, "{until:?}");
        }
    }

    #[test]
    fn the_probe_ends_only_at_an_ok_after_its_own_line() {
        let mut w = Waiting::new(Want::Cmee, Until::Probe, &mut []);
        // A late OK of an abandoned command.
        assert_eq!(w.take(Event::Ok), Verdict::More);
        w.answer = Some(Ok(Got::Flag(true)));
        assert_eq!(w.take(Event::Ok), Verdict::Done);
    }

    #[test]
    fn a_success_before_the_payload_is_late_and_forgotten() {
        let mut w = Waiting::new(Want::Num(b"QFTPGET"), Until::Data, &mut []);
        w.answer = Some(Ok(Got::Num(3)));
        assert_eq!(w.take(Event::Answer), Verdict::More);
        assert_eq!(w.answer, None);
        assert_eq!(w.take(Event::Connect), Verdict::Entered);
        assert_eq!(w.take(Event::Data(Piece::Held)), Verdict::Piece(Piece::Held));
        assert_eq!(w.take(Event::DataEnd), Verdict::End);
    }

    #[test]
    fn payload_where_a_final_result_is_due_is_a_protocol_error() {
        let mut w = Waiting::new(Want::Nothing, Until::Final, &mut []);
        assert_eq!(w.take(Event::Connect), Verdict::Fail(Error::Protocol));
        assert_eq!(w.take(Event::DataEnd), Verdict::Fail(Error::Protocol));
    }

    #[test]
    fn deferred_names() {
        assert_eq!(Want::Time(parse::mdtm_value).deferred(), Some(MDTM));
        assert_eq!(Want::Cmee.deferred(), None);
        assert_eq!(Want::Num(b"QFTPPUT").deferred(), Some(&b"QFTPPUT"[..]));
    }
}
