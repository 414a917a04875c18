//! Uploads from the COM port: `put`, `put_sized` and `put_escaped`
//! (reference sections 2 and 5: `AT+QFTPPUT`).
//!
//! `AT+QFTPPUT="<remote>","COM:",<startpos>,<uploadlen>,<beof>` announces
//! how many bytes follow `CONNECT`, so the module leaves data mode by itself
//! after them: no escape, no guard time, but one round trip per upload.
//! Without `<uploadlen>` the data ends with DTR or a guarded `+++` (the
//! vendor's way): one round trip per file, plus the guard times without a
//! DTR pin. Either way the module then answers `OK` and `+QFTPPUT: 0,<n>`,
//! whose count is checked.
//!
//! Two loops: [`Ftp::upload_sized`] sends a known length in counted
//! uploads of [`Transfer::chunk`] bytes (one by default), streamed;
//! [`Ftp::upload`] reads a source of unknown length a chunk buffer at a
//! time, each fill a counted upload, until [`UploadMode`] says the rest
//! goes escaped.
//!
//! While an upload runs, the first [`RX_LEN`] bytes of the chunk buffer
//! receive the module's answers and the rest carries the data.

use core::future::Future;

use super::Dtr;
use embassy_time::Instant;
use embedded_io_async::{Read, Write};

use super::answer::counted;
use super::answer::{Until, Waiting, Want};
use super::edge::{after, RX_LEN};
use super::limits::{ESCAPE_TRIES, SLOW_ROUND_TRIP};
use super::session::Dirty;
use super::types::UploadMode;
use super::{sat32, source_error, Ftp, Transfer, SOURCE_ENDED};
use crate::at::cmd::{self, Command, COM};
use crate::error::{ArgError, Error};

/// The name of `+QFTPPUT:`.
const PUT: &[u8] = b"QFTPPUT";

impl<'b, U: Read + Write, D: Dtr> Ftp<'b, U, D> {
    /// Uploads everything `src` yields to `remote`, starting at `opts.start`
    /// (non-zero resumes/appends), its length unknown in advance.
    ///
    /// The source is read a fill of the chunk buffer at a time (at most
    /// `opts.chunk` bytes and the chunk buffer less [`RX_LEN`] + 1), with
    /// one byte more to know whether it ends there. A source that ends
    /// inside a fill goes as one counted upload (`<uploadlen>,<beof>`: the
    /// module leaves data mode by itself). Otherwise `opts.upload` decides
    /// ([`UploadMode::Auto`] by default): another counted upload (a round
    /// trip per fill), or the rest of the file as one upload ended by DTR or
    /// a guarded `+++` (a round trip per file, and without a DTR pin two
    /// guard times). `Auto` takes the second with a DTR pin, or once the
    /// last round trip measured took [`SLOW_ROUND_TRIP`] or more. Every
    /// upload's `+QFTPPUT: 0,<n>` is checked. `opts.progress` sees the bytes
    /// moved so far (after each counted upload; after each write once
    /// escaped). Returns the bytes uploaded.
    ///
    /// **Time bound:** `P`, then per counted upload `X(D) + 2·D` (285 s by
    /// default); once escaped, as [`Ftp::put_escaped`]; reading `src` is
    /// outside the bound (see [the time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before anything is sent; [`Error::NotOpen`]
    /// without a session; `Ftp { .. }` as the module reports;
    /// [`Error::LengthMismatch`] if an upload's count disagrees (a `+++`
    /// the module took as data, too);
    /// [`Error::Timeout`] at a deadline (each wait: `rsptimeout` plus 5 s);
    /// [`Error::Io`] from the UART; [`Error::Source`] from the source
    /// (nothing of that fill was sent).
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode (DTR or a guarded `+++`), resynchronises and closes
    /// the session (open it again). Bytes already moved stay moved: resume
    /// with [`Transfer::start`].
    pub fn put<'s, 'p, R: Read>(
        &'s mut self,
        remote: &'s str,
        src: &'s mut R,
        opts: Transfer<'p>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'p, 'b, U, D, R> {
        self.upload(remote, src, opts)
    }

