//! Deadlines, the `+++` guard times and resynchronisation, all in simulated
//! time.

mod common;
use common::*;

use embassy_time::{Duration, Instant};
use quectel_ftp::{Error, Ftp, FtpConfig, PdpConfig, Transfer};

const S: fn(u64) -> Duration = Duration::from_secs;

/// `configure(&FtpConfig { rsp_timeout_s, ..Default::default() }, None)`.
fn configure(rsp_timeout_s: u8) -> Script {
    Script::new()
        .ok("AT+QFTPCFG=\"contextid\",1")
        .ok("AT+QFTPCFG=\"filetype\",0")
        .ok("AT+QFTPCFG=\"transmode\",1")
        .ok(&format!("AT+QFTPCFG=\"rsptimeout\",{rsp_timeout_s}"))
        .ok("AT+QFTPCFG=\"ssltype\",0")
        .ok("AT+QFTPCFG=\"sslctxid\",0")
        .ok("AT+QFTPCFG=\"data_address\",0")
        .ok("AT+QFTPCFG=\"account\",\"anonymous\",\"anonymous@\"")
}

fn assert_within(took: Duration, lo: Duration, hi: Duration) {
    assert!(took >= lo && took <= hi, "took {took:?}, expected {lo:?}..={hi:?}");
}

#[test]
fn silent_deferred_result_times_out_then_next_call_resyncs_closes_and_reports_not_open() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPSIZE=\"a\"")
            .lines(&["OK"])
            // Next call: the probe. A stale OK and the late SIZE result come
            // before the probe's own answer.
            .then(probe_cmd())
            .lines(&["OK", "+QFTPSIZE: 0,1000", "+CMEE: 1", "OK"])
            // The vendor's advice: close the session whose result never came.
            .then(close_ok())
            .then(open_ok())
            .deferred("AT+QFTPSIZE=\"b\"", "+QFTPSIZE: 0,2000"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    let (r, took) = timed(LONG, ftp.size("a"));
    assert_eq!(r, Err(Error::Timeout));
    // The default rsptimeout is 90 s; the driver allows 5 s more.
    assert_within(took, S(90), S(95) + Duration::from_millis(50));
    run(LONG, async {
        assert_eq!(ftp.size("b").await, Err(Error::NotOpen));
        assert!(!ftp.is_open());
        ftp.open("h", 21).await.unwrap();
        assert_eq!(ftp.size("b").await, Ok(2000));
    });
    modem.finished();
}

#[test]
fn deadlines_follow_the_configured_rsptimeout_and_a_late_answer_is_not_taken() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .then(configure(20))
            .then(open_ok())
            .cmd("AT+QFTPSIZE=\"a\"")
            .lines(&["OK"])
            .then(probe())
            // The late result arrives during the close and the reopen.
            .cmd("AT+QFTPCLOSE")
            .lines(&["+QFTPSIZE: 0,1000", "OK", "+QFTPCLOSE: 0,0"])
            .cmd("AT+QFTPOPEN=\"h\",21")
            .lines(&["OK", "+QFTPSIZE: 0,1000", "+QFTPOPEN: 0,0"])
            .deferred("AT+QFTPSIZE=\"b\"", "+QFTPSIZE: 0,2000")
            // An open that never answers: closed before the next command.
            .then(close_ok())
            .cmd("AT+QFTPOPEN=\"h\",21")
            .lines(&["OK"])
            .then(probe())
            .then(close_ok())
            .then(open_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        ftp.configure(&FtpConfig { rsp_timeout_s: 20, ..Default::default() }, None).await.unwrap();
        ftp.open("h", 21).await.unwrap();
    });
    let (r, took) = timed(LONG, ftp.size("a"));
    assert_eq!(r, Err(Error::Timeout));
    assert_within(took, S(20), S(25) + Duration::from_millis(50));
    run(LONG, async {
        assert_eq!(ftp.size("b").await, Err(Error::NotOpen));
        ftp.open("h", 21).await.unwrap();
        assert_eq!(ftp.size("b").await, Ok(2000));
        ftp.close().await.unwrap();
    });
    let (r, took) = timed(LONG, ftp.open("h", 21));
    assert_eq!(r, Err(Error::Timeout));
    assert_within(took, S(20), S(25) + Duration::from_millis(50));
    run(LONG, async { ftp.open("h", 21).await.unwrap() });
    modem.finished();
}

