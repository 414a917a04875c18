//! A simulated Quectel BG95 / BG77 / BG600L on its AT interface, for
//! testing the `quectel-ftp` driver without hardware.
//!
//! The simulated module implements the FTP(S) AT command set (`AT+QFTPCFG`,
//! `AT+QFTPOPEN`, `AT+QFTPPUT`, `AT+QFTPGET`, ...) and the commands around
//! it (`ATE`, `AT&D`, `AT+CMEE`, `AT+CPIN`, `AT+CEREG`, `AT+CGREG`, `AT+CREG`,
//! `AT+CSQ`, `AT+QICSGP`, `AT+QIACT`, `AT+QSSLCFG`), the file store's
//! commands (`AT+QFLDS`, `AT+QFLST`, `AT+QFDEL`, `AT+QFUPL`, `AT+QFDWL`,
//! `AT+QFOPEN`, `AT+QFREAD`, `AT+QFCLOSE`: UFS and RAM files),
//! and carries out every FTP operation against a real FTP(S) server over
//! loopback with the `suppaftp` client. It never connects anywhere but
//! loopback addresses.
//!
//! - [`pair`] starts a module in a thread and returns the host's end of the
//!   serial line ([`SimPort`], `embedded-io` and `embedded-io-async`) and a
//!   [`SimControl`] handle for faults, response variants, URCs and resets.
//!   [`SimPort::dtr`] is the line's DTR, an embedded-hal output pin
//!   ([`SimDtr`]).
//! - [`TestServer`] starts a real FTP(S) server on a free loopback port.
//! - The `qftp-sim` binary serves the module on a pseudo-terminal or TCP.
//!
//! ```no_run
//! use embedded_io::{Read, Write};
//! let server = quectel_ftp_sim::TestServer::start().unwrap();
//! let (mut port, _control) = quectel_ftp_sim::pair(Default::default());
//! port.write_all(b"ATE0\r").unwrap();
//! let mut buf = [0u8; 64];
//! let n = port.read(&mut buf).unwrap();
//! # let _ = (server.port(), n);
//! ```
#![warn(missing_docs)]

mod at;
mod config;
mod control;
mod escape;
mod ftp;
mod line;
mod modem;
mod port;
mod server;
mod ufs;

use std::sync::Arc;

pub use config::{Faults, NetworkDomain, Registration, SimConfig, SimState, Variants};
pub use control::SimControl;
pub use port::{SimDtr, SimPort};
pub use server::{TestServer, PASSWORD, USER};

/// Powers on a simulated module in a background thread.
///
/// Returns the host's end of its serial line and a control handle. The
/// module thread ends when the [`SimPort`] is dropped.
pub fn pair(config: SimConfig) -> (SimPort, SimControl) {
    let shared = Arc::new(line::Shared::new(config.faults.clone(), config.variants.clone()));
    let modem = modem::Modem::new(line::ModemLine::new(Arc::clone(&shared)), config);
    std::thread::Builder::new()
        .name("bg95-sim".into())
        .spawn(move || modem.run())
        .expect("spawn the simulated module's thread");
    (SimPort::new(Arc::clone(&shared)), SimControl::new(shared))
}
