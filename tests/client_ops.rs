//! The reference's exchanges byte for byte, the shapes of its sections 6 and
//! 6b, the failure modes atat's users reported, transfers without a known
//! size or from an offset, and the blocking path.

mod common;
use common::*;

use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::pubsub::WaitResult;
use embassy_time::Duration;
use quectel_ftp::at::urc::{Urc, UrcChannel, UrcSink};
use quectel_ftp::blocking::{block_on, Io, Uart};
use quectel_ftp::{
    Auth, DataAddress, FileType, Ftp, FtpConfig, FtpState, Listing, PdpConfig, Setting, SslConfig, SslType, Transfer,
    TransferMode,
};

/// Bring-up of a module that just booted: echo is on until `ATE0`.
fn boot_echo() -> Script {
    // The escape and the probe come back, and the CR that ends the `+++`
    // line makes it an `ERROR`.
    escape_at_init()
        .send(b"+++")
        .then(probe_cmd())
        .send(b"\r\r\nERROR\r\nAT+CMEE?\r")
        .lines(&["+CMEE: 0", "OK"])
        .cmd("ATE0")
        .send(b"ATE0\r")
        .lines(&["OK"])
        .ok("AT+CMEE=1")
        .cmd("AT+CPIN?")
        .lines(&["+CPIN: READY", "OK"])
}

fn listing(cmd: &str, name: &str, text: &[u8]) -> Script {
    Script::new()
        .cmd(cmd)
        .send(b"\r\nCONNECT\r\n")
        .send(text)
        .lines(&["OK"])
        .lines(&[&format!("+{name}: 0,{}", text.len())])
}

