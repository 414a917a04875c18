//! The `qftp` binary's bring-up options against its built-in simulator,
//! as separate processes: the SIM's PIN (`--pin`, `QFTP_PIN`), network
//! registration (`--registration-timeout`), and the simulator's fault
//! switches that break them.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// No run here may take longer (each takes a few seconds).
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// `qftp` with `args`, on the built-in simulator, without a PIN from the
/// environment.
fn qftp(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qftp"));
    command
        .args(["--timeout", "20"])
        .args(args)
        .env_remove("QFTP_PIN")
        .env_remove("QFTP_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `command` to its end, within [`RUN_LIMIT`].
fn run(mut command: Command) -> Output {
    let mut child = command.spawn().expect("start qftp");
    let deadline = Instant::now() + RUN_LIMIT;
    while child.try_wait().expect("wait for qftp").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("qftp {command:?} did not finish within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("collect qftp's output")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts `out` failed with `code` and printed nothing on stdout; returns
/// its stderr.
fn failed(out: &Output, code: i32) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(text(&out.stdout), "", "stderr: {err}");
    err
}

#[test]
fn a_pin_locked_sim_is_unlocked_with_pin() {
    let out = run(qftp(&["--sim", "pin:1234", "--pin", "1234", "pwd"]));
    assert!(out.status.success(), "{:?}: {}", out.status, text(&out.stderr));
    assert_eq!(text(&out.stdout), "/\n");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn the_pin_can_come_from_the_environment() {
    let mut command = qftp(&["--sim", "pin:5678", "pwd"]);
    command.env("QFTP_PIN", "5678");
    let out = run(command);
    assert!(out.status.success(), "{:?}: {}", out.status, text(&out.stderr));
    assert_eq!(text(&out.stdout), "/\n");
}

#[test]
fn a_pin_locked_sim_without_pin_fails_and_says_how_to_give_it() {
    let out = run(qftp(&["--sim", "pin:1234", "pwd"]));
    let err = failed(&out, 4);
    assert_eq!(err, "qftp: init: SIM: PIN required; give it with --pin or the QFTP_PIN environment variable\n");
}

#[test]
fn a_wrong_pin_is_reported_and_never_shown() {
    let out = run(qftp(&["--sim", "pin:1234", "--pin", "4321", "pwd"]));
    let err = failed(&out, 4);
    assert!(err.starts_with("qftp: init: SIM: wrong PIN; "), "{err}");
    assert!(err.contains("three wrong PINs"), "{err}");
    assert!(!err.contains("4321"), "the PIN is shown: {err}");
}

#[test]
fn a_pin_that_is_not_4_to_8_digits_is_a_usage_error_that_does_not_show_it() {
    for pin in ["12a4", "123", "123456789"] {
        let out = run(qftp(&["--sim", "pin:1234", "--pin", pin, "pwd"]));
        let err = failed(&out, 2);
        assert_eq!(err, "qftp: usage: the PIN (--pin or QFTP_PIN) must be 4 to 8 digits\n");
    }
    // Nor does the help show the PIN in the environment.
    let mut help = qftp(&["--help"]);
    help.env("QFTP_PIN", "86420");
    let out = run(help);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("[env: QFTP_PIN]"), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("86420"), "the help shows the PIN");
}

#[test]
fn a_denied_registration_fails_activation() {
    let out = run(qftp(&["--registration-stat", "3", "--rssi", "9", "pwd"]));
    let err = failed(&out, 4);
    assert_eq!(
        err,
        "qftp: activate: not registered with the network (state 3, signal 9): \
         the network denied registration (-95 dBm)\n"
    );
}

#[test]
fn registration_is_waited_for_up_to_the_timeout() {
    // A search of 2.5 s is waited out ...
    let out = run(qftp(&["--registration-delay-ms", "2500", "--registration-via", "gprs", "pwd"]));
    assert!(out.status.success(), "{:?}: {}", out.status, text(&out.stderr));
    assert_eq!(text(&out.stdout), "/\n");
    // ... one of a minute is not, with --registration-timeout 1.
    let started = Instant::now();
    let out = run(qftp(&["--registration-delay-ms", "60000", "--registration-timeout", "1", "pwd"]));
    let err = failed(&out, 4);
    assert!(
        err.starts_with("qftp: activate: not registered with the network (state 2, signal 20): still searching"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

#[test]
fn simulator_faults_do_not_go_with_a_device() {
    for fault in [&["--sim", "puk"][..], &["--eof-as-550"], &["--registration-stat", "3"]] {
        let mut args = vec!["--device", "/dev/null", "--host", "localhost"];
        args.extend_from_slice(fault);
        args.push("pwd");
        let out = run(qftp(&args));
        let err = failed(&out, 2);
        assert!(err.contains("cannot be used with"), "{err}");
    }
    let out = run(qftp(&["--sim", "locked", "pwd"]));
    let err = failed(&out, 2);
    assert!(err.contains("ready, pin:PIN, puk, not-inserted, failure or busy:N"), "{err}");
}
