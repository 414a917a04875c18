//! The client against a scripted modem: exact bytes out, modem bytes in,
//! simulated time.

mod common;

use common::*;
use embassy_time::Duration;
use quectel_ftp::{Error, Ftp, FtpConfig, ModuleError, Transfer};

const LIMIT: Duration = Duration::from_secs(600);

/// Script of a client that is open: what `opened()` below consumes.
fn bring_up() -> Script {
    // Echo is on after boot: the escape and the probe come back, and the
    // CR that ends the `+++` line makes it an `ERROR`.
    escape_at_init()
        .send(b"+++")
        .then(probe_cmd())
        .send(b"\r\r\nERROR\r\nAT+CMEE?\r")
        .lines(&["+CMEE: 0", "OK"])
        .ok("ATE0")
        .ok("AT+CMEE=1")
        .cmd("AT+CPIN?")
        .lines(&["+CPIN: READY", "OK"])
}

fn open_script() -> Script {
    bring_up().deferred("AT+QFTPOPEN=\"ftp.example.com\",21", "+QFTPOPEN: 0,0")
}

async fn open(ftp: &mut Ftp<'_, Modem>) {
    ftp.init().await.unwrap();
    ftp.open("ftp.example.com", 21).await.unwrap();
}

#[test]
fn bring_up_and_section_5_operations() {
    let _c = clock();
    let modem = Modem::new(
        open_script()
            .deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0")
            .deferred("AT+QFTPPWD", "+QFTPPWD: 0,\"/\"")
            .deferred("AT+QFTPMKDIR=\"TEST\"", "+QFTPMKDIR: 0,0")
            .deferred("AT+QFTPRENAME=\"TEST\",\"TEST_NEW\"", "+QFTPRENAME: 0,0")
            .deferred("AT+QFTPRMDIR=\"TEST_NEW\"", "+QFTPRMDIR: 0,0")
            .deferred("AT+QFTPSIZE=\"test_my1.txt\"", "+QFTPSIZE: 0,1000")
            .deferred("AT+QFTPMDTM=\"test_new.txt\"", "+QFTPMDTM: 0,\"20140708110039\"")
            .deferred("AT+QFTPDEL=\"test_new.txt\"", "+QFTPDEL: 0,0")
            .cmd("AT+QFTPSTAT")
            .lines(&["+QFTPSTAT: 0,1", "OK"])
            .deferred("AT+QFTPLEN", "+QFTPLEN: 0,550")
            .deferred("AT+QFTPCLOSE", "+QFTPCLOSE: 0,0"),
    )
    .with_read_chunk(3);
    let mut buf = [0u8; 512];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LIMIT, async {
        open(&mut ftp).await;
        ftp.cwd("/").await.unwrap();
        let mut path = [0u8; 64];
        assert_eq!(ftp.pwd(&mut path).await.unwrap(), "/");
        ftp.mkdir("TEST").await.unwrap();
        ftp.rename("TEST", "TEST_NEW").await.unwrap();
        ftp.rmdir("TEST_NEW").await.unwrap();
        assert_eq!(ftp.size("test_my1.txt").await.unwrap(), 1000);
        let t = ftp.mdtm("test_new.txt").await.unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second), (2014, 7, 8, 11, 0, 39));
        ftp.delete("test_new.txt").await.unwrap();
        assert_eq!(ftp.stat().await.unwrap(), quectel_ftp::FtpState::Idle);
        assert_eq!(ftp.len().await.unwrap(), 550);
        ftp.close().await.unwrap();
    });
    modem.finished();
}

