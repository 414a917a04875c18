//! The command line.

use std::io;

use clap::Parser;
use quectel_ftp::Ftp;
use quectel_ftp_sim::SimConfig;

use crate::command::Command;
use crate::console::Console;
use crate::interrupt::Interrupt;
use crate::io::open_serial;
use crate::session::{run_session_until, Failure, SessionConfig, Tls, BUF_LEN};
use crate::sim::{Simulator, SIM_HOST};

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
                let (sim, port) = Simulator::start(self.tls, SimConfig::default())
                    .map_err(|e: io::Error| Failure::other("start the simulator", e.to_string()))?;
                let cfg = self.session_config(Some(&sim))?;
                let mut ftp = Ftp::new(port, &mut buf).map_err(|e| Failure::modem("start", e))?;
                futures_executor::block_on(run_session_until(&mut ftp, &cfg, &self.command, console, interrupt))
            }
        }
    }
}
