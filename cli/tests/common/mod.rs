//! Shared test rig: a simulated modem and server, and a client on it.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

use qftp::{Command, Console, Failure, Interrupt, SessionConfig, Simulator, Tls, BUF_LEN, SIM_HOST};
use quectel_ftp::Ftp;
use quectel_ftp_sim::{SimConfig, SimPort};

/// A simulator with a client on its serial line.
pub struct Rig {
    pub sim: Simulator,
    pub ftp: Ftp<'static, SimPort>,
    pub cfg: SessionConfig,
}

impl Rig {
    /// Starts the server for `tls`, a module with `config` and a client, on
    /// the wall clock.
    pub fn start(tls: Tls, config: SimConfig) -> Rig {
        qftp::clock::start_wall_clock();
        Rig::start_on_running_clock(tls, config)
    }

    /// As [`Rig::start`], for a process whose clock is already started.
    pub fn start_on_running_clock(tls: Tls, config: SimConfig) -> Rig {
        let (sim, port) = Simulator::start(tls, config).expect("start the simulator");
        let buf = Box::leak(vec![0u8; BUF_LEN].into_boxed_slice());
        let ftp = Ftp::new(port, buf).expect("buffer is large enough");
        let cfg = session_config(&sim, tls);
        Rig { sim, ftp, cfg }
    }

    /// Runs one whole CLI session; returns stdout and stderr.
    pub fn run(&mut self, command: Command) -> Result<(String, String), Failure> {
        self.run_until(command, &Interrupt::new())
    }

    /// [`Rig::run`], stopped by `interrupt`.
    pub fn run_until(&mut self, command: Command, interrupt: &Interrupt) -> Result<(String, String), Failure> {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut console = Console { out: &mut out, err: &mut err, progress: false };
        let session = qftp::run_session_until(&mut self.ftp, &self.cfg, &command, &mut console, interrupt);
        let r = futures_executor::block_on(session);
        r.map(|()| (String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned()))
    }

    /// Runs `command`, which must succeed; returns its stdout.
    pub fn ok(&mut self, command: Command) -> String {
        let name = command.name();
        match self.run(command) {
            Ok((out, _)) => out,
            Err(failure) => panic!("{name} failed: {failure}"),
        }
    }

    /// Takes the rig apart, for a test that replaces the client (see
    /// [`fresh_client`]).
    pub fn into_parts(self) -> (Simulator, Ftp<'static, SimPort>, SessionConfig) {
        (self.sim, self.ftp, self.cfg)
    }

    /// Path of `name` in the server's root.
    pub fn server_path(&self, name: &str) -> std::path::PathBuf {
        let root = self.sim.server.root().to_path_buf();
        match self.cfg.cwd.as_deref() {
            Some(dir) => root.join(dir).join(name),
            None => root.join(name),
        }
    }
}

/// A new client on the same line, as after a reset of the microcontroller:
/// the old client and everything it knew are gone, while the modem keeps
/// its state (data mode, an open FTP session). Each call leaks one chunk
/// buffer.
pub fn fresh_client(old: Ftp<'static, SimPort>) -> Ftp<'static, SimPort> {
    let buf = Box::leak(vec![0u8; BUF_LEN].into_boxed_slice());
    Ftp::new(old.release(), buf).expect("buffer is large enough")
}

/// The CLI's simulator-mode settings with the minimum response timeout.
pub fn session_config(sim: &Simulator, tls: Tls) -> SessionConfig {
    let (user, password, cwd) = Simulator::login(tls);
    SessionConfig {
        apn: "internet".into(),
        context: 1,
        host: SIM_HOST.into(),
        port: sim.server.port(),
        user: user.into(),
        password: password.into(),
        tls,
        ascii: false,
        active: false,
        timeout_s: 20,
        cwd: cwd.map(str::to_owned),
        pin: None,
        registration_timeout_s: 180,
        retries: 0,
        ca_cert: None,
    }
}

/// Runs `body` on a thread and fails the test if it takes longer than
/// `limit`: no test can hang.
pub fn bounded<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("test did not finish within {limit:?}"),
    }
}

/// True if implicit FTPS can be tested here (vsftpd installed, running as root).
pub fn vsftpd_available() -> bool {
    let root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    root && std::path::Path::new("/usr/sbin/vsftpd").exists()
}
