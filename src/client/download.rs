//! Downloads to the COM port: `get` and the listings (reference sections
//! 2 and 5: `AT+QFTPGET`, `AT+QFTPLIST`, `AT+QFTPNLST`, `AT+QFTPMLSD`).
//!
//! On the wire: `CONNECT`, the payload, `\r\nOK\r\n`, then the deferred
//! `+QFTPGET: 0,<n>`. The payload may contain any of those bytes, so its
//! end is found by length: a file chunk asks for `<downloadlen>` bytes of a
//! file whose size is known, and a payload of unknown length (a listing, a
//! server that cannot tell the size) ends only where the result line's
//! count confirms it.

use core::future::Future;

use super::Dtr;
use embedded_io_async::{Read, Write};

use super::answer::counted;
use super::answer::{Piece, Until, Verdict, Waiting, Want};
use super::edge::{after, Shared};
use super::files::FileCommand;
use super::session::Dirty;
use super::Listing;
use super::{sat32, sink_error, Ftp, Transfer};
use crate::at::cmd::{self, Command, FileOp, Names, COM};
use crate::at::tokenizer::Payload;
use crate::error::{Error, FtpReply};
use crate::listing::{Entries, Entry, LINE_MAX};

/// The name of `+QFTPGET:`.
const GET: &[u8] = b"QFTPGET";

/// The most bytes one `AT+QFTPGET` asks of a file whose size the server
/// cannot tell: its end is then found where the result line's count
/// confirms it, and from the first `\r\nOK\r\n` inside it on the payload
/// must end within the deferred-result deadline (`State::end_by`). 64 KiB
/// take 5.7 s at 115200 baud, well within it.
const UNKNOWN_SIZE_CHUNK: u64 = 64 * 1024;

/// What follows an exact-length payload at once.
pub(super) const TRAILER: &[u8] = b"\r\nOK\r\n";

impl<'b, U: Read + Write, D: Dtr> Ftp<'b, U, D> {
    /// Downloads `remote` from `opts.start` into `sink`. The size is asked
    /// first (`AT+QFTPSIZE`), so the number of payload bytes is always
    /// known: by default the rest of the file comes in one `AT+QFTPGET`
    /// with `<startpos>,<downloadlen>`, one round trip per file (the
    /// length bounds what the module sends: a file that grows after
    /// `AT+QFTPSIZE` comes as the part the size saw, never more).
    /// A smaller `opts.chunk` asks `<startpos>,<downloadlen>` chunks of
    /// that size, each confirmed by the module (points to resume from), a
    /// round trip each. Servers that cannot tell the size (reply 500 or
    /// 502) get chunks of at most 64 KiB whose end is confirmed by the
    /// modem's count, until a short
    /// chunk (or, after a full one, a chunk the module reports as "file
    /// unavailable", `+QFTPGET: 627,550`, as some firmware does at the end
    /// of the file). Every chunk's
    /// `+QFTPGET: 0,<n>` is checked against the bytes received, and an
    /// exact chunk must be followed by `\r\nOK\r\n` at once. `opts.progress`
    /// sees the bytes moved so far. Returns the number of bytes written to
    /// `sink`.
    ///
    /// Each wait is bounded by the deferred-result deadline, `rsptimeout`
    /// plus 5 s, between two pieces of payload too.
    ///
    /// **Time bound:** `P` + `X(D)` for the size, then per chunk
    /// `X(D) + 2·D` of command and result waits (285 s by default) plus the
    /// payload, which has no fixed bound but fails at any silence of `D`;
    /// writing to `sink` is outside the bound (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before anything is sent; [`Error::NotOpen`]
    /// without a session; `Ftp { .. }` as the module reports;
    /// [`Error::LengthMismatch`] if a chunk's count disagrees;
    /// [`Error::Protocol`] if a byte was lost or doubled inside a chunk;
    /// [`Error::Timeout`] at a deadline; [`Error::Io`] from the UART;
    /// [`Error::Sink`] from the sink.
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode (DTR or a guarded `+++`), resynchronises and closes the
    /// session (open it again). Bytes already moved stay moved: resume with
    /// [`Transfer::start`].
    pub fn get<'s, 'p, W: Write>(
        &'s mut self,
        remote: &'s str,
        sink: &'s mut W,
        mut opts: Transfer<'p>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'p, 'b, U, D, W> {
        async move {
            let start = opts.start;
            cmd::qftpget(remote, COM, start, Some(0))?;
            let size = match FileCommand::<_, u64>::new(self.file_op(FileOp::Size, Names::One(remote), &mut [])).await {
                Ok(size) => Some(size),
                Err(Error::Ftp { reply: Some(FtpReply::NotImplemented | FtpReply::SyntaxError), .. }) => None,
                Err(e) => return Err(e),
            };
            let chunk = u64::from(opts.chunk.max(1));
            let mut pos = start;
            loop {
                let n = match size {
                    Some(size) => size.saturating_sub(pos).min(chunk),
                    None => chunk.min(UNKNOWN_SIZE_CHUNK),
                };
                if n == 0 {
                    return Ok(pos - start);
                }
                self.prepare(true).await?;
                let command = cmd::qftpget(remote, COM, pos, Some(sat32(n)))?;
                let payload = match size {
                    Some(_) => Payload::Exact(n),
                    None => Payload::Confirmed { result: "QFTPGET", limit: Some(n) },
                };
                let r = self.fetch(&command, payload, GET, sink).await;
                let got = match self.st.ended(r) {
                    // Some firmware reports a chunk asked for at the end of
                    // a file of unknown size as "file unavailable" rather
                    // than as an empty chunk. Only after a full chunk: at
                    // the first, the file may well be missing.
                    Err(Error::Ftp { reply: Some(FtpReply::FileUnavailable), .. }) if size.is_none() && pos > start => {
                        return Ok(pos - start)
                    }
                    r => r?,
                };
                pos = pos.saturating_add(got);
                opts.report(pos - start);
                if got < n {
                    if size.is_some() {
                        return Err(Error::LengthMismatch { moved: sat32(got), reported: sat32(n) });
                    }
                    return Ok(pos - start);
                }
            }
        }
    }

