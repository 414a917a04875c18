//! Error paths: each gives the right typed error, and the operation after it
//! works.

mod common;
use common::*;

use embassy_time::{Duration, Instant};
use quectel_ftp::{CmeError, Error, Ftp, FtpReply, ModuleError, PdpConfig, Transfer, GUARD};

fn ftp_err(module: ModuleError, reply: Option<FtpReply>) -> Error {
    Error::Ftp { module, reply }
}

#[test]
fn login_refused_530_is_typed_and_open_works_after() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .deferred("AT+QFTPOPEN=\"h\",21", "+QFTPOPEN: 625,530")
            .then(open_ok())
            .deferred("AT+QFTPSIZE=\"a\"", "+QFTPSIZE: 0,7"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        let e = ftp.open("h", 21).await.unwrap_err();
        assert_eq!(e, ftp_err(ModuleError::NotLoggedIn, Some(FtpReply::NotLoggedIn)));
        assert!(!ftp.is_open());
        // Nothing is sent for an operation without a session.
        assert_eq!(ftp.size("a").await, Err(Error::NotOpen));
        ftp.open("h", 21).await.unwrap();
        assert!(ftp.is_open());
        assert_eq!(ftp.size("a").await, Ok(7));
    });
    modem.finished();
}

#[test]
fn missing_file_550_on_size_cwd_delete_and_get() {
    let _c = clock();
    let e550 = "627,550";
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPSIZE=\"nope\"", &format!("+QFTPSIZE: {e550}"))
            .deferred("AT+QFTPSIZE=\"a\"", "+QFTPSIZE: 0,3")
            .deferred("AT+QFTPCWD=\"nodir\"", &format!("+QFTPCWD: {e550}"))
            .deferred("AT+QFTPCWD=\"dir\"", "+QFTPCWD: 0,0")
            .deferred("AT+QFTPDEL=\"nope\"", &format!("+QFTPDEL: {e550}"))
            .deferred("AT+QFTPDEL=\"a\"", "+QFTPDEL: 0,0")
            // `get` asks the size first: a 550 there ends it, no GET is sent.
            .deferred("AT+QFTPSIZE=\"nope\"", &format!("+QFTPSIZE: {e550}"))
            // The size is known but the GET itself fails (file removed meanwhile).
            .deferred("AT+QFTPSIZE=\"gone\"", "+QFTPSIZE: 0,10")
            .cmd("AT+QFTPGET=\"gone\",\"COM:\",0,10")
            .lines(&[&format!("+QFTPGET: {e550}")])
            // A reply code outside the reference's table is kept.
            .deferred("AT+QFTPSIZE=\"busy\"", "+QFTPSIZE: 0,10")
            .cmd("AT+QFTPGET=\"busy\",\"COM:\",0,10")
            .lines(&["OK", "+QFTPGET: 627,150"])
            .deferred("AT+QFTPSIZE=\"a\"", "+QFTPSIZE: 0,3")
            .then(get_whole("a", b"abc")),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let not_found = ftp_err(ModuleError::ActionNotTaken, Some(FtpReply::FileUnavailable));
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.size("nope").await, Err(not_found));
        assert_eq!(ftp.size("a").await, Ok(3));
        assert_eq!(ftp.cwd("nodir").await, Err(not_found));
        assert_eq!(ftp.cwd("dir").await, Ok(()));
        assert_eq!(ftp.delete("nope").await, Err(not_found));
        assert_eq!(ftp.delete("a").await, Ok(()));
        let mut sink = Sink(Vec::new());
        assert_eq!(ftp.get("nope", &mut sink, Transfer::default()).await, Err(not_found));
        assert_eq!(ftp.get("gone", &mut sink, Transfer::default()).await, Err(not_found));
        let other = ftp_err(ModuleError::ActionNotTaken, Some(FtpReply::Other(150)));
        assert_eq!(ftp.get("busy", &mut sink, Transfer::default()).await, Err(other));
        assert!(sink.0.is_empty());
        assert!(ftp.is_open());
        assert_eq!(ftp.get("a", &mut sink, Transfer::default()).await, Ok(3));
        assert_eq!(sink.0, b"abc");
    });
    modem.finished();
}

