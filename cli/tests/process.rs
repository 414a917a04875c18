//! The `qftp` binary as a separate process, against `qftp-sim` serving a
//! simulated modem (and its FTP server) on a pseudo-terminal, and (for
//! `--dtr`, which a pty cannot carry) against its built-in simulator.

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
        self.command_as(&["--user", "test", "--password", "test"], args)
    }

    /// `qftp` on the pty, logging in with the options `login`, with `args`
    /// after the connection options.
    fn command_as(&self, login: &[&str], args: &[&str]) -> Command {
        let port = self.ftp_port.to_string();
        let mut command = Command::new(env!("CARGO_BIN_EXE_qftp"));
        command
            .args(["--device", &self.pty, "--host", "localhost", "--port", &port])
            .args(login)
            .env_remove("QFTP_PASSWORD")
            .args(["--timeout", "20"])
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
    assert_eq!(missing.status.code(), Some(5), "the server refused");
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
    assert_eq!(into_dir.status.code(), Some(3), "a local file error");
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
            let resume = format!("of 200000 bytes; resume with: qftp [options] put --continue {} big.bin", path(&src));
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

    // `--resume`, the old name of `--continue`, still works.
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

/// Runs `command` to its end, with `input` on its stdin.
fn run_with_input(command: &mut Command, input: &str) -> Output {
    use std::io::Write as _;
    let mut child = command.stdin(Stdio::piped()).spawn().expect("start qftp");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    finish(child, RUN_LIMIT).unwrap_or_else(|| panic!("qftp did not finish within {RUN_LIMIT:?}"))
}

/// Runs `command` to its end.
fn run(command: &mut Command) -> Output {
    let child = command.spawn().expect("start qftp");
    finish(child, RUN_LIMIT).unwrap_or_else(|| panic!("qftp did not finish within {RUN_LIMIT:?}"))
}

/// The lines of an AT transcript that `qftp` sent starting with `start`
/// (`AT+QFTPOPEN`, ...), after the time stamp.
fn sent<'a>(trace: &'a str, start: &str) -> Vec<&'a str> {
    let prefix = format!("> {start}");
    trace.lines().filter_map(|line| line.get(9..)).filter(|line| line.starts_with(&prefix)).collect()
}