#[test]
fn quick_command_pdp_and_close_timeouts() {
    let _c = clock();
    let pdp = PdpConfig::default();
    let modem = Modem::new(
        boot()
            // A configuration command nobody answers: 5 s.
            .cmd("AT+QFTPCFG=\"contextid\",1")
            .then(probe())
            .then(configure(90))
            // AT+QIACT may take 150 s.
            .ok("AT+QICSGP=1,1,\"\",\"\",\"\",0")
            .ok("AT+QIACT?")
            .then(registered())
            .cmd("AT+QIACT=1")
            .then(probe())
            // AT+QIDEACT may take 40 s.
            .cmd("AT+QIDEACT=1")
            .then(probe())
            .ok("AT+QIDEACT=1")
            // A close that never finishes.
            .then(open_ok())
            .cmd("AT+QFTPCLOSE")
            .lines(&["OK"])
            .then(probe())
            .then(open_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { ftp.init().await.unwrap() });
    let (r, took) = timed(LONG, ftp.configure(&FtpConfig::default(), None));
    assert_eq!(r, Err(Error::Timeout));
    assert_within(took, S(5), S(5) + Duration::from_millis(50));
    run(LONG, async { ftp.configure(&FtpConfig::default(), None).await.unwrap() });
    let (r, took) = timed(LONG, ftp.activate(&pdp));
    assert_eq!(r, Err(Error::Timeout));
    assert_within(took, S(150), S(150) + Duration::from_millis(50));
    let (r, took) = timed(LONG, ftp.deactivate(1));
    assert_eq!(r, Err(Error::Timeout));
    assert_within(took, S(40), S(40) + Duration::from_millis(50));
    run(LONG, async {
        ftp.deactivate(1).await.unwrap();
        ftp.open("h", 21).await.unwrap();
    });
    let (r, took) = timed(LONG, ftp.close());
    assert_eq!(r, Err(Error::Timeout));
    assert_within(took, S(90), S(95) + Duration::from_millis(50));
    assert!(!ftp.is_open());
    run(LONG, async { ftp.open("h", 21).await.unwrap() });
    modem.finished();
}

#[test]
fn stalled_download_times_out_then_next_call_escapes_data_mode() {
    let _c = clock();
    let part = vec![0x5Au8; 100];
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,1000")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,1000")
            .send(b"\r\nCONNECT\r\n")
            .send(&part)
            // ... and nothing more. The next call leaves data mode first.
            .expect(b"+++")
            // The module answers after its own second of silence.
            .pause(S(1))
            .lines(&["OK"])
            .then(probe())
            .then(close_ok())
            .then(open_ok())
            // CONNECT never comes. It still may: the next call escapes
            // first, and the module, in command mode after all, takes the
            // `+++` as the start of a line that the probe's CR ends.
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,1000")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,1000")
            .expect(b"+++")
            .then(probe_cmd())
            .lines(&["ERROR", "+CMEE: 1", "OK"])
            .then(close_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let mut sink = Sink(Vec::new());
    run(LONG, async { up(&mut ftp).await });
    let t0 = Instant::now();
    let (r, took) = timed(LONG, ftp.get("f", &mut sink, Transfer::default()));
    assert_eq!(r, Err(Error::Timeout));
    // `rsptimeout` bounds the gap between two packets: 95 s after the last.
    assert_within(took, S(90), S(95) + Duration::from_millis(50));
    assert_eq!(sink.0, part);
    run(LONG, async { assert_eq!(ftp.cwd("/").await, Err(Error::NotOpen)) });
    let w = writes(&modem);
    let esc = find_write(&w, after_init(&w), b"+++").expect("no +++");
    assert!(w[esc].0 - t0 >= S(1));
    assert!(w[esc + 1].0 - w[esc].0 >= S(1), "probe sent within the guard time");
    run(LONG, async { ftp.open("h", 21).await.unwrap() });
    let (r, took) = timed(LONG, ftp.get("f", &mut sink, Transfer::default()));
    assert_eq!(r, Err(Error::Timeout));
    assert_within(took, S(90), S(95) + Duration::from_millis(50));
    run(LONG, async { assert_eq!(ftp.size("f").await, Err(Error::NotOpen)) });
    modem.finished();
}

