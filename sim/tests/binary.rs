//! The `qftp-sim` binary on a pseudo-terminal and on TCP.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the simulator when the test ends, however it ends.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `qftp-sim` with `args` and returns it with its one stdout line.
fn start(args: &[&str]) -> (Sim, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qftp-sim")).args(args).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let sim = Sim(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    (sim, line.trim().to_owned())
}

/// Writes `cmd` and reads until `end`, polling a non-blocking link.
fn exchange(link: &mut (impl Read + Write), cmd: &[u8], end: &[u8]) -> Vec<u8> {
    link.write_all(cmd).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(end) {
        assert!(Instant::now() < deadline, "got {:?}", String::from_utf8_lossy(&got));
        match link.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => panic!("{e}"),
        }
    }
    got
}

#[test]
fn serves_a_pseudo_terminal() {
    let (_sim, path) = start(&[]);
    assert!(path.starts_with("/dev/pts/"), "{path}");
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&path)
        .unwrap();
    assert_eq!(exchange(&mut tty, b"ATE0\r", b"OK\r\n"), b"ATE0\r\r\nOK\r\n");
    assert_eq!(exchange(&mut tty, b"AT+CPIN?\r", b"OK\r\n"), b"\r\n+CPIN: READY\r\n\r\nOK\r\n");
}

#[test]
fn serves_tcp() {
    let (_sim, addr) = start(&["--tcp", "127.0.0.1:0"]);
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream.set_nonblocking(true).unwrap();
    assert_eq!(exchange(&mut stream, b"AT\r", b"OK\r\n"), b"AT\r\r\nOK\r\n");
}

#[test]
fn fault_options_set_the_faults() {
    let args = ["--tcp", "127.0.0.1:0", "--sim", "pin:1234", "--rssi", "7", "--registration-via", "gprs"];
    let (_sim, addr) = start(&args);
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream.set_nonblocking(true).unwrap();
    assert_eq!(exchange(&mut stream, b"ATE0\r", b"OK\r\n"), b"ATE0\r\r\nOK\r\n");
    assert_eq!(exchange(&mut stream, b"AT+CPIN?\r", b"OK\r\n"), b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n");
    assert_eq!(exchange(&mut stream, b"AT+CSQ\r", b"OK\r\n"), b"\r\n+CSQ: 7,99\r\n\r\nOK\r\n");
    assert_eq!(exchange(&mut stream, b"AT+CPIN=\"1234\"\r", b"OK\r\n"), b"\r\nOK\r\n");
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(exchange(&mut stream, b"AT+CGREG?\r", b"OK\r\n"), b"\r\n+CGREG: 0,1\r\n\r\nOK\r\n");
}

#[test]
fn a_bad_fault_option_is_a_usage_error() {
    for args in [&["--sim", "pin"][..], &["--urcs-in-windows", "300"], &["--registration-via", "lte"], &["--rssi"]] {
        let status = Command::new(env!("CARGO_BIN_EXE_qftp-sim")).args(args).stderr(Stdio::null()).status().unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn help_lists_the_options_and_an_unknown_option_is_a_usage_error() {
    let help = Command::new(env!("CARGO_BIN_EXE_qftp-sim")).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8(help.stdout).unwrap();
    for option in ["--tcp", "--with-server", "--sim <STATE>", "--registration-via <DOMAIN>", "--version"] {
        assert!(text.contains(option), "{option} missing from:\n{text}");
    }
    let version = Command::new(env!("CARGO_BIN_EXE_qftp-sim")).arg("--version").output().unwrap();
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(String::from_utf8(version.stdout).unwrap(), format!("qftp-sim {}\n", env!("CARGO_PKG_VERSION")));
    for args in [&["--no-such-option"][..], &["--tcp"], &["stray"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_qftp-sim")).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing is served");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: ") && stderr.contains("'--help'"), "{args:?}: {stderr}");
    }
}
