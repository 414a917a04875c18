//! The module's file store (issue 16): the FILE commands, FTP through a
//! local file, store and forward, and the certificate files of FTPS that
//! verifies the server, against the scripted modem (reference section 8;
//! Quectel FILE AT Commands Manual).

mod common;

use common::*;
use embassy_time::Duration;
use quectel_ftp::at::checksum::Checksum;
use quectel_ftp::{
    ArgError, CmeError, Error, FileError, Ftp, Listing, SslFiles, Staging, Transfer, UfsSpace, UfsUpload,
};

fn checksum(data: &[u8]) -> u16 {
    let mut sum = Checksum::new();
    sum.update(data);
    sum.value()
}

/// `AT+QFUPL="<name>",<len>,5,0` answered `CONNECT`, `data` taken, then
/// the module's result (its count and checksum as given).
fn qfupl(name: &str, data: &[u8], reported: (usize, u16)) -> Script {
    Script::new()
        .cmd(&format!("AT+QFUPL=\"{name}\",{},5,0", data.len()))
        .lines(&["CONNECT"])
        .expect(data)
        .lines(&[&format!("+QFUPL: {},{:x}", reported.0, reported.1), "OK"])
}

/// `AT+QFLST="<name>"` answered with the file's size, then `AT+QFDWL`
/// sending `data` and the given count and checksum.
fn qfdwl(name: &str, data: &[u8], reported: (usize, u16)) -> Script {
    Script::new()
        .cmd(&format!("AT+QFLST=\"{name}\""))
        .lines(&[&format!("+QFLST: \"{name}\",{}", data.len()), "OK"])
        .cmd(&format!("AT+QFDWL=\"{name}\""))
        .send(b"\r\nCONNECT\r\n")
        .send(data)
        .lines(&[&format!("+QFDWL: {},{:x}", reported.0, reported.1), "OK"])
}

fn client<'b>(modem: &Modem, buf: &'b mut [u8]) -> Ftp<'b, Modem> {
    Ftp::new(modem.clone(), buf).unwrap()
}

#[test]
fn space_list_size_and_delete() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .cmd("AT+QFLDS=\"UFS\"")
            .lines(&["+QFLDS: 2096640,2097152", "OK"])
            .cmd("AT+QFLST=\"*\"")
            .lines(&["+QFLST: \"a.txt\",10", "+QFLST: \"name with spaces\",0", "+QFLST: \"OK\",5", "OK"])
            .cmd("AT+QFLST=\"a.txt\"")
            .lines(&["+QFLST: \"a.txt\",10", "OK"])
            .cmd("AT+QFLST=\"none\"")
            .lines(&["OK"])
            .cmd("AT+QFLST=\"gone\"")
            .lines(&["+CME ERROR: 405"])
            .ok("AT+QFDEL=\"a.txt\"")
            .cmd("AT+QFDEL=\"a.txt\"")
            .lines(&["+CME ERROR: 405"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        ftp.init().await.unwrap();
        assert_eq!(ftp.ufs_space().await, Ok(UfsSpace { free: 2_096_640, total: 2_097_152 }));
        let mut files = Vec::new();
        let n = ftp.ufs_list("*", |name, size| files.push((name.to_vec(), size))).await;
        assert_eq!(n, Ok(3));
        let expected: Vec<(Vec<u8>, u64)> =
            vec![(b"a.txt".to_vec(), 10), (b"name with spaces".to_vec(), 0), (b"OK".to_vec(), 5)];
        assert_eq!(files, expected);
        assert_eq!(ftp.ufs_size("a.txt").await, Ok(Some(10)));
        assert_eq!(ftp.ufs_size("none").await, Ok(None));
        assert_eq!(ftp.ufs_size("gone").await, Ok(None));
        assert_eq!(ftp.ufs_delete("a.txt").await, Ok(()));
        let e = ftp.ufs_delete("a.txt").await.unwrap_err();
        assert_eq!(e, Error::Cme(CmeError::Code(405)));
        let Error::Cme(cme) = e else { unreachable!() };
        assert_eq!(cme.file(), Some(FileError::NotFound));
    });
    modem.finished();
}

