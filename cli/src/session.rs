//! One whole session: bring-up, login, one command, logout.

use std::fmt;
use std::io;
use std::path::PathBuf;

use embassy_time::{with_timeout, Duration};
use embedded_io_async::{Read, Write};
use quectel_ftp::RX_LEN;
use quectel_ftp::{Dtr, FileType, Ftp, FtpConfig, PdpConfig, SslConfig, SslType, TransferMode};

use crate::command::{Command, Progress};
use crate::console::Console;
use crate::interrupt::{Interrupt, EXIT_INTERRUPTED};

/// Size of the client's chunk buffer: a 16 KiB upload chunk plus the
/// receive area.
pub const BUF_LEN: usize = 16 * 1024 + RX_LEN + 1;

/// How long an interrupted session may take to leave data mode and close
/// before the process exits all the same.
pub const CLOSE_AFTER_INTERRUPT: Duration = Duration::from_secs(6);

/// The TLS mode of the FTP session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Tls {
    /// Plain FTP.
    #[default]
    None,
    /// FTPS with TLS from the first byte (`ssltype` 1, usually port 990).
    Implicit,
    /// FTPS with `AUTH TLS` on the plain port (`ssltype` 2).
    Explicit,
}

impl Tls {
    /// The module's `ssltype`.
    pub fn ssl_type(self) -> SslType {
        match self {
            Tls::None => SslType::None,
            Tls::Implicit => SslType::Implicit,
            Tls::Explicit => SslType::Explicit,
        }
    }

    /// The usual control port.
    pub fn default_port(self) -> u16 {
        match self {
            Tls::Implicit => 990,
            Tls::None | Tls::Explicit => 21,
        }
    }
}

/// Everything a session needs besides the UART.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Access point name (empty: the network picks).
    pub apn: String,
    /// PDP context id, 1–16.
    pub context: u8,
    /// FTP server host name or address.
    pub host: String,
    /// FTP control port.
    pub port: u16,
    /// Login name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Plain FTP or FTPS.
    pub tls: Tls,
    /// ASCII instead of binary transfers.
    pub ascii: bool,
    /// Active instead of passive data connections.
    pub active: bool,
    /// The module's `rsptimeout` in seconds, 20–180.
    pub timeout_s: u8,
    /// Directory to change to after login.
    pub cwd: Option<String>,
    /// The SIM's PIN, entered if the SIM asks for it. Never shown.
    pub pin: Option<String>,
    /// How long to wait for network registration, in seconds.
    pub registration_timeout_s: u16,
    /// How many more times a transfer that failed in the network is run,
    /// each in a new session (`--retries`).
    pub retries: u32,
    /// FTPS that verifies the server against this CA certificate (PEM),
    /// installed on the module's file store (`--ca-cert`).
    pub ca_cert: Option<PathBuf>,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"***")
            .field("tls", &self.tls)
            .field("cwd", &self.cwd)
            .field("pin", &self.pin.as_ref().map(|_| "***"))
            .field("registration_timeout_s", &self.registration_timeout_s)
            .field("retries", &self.retries)
            .field("ca_cert", &self.ca_cert)
            .finish_non_exhaustive()
    }
}

impl SessionConfig {
    /// The PDP context settings.
    pub fn pdp(&self) -> PdpConfig<'_> {
        PdpConfig {
            cid: self.context,
            apn: &self.apn,
            registration_timeout_s: self.registration_timeout_s,
            ..PdpConfig::default()
        }
    }

    /// Refuses, before the module is brought up, settings the driver would
    /// refuse at `configure`: a user or password the module cannot take
    /// (said without the password's content or the place of its bad
    /// byte), a value out of range.
    pub fn check(&self) -> Result<(), Failure> {
        const ACCOUNT: &str = "at most 255 bytes, without \", CR, LF or other control bytes";
        let refused = |user, password| FtpConfig { user, password, ..FtpConfig::default() }.validate().is_err();
        if refused(&self.user, "") {
            return Err(Failure::usage(format!("--user: the module takes {ACCOUNT}")));
        }
        if refused("", &self.password) {
            return Err(Failure::usage(format!("--password: the module takes {ACCOUNT}")));
        }
        self.ftp().validate().map_err(|e| Failure::usage(format!("the FTP settings: {e}")))
    }

    /// The `AT+QFTPCFG` settings.
    pub fn ftp(&self) -> FtpConfig<'_> {
        FtpConfig {
            user: &self.user,
            password: &self.password,
            file_type: if self.ascii { FileType::Ascii } else { FileType::Binary },
            transfer_mode: if self.active { TransferMode::Active } else { TransferMode::Passive },
            context_id: self.context,
            rsp_timeout_s: self.timeout_s,
            ssl: self.tls.ssl_type(),
            ..FtpConfig::default()
        }
    }
}

