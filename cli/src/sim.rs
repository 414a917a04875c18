//! The no-hardware mode: a simulated modem wired to an FTP server on
//! loopback, both inside this process.

use std::io;

use quectel_ftp_sim::{pair, SimConfig, SimControl, SimPort, TestServer};

use crate::session::Tls;

/// The host name the simulated modem resolves to the loopback server.
pub const SIM_HOST: &str = "ftp.sim.test";

/// A running simulated module and its FTP server.
pub struct Simulator {
    /// The FTP server (libunftp; vsftpd for implicit FTPS).
    pub server: TestServer,
    /// Faults, variants and resets of the module.
    pub control: SimControl,
}

impl Simulator {
    /// Starts a server for `tls` and a module with `config`; returns the
    /// module's serial line too. Implicit FTPS needs Debian's vsftpd and
    /// root.
    pub fn start(tls: Tls, config: SimConfig) -> io::Result<(Simulator, SimPort)> {
        let server = match tls {
            Tls::Implicit => TestServer::start_vsftpd_implicit()?,
            Tls::None | Tls::Explicit => TestServer::start()?,
        };
        let (port, control) = pair(config);
        Ok((Simulator { server, control }, port))
    }

    /// Login defaults for this server: `test`/`test`, or anonymous for
    /// vsftpd (whose writable directory is `pub`).
    pub fn login(tls: Tls) -> (&'static str, &'static str, Option<&'static str>) {
        match tls {
            Tls::Implicit => ("anonymous", "qftp@", Some("pub")),
            Tls::None | Tls::Explicit => (quectel_ftp_sim::USER, quectel_ftp_sim::PASSWORD, None),
        }
    }
}
