//! The `qftp` binary as a separate process, against `qftp-sim` serving a
//! simulated modem (and its FTP server) on a pseudo-terminal.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
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
    /// The FTP server's root directory.
    root: PathBuf,
    /// What `qftp-sim` prints on stderr after its start-up lines.
    notes: mpsc::Receiver<String>,
}

impl SimProcess {
    fn start() -> SimProcess {
        SimProcess::start_with(&[])
    }

    /// Starts `qftp-sim --with-server` with more `args`.
    fn start_with(args: &[&str]) -> SimProcess {
        let mut child = Command::new(sim_binary())
            .arg("--with-server")
            .args(args)
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
        let (mut pty, mut ftp_port, mut root) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while pty.is_none() || ftp_port.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("qftp-sim prints its pty and server");
            if line.starts_with("/dev/") {
                pty = Some(line);
            } else if let Some(rest) = line.split("127.0.0.1:").nth(1) {
                ftp_port = rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|p| p.parse().ok());
                root = line.split(", root ").nth(1).map(PathBuf::from);
            }
        }
        let root = root.expect("qftp-sim names the server's root");
        SimProcess { child, pty: pty.unwrap(), ftp_port: ftp_port.unwrap(), root, notes: rx }
    }

    /// `qftp` on the pty with `args` after the connection options.
    fn command(&self, args: &[&str]) -> Command {
        let port = self.ftp_port.to_string();
        let mut command = Command::new(env!("CARGO_BIN_EXE_qftp"));
        command
            .args(["--device", &self.pty, "--host", "localhost", "--port", &port])
            .args(["--user", "test", "--password", "test", "--timeout", "20"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `qftp` with `args` to its end.
    fn qftp(&self, args: &[&str]) -> Output {
        let child = self.command(args).spawn().expect("start qftp");
        finish(child, RUN_LIMIT).unwrap_or_else(|| panic!("qftp {args:?} did not finish within {RUN_LIMIT:?}"))
    }

    /// Waits until `qftp-sim` prints a line containing `needle`.
    fn wait_for_note(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.notes.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(_) => panic!("qftp-sim did not say {needle:?} within {limit:?}"),
            }
        }
    }
}

/// Waits up to `limit` for `child` to end and collects its output; kills it
/// and returns `None` if it does not.
fn finish(mut child: Child, limit: Duration) -> Option<Output> {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait for qftp").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(child.wait_with_output().expect("collect qftp's output"))
}

/// Sends `signal` to `child`.
fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal}): {}", std::io::Error::last_os_error());
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

    // A name the driver refuses: nothing is sent for it, and that is a
    // usage error.
    let refused = sim.qftp(&["size", "a\"b"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));

    // LOCAL that is not a regular file is written into, never replaced: a
    // symbolic link keeps pointing at its target, which gets the bytes.
    let target = dir.path().join("target.bin");
    let link = dir.path().join("link.bin");
    std::fs::write(&target, b"old").unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    ok(&sim.qftp(&["get", "pty.bin", path(&link)]), "get through a symlink");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
    assert!(std::fs::read(&target).unwrap() == data, "the link's target did not get the file");
    // `-` is standard output.
    let out = sim.qftp(&["get", "pty.bin", "-"]);
    assert!(out.status.success() && out.stdout == data, "{}", text(&out.stderr));
    // A directory is refused before anything is downloaded.
    let into_dir = sim.qftp(&["get", "pty.bin", path(dir.path())]);
    assert_eq!(into_dir.status.code(), Some(1));
    assert!(text(&into_dir.stderr).contains("is a directory"), "{}", text(&into_dir.stderr));
}

#[test]
fn usage_errors_exit_with_status_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_qftp")).args(["--timeout", "5", "pwd"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_qftp")).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_qftp")).args(["--device", "/dev/null", "pwd"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// Where `qftp-sim --stall-upload-after` leaves the module: 40000 bytes
/// into the upload, in its third 16 KiB chunk, waiting for the rest.
const STALL_AT: usize = 40_000;
/// How long an interrupted `qftp` may take to close and exit.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

/// How a `qftp put` dies in the middle of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Death {
    /// Ctrl-C: it leaves data mode, closes the session and exits with 130.
    Interrupt,
    /// Two SIGINTs at once, as `timeout` or a process-group kill sends
    /// them: one interrupt, handled as Ctrl-C.
    InterruptBurst,
    /// Ctrl-C twice: it exits at once, leaving the module in data mode.
    InterruptTwice,
    /// SIGKILL: it leaves the module in data mode with its session open.
    Kill,
}

