//! Cleaning up before a command, and `recover`.
//!
//! Every operation starts with [`Ftp::prepare`]: it reads what the last
//! call left (`session.rs`) and brings the module back to a known state
//! first: leave data mode with a guarded `+++`, discard what is buffered,
//! probe, wait out (or give up) a deferred result still pending,
//! re-initialise a module that restarted, close a session in doubt.

use core::future::Future;

use super::Dtr;
use embassy_time::{Duration, Instant, Timer};
use embedded_io_async::{Read, Write};

use super::answer::{Until, Waiting, Want};
use super::edge::after;
use super::limits::{Probes, AFTER_ABANDON, ESCAPE_ANSWER, GUARD, MODULE_GUARD, QUICK};
use super::session::Dirty;
use super::{Ftp, PdpConfig};
use crate::at::cmd;
use crate::error::{CmeError, Error};

/// How long a `+++` waits for its answer: the module's own guard, then
/// [`ESCAPE_ANSWER`] (a constant: a `Duration` sum at run time would link
/// its overflow check).
const ANSWER: Duration = Duration::from_ticks(GUARD.as_ticks() + ESCAPE_ANSWER.as_ticks());

/// The name of `+QFTPCLOSE:`.
const CLOSE: &[u8] = b"QFTPCLOSE";