#[test]
fn names_are_checked_before_a_byte_is_sent() {
    let _c = clock();
    let modem = Modem::new(boot());
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    let long = "n".repeat(81);
    run(LONG, async {
        ftp.init().await.unwrap();
        let bad = ["a\"b", "a\r\nAT+QFDEL=\"*", "", long.as_str()];
        for name in bad {
            assert!(matches!(ftp.ufs_delete(name).await, Err(Error::InvalidArgument(_))), "{name:?}");
            let r = ftp.ufs_upload(name, &mut &b"x"[..], 1, UfsUpload::default(), Transfer::default()).await;
            assert!(matches!(r, Err(Error::InvalidArgument(_))), "{name:?}");
            assert!(matches!(
                ftp.ufs_download(name, &mut Sink(Vec::new()), Transfer::default()).await,
                Err(Error::InvalidArgument(_))
            ));
        }
        assert_eq!(ftp.ufs_size("*.txt").await, Err(Error::InvalidArgument(ArgError::ForbiddenByte { at: 0 })));
        // The UART's own local name is not a file.
        assert_eq!(ftp.put_from_ufs("r", "COM:", 0, 60).await, Err(Error::InvalidArgument(ArgError::Conflict)));
        let files = SslFiles { cacert: Some("ca\".pem"), ..SslFiles::default() };
        assert!(matches!(ftp.ssl_files(1, &files).await, Err(Error::InvalidArgument(_))));
    });
    modem.finished();
}

#[test]
fn an_upload_is_streamed_and_its_checksum_checked() {
    let _c = clock();
    let data = hostile(1000);
    let modem = Modem::new(boot().then(qfupl("a.bin", &data, (data.len(), checksum(&data)))));
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    let mut seen = Vec::new();
    let mut progress = |n| seen.push(n);
    run(LONG, async {
        ftp.init().await.unwrap();
        let opts = Transfer::default().with_progress(&mut progress);
        let r = ftp.ufs_upload("a.bin", &mut &data[..], data.len() as u64, UfsUpload::default(), opts).await;
        assert_eq!(r, Ok(data.len() as u64));
    });
    modem.finished();
    assert_eq!(seen.last(), Some(&(data.len() as u64)));
}

#[test]
fn a_checksum_mismatch_is_a_typed_error_and_the_file_goes() {
    let _c = clock();
    let data = hostile(300);
    let wrong = checksum(&data) ^ 0x0100;
    let modem = Modem::new(boot().then(qfupl("a.bin", &data, (data.len(), wrong))).ok("AT+QFDEL=\"a.bin\""));
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        ftp.init().await.unwrap();
        let r =
            ftp.ufs_upload("a.bin", &mut &data[..], data.len() as u64, UfsUpload::default(), Transfer::default()).await;
        assert_eq!(r, Err(Error::Checksum { ours: checksum(&data), module: wrong }));
    });
    modem.finished();
}

#[test]
fn an_existing_file_or_a_full_store_refuses_the_upload_before_any_data() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .cmd("AT+QFUPL=\"a.bin\",3,5,0")
            .lines(&["+CME ERROR: 407"])
            .cmd("AT+QFUPL=\"b.bin\",3,5,0")
            .lines(&["+CME ERROR: 420"])
            .cmd("AT+QFLDS=\"UFS\"")
            .lines(&["+QFLDS: 2,2097152", "OK"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        ftp.init().await.unwrap();
        let up = UfsUpload::default();
        let r = ftp.ufs_upload("a.bin", &mut &b"abc"[..], 3, up, Transfer::default()).await;
        assert_eq!(r, Err(Error::Cme(CmeError::Code(407))));
        let r = ftp.ufs_upload("b.bin", &mut &b"abc"[..], 3, up, Transfer::default()).await;
        assert_eq!(r.map_err(|e| matches!(e, Error::Cme(c) if c.file() == Some(FileError::NoSpace))), Err(true));
        // The stream is clean: the next command goes at once.
        assert_eq!(ftp.ufs_space().await.map(|s| s.free), Ok(2));
    });
    modem.finished();
}

