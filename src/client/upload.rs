//! Uploads from the COM port: `put`, `put_sized` and `put_escaped`
//! (reference sections 2 and 5: `AT+QFTPPUT`).
//!
//! `AT+QFTPPUT="<remote>","COM:",<startpos>,<uploadlen>,<beof>` announces
//! how many bytes follow `CONNECT`, so the module leaves data mode by itself
//! after them: no `+++`, no guard time. Without `<uploadlen>` the data ends
//! with a guarded `+++` (the vendor's way, `put_escaped`). Either way the
//! module then answers `OK` and `+QFTPPUT: 0,<n>`, whose count is checked.
//!
//! While an upload runs, the first [`RX_LEN`] bytes of the chunk buffer
//! receive the module's answers and the rest carries the data.

use core::future::Future;

use embedded_io_async::{Read, Write};

use super::answer::counted;
use super::answer::{Until, Waiting, Want};
use super::edge::{after, RX_LEN};
use super::limits::ESCAPE_TRIES;
use super::session::Dirty;
use super::{io_error, sat32, Ftp, Transfer};
use crate::at::cmd::{self, Command, COM};
use crate::error::{ArgError, Error};

/// The name of `+QFTPPUT:`.
const PUT: &[u8] = b"QFTPPUT";

impl<'b, U: Read + Write> Ftp<'b, U> {
    /// Uploads everything `src` yields to `remote`, starting at `opts.start`
    /// (non-zero resumes/appends). Each chunk goes with
    /// `<uploadlen>,<beof>`, so the module leaves data mode by itself: no
    /// `+++`, no guard time. A chunk is at most `opts.chunk` bytes and at
    /// most the chunk buffer less [`RX_LEN`] + 1: it is read whole first,
    /// with one byte more to know whether it is the last. Every chunk's
    /// `+QFTPPUT: 0,<n>` is checked. `opts.progress` sees the bytes moved so
    /// far. Returns the bytes uploaded.
    ///
    /// **Time bound:** `P`, then per chunk `X(D) + 2·D` (285 s by default);
    /// reading `src` is outside the bound (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before anything is sent; [`Error::NotOpen`]
    /// without a session; `Ftp { .. }` as the module reports;
    /// [`Error::LengthMismatch`] if a chunk's count disagrees;
    /// [`Error::Timeout`] at a deadline (each wait: `rsptimeout` plus 5 s);
    /// [`Error::Io`] from the UART, or from the source (nothing of that
    /// chunk was sent).
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode with a guarded `+++`, resynchronises and closes the
    /// session (open it again). Bytes already moved stay moved: resume with
    /// [`Transfer::start`].
    pub fn put<'s, 'p, R: Read>(
        &'s mut self,
        remote: &'s str,
        src: &'s mut R,
        mut opts: Transfer<'p>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'p, 'b, U, R> {
        async move {
            let start = opts.start;
            cmd::qftpput(remote, COM, start, Some((0, false)))?;
            let room = self.rx.len().saturating_sub(RX_LEN + 1).max(1);
            let chunk = (opts.chunk as usize).clamp(1, room);
            let mut pos = start;
            let mut carry = None;
            loop {
                self.prepare(true).await?;
                self.reserve_upload_area();
                let (n, last) = match self.read_chunk(src, chunk, &mut carry).await {
                    Ok(read) => read,
                    Err(e) => {
                        // Nothing of this chunk went out.
                        self.release_upload_area();
                        self.st.dirty = Dirty::Clean;
                        return Err(e);
                    }
                };
                let command = cmd::qftpput(remote, COM, pos, Some((sat32(n as u64), last)))?;
                let r = self.upload_buffered(&command, n).await;
                self.release_upload_area();
                self.st.ended(r)?;
                pos = pos.saturating_add(n as u64);
                opts.report(pos - start);
                if last {
                    return Ok(pos - start);
                }
            }
        }
    }