#[test]
fn dns_failure_604_and_closed_port_606_then_open_works() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .deferred("AT+QFTPOPEN=\"h\",21", "+QFTPOPEN: 604,0")
            .deferred("AT+QFTPOPEN=\"h\",21", "+QFTPOPEN: 606,0")
            .then(open_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        assert_eq!(ftp.open("h", 21).await, Err(ftp_err(ModuleError::DnsFailed, None)));
        assert!(!ftp.is_open());
        assert_eq!(ftp.open("h", 21).await, Err(ftp_err(ModuleError::ControlClosed, None)));
        ftp.open("h", 21).await.unwrap();
        assert!(ftp.is_open());
    });
    modem.finished();
}

#[test]
fn module_timeout_609_is_a_typed_result_not_a_driver_timeout() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .deferred("AT+QFTPOPEN=\"h\",21", "+QFTPOPEN: 609,0")
            .then(open_ok())
            .deferred("AT+QFTPSIZE=\"a\"", "+QFTPSIZE: 609,0")
            .deferred("AT+QFTPCWD=\"d\"", "+QFTPCWD: 0,0"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        assert_eq!(ftp.open("h", 21).await, Err(ftp_err(ModuleError::Timeout, None)));
        ftp.open("h", 21).await.unwrap();
        let t0 = Instant::now();
        assert_eq!(ftp.size("a").await, Err(ftp_err(ModuleError::Timeout, None)));
        assert!(Instant::now() - t0 < Duration::from_secs(1), "a 609 result must not wait for a timeout");
        // No resync, no close: the next command goes straight out.
        ftp.cwd("d").await.unwrap();
    });
    modem.finished();
}

#[test]
fn data_connection_failed_615_as_cme_and_as_result() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            // GET refused at once.
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,4")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,4")
            .lines(&["+CME ERROR: 615"])
            // GET accepted, then the data connection fails.
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,4")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,4")
            .lines(&["OK"])
            .lines(&["+QFTPGET: 615,425"])
            // A listing and an upload fail the same two ways.
            .cmd("AT+QFTPLIST=\".\",\"COM:\"")
            .lines(&["+CME ERROR: 615"])
            .cmd("AT+QFTPNLST=\".\",\"COM:\"")
            .lines(&["+QFTPNLST: 615,0"])
            .cmd("AT+QFTPPUT=\"up\",\"COM:\",0,3,1")
            .lines(&["+CME ERROR: 615"])
            .cmd("AT+QFTPPUT=\"up\",\"COM:\",0,3,1")
            .lines(&["OK", "+QFTPPUT: 615,425"])
            .cmd("AT+QFTPPUT=\"up\",\"COM:\",0")
            .lines(&["+QFTPPUT: 615,0"])
            // And then everything works.
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,4")
            .then(get_whole("f", b"data"))
            .then(put_chunk("up", 0, b"xyz", true)),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let cme615 = Error::Cme(CmeError::Code(615));
    let res615 = ftp_err(ModuleError::DataOpenFailed, Some(FtpReply::CantOpenDataConnection));
    run(LONG, async {
        up(&mut ftp).await;
        let mut sink = Sink(Vec::new());
        let e = ftp.get("f", &mut sink, Transfer::default()).await.unwrap_err();
        assert_eq!(e, cme615);
        assert!(matches!(e, Error::Cme(c) if c.module() == Some(ModuleError::DataOpenFailed)));
        assert_eq!(ftp.get("f", &mut sink, Transfer::default()).await, Err(res615));
        assert_eq!(ftp.list(quectel_ftp::Listing::List, ".", &mut sink).await, Err(cme615));
        assert_eq!(
            ftp.list(quectel_ftp::Listing::Nlst, ".", &mut sink).await,
            Err(ftp_err(ModuleError::DataOpenFailed, None))
        );
        assert!(sink.0.is_empty());
        assert_eq!(ftp.put("up", &mut Source(b"xyz"), Transfer::default()).await, Err(cme615));
        assert_eq!(ftp.put("up", &mut Source(b"xyz"), Transfer::default()).await, Err(res615));
        assert_eq!(
            ftp.put_escaped("up", &mut Source(b"xyz"), Transfer::default()).await,
            Err(ftp_err(ModuleError::DataOpenFailed, None))
        );
        assert_eq!(ftp.get("f", &mut sink, Transfer::default()).await, Ok(4));
        assert_eq!(sink.0, b"data");
        assert_eq!(ftp.put("up", &mut Source(b"xyz"), Transfer::default()).await, Ok(3));
    });
    modem.finished();
}