#[test]
fn one_mib_hostile_file_round_trips_byte_exact() {
    let _c = clock();
    let file = hostile(1 << 20);
    let chunk = 16 * 1024usize;
    // Download: SIZE, then exact chunks.
    let mut script = open_script().deferred("AT+QFTPSIZE=\"fw.bin\"", &format!("+QFTPSIZE: 0,{}", file.len()));
    for (i, part) in file.chunks(chunk).enumerate() {
        let pos = i * chunk;
        script = script
            .cmd(&format!("AT+QFTPGET=\"fw.bin\",\"COM:\",{pos},{}", part.len()))
            .send(b"\r\nCONNECT\r\n")
            .send(part)
            .lines(&["OK"])
            .lines(&[&format!("+QFTPGET: 0,{}", part.len())]);
    }
    // Upload through a 4 KiB buffer: chunks of 4096 - 64 - 1 bytes.
    let up = 4096 - 64 - 1;
    for (i, part) in file.chunks(up).enumerate() {
        let last = (i + 1) * up >= file.len();
        script = script
            .cmd(&format!("AT+QFTPPUT=\"copy.bin\",\"COM:\",{},{},{}", i * up, part.len(), last as u8))
            .lines(&["CONNECT"])
            .expect(part)
            .lines(&["OK"])
            .lines(&[&format!("+QFTPPUT: 0,{}", part.len())]);
    }
    let modem = Modem::new(script).with_read_chunk(1000);
    let mut buf = vec![0u8; 4096];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let mut sink = Sink(Vec::new());
    let mut seen = 0;
    run(LIMIT, async {
        open(&mut ftp).await;
        let n = ftp
            .get(
                "fw.bin",
                &mut sink,
                Transfer { start: 0, chunk: chunk as u32, ..Transfer::default() }.with_progress(&mut |n| seen = n),
            )
            .await;
        assert_eq!(n, Ok(file.len() as u64), "{:?} after {} bytes", modem.0.borrow().error, sink.0.len());
        let n = ftp.put("copy.bin", &mut Source(&file), Transfer::default()).await;
        assert_eq!(n, Ok(file.len() as u64), "{:?}", modem.0.borrow().error);
    });
    assert_eq!(seen, file.len() as u64);
    assert!(sink.0 == file, "downloaded bytes differ");
    modem.finished();
}

#[test]
fn login_refused_gives_typed_error_and_next_open_works() {
    let _c = clock();
    let modem = Modem::new(
        bring_up()
            .deferred("AT+QFTPOPEN=\"h\",21", "+QFTPOPEN: 625,530")
            .deferred("AT+QFTPOPEN=\"h\",21", "+QFTPOPEN: 0,0"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LIMIT, async {
        ftp.init().await.unwrap();
        let e = ftp.open("h", 21).await.unwrap_err();
        assert_eq!(e, Error::ftp(625, 530));
        assert!(matches!(e, Error::Ftp { module: ModuleError::NotLoggedIn, .. }));
        ftp.open("h", 21).await.unwrap();
    });
    modem.finished();
}

#[test]
fn injection_is_refused_before_any_byte_is_written() {
    let _c = clock();
    let modem = Modem::new(open_script());
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LIMIT, async { open(&mut ftp).await });
    let before = modem.written().len();
    let long = "n".repeat(256);
    run(LIMIT, async {
        for bad in ["a\"\r\nAT+QFDEL=\"*", "x\u{1}", "tab\there", long.as_str()] {
            assert!(matches!(ftp.delete(bad).await, Err(Error::InvalidArgument(_))));
            assert!(matches!(ftp.cwd(bad).await, Err(Error::InvalidArgument(_))));
            assert!(matches!(ftp.rename("ok", bad).await, Err(Error::InvalidArgument(_))));
            let mut sink = Sink(Vec::new());
            assert!(matches!(ftp.get(bad, &mut sink, Transfer::default()).await, Err(Error::InvalidArgument(_))));
        }
        let near_end = Transfer { start: u64::MAX - 5, chunk: 10, ..Transfer::default() };
        let r = ftp.put_sized("f", &mut Source(b"0123456789"), 10, near_end).await;
        assert_eq!(r, Err(Error::InvalidArgument(quectel_ftp::ArgError::OutOfRange)));
        let cfg = FtpConfig { password: "p\"w", ..Default::default() };
        assert!(matches!(ftp.configure(&cfg, None).await, Err(Error::InvalidArgument(_))));
    });
    assert_eq!(modem.written().len(), before, "bytes were written for a refused command");
    modem.finished();
}