    /// Uploads exactly `len` bytes from `src` to `remote`, starting at
    /// `opts.start`. Knowing the length, each `AT+QFTPPUT` can announce a
    /// chunk of `opts.chunk` bytes however small the chunk buffer is: the
    /// data streams through it. Fewer round trips than [`Ftp::put`], which
    /// matters on a slow network. Returns the bytes uploaded.
    ///
    /// **Time bound:** `P`, then per chunk `X(D) + D` plus `D` for each
    /// write of data (one per read of `src`); reading `src` is outside the
    /// bound (see [the time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// As [`Ftp::put`]; a source that ends before `len` bytes gives
    /// `Error::Io(InvalidInput)` and the session is closed at the next call.
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode with a guarded `+++`, resynchronises and closes the
    /// session (open it again). Bytes already moved stay moved: resume with
    /// [`Transfer::start`].
    pub fn put_sized<'s, 'p, R: Read>(
        &'s mut self,
        remote: &'s str,
        src: &'s mut R,
        len: u64,
        mut opts: Transfer<'p>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'p, 'b, U, R> {
        async move {
            let start = opts.start;
            cmd::qftpput(remote, COM, start, Some((0, false)))?;
            start.checked_add(len).ok_or(ArgError::OutOfRange)?;
            let chunk = u64::from(opts.chunk.max(1));
            let mut done = 0;
            loop {
                let n = (len - done).min(chunk);
                let last = done + n == len;
                self.prepare(true).await?;
                self.reserve_upload_area();
                let command = cmd::qftpput(remote, COM, start + done, Some((sat32(n), last)))?;
                let r = async {
                    let mut w = self.upload_start(&command).await?;
                    let moved = self.stream(src, Some(n), None, &mut w).await?;
                    self.upload_end(&mut w, moved).await
                }
                .await;
                self.release_upload_area();
                self.st.ended(r)?;
                done += n;
                opts.report(done);
                if last {
                    return Ok(done);
                }
            }
        }
    }

    /// Uploads a stream of unknown length the vendor's way: one
    /// `AT+QFTPPUT` without `<uploadlen>`, all data, then a guarded `+++`
    /// (1.1 s of silence before and after, sent in one write, retried if the
    /// module stays in data mode). Slower than [`Ftp::put`] by the guard
    /// times. The upload starts at `opts.start`; `opts.progress` sees the
    /// bytes sent so far after each write (`opts.chunk` is not used: the
    /// stream is one upload). Returns the bytes uploaded.
    ///
    /// **Time bound:** `P` + `X(D) + D` + 12.6 s for the escapes, plus `D`
    /// for each write of data (one per read of `src`); reading `src` is
    /// outside the bound (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// As [`Ftp::put`]; the escape itself is tried three times.
    ///
    /// **Cancel safety:** the future may be dropped mid-transfer; the next call
    /// leaves data mode with a guarded `+++`, resynchronises and closes the
    /// session (open it again). Bytes already moved stay moved: resume with
    /// [`Transfer::start`].
    pub fn put_escaped<'s, 'p, R: Read>(
        &'s mut self,
        remote: &'s str,
        src: &'s mut R,
        mut opts: Transfer<'p>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'p, 'b, U, R> {
        async move {
            let command = cmd::qftpput(remote, COM, opts.start, None)?;
            self.prepare(true).await?;
            self.reserve_upload_area();
            let r = async {
                let mut w = self.upload_start(&command).await?;
                let moved = self.stream(src, None, Some(&mut opts), &mut w).await?;
                // A module that ended the upload itself gets no `+++`.
                if !self.module_left_data_mode(&mut w).await? {
                    // `escape` takes the `OK`; the result line follows.
                    // Until the escape is through, the module is in data
                    // mode.
                    self.escape(ESCAPE_TRIES).await?;
                    self.st.dirty = Dirty::Stream;
                }
                self.upload_end(&mut w, moved).await
            }
            .await;
            self.release_upload_area();
            self.st.ended(r)
        }
    }