#[test]
fn close_rides_out_cme_603_until_the_close_result() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            // Busy: the pending close's result comes a little later.
            .cmd("AT+QFTPCLOSE")
            .lines(&["+CME ERROR: 603"])
            .pause(Duration::from_millis(600))
            .lines(&["+QFTPCLOSE: 0,0"])
            // Asked again once the module is free: nothing left to close.
            .cmd("AT+QFTPCLOSE")
            .lines(&["+CME ERROR: 601"])
            .then(open_ok())
            // Busy twice: the client asks again until the result comes.
            .cmd("AT+QFTPCLOSE")
            .lines(&["+CME ERROR: 603"])
            .cmd("AT+QFTPCLOSE")
            .lines(&["+CME ERROR: 603"])
            .pause(Duration::from_millis(300))
            .lines(&["+QFTPCLOSE: 0,0"])
            .cmd("AT+QFTPCLOSE")
            .lines(&["ERROR"])
            .then(open_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        let t0 = Instant::now();
        ftp.close().await.unwrap();
        assert!(Instant::now() - t0 >= Duration::from_millis(600), "close returned before +QFTPCLOSE");
        assert!(!ftp.is_open());
        ftp.open("h", 21).await.unwrap();
        ftp.close().await.unwrap();
        assert!(!ftp.is_open());
        ftp.open("h", 21).await.unwrap();
    });
    modem.finished();
}

#[test]
fn plain_error_is_at_error_and_next_command_works() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPCWD=\"d\"")
            .lines(&["ERROR"])
            .deferred("AT+QFTPCWD=\"d\"", "+QFTPCWD: 0,0")
            .cmd("AT+QFTPCFG=\"contextid\",1")
            .lines(&["ERROR"])
            .deferred("AT+QFTPMKDIR=\"m\"", "+QFTPMKDIR: 0,0"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.cwd("d").await, Err(Error::AtError));
        ftp.cwd("d").await.unwrap();
        assert_eq!(ftp.configure(&Default::default(), None).await, Err(Error::AtError));
        ftp.mkdir("m").await.unwrap();
    });
    modem.finished();
}

#[test]
fn pdp_deactivated_during_a_download_then_recover_and_reopen() {
    let _c = clock();
    let first = vec![b'1'; 1000];
    let pdp = PdpConfig { apn: "apn", ..Default::default() };
    // A guarded `+++` the module (in command mode) does not answer, then
    // the probe, whose CR ends the `+++` line.
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,3000")
            .then(get_chunk("f", 0, 1000, &first))
            // The network drops the context; the module reports an error
            // result for the next chunk.
            .cmd("AT+QFTPGET=\"f\",\"COM:\",1000,1000")
            .lines(&["+QIURC: \"pdpdeact\",1"])
            .lines(&["+QFTPGET: 605,0"])
            // `recover(Some(&pdp))`.
            .expect(b"+++")
            .then(probe_cmd())
            .lines(&["ERROR", "+CMEE: 1", "OK"])
            .deferred("AT+QFTPCLOSE", "+QFTPCLOSE: 0,0")
            .ok("AT+QIDEACT=1")
            .ok("AT+QICSGP=1,1,\"apn\",\"\",\"\",0")
            .ok("AT+QIACT?")
            .then(registered())
            .ok("AT+QIACT=1")
            .cmd("AT+QIACT?")
            .lines(&["+QIACT: 1,1,1,\"10.0.0.9\"", "OK"])
            .then(open_ok())
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,2")
            .then(get_whole("f", b"ok")),
    );
    let mut buf = [0u8; 2048];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        let mut sink = Sink(Vec::new());
        let e = ftp.get("f", &mut sink, Transfer { start: 0, chunk: 1000, ..Transfer::default() }).await;
        assert_eq!(e, Err(Error::SessionClosed));
        assert_eq!(sink.0, first);
        assert!(!ftp.is_open());
        ftp.recover(Some(&pdp)).await.unwrap();
        ftp.open("h", 21).await.unwrap();
        let mut sink = Sink(Vec::new());
        assert_eq!(ftp.get("f", &mut sink, Transfer::default()).await, Ok(2));
        assert_eq!(sink.0, b"ok");
    });
    modem.finished();
}