/// What went wrong.
#[derive(Debug)]
pub enum Cause {
    /// The modem or the server refused, or the link failed.
    Modem(quectel_ftp::Error),
    /// A local file could not be read or written.
    Local(PathBuf, io::Error),
    /// The modem's serial device could not be opened or set up.
    Device(PathBuf, io::Error),
    /// The command line asks for something impossible, in words.
    Usage(String),
    /// Anything else, in words.
    Other(String),
    /// Stopped by Ctrl-C or SIGTERM: how far it got, in words.
    Interrupted(String),
    /// Commands of a `shell --keep-going` failed (each has been reported):
    /// how many, and the class of the last.
    Commands {
        /// How many failed.
        failed: usize,
        /// The class of the last failure, which gives the exit status.
        last: Class,
    },
}

/// A failed step of a session: `"<step>: <cause>"`.
#[derive(Debug)]
pub struct Failure {
    /// The step that failed: `open`, `get`, ...
    pub step: &'static str,
    /// Why.
    pub cause: Cause,
}

impl Failure {
    /// A failure reported by the driver.
    pub fn modem(step: &'static str, error: quectel_ftp::Error) -> Self {
        Failure { step, cause: Cause::Modem(error) }
    }

    /// A local file error.
    pub fn local(step: &'static str, path: impl Into<PathBuf>, error: io::Error) -> Self {
        Failure { step, cause: Cause::Local(path.into(), error) }
    }

    /// The modem's serial device failed to open.
    pub fn device(path: impl Into<PathBuf>, error: io::Error) -> Self {
        Failure { step: "open the device", cause: Cause::Device(path.into(), error) }
    }

    /// Any other failure.
    pub fn other(step: &'static str, text: impl Into<String>) -> Self {
        Failure { step, cause: Cause::Other(text.into()) }
    }

    /// A usage error found after parsing (exit status 2).
    pub fn usage(text: impl Into<String>) -> Self {
        Failure { step: "usage", cause: Cause::Usage(text.into()) }
    }

    /// Stopped by an interrupt; `text` says how far it got.
    pub fn interrupted(step: &'static str, text: impl Into<String>) -> Self {
        Failure { step, cause: Cause::Interrupted(text.into()) }
    }

    /// `failed` commands of a shell failed, the last with a failure of
    /// class `last`.
    pub fn failed_commands(failed: usize, last: Class) -> Self {
        Failure { step: "shell", cause: Cause::Commands { failed, last } }
    }

    /// What kind of failure this is: it decides the exit status and
    /// whether `--retries` tries again.
    pub fn class(&self) -> Class {
        match &self.cause {
            Cause::Modem(e) => Class::of(e),
            Cause::Local(..) => Class::Local,
            Cause::Device(..) => Class::Connection,
            Cause::Usage(_) => Class::Usage,
            Cause::Other(_) => Class::Other,
            Cause::Interrupted(_) => Class::Interrupted,
            Cause::Commands { last, .. } => *last,
        }
    }

    /// The process's exit status for this failure (see [`Class::exit_code`]).
    pub fn exit_code(&self) -> u8 {
        self.class().exit_code()
    }