#[test]
fn upload_without_result_times_out_and_next_call_resyncs() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPPUT=\"u\",\"COM:\",0,5,1")
            .lines(&["CONNECT"])
            .expect(b"hello")
            // Neither OK nor +QFTPPUT. The module may still be in data mode,
            // waiting for bytes the line lost: the next call escapes before
            // its first byte. The late answers come before the probe's.
            .expect(b"+++")
            .then(probe_cmd())
            .lines(&["OK", "+QFTPPUT: 0,5", "ERROR", "+CMEE: 1", "OK"])
            .then(close_ok())
            .then(open_ok())
            .then(put_chunk("u", 0, b"hello", true)),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    let (r, took) = timed(LONG, ftp.put("u", &mut Source(b"hello"), Transfer::default()));
    assert_eq!(r, Err(Error::Timeout));
    assert_within(took, S(90), S(95) + Duration::from_millis(50));
    run(LONG, async {
        assert_eq!(ftp.put("u", &mut Source(b"hello"), Transfer::default()).await, Err(Error::NotOpen));
        ftp.open("h", 21).await.unwrap();
        assert_eq!(ftp.put("u", &mut Source(b"hello"), Transfer::default()).await, Ok(5));
    });
    modem.finished();
}

#[test]
fn unanswered_probe_is_retried_after_an_escape() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPCWD=\"d\"")
            .lines(&["OK"])
            // The first probe goes unanswered (the module was in data mode):
            // the client escapes and probes again.
            .then(probe_cmd())
            .expect(b"+++")
            // The module answers after its own second of silence.
            .pause(S(1))
            .lines(&["OK"])
            .then(probe())
            .then(close_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    assert_eq!(run(LONG, ftp.cwd("d")), Err(Error::Timeout));
    let (r, took) = timed(LONG, ftp.cwd("d"));
    assert_eq!(r, Err(Error::NotOpen));
    assert!(took < S(10), "resync took {took:?}");
    let w = writes(&modem);
    let esc = find_write(&w, after_init(&w), b"+++").unwrap();
    assert!(w[esc].0 - w[esc - 1].0 >= S(1));
    assert!(w[esc + 1].0 - w[esc].0 >= S(1));
    modem.finished();
}

// ---------------------------------------------------------------------------
// `+++` guard times.

#[test]
fn put_escaped_guards_the_escape_by_a_second_each_side() {
    let _c = clock();
    let data = hostile(1000);
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPPUT=\"test_my.txt\",\"COM:\",0")
            .lines(&["CONNECT"])
            .expect(&data)
            .expect(b"+++")
            // The module answers after its own second of silence.
            .pause(S(1))
            .lines(&["OK"])
            .lines(&["+QFTPPUT: 0,1000"])
            .deferred("AT+QFTPSIZE=\"test_my.txt\"", "+QFTPSIZE: 0,1000"),
    );
    let mut buf = [0u8; 512];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let mut seen = 0;
    run(LONG, async {
        up(&mut ftp).await;
        let n = ftp
            .put_escaped("test_my.txt", &mut Source(&data), Transfer::default().with_progress(&mut |n| seen = n))
            .await;
        assert_eq!(n, Ok(1000));
        assert_eq!(ftp.size("test_my.txt").await, Ok(1000));
    });
    assert_eq!(seen, 1000);
    modem.finished();
    let w = writes(&modem);
    let esc = find_write(&w, after_init(&w), b"+++").expect("+++ not sent in one write call");
    assert_eq!(w[after_init(&w)..].iter().filter(|(_, b)| b == b"+++").count(), 1);
    assert!(!w.iter().any(|(_, b)| b == b"+" || b == b"++"), "+++ split over write calls");
    // The write before is the last piece of data, the one after the next command.
    assert!(data.ends_with(&w[esc - 1].1));
    assert!(w[esc - 1].1.len() < data.len(), "the data should take several writes with this buffer");
    assert!(w[esc].0 - w[esc - 1].0 >= S(1), "less than 1 s between data and +++");
    assert!(w[esc + 1].1.starts_with(b"AT+QFTPSIZE"));
    assert!(w[esc + 1].0 - w[esc].0 >= S(1), "less than 1 s after +++");
}