#[test]
fn pdp_deactivated_while_idle_ends_the_session() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            // The URC of another context changes nothing.
            .cmd("AT+QFTPCWD=\"d\"")
            .lines(&["OK", "+QIURC: \"pdpdeact\",2", "+QFTPCWD: 0,0"])
            // Ours: the command fails and the client says why.
            .cmd("AT+QFTPCWD=\"d\"")
            .lines(&["+QIURC: \"pdpdeact\",1", "+CME ERROR: 601"])
            .then(open_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        ftp.cwd("d").await.unwrap();
        assert!(ftp.is_open());
        assert_eq!(ftp.cwd("d").await, Err(Error::SessionClosed));
        assert!(!ftp.is_open());
        // Nothing is sent until the session is opened again.
        assert_eq!(ftp.cwd("d").await, Err(Error::NotOpen));
        ftp.open("h", 21).await.unwrap();
    });
    modem.finished();
}

#[test]
fn module_reset_mid_session_reinitialises_on_next_call() {
    let _c = clock();
    let pdp = PdpConfig::default();
    let modem = Modem::new(
        boot_open()
            // The module restarts while SIZE waits for its result: echo is
            // on again and no result will ever come.
            .cmd("AT+QFTPSIZE=\"f\"")
            .lines(&["OK"])
            .lines(&["RDY", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"])
            // Next call: ATE0 and AT+CMEE=1 again (echoed while echo is
            // on), then the call itself.
            .cmd("ATE0")
            .send(b"ATE0\r")
            .lines(&["OK"])
            .ok("AT+CMEE=1")
            .ok("AT+QICSGP=1,1,\"\",\"\",\"\",0")
            .ok("AT+QIACT?")
            .then(registered())
            .ok("AT+QIACT=1")
            .cmd("AT+QIACT?")
            .lines(&["+QIACT: 1,1,1,\"10.0.0.3\"", "OK"])
            .then(open_ok())
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,5"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        // `RDY` ends the wait at once: no result will ever come.
        let t0 = Instant::now();
        assert_eq!(ftp.size("f").await, Err(Error::SessionClosed));
        assert!(Instant::now() - t0 < Duration::from_secs(1));
        assert!(!ftp.is_open());
        let ip = ftp.activate(&pdp).await.unwrap();
        assert_eq!(ip.map(|a| a.to_ip()), Some("10.0.0.3".parse().ok()));
        ftp.open("h", 21).await.unwrap();
        assert_eq!(ftp.size("f").await, Ok(5));
    });
    modem.finished();
}

#[test]
fn silent_modem_at_init_times_out_then_init_works() {
    let _c = clock();
    let mut silent = escape_at_init();
    for _ in 0..10 {
        silent = silent.then(probe_cmd());
    }
    let modem = Modem::new(silent);
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let (r, took) = timed(LONG, ftp.init());
    assert_eq!(r, Err(Error::Timeout));
    // Two guard times around the escape, then ten probes of a second each.
    let least = GUARD * 2 + Duration::from_secs(10);
    assert!(took >= least && took <= least + Duration::from_secs(1), "init gave up after {took:?}");
    modem.finished();
    // The module wakes up; a stale OK comes before the probe's answer.
    modem.push(
        escape_at_init()
            .then(probe_cmd())
            .lines(&["OK", "+CMEE: 1", "OK"])
            .ok("ATE0")
            .ok("AT+CMEE=1")
            .cmd("AT+CPIN?")
            .lines(&["+CPIN: READY", "OK"])
            .then(open_ok()),
    );
    run(LONG, async {
        ftp.init().await.unwrap();
        ftp.open("h", 21).await.unwrap();
    });
    modem.finished();
}
