//! A run that died mid-transfer (an MCU reset, a killed process) must never
//! corrupt the next one: `init` writes nothing into an open data-mode
//! transfer, and the dead run's leftovers are cleaned up.

mod common;

use common::*;
use embassy_time::{Duration, Instant};
use quectel_ftp::{Error, Ftp, Transfer, GUARD};

/// The rest of a bring-up after the escape's answer: the probe (answered
/// as given), echo off, numeric errors, SIM ready.
fn after_escape(probe_answer: &[&str]) -> Script {
    probe_cmd().lines(probe_answer).ok("ATE0").ok("AT+CMEE=1").cmd("AT+CPIN?").lines(&["+CPIN: READY", "OK"])
}

/// Checks the guard: the first write is the escape, alone, after at least
/// `GUARD` of silence from `t0`, and the next write comes at least `GUARD`
/// after it.
fn assert_guarded_escape_first(modem: &Modem, t0: Instant) {
    let w = writes(modem);
    assert_eq!(w[0].1, b"+++", "the first bytes written must be the escape, alone");
    assert!(w[0].0 - t0 >= GUARD, "only {:?} of silence before +++", w[0].0 - t0);
    assert!(w[1].0 - w[0].0 >= GUARD, "only {:?} of silence after +++", w[1].0 - w[0].0);
}

#[test]
fn init_escapes_an_upload_left_open_and_the_next_call_closes_its_session() {
    let _c = clock();
    // The module is inside `AT+QFTPPUT="f","COM:",0,1024,0` of a dead run
    // and still expects 1,000 bytes: anything but a guarded escape becomes
    // file data. It answers the escape with `OK` and the chunk's result.
    let modem = Modem::new(
        escape_at_init()
            .lines(&["OK", "+QFTPPUT: 0,24"])
            .then(after_escape(&["+CMEE: 1", "OK"]))
            // The dead run's session is still open: closed before the open.
            .then(close_ok())
            .then(open_ok())
            .then(put_chunk("f", 0, b"fresh", true)),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let t0 = Instant::now();
    run(LONG, async {
        ftp.init().await.unwrap();
        ftp.open("h", 21).await.unwrap();
        assert_eq!(ftp.put("f", &mut Source(b"fresh"), Transfer::default()).await, Ok(5));
    });
    modem.finished();
    assert_guarded_escape_first(&modem, t0);
}

#[test]
fn init_of_a_module_in_command_mode_takes_the_stray_escape_as_an_error() {
    let _c = clock();
    // Not in data mode: `+++` is the start of a command line, which the
    // probe's CR ends; the module answers `ERROR`.
    let modem = Modem::new(escape_at_init().then(after_escape(&["ERROR", "+CMEE: 1", "OK"])).then(open_ok()));
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let t0 = Instant::now();
    let (r, took) = timed(LONG, ftp.init());
    assert_eq!(r, Ok(()));
    // The cost: one guard cycle on top of the exchanges.
    assert!(took >= GUARD * 2 && took < GUARD * 2 + Duration::from_millis(100), "init took {took:?}");
    // No close first: nothing said a session was left open.
    run(LONG, async { ftp.open("h", 21).await.unwrap() });
    modem.finished();
    assert_guarded_escape_first(&modem, t0);
}

#[test]
fn a_module_that_prints_rdy_while_init_listens_gets_no_escape() {
    let _c = clock();
    let modem = Modem::new(
        Script::new()
            .pause(Duration::from_millis(300))
            .lines(&["RDY"])
            .then(after_escape(&["+CMEE: 1", "OK"]))
            .then(open_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        ftp.open("h", 21).await.unwrap();
    });
    modem.finished();
    assert!(!modem.written().windows(3).any(|w| w == b"+++"), "a module that just started got +++");
}

#[test]
fn init_fresh_probes_at_once() {
    let _c = clock();
    let modem = Modem::new(after_escape(&["+CMEE: 1", "OK"]));
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let t0 = Instant::now();
    run(LONG, async { ftp.init_fresh().await.unwrap() });
    modem.finished();
    assert!(writes(&modem)[0].0 - t0 < Duration::from_millis(10), "init_fresh waited before its probe");
}

#[test]
fn open_that_finds_a_dead_runs_session_closes_it_and_opens_again() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            // The dead run's session is open: FTP commands answer 603.
            .cmd("AT+QFTPOPEN=\"h\",21")
            .lines(&["+CME ERROR: 603"])
            .then(close_ok())
            .then(open_ok())
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,7"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        ftp.open("h", 21).await.unwrap();
        assert!(ftp.is_open());
        assert_eq!(ftp.size("f").await, Ok(7));
    });
    modem.finished();
}

#[test]
fn open_gives_up_when_603_persists_after_the_close() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .cmd("AT+QFTPOPEN=\"h\",21")
            .lines(&["+CME ERROR: 603"])
            .then(close_ok())
            .cmd("AT+QFTPOPEN=\"h\",21")
            .lines(&["+CME ERROR: 603"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        assert_eq!(ftp.open("h", 21).await, Err(Error::Cme(quectel_ftp::CmeError::Code(603))));
        assert!(!ftp.is_open());
    });
    modem.finished();
}

#[test]
fn a_client_dropped_mid_chunk_leaves_nothing_a_new_client_writes_into_the_file() {
    let _c = clock();
    let data = hostile(3000);
    // The first client sends part of a chunk, its source stalls, and it is
    // dropped (an MCU reset); the module still waits for the rest.
    let modem =
        Modem::new(boot_open().cmd("AT+QFTPPUT=\"f\",\"COM:\",0,3000,1").lines(&["CONNECT"]).expect(&data[..448]));
    let mut buf = [0u8; 512];
    {
        let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
        run(LONG, async { up(&mut ftp).await });
        let mut src = Stalling(&data[..448]);
        let put = ftp.put_sized("f", &mut src, 3000, Transfer { start: 0, chunk: 3000, ..Transfer::default() });
        poll_then_drop(50, put);
    }
    let before = modem.written().len();
    // A new client on the same line: its first bytes are the guarded escape.
    modem.push(escape_at_init().lines(&["OK", "+QFTPPUT: 0,448"]).then(after_escape(&["+CMEE: 1", "OK"])));
    let mut buf = [0u8; 512];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let t0 = Instant::now();
    run(LONG, async { ftp.init().await.unwrap() });
    modem.finished();
    let w = writes(&modem);
    let first = w.iter().position(|(t, _)| *t >= t0).unwrap();
    assert_eq!(w[first].1, b"+++");
    assert!(w[first].0 - t0 >= GUARD);
    assert_eq!(modem.written()[before..before + 3], *b"+++");
}

/// A source that yields its bytes, then nothing ever again (a stalled
/// sensor).
struct Stalling<'a>(&'a [u8]);

impl embedded_io_async::ErrorType for Stalling<'_> {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Stalling<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if self.0.is_empty() {
            core::future::pending::<()>().await;
        }
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}