    /// Streams a listing of `dir` (`"."` for the current directory) into
    /// `sink`; returns its length in bytes. [`Listing::Nlst`] gives names
    /// only, [`Listing::Mlsd`] RFC 3659 facts. The listing's end is
    /// confirmed by the result line's count. Each wait is bounded by
    /// `rsptimeout` plus 5 s, between two pieces of payload too; once a
    /// possible end (`\r\nOK\r\n`) has come, the listing must end within
    /// that deadline, however much the module keeps sending (URCs after the
    /// payload's `OK` are published, not taken as payload).
    ///
    /// **Time bound:** `P` + `X(D) + 2·D` plus the listing, which fails at
    /// any silence of `D` and, from its first possible end on, ends by a
    /// fixed deadline; writing to `sink` is outside the bound (see [the
    /// time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// As [`Ftp::get`].
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode (DTR or a guarded `+++`), resynchronises and closes the
    /// session (open it again).
    pub fn list<'s, W: Write>(
        &'s mut self,
        kind: Listing,
        dir: &'s str,
        sink: &'s mut W,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'b, U, D, W> {
        async move {
            let command = cmd::qftplist(kind, dir, COM)?;
            let result = kind.result_name();
            self.prepare(true).await?;
            let payload = Payload::Confirmed { result, limit: None };
            let r = self.fetch(&command, payload, result.as_bytes(), sink).await;
            self.st.ended(r)
        }
    }

