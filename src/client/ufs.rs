//! The module's file store (UFS) and FTP through it (reference section 8;
//! Quectel's FILE AT Commands Manual; the FTP application note's step 4).
//!
//! The file commands: `AT+QFLDS` (space), `AT+QFLST` (files), `AT+QFDEL`,
//! `AT+QFUPL` (a file from the host, checksummed, with the ACK mode for
//! UARTs without flow control), `AT+QFDWL` (a file to the host,
//! checksummed), and `AT+QFOPEN`/`AT+QFREAD`/`AT+QFCLOSE` (a file read in
//! counted pieces, `CONNECT <n>`). Then FTP with a local file instead of
//! `"COM:"`, the store-and-forward rounds and the certificate files of
//! FTPS that verifies the server are in `forward.rs`.
//!
//! # Reading this file
//!
//! The option types; then the operations in the order of the manual:
//! space, list and size, delete, upload (with its exchange and the data
//! stream, ACK mode included), download (its exchange, and `receive`, the
//! payload loop `ufs_read` shares), counted reads; last, the answer readers
//! handed to `Want::Custom` and the small checks.
//!
//! None of this needs an FTP session except the FTP commands. Names are
//! local names: at most 80 bytes (DOS 8.3 names are recommended), a
//! `RAM:` prefix for the module's RAM, `UFS:` or none for its flash.
//! The file store's errors are `+CME ERROR: 4xx`: see [`CmeError::file`].

use core::future::Future;
use core::num::NonZeroU32;

use super::Dtr;
use embedded_io_async::{Read, Write};

use super::answer::{Got, Until, Verdict, Waiting, Want};
use super::download::TRAILER;
use super::edge::{after, RX_LEN};
use super::limits::QUICK;
use super::session::Dirty;
use super::{sat32, sink_error, source_error, Ftp, Transfer, SOURCE_ENDED};
use crate::at::checksum::Checksum;
use crate::at::cmd::{self, Command, MAX_LOCAL};
use crate::at::parse;
use crate::at::tokenizer::Payload;
use crate::error::{ArgError, CmeError, Error, FileError};

/// The ACK mode's block: the module sends `A` after each.
const ACK_BLOCK: u64 = 1024;

/// Free and total bytes of the file store (`AT+QFLDS="UFS"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UfsSpace {
    /// Bytes free.
    pub free: u64,
    /// Bytes in all.
    pub total: u64,
}

/// How `AT+QFUPL` takes a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UfsUpload {
    /// `<timeout>`: after this many seconds without a byte the module ends
    /// the upload by itself (1–255; the module's default is 5).
    pub timeout_s: u8,
    /// `<ackmode>` 1: the module sends `A` after each 1 KiB and the client
    /// waits for it before the next. For UARTs without working hardware
    /// flow control; costs a round trip per KiB.
    pub ack: bool,
}

impl Default for UfsUpload {
    fn default() -> Self {
        UfsUpload { timeout_s: 5, ack: false }
    }
}