#[test]
fn sized_upload_streams_large_chunks_through_a_small_buffer() {
    let _c = clock();
    let file = hostile(200_000);
    let chunk = 64 * 1024usize;
    let mut script = open_script();
    for (i, part) in file.chunks(chunk).enumerate() {
        let last = (i + 1) * chunk >= file.len();
        script = script
            .cmd(&format!("AT+QFTPPUT=\"big.bin\",\"COM:\",{},{},{}", i * chunk, part.len(), last as u8))
            .lines(&["CONNECT"])
            .expect(part)
            .lines(&["OK"])
            .lines(&[&format!("+QFTPPUT: 0,{}", part.len())]);
    }
    let modem = Modem::new(script);
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let mut seen = Vec::new();
    run(LIMIT, async {
        open(&mut ftp).await;
        let opts = Transfer { start: 0, chunk: chunk as u32, ..Transfer::default() };
        let n = ftp
            .put_sized("big.bin", &mut Source(&file), file.len() as u64, opts.with_progress(&mut |n| seen.push(n)))
            .await;
        assert_eq!(n, Ok(file.len() as u64));
    });
    // After each write: rising to the end, through each chunk's end.
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&200_000));
    assert!([65536, 131072, 196608].iter().all(|end| seen.contains(end)), "{seen:?}");
    assert!(seen.len() > 200_000 / 256, "{} reports", seen.len());
    modem.finished();
}

#[test]
fn sized_upload_from_a_short_source_fails_cleanly() {
    let _c = clock();
    let modem = Modem::new(
        open_script()
            .cmd("AT+QFTPPUT=\"s.bin\",\"COM:\",0,10,1")
            .lines(&["CONNECT"])
            .expect(b"12345")
            // The module gives up on the missing bytes after rsptimeout.
            .lines(&["OK"])
            .lines(&["+QFTPPUT: 609,0"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LIMIT, async {
        open(&mut ftp).await;
        let r = ftp.put_sized("s.bin", &mut Source(b"12345"), 10, Transfer::default()).await;
        assert_eq!(r, Err(Error::Source(embedded_io::ErrorKind::InvalidInput)));
    });
    // Nothing more was written: the next call resynchronises and closes.
    assert!(modem.written().ends_with(b"12345"));
}

/// A byte lost or doubled on the line inside a download whose length is
/// known is caught by the `\r\nOK\r\n` that must follow the payload at once:
/// the chunk is refused, never passed on corrupt, and the next call works.
#[test]
fn a_byte_lost_or_doubled_inside_a_download_is_refused() {
    let _c = clock();
    let file = hostile(3000);
    let mut doubled = file.clone();
    doubled.insert(1000, doubled[1000]);
    let get = |payload: &[u8]| {
        Script::new()
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,3000")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,3000")
            .send(b"\r\nCONNECT\r\n")
            .send(payload)
    };
    // The module may still be sending: the next call escapes first (the
    // module, in command mode after all, takes the `+++` as the start of a
    // line, which the probe's CR ends: `ERROR`). What the refused chunk's
    // modem still sends reaches the probe; then the session is closed and
    // opened again.
    let refused = |payload: &[u8], before_probe: &[&str], after_probe: &[&str]| {
        get(payload)
            .lines(before_probe)
            .expect(b"+++")
            .then(probe_cmd())
            .lines(&["ERROR"])
            .lines(after_probe)
            .lines(&["+CMEE: 1", "OK"])
            .deferred("AT+QFTPCLOSE", "+QFTPCLOSE: 0,0")
            .deferred("AT+QFTPOPEN=\"ftp.example.com\",21", "+QFTPOPEN: 0,0")
    };
    let modem = Modem::new(
        open_script()
            // Lost: the payload takes the trailer's CR, the rest is not `\r\nOK\r\n`.
            .then(refused(&file[1..], &["OK"], &["+QFTPGET: 0,3000"]))
            // Doubled: a payload byte comes where the trailer should.
            .then(refused(&doubled, &[], &["OK", "+QFTPGET: 0,3000"]))
            .then(get(&file))
            .lines(&["OK", "+QFTPGET: 0,3000"]),
    );
    let mut buf = [0u8; 512];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LIMIT, async {
        open(&mut ftp).await;
        for _ in 0..2 {
            let mut sink = Sink(Vec::new());
            assert_eq!(ftp.get("f", &mut sink, Transfer::default()).await, Err(Error::Protocol));
            assert_eq!(ftp.size("x").await, Err(Error::NotOpen));
            ftp.open("ftp.example.com", 21).await.unwrap();
        }
        let mut sink = Sink(Vec::new());
        assert_eq!(ftp.get("f", &mut sink, Transfer::default()).await, Ok(3000));
        assert!(sink.0 == file);
    });
    modem.finished();
}