#[test]
fn section_5_exchanges_byte_for_byte() {
    let _c = clock();
    let escaped = hostile(1000);
    let chunked = hostile(2048);
    let got = hostile(500);
    let list = b"-rw-r--r-- 1 ftp ftp 1000 Jul 08 11:00 test.txt\r\ndrwxr-xr-x 2 ftp ftp 0 Jul 08 11:00 TEST\r\n";
    let nlst = b"test.txt\r\nTEST\r\n";
    let mlsd = b"type=file;size=1000;modify=20140708110039; test.txt\r\ntype=dir; TEST\r\n";
    let script = boot_echo()
        .ok("AT+QICSGP=1,1,\"CMNBIOT\",\"\",\"\",1")
        // Not active yet: activate, then read the address.
        .ok("AT+QIACT?")
        .then(registered())
        .ok("AT+QIACT=1")
        .cmd("AT+QIACT?")
        .lines(&["+QIACT: 1,1,1,\"10.7.157.1\"", "OK"])
        .ok("AT+QFTPCFG=\"contextid\",1")
        .ok("AT+QFTPCFG=\"filetype\",1")
        .ok("AT+QFTPCFG=\"transmode\",1")
        .ok("AT+QFTPCFG=\"rsptimeout\",90")
        .ok("AT+QFTPCFG=\"ssltype\",1")
        .ok("AT+QFTPCFG=\"sslctxid\",0")
        .ok("AT+QFTPCFG=\"data_address\",0")
        .ok("AT+QFTPCFG=\"account\",\"test\",\"test\"")
        .ok("AT+QSSLCFG=\"sslversion\",0,4")
        .ok("AT+QSSLCFG=\"ciphersuite\",0,0XFFFF")
        .ok("AT+QSSLCFG=\"seclevel\",0,0")
        .cmd("AT+QFTPCFG=\"rsptimeout\"")
        .lines(&["+QFTPCFG: \"rsptimeout\",90", "OK"])
        .cmd("AT+QFTPOPEN=\"hf.quectel.com\",990")
        .lines(&["OK"])
        .send(b"\r\n")
        .lines(&["+QFTPOPEN: 0,0"])
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
        .cmd("AT+QFTPPUT=\"test_my.txt\",\"COM:\",0")
        .lines(&["CONNECT"])
        .expect(&escaped)
        .expect(b"+++")
        .lines(&["OK"])
        .send(b"\r\n")
        .lines(&["+QFTPPUT: 0,1000"])
        .then(put_chunk("test.txt", 0, &chunked[..1024], false))
        .then(put_chunk("test.txt", 1024, &chunked[1024..], true))
        .deferred("AT+QFTPSIZE=\"test.txt\"", "+QFTPSIZE: 0,500")
        .then(get_whole("test.txt", &got))
        .deferred("AT+QFTPLEN", "+QFTPLEN: 0,500")
        .then(listing("AT+QFTPLIST=\".\",\"COM:\"", "QFTPLIST", list))
        .then(listing("AT+QFTPNLST=\".\",\"COM:\"", "QFTPNLST", nlst))
        .then(listing("AT+QFTPMLSD=\"/\",\"COM:\"", "QFTPMLSD", mlsd))
        .deferred("AT+QFTPCLOSE", "+QFTPCLOSE: 0,0")
        .ok("AT+QIDEACT=1");
    let modem = Modem::new(script).with_read_chunk(7);
    let mut buf = vec![0u8; 2048];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let pdp = PdpConfig { cid: 1, apn: "CMNBIOT", auth: Auth::Pap, ..Default::default() };
    let cfg = FtpConfig {
        user: "test",
        password: "test",
        file_type: FileType::Ascii,
        transfer_mode: TransferMode::Passive,
        context_id: 1,
        rsp_timeout_s: 90,
        ssl: SslType::Implicit,
        ssl_ctx: 0,
        data_address: DataAddress::Server,
    };
    let ssl = SslConfig { version: 4, ciphersuite: 0xFFFF, seclevel: 0 };
    run(LONG, async {
        ftp.init().await.unwrap();
        assert_eq!(ftp.activate(&pdp).await.unwrap().unwrap().as_str(), "10.7.157.1");
        ftp.configure(&cfg, Some(&ssl)).await.unwrap();
        assert_eq!(ftp.setting(Setting::RspTimeout).await, Ok(90));
        ftp.open("hf.quectel.com", 990).await.unwrap();
        assert!(ftp.is_open());
        ftp.cwd("/").await.unwrap();
        let mut path = [0u8; 16];
        assert_eq!(ftp.pwd(&mut path).await.unwrap(), "/");
        ftp.mkdir("TEST").await.unwrap();
        ftp.rename("TEST", "TEST_NEW").await.unwrap();
        ftp.rmdir("TEST_NEW").await.unwrap();
        assert_eq!(ftp.size("test_my1.txt").await, Ok(1000));
        let t = ftp.mdtm("test_new.txt").await.unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis), (2014, 7, 8, 11, 0, 39, None));
        ftp.delete("test_new.txt").await.unwrap();
        assert_eq!(ftp.stat().await, Ok(FtpState::Idle));
        assert_eq!(ftp.put_escaped("test_my.txt", &mut Source(&escaped), Transfer::default()).await, Ok(1000));
        let mut steps = Vec::new();
        let mut src = Source(&chunked);
        let n = ftp
            .put(
                "test.txt",
                &mut src,
                Transfer { start: 0, chunk: 1024, ..Transfer::default() }.with_progress(&mut |n| steps.push(n)),
            )
            .await;
        assert_eq!(n, Ok(2048));
        assert_eq!(steps, [1024, 2048]);
        let mut sink = Sink(Vec::new());
        assert_eq!(ftp.get("test.txt", &mut sink, Transfer::default()).await, Ok(500));
        assert!(sink.0 == got);
        assert_eq!(ftp.len().await, Ok(500));
        for (kind, dir, text) in
            [(Listing::List, ".", &list[..]), (Listing::Nlst, ".", &nlst[..]), (Listing::Mlsd, "/", &mlsd[..])]
        {
            let mut sink = Sink(Vec::new());
            assert_eq!(ftp.list(kind, dir, &mut sink).await, Ok(text.len() as u64));
            assert_eq!(sink.0, text, "{kind:?}");
        }
        ftp.close().await.unwrap();
        assert!(!ftp.is_open());
        ftp.deactivate(1).await.unwrap();
    });
    modem.finished();
}