/// ACK mode: a block of 1 KiB, then the module's `A`, before the next.
#[test]
fn ack_mode_waits_for_each_kib_to_be_acknowledged() {
    let _c = clock();
    let data = hostile(2500);
    let modem = Modem::new(
        boot()
            .cmd("AT+QFUPL=\"a.bin\",2500,9,1")
            .lines(&["CONNECT"])
            .expect(&data[..1024])
            .send(b"A")
            .expect(&data[1024..2048])
            .pause(Duration::from_millis(300))
            .send(b"A")
            .expect(&data[2048..])
            .lines(&[&format!("+QFUPL: 2500,{:x}", checksum(&data)), "OK"]),
    );
    let mut buf = [0u8; 700];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        ftp.init().await.unwrap();
        let how = UfsUpload { timeout_s: 9, ack: true };
        let r = ftp.ufs_upload("a.bin", &mut &data[..], 2500, how, Transfer::default()).await;
        assert_eq!(r, Ok(2500));
    });
    modem.finished();
}

/// A module that answers something else than `A` (it ran out of room)
/// gets no more data, and its answer is the error.
#[test]
fn ack_mode_stops_when_the_module_says_something_else() {
    let _c = clock();
    let data = hostile(2048);
    let modem = Modem::new(
        boot().cmd("AT+QFUPL=\"a.bin\",2048,5,1").lines(&["CONNECT"]).expect(&data[..1024]).lines(&["+CME ERROR: 420"]),
    );
    let mut buf = [0u8; 512];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        ftp.init().await.unwrap();
        let how = UfsUpload { timeout_s: 5, ack: true };
        let r = ftp.ufs_upload("a.bin", &mut &data[..], 2048, how, Transfer::default()).await;
        assert_eq!(r, Err(Error::Cme(CmeError::Code(420))));
    });
    modem.finished();
}

#[test]
fn a_download_is_taken_by_its_length_and_its_checksum_checked() {
    let _c = clock();
    // A file that holds what the module prints after it.
    let mut data = hostile(3000);
    data.extend_from_slice(b"\r\n+QFDWL: 1,0\r\n\r\nOK\r\n");
    for chunk in [1, 7, 64, usize::MAX] {
        let modem =
            Modem::new(boot().then(qfdwl("f.bin", &data, (data.len(), checksum(&data))))).with_read_chunk(chunk);
        let mut buf = [0u8; 256];
        let mut ftp = client(&modem, &mut buf);
        let mut sink = Sink(Vec::new());
        run(LONG, async {
            ftp.init().await.unwrap();
            assert_eq!(ftp.ufs_download("f.bin", &mut sink, Transfer::default()).await, Ok(data.len() as u64));
        });
        modem.finished();
        assert!(sink.0 == data, "read chunk {chunk}");
    }
}

#[test]
fn a_download_whose_checksum_disagrees_is_an_error() {
    let _c = clock();
    let data = b"0123456789".to_vec();
    let modem = Modem::new(boot().then(qfdwl("f.bin", &data, (data.len(), 0x1234))));
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        ftp.init().await.unwrap();
        let r = ftp.ufs_download("f.bin", &mut Sink(Vec::new()), Transfer::default()).await;
        assert_eq!(r, Err(Error::Checksum { ours: 0x3839, module: 0x1234 }));
    });
    modem.finished();
}

