//! The I/O edge every operation goes through: write a command, read
//! events with a deadline, wait until an answer, write raw bytes.
//!
//! The bytes read land in the caller's chunk buffer and go through the
//! tokenizer here; each frame becomes an [`Event`] for the wait in
//! progress, and each line that answers nothing goes to the URC dispatcher
//! (and to `State::unanswered`).
//!
//! # Reading this file
//!
//! In order: the receive side (`Rx`) and the raw write with a deadline;
//! then `Ftp`'s routines from the top down: writing (`send`,
//! `write_line`, `write_upload`, `write_escape`), one command and its
//! answer (`command`, `exchange` with the busy loop), `listen`, the wait
//! loop (`wait`) and what feeds it (`fill`), the check made while an
//! upload streams (`module_left_data_mode`), `settle_input`
//! before an operation, `acknowledged` (the file store's ACK mode), `event`
//! (a frame of the tokenizer to an event, the URCs to the dispatcher), `expect_raw`, and the
//! receive buffer's bookkeeping; last, `Shared`, the out-of-line poll.

use core::future::Future;

use super::Dtr;
use embassy_time::{with_deadline, Duration, Instant};
use embedded_io_async::{Read, Write};

use super::answer::{Event, Got, Match, Piece, Until, Verdict, Waiting, Want};
use super::limits::{BUSY_POLL, BUSY_POLLS_CLOSING, BUSY_RETRIES, QUICK};
use super::session::{Dirty, Session};
use super::{io_error, Ftp};
use crate::at::cmd::Command;
use crate::at::tokenizer::{Frame, Tokenizer};
use crate::error::{CmeError, Error};
use crate::fmt::Escaped;

/// Longest line the client's tokenizer keeps: the longest answer,
/// `+QFTPPWD: 0,"<255-byte path>"` (269 bytes), rounded up to a word.
/// Longer lines are counted and skipped: URCs, or the answer to `pwd` in a
/// directory nested deeper than any path a command can name (which then
/// times out).
pub const LINE_LEN: usize = 272;

/// During uploads the first `RX_LEN` bytes of the chunk buffer receive the
/// modem's answers; the rest carries the payload.
pub const RX_LEN: usize = 64;

/// The smallest chunk buffer [`Ftp::new`] accepts.
pub const MIN_BUF: usize = RX_LEN + 64;

/// Bytes of a command line written at a time: held by every command's
/// future, so kept small.
const WINDOW: usize = 16;

/// The receive side: the tokenizer and the caller's buffer.
#[repr(C)]
pub(crate) struct Rx<'b> {
    buf: &'b mut [u8],
    /// Unread received bytes are `buf[start..end]`, within `buf[..cap]`.
    start: usize,
    end: usize,
    cap: usize,
    // Last (`repr(C)`): the bookkeeping above stays at small offsets.
    tok: Tokenizer<LINE_LEN>,
}

impl<'b> Rx<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        let cap = buf.len();
        Rx { tok: Tokenizer::new(), buf, start: 0, end: 0, cap }
    }

    /// The bytes of a payload piece.
    #[inline(never)]
    pub(crate) fn piece(&self, p: Piece) -> &[u8] {
        match p {
            Piece::Buf(a, b) => self.buf.get(a..b).unwrap_or_default(),
            Piece::Held => self.tok.held_payload(),
        }
    }

    /// The tokenizer, to arm or leave data mode.
    pub(crate) fn tok(&mut self) -> &mut Tokenizer<LINE_LEN> {
        &mut self.tok
    }

    /// The whole buffer.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// The upload area, `buf[a..b]` (both from [`RX_LEN`] on).
    pub(crate) fn upload_room(&mut self, a: usize, b: usize) -> &mut [u8] {
        self.buf.get_mut(a..b).unwrap_or_default()
    }
}

/// The deadline `d` from now, saturating (where `Instant + Duration` would
/// panic).
#[inline(never)]
pub(crate) fn after(d: Duration) -> Instant {
    Instant::now().checked_add(d).unwrap_or(Instant::MAX)
}

/// Writes all of `bytes` by `deadline`, then flushes.
pub(crate) async fn write_all<U: Write>(uart: &mut U, mut bytes: &[u8], deadline: Instant) -> Result<(), Error> {
    let io = async {
        while !bytes.is_empty() {
            match uart.write(bytes).await.map_err(io_error)? {
                0 => return Err(Error::Io(embedded_io::ErrorKind::WriteZero)),
                n => bytes = bytes.get(n..).unwrap_or_default(),
            }
        }
        uart.flush().await.map_err(io_error)
    };
    with_deadline(deadline, io).await.unwrap_or(Err(Error::Timeout))
}

