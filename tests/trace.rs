//! The AT trace (issue 17): with the `log` feature every line sent and
//! received goes to the `log` facade at trace level, payload summarised by
//! its length, credentials never. Run with
//! `cargo test -p quectel-ftp --features log --test trace`.
#![cfg(feature = "log")]

mod common;
use common::*;

use std::sync::Mutex;

use quectel_ftp::{Error, Ftp, FtpConfig, PdpConfig, Transfer};

/// What the client logged, one record a line.
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("quectel_ftp") {
            LINES.lock().unwrap().push(format!("{} {}", record.level(), record.args()));
        }
    }
    fn flush(&self) {}
}

/// The mock clock's lock, with the logger installed and the records so
/// far forgotten.
fn capture() -> std::sync::MutexGuard<'static, ()> {
    let guard = clock();
    let _ = log::set_logger(&Capture);
    log::set_max_level(log::LevelFilter::Trace);
    LINES.lock().unwrap().clear();
    guard
}

const SECRET: &str = "s3cr3t-pw";
const PIN: &str = "4711";

#[test]
fn a_whole_session_is_traced_line_by_line_and_no_credential_reaches_the_log() {
    let _c = capture();
    let payload = b"0123456789";
    let account = format!("AT+QFTPCFG=\"account\",\"{SECRET}\",\"{SECRET}\"");
    let modem = Modem::new(
        escape_at_init()
            .then(probe_cmd())
            .lines(&["ERROR", "+CMEE: 1", "OK"])
            .ok("ATE0")
            .ok("AT+CMEE=1")
            .cmd("AT+CPIN?")
            .lines(&["+CPIN: SIM PIN", "OK"])
            .ok(&format!("AT+CPIN=\"{PIN}\""))
            .cmd("AT+CPIN?")
            .lines(&["+CPIN: READY", "OK"])
            // The password in the APN user field too.
            .ok(&format!("AT+QICSGP=1,1,\"apn\",\"{SECRET}\",\"{SECRET}\",1"))
            .cmd("AT+QIACT?")
            .lines(&["+QIACT: 1,1,1,\"10.0.0.2\"", "OK"])
            .ok("AT+QFTPCFG=\"contextid\",1")
            .ok("AT+QFTPCFG=\"filetype\",0")
            .ok("AT+QFTPCFG=\"transmode\",1")
            .ok("AT+QFTPCFG=\"rsptimeout\",90")
            .ok("AT+QFTPCFG=\"ssltype\",0")
            .ok("AT+QFTPCFG=\"sslctxid\",0")
            .ok("AT+QFTPCFG=\"data_address\",0")
            .ok(&account)
            .then(open_ok())
            .then(put_chunk("f", 0, payload, true))
            .then(close_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init_with_pin(PIN).await.unwrap();
        let pdp = PdpConfig {
            apn: "apn",
            user: SECRET,
            password: SECRET,
            auth: quectel_ftp::Auth::Pap,
            ..Default::default()
        };
        ftp.activate(&pdp).await.unwrap();
        ftp.configure(&FtpConfig { user: SECRET, password: SECRET, ..Default::default() }, None).await.unwrap();
        ftp.open("h", 21).await.unwrap();
        assert_eq!(ftp.put("f", &mut Source(payload), Transfer::default()).await, Ok(10));
        ftp.close().await.unwrap();
    });
    modem.finished();
    let lines = LINES.lock().unwrap().clone();
    let trace: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("TRACE ")).collect();
    let all = lines.join("\n");
    // No credential anywhere, though every one of them went on the wire.
    assert!(modem.written().windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    assert!(!all.contains(SECRET), "{all}");
    assert!(!all.contains(PIN), "{all}");
    // Every command, as sent (credentials as ***), in order.
    let sent: Vec<&str> = trace.iter().filter_map(|l| l.strip_prefix("> ")).collect();
    let expected = [
        "+++",
        "\\rAT+CMEE?",
        "ATE0",
        "AT+CMEE=1",
        "AT+CPIN?",
        "AT+CPIN=\"***\"",
        "AT+CPIN?",
        "AT+QICSGP=1,1,\"apn\",\"***\",\"***\",1",
        "AT+QIACT?",
        "AT+QFTPCFG=\"contextid\",1",
        "AT+QFTPCFG=\"filetype\",0",
        "AT+QFTPCFG=\"transmode\",1",
        "AT+QFTPCFG=\"rsptimeout\",90",
        "AT+QFTPCFG=\"ssltype\",0",
        "AT+QFTPCFG=\"sslctxid\",0",
        "AT+QFTPCFG=\"data_address\",0",
        "AT+QFTPCFG=\"account\",\"***\",\"***\"",
        "AT+QFTPOPEN=\"h\",21",
        "AT+QFTPPUT=\"f\",\"COM:\",0,10,1",
        "10 bytes of data",
        "AT+QFTPCLOSE",
    ];
    assert_eq!(sent, expected);
    // Every answer, with the data summarised.
    let received: Vec<&str> = trace.iter().filter_map(|l| l.strip_prefix("< ")).collect();
    for answer in ["ERROR", "+CMEE: 1", "+CPIN: SIM PIN", "+CPIN: READY", "+QIACT: 1,1,1,\"10.0.0.2\"", "CONNECT"] {
        assert!(received.contains(&answer), "{answer:?} not in {received:?}");
    }
    for answer in ["+QFTPOPEN: 0,0", "+QFTPPUT: 0,10", "+QFTPCLOSE: 0,0"] {
        assert!(received.contains(&answer), "{answer:?} not in {received:?}");
    }
    let oks = received.iter().filter(|l| **l == "OK").count();
    assert_eq!(oks, 19, "{received:?}");
}

/// What is left of a broken-off download's payload, escaped at the next
/// call, is traced by its length as payload is, not as lines of text.
#[test]
fn a_broken_off_download_s_remainder_is_not_traced_as_text() {
    let _c = capture();
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,100000")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,100000")
            .lines(&["CONNECT"])
            .send(b"first part\r\n")
            .expect(b"+++")
            .in_flight(b"private-remainder\r\nOK\r\n")
            .lines(&["OK"])
            .then(probe())
            .then(close_ok()),
    );
    let mut buf = [0u8; 512];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    poll_then_drop(200, ftp.get("f", &mut Sink(Vec::new()), Transfer::default()));
    run(LONG, async { assert_eq!(ftp.cwd("/").await, Err(Error::NotOpen)) });
    modem.finished();
    let all = LINES.lock().unwrap().join("\n");
    assert!(!all.contains("private-remainder"), "{all}");
    assert!(all.contains("< a line of 17 bytes"), "{all}");
}