    /// Lists `dir` like [`Ftp::list`], parsing the listing as it arrives
    /// ([`crate::listing`]: MLSD facts for [`Listing::Mlsd`], `ls -l` or
    /// DOS lines for [`Listing::List`], names as [`crate::listing::Kind::Other`]
    /// for [`Listing::Nlst`]) and calling `each` with every entry, in order.
    /// Returns the number of entries `each` was given (lines that are not
    /// entries, such as `total 12` or `.`, are not counted).
    ///
    /// Lines are kept in a [`LINE_MAX`]-byte buffer inside the future; a
    /// longer line comes out as a [`crate::listing::Kind::Other`] entry
    /// holding its start. For another buffer, pass a
    /// [`crate::listing::Entries`] to [`Ftp::list`].
    ///
    /// **Time bound:** as [`Ftp::list`]'s; the time `each` takes is outside
    /// the bound (see [the time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// As [`Ftp::list`]. On an error, `each` has seen the entries of the
    /// lines completed so far.
    ///
    /// **Cancel safety:** as [`Ftp::list`].
    pub fn list_entries<'s, F: FnMut(Entry<'_>)>(
        &'s mut self,
        kind: Listing,
        dir: &'s str,
        each: F,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'b, U, D, F> {
        async move {
            let mut line = [0u8; LINE_MAX];
            let mut entries = Entries::new(kind, &mut line, each);
            self.list(kind, dir, &mut entries).await?;
            Ok(entries.finish())
        }
    }

    /// One download-direction exchange: the command, then each piece of
    /// its payload to `sink` (see [`Ftp::next_piece`]), the result
    /// `+<result>: 0,<n>` named `result`. Returns the payload bytes moved.
    async fn fetch<W: Write>(
        &mut self,
        command: &Command<'_>,
        payload: Payload,
        result: &'static [u8],
        sink: &mut W,
    ) -> Result<u64, Error> {
        let w = Waiting::new(Want::Num(result), Until::Data, &mut []);
        let mut rd = Reading { payload, w, moved: 0, sent: false };
        while let Some(piece) = Shared::new(self.next_piece(command, &mut rd)).await? {
            if let Err(e) = sink.write_all(self.rx.piece(piece)).await {
                return Err(self.sink_failed(e));
            }
        }
        Ok(rd.moved)
    }

    /// A sink failed with `e` during a download: the module may still be
    /// sending, and the stream stays marked in data mode.
    fn sink_failed<E: embedded_io::Error>(&mut self, e: E) -> Error {
        self.rx.tok().abort_payload();
        sink_error(e)
    }

    /// The next piece of a payload exchange: the command goes out first.
    /// `None` once the payload has ended (an exact-length payload must be
    /// followed by `\r\nOK\r\n` at once) and the result line confirmed
    /// its count.
    fn next_piece<'s, 'c>(
        &'s mut self,
        command: &'s Command<'c>,
        rd: &'s mut Reading,
    ) -> impl Future<Output = Result<Option<Piece>, Error>> + use<'s, 'c, 'b, U, D> {
        async move {
            // Each wait for payload is bounded by the deferred-result
            // deadline, and once a possible end was seen, all of them
            // together: by the deadline in force then (`State::end_by`).
            let deadline = match self.rx.tok().end_seen() {
                true => self.st.end_by,
                false => after(self.st.deferred),
            };
            self.st.end_by = deadline;
            let verdict = if !rd.sent {
                rd.sent = true;
                self.rx.tok().expect_payload(rd.payload);
                // From the command on, the module may enter data mode at
                // any moment: a call after a drop or a timeout escapes
                // first.
                self.st.dirty = Dirty::Sending;
                self.exchange(command, &mut rd.w, self.st.deferred).await
            } else {
                self.wait(&mut rd.w, deadline).await
            };
            if let Ok(Verdict::Piece(piece)) = verdict {
                rd.moved += self.rx.piece(piece).len() as u64;
                return Ok(Some(piece));
            }
            // The payload is over, or the exchange failed.
            let r = match verdict {
                Err(e) => Err(e),
                Ok(_) => {
                    let deadline = after(self.st.deferred);
                    // A payload that ended at its length (known, or the
                    // chunk asked for) must be followed by `OK` at once: a
                    // byte more or less inside it would shift its end.
                    let full = match rd.payload {
                        Payload::Exact(_) | Payload::Counted { .. } => true,
                        Payload::Confirmed { limit, .. } => limit == Some(rd.moved),
                    };
                    let trailer = match full {
                        true => self.expect_raw(TRAILER, deadline).await,
                        false => Ok(()),
                    };
                    match trailer {
                        Err(e) => {
                            if e == Error::Protocol {
                                warn!("payload not followed by OK: bytes lost or doubled");
                                // The module may still be sending: the next call leaves
                                // data mode first.
                                self.st.dirty = Dirty::Sending;
                            }
                            Err(e)
                        }
                        // Then the result line, whose count must match.
                        Ok(()) => {
                            rd.w.until = if full { Until::Answer } else { Until::Final };
                            match self.wait(&mut rd.w, deadline).await {
                                Ok(_) => rd.w.value().and_then(|v| counted(v, rd.moved)).map(|_| None),
                                Err(e) => Err(e),
                            }
                        }
                    }
                }
            };
            // Over, well or not; a failure inside the payload left the
            // stream marked in data mode.
            self.rx.tok().abort_payload();
            r
        }
    }
}

/// A download-direction exchange in progress, between two pieces:
/// command, `CONNECT`, payload (each piece to the sink), `OK`, and the
/// result line `+<result>: 0,<n>` whose count must match the bytes
/// received. Its steps are [`Ftp::next_piece`], which does not depend on
/// the sink's type: every kind of sink shares one copy of it.
///
/// [`Ftp::fetch`] builds it in place, after `prepare`: built before, it
/// is carried across that await (about 1.5 KiB of flash with `memmove`).
struct Reading {
    payload: Payload,
    w: Waiting<'static>,
    /// Payload bytes handed out so far.
    moved: u64,
    /// The command went out.
    sent: bool,
}