impl<'b, U: Read + Write, D: Dtr> Ftp<'b, U, D> {
    /// `AT+QFLDS="UFS"`: the file store's free and total bytes.
    ///
    /// **Time bound:** `P` + 5 s (see [the time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// `Cme` as the module answers; [`Error::Timeout`] after 5 s.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn ufs_space(&mut self) -> Result<UfsSpace, Error> {
        self.prepare(false).await?;
        let r = self.command(&cmd::qflds(), Want::Custom(read_qflds), QUICK, &mut []).await;
        let n = self.st.ended(r)?.num()?;
        Ok(UfsSpace { free: n >> 32, total: n & u64::from(u32::MAX) })
    }

    /// `AT+QFLST="<pattern>"`: calls `each` with the name and size in
    /// bytes of every file whose name matches (`*` any run of bytes, `?`
    /// any byte; `"*"` all, `"RAM:*"` the RAM's), as the lines come;
    /// returns how many there were.
    ///
    /// **Time bound:** `P` + 5 s for the whole list.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a pattern that is empty, longer than
    /// 80 bytes or holds `"` or a control byte, before anything is sent;
    /// `Cme` as the module answers; [`Error::Timeout`].
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn ufs_list(&mut self, pattern: &str, mut each: impl FnMut(&[u8], u64)) -> Result<u32, Error> {
        let command = cmd::qflst(pattern)?;
        self.prepare(false).await?;
        let deadline = after(QUICK);
        let mut name = [0u8; MAX_LOCAL];
        let mut w = Waiting::new(Want::Custom(read_qflst), Until::Each, &mut name);
        let r = async {
            self.exchange(&command, &mut w, QUICK).await?;
            let mut files = 0;
            loop {
                if let Some(answer) = w.answer.take() {
                    let packed = answer?.num()?;
                    let len = (packed & 0xff) as usize;
                    each(w.text.get(..len).unwrap_or_default(), packed >> 8);
                    files += 1;
                }
                if w.ok {
                    return Ok(files);
                }
                self.wait(&mut w, deadline).await?;
            }
        }
        .await;
        self.st.ended(r)
    }

    /// The size in bytes of the file `name`, `None` if there is none
    /// (`AT+QFLST="<name>"`).
    ///
    /// **Time bound:** `P` + 5 s.
    ///
    /// # Errors
    ///
    /// As [`Ftp::ufs_list`]; a name with `*` or `?` is refused
    /// ([`ArgError::ForbiddenByte`]).
    ///
    /// **Cancel safety:** as [`Ftp::ufs_list`].
    pub async fn ufs_size(&mut self, name: &str) -> Result<Option<u64>, Error> {
        plain_name(name)?;
        let want = name.as_bytes();
        let mut size = None;
        let listed = self
            .ufs_list(name, |found, n| {
                if same_file(found, want) {
                    size = Some(n);
                }
            })
            .await;
        match listed {
            // A name without wildcards that matches nothing: 405 on some
            // firmware, a bare `OK` on other.
            Ok(_) | Err(Error::Cme(CmeError::Code(405))) => Ok(size),
            Err(e) => Err(e),
        }
    }

    /// `AT+QFDEL="<name>"`: deletes the file (`"*"`: every file).
    ///
    /// **Time bound:** `P` + 5 s.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before anything is sent;
    /// `Cme(Code(405))` ([`FileError::NotFound`]) if there is no such file;
    /// [`Error::Timeout`].
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn ufs_delete(&mut self, name: &str) -> Result<(), Error> {
        let command = cmd::qfdel(name)?;
        self.prepare(false).await?;
        let r = self.command(&command, Want::Nothing, QUICK, &mut []).await;
        self.st.ended(r).map(drop)
    }

    /// `AT+QFUPL`: uploads `size` bytes from `src` into the new file
    /// `name`, and checks the module's `+QFUPL: <upload_size>,<checksum>`
    /// against the bytes sent. `progress` (of `opts`; its other fields are
    /// not used) hears the bytes sent so far. Returns `size`.
    ///
    /// The data goes in data mode through the chunk buffer (less
    /// [`RX_LEN`]) a read of `src` at a time; with [`UfsUpload::ack`], in
    /// blocks of 1 KiB, each acknowledged by the module's `A`. The module
    /// ends the upload by itself after `size` bytes, or after
    /// [`UfsUpload::timeout_s`] without one: a source that stalls that long
    /// ends it early (then [`Error::LengthMismatch`]).
    ///
    /// **Time bound:** `P` + 5 s to `CONNECT`, then per read of `src` one
    /// UART write of `D`, per KiB in ACK mode 5 s for the `A`, then 5 s
    /// for the result; reading `src` is outside the bound.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before anything is sent (a name that is
    /// empty, longer than 80 bytes, or holds `"` or a control byte;
    /// `timeout_s` 0); `Cme(Code(407))` if the file exists,
    /// `Cme(Code(420))` if the store has no room ([`CmeError::file`] names
    /// them); [`Error::Checksum`] or [`Error::LengthMismatch`] if the file
    /// on the module is not what was sent: it is deleted then;
    /// [`Error::Io`] from the UART; [`Error::Source`] from `src`
    /// (`InvalidInput` if it ends before `size` bytes: the module then
    /// ends the upload after its timeout and keeps what came, delete it);
    /// [`Error::Timeout`].
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call leaves data mode (DTR or a guarded `+++`) and resynchronises. What
    /// was sent stays on the module (`+++` ends an upload keeping the
    /// data): delete it.
    pub async fn ufs_upload<R: Read>(
        &mut self,
        name: &str,
        src: &mut R,
        size: u64,
        how: UfsUpload,
        mut opts: Transfer<'_>,
    ) -> Result<u64, Error> {
        let command = cmd::qfupl(name, size, how.timeout_s, how.ack)?;
        self.prepare(false).await?;
        let r = self.upload_to_store(&command, src, size, how, &mut opts).await;
        let r = self.st.ended(r);
        if let Err(Error::Checksum { .. } | Error::LengthMismatch { .. }) = r {
            // What the module holds is not the file: it goes.
            let _ = self.ufs_delete(name).await;
        }
        r
    }

    /// The exchange of [`Ftp::ufs_upload`]: `CONNECT`, the data, the
    /// result.
    fn upload_to_store<'s, 'c, 'p, R: Read>(
        &'s mut self,
        command: &'s Command<'c>,
        src: &'s mut R,
        size: u64,
        how: UfsUpload,
        opts: &'s mut Transfer<'p>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'c, 'p, 'b, U, D, R> {
        async move {
            // From the command on, the module may enter data mode.
            self.st.dirty = Dirty::DataMode;
            let mut w = Waiting::new(Want::Custom(read_qfupl), Until::Connect, &mut []);
            self.exchange(command, &mut w, QUICK).await?;
            w.until = Until::Final;
            self.reserve_upload_area();
            let sent = self.stream_to_store(src, size, how.ack, opts, &mut w).await;
            self.release_upload_area();
            let (sent, sum) = sent?;
            self.wait(&mut w, after(QUICK)).await?;
            self.st.dirty = Dirty::Stream;
            let (stored, module) = unpack_moved(w.value()?.num()?);
            check_moved(sent, stored, sum.value(), module)?;
            if stored != size {
                return Err(Error::LengthMismatch { moved: sat32(size), reported: sat32(stored) });
            }
            Ok(size)
        }
    }

    /// Streams `size` bytes of `src` to the module in data mode (in ACK
    /// mode, a block of 1 KiB at a time, each acknowledged); stops early,
    /// sending nothing more, if the module has left data mode by itself.
    /// Returns the bytes sent and their checksum.
    fn stream_to_store<'s, 'p, 't, R: Read>(
        &'s mut self,
        src: &'s mut R,
        size: u64,
        ack: bool,
        opts: &'s mut Transfer<'p>,
        w: &'s mut Waiting<'t>,
    ) -> impl Future<Output = Result<(u64, Checksum), Error>> + use<'s, 'p, 't, 'b, U, D, R> {
        async move {
            let room = self.rx.len().saturating_sub(RX_LEN) as u64;
            let mut sum = Checksum::new();
            let mut sent = 0u64;
            while sent < size {
                let block = if ack { ACK_BLOCK - sent % ACK_BLOCK } else { u64::MAX };
                let want = (size - sent).min(room).min(block) as usize;
                let area = self.rx.upload_room(RX_LEN, RX_LEN + want);
                let k = src.read(area).await.map_err(source_error)?;
                if k == 0 {
                    return Err(SOURCE_ENDED);
                }
                sum.update(area.get(..k).unwrap_or_default());
                if self.module_left_data_mode(w).await? {
                    break;
                }
                self.write_upload(RX_LEN, RX_LEN + k, after(self.st.deferred)).await?;
                sent += k as u64;
                opts.report(sent);
                if ack && sent.is_multiple_of(ACK_BLOCK) && sent < size && !self.acknowledged(after(QUICK)).await? {
                    break;
                }
            }
            Ok((sent, sum))
        }
    }

    /// `AT+QFDWL`: downloads the file `name` into `sink` and checks the
    /// module's `+QFDWL: <download_size>,<checksum>` against the bytes
    /// received. Its size is asked first (`AT+QFLST`), so that the payload
    /// is taken by its exact length (binary-safe, whatever it holds).
    /// `progress` (of `opts`) hears the bytes received so far. Returns the
    /// file's size.
    ///
    /// **Time bound:** `P` + 5 s for the size, `P` + 5 s to `CONNECT`,
    /// then each piece within `D` of the one before, then 5 s for the
    /// result; writing to `sink` is outside the bound.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before anything is sent;
    /// `Cme(Code(405))` if there is no such file; [`Error::Checksum`] or
    /// [`Error::LengthMismatch`] if the bytes received are not the file
    /// (the UART lost or changed some): `sink` has had them; [`Error::Io`]
    /// from the UART, [`Error::Sink`] from `sink`; [`Error::Timeout`].
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first (leaving data mode with a guarded `+++`
    /// if the file was still coming).
    pub async fn ufs_download<W: Write>(
        &mut self,
        name: &str,
        sink: &mut W,
        mut opts: Transfer<'_>,
    ) -> Result<u64, Error> {
        let command = cmd::qfdwl(name)?;
        let size = self.ufs_size(name).await?.ok_or(Error::Cme(CmeError::Code(FileError::NotFound.code())))?;
        self.prepare(false).await?;
        self.rx.tok().expect_payload(Payload::Exact(size));
        let r = self.download_from_store(&command, sink, &mut opts).await;
        if r.is_err() {
            self.rx.tok().abort_payload();
        }
        let received = self.st.ended(r)?;
        if received != size {
            return Err(Error::LengthMismatch { moved: sat32(received), reported: sat32(size) });
        }
        Ok(size)
    }

    /// The exchange of [`Ftp::ufs_download`]: `CONNECT`, the payload as
    /// armed, the result, whose count and checksum must be those of the
    /// bytes received; returns their count.
    fn download_from_store<'s, 'c, 'p, W: Write>(
        &'s mut self,
        command: &'s Command<'c>,
        sink: &'s mut W,
        opts: &'s mut Transfer<'p>,
    ) -> impl Future<Output = Result<u64, Error>> + use<'s, 'c, 'p, 'b, U, D, W> {
        async move {
            self.st.dirty = Dirty::Sending;
            let mut w = Waiting::new(Want::Custom(read_qfdwl), Until::Data, &mut []);
            let (received, sum) = self.receive(command, &mut w, sink, opts).await?;
            w.until = Until::Final;
            self.wait(&mut w, after(QUICK)).await?;
            let (size, module) = unpack_moved(w.value()?.num()?);
            check_moved(received, size, sum.value(), module)?;
            Ok(received)
        }
    }

    /// Sends `command` and passes the payload it brings to `sink`, each
    /// piece due within the deferred-result deadline of the one before;
    /// returns the bytes received and their checksum.
    fn receive<'s, 'c, 't, 'p, W: Write>(
        &'s mut self,
        command: &'s Command<'c>,
        w: &'s mut Waiting<'t>,
        sink: &'s mut W,
        opts: &'s mut Transfer<'p>,
    ) -> impl Future<Output = Result<(u64, Checksum), Error>> + use<'s, 'c, 't, 'p, 'b, U, D, W> {
        async move {
            let mut sum = Checksum::new();
            let mut received = 0u64;
            let mut verdict = self.exchange(command, w, QUICK).await?;
            loop {
                match verdict {
                    Verdict::Piece(piece) => {
                        let bytes = self.rx.piece(piece);
                        sum.update(bytes);
                        received += bytes.len() as u64;
                        sink.write_all(bytes).await.map_err(sink_error)?;
                        opts.report(received);
                    }
                    Verdict::End => {
                        self.st.dirty = Dirty::Stream;
                        return Ok((received, sum));
                    }
                    _ => return Err(Error::Protocol),
                }
                verdict = self.wait(w, after(self.st.deferred)).await?;
            }
        }
    }

    /// Reads the file `name` into `sink` with `AT+QFOPEN` (read only),
    /// `AT+QFREAD` of `opts.chunk` bytes at a time (each answered
    /// `CONNECT <n>` and exactly `n` bytes; `n` 0 at the end of the file)
    /// and `AT+QFCLOSE`, also after a failure the module answered. After a
    /// timeout, which leaves the stream in doubt, the next call
    /// resynchronises, then closes the file. `progress` hears the bytes
    /// read so far. Returns the bytes read.
    ///
    /// Unlike [`Ftp::ufs_download`] there is no checksum: each piece's
    /// length is on its `CONNECT` line and must be followed by `\r\nOK\r\n`
    /// at once ([`Error::Protocol`] otherwise: a byte was lost or doubled
    /// inside it).
    ///
    /// **Time bound:** `P` + 5 s to open; per piece 5 s to `CONNECT`,
    /// then each part of it within `D` of the one before, then 5 s for
    /// `OK`; 5 s to close. Writing to `sink` is outside the bound.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before anything is sent;
    /// `Cme(Code(405))` if there is no such file, `Cme(Code(426))` if it
    /// is open already; [`Error::Io`] from the UART, [`Error::Sink`] from
    /// `sink`; [`Error::Timeout`].
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first and closes the file (`AT+QFCLOSE`): left
    /// open, reading it again would answer `+CME ERROR: 426` and deleting
    /// it 418.
    pub async fn ufs_read<W: Write>(&mut self, name: &str, sink: &mut W, mut opts: Transfer<'_>) -> Result<u64, Error> {
        let open = cmd::qfopen(name, 2)?;
        self.prepare(false).await?;
        // The handle as soon as its line comes: a module that said it
        // opened the file has, whatever follows (nonsense, no `OK`). Closed
        // by the next call if this one does not get to it.
        let mut heard = [0u8; 4];
        let r = self.command(&open, Want::Custom(read_qfopen), QUICK, &mut heard).await;
        self.st.open_file = NonZeroU32::new(u32::from_le_bytes(heard));
        let handle = u32::try_from(self.st.ended(r)?.num()?).map_err(|_| Error::Protocol)?;
        let chunk = opts.chunk.max(1);
        let mut read = 0u64;
        let r = loop {
            self.rx.tok().expect_payload(Payload::Counted { limit: chunk.into() });
            let mut w = Waiting::new(Want::Nothing, Until::Data, &mut []);
            let before = read;
            // From the command on, the module may enter data mode: a call
            // after a drop or a timeout escapes first.
            self.st.dirty = Dirty::Sending;
            let piece = async {
                let (n, _) = self.receive(&cmd::qfread(handle, chunk), &mut w, sink, &mut opts).await?;
                read += n;
                // `OK` at once: a byte lost or doubled inside the piece
                // shifts its end (its bytes are not the file's), and the
                // module may still be sending.
                match self.expect_raw(TRAILER, after(QUICK)).await {
                    Err(Error::Protocol) => {
                        warn!("read piece not followed by OK: bytes lost or doubled");
                        self.st.dirty = Dirty::Sending;
                        Err(Error::Protocol)
                    }
                    r => r,
                }
            }
            .await;
            match piece {
                Err(e) => {
                    self.rx.tok().abort_payload();
                    break Err(e);
                }
                Ok(()) if read == before => break Ok(read),
                Ok(()) => {}
            }
        };
        let r = self.st.ended(r);
        if self.st.dirty != Dirty::Clean {
            // The module may be in data mode still: a command now would be
            // data. The next call resynchronises, then closes the file.
            return r;
        }
        let closed = self.close_file(handle).await;
        r.and_then(|n| closed.map(|_| n))
    }

    /// `AT+QFCLOSE=<handle>`. Once the module has answered, even with an
    /// error (416: the handle is not open, the module restarted since),
    /// the handle is forgotten; only a failure in `ufs_read`'s own close is
    /// the caller's error. (`prepare` closes a file left open with the same
    /// steps written out, ignoring the module's refusal: a call of this
    /// routine there is a future level in every operation, about 180 B.)
    pub(crate) async fn close_file(&mut self, handle: u32) -> Result<(), Error> {
        let r = self.command(&cmd::qfclose(handle), Want::Nothing, QUICK, &mut []).await;
        let r = self.st.ended(r).map(drop);
        if matches!(r, Ok(()) | Err(Error::Cme(_))) {
            self.st.open_file = None;
        }
        r
    }
}

