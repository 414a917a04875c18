//! The no-hardware mode: a simulated modem wired to an FTP server on
//! loopback, both inside this process.

use std::io;
use std::time::Duration;

use quectel_ftp_sim::{pair, Faults, NetworkDomain, SimConfig, SimControl, SimPort, SimState, TestServer};

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

/// The built-in simulator's fault switches ([`Faults`]), under the names
/// `qftp-sim` gives them. Each option is parsed here and nowhere else;
/// none goes with `--device`.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Simulator faults (built-in simulator only, not with --device)")]
pub struct SimFaults {
    /// Unsolicited lines (+CEREG, +QIND, +QUSIM) in every command-mode window of an FTP exchange.
    #[arg(long, value_name = "N", conflicts_with = "device")]
    pub urcs_in_windows: Option<u8>,
    /// An upload the module ends itself (+QFTPPUT: 609,0) leaves data mode without the OK before it.
    #[arg(long, conflicts_with = "device")]
    pub put_timeout_without_ok: bool,
    /// The module ends the next upload by itself after this many payload bytes.
    #[arg(long, value_name = "BYTES", conflicts_with = "device")]
    pub end_upload_after: Option<u64>,
    /// A download from the end of a file fails with +QFTPGET: 627,550 instead of an empty chunk.
    #[arg(long, conflicts_with = "device")]
    pub eof_as_550: bool,
    /// AT+QFTPSIZE fails with +QFTPSIZE: 627,REPLY (a server without SIZE: 502 or 500).
    #[arg(long, value_name = "REPLY", conflicts_with = "device")]
    pub size_unsupported: Option<u16>,
    /// The next transfer or listing fails to open its data connection (+CME ERROR: 615).
    #[arg(long, conflicts_with = "device")]
    pub fail_data_connection: bool,
    /// After that failure the module stays busy (+CME ERROR: 603) until AT+QFTPCLOSE.
    #[arg(long, conflicts_with = "device")]
    pub busy_after_data_failure: bool,
    /// The module answers every command line with ERROR.
    #[arg(long, conflicts_with = "device")]
    pub rejects_probe: bool,
    /// The SIM card: ready, pin:PIN (locked by PIN), puk, not-inserted, failure or busy:N.
    #[arg(long, value_name = "STATE", conflicts_with = "device")]
    pub sim: Option<SimState>,
    /// How long the network search takes after power-on (and after the SIM becomes ready).
    #[arg(long, value_name = "MS", conflicts_with = "device")]
    pub registration_delay_ms: Option<u64>,
    /// The registration state the search ends in: 1 home, 5 roaming, 3 denied, 0 not searching.
    #[arg(long, value_name = "N", conflicts_with = "device")]
    pub registration_stat: Option<u8>,
    /// Which command reports the registration: AT+CEREG? (eps), AT+CGREG? (gprs) or AT+CREG? (cs).
    #[arg(long, value_name = "DOMAIN", conflicts_with = "device")]
    pub registration_via: Option<NetworkDomain>,
    /// The signal AT+CSQ reports: 0-31, 99 unknown.
    #[arg(long, value_name = "N", conflicts_with = "device")]
    pub rssi: Option<u8>,
}

impl SimFaults {
    /// `base` with these switches applied.
    pub fn apply(&self, base: Faults) -> Faults {
        let mut faults = base;
        let registration = &mut faults.registration;
        if let Some(n) = self.urcs_in_windows {
            faults.urcs_in_windows = n;
        }
        faults.put_timeout_without_ok |= self.put_timeout_without_ok;
        if let Some(bytes) = self.end_upload_after {
            faults.end_upload_after = Some(bytes);
        }
        faults.eof_as_550 |= self.eof_as_550;
        if let Some(reply) = self.size_unsupported {
            faults.size_unsupported = Some(reply);
        }
        faults.fail_data_connection |= self.fail_data_connection;
        faults.busy_after_data_failure |= self.busy_after_data_failure;
        faults.rejects_probe |= self.rejects_probe;
        if let Some(sim) = &self.sim {
            faults.sim = sim.clone();
        }
        if let Some(ms) = self.registration_delay_ms {
            registration.delay = Duration::from_millis(ms);
        }
        if let Some(stat) = self.registration_stat {
            registration.stat = stat;
        }
        if let Some(via) = self.registration_via {
            registration.via = via;
        }
        if let Some(rssi) = self.rssi {
            registration.rssi = rssi;
        }
        faults
    }

    /// The simulator's configuration: the default module with these faults.
    pub fn config(&self) -> SimConfig {
        let defaults = SimConfig::default();
        SimConfig { faults: self.apply(defaults.faults.clone()), ..defaults }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: std::str::FromStr>(text: &str) -> Result<T, T::Err> {
        text.parse()
    }

    #[test]
    fn sim_states_parse_as_qftp_sim_spells_them() {
        assert_eq!(parse::<SimState>("ready"), Ok(SimState::Ready));
        assert_eq!(parse::<SimState>("pin:1234"), Ok(SimState::Pin("1234".into())));
        assert_eq!(parse::<SimState>("puk"), Ok(SimState::Puk));
        assert_eq!(parse::<SimState>("not-inserted"), Ok(SimState::NotInserted));
        assert_eq!(parse::<SimState>("failure"), Ok(SimState::Failure));
        assert_eq!(parse::<SimState>("busy:3"), Ok(SimState::Busy(3)));
        assert!(parse::<SimState>("busy:x").is_err());
        assert!(parse::<SimState>("locked").is_err());
        assert_eq!(parse::<NetworkDomain>("gprs"), Ok(NetworkDomain::Gprs));
        assert!(parse::<NetworkDomain>("lte").is_err());
    }

    #[test]
    fn no_switch_keeps_the_defaults() {
        assert_eq!(SimFaults::default().apply(Faults::default()), Faults::default());
    }
}