#[test]
fn put_escaped_repeats_a_guarded_escape_while_the_module_stays_in_data_mode() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPPUT=\"f\",\"COM:\",0")
            .lines(&["CONNECT"])
            .expect(b"payload")
            // No OK: still in data mode.
            .expect(b"+++")
            .expect(b"+++")
            // The module answers after its own second of silence.
            .pause(S(1))
            .lines(&["OK"])
            .lines(&["+QFTPPUT: 0,7"])
            // The first `+++` may have been taken late, and the second then
            // started a command line: the next call probes first.
            .then(probe())
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.put_escaped("f", &mut Source(b"payload"), Transfer::default()).await, Ok(7));
        ftp.cwd("/").await.unwrap();
    });
    modem.finished();
    let w = writes(&modem);
    let first = find_write(&w, after_init(&w), b"+++").unwrap();
    let second = find_write(&w, first + 1, b"+++").expect("no second +++");
    assert_eq!(second, first + 1, "something was written between the two escapes");
    assert_eq!(w[first - 1].1, b"payload");
    assert!(w[first].0 - w[first - 1].0 >= S(1));
    // 1 s of silence after the first and before the second.
    assert!(w[second].0 - w[first].0 >= S(2), "escapes {:?} apart", w[second].0 - w[first].0);
    assert!(w[second + 1].0 - w[second].0 >= S(1));
    assert!(w[second + 1].1.starts_with(b"\rAT+CMEE?"));
}

// ---------------------------------------------------------------------------
// Dropped futures.

#[test]
fn dropped_download_is_escaped_and_probed_by_the_next_call() {
    let _c = clock();
    let part = hostile(1000);
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,5000")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,5000")
            .send(b"\r\nCONNECT\r\n")
            .send(&part)
            .expect(b"+++")
            // Payload still in flight, then the escape's OK (after the
            // module's own second of silence) and the aborted transfer's
            // result.
            .send(&[0xA5; 300])
            .pause(S(1))
            .lines(&["OK", "+QFTPGET: 627,426"])
            .then(probe())
            // A transfer broken off in data mode: the session is closed.
            .then(close_ok())
            .then(open_ok())
            .deferred("AT+QFTPSIZE=\"g\"", "+QFTPSIZE: 0,9"),
    );
    let mut buf = [0u8; 512];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    let mut sink = Sink(Vec::new());
    let t_drop = {
        poll_then_drop(300, ftp.get("f", &mut sink, Transfer::default()));
        Instant::now()
    };
    assert_eq!(sink.0, part, "the drop should happen mid-payload");
    let (r, took) = timed(LONG, ftp.size("g"));
    assert_eq!(r, Err(Error::NotOpen));
    assert!(took < S(10), "resync took {took:?}");
    run(LONG, async { open_again(&mut ftp).await });
    assert_eq!(run(LONG, ftp.size("g")), Ok(9));
    modem.finished();
    let w = writes(&modem);
    let esc = find_write(&w, after_init(&w), b"+++").unwrap();
    assert!(w[esc].0 - t_drop >= S(1));
    assert!(w[esc + 1].0 - w[esc].0 >= S(1));
}