#[test]
fn active_context_is_not_activated_again() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .ok("AT+QICSGP=1,1,\"\",\"\",\"\",0")
            // Another context, then ours, the address after a space.
            .cmd("AT+QIACT?")
            .lines(&["+QIACT: 2,1,1,\"10.0.0.2\"", "+QIACT: 1,1,1, \"10.7.157.1\"", "OK"])
            // Context 3 is known but deactivated (state 0): activate it.
            .ok("AT+QICSGP=3,1,\"\",\"\",\"\",0")
            .cmd("AT+QIACT?")
            .lines(&["+QIACT: 3,0,1,\"\"", "OK"])
            .then(registered())
            .ok("AT+QIACT=3")
            .cmd("AT+QIACT?")
            .lines(&["+QIACT: 1,1,1,\"10.7.157.1\"", "+QIACT: 3,1,1,\"10.0.0.3\"", "OK"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        let ip = ftp.activate(&PdpConfig::default()).await.unwrap();
        assert_eq!(ip.map(|a| a.to_ip()), Some("10.7.157.1".parse().ok()));
        let ip = ftp.activate(&PdpConfig { cid: 3, ..Default::default() }).await.unwrap();
        assert_eq!(ip.map(|a| a.to_ip()), Some("10.0.0.3".parse().ok()));
    });
    // No `AT+QIACT=1` anywhere.
    assert!(!modem.written().windows(10).any(|w| w == b"AT+QIACT=1"));
    modem.finished();
}

#[test]
fn every_shape_of_sections_6_and_6b() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            // A stray `1` after the contextid setting, before and after its OK.
            .cmd("AT+QFTPCFG=\"contextid\",1")
            .lines(&["1", "OK"])
            .ok("AT+QFTPCFG=\"filetype\",0")
            .ok("AT+QFTPCFG=\"transmode\",1")
            .ok("AT+QFTPCFG=\"rsptimeout\",90")
            .ok("AT+QFTPCFG=\"ssltype\",0")
            .ok("AT+QFTPCFG=\"sslctxid\",0")
            .ok("AT+QFTPCFG=\"data_address\",0")
            .ok("AT+QFTPCFG=\"account\",\"anonymous\",\"anonymous@\"")
            // (After its OK the stray line is read with the next answer.)
            .ok("AT+QFTPCFG=\"contextid\",1")
            .cmd("AT+QFTPCFG=\"filetype\",0")
            .lines(&["1", "OK"])
            .ok("AT+QFTPCFG=\"transmode\",1")
            .ok("AT+QFTPCFG=\"rsptimeout\",90")
            .ok("AT+QFTPCFG=\"ssltype\",0")
            .ok("AT+QFTPCFG=\"sslctxid\",0")
            .ok("AT+QFTPCFG=\"data_address\",0")
            .ok("AT+QFTPCFG=\"account\",\"anonymous\",\"anonymous@\"")
            .cmd("AT+QFTPCFG=\"contextid\"")
            .lines(&["+QFTPCFG: \"contextid\",1", "OK"])
            .then(open_ok())
            .deferred("AT+QFTPPWD", "+QFTPPWD: 0, \"/\"")
            .deferred("AT+QFTPPWD", "+QFTPPWD: 0,/")
            .deferred("AT+QFTPPWD", "+QFTPPWD: 0,\"/my dir, 2/x\"")
            .deferred("AT+QFTPSIZE=\"a\"", "+QFTPSIZE: 1000")
            .deferred("AT+QFTPSIZE=\"a\"", "+QFTPSIZE:88752")
            .deferred("AT+QFTPMDTM=\"a\"", "+QFTPMDTM: 0, \"20140708110039\"")
            .deferred("AT+QFTPMDTM=\"a\"", "+QFTPMDTM: 0,\"20140708110039.123\"")
            .deferred("AT+QFTPMDTM=\"a\"", "+QFTPMDTM: 0,20140708110039")
            // The information line before OK, and after it.
            .cmd("AT+QFTPSTAT")
            .lines(&["+QFTPSTAT: 0,1", "OK"])
            .cmd("AT+QFTPSTAT")
            .lines(&["OK", "+QFTPSTAT: 0,2"])
            .cmd("AT+QFTPLEN")
            .lines(&["+QFTPLEN: 0,1000", "OK"])
            .deferred("AT+QFTPLEN", "+QFTPLEN: 0,1000")
            // Blank lines between OK and the deferred result.
            .cmd("AT+QFTPCWD=\"d\"")
            .lines(&["OK"])
            .send(b"\r\n\r\n\r\n")
            .lines(&["", "+QFTPCWD: 0,0"]),
    )
    .with_read_chunk(2);
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        ftp.configure(&FtpConfig::default(), None).await.unwrap();
        ftp.configure(&FtpConfig::default(), None).await.unwrap();
        assert_eq!(ftp.setting(Setting::ContextId).await, Ok(1));
        ftp.open("h", 21).await.unwrap();
        let mut path = [0u8; 64];
        assert_eq!(ftp.pwd(&mut path).await.unwrap(), "/");
        assert_eq!(ftp.pwd(&mut path).await.unwrap(), "/");
        assert_eq!(ftp.pwd(&mut path).await.unwrap(), "/my dir, 2/x");
        assert_eq!(ftp.size("a").await, Ok(1000));
        assert_eq!(ftp.size("a").await, Ok(88752));
        let t = ftp.mdtm("a").await.unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis), (2014, 7, 8, 11, 0, 39, None));
        let t = ftp.mdtm("a").await.unwrap();
        assert_eq!((t.second, t.millis), (39, Some(123)));
        let t = ftp.mdtm("a").await.unwrap();
        assert_eq!((t.year, t.second, t.millis), (2014, 39, None));
        assert_eq!(ftp.stat().await, Ok(FtpState::Idle));
        assert_eq!(ftp.stat().await, Ok(FtpState::Transferring));
        assert_eq!(ftp.len().await, Ok(1000));
        assert_eq!(ftp.len().await, Ok(1000));
        ftp.cwd("d").await.unwrap();
    });
    modem.finished();
}