impl<'b, U: Read + Write, D: Dtr> Ftp<'b, U, D> {
    /// Brings the stream to a known state before a command: resynchronises,
    /// re-initialises a restarted module, closes a session left in doubt
    /// and a file `ufs_read` left open, and checks that a session is open
    /// if `needs_session`. From here on the stream is dirty until the
    /// operation ends.
    pub(crate) fn prepare<'s>(
        &'s mut self,
        needs_session: bool,
    ) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        async move {
            if self.st.dirty != Dirty::Clean || self.st.probe_first {
                // `resync`, written out: one future level less in every
                // operation's preparation.
                debug!("resynchronising");
                let escape = self.st.must_escape();
                self.synchronise(escape, AFTER_ABANDON).await?;
                self.st.dirty = Dirty::Clean;
                self.st.probe_first = false;
            }
            self.settle_input();
            // Commands may go out from here on: dropped midway, they leave
            // the stream dirty.
            self.st.dirty = Dirty::Stream;
            if self.st.need_init {
                self.echo_off().await?;
            }
            if self.st.need_close {
                self.close_session().await?;
                self.st.closed();
            }
            if let Some(handle) = self.st.open_file {
                // A file `ufs_read` left open (`close_file`'s steps, written
                // out); refused, it is not open.
                match self.command(&cmd::qfclose(handle.get()), Want::Nothing, QUICK, &mut []).await {
                    Ok(_) | Err(Error::Cme(_)) => self.st.open_file = None,
                    Err(e) => return Err(e),
                }
            }
            if needs_session {
                if let Err(e) = self.st.require_session() {
                    // Nothing is in flight: the refusal leaves a clean stream.
                    return self.st.ended(Err(e));
                }
            }
            Ok(())
        }
    }

    /// Aborts a running transfer and brings the session back to a known
    /// state the way the vendor advises: leaves data mode (guarded `+++`),
    /// closes the FTP session (riding out `+CME ERROR: 603`), and, with
    /// `pdp`, deactivates and reactivates the PDP context. Afterwards
    /// [`Ftp::open`] works again.
    ///
    /// Takes at most about 19 s to get the module's attention (three rounds
    /// of a guarded escape, up to 4.2 s, and a probe, 2 s), plus the
    /// deferred-result deadline for the close, plus `AT+QIDEACT` (40 s) and
    /// `AT+QIACT` (150 s) with `pdp`.
    ///
    /// **Time bound:** 20.6 s to get the module's attention (the 19 s above
    /// leave out the 2 s of listening after a probe answered late), 10 s to
    /// re-initialise a restarted module, and `C` for the close: 125.6 s by
    /// default, 215.6 s riding out 90 busy answers; 783.8 s with `pdp` (see
    /// [the time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the module never answers the probes, or the
    /// close; with `pdp`, the errors of [`Ftp::deactivate`] and
    /// [`Ftp::activate`] (then the close's own failure is not reported: the
    /// context cycle ends the session anyway).
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first, and `recover` can simply be called again.
    pub async fn recover(&mut self, pdp: Option<&PdpConfig<'_>>) -> Result<(), Error> {
        // The transfer may be a download: its payload may still come.
        self.st.dirty = Dirty::Sending;
        self.resync().await?;
        self.st.dirty = Dirty::Stream;
        if self.st.need_init {
            self.echo_off().await?;
        }
        let r = self.close_session().await;
        self.st.closed();
        let closed = self.st.ended(r);
        match pdp {
            // A close that failed is when the vendor advises the PDP cycle
            // most: the session goes with the context.
            Some(pdp) => {
                self.deactivate(pdp.cid).await?;
                self.activate(pdp).await.map(drop)
            }
            None => closed,
        }
    }

    /// Discards buffered bytes and late answers: leaves data mode if the
    /// stream says so, then probes as [`AFTER_ABANDON`] says and waits out
    /// what an abandoned command left pending. The stream is clean after.
    /// (`prepare` has the same steps written out.)
    pub(crate) async fn resync(&mut self) -> Result<(), Error> {
        debug!("resynchronising");
        let escape = self.st.must_escape();
        self.synchronise(escape, AFTER_ABANDON).await?;
        self.st.dirty = Dirty::Clean;
        self.st.probe_first = false;
        Ok(())
    }

    /// Gets the module's attention: probes until it answers (escaping
    /// first if `escape`), as `probes` says, then waits out (or gives up)
    /// the deferred result an abandoned command left pending. The bytes
    /// received before each probe are forgotten.
    pub(crate) fn synchronise<'s>(
        &'s mut self,
        escape: bool,
        probes: Probes,
    ) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        async move {
            // A command in flight when the stream needs an escape: a
            // transfer broken off in data mode (or a command line cut
            // short). Its session is closed, whatever comes meanwhile.
            let broken_off = escape && self.st.pending.is_some();
            let mut tries = 0;
            loop {
                if escape || (tries > 0 && probes.escape_between) {
                    // One guarded `+++`: if the module had left data mode
                    // already it stays silent, and the probe's CR turns the
                    // `+++` into an `ERROR`. Errors here are fine: the probe
                    // decides, and a failed probe escapes again.
                    let _ = self.escape(1).await;
                }
                self.forget_input();
                // The probe: a lone CR ends any partial command line, then
                // `AT+CMEE?`, whose `OK` only counts after its own `+CMEE:`
                // line, so that a late `OK` of an abandoned command cannot
                // pass for it. What is pending stays pending. A probe
                // answered only with errors gives `AtError` at its deadline.
                let r = match self.write_line(&cmd::probe()).await {
                    Ok(()) => {
                        let mut w = Waiting::new(Want::Cmee, Until::Probe, &mut []);
                        match self.wait(&mut w, after(probes.timeout)).await {
                            // The module is there, but answers the probe
                            // with an error.
                            Err(Error::Timeout) if w.refused => Err(Error::AtError),
                            r => r.map(drop),
                        }
                    }
                    Err(e) => Err(e),
                };
                match r {
                    Ok(()) => break,
                    Err(_) if tries + 1 < probes.tries => tries += 1,
                    // `Timeout`, or `AtError` from a module that is there
                    // but refuses the probe.
                    Err(e) => return Err(e),
                }
            }
            if tries > 0 {
                // A module that was slow may still answer an earlier probe:
                // those answers go now, not to the next command.
                self.listen(after(probes.timeout)).await?;
            }
            // Then the deferred result of an abandoned command is waited
            // out, or, when it does not come, the session is closed before
            // anything else. After an escape the abandoned command was a
            // transfer: its result is not waited for (the session is
            // closed instead).
            if self.st.wait_for_pending(escape || (tries > 0 && probes.escape_between)) {
                let mut w = Waiting::new(Want::Nothing, Until::Settle, &mut []);
                // A timeout ends the wait; the close handles it.
                let _ = self.wait(&mut w, after(self.st.deferred)).await;
            }
            self.st.give_up_pending(broken_off);
            Ok(())
        }
    }

    /// Leaves data mode. With a DTR pin, by a low-to-high edge and the
    /// module's `OK` (no guard time); a module that does not answer it
    /// within `ESCAPE_ANSWER` (or a pin that fails) gets the guarded `+++`
    /// after all. The `+++`: [`GUARD`] of silence, `+++` in one write, then
    /// the module's `OK`, which it gives after its own second of silence;
    /// up to `tries` times while the module stays silent (the upload end
    /// uses [`super::limits::ESCAPE_TRIES`]; the resynchronisation one,
    /// since its probe tells). The tokenizer leaves data mode at once.
    ///
    /// An attempt that went unanswered may have been taken all the same,
    /// its `OK` only late: the next `+++` then reached the module in
    /// command mode, where it starts a command line. So after more than
    /// one attempt the next call probes first (the probe's CR ends that
    /// line). Listening for the late `OK` during the guard instead would
    /// not do: after a download, `OK` may be payload still in flight.
    pub(crate) fn escape<'s>(&'s mut self, tries: u8) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        async move {
            self.rx.tok().abort_payload();
            // A payload may still be coming (a download broken off).
            let sending = self.st.dirty == Dirty::Sending;
            let mut w = Waiting::new(Want::Nothing, Until::Escape, &mut []);
            // With a DTR pin, the edge first; without (or if the pin
            // failed), a guarded `+++`.
            let mut edge = D::PRESENT && !self.st.dtr_failed;
            if edge {
                edge = self.dtr.drive(true);
                self.st.dtr_failed = !edge;
                match edge {
                    true => trace!("> DTR edge"),
                    false => warn!("DTR pin failed: escaping with +++ until the next init"),
                }
            }
            let mut signals = u8::from(edge);
            let mut tried = 0;
            // One wait site: an await under `D::PRESENT` would keep its
            // resume code in firmware without a pin.
            loop {
                if !edge {
                    Timer::after(GUARD).await;
                    self.write_escape().await?;
                    tried += 1;
                    signals += 1;
                }
                let sent = Instant::now();
                let deadline = after(if edge { ESCAPE_ANSWER } else { ANSWER });
                let r = loop {
                    let r = self.wait(&mut w, deadline).await;
                    // The module answers `+++` only after its own guard: an
                    // `OK` before it, while a payload may still be coming,
                    // is payload (taken for the answer, the probe that
                    // follows would fall inside the guard and cancel the
                    // escape). A DTR edge stops the payload at once, and
                    // the probe after it is harmless.
                    if edge || !sending || r.is_err() || Instant::now() >= sent + MODULE_GUARD {
                        break r;
                    }
                };
                if edge {
                    self.dtr.drive(false);
                }
                match r {
                    Err(Error::Timeout) if edge || tried < tries => {}
                    r => {
                        self.st.probe_first |= signals > 1;
                        return r.map(drop);
                    }
                }
                if edge {
                    warn!("DTR edge not answered: escaping with +++");
                }
                edge = false;
            }
        }
    }

    /// `ATE0` and `AT+CMEE=1`: echo off, numeric `+CME ERROR` codes; with a
    /// DTR pin, `AT&D1`.
    pub(crate) fn echo_off<'s>(&'s mut self) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        async move {
            // With a DTR pin, `AT&D1` too: its edge then leaves data mode.
            // One await for the three (an await under `D::PRESENT` would
            // keep its resume code in firmware without a pin).
            let mut i = 0;
            while i < 2 + u8::from(D::PRESENT) {
                let command = match i {
                    0 => cmd::echo_off(),
                    1 => cmd::cmee_numeric(),
                    _ => cmd::dtr_escape(),
                };
                self.command(&command, Want::Nothing, QUICK, &mut []).await?;
                i += 1;
            }
            self.st.need_init = false;
            // `AT&D1` went out: the pin is tried again.
            self.st.dtr_failed = false;
            Ok(())
        }
    }

    /// `AT+QFTPCLOSE`. While a close is in progress, a `+CME ERROR: 603`
    /// is ridden out as for every FTP command (reference section 6b; see
    /// [`Ftp::exchange`]). Closing what is not open is fine.
    pub(crate) fn close_session<'s>(&'s mut self) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        async move {
            self.st.closing = true;
            // Not left pending if dropped: a later call need not wait for it.
            let want = Want::Unawaited(CLOSE);
            match self.command(&cmd::qftpclose(), want, self.st.deferred, &mut []).await {
                // Busy closing until the deadline.
                Err(Error::Cme(CmeError::Code(603))) => Err(Error::Timeout),
                // Closed, or there was nothing to close.
                Ok(_) | Err(Error::Ftp { .. } | Error::AtError | Error::Cme(_)) => {
                    self.st.closing = false;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
    }
}