    /// True for a failure in the network, the link or the modem that a new
    /// session may get past (`--retries`): a timeout, a connection, data
    /// connection or session lost. Not a refusal by the server, a local
    /// error, or a SIM that keeps the module off the network.
    pub fn is_transient(&self) -> bool {
        match &self.cause {
            Cause::Modem(quectel_ftp::Error::Sim(_)) => false,
            _ => matches!(self.class(), Class::Connection | Class::Timeout),
        }
    }

    /// The driver's error, if the driver reported this failure.
    pub fn modem_error(&self) -> Option<quectel_ftp::Error> {
        match self.cause {
            Cause::Modem(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Cause::Modem(e) => {
                write!(f, "{}: {}", self.step, e)?;
                advice(f, e)
            }
            Cause::Local(path, e) | Cause::Device(path, e) => write!(f, "{}: {}: {}", self.step, path.display(), e),
            Cause::Usage(text) | Cause::Other(text) | Cause::Interrupted(text) => {
                write!(f, "{}: {}", self.step, text)
            }
            Cause::Commands { failed: 1, .. } => write!(f, "{}: a command failed", self.step),
            Cause::Commands { failed, .. } => write!(f, "{}: {failed} commands failed", self.step),
        }
    }
}

impl std::error::Error for Failure {}

/// Exit status of a failure that fits no other class.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status of a usage error (clap's too).
pub const EXIT_USAGE: u8 = 2;
/// Exit status of a local file error.
pub const EXIT_LOCAL: u8 = 3;
/// Exit status of a connection or modem failure.
pub const EXIT_CONNECTION: u8 = 4;
/// Exit status of a refusal by the FTP server.
pub const EXIT_FTP_REPLY: u8 = 5;
/// Exit status of a timeout.
pub const EXIT_TIMEOUT: u8 = 6;

/// The kinds of failure that scripts can tell apart by the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A usage error, or an argument the driver refused before sending
    /// anything: 2.
    Usage,
    /// A local file could not be read or written: 3.
    Local,
    /// The modem, the SIM, the network, the PDP context, the FTP control
    /// or data connection, or the UART failed: 4.
    Connection,
    /// The FTP server refused (a reply code it sent, or the module's code
    /// for one): 5.
    FtpReply,
    /// A wait for the modem or the server ran out: 6.
    Timeout,
    /// Stopped by Ctrl-C, SIGTERM or SIGHUP: 130.
    Interrupted,
    /// Anything else: 1.
    Other,
}

impl Class {
    /// The class of a driver error.
    pub fn of(error: &quectel_ftp::Error) -> Class {
        use quectel_ftp::Error;
        match *error {
            Error::InvalidArgument(_) => Class::Usage,
            // The local file (or stdin, stdout) the transfer read or wrote.
            Error::Source(_) | Error::Sink(_) => Class::Local,
            Error::Timeout => Class::Timeout,
            Error::Ftp { reply: Some(reply), .. } => Class::of_reply(reply),
            Error::Ftp { module, reply: None } => Class::of_module(module),
            // The file store refused (no such file, no room, ...).
            Error::Cme(cme) if cme.file().is_some() => Class::FtpReply,
            Error::Cme(cme) => cme.module().map_or(Class::Connection, Class::of_module),
            Error::Io(_)
            | Error::AtError
            | Error::Protocol
            | Error::LengthMismatch { .. }
            | Error::Checksum { .. }
            | Error::Sim(_)
            | Error::NotRegistered { .. }
            | Error::SessionClosed
            | Error::NotOpen => Class::Connection,
            Error::BufferTooSmall { .. } => Class::Other,
            // `Error` is `#[non_exhaustive]`: a variant added later is 1
            // until it is classified here.
            _ => Class::Other,
        }
    }

    /// The class of a failure the server replied with: a reply that says
    /// the connection went is a connection failure, every other one a
    /// refusal.
    fn of_reply(reply: quectel_ftp::FtpReply) -> Class {
        use quectel_ftp::FtpReply;
        match reply {
            FtpReply::ServiceNotAvailable | FtpReply::CantOpenDataConnection | FtpReply::TransferAborted => {
                Class::Connection
            }
            _ => Class::FtpReply,
        }
    }