#[test]
fn a_chunk_buffer_below_the_minimum_is_refused_and_says_what_it_needs() {
    let mut buf = [0u8; quectel_ftp::MIN_BUF - 1];
    let e = Ftp::new(Modem::new(Script::new()), &mut buf).err();
    assert_eq!(e, Some(quectel_ftp::Error::BufferTooSmall { needed: quectel_ftp::MIN_BUF as u32 }));
    assert_eq!(e.unwrap().to_string(), format!("buffer too small: {} bytes needed", quectel_ftp::MIN_BUF));
    let mut buf = [0u8; quectel_ftp::MIN_BUF];
    assert!(Ftp::new(Modem::new(Script::new()), &mut buf).is_ok());
}

#[test]
fn pwd_longer_than_the_callers_buffer_is_a_too_small_buffer_not_a_panic() {
    let _c = clock();
    let long = format!("/{}", "d".repeat(254));
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPPWD", &format!("+QFTPPWD: 0,\"{long}\""))
            .deferred("AT+QFTPPWD", &format!("+QFTPPWD: 0,\"{long}\"")),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        let mut small = [0u8; 16];
        assert_eq!(ftp.pwd(&mut small).await, Err(quectel_ftp::Error::BufferTooSmall { needed: 255 }));
        let mut big = [0u8; 255];
        assert_eq!(ftp.pwd(&mut big).await.unwrap(), long);
    });
    modem.finished();
}

// ---------------------------------------------------------------------------
// What atat's users ran into.