#[test]
fn dropped_escaped_upload_is_escaped_and_probed_by_the_next_call() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPPUT=\"f\",\"COM:\",0")
            .lines(&["CONNECT"])
            .expect(b"abc")
            // Dropped during the guard time before its `+++`: the next call sends it.
            .expect(b"+++")
            // The module answers after its own second of silence.
            .pause(S(1))
            .lines(&["OK", "+QFTPPUT: 0,3"])
            .then(probe())
            .then(close_ok())
            .then(open_ok())
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    poll_then_drop(500, ftp.put_escaped("f", &mut Source(b"abc"), Transfer::default()));
    run(LONG, async {
        assert_eq!(ftp.cwd("/").await, Err(Error::NotOpen));
        open_again(&mut ftp).await;
        ftp.cwd("/").await.unwrap()
    });
    modem.finished();
    let w = writes(&modem);
    let esc = find_write(&w, after_init(&w), b"+++").unwrap();
    assert_eq!(w[esc - 1].1, b"abc");
    assert!(w[esc].0 - w[esc - 1].0 >= S(1));
    assert!(w[esc + 1].0 - w[esc].0 >= S(1));
}

#[test]
fn dropped_command_waiting_for_its_result_is_resynced() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPSIZE=\"a\"")
            .lines(&["OK"])
            .then(probe_cmd())
            .lines(&["+QFTPSIZE: 0,1000", "+CMEE: 1", "OK"])
            .deferred("AT+QFTPSIZE=\"b\"", "+QFTPSIZE: 0,2"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    poll_then_drop(100, ftp.size("a"));
    // The late result is read while the modem waits for the probe.
    run(LONG, async { assert_eq!(ftp.size("b").await, Ok(2)) });
    modem.finished();
}

#[test]
fn late_result_after_the_probe_is_waited_out_not_taken_by_the_next_command() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPSIZE=\"a\"")
            .lines(&["OK"])
            .then(probe_cmd())
            .lines(&["+CMEE: 1", "OK"])
            // The dropped command's result comes only after the probe.
            .pause(S(3))
            .lines(&["+QFTPSIZE: 0,1000"])
            .deferred("AT+QFTPSIZE=\"b\"", "+QFTPSIZE: 0,2"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    poll_then_drop(100, ftp.size("a"));
    let (r, took) = timed(LONG, ftp.size("b"));
    assert_eq!(r, Ok(2));
    assert!(took >= S(3) && took < S(10), "took {took:?}");
    modem.finished();
}

#[test]
fn late_result_that_never_comes_closes_the_session() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPSIZE=\"a\"")
            .lines(&["OK"])
            .then(probe_cmd())
            .lines(&["+CMEE: 1", "OK"])
            .then(close_ok())
            .then(open_ok())
            .deferred("AT+QFTPSIZE=\"b\"", "+QFTPSIZE: 0,2"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    poll_then_drop(100, ftp.size("a"));
    // Waits out rsptimeout (90 s) + 5 s for the result, then closes.
    let (r, took) = timed(LONG, ftp.size("b"));
    assert_eq!(r, Err(Error::NotOpen));
    assert!(took >= S(95) && took < S(100), "took {took:?}");
    run(LONG, async { open_again(&mut ftp).await });
    assert_eq!(run(LONG, ftp.size("b")), Ok(2));
    modem.finished();
}

#[test]
fn a_close_dropped_inside_the_next_calls_preparation_leaves_the_stream_dirty() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            // No answer: the session is in doubt.
            .cmd("AT+QFTPSIZE=\"a\"")
            .then(probe())
            // The next call closes it first; this close is dropped unanswered.
            .cmd("AT+QFTPCLOSE")
            // So the call after resynchronises before anything else: the
            // dropped close's late answers come before the probe's.
            .then(probe_cmd())
            .lines(&["OK", "+QFTPCLOSE: 0,0", "+CMEE: 1", "OK"])
            .then(close_ok()),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async { up(&mut ftp).await });
    assert_eq!(run(LONG, ftp.size("a")), Err(Error::Timeout));
    poll_then_drop(3000, ftp.size("b"));
    assert_eq!(run(LONG, ftp.size("c")), Err(Error::NotOpen));
    modem.finished();
}