    /// The class of a module error without a server reply.
    fn of_module(module: quectel_ftp::ModuleError) -> Class {
        use quectel_ftp::ModuleError as M;
        match module {
            M::Timeout => Class::Timeout,
            M::Unknown
            | M::ServerBlocked
            | M::ServerBusy
            | M::DnsFailed
            | M::Network
            | M::ControlClosed
            | M::DataClosed
            | M::ClosedByPeer
            | M::ServiceUnavailable
            | M::DataOpenFailed
            | M::TransferAborted
            | M::SslAuthFailed => Class::Connection,
            // The module's codes for FTP replies (RFC 959's 5xx and 4xx).
            M::FileActionNotTaken
            | M::LocalError
            | M::InsufficientStorage
            | M::CommandUnrecognized
            | M::ParameterSyntax
            | M::NotImplemented
            | M::BadSequence
            | M::ParameterNotImplemented
            | M::NotLoggedIn
            | M::NeedAccount
            | M::ActionNotTaken
            | M::PageTypeUnknown
            | M::FileActionAborted
            | M::FileNameInvalid => Class::FtpReply,
            // The module's own file system (not used with "COM:") and
            // parameters the driver has already checked.
            M::InvalidParameter | M::OpenFileFailed | M::FilePosition | M::FileError => Class::Other,
            // `ModuleError` is `#[non_exhaustive]`; `Other(n)` is a code
            // the reference does not list.
            _ => Class::Other,
        }
    }

    /// The exit status documented in `qftp --help`.
    pub fn exit_code(self) -> u8 {
        match self {
            Class::Usage => EXIT_USAGE,
            Class::Local => EXIT_LOCAL,
            Class::Connection => EXIT_CONNECTION,
            Class::FtpReply => EXIT_FTP_REPLY,
            Class::Timeout => EXIT_TIMEOUT,
            Class::Interrupted => EXIT_INTERRUPTED,
            Class::Other => EXIT_FAILURE,
        }
    }
}

/// What the user can do about a SIM or network error, after the driver's
/// words for it.
fn advice(f: &mut fmt::Formatter<'_>, error: &quectel_ftp::Error) -> fmt::Result {
    use quectel_ftp::{Error, SimError};
    match error {
        Error::Sim(SimError::PinRequired) => f.write_str("; give it with --pin or the QFTP_PIN environment variable"),
        Error::Sim(SimError::WrongPin) => f.write_str(
            "; it was entered once and not again: check it before the next run \
             (three wrong PINs in a row block the SIM)",
        ),
        Error::Sim(SimError::PukRequired) => f.write_str("; unblock the SIM with its PUK (qftp does not enter PUKs)"),
        Error::Sim(SimError::Busy) => f.write_str("; the SIM did not become ready in 20 s"),
        Error::NotRegistered { stat, rssi } => {
            let state = match stat {
                3 => "the network denied registration",
                2 => "still searching when --registration-timeout ran out",
                0 => "the module is not searching for a network",
                _ => "registration state unknown",
            };
            let signal = match rssi {
                0..=31 => format!("{} dBm", -113 + 2 * i32::from(*rssi)),
                _ => "no signal reading".to_owned(),
            };
            write!(f, ": {state} ({signal})")
        }
        _ => Ok(()),
    }
}