impl<'b, U: Read + Write, D: Dtr> Ftp<'b, U, D> {
    /// Sends `cmd`, whose deferred result (if `want` names one) is pending
    /// from now on.
    pub(crate) fn send<'s, 'c>(
        &'s mut self,
        cmd: &'s Command<'c>,
        want: Want,
    ) -> impl Future<Output = Result<(), Error>> + use<'s, 'c, 'b, U, D> {
        self.st.pending = want.deferred();
        self.write_line(cmd)
    }

    /// Writes a command line, a window of 16 bytes at a time.
    /// Polled out of line ([`Shared`]): every command and probe share it.
    pub(crate) fn write_line<'s>(
        &'s mut self,
        cmd: &'s Command<'_>,
    ) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        Shared::new(async move {
            // Credentials show as `***`.
            trace!("> {}", cmd);
            let mut window = [0u8; WINDOW];
            let mut at = 0;
            self.st.line_open = true;
            loop {
                let n = cmd.encode_at(at, &mut window);
                if n == 0 {
                    self.st.line_open = false;
                    return Ok(());
                }
                at += n;
                write_all(&mut self.uart, window.get(..n).unwrap_or_default(), after(QUICK)).await?;
            }
        })
    }

    /// Writes upload data, the chunk buffer's bytes `a..b`, by `deadline`.
    pub(crate) fn write_upload<'s>(
        &'s mut self,
        a: usize,
        b: usize,
        deadline: Instant,
    ) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        trace!("> {} bytes of data", b.saturating_sub(a));
        write_all(&mut self.uart, self.rx.buf.get(a..b).unwrap_or_default(), deadline)
    }

    /// Writes `+++` in one write.
    pub(crate) fn write_escape<'s>(&'s mut self) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        trace!("> +++");
        write_all(&mut self.uart, b"+++", after(QUICK))
    }

    /// Sends `cmd` and waits (for `timeout`) for its final result and its
    /// answer line (see [`Want::required`]); returns the line's value
    /// ([`Waiting::value`]). Text answers go to `text`.
    pub(crate) fn command<'s>(
        &'s mut self,
        cmd: &'s Command<'_>,
        want: Want,
        timeout: Duration,
        text: &'s mut [u8],
    ) -> impl Future<Output = Result<Got, Error>> + use<'s, 'b, U, D> {
        Shared::new(async move {
            let mut w = Waiting::new(want, Until::Final, text);
            self.exchange(cmd, &mut w, timeout).await?;
            w.value()
        })
    }

    /// Sends `cmd` and waits (for `timeout`) until `w` is over or a payload
    /// piece comes; returns how the wait ended.
    ///
    /// Busy: while a close is in progress, and after it on some firmware
    /// (reference section 6b), the module answers FTP commands `+CME
    /// ERROR: 603`. Then the client listens for [`BUSY_POLL`] (the close's
    /// result may come meanwhile) and sends the command again: while a
    /// close is in progress, up to [`BUSY_POLLS_CLOSING`] times; otherwise
    /// [`BUSY_RETRIES`] times, after which the session is given up (the
    /// next call closes it) and the error is `Cme(603)`. Without a session
    /// or a close in progress, `603` is the answer (see [`Ftp::open`]).
    ///
    /// Polled out of line ([`Shared`]): every command and transfer shares
    /// it.
    pub(crate) fn exchange<'s, 't>(
        &'s mut self,
        cmd: &'s Command<'_>,
        w: &'s mut Waiting<'t>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Verdict, Error>> + use<'s, 't, 'b, U, D> {
        Shared::new(async move {
            let mut busy = 0;
            loop {
                self.send(cmd, w.want).await?;
                match self.wait(w, after(timeout)).await {
                    Err(Error::Cme(CmeError::Code(603))) => busy += 1,
                    r => return r,
                }
                let give_up = match self.st.closing {
                    true => busy > BUSY_POLLS_CLOSING,
                    false => self.st.session != Session::Open || busy > BUSY_RETRIES,
                };
                if give_up {
                    if !self.st.closing {
                        self.st.busy_for_good();
                    }
                    return Err(Error::Cme(CmeError::Code(603)));
                }
                debug!("busy (603): waiting");
                // Listens, the lines going to the URC dispatcher; a line
                // that answers this command (the pending close's result,
                // for a close) ends the pause early.
                let until = core::mem::replace(&mut w.until, Until::Busy);
                let paused = self.wait(w, after(BUSY_POLL)).await.map(drop);
                (w.until, w.answer) = (until, None);
                match paused {
                    Ok(()) | Err(Error::Timeout) => {}
                    Err(e) => return Err(e),
                }
            }
        })
    }

    /// Reads until `deadline`, the lines going to the URC dispatcher. A
    /// timeout is the normal end. Polled out of line ([`Shared`]).
    pub(crate) fn listen<'s>(
        &'s mut self,
        deadline: Instant,
    ) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        Shared::new(async move {
            let mut w = Waiting::new(Want::Nothing, Until::Busy, &mut []);
            match self.wait(&mut w, deadline).await {
                Ok(_) | Err(Error::Timeout) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    /// Reads events until the wait `w` is over, or `deadline`. `CONNECT`
    /// moves the deadline on by the deferred-result deadline (the first
    /// payload byte is due within it); nothing else does. Returns what
    /// ended the wait: [`Verdict::Done`], a payload piece or the payload's
    /// end.
    pub(crate) fn wait<'s, 't>(
        &'s mut self,
        w: &'s mut Waiting<'t>,
        mut deadline: Instant,
    ) -> impl Future<Output = Result<Verdict, Error>> + use<'s, 't, 'b, U, D> {
        async move {
            loop {
                if let Some(v) = w.over(self.st.pending.is_none()) {
                    return match v {
                        Verdict::Fail(e) => Err(e),
                        v => Ok(v),
                    };
                }
                let event = match self.event(w) {
                    Some(event) => event?,
                    // A module that keeps talking cannot hold the wait past
                    // its deadline.
                    None if Instant::now() >= deadline => return Err(Error::Timeout),
                    None => {
                        self.fill(deadline).await?;
                        continue;
                    }
                };
                match w.take(event) {
                    Verdict::More => {}
                    // If the operation is dropped in data mode, the next
                    // call must escape. The payload's first byte is due
                    // within the deferred-result deadline of `CONNECT`
                    // (each piece after it, of the piece before: see
                    // `next_piece`). Nothing else moves the deadline, so
                    // lines repeated before `CONNECT` cannot hold the wait.
                    Verdict::Entered => {
                        self.st.dirty = Dirty::Sending;
                        deadline = after(self.st.deferred);
                        self.st.end_by = deadline;
                    }
                    Verdict::End => {
                        self.st.dirty = Dirty::Stream;
                        return Ok(Verdict::End);
                    }
                    Verdict::Fail(e) => return Err(e),
                    v => return Ok(v),
                }
            }
        }
    }

    /// Reads what the UART has into the emptied receive buffer, waiting
    /// until `deadline` for at least one byte (a deadline passed already
    /// takes what the UART has at once: the read is polled first).
    pub(crate) fn fill(&mut self, deadline: Instant) -> impl Future<Output = Result<(), Error>> + use<'_, 'b, U, D> {
        async move {
            self.rx.start = 0;
            self.rx.end = 0;
            let room = self.rx.buf.get_mut(..self.rx.cap).unwrap_or_default();
            match with_deadline(deadline, self.uart.read(room)).await {
                Err(_) => Err(Error::Timeout),
                Ok(Err(e)) => Err(io_error(e)),
                Ok(Ok(0)) => Err(Error::Io(embedded_io::ErrorKind::BrokenPipe)),
                Ok(Ok(n)) => {
                    self.rx.end = n.min(self.rx.cap);
                    Ok(())
                }
            }
        }
    }

    /// During an upload, before more data goes out: reads what the module
    /// has sent meanwhile, without waiting for more. True if it has left
    /// data mode (its `OK`, or the upload's result, came): it ended the
    /// upload itself (`+QFTPPUT: 609,0` after a stalled source), and
    /// whatever is sent now would be taken as commands.
    pub(crate) fn module_left_data_mode<'s, 't>(
        &'s mut self,
        w: &'s mut Waiting<'t>,
    ) -> impl Future<Output = Result<bool, Error>> + use<'s, 't, 'b, U, D> {
        async move {
            // What is buffered (bytes that came with `CONNECT`), then
            // what the UART has now; no waiting: the deadlines have passed
            // already.
            let now = Instant::now();
            for _ in 0..2 {
                if self.rx.start >= self.rx.end {
                    match self.fill(now).await {
                        Ok(()) | Err(Error::Timeout) => {}
                        Err(e) => return Err(e),
                    }
                }
                match self.wait(w, now).await {
                    Ok(_) | Err(Error::Timeout) => {}
                    Err(e) => return Err(e),
                }
            }
            let left = w.ok || w.answer.is_some();
            if left {
                self.st.dirty = Dirty::Stream;
            }
            Ok(left)
        }
    }

    /// Before an operation's first command: what was received before it
    /// answers nothing of it. Complete lines go to the URC dispatcher (a
    /// final result nobody asked for is dropped), and a line begun is
    /// marked stale ([`Tokenizer::stale_line`]), so that the end the next
    /// answer brings it cannot turn it into that answer.
    pub(crate) fn settle_input(&mut self) {
        let mut w = Waiting::new(Want::Nothing, Until::Busy, &mut []);
        while self.event(&mut w).is_some() {}
        self.rx.tok.stale_line();
    }

    /// `AT+QFUPL`'s ACK mode: reads the module's `A` after a block, by
    /// `deadline`, raw (it has no line end).
    /// False if the module says anything else: it has left data mode, and
    /// the answer is left for the wait that follows.
    pub(crate) fn acknowledged(
        &mut self,
        deadline: Instant,
    ) -> impl Future<Output = Result<bool, Error>> + use<'_, 'b, U, D> {
        async move {
            loop {
                while let Some(&b) = self.rx.buf.get(self.rx.start..self.rx.end).and_then(<[u8]>::first) {
                    match b {
                        b'A' => {
                            self.rx.start += 1;
                            return Ok(true);
                        }
                        // The end of `CONNECT`'s line.
                        b'\r' | b'\n' => self.rx.start += 1,
                        _ => return Ok(false),
                    }
                }
                if Instant::now() >= deadline {
                    return Err(Error::Timeout);
                }
                self.fill(deadline).await?;
            }
        }
    }

    /// The next event from the buffered input, `None` once it is used up.
    /// Lines that answer nothing go to the URC dispatcher.
    fn event(&mut self, w: &mut Waiting<'_>) -> Option<Result<Event, Error>> {
        loop {
            let base = self.rx.buf.as_ptr() as usize;
            let input = self.rx.buf.get(self.rx.start..self.rx.end).unwrap_or_default();
            // The tokenizer may hold bytes (the `\r\nOK\r\n` after a listing)
            // that it replays only when fed, even with nothing new.
            let (used, frame) = self.rx.tok.feed(input);
            if used == 0 && frame.is_none() {
                return None;
            }
            match &frame {
                None => {}
                // While a broken-off download is escaped, what is left of
                // its payload comes as lines: shown by length, as payload
                // is.
                Some(Frame::Line(line)) if w.until == Until::Escape && self.st.dirty == Dirty::Sending => {
                    trace!("< a line of {} bytes (a download's remainder?)", line.len())
                }
                Some(Frame::Line(line)) => trace!("< {}", Escaped(line)),
                Some(Frame::Data(d)) => trace!("< {} bytes of payload", d.len()),
                // An echo repeats a command line, credentials included.
                Some(Frame::Echo(line)) => trace!("< echo of {} bytes", line.len()),
                Some(Frame::Ok) => trace!("< OK"),
                Some(Frame::Error) => trace!("< ERROR"),
                Some(Frame::Cme(e)) => trace!("< {}", e),
                Some(Frame::Connect) => trace!("< CONNECT"),
                Some(Frame::NoCarrier) => trace!("< NO CARRIER"),
                Some(Frame::DataEnd { len }) => trace!("< end of payload, {} bytes", len),
                Some(Frame::Overflow) => trace!("< a line too long, skipped"),
            }
            let mut restarted = false;
            let event = match frame {
                None | Some(Frame::Echo(_)) | Some(Frame::NoCarrier) => None,
                Some(Frame::Overflow) => {
                    warn!("overlong line skipped");
                    self.overlong = self.overlong.wrapping_add(1);
                    None
                }
                Some(Frame::Ok) => Some(Event::Ok),
                // A command refused outright has no deferred result to come;
                // an error while resynchronising (`+++` ended by the probe's
                // CR) says nothing of an abandoned command.
                Some(Frame::Error) => {
                    if w.own_result() {
                        self.st.pending = None;
                    }
                    Some(Event::Error)
                }
                Some(Frame::Cme(e)) => {
                    if w.own_result() {
                        self.st.pending = None;
                    }
                    Some(Event::Cme(e))
                }
                Some(Frame::Connect) => Some(Event::Connect),
                Some(Frame::DataEnd { .. }) => Some(Event::DataEnd),
                Some(Frame::Line(line)) => {
                    // The deferred result of the command in flight (or of an
                    // abandoned one) has come: nothing is pending any more.
                    let settles = self.st.settles(line);
                    match w.want.offer(line, w.text) {
                        Match::Answer(answer) => {
                            w.answer = Some(answer);
                            Some(Event::Answer)
                        }
                        _ if settles => Some(Event::Answer),
                        // The echo of our own escape (echo on): not a URC.
                        Match::Consumed => None,
                        Match::No if line == b"+++" => None,
                        Match::No => {
                            let urc = self.urcs.dispatch(line);
                            restarted = self.st.unanswered(line, urc);
                            None
                        }
                    }
                }
                Some(Frame::Data(d)) => {
                    let start = (d.as_ptr() as usize).wrapping_sub(base);
                    if start < self.rx.end && start + d.len() <= self.rx.end {
                        Some(Event::Data(Piece::Buf(start, start + d.len())))
                    } else {
                        Some(Event::Data(Piece::Held))
                    }
                }
            };
            self.rx.start += used;
            if restarted {
                // `RDY`: the module restarted, no answer will come.
                return Some(Err(Error::SessionClosed));
            }
            if let Some(event) = event {
                return Some(Ok(event));
            }
        }
    }

    /// Reads the exact bytes `expected` off the stream, by `deadline`.
    /// After an exact-length payload the module prints `\r\nOK\r\n` at
    /// once; anything else means that the line lost or doubled a byte
    /// inside the payload, whose count then still matches the module's.
    pub(crate) fn expect_raw<'s>(
        &'s mut self,
        expected: &'s [u8],
        deadline: Instant,
    ) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        async move {
            let mut matched = 0;
            while matched < expected.len() {
                // What the tokenizer pulled in already comes first.
                let held = !self.rx.tok.unframed().is_empty();
                if !held && self.rx.start >= self.rx.end {
                    if Instant::now() >= deadline {
                        return Err(Error::Timeout);
                    }
                    self.fill(deadline).await?;
                    continue;
                }
                let avail = match held {
                    true => self.rx.tok.unframed(),
                    false => self.rx.buf.get(self.rx.start..self.rx.end).unwrap_or_default(),
                };
                let k = avail.len().min(expected.len() - matched);
                if avail.get(..k) != expected.get(matched..matched + k) {
                    return Err(Error::Protocol);
                }
                matched += k;
                match held {
                    true => self.rx.tok.skip_unframed(k),
                    false => self.rx.start += k,
                }
            }
            Ok(())
        }
    }

    /// Forgets every byte received and the tokenizer's state, and gives
    /// reads the whole buffer again (an upload dropped midway leaves them
    /// only its first [`RX_LEN`] bytes).
    #[inline(never)]
    pub(crate) fn forget_input(&mut self) {
        self.rx.tok.reset();
        self.rx.start = 0;
        self.rx.end = 0;
        self.rx.cap = self.rx.buf.len();
    }

    /// Gives reads only the first [`RX_LEN`] bytes of the buffer, after
    /// feeding what is left to the tokenizer (lines go to the URC
    /// dispatcher): the rest carries upload data.
    #[inline(never)]
    pub(crate) fn reserve_upload_area(&mut self) {
        while self.rx.start < self.rx.end {
            let input = self.rx.buf.get(self.rx.start..self.rx.end).unwrap_or_default();
            let (used, frame) = self.rx.tok.feed(input);
            match frame {
                Some(Frame::Line(line)) => {
                    let urc = self.urcs.dispatch(line);
                    self.st.unanswered(line, urc);
                }
                Some(Frame::Overflow) => self.overlong = self.overlong.wrapping_add(1),
                Some(_) => warn!("stray frame dropped"),
                None => {}
            }
            self.rx.start += used;
        }
        self.rx.start = 0;
        self.rx.end = 0;
        self.rx.cap = RX_LEN;
    }

    /// Gives reads the whole buffer again after an upload.
    pub(crate) fn release_upload_area(&mut self) {
        self.rx.cap = self.rx.buf.len();
    }
}

pin_project_lite::pin_project! {
    /// A future polled by one out-of-line function per future type: a
    /// routine awaited from several generic callers (a download to two
    /// kinds of sink) is compiled once, not into each caller.
    pub(crate) struct Shared<F> {
        #[pin]
        fut: F,
    }
}

impl<F> Shared<F> {
    pub(crate) fn new(fut: F) -> Self {
        Shared { fut }
    }
}

impl<F: core::future::Future> core::future::Future for Shared<F> {
    type Output = F::Output;

    fn poll(self: core::pin::Pin<&mut Self>, cx: &mut core::task::Context<'_>) -> core::task::Poll<F::Output> {
        poll_out_of_line(self.project().fut, cx)
    }
}

/// Polls `fut`: one copy per future type, whatever the number of callers.
#[inline(never)]
pub(crate) fn poll_out_of_line<F: core::future::Future>(
    fut: core::pin::Pin<&mut F>,
    cx: &mut core::task::Context<'_>,
) -> core::task::Poll<F::Output> {
    fut.poll(cx)
}