/// `AT+QFREAD`'s `CONNECT <n>` at every split of the module's output.
#[test]
fn a_file_read_in_counted_pieces_at_every_split() {
    let _c = clock();
    let data = hostile(700);
    let mut transcript = Script::new().cmd("AT+QFOPEN=\"f.bin\",2").lines(&["+QFOPEN: 3", "OK"]);
    for piece in data.chunks(256) {
        transcript = transcript
            .cmd("AT+QFREAD=3,256")
            .send(format!("\r\nCONNECT {}\r\n", piece.len()).as_bytes())
            .send(piece)
            .lines(&["OK"]);
    }
    let transcript = transcript.cmd("AT+QFREAD=3,256").lines(&["CONNECT 0", "OK"]).ok("AT+QFCLOSE=3");
    for chunk in (1..=24).chain([255, 256, 257, usize::MAX]) {
        let modem = Modem::new(boot().then(Script(transcript.0.clone()))).with_read_chunk(chunk);
        let mut buf = [0u8; 256];
        let mut ftp = client(&modem, &mut buf);
        let mut sink = Sink(Vec::new());
        run(LONG, async {
            ftp.init().await.unwrap();
            let opts = Transfer { chunk: 256, ..Transfer::default() };
            assert_eq!(ftp.ufs_read("f.bin", &mut sink, opts).await, Ok(700));
        });
        modem.finished();
        assert!(sink.0 == data, "read chunk {chunk}");
    }
}

#[test]
fn a_file_that_cannot_be_opened_is_not_read() {
    let _c = clock();
    let modem = Modem::new(boot().cmd("AT+QFOPEN=\"f.bin\",2").lines(&["+CME ERROR: 405"]));
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        ftp.init().await.unwrap();
        let r = ftp.ufs_read("f.bin", &mut Sink(Vec::new()), Transfer::default()).await;
        assert_eq!(r, Err(Error::Cme(CmeError::Code(405))));
    });
    modem.finished();
}

#[test]
fn ftp_through_a_local_file() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPPUT=\"r.bin\",\"UFS:a.bin\",0", "+QFTPPUT: 0,1000")
            .deferred("AT+QFTPGET=\"r.bin\",\"RAM:b.bin\",10", "+QFTPGET: 0,990")
            .deferred("AT+QFTPMLSD=\".\",\"list.txt\"", "+QFTPMLSD: 0,77")
            .deferred("AT+QFTPPUT=\"r.bin\",\"none\",0", "+QFTPPUT: 611,0"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.put_from_ufs("r.bin", "UFS:a.bin", 0, 60).await, Ok(1000));
        assert_eq!(ftp.get_to_ufs("r.bin", "RAM:b.bin", 10, 60).await, Ok(990));
        assert_eq!(ftp.list_to_ufs(Listing::Mlsd, ".", "list.txt", 60).await, Ok(77));
        let r = ftp.put_from_ufs("r.bin", "none", 0, 60).await;
        assert!(matches!(r, Err(Error::Ftp { module, .. }) if module.code() == 611), "{r:?}");
    });
    modem.finished();
}

/// The module's own transfer may take longer than `rsptimeout`: the
/// wait is the caller's `within_s`.
#[test]
fn the_module_s_own_transfer_may_take_its_time() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .cmd("AT+QFTPGET=\"big\",\"big\"")
            .lines(&["OK"])
            .pause(Duration::from_secs(400))
            .lines(&["+QFTPGET: 0,1048576"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        up(&mut ftp).await;
        assert_eq!(ftp.get_to_ufs("big", "big", 0, 600).await, Ok(1_048_576));
    });
    modem.finished();
}

/// 1 MiB of hostile bytes up through the file store: staged, sent by the
/// module, deleted; byte for byte on the wire.
#[test]
fn store_and_forward_up_a_hostile_mib() {
    let _c = clock();
    let data = hostile(1 << 20);
    let modem = Modem::new(
        boot_open()
            .then(qfupl("stage.bin", &data, (data.len(), checksum(&data))))
            .deferred("AT+QFTPPUT=\"r.bin\",\"stage.bin\",0", "+QFTPPUT: 0,1048576")
            .ok("AT+QFDEL=\"stage.bin\""),
    );
    let mut buf = vec![0u8; 16 * 1024];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        up(&mut ftp).await;
        let staging = Staging::new("stage.bin");
        let r = ftp.put_via_ufs("r.bin", &mut &data[..], data.len() as u64, &staging, Transfer::default()).await;
        assert_eq!(r, Ok(1 << 20));
    });
    modem.finished();
}