#[test]
fn answers_sharing_a_prefix_with_urcs_are_never_lost() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .ok("AT+QICSGP=1,1,\"\",\"\",\"\",0")
            .cmd("AT+QIACT?")
            .lines(&["+QIURC: \"pdpdeact\",2", "+QIURC: \"recv\",0", "+QIACT: 1,1,1,\"10.1.2.3\"", "OK"])
            .then(open_ok())
            // Result lines of other commands around this one's.
            .cmd("AT+QFTPSIZE=\"a\"")
            .lines(&["OK", "+QFTPGET: 0,5", "+QFTPSIZEX: 0,9", "+QFTPPUT: 627,550", "+QFTPSIZE: 0,42"])
            // A GET whose CONNECT is preceded by URC-like lines.
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,3")
            .cmd("AT+QFTPGET=\"f\",\"COM:\",0,3")
            .lines(&["+QFTPGET: 0,999", "+QIURC: \"pdpdeact\",2"])
            .send(b"\r\nCONNECT\r\nabc")
            .lines(&["OK", "+QFTPGET: 0,3"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        ftp.init().await.unwrap();
        let ip = ftp.activate(&PdpConfig::default()).await.unwrap();
        assert_eq!(ip.map(|a| a.to_ip()), Some("10.1.2.3".parse().ok()));
        ftp.open("h", 21).await.unwrap();
        assert_eq!(ftp.size("a").await, Ok(42));
        assert!(ftp.is_open());
        let mut sink = Sink(Vec::new());
        // A success result before CONNECT is a late one, not this GET's.
        assert_eq!(ftp.get("f", &mut sink, Transfer::default()).await, Ok(3));
        assert_eq!(sink.0, b"abc");
    });
    modem.finished();
}

#[test]
fn a_full_urc_channel_holds_up_neither_the_client_nor_later_urcs() {
    let _c = clock();
    let channel: UrcChannel<NoopRawMutex, 2, 1> = UrcChannel::new();
    let mut sub = channel.subscriber().unwrap();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPSIZE=\"a\"")
            .lines(&["OK", "+XYZ: 1", "+XYZ: 2", "+XYZ: 3", "+CEREG: 5", "+QIURC: \"pdpdeact\",2", "+QFTPSIZE: 0,7"])
            .cmd("AT+QFTPCWD=\"/\"")
            .lines(&["+XYZ: 4", "OK", "+QIURC: \"pdpdeact\",1", "+QFTPCWD: 0,0"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp =
        Ftp::new(modem.clone(), &mut buf).unwrap().with_urcs(UrcSink::new(Some(channel.dyn_immediate_publisher())));
    run(LONG, async {
        up(&mut ftp).await;
        // Nobody reads the channel: the client goes on.
        assert_eq!(ftp.size("a").await, Ok(7));
        assert_eq!(ftp.urc_stats().seen, 5);
        // The subscriber lost the oldest three and has the newest two.
        assert!(matches!(sub.try_next_message(), Some(WaitResult::Lagged(3))));
        assert_eq!(sub.try_next_message_pure(), Some(Urc::Other(heapless::Vec::from_slice(b"+CEREG: 5").unwrap())));
        assert_eq!(sub.try_next_message_pure(), Some(Urc::PdpDeactivated { cid: 2 }));
        assert_eq!(sub.try_next_message_pure(), None);
        // The channel is full again when our context goes: the client still
        // sees it (its own command succeeded, so it reports it next time).
        ftp.cwd("/").await.unwrap();
        assert!(!ftp.is_open());
        assert_eq!(ftp.cwd("/").await, Err(quectel_ftp::Error::SessionClosed));
        assert_eq!(ftp.cwd("/").await, Err(quectel_ftp::Error::NotOpen));
    });
    assert_eq!(sub.try_next_message_pure(), Some(Urc::Other(heapless::Vec::from_slice(b"+XYZ: 4").unwrap())));
    assert_eq!(sub.try_next_message_pure(), Some(Urc::PdpDeactivated { cid: 1 }));
    modem.finished();
}

#[test]
fn an_overlong_line_is_reported_and_the_answer_after_it_arrives() {
    let _c = clock();
    let overlong = format!("+QIND: \"{}\"", "x".repeat(1000));
    let medium = format!("+QIND: \"{}\"", "y".repeat(150));
    for chunk in [1, 5, 64, 4096] {
        let modem = Modem::new(
            boot_open()
                .cmd("AT+QFTPSIZE=\"a\"")
                .lines(&["OK", &overlong, "+QFTPSIZE: 0,11"])
                .cmd("AT+QFTPSIZE=\"b\"")
                .lines(&[&medium, "OK", &overlong])
                .lines(&["+QFTPSIZE: 0,22"]),
        )
        .with_read_chunk(chunk);
        let mut buf = [0u8; 256];
        let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
        run(LONG, async {
            up(&mut ftp).await;
            assert_eq!(ftp.size("a").await, Ok(11), "read chunk {chunk}");
            assert_eq!(ftp.urc_stats().too_long, 1, "read chunk {chunk}: overlong line not reported");
            assert_eq!(ftp.size("b").await, Ok(22), "read chunk {chunk}");
            assert_eq!(ftp.urc_stats().too_long, 3, "read chunk {chunk}");
        });
        modem.finished();
    }
}

#[test]
fn a_long_line_of_any_bytes_never_panics() {
    let _c = clock();
    // 64 KiB of pseudo-random bytes, no line end, then one, then the answer.
    let mut x = 0x1234_5678u32;
    let junk: Vec<u8> = (0..65536)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            match (x >> 24) as u8 {
                b'\r' | b'\n' => b'.',
                b => b,
            }
        })
        .collect();
    for chunk in [1, 7, 300, 70000] {
        let modem =
            Modem::new(boot_open().cmd("AT+QFTPSIZE=\"a\"").send(&junk).send(b"\r\n").lines(&["OK", "+QFTPSIZE: 0,1"]))
                .with_read_chunk(chunk);
        let mut buf = [0u8; 256];
        let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
        run(LONG, async {
            up(&mut ftp).await;
            assert_eq!(ftp.size("a").await, Ok(1), "read chunk {chunk}");
        });
        modem.finished();
    }
}