    /// Uploads exactly `len` bytes from `src` to `remote`, starting at
    /// `opts.start`. Knowing the length, each `AT+QFTPPUT` announces
    /// `opts.chunk` bytes (by default all of them: one round trip for the
    /// file) however small the chunk buffer is: the data streams through
    /// it. Returns the bytes uploaded.
    ///
    /// **Time bound:** `P`, then per upload `X(D) + D` plus `D` for each
    /// write of data (one per read of `src`); reading `src` is outside the
    /// bound (see [the time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// As [`Ftp::put`]; a source that ends before `len` bytes gives
    /// `Error::Source(InvalidInput)` and the session is closed at the next
    /// call.
    ///
    /// **Cancel safety:** as [`Ftp::put`].
    pub fn put_sized<'s, 'p, R: Read>(
        &'s mut self,
        remote: &'s str,
        src: &'s mut R,
        len: u64,
        opts: Transfer<'p>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'p, 'b, U, D, R> {
        self.upload_sized(remote, src, len, opts)
    }

    /// [`Ftp::put`] with [`UploadMode::Escaped`], whatever `opts.upload`
    /// says: the vendor's way, one `AT+QFTPPUT` without `<uploadlen>`, all
    /// data, then the escape: a DTR edge, or a guarded `+++` ([`GUARD`] of
    /// silence, `+++` in one write, the module's `OK` after its own second
    /// of silence; tried three times). `opts.progress` sees the bytes sent
    /// so far after each write. Returns the bytes uploaded.
    ///
    /// **Time bound:** `P` + `X(D) + D` + 12.6 s for the escapes (three
    /// of `2·G + A`; 14.6 s with a DTR pin, whose edge waits `A` first),
    /// plus `D` for each write of data (one per read of `src`); reading
    /// `src` is outside the bound (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// As [`Ftp::put`]; the escape itself is tried three times.
    ///
    /// **Cancel safety:** as [`Ftp::put`].
    ///
    /// [`GUARD`]: crate::GUARD
    pub fn put_escaped<'s, 'p, R: Read>(
        &'s mut self,
        remote: &'s str,
        src: &'s mut R,
        opts: Transfer<'p>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'p, 'b, U, D, R> {
        self.upload(remote, src, Transfer { upload: UploadMode::Escaped, ..opts })
    }

