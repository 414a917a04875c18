//! Settings: `configure` (`AT+QFTPCFG`, `AT+QSSLCFG`) and `setting`.

use super::Dtr;
use embedded_io_async::{Read, Write};

use super::answer::Want;
use super::limits::QUICK;
use super::session::State;
use super::{Ftp, FtpConfig, Setting, SslConfig, SslType};
use crate::at::cmd::{self, Command};
use crate::error::{ArgError, Error};

impl<'b, U: Read + Write, D: Dtr> Ftp<'b, U, D> {
    /// Applies every `AT+QFTPCFG` setting of `cfg` (reference section 4)
    /// and, for FTPS, the `AT+QSSLCFG` settings of its SSL context (`ssl`,
    /// or [`SslConfig::DEFAULT`]). Everything is validated before the first
    /// byte is sent. From here on the client's deadlines for deferred
    /// results follow `cfg.rsp_timeout_s`.
    ///
    /// **Time bound:** `P` + 8 × `X(5 s)`: `P` + 40 s without busy answers,
    /// 15 or 20 s more for FTPS; `P` runs with the deadlines in force
    /// before the call (see [the time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before anything is sent; `Cme`/`AtError`
    /// as the module answers; [`Error::Timeout`] after 5 s for a command.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn configure(&mut self, cfg: &FtpConfig<'_>, ssl: Option<&SslConfig>) -> Result<(), Error> {
        let ssl = match cfg.ssl {
            SslType::None => None,
            _ => Some(ssl.unwrap_or(&SslConfig::DEFAULT)),
        };
        // Every command's arguments are checked here, before any is sent.
        cfg.validate()?;
        if let Some(s) = ssl {
            s.validate()?;
        }
        self.prepare(false).await?;
        // From the first command on, the module may use the longer of the
        // two response timeouts: so do the client's deadlines.
        let rsp = State::rsptimeout(u64::from(cfg.rsp_timeout_s));
        self.st.deferred = self.st.deferred.max(rsp);
        let r = 'commands: {
            for step in steps(ssl) {
                let command = or_break!('commands, config_command(cfg, ssl, step));
                or_break!('commands, self.command(&command, Want::Nothing, QUICK, &mut []).await);
            }
            Ok(())
        };
        self.st.ended(r)?;
        self.st.deferred = rsp;
        self.st.context_id = cfg.context_id;
        Ok(())
    }

    /// Reads one numeric `AT+QFTPCFG` setting back from the module (within
    /// 5 s).
    ///
    /// **Time bound:** `P` + `X(5 s)`: `P` + 5 s without busy answers (see
    /// [the time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] after 5 s; `Cme`/`AtError` as the module answers;
    /// [`Error::Protocol`] if the value is not a number that fits `u32`.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn setting(&mut self, setting: Setting) -> Result<u32, Error> {
        self.prepare(false).await?;
        let query = cmd::qftpcfg_query(setting.name());
        let r = self.command(&query, Want::Cfg(setting.name()), QUICK, &mut []).await;
        let n = self.st.ended(r)?.num()?;
        u32::try_from(n).map_err(|_| Error::Protocol)
    }
}

/// The `AT+QSSLCFG` commands of an FTPS configuration: `sslversion`,
/// `ciphersuite`, `seclevel` (the certificate files are named apart, by
/// `ssl_files`, which only a firmware that verifies the server links).
const SSL_STEPS: u8 = 3;

/// The settings of [`Setting::ALL`], the account, then the SSL commands.
const CONFIG_STEPS: u8 = SETTINGS + 1 + SSL_STEPS;
const SETTINGS: u8 = Setting::ALL.len() as u8;

/// The steps of a configuration: the settings and the account always, the
/// SSL commands for FTPS.
fn steps(ssl: Option<&SslConfig>) -> core::ops::Range<u8> {
    0..if ssl.is_some() { CONFIG_STEPS } else { SETTINGS + 1 }
}

/// The `step`-th command of a configuration (see [`steps`]).
fn config_command<'a>(cfg: &FtpConfig<'a>, ssl: Option<&SslConfig>, step: u8) -> Result<Command<'a>, ArgError> {
    let ctx = cfg.ssl_ctx;
    match (Setting::ALL.get(usize::from(step)), ssl) {
        (Some(setting), _) => Ok(cmd::qftpcfg_num(setting.name(), setting.value(cfg))),
        (None, _) if step == SETTINGS => cmd::qftpcfg_account(cfg.user, cfg.password),
        (None, Some(s)) => match step - SETTINGS - 1 {
            0 => cmd::qsslcfg_num("sslversion", ctx, s.version.into()),
            1 => cmd::qsslcfg_ciphersuite(ctx, s.ciphersuite),
            _ => cmd::qsslcfg_num("seclevel", ctx, s.seclevel.into()),
        },
        (None, None) => Err(ArgError::OutOfRange),
    }
}