/// 1 MiB of hostile bytes down through the file store: fetched by the
/// module, read back, deleted.
#[test]
fn store_and_forward_down_a_hostile_mib() {
    let _c = clock();
    let data = hostile(1 << 20);
    let modem = Modem::new(
        boot_open()
            .deferred("AT+QFTPGET=\"r.bin\",\"stage.bin\"", "+QFTPGET: 0,1048576")
            .then(qfdwl("stage.bin", &data, (data.len(), checksum(&data))))
            .ok("AT+QFDEL=\"stage.bin\""),
    );
    let mut buf = vec![0u8; 16 * 1024];
    let mut ftp = client(&modem, &mut buf);
    let mut sink = Sink(Vec::new());
    run(LONG, async {
        up(&mut ftp).await;
        let r = ftp.get_via_ufs("r.bin", &mut sink, &Staging::new("stage.bin"), Transfer::default()).await;
        assert_eq!(r, Ok(1 << 20));
    });
    modem.finished();
    assert!(sink.0 == data);
}

/// Nothing staged is left behind when the module's transfer fails, and a
/// staging file that existed already is left alone.
#[test]
fn store_and_forward_cleans_up_what_it_staged_and_only_that() {
    let _c = clock();
    let modem = Modem::new(
        boot_open()
            .then(qfupl("stage.bin", b"abc", (3, checksum(b"abc"))))
            .deferred("AT+QFTPPUT=\"r.bin\",\"stage.bin\",0", "+QFTPPUT: 627,550")
            .ok("AT+QFDEL=\"stage.bin\"")
            .cmd("AT+QFUPL=\"stage.bin\",3,5,0")
            .lines(&["+CME ERROR: 407"])
            .deferred("AT+QFTPGET=\"r.bin\",\"stage.bin\"", "+QFTPGET: 627,550")
            .cmd("AT+QFDEL=\"stage.bin\"")
            .lines(&["+CME ERROR: 405"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        up(&mut ftp).await;
        let staging = Staging::new("stage.bin");
        let r = ftp.put_via_ufs("r.bin", &mut &b"abc"[..], 3, &staging, Transfer::default()).await;
        assert!(matches!(r, Err(Error::Ftp { .. })), "{r:?}");
        let r = ftp.put_via_ufs("r.bin", &mut &b"abc"[..], 3, &staging, Transfer::default()).await;
        assert_eq!(r, Err(Error::Cme(CmeError::Code(407))));
        let r = ftp.get_via_ufs("r.bin", &mut Sink(Vec::new()), &staging, Transfer::default()).await;
        assert!(matches!(r, Err(Error::Ftp { .. })), "{r:?}");
    });
    modem.finished();
}

#[test]
fn the_certificates_of_ftps_that_verifies_the_server() {
    let _c = clock();
    let pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let modem = Modem::new(
        boot()
            .cmd("AT+QFDEL=\"ca.pem\"")
            .lines(&["+CME ERROR: 405"])
            .then(qfupl("ca.pem", pem, (pem.len(), checksum(pem))))
            .ok("AT+QSSLCFG=\"seclevel\",1,1")
            .ok("AT+QSSLCFG=\"cacert\",1,\"ca.pem\"")
            .ok("AT+QSSLCFG=\"cacert\",2,\"ca.pem\"")
            .ok("AT+QSSLCFG=\"clientcert\",2,\"me.pem\"")
            .ok("AT+QSSLCFG=\"clientkey\",2,\"key.pem\""),
    );
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        ftp.init().await.unwrap();
        assert_eq!(ftp.install_ca("ca.pem", &mut &pem[..], pem.len() as u64, 1).await, Ok(()));
        let files = SslFiles { cacert: Some("ca.pem"), clientcert: Some("me.pem"), clientkey: Some("key.pem") };
        assert_eq!(ftp.ssl_files(2, &files).await, Ok(()));
    });
    modem.finished();
}