/// A `qftp put` dies while the module waits for the rest of a chunk;
/// then `qftp ls` works, the server's copy is a byte-exact prefix of the
/// source (nothing of the next run in it), and `put --resume` completes it.
fn put_dies_mid_chunk(death: Death) {
    let sim = SimProcess::start_with(&["--stall-upload-after", &STALL_AT.to_string()]);
    let dir = tempfile::tempdir().unwrap();
    let data = qftp::demo::hostile_data(200_000, 3);
    let src = dir.path().join("big.src");
    std::fs::write(&src, &data).unwrap();
    let put = sim.command(&["put", path(&src), "big.bin"]).spawn().expect("start qftp put");
    sim.wait_for_note("upload stalled", RUN_LIMIT);

    let killed = Instant::now();
    match death {
        Death::Interrupt => signal(&put, libc::SIGINT),
        Death::InterruptBurst => {
            signal(&put, libc::SIGINT);
            signal(&put, libc::SIGINT);
        }
        Death::InterruptTwice => {
            signal(&put, libc::SIGINT);
            std::thread::sleep(Duration::from_millis(600));
            signal(&put, libc::SIGINT);
        }
        Death::Kill => signal(&put, libc::SIGKILL),
    }
    let out = finish(put, RUN_LIMIT).expect("qftp put ends after the signal");
    let took = killed.elapsed();
    let err = text(&out.stderr);
    match death {
        Death::Interrupt | Death::InterruptBurst => {
            assert_eq!(out.status.code(), Some(130), "{err}");
            assert!(!err.contains("interrupted again"), "{err}");
            assert!(took < EXIT_LIMIT, "exited {took:?} after Ctrl-C");
            let report = err.lines().find(|l| l.starts_with("qftp: put: interrupted after ")).unwrap_or_else(|| {
                panic!("no report of how far the upload got:\n{err}");
            });
            let moved: usize = report["qftp: put: interrupted after ".len()..]
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{report}"));
            assert!(moved <= STALL_AT, "{report}");
            let resume = format!("of 200000 bytes; resume with: qftp [options] put --resume {} big.bin", path(&src));
            assert!(report.ends_with(&resume), "{report}");
        }
        Death::InterruptTwice => {
            assert_eq!(out.status.code(), Some(130), "{err}");
            assert!(took < Duration::from_secs(2), "exited {took:?} after the first Ctrl-C");
            assert!(took >= Duration::from_millis(600), "exited before the second Ctrl-C");
            assert!(err.contains("interrupted again"), "{err}");
        }
        Death::Kill => assert_eq!(out.status.signal(), Some(libc::SIGKILL)),
    }

    let ls = ok(&sim.qftp(&["ls"]), "ls after the dead upload");
    assert!(ls.lines().any(|l| l.ends_with(" big.bin")), "{ls}");
    let on_server = std::fs::read(sim.root.join("big.bin")).unwrap();
    assert!(on_server.len() <= data.len(), "{} bytes on the server", on_server.len());
    if let Some(at) = on_server.iter().zip(&data).position(|(a, b)| a != b) {
        panic!("foreign bytes in the server's copy from byte {at}: {:?}", text(&on_server[at..]));
    }
    // The chunk was cut short by a `+++`, not completed or dropped.
    assert_eq!(on_server.len(), STALL_AT, "the bytes the module received are kept");
    assert_eq!(ok(&sim.qftp(&["size", "big.bin"]), "size"), format!("{STALL_AT}\n"));

    let resumed = sim.qftp(&["put", "--resume", path(&src), "big.bin"]);
    ok(&resumed, "put --resume");
    assert!(text(&resumed.stderr).contains("resumed at byte 40000"), "{}", text(&resumed.stderr));
    assert!(std::fs::read(sim.root.join("big.bin")).unwrap() == data, "resumed upload differs");
}

#[test]
fn ctrl_c_mid_chunk_closes_the_session_and_exits_130() {
    put_dies_mid_chunk(Death::Interrupt);
}

#[test]
fn two_sigints_at_once_are_one_interrupt() {
    put_dies_mid_chunk(Death::InterruptBurst);
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_the_next_run_recovers() {
    put_dies_mid_chunk(Death::InterruptTwice);
}

#[test]
fn sigkill_mid_chunk_does_not_corrupt_the_next_run() {
    put_dies_mid_chunk(Death::Kill);
}

#[test]
fn sigterm_during_bring_up_exits_130() {
    let sim = SimProcess::start();
    let ls = sim.command(&["ls"]).spawn().expect("start qftp ls");
    // `init` listens for a guard time first: the signal lands in it.
    std::thread::sleep(Duration::from_millis(500));
    signal(&ls, libc::SIGTERM);
    let out = finish(ls, EXIT_LIMIT).expect("qftp ls ends within the limit after SIGTERM");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(text(&out.stderr).ends_with("qftp: ls: interrupted\n"), "{}", text(&out.stderr));
    ok(&sim.qftp(&["ls"]), "ls after the interrupted one");
}
