//! The command line.

use std::io;

use clap::Parser;
use quectel_ftp::Ftp;

use crate::command::Command;
use crate::console::Console;
use crate::interrupt::Interrupt;
use crate::io::open_serial;
use crate::session::{run_session_until, Failure, SessionConfig, Tls, BUF_LEN};
use crate::sim::{SimFaults, Simulator, SIM_HOST};

/// FTP(S) through a Quectel BG95 / BG77 / BG600L modem.
///
/// Each run is one whole session: the module is brought up, the PDP context
/// activated, the FTP settings applied, the session opened, the command
/// run and the session closed. Without --device, a simulated modem and an
/// FTP server on loopback stand in for the hardware.
#[derive(Debug, Parser)]
#[command(name = "qftp", version)]
pub struct Cli {
    /// Serial device of the modem (e.g. /dev/ttyUSB2). Default: the built-in simulator.
    #[arg(long, value_name = "PATH")]
    pub device: Option<String>,
    /// Baud rate of the serial device.
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
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
    /// Password (default: anonymous@; test with the simulator).
    #[arg(long)]
    pub password: Option<String>,
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
    #[arg(long, value_name = "PIN", env = "QFTP_PIN", hide_env_values = true)]
    pub pin: Option<Pin>,
    /// How long to wait for the module to register with the network
    /// before activating the PDP context (an LTE-M or NB-IoT attach can
    /// take minutes).
    #[arg(long, value_name = "SECS", default_value_t = 180)]
    pub registration_timeout: u16,
    /// Faults of the built-in simulator.
    #[command(flatten)]
    pub sim_faults: SimFaults,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
            (None, None) => return Err(Failure::other("usage", "--host is required with --device")),
        };
        Ok(SessionConfig {
            apn: self.apn.clone(),
            context: self.context,
            host,
            port: self.port.unwrap_or(port),
            user: self.user.clone().unwrap_or_else(|| user.to_owned()),
            password: self.password.clone().unwrap_or_else(|| password.to_owned()),
            tls: self.tls,
            ascii: self.ascii,
            active: self.active,
            timeout_s: self.timeout,
            cwd: self.cwd.clone().or_else(|| cwd.map(str::to_owned)),
            pin: self.pin.as_ref().map(Pin::checked).transpose()?,
            registration_timeout_s: self.registration_timeout,
        })
    }

    /// Runs the command on the device, or on the simulator, until done or
    /// `interrupt` fires (then the session is closed and the failure says
    /// how far it got).
    pub fn run(&self, console: &mut Console<'_>, interrupt: &Interrupt) -> Result<(), Failure> {
        crate::clock::start_wall_clock();
        let mut buf = vec![0u8; BUF_LEN];
        match &self.device {
            Some(path) => {
                let cfg = self.session_config(None)?;
                let uart = open_serial(path, self.baud).map_err(|e| Failure::local("open the device", path, e))?;
                let mut ftp = Ftp::new(uart, &mut buf).map_err(|e| Failure::modem("start", e))?;
                futures_executor::block_on(run_session_until(&mut ftp, &cfg, &self.command, console, interrupt))
            }
            None => {
                let (sim, port) = Simulator::start(self.tls, self.sim_faults.config())
                    .map_err(|e: io::Error| Failure::other("start the simulator", e.to_string()))?;
                let cfg = self.session_config(Some(&sim))?;
                let mut ftp = Ftp::new(port, &mut buf).map_err(|e| Failure::modem("start", e))?;
                futures_executor::block_on(run_session_until(&mut ftp, &cfg, &self.command, console, interrupt))
            }
        }
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
            Err(Failure::other("usage", "the PIN (--pin or QFTP_PIN) must be 4 to 8 digits"))
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