    /// The upload loop of `put` and `put_escaped`: all `src` yields. Each
    /// round is one `AT+QFTPPUT`; see [`Ftp::put`] for how each is chosen.
    ///
    /// [`Ftp::put_sized`] has a loop of its own, [`Ftp::upload_sized`]: an
    /// await under a condition that is constant for an instance (a const
    /// parameter) still compiles the code that resumes it, so one loop for
    /// both kinds would link both exchanges into a firmware calling one.
    fn upload<'s, 'p, R: Read>(
        &'s mut self,
        remote: &'s str,
        src: &'s mut R,
        mut opts: Transfer<'p>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'p, 'b, U, D, R> {
        async move {
            let start = opts.start;
            cmd::qftpput(remote, COM, start, Some((0, false)))?;
            let room = self.rx.len().saturating_sub(RX_LEN + 1).max(1);
            let fill = (opts.chunk as usize).clamp(1, room);
            let mut pos = start;
            let mut carry = None;
            loop {
                self.prepare(true).await?;
                self.reserve_upload_area();
                // This round's bytes, read into the upload area already:
                // `n` of them, the file's last or not.
                let (mut n, mut last) = match self.read_chunk(src, fill, &mut carry, true).await {
                    Ok(read) => read,
                    Err(e) => {
                        // Nothing of this round went out.
                        self.release_upload_area();
                        self.st.dirty = Dirty::Clean;
                        return Err(e);
                    }
                };
                let escaped = match opts.upload {
                    UploadMode::Auto => !last && ((D::PRESENT && !self.st.dtr_failed) || self.st.slow_link),
                    UploadMode::Counted => false,
                    UploadMode::Escaped => true,
                };
                // One upload exchange: the command, `CONNECT`, the bytes
                // read, the result. Escaped, whatever each read of the
                // source yields follows, until it ends or the module ends
                // the upload, and then the escape.
                let r = 'exchange: {
                    let command =
                        or_break!('exchange, cmd::qftpput(remote, COM, pos, (!escaped).then_some((sat32(n), last))));
                    let mut w = or_break!('exchange, self.upload_start(&command).await);
                    // Escaped, the byte read beyond the fill follows it at once.
                    if escaped && carry.take().is_some() {
                        n += 1;
                    }
                    let mut moved = 0;
                    loop {
                        or_break!('exchange, self.write_upload(RX_LEN, RX_LEN + n as usize, after(self.st.deferred)).await);
                        moved += n;
                        if !escaped {
                            break;
                        }
                        let source_ended = last;
                        if !source_ended {
                            opts.report(pos - start + moved);
                            (n, last) = or_break!('exchange, self.read_chunk(src, fill, &mut carry, false).await);
                        }
                        // The source may have stalled for longer than the
                        // module waits for data: a module that ended the
                        // upload itself gets nothing more, and no escape.
                        if or_break!('exchange, self.module_left_data_mode(&mut w).await) {
                            break;
                        }
                        if source_ended {
                            // `escape` takes the `OK`; the result line
                            // follows. Until the escape is through, the
                            // module is in data mode.
                            or_break!('exchange, self.escape(ESCAPE_TRIES).await);
                            self.st.dirty = Dirty::Stream;
                            break;
                        }
                    }
                    self.upload_end(&mut w, moved).await
                };
                self.release_upload_area();
                pos = pos.saturating_add(self.st.ended(r)?);
                opts.report(pos - start);
                if last || escaped {
                    return Ok(pos - start);
                }
            }
        }
    }

    /// The upload loop of `put_sized`: `len` bytes, in counted uploads of
    /// `opts.chunk` bytes, each streamed from `src`.
    fn upload_sized<'s, 'p, R: Read>(
        &'s mut self,
        remote: &'s str,
        src: &'s mut R,
        len: u64,
        mut opts: Transfer<'p>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'p, 'b, U, D, R> {
        async move {
            let start = opts.start;
            cmd::qftpput(remote, COM, start, Some((0, false)))?;
            let end = start.checked_add(len).ok_or(ArgError::OutOfRange)?;
            let mut pos = start;
            loop {
                self.prepare(true).await?;
                self.reserve_upload_area();
                let n = (end - pos).min(opts.chunk.max(1).into());
                let last = pos + n == end;
                let r = match cmd::qftpput(remote, COM, pos, Some((sat32(n), last))) {
                    Ok(command) => self.upload_streamed(&command, src, n, &mut opts, pos - start).await,
                    Err(e) => Err(e.into()),
                };
                self.release_upload_area();
                pos = pos.saturating_add(self.st.ended(r)?);
                opts.report(pos - start);
                if last {
                    return Ok(pos - start);
                }
            }
        }
    }

    /// One upload exchange of a known length: the command, `CONNECT`,
    /// `n` bytes streamed from `src`, the result.
    fn upload_streamed<'s, 'c, 'o, 'p, R: Read>(
        &'s mut self,
        command: &'s Command<'c>,
        src: &'s mut R,
        n: u64,
        opts: &'o mut Transfer<'p>,
        before: u64,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'c, 'o, 'p, 'b, U, D, R> {
        async move {
            let mut w = self.upload_start(command).await?;
            let moved = self.stream(src, n, &mut w, opts, before).await?;
            self.upload_end(&mut w, moved).await
        }
    }

    /// Reads `src` into the upload area, after the byte `carry` kept from
    /// the read before. With `whole`, up to `fill` bytes and one byte more
    /// to know whether the source ends there; that byte goes to `carry`
    /// for the next fill. Without, what one read yields (up to `fill` + 1
    /// bytes). Returns the bytes to send and whether the source has ended.
    fn read_chunk<'s, R: Read>(
        &'s mut self,
        src: &'s mut R,
        fill: usize,
        carry: &'s mut Option<u8>,
        whole: bool,
    ) -> impl Future<Output = Result<(u64, bool), Error>> + use<'s, 'b, U, D, R> {
        async move {
            let mut n = 0;
            if let (Some(b), Some(first)) = (carry.take(), self.rx.upload_room(RX_LEN, RX_LEN + 1).first_mut()) {
                *first = b;
                n = 1;
            }
            loop {
                let k = src.read(self.rx.upload_room(RX_LEN + n, RX_LEN + fill + 1)).await.map_err(source_error)?;
                n += k;
                match k {
                    // The source ended.
                    0 => return Ok((n as u64, true)),
                    // What came goes out now.
                    _ if !whole => return Ok((n as u64, false)),
                    // More to read.
                    _ if n <= fill => {}
                    // The byte beyond the fill goes with the next one.
                    _ => {
                        *carry = self.rx.upload_room(RX_LEN + fill, RX_LEN + fill + 1).first().copied();
                        return Ok((fill as u64, false));
                    }
                }
            }
        }
    }

    /// Starts an upload exchange: the command, then `CONNECT`, whose delay
    /// is the round trip measured for [`UploadMode::Auto`]. From here on
    /// the module is in data mode. Returns the wait for the result (with
    /// or without an `OK` before it: see [`Until::Answer`]).
    fn upload_start<'s, 'c>(
        &'s mut self,
        command: &'s Command<'c>,
    ) -> impl Future<Output = Result<Waiting<'static>, Error>> + use<'s, 'c, 'b, U, D> {
        async move {
            let want = Want::Num(PUT);
            // From the command on, the module may enter data mode at any
            // moment: a call after a drop or a timeout escapes first.
            self.st.dirty = Dirty::DataMode;
            let mut w = Waiting::new(want, Until::Connect, &mut []);
            let sent = Instant::now();
            self.exchange(command, &mut w, self.st.deferred).await?;
            self.st.slow_link = Instant::now() >= sent + SLOW_ROUND_TRIP;
            w.until = Until::Answer;
            Ok(w)
        }
    }

    /// Streams exactly `len` bytes of the source through the upload area
    /// (a source that ends before is an error), telling `opts`'s progress
    /// `before` plus the bytes written after each write. Stops early,
    /// sending nothing more, if the module has left data mode by itself
    /// (see [`Ftp::module_left_data_mode`]): the result in `w` tells why.
    fn stream<'s, 't, 'o, 'p, R: Read>(
        &'s mut self,
        src: &'s mut R,
        len: u64,
        w: &'s mut Waiting<'t>,
        opts: &'o mut Transfer<'p>,
        before: u64,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 't, 'o, 'p, 'b, U, D, R> {
        async move {
            let room = self.rx.len().saturating_sub(RX_LEN) as u64;
            let mut moved = 0u64;
            while moved < len {
                let area = self.rx.upload_room(RX_LEN, RX_LEN + (len - moved).min(room) as usize);
                let k = src.read(area).await.map_err(source_error)?;
                if k == 0 {
                    return Err(SOURCE_ENDED);
                }
                // The source may have stalled for longer than the module
                // waits for data.
                if self.module_left_data_mode(w).await? {
                    break;
                }
                moved += k as u64;
                self.write_upload(RX_LEN, RX_LEN + k, after(self.st.deferred)).await?;
                opts.report(before + moved);
            }
            Ok(moved)
        }
    }

    /// Ends an upload exchange after the data: the result, whose count
    /// must be `moved`.
    ///
    /// Without `+++`, the module leaves data mode by itself after the
    /// announced bytes, unless the line lost some: then it still waits for
    /// them, and whatever this client sends next would become data. So
    /// until the result arrives the stream stays marked as in data mode,
    /// and a call after a timeout or a dropped future escapes before its
    /// first byte.
    fn upload_end<'s, 't>(
        &'s mut self,
        w: &'s mut Waiting<'t>,
        moved: u64,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 't, 'b, U, D> {
        async move {
            self.wait(w, after(self.st.deferred)).await?;
            if w.value().is_err() {
                // A module that left data mode early (it ends an upload
                // itself, `+QFTPPUT: 609,0`, or when the server fails) took
                // the rest of the data as command lines, whose answers are
                // still to come: the next call probes first.
                self.st.probe_first = true;
            }
            counted(w.value()?, moved)
        }
    }
}