/// A piece that stops coming: the call times out, writes no
/// `AT+QFCLOSE` into what may still be data mode, and the next call
/// escapes and probes first, then closes the file.
#[test]
fn a_read_that_stops_midway_is_not_followed_by_a_command_into_its_data() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .cmd("AT+QFOPEN=\"f.bin\",2")
            .lines(&["+QFOPEN: 1", "OK"])
            .cmd("AT+QFREAD=1,100")
            .send(b"\r\nCONNECT 100\r\n0123456789")
            // Silent from here until the client's escape.
            .expect(b"+++")
            .lines(&["OK"])
            .then(probe())
            .ok("AT+QFCLOSE=1")
            .cmd("AT+QFLDS=\"UFS\"")
            .lines(&["+QFLDS: 1,2", "OK"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async {
        ftp.init().await.unwrap();
        let opts = Transfer { chunk: 100, ..Transfer::default() };
        assert_eq!(ftp.ufs_read("f.bin", &mut Sink(Vec::new()), opts).await, Err(Error::Timeout));
        assert_eq!(ftp.ufs_space().await, Ok(UfsSpace { free: 1, total: 2 }));
    });
    modem.finished();
}

/// A read dropped in the middle of a piece: the next call leaves data
/// mode, probes and closes the file the read left open (the module would
/// answer `+CME ERROR: 426` to opening it again), then reads it again.
#[test]
fn a_dropped_read_s_file_is_closed_before_the_next_read() {
    let _c = clock();
    let data = hostile(300);
    let modem = Modem::new(
        boot()
            .cmd("AT+QFOPEN=\"f.bin\",2")
            .lines(&["+QFOPEN: 1027", "OK"])
            .cmd("AT+QFREAD=1027,300")
            .send(b"\r\nCONNECT 300\r\n")
            .send(&data[..100])
            .expect(b"+++")
            .lines(&["OK"])
            .then(probe())
            .ok("AT+QFCLOSE=1027")
            .cmd("AT+QFOPEN=\"f.bin\",2")
            .lines(&["+QFOPEN: 1028", "OK"])
            .cmd("AT+QFREAD=1028,300")
            .send(b"\r\nCONNECT 300\r\n")
            .send(&data)
            .lines(&["OK"])
            .cmd("AT+QFREAD=1028,300")
            .lines(&["CONNECT 0", "OK"])
            .ok("AT+QFCLOSE=1028"),
    );
    let mut buf = [0u8; 512];
    let mut ftp = client(&modem, &mut buf);
    let opts = || Transfer { chunk: 300, ..Transfer::default() };
    run(LONG, async { ftp.init().await.unwrap() });
    poll_then_drop(200, ftp.ufs_read("f.bin", &mut Sink(Vec::new()), opts()));
    let mut sink = Sink(Vec::new());
    run(LONG, async {
        assert_eq!(ftp.ufs_read("f.bin", &mut sink, opts()).await, Ok(300));
    });
    modem.finished();
    assert!(sink.0 == data);
}

