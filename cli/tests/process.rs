//! The `qftp` binary as a separate process, against `qftp-sim` serving a
//! simulated modem (and its FTP server) on a pseudo-terminal.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const RUN_LIMIT: Duration = Duration::from_secs(120);

/// `qftp-sim` next to the `qftp` binary, built on demand.
fn sim_binary() -> PathBuf {
    let qftp = PathBuf::from(env!("CARGO_BIN_EXE_qftp"));
    let sim = qftp.with_file_name("qftp-sim");
    if !sim.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "quectel-ftp-sim", "--bin", "qftp-sim"]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build -p quectel-ftp-sim failed");
    }
    assert!(sim.exists(), "{} not found", sim.display());
    sim
}

/// A running `qftp-sim --with-server`, killed on drop.
struct SimProcess {
    child: Child,
    pty: String,
    ftp_port: u16,
}

impl SimProcess {
    fn start() -> SimProcess {
        let mut child = Command::new(sim_binary())
            .arg("--with-server")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qftp-sim");
        let (tx, rx) = mpsc::channel();
        let out_tx = tx.clone();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out_tx.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut pty, mut ftp_port) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while pty.is_none() || ftp_port.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("qftp-sim prints its pty and server");
            if line.starts_with("/dev/") {
                pty = Some(line);
            } else if let Some(rest) = line.split("127.0.0.1:").nth(1) {
                ftp_port = rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|p| p.parse().ok());
            }
        }
        SimProcess { child, pty: pty.unwrap(), ftp_port: ftp_port.unwrap() }
    }

    /// Runs `qftp` on the pty with `args` after the connection options.
    fn qftp(&self, args: &[&str]) -> Output {
        let port = self.ftp_port.to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_qftp"))
            .args(["--device", &self.pty, "--host", "localhost", "--port", &port])
            .args(["--user", "test", "--password", "test", "--timeout", "20"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qftp");
        let deadline = Instant::now() + RUN_LIMIT;
        while child.try_wait().expect("wait for qftp").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("qftp {args:?} did not finish within {RUN_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().expect("collect qftp's output")
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {:?}\nstderr: {}", out.status, text(&out.stderr));
    text(&out.stdout)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn qftp_runs_twice_against_the_simulator_on_a_pty() {
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let data = qftp::demo::hostile_data(50_000, 1);
    let src = dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    for round in 0..2 {
        let dst = dir.path().join(format!("dst{round}.bin"));
        let put = sim.qftp(&["put", path(&src), "pty.bin"]);
        assert_eq!(ok(&put, "put"), "");
        assert!(text(&put.stderr).contains("50000 bytes"), "{}", text(&put.stderr));
        let ls = ok(&sim.qftp(&["ls"]), "ls");
        assert!(ls.lines().any(|l| l.ends_with(" pty.bin") && l.contains("50000")), "{ls}");
        ok(&sim.qftp(&["get", "pty.bin", path(&dst)]), "get");
        assert!(std::fs::read(&dst).unwrap() == data, "round {round}: downloaded copy differs");
        assert_eq!(ok(&sim.qftp(&["size", "pty.bin"]), "size"), "50000\n");
    }

    let missing = sim.qftp(&["get", "missing.bin", path(&dir.path().join("missing.bin"))]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(text(&missing.stdout), "");
    assert_eq!(
        text(&missing.stderr),
        "qftp: get: file unavailable (server replied 550; module error 627 requested action not taken)\n"
    );
    assert!(!dir.path().join("missing.bin").exists());
}

#[test]
fn usage_errors_exit_with_status_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_qftp")).args(["--timeout", "5", "pwd"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_qftp")).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
