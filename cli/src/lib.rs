//! `qftp`: FTP(S) through a Quectel BG95 / BG77 / BG600L modem, from the
//! command line.
//!
//! The binary is a thin shell over this library: [`Cli`] parses the
//! arguments, [`run_session`] runs one whole session (bring-up, login, one
//! [`Command`], logout) over any async UART — a serial port
//! ([`io::open_serial`]) or the in-process simulator ([`Simulator`]).
//! [`run_session_until`] is the same, stopped cleanly by an [`Interrupt`]
//! (Ctrl-C and SIGTERM in the binary: see [`interrupt`]). `qftp shell`
//! runs many commands in one session; [`trace`] writes the AT transcript.
//!
//! The driver's deadlines use embassy-time; this crate drives embassy-time's
//! mock driver from the wall clock ([`clock::start_wall_clock`]), so every
//! program or test that runs a session starts that clock first.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod cli;
pub mod clock;
mod command;
mod console;
pub mod demo;
pub mod interrupt;
pub mod io;
mod session;
mod shell;
mod sim;
pub mod trace;
mod ufs;

pub use cli::{Action, Cli, Password, Pin};
pub use command::{Command, Progress};
pub use console::{rate, Console};
pub use interrupt::Interrupt;
pub use session::{
    execute_until, open_session, run_session, run_session_until, Cause, Class, Failure, SessionConfig, Step, Tls,
    BUF_LEN, CLOSE_AFTER_INTERRUPT, EXIT_CONNECTION, EXIT_FAILURE, EXIT_FTP_REPLY, EXIT_LOCAL, EXIT_TIMEOUT,
    EXIT_USAGE,
};
pub use sim::{SimFaults, Simulator, SIM_HOST};
pub use ufs::UfsCommand;
