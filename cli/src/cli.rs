//! The command line.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use clap::Parser;
use embedded_hal::digital::OutputPin;
use embedded_io_async::{Read, Write};
use quectel_ftp::{Dtr, Ftp};

use crate::command::Command;
use crate::console::Console;
use crate::interrupt::Interrupt;
use crate::io::{open_serial, SerialDtr, SerialUart};
use crate::session::{run_session_until, Failure, SessionConfig, Tls, BUF_LEN};
use crate::shell;
use crate::sim::{SimFaults, Simulator, SIM_HOST};

/// FTP(S) through a Quectel BG95 / BG77 / BG600L modem.
///
/// Each run is one whole session: the module is brought up, the PDP context
/// activated, the FTP settings applied, the session opened, the command
/// run and the session closed (`shell` runs many commands in one session).
/// Without --device, a simulated modem and an FTP server on loopback stand
/// in for the hardware.
#[derive(Debug, Parser)]
#[command(name = "qftp", version, after_help = EXIT_STATUSES)]
pub struct Cli {
    /// Serial device of the modem (e.g. /dev/ttyUSB2). Default: the built-in simulator.
    #[arg(long, value_name = "PATH")]
    pub device: Option<String>,
    /// Baud rate of the serial device.
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// Leave data mode by a DTR edge instead of a guarded +++: no second of
    /// silence on each side of every escape (the end of a put, an abort).
    ///
    /// qftp sends AT&D1, keeps DTR asserted and, to leave data mode,
    /// releases it until the module answers OK (the ON-to-OFF transition
    /// AT&D1 acts on), then asserts it again. DTR is active low at the
    /// module's pin, as on any TTL-level UART: asserted (the serial port's
    /// DTR on) is the pin low, released is the pin high. A device that
    /// cannot drive DTR (a pty) gets +++ instead, which qftp says once, on
    /// stderr and in --trace; a module that does not answer the edge within
    /// 2 s gets +++ too (--trace says so).
    #[arg(long)]
    pub dtr: bool,
    /// Access point name (empty: the network picks).
    #[arg(long, default_value = "")]
    pub apn: String,
    /// PDP context id.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub context: u8,
    /// FTP server (default with the simulator: its loopback server).
    #[arg(long)]
    pub host: Option<String>,
    /// FTP control port (default 21, 990 for implicit FTPS).
    #[arg(long)]
    pub port: Option<u16>,
    /// Login name (default: anonymous; test with the simulator).
    #[arg(long)]
    pub user: Option<String>,
    /// Password (default: anonymous@; test with the simulator). A password
    /// given as an argument is visible to other local users (in the process
    /// list): prefer the QFTP_PASSWORD environment variable, or `-` to be
    /// asked for it on the terminal (without echo; with stdin not a
    /// terminal, `-` is a usage error).
    // `allow_hyphen_values`: a password that starts with `-` is the value,
    // not an unknown option that clap's error would print.
    #[arg(long, value_name = "PASSWORD", env = "QFTP_PASSWORD", hide_env_values = true, allow_hyphen_values = true)]
    pub password: Option<Password>,
    /// FTPS mode.
    #[arg(long, value_enum, default_value_t = Tls::None)]
    pub tls: Tls,
    /// ASCII transfers instead of binary.
    #[arg(long)]
    pub ascii: bool,
    /// Active data connections instead of passive (not with FTPS).
    #[arg(long)]
    pub active: bool,
    /// The module's response timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 90, value_parser = clap::value_parser!(u8).range(20..=180))]
    pub timeout: u8,
    /// Directory to change to after login.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// The SIM's PIN, entered only if the SIM asks for it (once: a third
    /// wrong PIN in a row blocks the SIM). Better from the environment
    /// (QFTP_PIN), out of the shell's history and the process list.
    #[arg(long, value_name = "PIN", env = "QFTP_PIN", hide_env_values = true, allow_hyphen_values = true)]
    pub pin: Option<Pin>,
    /// How long to wait for the module to register with the network
    /// before activating the PDP context (an LTE-M or NB-IoT attach can
    /// take minutes).
    #[arg(long, value_name = "SECS", default_value_t = 180)]
    pub registration_timeout: u16,
    /// Write the AT transcript to FILE (`-`: stderr): every line sent and
    /// received, with the seconds since the start; payload by its length,
    /// credentials as `***`.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<String>,
    /// Run a transfer (put, get) that failed in the network (a timeout, a
    /// connection, session or modem failure; not a refusal by the server)
    /// up to N more times, each in a new session, from where it stopped;
    /// waiting 1 s, 2 s, 4 s ... up to 30 s before each.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,
    /// FTPS that verifies the server: the PEM file of the CA that issued
    /// the server's certificate. It is installed on the module's file
    /// store and the server's certificate checked against it (`seclevel`
    /// 1); a server it did not issue fails the login. Needs --tls.
    #[arg(long, value_name = "CA.pem")]
    pub ca_cert: Option<PathBuf>,
    /// Faults of the built-in simulator.
    #[command(flatten)]
    pub sim_faults: SimFaults,
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// The exit statuses, for `--help` (and the README).
const EXIT_STATUSES: &str = "\
Exit status:
  0    success
  1    any other failure
  2    usage error, also a name or setting the driver refuses (nothing is sent for it)
  3    local file error
  4    connection or modem failure: modem, SIM, network registration, PDP context,
       FTP session or data connection, the serial device or link
  5    refused: the FTP server (a reply such as 550 file unavailable) or the
       module's file store (no such file, no space)
  6    timeout
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP)";