// ---------------------------------------------------------------------------
// Transfers.

#[test]
fn one_mib_hostile_download_when_the_server_cannot_tell_the_size() {
    let _c = clock();
    let file = hostile((1 << 20) - 777);
    let chunk = 16 * 1024usize;
    let mut script = boot_open().deferred("AT+QFTPSIZE=\"fw.bin\"", "+QFTPSIZE: 627,502");
    for (i, part) in file.chunks(chunk).enumerate() {
        script = script.then(get_chunk("fw.bin", (i * chunk) as u64, chunk as u64, part));
    }
    let modem = Modem::new(script).with_read_chunk(1000);
    let mut buf = vec![0u8; 4096];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let mut sink = Sink(Vec::new());
    let mut seen = 0;
    run(LONG, async {
        up(&mut ftp).await;
        let n = ftp
            .get(
                "fw.bin",
                &mut sink,
                Transfer { start: 0, chunk: chunk as u32, ..Transfer::default() }.with_progress(&mut |n| seen = n),
            )
            .await;
        assert_eq!(n, Ok(file.len() as u64), "{:?} after {} bytes", modem.0.borrow().error, sink.0.len());
    });
    assert_eq!(seen, file.len() as u64);
    assert!(sink.0 == file, "downloaded bytes differ");
    modem.finished();
}

#[test]
fn unknown_size_download_ends_at_an_empty_chunk_and_at_a_short_one() {
    let _c = clock();
    let file = hostile(2000);
    let modem = Modem::new(
        boot_open()
            // A size that is a multiple of the chunk: the last chunk is empty.
            .deferred("AT+QFTPSIZE=\"a\"", "+QFTPSIZE: 620,500")
            .then(get_chunk("a", 0, 1000, &file[..1000]))
            .then(get_chunk("a", 1000, 1000, &file[1000..]))
            .then(get_chunk("a", 2000, 1000, b""))
            // One byte short of a chunk, from an offset.
            .deferred("AT+QFTPSIZE=\"b\"", "+QFTPSIZE: 622,502")
            .then(get_chunk("b", 100, 1000, &file[100..1100]))
            .then(get_chunk("b", 1100, 1000, &file[1100..1999])),
    )
    .with_read_chunk(33);
    let mut buf = [0u8; 512];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, async {
        up(&mut ftp).await;
        let mut sink = Sink(Vec::new());
        let n = ftp.get("a", &mut sink, Transfer { start: 0, chunk: 1000, ..Transfer::default() }).await;
        assert_eq!(n, Ok(2000));
        assert!(sink.0 == file);
        let mut sink = Sink(Vec::new());
        let n = ftp.get("b", &mut sink, Transfer { start: 100, chunk: 1000, ..Transfer::default() }).await;
        assert_eq!(n, Ok(1899));
        assert!(sink.0 == file[100..1999]);
    });
    modem.finished();
}

