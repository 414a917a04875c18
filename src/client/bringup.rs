//! Bring-up and the PDP context: `init`, `activate`, `deactivate`.

use core::future::Future;

use embassy_time::{Duration, Instant, Timer};

use super::Dtr;
use embedded_io_async::{Read, Write};

use super::answer::{Got, Want, CPIN_PIN, CPIN_PUK, CPIN_READY};
use super::edge::after;
use super::limits::{AT_BOOT, GUARD, PDP_ACT, PDP_DEACT, QUICK, REGISTRATION_POLL, SIM_POLL, SIM_READY};
use super::session::{Dirty, Session};
use super::{Ftp, LocalAddr, PdpConfig};
use crate::at::cmd::{self, Command};
use crate::error::{ArgError, CmeError, Error, SimError};

/// The answer to `AT+CPIN?`: ready, or what keeps the SIM from use.
fn sim(r: Result<Got, Error>) -> Result<(), Error> {
    let e = match r {
        Ok(Got::Num(CPIN_READY)) => return Ok(()),
        Ok(Got::Num(CPIN_PIN)) => SimError::PinRequired,
        Ok(Got::Num(CPIN_PUK)) => SimError::PukRequired,
        Ok(_) => SimError::Locked,
        Err(Error::Cme(CmeError::Code(10))) => SimError::NotInserted,
        Err(Error::Cme(CmeError::Code(13))) => SimError::Failure,
        Err(Error::Cme(CmeError::Code(14))) => SimError::Busy,
        Err(e) => return Err(e),
    };
    Err(Error::Sim(e))
}