/// The subcommand: one command in a session of its own, or a shell.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Action {
    /// One command.
    #[command(flatten)]
    Run(Command),
    /// Run commands read from stdin, one a line, in one session.
    ///
    /// Each line is a command as on the command line (`put a.bin b.bin`,
    /// `ls --json`), split into words as a POSIX shell does; `cd DIR`
    /// changes the remote directory; blank lines and lines starting with
    /// `#` are skipped. On a terminal it is a prompt with line editing and
    /// history, where a failing command prints its error and the prompt
    /// goes on (`exit` or Ctrl-D ends it). Piped, it stops at the first
    /// failing command with that command's exit status.
    Shell {
        /// Piped: go on after a failing command; the exit status is then
        /// that of the last failure (0 if none).
        #[arg(long)]
        keep_going: bool,
    },
}

impl Cli {
    /// The session settings; `sim` supplies the defaults of simulator mode.
    pub fn session_config(&self, sim: Option<&Simulator>) -> Result<SessionConfig, Failure> {
        let (user, password, cwd, host, port) = match sim {
            Some(sim) => {
                let (user, password, cwd) = Simulator::login(self.tls);
                (user, password, cwd, Some(SIM_HOST), sim.server.port())
            }
            None => ("anonymous", "anonymous@", None, None, self.tls.default_port()),
        };
        let host = match (&self.host, host) {
            (Some(host), _) => host.clone(),
            (None, Some(host)) => host.to_owned(),
            (None, None) => return Err(Failure::usage("--host is required with --device")),
        };
        let cfg = SessionConfig {
            apn: self.apn.clone(),
            context: self.context,
            host,
            port: self.port.unwrap_or(port),
            user: self.user.clone().unwrap_or_else(|| user.to_owned()),
            password: match &self.password {
                Some(given) => given.resolve()?,
                None => password.to_owned(),
            },
            tls: self.tls,
            ascii: self.ascii,
            active: self.active,
            timeout_s: self.timeout,
            cwd: self.cwd.clone().or_else(|| cwd.map(str::to_owned)),
            pin: self.pin.as_ref().map(Pin::checked).transpose()?,
            registration_timeout_s: self.registration_timeout,
            retries: self.retries,
            ca_cert: match (&self.ca_cert, self.tls) {
                (Some(_), Tls::None) => return Err(Failure::usage("--ca-cert needs --tls implicit or explicit")),
                (ca_cert, _) => ca_cert.clone(),
            },
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// Runs the command (or the shell) on the device, or on the
    /// simulator, until done or `interrupt` fires (then the session is
    /// closed and the failure says how far it got).
    pub fn run(&self, console: &mut Console<'_>, interrupt: &Interrupt) -> Result<(), Failure> {
        crate::clock::start_wall_clock();
        let mut buf = vec![0u8; BUF_LEN];
        match &self.device {
            Some(path) => {
                let cfg = self.session_config(None)?;
                let uart = open_serial(path, self.baud).map_err(|e| Failure::device(path, e))?;
                let dtr = match self.dtr {
                    true => Some(self.serial_dtr(&uart, path, console)?),
                    false => None,
                };
                let ftp = Ftp::new(uart, &mut buf).map_err(|e| Failure::modem("start", e))?;
                self.run_with(ftp, dtr, &cfg, console, interrupt)
            }
            None => {
                let (sim, port) = Simulator::start(self.tls, self.sim_faults.config())
                    .map_err(|e: io::Error| Failure::other("start the simulator", e.to_string()))?;
                let cfg = self.session_config(Some(&sim))?;
                let dtr = self.dtr.then(|| port.dtr());
                let ftp = Ftp::new(port, &mut buf).map_err(|e| Failure::modem("start", e))?;
                let outcome = self.run_with(ftp, dtr, &cfg, console, interrupt);
                // For the transcript: how the module really left data mode.
                let (by_dtr, guarded) = (sim.control.dtr_escapes(), sim.control.guarded_escapes());
                log::info!("simulator: escapes from data mode: {by_dtr} by DTR, {guarded} by +++");
                outcome
            }
        }
    }

    /// The device's DTR line for `--dtr`. One that cannot be driven (a
    /// pty) is still given to the client, which then escapes with `+++`:
    /// said here once, on stderr (the pin writes the same to the trace).
    fn serial_dtr(&self, uart: &SerialUart, path: &str, console: &mut Console<'_>) -> Result<SerialDtr, Failure> {
        let mut dtr = uart.dtr(path).map_err(|e| Failure::device(path, e))?;
        // Asserted, as the client's first drive (low) does too.
        if let Err(e) = dtr.set_low() {
            writeln!(console.err, "qftp: --dtr: {path}: {e}; leaving data mode with +++ instead")
                .map_err(|e| Failure::local("--dtr", "stderr", e))?;
        }
        Ok(dtr)
    }

    /// The action over a client, with the DTR pin `dtr` if there is one.
    fn run_with<U: Read + Write, P: Dtr>(
        &self,
        mut ftp: Ftp<'_, U>,
        dtr: Option<P>,
        cfg: &SessionConfig,
        console: &mut Console<'_>,
        interrupt: &Interrupt,
    ) -> Result<(), Failure> {
        match dtr {
            Some(pin) => futures_executor::block_on(self.drive(&mut ftp.with_dtr(pin), cfg, console, interrupt)),
            None => futures_executor::block_on(self.drive(&mut ftp, cfg, console, interrupt)),
        }
    }

    /// The action over a client.
    async fn drive<U: Read + Write, D: Dtr>(
        &self,
        ftp: &mut Ftp<'_, U, D>,
        cfg: &SessionConfig,
        console: &mut Console<'_>,
        interrupt: &Interrupt,
    ) -> Result<(), Failure> {
        match &self.action {
            Action::Run(command) => run_session_until(ftp, cfg, command, console, interrupt).await,
            Action::Shell { keep_going } => shell::run(ftp, cfg, console, interrupt, *keep_going).await,
        }
    }
}

/// The FTP password as given: never shown, by `Debug` or in a message.
/// `-` stands for a password asked for on the terminal ([`Password::resolve`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The password: as given, or for `-` read from the terminal without
    /// echo; `-` with stdin not a terminal is a usage error (a script
    /// gives QFTP_PASSWORD instead).
    pub fn resolve(&self) -> Result<String, Failure> {
        if self.0 != "-" {
            return Ok(self.0.clone());
        }
        if !io::stdin().is_terminal() {
            return Err(Failure::usage(
                "--password - asks on a terminal, and stdin is not one: give QFTP_PASSWORD instead",
            ));
        }
        rpassword::prompt_password("FTP password: ").map_err(|e| Failure::local("password", "the terminal", e))
    }
}

impl From<String> for Password {
    fn from(password: String) -> Self {
        Password(password)
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The SIM's PIN as given: never shown, by `Debug` or in a message (clap
/// cannot refuse it either, and so never echoes it: it is checked after
/// parsing, by [`Pin::checked`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    /// The PIN, if it is 4 to 8 digits (what SIMs take); a usage error
    /// that does not repeat it otherwise.
    pub fn checked(&self) -> Result<String, Failure> {
        let digits = self.0.bytes().all(|b| b.is_ascii_digit());
        if digits && (4..=8).contains(&self.0.len()) {
            Ok(self.0.clone())
        } else {
            Err(Failure::usage("the PIN (--pin or QFTP_PIN) must be 4 to 8 digits"))
        }
    }
}

impl From<String> for Pin {
    fn from(pin: String) -> Self {
        Pin(pin)
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password_or_the_pin() {
        let cli = Cli::parse_from(["qftp", "--password", "hunter2-pw", "--pin", "97531", "pwd"]);
        let shown = format!("{cli:?}");
        assert!(!shown.contains("hunter2-pw") && !shown.contains("97531"), "{shown}");
        assert!(shown.contains("Password(***)"), "{shown}");
        let cfg = cli.session_config(None);
        assert!(cfg.is_err(), "--device without --host");
    }

    #[test]
    fn a_password_or_pin_that_starts_with_a_hyphen_is_the_value_never_echoed() {
        let cli = Cli::parse_from(["qftp", "--password", "--hunter2", "--pin", "-97531", "pwd"]);
        assert_eq!(cli.password, Some(Password("--hunter2".into())));
        let refused = cli.pin.as_ref().map(Pin::checked).transpose().expect_err("not digits");
        assert!(!refused.to_string().contains("97531"), "{refused}");
        let cli = Cli::parse_from(["qftp", "--password", "-", "pwd"]);
        assert_eq!(cli.password, Some(Password("-".into())));
    }

    #[test]
    fn an_account_the_module_cannot_take_is_refused_before_start_up_without_its_content() {
        let cli = Cli::parse_from(["qftp", "--host", "h", "--password", "pa\"ss-9", "pwd"]);
        let refused = cli.session_config(None).expect_err("a quote in the password");
        assert_eq!(refused.exit_code(), crate::session::EXIT_USAGE);
        let shown = refused.to_string();
        assert!(shown.contains("--password") && !shown.contains("ss-9") && !shown.contains("offset"), "{shown}");
        let cli = Cli::parse_from(["qftp", "--host", "h", "--user", "a\u{1}b", "pwd"]);
        assert!(cli.session_config(None).expect_err("a control byte").to_string().contains("--user"));
        assert!(Cli::parse_from(["qftp", "--host", "h", "--password", "fine", "pwd"]).session_config(None).is_ok());
    }

    #[test]
    fn put_continue_keeps_resume_as_a_hidden_alias() {
        let continued = Cli::parse_from(["qftp", "put", "--continue", "a", "b"]);
        let resumed = Cli::parse_from(["qftp", "put", "--resume", "a", "b"]);
        assert_eq!(continued.action, resumed.action);
        assert!(matches!(continued.action, Action::Run(Command::Put { resume: true, .. })));
    }
}