#[test]
fn trace_writes_the_whole_transcript_and_never_the_password() {
    // The server lets `anonymous` in with any password: one that appears
    // nowhere else.
    const SECRET: &str = "Qz7-unguessable-pw";
    let login = ["--user", "anonymous", "--password", SECRET];
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("at.trace");
    let out = run(&mut sim.command_as(&login, &["--trace", path(&trace), "pwd"]));
    assert_eq!(ok(&out, "pwd --trace"), "/\n");
    let transcript = std::fs::read_to_string(&trace).unwrap();
    for needle in ["> AT+QFTPOPEN=", "< +QFTPOPEN: 0,0", "> AT+QFTPPWD", "> AT+QFTPCLOSE", "< +QFTPCLOSE: 0,0"] {
        assert!(transcript.contains(needle), "no {needle:?} in the trace:\n{transcript}");
    }
    assert!(transcript.contains(r#"> AT+QFTPCFG="account","***","***""#), "{transcript}");
    assert!(!transcript.contains(SECRET) && !transcript.contains("anonymous"), "a credential:\n{transcript}");
    // Every record: seconds since the start with milliseconds, then the line.
    let mut last = 0.0;
    for line in transcript.lines() {
        let (time, rest) = line.split_at(8);
        let time: f64 = time.trim_start().parse().unwrap_or_else(|_| panic!("no time stamp: {line:?}"));
        assert!(time >= last && line.as_bytes()[4] == b'.' && rest.starts_with(' '), "{line:?}");
        last = time;
    }
    // `-` is stderr.
    let out = run(&mut sim.command_as(&login, &["--trace", "-", "pwd"]));
    assert_eq!(ok(&out, "pwd --trace -"), "/\n");
    let err = text(&out.stderr);
    assert!(err.contains("> AT+QFTPPWD") && err.contains("< +QFTPCLOSE: 0,0"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
}

#[test]
fn the_password_comes_from_the_environment_or_a_prompt_and_is_never_shown() {
    let sim = SimProcess::start();
    // `test` is let in with its password only.
    let out = run(sim.command_as(&["--user", "test"], &["pwd"]).env("QFTP_PASSWORD", "test"));
    assert_eq!(ok(&out, "pwd with QFTP_PASSWORD"), "/\n");
    let wrong = run(sim.command_as(&["--user", "test"], &["pwd"]).env("QFTP_PASSWORD", "wrong-pw-123"));
    assert_eq!(wrong.status.code(), Some(5), "the server refused the login: {}", text(&wrong.stderr));
    assert!(!text(&wrong.stderr).contains("wrong-pw-123"), "{}", text(&wrong.stderr));
    // `--password -` asks on a terminal; stdin is not one here.
    let dash = run(&mut sim.command_as(&["--user", "test", "--password", "-"], &["pwd"]));
    assert_eq!(dash.status.code(), Some(2), "{}", text(&dash.stderr));
    assert!(text(&dash.stderr).contains("QFTP_PASSWORD"), "{}", text(&dash.stderr));
    // `--help` warns, and does not show the environment's password.
    let help =
        Command::new(env!("CARGO_BIN_EXE_qftp")).arg("--help").env("QFTP_PASSWORD", "hunter2-xyz").output().unwrap();
    let help = text(&help.stdout);
    assert!(help.contains("visible to other local users"), "{help}");
    assert!(help.contains("QFTP_PASSWORD") && !help.contains("hunter2-xyz"), "{help}");
    assert!(help.contains("Exit status:") && help.contains("5    refused: the FTP server"), "{help}");
}

#[test]
fn exit_statuses_tell_failures_apart() {
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().unwrap();
    // 2: usage (clap's, and a name the driver refuses: see above).
    let out = Command::new(env!("CARGO_BIN_EXE_qftp")).args(["get", "only-one"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // 3: a local file that cannot be read, before any session.
    let missing = dir.path().join("no-such-file");
    let out = sim.qftp(&["put", path(&missing), "x.bin"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    // 5: the server refuses.
    let out = sim.qftp(&["get", "no-such.bin", path(&dir.path().join("x"))]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let out = sim.qftp(&["rmdir", "no-such-dir"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    // 4: the modem cannot get on the network: no SIM.
    let no_sim = SimProcess::start_with(&["--sim", "not-inserted"]);
    let out = no_sim.qftp(&["pwd"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("SIM: not inserted"), "{}", text(&out.stderr));
    // 4: no modem on that device.
    let no_device = dir.path().join("ttyUSB9");
    let out =
        Command::new(env!("CARGO_BIN_EXE_qftp")).args(["--device", path(&no_device), "--host", "h", "pwd"]).output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
}

/// Where the tests below cut a transfer: not at a chunk boundary.
const CUT: usize = 54_321;

#[test]
fn continue_completes_a_cut_transfer_from_where_it_stopped() {
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let data = qftp::demo::hostile_data(150_000, 5);

    // get: the local copy stops at CUT.
    std::fs::write(sim.root.join("down.bin"), &data).unwrap();
    let local = dir.path().join("down.bin");
    std::fs::write(&local, &data[..CUT]).unwrap();
    let trace = dir.path().join("get.trace");
    let out = sim.qftp(&["--trace", path(&trace), "get", "--continue", "down.bin", path(&local)]);
    ok(&out, "get --continue");
    assert!(std::fs::read(&local).unwrap() == data, "the continued download differs");
    assert!(text(&out.stderr).contains(&format!("resumed at byte {CUT}")), "{}", text(&out.stderr));
    let trace = std::fs::read_to_string(&trace).unwrap();
    let gets = sent(&trace, "AT+QFTPGET=");
    assert!(
        gets.first().is_some_and(|l| l.starts_with(&format!("> AT+QFTPGET=\"down.bin\",\"COM:\",{CUT},"))),
        "{gets:?}"
    );
    // Complete already: nothing more comes, and the sizes agree.
    ok(&sim.qftp(&["get", "--continue", "down.bin", path(&local)]), "get --continue of a complete file");
    assert!(std::fs::read(&local).unwrap() == data);

    // put: the server's copy stops at CUT.
    std::fs::write(sim.root.join("up.bin"), &data[..CUT]).unwrap();
    let src = dir.path().join("up.src");
    std::fs::write(&src, &data).unwrap();
    let trace = dir.path().join("put.trace");
    let out = sim.qftp(&["--trace", path(&trace), "put", "--continue", path(&src), "up.bin"]);
    ok(&out, "put --continue");
    assert!(std::fs::read(sim.root.join("up.bin")).unwrap() == data, "the continued upload differs");
    let trace = std::fs::read_to_string(&trace).unwrap();
    let puts = sent(&trace, "AT+QFTPPUT=");
    assert!(
        puts.first().is_some_and(|l| l.starts_with(&format!("> AT+QFTPPUT=\"up.bin\",\"COM:\",{CUT},"))),
        "{puts:?}"
    );

    // A local file longer than the remote one cannot be its start.
    let longer = dir.path().join("longer.bin");
    std::fs::write(&longer, [&data[..], b"more"].concat()).unwrap();
    let out = sim.qftp(&["get", "--continue", "down.bin", path(&longer)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("sizes differ"), "{}", text(&out.stderr));
    // Standard output cannot be continued.
    assert_eq!(sim.qftp(&["get", "--continue", "down.bin", "-"]).status.code(), Some(2));
}

#[test]
fn retries_carry_a_transfer_over_a_network_failure() {
    let dir = tempfile::tempdir().unwrap();
    let data = qftp::demo::hostile_data(150_000, 6);
    let src = dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();

    // The data connection fails once (+CME ERROR: 615): without retries
    // that is status 4; with them a new session uploads the file.
    let sim = SimProcess::start_with(&["--fail-data-connection"]);
    let out = sim.qftp(&["put", path(&src), "up.bin"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let sim = SimProcess::start_with(&["--fail-data-connection"]);
    let trace = dir.path().join("put.trace");
    let out = sim.qftp(&["--retries", "2", "--trace", path(&trace), "put", path(&src), "up.bin"]);
    ok(&out, "put --retries 2");
    assert!(text(&out.stderr).contains("; retry 1 of 2 in 1 s"), "{}", text(&out.stderr));
    assert!(std::fs::read(sim.root.join("up.bin")).unwrap() == data, "the retried upload differs");
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(sent(&trace, "AT+QFTPOPEN=").len(), 2, "a new session for the retry");

    // The same for a download.
    let sim = SimProcess::start_with(&["--fail-data-connection"]);
    std::fs::write(sim.root.join("down.bin"), &data).unwrap();
    let dst = dir.path().join("down.bin");
    ok(&sim.qftp(&["--retries", "1", "get", "down.bin", path(&dst)]), "get --retries 1");
    assert!(std::fs::read(&dst).unwrap() == data, "the retried download differs");

    // The module stops taking an upload part-way, in the middle of a
    // chunk: the chunk times out, and the next try goes on from the
    // server's size, not from the start.
    let sim = SimProcess::start_with(&["--stall-upload-after", &STALL_AT.to_string()]);
    let trace = dir.path().join("cut.trace");
    let out = sim.qftp(&["--retries", "1", "--trace", path(&trace), "put", path(&src), "cut.bin"]);
    ok(&out, "put --retries 1 after a stalled upload");
    let err = text(&out.stderr);
    // The module gives up on the chunk itself (609), keeping what it had
    // stored before it.
    assert!(err.contains("put: module error 609 timeout; retry 1 of 1 in 1 s"), "{err}");
    assert!(std::fs::read(sim.root.join("cut.bin")).unwrap() == data, "the resumed upload differs");
    let at: usize = err
        .split("resumed at byte ")
        .nth(1)
        .and_then(|rest| rest.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("not resumed: {err}"));
    assert!(at > 0 && at <= STALL_AT, "resumed at {at}");
    let trace = std::fs::read_to_string(&trace).unwrap();
    let second = trace.split("> AT+QFTPOPEN=").nth(2).expect("a second session");
    let puts = sent(second, "AT+QFTPPUT=");
    let resumed = format!("> AT+QFTPPUT=\"cut.bin\",\"COM:\",{at},");
    assert!(puts.first().is_some_and(|l| l.starts_with(&resumed)), "{puts:?}");
}

#[test]
fn a_piped_shell_runs_every_command_in_one_session() {
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let data = qftp::demo::hostile_data(70_000, 8);
    let src = dir.path().join("src.bin");
    let dst = dir.path().join("dst.bin");
    std::fs::write(&src, &data).unwrap();
    let trace = dir.path().join("shell.trace");
    let script = format!(
        "# five commands, a comment and a blank line\n\nput {} 'in shell.bin'\nmkdir box\ncd box\npwd\ncd ..\nget 'in shell.bin' {}\n",
        path(&src),
        path(&dst)
    );
    let out = run_with_input(&mut sim.command(&["--trace", path(&trace), "shell"]), &script);
    assert_eq!(ok(&out, "shell"), "/box\n");
    assert!(std::fs::read(&dst).unwrap() == data, "downloaded copy differs");
    assert!(sim.root.join("box").is_dir());
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(sent(&trace, "AT+QFTPOPEN=").len(), 1, "one session");
    assert_eq!(sent(&trace, "AT+QFTPCLOSE").len(), 1, "closed once");
}

#[test]
fn a_piped_shell_stops_at_a_failing_command_unless_keep_going() {
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("shell.trace");
    let script = format!("mkdir first\nget missing.bin {}\nmkdir second\n", path(&dir.path().join("x")));
    let out = run_with_input(&mut sim.command(&["--trace", path(&trace), "shell"]), &script);
    assert_eq!(out.status.code(), Some(5), "the failing command's status: {}", text(&out.stderr));
    assert!(sim.root.join("first").is_dir() && !sim.root.join("second").exists());
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(sent(&trace, "AT+QFTPCLOSE").len(), 1, "the session is closed all the same");

    let out = run_with_input(&mut sim.command(&["shell", "--keep-going"]), &script.replace("first", "third"));
    assert_eq!(out.status.code(), Some(5), "the last failure's status: {}", text(&out.stderr));
    assert!(sim.root.join("third").is_dir() && sim.root.join("second").is_dir(), "it went on");
    assert!(text(&out.stderr).contains("get: file unavailable"), "{}", text(&out.stderr));

    // A line that does not parse is a usage error.
    let out = run_with_input(&mut sim.command(&["shell"]), "frobnicate\nmkdir fourth\n");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!sim.root.join("fourth").exists());
    // All went well: 0.
    let out = run_with_input(&mut sim.command(&["shell", "--keep-going"]), "pwd\n");
    assert_eq!(ok(&out, "shell --keep-going"), "/\n");
}

#[test]
fn ls_and_mlsd_json_list_what_the_directory_holds() {
    let sim = SimProcess::start();
    let listed = sim.root.join("listed");
    std::fs::create_dir_all(listed.join("sub dir")).unwrap();
    std::fs::write(listed.join("a.txt"), b"0123456789").unwrap();
    std::fs::write(listed.join("with space.bin"), vec![7u8; 1234]).unwrap();
    std::fs::write(listed.join("empty"), b"").unwrap();
    let mut expected = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&listed).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        let name = entry.file_name().into_string().unwrap();
        let (kind, size) = if meta.is_dir() { ("dir", None) } else { ("file", Some(meta.len())) };
        expected.insert((name, kind.to_owned(), size));
    }
    for command in ["ls", "mlsd"] {
        let out = ok(&sim.qftp(&[command, "--json", "listed"]), command);
        let mut got = std::collections::BTreeSet::new();
        for line in out.lines() {
            let entry: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            let name = entry["name"].as_str().unwrap().to_owned();
            let kind = entry["kind"].as_str().unwrap().to_owned();
            let size = if kind == "file" { entry["size"].as_u64() } else { None };
            let modified = entry["modified"].as_str().unwrap_or_else(|| panic!("{command}: no time: {line}"));
            assert!(modified.len() >= 19 && &modified[10..11] == "T", "{line}");
            if command == "mlsd" {
                assert!(modified.ends_with('Z'), "MLSD times are UTC: {line}");
            }
            got.insert((name, kind, size));
        }
        assert_eq!(got, expected, "{command} --json:\n{out}");
    }
}

/// A pseudo-terminal pair for a `qftp` that must see a terminal on stdin.
fn open_pty() -> (std::fs::File, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (0, 0);
    let none = std::ptr::null_mut();
    // SAFETY: openpty writes two new descriptors into `master` and
    // `slave`; the name, termios and window size pointers may be null.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, none, std::ptr::null(), std::ptr::null()) };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and owned by nothing else.
    unsafe { (std::fs::File::from_raw_fd(master), std::os::fd::OwnedFd::from_raw_fd(slave)) }
}

#[test]
fn the_shell_on_a_terminal_is_a_prompt_that_goes_on_after_a_failure() {
    use std::io::{Read as _, Write as _};
    use std::sync::{Arc, Mutex};
    let sim = SimProcess::start();
    let (mut master, slave) = open_pty();
    let mut command = sim.command(&["shell"]);
    command.stdin(slave.try_clone().unwrap()).stdout(slave);
    let child = command.spawn().expect("start qftp shell");
    drop(command);
    let screen = Arc::new(Mutex::new(String::new()));
    let mut reader = master.try_clone().unwrap();
    let shown = Arc::clone(&screen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        // Ends with EIO once qftp has exited.
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            shown.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let prompts = |n: usize| {
        let deadline = Instant::now() + RUN_LIMIT;
        while screen.lock().unwrap().matches("qftp> ").count() < n {
            assert!(Instant::now() < deadline, "no prompt {n}:\n{}", screen.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    prompts(1);
    master.write_all(b"get no-such.bin no-such.bin\r").unwrap();
    prompts(2);
    master.write_all(b"mkdir typed\r").unwrap();
    prompts(3);
    master.write_all(b"pwd\r").unwrap();
    prompts(4);
    // Ctrl-D ends the shell.
    master.write_all(b"\x04").unwrap();
    let out = finish(child, RUN_LIMIT).expect("qftp shell ends at Ctrl-D");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("qftp: get: file unavailable"), "the failure is printed: {err}");
    assert!(sim.root.join("typed").is_dir(), "the prompt went on after the failure");
    assert!(screen.lock().unwrap().contains("/\r\n"), "{}", screen.lock().unwrap());
}

/// `qftp ufs ...` and `--via-ufs` through the binary and `qftp-sim` (issue
/// 16): the file store survives between runs of the same module, the
/// transcript shows no `AT+QFTPOPEN` for the store's own commands, and a
/// `--via-ufs` run leaves nothing staged.
#[test]
fn the_file_store_from_the_command_line() {
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let trace = dir.path().join("trace.txt");
    let out = sim.qftp(&["--trace", path(&trace), "ufs", "put", "--ack", path(&src), "staged.bin"]);
    ok(&out, "ufs put");
    let transcript = std::fs::read_to_string(&trace).unwrap();
    assert!(sent(&transcript, "AT+QFUPL=").len() == 1, "{transcript}");
    assert!(sent(&transcript, "AT+QFTPOPEN").is_empty(), "no session for the store: {transcript}");
    assert_eq!(ok(&sim.qftp(&["ufs", "ls"]), "ufs ls"), "staged.bin\t50000\n");
    let back = dir.path().join("back.bin");
    ok(&sim.qftp(&["ufs", "get", "staged.bin", path(&back)]), "ufs get");
    assert!(std::fs::read(&back).unwrap() == data);
    ok(&sim.qftp(&["ufs", "rm", "staged.bin"]), "ufs rm");
    let missing = sim.qftp(&["ufs", "rm", "staged.bin"]);
    assert_eq!(missing.status.code(), Some(5), "{}", text(&missing.stderr));
    assert!(ok(&sim.qftp(&["ufs", "df"]), "ufs df").starts_with("free "));
    ok(&sim.qftp(&["put", "--via-ufs", path(&src), "via.bin"]), "put --via-ufs");
    assert!(std::fs::read(sim.root.join("via.bin")).unwrap() == data);
    let down = dir.path().join("down.bin");
    ok(&sim.qftp(&["get", "--via-ufs", "via.bin", path(&down)]), "get --via-ufs");
    assert!(std::fs::read(&down).unwrap() == data);
    assert_eq!(ok(&sim.qftp(&["ufs", "ls"]), "ufs ls"), "", "nothing staged is left");
    // `--ca-cert` without FTPS is a usage error.
    let usage = sim.qftp(&["--ca-cert", path(&src), "pwd"]);
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage.stderr));
}

// ----- --dtr ---------------------------------------------------------------

/// What qftp's transcript says of the built-in simulator's module at the
/// end of a run: how many times it left data mode by DTR and by `+++`.
fn escape_counts(trace: &str) -> Vec<&str> {
    trace.lines().filter_map(|line| line.split_once("simulator: escapes from data mode: ")).map(|(_, n)| n).collect()
}

/// `--dtr` with the built-in simulator (no `--device`), in one shell
/// session: `put` hands the driver a reader, so an upload of a file longer
/// than the chunk buffer is one upload of unknown length (`AT+QFTPPUT`
/// without `<uploadlen>`), which ends by a DTR edge; `get` brings the file
/// back byte-exact. The module itself (the simulator counts how it left
/// data mode, and qftp writes the counts to the transcript) saw one edge
/// and no `+++`. The same run without `--dtr` shows no edge and no `AT&D1`:
/// the counts are the module's, not a constant.
#[test]
fn dtr_ends_an_upload_of_unknown_length_on_the_built_in_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let data = qftp::demo::hostile_data(200_000, 21);
    let src = dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    for dtr in [true, false] {
        let dst = dir.path().join(format!("dst-{dtr}.bin"));
        let trace = dir.path().join(format!("dtr-{dtr}.trace"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_qftp"));
        if dtr {
            command.arg("--dtr");
        }
        command
            .args(["--timeout", "20", "--trace", path(&trace), "shell"])
            .env_remove("QFTP_PASSWORD")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let script = format!("put {} up.bin\nget up.bin {}\n", path(&src), path(&dst));
        let out = run_with_input(&mut command, &script);
        ok(&out, &format!("shell, --dtr {dtr}"));
        assert!(std::fs::read(&dst).unwrap() == data, "--dtr {dtr}: the downloaded copy differs");
        let trace = std::fs::read_to_string(&trace).unwrap();
        let counts = escape_counts(&trace);
        if dtr {
            assert_eq!(sent(&trace, "AT&D1").len(), 1, "{trace}");
            assert_eq!(sent(&trace, "AT+QFTPPUT="), [r#"> AT+QFTPPUT="up.bin","COM:",0"#], "{trace}");
            let upload = trace.split("> AT+QFTPPUT=").nth(1).unwrap();
            assert!(upload.contains("> DTR edge") && !upload.contains("> +++"), "{trace}");
            assert_eq!(counts, ["1 by DTR, 0 by +++"], "{trace}");
        } else {
            assert!(sent(&trace, "AT&D").is_empty() && !trace.contains("DTR edge"), "{trace}");
            // Counted uploads, or on a slow machine one ended by `+++`.
            assert!(matches!(counts[..], [n] if n.starts_with("0 by DTR, ")), "{trace}");
        }
    }
}

/// `--dtr` on a pty, which cannot carry DTR: qftp says so once on stderr
/// and once in the transcript, the client falls back to a guarded `+++` at
/// the end of the upload of unknown length, and the file is byte-exact.
#[test]
fn dtr_on_a_pty_falls_back_to_a_guarded_escape_and_says_so_once() {
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let data = qftp::demo::hostile_data(100_000, 22);
    let src = dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let trace = dir.path().join("pty.trace");
    let out = sim.qftp(&["--dtr", "--trace", path(&trace), "put", path(&src), "up.bin"]);
    ok(&out, "put --dtr on a pty");
    assert!(std::fs::read(sim.root.join("up.bin")).unwrap() == data, "the uploaded copy differs");
    let err = text(&out.stderr);
    assert_eq!(err.matches("cannot drive DTR").count(), 1, "{err}");
    assert!(err.starts_with(&format!("qftp: --dtr: {}: cannot drive DTR: ", sim.pty)), "{err}");
    assert!(err.contains("100000 bytes"), "{err}");
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(trace.matches("DTR cannot be driven").count(), 1, "{trace}");
    assert_eq!(sent(&trace, "AT&D1").len(), 1, "{trace}");
    let upload = trace.split(r#"> AT+QFTPPUT="up.bin","COM:",0"#).nth(1).expect("one upload of unknown length");
    assert!(upload.contains("> +++") && !trace.contains("> DTR edge"), "{trace}");
}