/// `+QFLDS: <free>,<total>`, packed as `free << 32 | total` (each capped
/// at 4 GiB: a module's store is a few MiB).
fn read_qflds(line: &[u8], _: &mut [u8]) -> Option<Result<Got, Error>> {
    let cap = |n: u64| n.min(u32::MAX.into());
    parse::qflds(line).map(|(free, total)| Ok(Got::Num(cap(free) << 32 | cap(total))))
}

/// `+QFLST: "<name>",<size>`: the name copied into `text`, packed as
/// `size << 8 | name length`.
fn read_qflst(line: &[u8], text: &mut [u8]) -> Option<Result<Got, Error>> {
    let (name, size) = parse::qflst(line)?;
    let fits = text.get_mut(..name.len()).map(|dst| dst.copy_from_slice(name));
    Some(match fits {
        Some(()) if size < 1 << 56 => Ok(Got::Num(size << 8 | name.len() as u64)),
        _ => Err(Error::Protocol),
    })
}

/// `+QFUPL: <upload_size>,<checksum>`, packed by [`pack_moved`].
fn read_qfupl(line: &[u8], _: &mut [u8]) -> Option<Result<Got, Error>> {
    parse::file_moved(line, b"QFUPL").map(pack_moved)
}

/// `+QFDWL: <download_size>,<checksum>`, packed by [`pack_moved`].
fn read_qfdwl(line: &[u8], _: &mut [u8]) -> Option<Result<Got, Error>> {
    parse::file_moved(line, b"QFDWL").map(pack_moved)
}

