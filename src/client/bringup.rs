//! Bring-up and the PDP context: `init`, `activate`, `deactivate`.

use embassy_time::{Instant, Timer};

use embedded_io_async::{Read, Write};

use super::answer::{Got, Want};
use super::edge::after;
use super::limits::{AT_BOOT, GUARD, PDP_ACT, PDP_DEACT, QUICK, SIM_POLL, SIM_READY};
use super::session::{Dirty, Session};
use super::{Ftp, LocalAddr, PdpConfig};
use crate::at::cmd;
use crate::error::Error;

impl<U: Read + Write> Ftp<'_, U> {
    /// Brings the module up, whatever state a previous run left it in.
    ///
    /// The module may still be in data mode, in the middle of a transfer of
    /// a run that died (an MCU reset, a killed process): the first bytes of
    /// a new run would then be taken as upload data. So `init` first
    /// listens for [`GUARD`] (a module that prints `RDY` meanwhile has just
    /// started and is in command mode), then sends a guarded `+++` and
    /// waits out the trailing guard. Only then does it probe: a lone CR
    /// flushes any partial command line, then `AT+CMEE?` until answered (up
    /// to 10 s, for a module still booting). Then echo off (`ATE0`),
    /// numeric errors (`AT+CMEE=1`), and up to 20 s for `+CPIN: READY`.
    ///
    /// A transfer result of the dead run (`+QFTPPUT:`, `+QFTPGET:`) heard
    /// meanwhile is never taken for an answer: it means the dead run's FTP
    /// session is still open, and the next call closes it first. (An `open`
    /// that finds such a session, `+CME ERROR: 603`, closes it and opens
    /// again.)
    ///
    /// **Cost:** one guard cycle, 2.2 s, more than [`Ftp::init_fresh`];
    /// none after `RDY`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the module never answers; [`Error::Protocol`]
    /// if the SIM is not ready within 20 s; `Cme`/`AtError` as the module
    /// answers.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn init(&mut self) -> Result<(), Error> {
        self.boot(true).await
    }

    /// [`Ftp::init`] for a module the caller knows has just powered up (or
    /// been reset through its `RESET_N` line): no listening, no `+++`. Never
    /// use it after an MCU reset that left the modem powered: a modem in
    /// data mode would take the probe for upload data.
    ///
    /// # Errors
    ///
    /// As [`Ftp::init`].
    ///
    /// **Cancel safety:** as [`Ftp::init`].
    pub async fn init_fresh(&mut self) -> Result<(), Error> {
        self.boot(false).await
    }

    async fn boot(&mut self, escape: bool) -> Result<(), Error> {
        // A dropped bring-up leaves the stream dirty: the next call
        // escapes (unless told the module is fresh) and probes.
        self.st.dirty = if escape { Dirty::DataMode } else { Dirty::Stream };
        self.st.session = Session::Closed;
        // Nothing of a previous run of this client is waited for.
        self.st.pending = None;
        self.st.stale_result = false;
        self.st.closing = false;
        self.forget_input();
        if escape {
            self.st.need_init = false;
            self.listen(after(GUARD)).await?;
            // No `RDY`: the module may be in data mode.
            if !self.st.need_init {
                self.write_escape().await?;
                self.listen(after(GUARD)).await?;
            }
        }
        if let Err(e) = self.synchronise(false, AT_BOOT).await {
            return self.st.ended(Err(e));
        }
        self.st.dirty = Dirty::Stream;
        self.echo_off().await?;
        let sim_deadline = after(SIM_READY);
        loop {
            match self.command(&cmd::cpin_query(), Want::Cpin, QUICK, &mut []).await {
                Ok(Got::Flag(true)) => break,
                Ok(_) | Err(Error::Cme(_)) | Err(Error::AtError) if Instant::now() < sim_deadline => {
                    Timer::after(SIM_POLL).await
                }
                Ok(_) => return self.st.ended(Err(Error::Protocol)),
                Err(e) => return self.st.ended(Err(e)),
            }
        }
        // A dead run's transfer ended while we listened: its session is open.
        self.st.need_close = self.st.stale_result;
        self.st.ended(Ok(()))
    }

    /// Configures PDP context `pdp.cid` (`AT+QICSGP`) and activates it
    /// (`AT+QIACT`, up to 150 s) unless `AT+QIACT?` shows it active
    /// already. Returns the local IP address, if the module reported one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before anything is sent; `Cme`/`AtError`
    /// as the module answers; [`Error::Protocol`] if the context is not
    /// active afterwards.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn activate(&mut self, pdp: &PdpConfig<'_>) -> Result<Option<LocalAddr>, Error> {
        let qicsgp = cmd::qicsgp(pdp.cid, pdp.ip_type as u8, pdp.apn, pdp.user, pdp.password, pdp.auth as u8)?;
        let qiact = cmd::qiact(pdp.cid)?;
        self.prepare(false).await?;
        let mut text = [0; LocalAddr::MAX];
        let r = async {
            self.command(&qicsgp, Want::Nothing, QUICK, &mut []).await?;
            let want = Want::QiAct(pdp.cid);
            let query = cmd::qiact_query();
            match self.command(&query, want, QUICK, &mut text).await? {
                Got::Flag(false) => {}
                active => return Ok(active),
            }
            self.command(&qiact, Want::Nothing, PDP_ACT, &mut []).await?;
            match self.command(&query, want, QUICK, &mut text).await? {
                Got::Flag(false) => Err(Error::Protocol),
                active => Ok(active),
            }
        }
        .await;
        let got = self.st.ended(r)?;
        Ok(match got {
            Got::Text(n) => text.get(..n).and_then(LocalAddr::new),
            _ => None,
        })
    }

    /// `AT+QIDEACT=<cid>` (up to 40 s). Any FTP session over it is gone.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a `cid` outside 1–16, before anything
    /// is sent; `Cme`/`AtError` as the module answers; [`Error::Timeout`]
    /// after 40 s.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn deactivate(&mut self, cid: u8) -> Result<(), Error> {
        let qideact = cmd::qideact(cid)?;
        self.prepare(false).await?;
        let r = self.command(&qideact, Want::Nothing, PDP_DEACT, &mut []).await;
        if cid == self.st.context_id {
            self.st.session = Session::Closed;
        }
        self.st.ended(r).map(drop)
    }
}