    /// Reads up to `chunk` bytes of `src` into the upload area, and one
    /// byte more to know whether the source ends there; that byte is kept
    /// in `carry` for the next chunk. Returns the chunk's length and
    /// whether it is the last.
    fn read_chunk<'s, R: Read>(
        &'s mut self,
        src: &'s mut R,
        chunk: usize,
        carry: &'s mut Option<u8>,
    ) -> impl Future<Output = Result<(usize, bool), Error>> + use<'s, 'b, U, R> {
        async move {
            let mut n = 0;
            if let (Some(b), Some(first)) = (carry.take(), self.rx.upload_room(RX_LEN, RX_LEN + 1).first_mut()) {
                *first = b;
                n = 1;
            }
            loop {
                let k = src.read(self.rx.upload_room(RX_LEN + n, RX_LEN + chunk + 1)).await.map_err(io_error)?;
                n += k;
                match k {
                    // More to read.
                    1.. if n <= chunk => {}
                    // The source ended.
                    _ if n <= chunk => return Ok((n, true)),
                    // The byte beyond the chunk goes with the next one.
                    _ => {
                        *carry = self.rx.upload_room(RX_LEN + chunk, RX_LEN + chunk + 1).first().copied();
                        return Ok((chunk, false));
                    }
                }
            }
        }
    }

    /// One upload exchange of the `n` bytes in the upload area: the
    /// command, `CONNECT`, the bytes, the result.
    fn upload_buffered<'s, 'c>(
        &'s mut self,
        command: &'s Command<'c>,
        n: usize,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'c, 'b, U> {
        async move {
            let mut w = self.upload_start(command).await?;
            if n > 0 {
                self.write_upload(RX_LEN, RX_LEN + n, after(self.st.deferred)).await?;
            }
            self.upload_end(&mut w, n as u64).await
        }
    }

    /// Starts an upload exchange: the command, then `CONNECT`. From here
    /// on the module is in data mode. Returns the wait for the result (with
    /// or without an `OK` before it: see [`Until::Answer`]).
    fn upload_start<'s, 'c>(
        &'s mut self,
        command: &'s Command<'c>,
    ) -> impl Future<Output = Result<Waiting<'static>, Error>> + use<'s, 'c, 'b, U> {
        async move {
            let want = Want::Num(PUT);
            // From the command on, the module may enter data mode at any
            // moment: a call after a drop or a timeout escapes first.
            self.st.dirty = Dirty::DataMode;
            let mut w = Waiting::new(want, Until::Connect, &mut []);
            self.exchange(command, &mut w, self.st.deferred).await?;
            w.until = Until::Answer;
            Ok(w)
        }
    }

    /// Streams the source through the upload area: `len` bytes (a source
    /// that ends before is an error), or everything it yields. Stops early,
    /// sending nothing more, if the module has left data mode by itself
    /// (see [`Ftp::module_left_data_mode`]): the result in `w` tells why.
    fn stream<'s, 'p, 't, R: Read>(
        &'s mut self,
        src: &'s mut R,
        len: Option<u64>,
        mut progress: Option<&'s mut Transfer<'p>>,
        w: &'s mut Waiting<'t>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'p, 't, 'b, U, R> {
        async move {
            let room = self.rx.len().saturating_sub(RX_LEN) as u64;
            let mut moved = 0u64;
            loop {
                let left = len.map_or(u64::MAX, |n| n - moved);
                if left == 0 {
                    return Ok(moved);
                }
                let area = self.rx.upload_room(RX_LEN, RX_LEN + left.min(room) as usize);
                let k = src.read(area).await.map_err(io_error)?;
                if k == 0 {
                    return match len {
                        None => Ok(moved),
                        Some(_) => Err(Error::Io(embedded_io::ErrorKind::InvalidInput)),
                    };
                }
                // The source may have stalled for longer than the module
                // waits for data.
                if self.module_left_data_mode(w).await? {
                    return Ok(moved);
                }
                moved += k as u64;
                self.write_upload(RX_LEN, RX_LEN + k, after(self.st.deferred)).await?;
                if let Some(opts) = progress.as_mut() {
                    opts.report(moved);
                }
            }
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
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 't, 'b, U> {
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