#[test]
fn urc_between_a_listing_and_its_result_reaches_the_dispatcher() {
    let _c = clock();
    let listing = b"a.bin\r\nOK\r\nb.bin\r\n";
    let modem = Modem::new(
        open_script()
            .cmd("AT+QFTPNLST=\".\",\"COM:\"")
            .send(b"\r\nCONNECT\r\n")
            .send(listing)
            .lines(&["OK", "+CEREG: 1"])
            .lines(&[&format!("+QFTPNLST: 0,{}", listing.len())])
            .deferred("AT+QFTPSIZE=\"a.bin\"", "+QFTPSIZE: 0,7"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let mut sink = Sink(Vec::new());
    run(LIMIT, async {
        open(&mut ftp).await;
        let n = ftp.list(quectel_ftp::Listing::Nlst, ".", &mut sink).await;
        assert_eq!(n, Ok(listing.len() as u64));
        assert_eq!(ftp.size("a.bin").await, Ok(7));
    });
    assert_eq!(sink.0, listing);
    assert_eq!(ftp.urc_stats().seen, 1);
    modem.finished();
}

/// A caller's source or sink that fails at its first use.
struct Broken;

impl embedded_io_async::ErrorType for Broken {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Broken {
    async fn read(&mut self, _: &mut [u8]) -> Result<usize, Self::Error> {
        Err(embedded_io::ErrorKind::PermissionDenied)
    }
}

impl embedded_io_async::Write for Broken {
    async fn write(&mut self, _: &[u8]) -> Result<usize, Self::Error> {
        Err(embedded_io::ErrorKind::PermissionDenied)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The caller's source failing is told from the UART failing: nothing of
/// the upload was sent, and the session goes on.
#[test]
fn a_failing_source_is_the_source_s_error() {
    let _c = clock();
    let modem = Modem::new(open_script().deferred("AT+QFTPCWD=\"/\"", "+QFTPCWD: 0,0"));
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LIMIT, async {
        open(&mut ftp).await;
        let r = ftp.put("s.bin", &mut Broken, Transfer::default()).await;
        assert_eq!(r, Err(Error::Source(embedded_io::ErrorKind::PermissionDenied)));
        assert_eq!(ftp.cwd("/").await, Ok(()));
    });
    modem.finished();
}

/// The caller's sink failing midway is told from the UART failing; the
/// module is still sending, so nothing is written until the next call
/// leaves data mode.
#[test]
fn a_failing_sink_is_the_sink_s_error() {
    let _c = clock();
    let modem = Modem::new(
        open_script()
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,10")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,10")
            .lines(&["CONNECT"])
            .send(b"01234"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LIMIT, async {
        open(&mut ftp).await;
        let r = ftp.get("f", &mut Broken, Transfer::default()).await;
        assert_eq!(r, Err(Error::Sink(embedded_io::ErrorKind::PermissionDenied)));
    });
    modem.finished();
    assert!(modem.written().ends_with(b"AT+QFTPGET=\"f\",\"COM:\",0,10\r"));
}