/// `+QFOPEN: <handle>` heard, then nonsense before its `OK` (a `CONNECT`
/// no command asked for): the read fails with `Protocol`, but the module
/// said it opened the file, so the next call closes that handle (left
/// open, reading the file again would answer `+CME ERROR: 426`). Fuzz
/// seed `finding-ufs-open-answer-garbled-file-left-open`.
#[test]
fn a_handle_heard_before_a_garbled_open_answer_is_closed_by_the_next_call() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .cmd("AT+QFOPEN=\"f.bin\",2")
            .lines(&["+QFOPEN: 1027", "CONNECT 7", "OK"])
            .then(probe())
            .ok("AT+QFCLOSE=1027")
            .cmd("AT+QFOPEN=\"f.bin\",2")
            .lines(&["+QFOPEN: 1028", "OK"])
            .cmd("AT+QFREAD=1028,100")
            .lines(&["CONNECT 0", "OK"])
            .ok("AT+QFCLOSE=1028"),
    );
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    let opts = || Transfer { chunk: 100, ..Transfer::default() };
    run(LONG, async {
        ftp.init().await.unwrap();
        assert_eq!(ftp.ufs_read("f.bin", &mut Sink(Vec::new()), opts()).await, Err(Error::Protocol));
        assert_eq!(ftp.ufs_read("f.bin", &mut Sink(Vec::new()), opts()).await, Ok(0));
    });
    modem.finished();
}

/// The module restarted since the read was dropped: closing the file it
/// left open answers `+CME ERROR: 416` (not open), which is forgotten, and
/// the next call goes on; the one after closes nothing.
#[test]
fn a_left_open_file_the_module_closed_itself_is_forgotten() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .cmd("AT+QFOPEN=\"f.bin\",2")
            .lines(&["+QFOPEN: 1", "OK"])
            .cmd("AT+QFREAD=1,100")
            .send(b"\r\nCONNECT 100\r\n0123")
            .expect(b"+++")
            .lines(&["OK"])
            .then(probe())
            .cmd("AT+QFCLOSE=1")
            .lines(&["+CME ERROR: 416"])
            .ok("AT+QFDEL=\"f.bin\"")
            .ok("AT+QFDEL=\"g.bin\""),
    );
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    run(LONG, async { ftp.init().await.unwrap() });
    poll_then_drop(200, ftp.ufs_read("f.bin", &mut Sink(Vec::new()), Transfer { chunk: 100, ..Transfer::default() }));
    run(LONG, async {
        assert_eq!(ftp.ufs_delete("f.bin").await, Ok(()));
        assert_eq!(ftp.ufs_delete("g.bin").await, Ok(()));
    });
    modem.finished();
}

/// A byte doubled inside a counted piece (`CONNECT 7`, then eight bytes):
/// the seven taken are not followed by `\r\nOK\r\n` at once, so they are
/// not the piece. The read fails (it used to return the shifted bytes as
/// the file); the module may still be sending, so the next call leaves
/// data mode first, then closes the file. Fuzz seed
/// `finding-ufs-read-piece-not-followed-by-ok`.
#[test]
fn a_byte_doubled_inside_a_read_piece_is_refused() {
    let _c = clock();
    let modem = Modem::new(
        boot()
            .cmd("AT+QFOPEN=\"f.bin\",2")
            .lines(&["+QFOPEN: 1", "OK"])
            .cmd("AT+QFREAD=1,7")
            .send(b"\r\nCONNECT 7\r\n01233456\r\nOK\r\n")
            // The module had sent its piece: the `+++` finds it in command
            // mode (the `OK` the escape waits for is the piece's, read
            // already).
            .expect(b"+++")
            .then(probe())
            .ok("AT+QFCLOSE=1")
            .cmd("AT+QFLDS=\"UFS\"")
            .lines(&["+QFLDS: 1,2", "OK"]),
    );
    let mut buf = [0u8; 256];
    let mut ftp = client(&modem, &mut buf);
    let mut sink = Sink(Vec::new());
    run(LONG, async {
        ftp.init().await.unwrap();
        let opts = Transfer { chunk: 7, ..Transfer::default() };
        assert_eq!(ftp.ufs_read("f.bin", &mut sink, opts).await, Err(Error::Protocol));
        assert_eq!(ftp.ufs_space().await, Ok(UfsSpace { free: 1, total: 2 }));
    });
    modem.finished();
}