#[test]
fn transfers_resume_from_an_offset() {
    let _c = clock();
    let file = hostile(5000);
    let start = 1234usize;
    let up_chunk = 1024 - 64 - 1;
    let mut script = boot_open().deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,5000");
    for (i, part) in file[start..].chunks(2000).enumerate() {
        script = script.then(get_chunk("f", (start + i * 2000) as u64, part.len() as u64, part));
    }
    let parts: Vec<&[u8]> = file[start..].chunks(up_chunk).collect();
    for (i, part) in parts.iter().enumerate() {
        script = script.then(put_chunk("g", (start + i * up_chunk) as u64, part, i + 1 == parts.len()));
    }
    // The escaped upload resumes too.
    script = script
        .cmd(&format!("AT+QFTPPUT=\"h\",\"COM:\",{start}"))
        .lines(&["CONNECT"])
        .expect(&file[start..start + 960])
        .expect(&file[start + 960..start + 1920])
        .expect(&file[start + 1920..])
        .expect(b"+++")
        .lines(&["OK", &format!("+QFTPPUT: 0,{}", file.len() - start)]);
    let modem = Modem::new(script).with_read_chunk(100);
    let mut buf = vec![0u8; 1024];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    let rest = (file.len() - start) as u64;
    run(LONG, async {
        up(&mut ftp).await;
        let mut sink = Sink(Vec::new());
        let mut seen = 0;
        let n = ftp
            .get(
                "f",
                &mut sink,
                Transfer { start: start as u64, chunk: 2000, ..Transfer::default() }.with_progress(&mut |n| seen = n),
            )
            .await;
        assert_eq!(n, Ok(rest));
        assert_eq!(seen, rest);
        assert!(sink.0 == file[start..]);
        let mut src = Source(&file[start..]);
        let n = ftp.put("g", &mut src, Transfer { start: start as u64, chunk: 4096, ..Transfer::default() }).await;
        assert_eq!(n, Ok(rest));
        let n = ftp
            .put_escaped("h", &mut Source(&file[start..]), Transfer { start: start as u64, ..Transfer::default() })
            .await;
        assert_eq!(n, Ok(rest));
    });
    modem.finished();
}

// ---------------------------------------------------------------------------
// The blocking path.

#[test]
fn blocking_session_over_an_embedded_io_uart() {
    let _c = clock();
    let file = hostile(3000);
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPSIZE=\"f\"")
            .lines(&["OK"])
            .pause(Duration::from_millis(20))
            .lines(&["+QFTPSIZE: 0,3000"])
            .deferred("AT+QFTPSIZE=\"f\"", "+QFTPSIZE: 0,3000")
            .then(get_chunk("f", 0, 2048, &file[..2048]))
            .then(get_chunk("f", 2048, 952, &file[2048..])),
    )
    .with_read_chunk(200);
    let mut buf = [0u8; 512];
    let mut ftp = Ftp::new(Uart(BlockingModem(modem.clone())), &mut buf).unwrap();
    block_on(ftp.init()).unwrap();
    block_on(ftp.open("h", 21)).unwrap();
    assert_eq!(block_on(ftp.size("f")), Ok(3000));
    let mut sink = Io(BlockingSink(Vec::new()));
    let n = block_on(ftp.get("f", &mut sink, Transfer { start: 0, chunk: 2048, ..Transfer::default() }));
    assert_eq!(n, Ok(3000));
    assert!(sink.0 .0 == file);
    modem.finished();
}