impl<'b, U: Read + Write, D: Dtr> Ftp<'b, U, D> {
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
    /// numeric errors (`AT+CMEE=1`), and the SIM (`AT+CPIN?`): ready, or
    /// why not. A SIM that is busy (`+CME ERROR: 14`), or a module that
    /// refuses the query while it starts, is asked again for up to 20 s;
    /// every other state ends `init` at once.
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
    /// **Time bound:** 49.2 s (54.2 s with a DTR pin): `2·GUARD`, the boot probes, `ATE0`,
    /// `AT+CMEE=1` and the SIM wait; no preparation (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the module never answers; [`Error::AtError`]
    /// (or `Cme`) if it answers but refuses the commands;
    /// [`Error::Sim`] with the SIM's state: [`SimError::NotInserted`],
    /// [`SimError::Failure`], [`SimError::PinRequired`] (see
    /// [`Ftp::init_with_pin`]), [`SimError::PukRequired`],
    /// [`SimError::Locked`], or [`SimError::Busy`] after 20 s.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub fn init<'s>(&'s mut self) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        // The bring-up's own future, not one more level around it.
        self.boot(true)
    }

    /// [`Ftp::init`] for a SIM locked by a PIN: if the SIM asks for it
    /// (`+CPIN: SIM PIN`), enters `pin` (`AT+CPIN="<pin>"`) once, then
    /// waits for the SIM as `init` does. The PIN never reaches a log.
    ///
    /// **Time bound:** 80.2 s (85.2 s with a DTR pin): [`Ftp::init`]'s, then the PIN and the SIM
    /// wait again (see [the time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a PIN that is not 4 to 8 digits,
    /// before anything is sent; [`SimError::WrongPin`] if the SIM refuses
    /// it; as [`Ftp::init`] otherwise. The client remembers nothing of a
    /// wrong PIN: do not call this again with the same PIN (a third wrong
    /// PIN blocks the SIM, which then needs its PUK).
    ///
    /// **Cancel safety:** as [`Ftp::init`].
    pub async fn init_with_pin(&mut self, pin: &str) -> Result<(), Error> {
        cmd::cpin_enter(pin)?;
        match self.boot(true).await {
            Err(Error::Sim(SimError::PinRequired)) => {}
            r => return r,
        }
        // Dropped from here on, the next call resynchronises.
        self.st.dirty = Dirty::Stream;
        let r = async {
            match self.command(&cmd::cpin_enter(pin)?, Want::Nothing, QUICK, &mut []).await {
                Err(Error::Cme(CmeError::Code(16))) => return Err(Error::Sim(SimError::WrongPin)),
                r => r?,
            };
            self.sim_ready().await
        }
        .await;
        self.st.ended(r)
    }

    /// [`Ftp::init`] for a module the caller knows has just powered up (or
    /// been reset through its `RESET_N` line): no listening, no `+++`. Never
    /// use it after an MCU reset that left the modem powered: a modem in
    /// data mode would take the probe for upload data.
    ///
    /// **Time bound:** 47 s: [`Ftp::init`]'s without the guard times (see
    /// [the time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// As [`Ftp::init`].
    ///
    /// **Cancel safety:** as [`Ftp::init`].
    pub fn init_fresh<'s>(&'s mut self) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        self.boot(false)
    }

    fn boot<'s>(&'s mut self, escape: bool) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        async move {
            // A dropped bring-up leaves the stream dirty: the next call
            // escapes (unless told the module is fresh) and probes.
            self.st.dirty = if escape { Dirty::DataMode } else { Dirty::Stream };
            self.st.session = Session::Closed;
            // Nothing of a previous run of this client is waited for; a result
            // it still owes (an abandoned `open`) could answer a later command
            // of its kind, so a close comes first, before anything else (as
            // after a session in doubt).
            self.st.give_up_pending(false);
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
            let r = 'commands: {
                or_break!('commands, self.echo_off().await);
                // `sim_ready`, written out: a routine of its own is one more
                // future level in `init`'s (about 160 B of flash).
                let until = after(SIM_READY);
                loop {
                    let r = self.command(&cmd::cpin_query(), Want::Cpin, QUICK, &mut []).await;
                    match sim(r) {
                        Ok(()) => break 'commands Ok(()),
                        Err(Error::Sim(SimError::Busy) | Error::AtError | Error::Cme(_)) if Instant::now() < until => {
                            Timer::after(SIM_POLL).await
                        }
                        Err(e) => break 'commands Err(e),
                    }
                }
            };
            self.st.ended(r)
        }
    }

    /// Asks the SIM's state (`AT+CPIN?`) until it is ready, for up to 20 s
    /// while it is busy or the module refuses the query (a module still
    /// starting); any other state is the error at once. (`boot` has the
    /// same loop written out.)
    async fn sim_ready(&mut self) -> Result<(), Error> {
        let until = after(SIM_READY);
        loop {
            let r = self.command(&cmd::cpin_query(), Want::Cpin, QUICK, &mut []).await;
            match sim(r) {
                Ok(()) => return Ok(()),
                Err(Error::Sim(SimError::Busy) | Error::AtError | Error::Cme(_)) if Instant::now() < until => {
                    Timer::after(SIM_POLL).await
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Configures PDP context `pdp.cid` (`AT+QICSGP`) and activates it
    /// unless `AT+QIACT?` shows it active already. Returns the local IP
    /// address, if the module reported one.
    ///
    /// Before activating, waits (up to `pdp.registration_timeout_s`) for
    /// the module to register with the network: `AT+CEREG?`, `AT+CGREG?`
    /// and `AT+CREG?` every 2 s until one shows 1 (home) or 5 (roaming)
    /// (reference section 3). Then `AT+QIACT` (up to 150 s); if the module
    /// refuses it (a context the network dropped, `+QIURC: "pdpdeact"`,
    /// must be deactivated first), `AT+QIDEACT` and `AT+QIACT` once more.
    ///
    /// **Time bound:** `P` + 377 s + `registration_timeout_s` (`P` + 557 s
    /// by default); `P` + 10 s if the context is active already (see [the
    /// time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before anything is sent;
    /// [`Error::NotRegistered`] with the last registration state and the
    /// signal if the network denies registration (state 3) or it does not
    /// come in time; `Cme`/`AtError` as the module answers;
    /// [`Error::Protocol`] if the context is not active afterwards.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn activate(&mut self, pdp: &PdpConfig<'_>) -> Result<Option<LocalAddr>, Error> {
        qicsgp(pdp)?;
        cmd::qiact(pdp.cid)?;
        self.prepare(false).await?;
        let mut text = [0; LocalAddr::MAX];
        // The commands, each built where it is sent (a command held across
        // a wait would grow the future); the address goes to `text`.
        let r = 'commands: {
            let qicsgp = or_break!('commands, qicsgp(pdp));
            or_break!('commands, self.command(&qicsgp, Want::Nothing, QUICK, &mut []).await);
            let mut activated = false;
            loop {
                let active = self.command(&cmd::qiact_query(), Want::QiAct(pdp.cid), QUICK, &mut text).await;
                match or_break!('commands, active) {
                    Got::Flag(false) if activated => break 'commands Err(Error::Protocol),
                    Got::Flag(false) => {}
                    active => break 'commands Ok(active),
                }
                // Waits until the module is registered with the network
                // (home or roaming), for up to `registration_timeout_s`.
                // Each round also reads the signal, for the error.
                let until = after(Duration::from_secs(pdp.registration_timeout_s.into()));
                'registered: loop {
                    let (mut stat, mut rssi) = (0, 99);
                    for &(name, query) in &cmd::NETWORK {
                        match self.command(&cmd::network_query(query), Want::Network(name), QUICK, &mut []).await {
                            Ok(got) => match (name, or_break!('commands, got.num())) {
                                (b"CSQ", n) => rssi = sat8(n),
                                (_, 1 | 5) => break 'registered,
                                // The one to report: denied, else searching,
                                // else the first other state.
                                (_, s) => {
                                    if s == 3 || stat == 0 || (s == 2 && stat != 3) {
                                        stat = sat8(s);
                                    }
                                }
                            },
                            // A module without this kind of network (no GPRS
                            // on NB-IoT) refuses its query.
                            Err(Error::AtError | Error::Cme(_)) => {}
                            Err(e) => break 'commands Err(e),
                        }
                    }
                    if stat == 3 || Instant::now() >= until {
                        break 'commands Err(Error::NotRegistered { stat, rssi });
                    }
                    Timer::after(REGISTRATION_POLL).await;
                }
                let mut deactivated = false;
                loop {
                    let r =
                        self.command(&or_break!('commands, cmd::qiact(pdp.cid)), Want::Nothing, PDP_ACT, &mut []).await;
                    match r {
                        // A context the network dropped is deactivated first.
                        Err(Error::AtError | Error::Cme(_)) if !deactivated => {
                            deactivated = true;
                            let qideact = or_break!('commands, cmd::qideact(pdp.cid));
                            or_break!('commands, self.command(&qideact, Want::Nothing, PDP_DEACT, &mut []).await);
                        }
                        r => break or_break!('commands, r.map(drop)),
                    }
                }
                activated = true;
            }
        };
        let got = self.st.ended(r)?;
        Ok(match got {
            Got::Text(n) => text.get(..n).and_then(LocalAddr::new),
            _ => None,
        })
    }

    /// `AT+QIDEACT=<cid>` (up to 40 s). Any FTP session over it is gone.
    ///
    /// **Time bound:** `P` + 40 s (see [the time
    /// bounds](crate::client#time-bounds)).
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

/// A small number of the module's, saturated.
fn sat8(n: u64) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

/// `AT+QICSGP` for `pdp`.
fn qicsgp<'a>(pdp: &PdpConfig<'a>) -> Result<Command<'a>, ArgError> {
    cmd::qicsgp(pdp.cid, pdp.ip_type as u8, pdp.apn, pdp.user, pdp.password, pdp.auth as u8)
}