/// Extension to name the step of a driver call.
pub trait Step<T> {
    /// Tags a driver error with the step it failed in.
    fn step(self, step: &'static str) -> Result<T, Failure>;
}

impl<T> Step<T> for Result<T, quectel_ftp::Error> {
    fn step(self, step: &'static str) -> Result<T, Failure> {
        self.map_err(|e| Failure::modem(step, e))
    }
}

/// Brings the module up and logs in: `init` (with the PIN, if one is
/// given and the SIM asks for it), PDP activation after network
/// registration (a context that is still active from an earlier run is
/// reused), configuration, `open`, and the optional `cwd`.
pub async fn open_session<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    cfg: &SessionConfig,
) -> Result<(), Failure> {
    bring_up(ftp, cfg).await?;
    ftp.activate(&cfg.pdp()).await.step("activate")?;
    let ssl = SslConfig { seclevel: u8::from(cfg.ca_cert.is_some()), ..SslConfig::default() };
    let ftp_cfg = cfg.ftp();
    ftp.configure(&ftp_cfg, Some(&ssl)).await.step("configure")?;
    if let Some(ca) = &cfg.ca_cert {
        crate::ufs::install_ca(ftp, ca, ftp_cfg.ssl_ctx).await?;
    }
    ftp.open(&cfg.host, cfg.port).await.step("open")?;
    if let Some(dir) = &cfg.cwd {
        ftp.cwd(dir).await.step("cwd")?;
    }
    Ok(())
}

/// Brings the module up: `init`, with the PIN if one is given and the SIM
/// asks for it. All the file store's commands need.
pub async fn bring_up<U: Read + Write, D: Dtr>(ftp: &mut Ftp<'_, U, D>, cfg: &SessionConfig) -> Result<(), Failure> {
    match &cfg.pin {
        Some(pin) => ftp.init_with_pin(pin).await,
        None => ftp.init().await,
    }
    .step("init")
}

/// Runs `command` as one whole session: [`open_session`], the command, and
/// `close` — also when the command failed, whose error then wins.
pub async fn run_session<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    cfg: &SessionConfig,
    command: &Command,
    console: &mut Console<'_>,
) -> Result<(), Failure> {
    run_session_until(ftp, cfg, command, console, &Interrupt::new()).await
}

/// [`run_session`], stopped by `interrupt`: when it fires, the running
/// step (bring-up or the command, a transfer perhaps in data mode) is
/// dropped where it stands, the session is closed (the client leaves data
/// mode first), within [`CLOSE_AFTER_INTERRUPT`], and the failure says how
/// far a transfer got and how to resume it.
pub async fn run_session_until<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    cfg: &SessionConfig,
    command: &Command,
    console: &mut Console<'_>,
    interrupt: &Interrupt,
) -> Result<(), Failure> {
    command.check_local()?;
    if !command.needs_session() {
        // The file store: the module only, no network, no login.
        match interrupt.unless(bring_up(ftp, cfg)).await {
            None => return Err(Failure::interrupted(command.name(), "interrupted")),
            Some(up) => up?,
        }
        return execute_until(ftp, cfg, command, console, interrupt).await;
    }
    match interrupt.unless(open_session(ftp, cfg)).await {
        None => return Err(stop(ftp, command, &Progress::default()).await),
        Some(Err(failure)) => {
            // Best effort: do not leave a half-open session on the module.
            let _ = ftp.close().await;
            return Err(failure);
        }
        Some(Ok(())) => {}
    }
    let outcome = execute_until(ftp, cfg, command, console, interrupt).await;
    if outcome.as_ref().is_err_and(|failure| failure.class() == Class::Interrupted) {
        return outcome;
    }
    let closed = ftp.close().await.step("close");
    outcome.and(closed)
}

/// Runs `command` in an open session, until `interrupt` fires: then the
/// command is dropped where it stands, the session closed (see
/// [`run_session_until`]) and the failure ([`Class::Interrupted`]) says
/// how far it got.
pub async fn execute_until<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    cfg: &SessionConfig,
    command: &Command,
    console: &mut Console<'_>,
    interrupt: &Interrupt,
) -> Result<(), Failure> {
    let progress = Progress::default();
    match interrupt.unless(command.execute(ftp, cfg, console, &progress)).await {
        Some(outcome) => outcome,
        None => Err(stop(ftp, command, &progress).await),
    }
}