/// `+QFOPEN: <filehandle>`, also kept in `heard` (4 bytes, little-endian).
fn read_qfopen(line: &[u8], heard: &mut [u8]) -> Option<Result<Got, Error>> {
    let handle = parse::qfopen(line)?;
    if let Some(h) = heard.get_mut(..4) {
        h.copy_from_slice(&handle.to_le_bytes());
    }
    Some(Ok(Got::Num(handle.into())))
}

/// A size and a checksum as one number: `size << 16 | checksum`.
fn pack_moved((size, checksum): (u64, u16)) -> Result<Got, Error> {
    match size < 1 << 48 {
        true => Ok(Got::Num(size << 16 | u64::from(checksum))),
        false => Err(Error::Protocol),
    }
}

fn unpack_moved(n: u64) -> (u64, u16) {
    (n >> 16, n as u16)
}

/// The module's count and checksum against this side's: the count first
/// (a shorter file has another checksum anyway).
fn check_moved(ours: u64, module: u64, sum: u16, module_sum: u16) -> Result<(), Error> {
    if ours != module {
        return Err(Error::LengthMismatch { moved: sat32(ours), reported: sat32(module) });
    }
    if sum != module_sum {
        return Err(Error::Checksum { ours: sum, module: module_sum });
    }
    Ok(())
}

/// A name without wildcards: one file.
fn plain_name(name: &str) -> Result<(), ArgError> {
    match name.bytes().position(|b| b == b'*' || b == b'?') {
        Some(at) => Err(ArgError::ForbiddenByte { at: at as u16 }),
        None => Ok(()),
    }
}

/// Whether the listed name `found` is the file `want`: the module lists
/// UFS files without their `UFS:` prefix.
fn same_file(found: &[u8], want: &[u8]) -> bool {
    fn bare(name: &[u8]) -> &[u8] {
        match name.get(..4) {
            Some(prefix) if prefix.eq_ignore_ascii_case(b"UFS:") => name.get(4..).unwrap_or_default(),
            _ => name,
        }
    }
    bare(found) == bare(want)
}