/// After an interrupt: closes the session (the client's next call leaves
/// data mode and resynchronises first) and says how far the command got.
async fn stop<U: Read + Write, D: Dtr>(ftp: &mut Ftp<'_, U, D>, command: &Command, progress: &Progress) -> Failure {
    let closed = match with_timeout(CLOSE_AFTER_INTERRUPT, ftp.close()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("timed out".to_owned()),
    };
    let mut text = command.interrupted(progress);
    if let Some(why) = closed {
        text.push_str(&format!("; the session was not closed ({why}): the next run recovers the module"));
    }
    Failure::interrupted(command.name(), text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quectel_ftp::{ArgError, CmeError, Error, SimError};

    fn status(error: Error) -> u8 {
        Failure::modem("step", error).exit_code()
    }

    #[test]
    fn driver_errors_map_to_the_documented_exit_statuses() {
        assert_eq!(status(Error::InvalidArgument(ArgError::Empty)), EXIT_USAGE);
        assert_eq!(status(Error::Timeout), EXIT_TIMEOUT);
        assert_eq!(status(Error::ftp(609, 0)), EXIT_TIMEOUT, "the module's own timeout");
        assert_eq!(status(Error::ftp(627, 550)), EXIT_FTP_REPLY, "file unavailable");
        assert_eq!(status(Error::ftp(625, 530)), EXIT_FTP_REPLY, "not logged in");
        assert_eq!(status(Error::ftp(627, 0)), EXIT_FTP_REPLY, "a refusal without the reply code");
        assert_eq!(status(Error::ftp(616, 426)), EXIT_CONNECTION, "a transfer aborted by the connection");
        assert_eq!(status(Error::ftp(605, 0)), EXIT_CONNECTION);
        assert_eq!(status(Error::ftp(604, 0)), EXIT_CONNECTION, "DNS");
        assert_eq!(status(Error::Cme(CmeError::Code(615))), EXIT_CONNECTION, "data connection");
        assert_eq!(status(Error::Cme(CmeError::Code(10))), EXIT_CONNECTION);
        assert_eq!(status(Error::Sim(SimError::NotInserted)), EXIT_CONNECTION);
        assert_eq!(status(Error::NotRegistered { stat: 3, rssi: 9 }), EXIT_CONNECTION);
        assert_eq!(status(Error::SessionClosed), EXIT_CONNECTION);
        assert_eq!(status(Error::LengthMismatch { moved: 1, reported: 2 }), EXIT_CONNECTION);
        assert_eq!(status(Error::BufferTooSmall { needed: 9 }), EXIT_FAILURE);
        let missing = Failure::modem("ufs get", Error::Cme(CmeError::Code(405)));
        assert_eq!(missing.to_string(), "ufs get: +CME ERROR: 405 file not found");
        assert_eq!(missing.exit_code(), EXIT_FTP_REPLY);
        let local = Failure::local("get", "x", std::io::Error::other("disk full"));
        assert_eq!(local.exit_code(), EXIT_LOCAL);
        let device = Failure::device("/dev/ttyUSB9", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(device.exit_code(), EXIT_CONNECTION);
        assert_eq!(Failure::usage("bad").exit_code(), EXIT_USAGE);
        assert_eq!(Failure::other("put", "sizes differ").exit_code(), EXIT_FAILURE);
        assert_eq!(Failure::interrupted("put", "interrupted").exit_code(), 130);
        assert_eq!(Failure::failed_commands(2, Class::FtpReply).exit_code(), EXIT_FTP_REPLY);
    }

    #[test]
    fn only_network_failures_are_retried() {
        assert!(Failure::modem("get", Error::Timeout).is_transient());
        assert!(Failure::modem("get", Error::Cme(CmeError::Code(615))).is_transient());
        assert!(Failure::modem("put", Error::ftp(609, 0)).is_transient());
        assert!(!Failure::modem("get", Error::ftp(627, 550)).is_transient());
        assert!(!Failure::modem("init", Error::Sim(SimError::PinRequired)).is_transient());
        assert!(!Failure::modem("get", Error::InvalidArgument(ArgError::Empty)).is_transient());
        assert!(!Failure::local("get", "x", std::io::Error::other("disk full")).is_transient());
    }
}
