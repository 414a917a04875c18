//! The module's file store (UFS and RAM) and its FILE commands, on the
//! wire, and FTP transfers to and from files against a real server.

mod common;

use std::time::{Duration, Instant};

use common::{checksum_hex, hostile_of_len, hostile_payload, Host};
use quectel_ftp_sim::{Faults, SimConfig, TestServer};

/// A module with echo off; a short guard time keeps `+++` tests quick.
fn module(faults: Faults) -> Host {
    let config = SimConfig { guard_time: Duration::from_millis(200), faults, ..SimConfig::default() };
    let mut host = Host::new(config);
    assert_eq!(host.at("ATE0", "OK\r\n"), "ATE0\r\r\nOK\r\n");
    host
}

const MIB: usize = 1 << 20;

#[test]
fn checksum_oracle_matches_the_manuals_rule() {
    // Pairs high byte first, XORed; an odd last byte is the high half.
    assert_eq!(checksum_hex(&[0x61, 0x3e]), "613e");
    assert_eq!(checksum_hex(b"1234567890"), "3938");
    assert_eq!(checksum_hex(b"12345"), "3706");
    assert_eq!(checksum_hex(&[0x00, 0x0a]), "a", "no leading zeros");
    assert_eq!(checksum_hex(b""), "0");
}

#[test]
fn every_file_command_answers_in_the_modules_framing() {
    let mut host = module(Faults::default());
    host.expect(r#"AT+QFLDS="UFS""#, "\r\n+QFLDS: 4194304,4194304\r\n\r\nOK\r\n");
    host.expect("AT+QFLDS", "\r\n+QFLDS: 0,0\r\n\r\nOK\r\n");
    host.expect("AT+QFLST", "\r\nOK\r\n");

    host.expect(r#"AT+QFUPL="a.txt",10"#, "\r\nCONNECT\r\n");
    host.send("1234567890");
    host.expect_output("\r\n+QFUPL: 10,3938\r\n\r\nOK\r\n");
    // An odd length: the last byte is the high half of a word.
    host.expect(r#"AT+QFUPL="RAM:r.bin",5"#, "\r\nCONNECT\r\n");
    host.send("12345");
    host.expect_output("\r\n+QFUPL: 5,3706\r\n\r\nOK\r\n");
    // The manual's example result, from bytes that give it.
    host.expect(r#"AT+QFUPL="UFS:m.bin",10"#, "\r\nCONNECT\r\n");
    host.send([0x61, 0x3e, 0, 1, 0, 1, 0xff, 0, 0xff, 0]);
    host.expect_output("\r\n+QFUPL: 10,613e\r\n\r\nOK\r\n");

    host.expect(r#"AT+QFLDS="UFS""#, "\r\n+QFLDS: 4194284,4194304\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFLDS="RAM""#, "\r\n+QFLDS: 4194299,4194304\r\n\r\nOK\r\n");
    host.expect("AT+QFLDS", "\r\n+QFLDS: 20,2\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFLDS="SD""#, "\r\n+CME ERROR: 400\r\n");

    host.expect("AT+QFLST", "\r\n+QFLST: \"a.txt\",10\r\n\r\n+QFLST: \"m.bin\",10\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFLST="*""#, "\r\n+QFLST: \"a.txt\",10\r\n\r\n+QFLST: \"m.bin\",10\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFLST="UFS:*.txt""#, "\r\n+QFLST: \"a.txt\",10\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFLST="?.bin""#, "\r\n+QFLST: \"m.bin\",10\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFLST="RAM:*""#, "\r\n+QFLST: \"RAM:r.bin\",5\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFLST="m.bin""#, "\r\n+QFLST: \"m.bin\",10\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFLST="b*""#, "\r\nOK\r\n");
    host.expect(r#"AT+QFLST="none.txt""#, "\r\n+CME ERROR: 405\r\n");
    assert_eq!(host.control.files(), [("a.txt".to_owned(), 10), ("m.bin".to_owned(), 10), ("RAM:r.bin".to_owned(), 5)]);

    host.expect(r#"AT+QFDWL="a.txt""#, "\r\nCONNECT\r\n1234567890\r\n+QFDWL: 10,3938\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFDWL="UFS:a.txt""#, "\r\nCONNECT\r\n1234567890\r\n+QFDWL: 10,3938\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFDWL="RAM:r.bin""#, "\r\nCONNECT\r\n12345\r\n+QFDWL: 5,3706\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFDWL="r.bin""#, "\r\n+CME ERROR: 405\r\n");

    // Errors before CONNECT.
    host.expect(r#"AT+QFUPL="a.txt",10"#, "\r\n+CME ERROR: 407\r\n");
    host.expect(r#"AT+QFUPL="UFS:a.txt""#, "\r\n+CME ERROR: 407\r\n");
    host.expect(r#"AT+QFUPL="a*b",10"#, "\r\n+CME ERROR: 406\r\n");
    host.expect(r#"AT+QFUPL="""#, "\r\n+CME ERROR: 406\r\n");
    host.expect(&format!(r#"AT+QFUPL="{}",10"#, "x".repeat(81)), "\r\n+CME ERROR: 406\r\n");
    host.expect(r#"AT+QFUPL="new.bin",0"#, "\r\n+CME ERROR: 400\r\n");
    host.expect(r#"AT+QFUPL="new.bin",10,5,2"#, "\r\n+CME ERROR: 400\r\n");
    host.expect(r#"AT+QFUPL=new.bin"#, "\r\n+CME ERROR: 400\r\n");
    host.expect("AT+QFUPL=?", "\r\nERROR\r\n");
    host.expect("AT+CMEE=2", "\r\nOK\r\n");
    host.expect(r#"AT+QFDWL="gone""#, "\r\n+CME ERROR: file not found\r\n");
    host.expect("AT+CMEE=1", "\r\nOK\r\n");

    host.expect(r#"AT+QFDEL="a.txt""#, "\r\nOK\r\n");
    host.expect(r#"AT+QFDEL="a.txt""#, "\r\n+CME ERROR: 405\r\n");
    host.expect(r#"AT+QFDEL="*""#, "\r\nOK\r\n");
    host.expect("AT+QFLST", "\r\nOK\r\n");
    host.expect(r#"AT+QFLST="RAM:*""#, "\r\n+QFLST: \"RAM:r.bin\",5\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFDEL="RAM:*""#, "\r\nOK\r\n");
    host.expect(r#"AT+QFLST="RAM:*""#, "\r\nOK\r\n");
    host.expect("AT+QFLDS", "\r\n+QFLDS: 0,0\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFDEL="*""#, "\r\nOK\r\n");
}

#[test]
fn upload_ends_at_its_size_by_default_after_its_timeout_and_at_a_guarded_escape() {
    let mut host = module(Faults::default());
    // Default <file_size>: 10240.
    let data = hostile_of_len(10240);
    host.expect(r#"AT+QFUPL="default.bin""#, "\r\nCONNECT\r\n");
    host.send(&data);
    host.expect_output(&format!("\r\n+QFUPL: 10240,{}\r\n\r\nOK\r\n", checksum_hex(&data)));
    assert_eq!(host.control.ufs_file("default.bin").unwrap(), data);

    // <timeout> seconds without a byte end it; what arrived is kept.
    host.expect(r#"AT+QFUPL="short.bin",100,1"#, "\r\nCONNECT\r\n");
    host.send("abc");
    let sent = Instant::now();
    host.expect_output(&format!("\r\n+QFUPL: 3,{}\r\n\r\nOK\r\n", checksum_hex(b"abc")));
    assert!(sent.elapsed() >= Duration::from_millis(950), "{:?}", sent.elapsed());
    assert_eq!(host.control.ufs_file("short.bin").unwrap(), b"abc");

    // A guarded +++ ends it early; unguarded pluses are data.
    host.expect(r#"AT+QFUPL="esc.bin",1000,30"#, "\r\nCONNECT\r\n");
    host.send("x+++y");
    std::thread::sleep(Duration::from_millis(300));
    host.send("+++");
    let escaped = Instant::now();
    host.expect_output(&format!("\r\n+QFUPL: 5,{}\r\n\r\nOK\r\n", checksum_hex(b"x+++y")));
    assert!(escaped.elapsed() >= Duration::from_millis(180), "guard after +++");
    assert_eq!(host.control.ufs_file("esc.bin").unwrap(), b"x+++y");

    // +++ at once: an empty file.
    host.expect(r#"AT+QFUPL="RAM:empty.bin",1000,30"#, "\r\nCONNECT\r\n");
    std::thread::sleep(Duration::from_millis(300));
    host.send("+++");
    host.expect_output("\r\n+QFUPL: 0,0\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFLST="RAM:*""#, "\r\n+QFLST: \"RAM:empty.bin\",0\r\n\r\nOK\r\n");
    host.expect("AT", "\r\nOK\r\n");
}

#[test]
fn ack_mode_sends_a_after_each_kib_and_loses_what_the_host_did_not_wait_for() {
    let mut host = module(Faults::default());
    let data = hostile_of_len(3000);
    host.expect(r#"AT+QFUPL="ack.bin",3000,5,1"#, "\r\nCONNECT\r\n");
    for (i, chunk) in data.chunks(1024).enumerate() {
        host.send(chunk);
        if i < 2 {
            host.expect_output("A");
        }
    }
    host.expect_output(&format!("\r\n+QFUPL: 3000,{}\r\n\r\nOK\r\n", checksum_hex(&data)));
    assert_eq!(host.control.ufs_file("ack.bin").unwrap(), data);

    // A size that is a multiple of 1 KiB: no A after the last KiB.
    let data = hostile_of_len(2048);
    host.expect(r#"AT+QFUPL="RAM:even.bin",2048,5,1"#, "\r\nCONNECT\r\n");
    host.send(&data[..1024]);
    host.expect_output("A");
    host.send(&data[1024..]);
    host.expect_output(&format!("\r\n+QFUPL: 2048,{}\r\n\r\nOK\r\n", checksum_hex(&data)));

    // A host that sends on without waiting for the A loses those bytes:
    // the module keeps the first KiB and ends on its timeout.
    host.expect(r#"AT+QFUPL="lossy.bin",2048,1,1"#, "\r\nCONNECT\r\n");
    host.send(&data);
    host.expect_output(&format!("A\r\n+QFUPL: 1024,{}\r\n\r\nOK\r\n", checksum_hex(&data[..1024])));
    assert_eq!(host.control.ufs_file("lossy.bin").unwrap(), &data[..1024]);

    // Escape after an A.
    host.expect(r#"AT+QFUPL="part.bin",4096,30,1"#, "\r\nCONNECT\r\n");
    host.send(&data[..1024]);
    host.expect_output("A");
    std::thread::sleep(Duration::from_millis(300));
    host.send("+++");
    host.expect_output(&format!("\r\n+QFUPL: 1024,{}\r\n\r\nOK\r\n", checksum_hex(&data[..1024])));
}

#[test]
fn open_read_in_chunks_and_close() {
    let mut host = module(Faults::default());
    let data = hostile_payload();
    host.control.set_ufs_file("f.bin", &data);
    host.expect(r#"AT+QFOPEN="f.bin",2"#, "\r\n+QFOPEN: 1\r\n\r\nOK\r\n");
    let mut back = Vec::new();
    loop {
        host.send("AT+QFREAD=1,100\r");
        host.expect_output("\r\n");
        let line = host.line();
        let n: usize = line.strip_prefix("CONNECT ").unwrap().parse().unwrap();
        assert!(n <= 100);
        back.extend(host.read_exact(n));
        host.expect_output("\r\nOK\r\n");
        if n == 0 {
            break;
        }
    }
    assert_eq!(back, data);
    host.expect("AT+QFREAD=1,100", "\r\nCONNECT 0\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFOPEN="f.bin""#, "\r\n+CME ERROR: 426\r\n");
    host.expect(r#"AT+QFOPEN="RAM:f.bin",2"#, "\r\n+CME ERROR: 405\r\n");
    host.expect(r#"AT+QFDEL="f.bin""#, "\r\n+CME ERROR: 418\r\n");
    host.expect("AT+QFREAD=7", "\r\n+CME ERROR: 416\r\n");
    host.expect("AT+QFREAD=99999999999", "\r\n+CME ERROR: 416\r\n");
    host.expect("AT+QFREAD=x", "\r\n+CME ERROR: 400\r\n");
    host.expect("AT+QFCLOSE=1", "\r\nOK\r\n");
    host.expect("AT+QFCLOSE=1", "\r\n+CME ERROR: 416\r\n");
    host.expect("AT+QFREAD=1,10", "\r\n+CME ERROR: 416\r\n");

    // Without <length>: the rest of the file, at most 10240 bytes a read.
    let big = hostile_of_len(12000);
    host.control.set_ufs_file("UFS:big.bin", &big);
    host.expect(r#"AT+QFOPEN="big.bin",0"#, "\r\n+QFOPEN: 1\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFOPEN="RAM:new.bin""#, "\r\n+QFOPEN: 2\r\n\r\nOK\r\n");
    host.expect("AT+QFREAD=1", "\r\nCONNECT 10240\r\n");
    assert_eq!(host.read_exact(10240), &big[..10240]);
    host.expect_output("\r\nOK\r\n");
    host.expect("AT+QFREAD=1", "\r\nCONNECT 1760\r\n");
    assert_eq!(host.read_exact(1760), &big[10240..]);
    host.expect_output("\r\nOK\r\n");
    host.expect("AT+QFREAD=1", "\r\nCONNECT 0\r\n\r\nOK\r\n");
    // Mode 0 created the RAM file, empty.
    host.expect("AT+QFREAD=2", "\r\nCONNECT 0\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFLST="RAM:*""#, "\r\n+QFLST: \"RAM:new.bin\",0\r\n\r\nOK\r\n");
    host.expect("AT+QFCLOSE=1", "\r\nOK\r\n");
    host.expect("AT+QFCLOSE=2", "\r\nOK\r\n");
    // Mode 1 truncates.
    host.expect(r#"AT+QFOPEN="big.bin",1"#, "\r\n+QFOPEN: 1\r\n\r\nOK\r\n");
    host.expect("AT+QFREAD=1,10", "\r\nCONNECT 0\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFLST="big.bin""#, "\r\n+QFLST: \"big.bin\",0\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFOPEN="big.bin",3"#, "\r\n+CME ERROR: 400\r\n");

    // A reset closes the handles and empties RAM; UFS stays.
    host.control.reset();
    host.read_until("+QIND: SMS DONE\r\n");
    assert_eq!(host.at("ATE0", "OK\r\n"), "ATE0\r\r\nOK\r\n");
    host.expect("AT+QFCLOSE=1", "\r\n+CME ERROR: 416\r\n");
    host.expect(r#"AT+QFLST="RAM:*""#, "\r\nOK\r\n");
    let listing = format!("\r\n+QFLST: \"big.bin\",0\r\n\r\n+QFLST: \"f.bin\",{}\r\n\r\nOK\r\n", data.len());
    host.expect("AT+QFLST", &listing);
}

#[test]
fn a_full_drive_answers_no_space() {
    let faults = Faults { ufs_capacity: 100, ufs_max_files: 2, ..Faults::default() };
    let mut host = module(faults);
    host.expect(r#"AT+QFLDS="UFS""#, "\r\n+QFLDS: 100,100\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFUPL="a.bin""#, "\r\n+CME ERROR: 420\r\n");
    host.expect(r#"AT+QFUPL="a.bin",101"#, "\r\n+CME ERROR: 420\r\n");
    host.upload_file("a.bin", &[1; 60]);
    host.expect(r#"AT+QFLDS="UFS""#, "\r\n+QFLDS: 40,100\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFUPL="b.bin",41"#, "\r\n+CME ERROR: 420\r\n");
    host.upload_file("b.bin", &[2; 40]);
    host.expect(r#"AT+QFLDS="UFS""#, "\r\n+QFLDS: 0,100\r\n\r\nOK\r\n");
    host.expect("AT+QFLDS", "\r\n+QFLDS: 100,2\r\n\r\nOK\r\n");
    // Too many files is "no space" too, also for an empty one.
    host.expect(r#"AT+QFDEL="b.bin""#, "\r\nOK\r\n");
    host.control.set_ufs_file("b.bin", &[]);
    host.expect(r#"AT+QFUPL="c.bin",1"#, "\r\n+CME ERROR: 420\r\n");
    host.expect(r#"AT+QFOPEN="c.bin""#, "\r\n+CME ERROR: 420\r\n");
    // RAM is a drive of its own.
    host.upload_file("RAM:c.bin", &[3; 100]);

    // Found while streaming (the drive shrank meanwhile): data mode ends
    // as usual, the answer is 420, no file is kept and the module is sane.
    host.expect(r#"AT+QFDEL="b.bin""#, "\r\nOK\r\n");
    host.expect(r#"AT+QFUPL="d.bin",40"#, "\r\nCONNECT\r\n");
    host.control.update_faults(|f| f.ufs_capacity = 70);
    host.send([4; 40]);
    host.expect_output("\r\n+CME ERROR: 420\r\n");
    host.expect("AT", "\r\nOK\r\n");
    host.expect("AT+QFLST", "\r\n+QFLST: \"a.bin\",60\r\n\r\nOK\r\n");

    // The control handle's view and changes.
    assert_eq!(host.control.files(), [("a.bin".to_owned(), 60), ("RAM:c.bin".to_owned(), 100)]);
    assert!(host.control.remove_ufs_file("UFS:a.bin"));
    assert!(!host.control.remove_ufs_file("a.bin"));
    host.expect("AT+QFLDS", "\r\n+QFLDS: 0,0\r\n\r\nOK\r\n");
    host.control.clear_files();
    assert!(host.control.files().is_empty());
    host.expect(r#"AT+QFLDS="RAM""#, "\r\n+QFLDS: 70,70\r\n\r\nOK\r\n");
}

#[test]
fn ftp_put_from_and_get_to_files_byte_exact() {
    let server = TestServer::start().unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    let data = hostile_of_len(MIB);
    host.upload_file("big.bin", &data);

    host.expect(r#"AT+QFTPPUT="big.bin","big.bin""#, &format!("\r\nOK\r\n\r\n+QFTPPUT: 0,{MIB}\r\n"));
    assert!(std::fs::read(server.root().join("big.bin")).unwrap() == data, "uploaded from UFS");
    host.expect("AT+QFTPLEN", &format!("\r\nOK\r\n\r\n+QFTPLEN: 0,{MIB}\r\n"));

    host.expect(r#"AT+QFTPGET="big.bin","RAM:back.bin""#, &format!("\r\nOK\r\n\r\n+QFTPGET: 0,{MIB}\r\n"));
    assert!(host.download_file("RAM:back.bin", MIB) == data, "downloaded to RAM");
    // Getting again replaces the file.
    host.expect(r#"AT+QFTPGET="big.bin","UFS:big.bin""#, &format!("\r\nOK\r\n\r\n+QFTPGET: 0,{MIB}\r\n"));
    assert!(host.control.ufs_file("big.bin").unwrap() == data);

    // Resumed upload: the server has the first part; the file's bytes from
    // <startpos> on are appended.
    let start = 400_000;
    std::fs::write(server.root().join("resumed.bin"), &data[..start]).unwrap();
    let rest = MIB - start;
    host.expect(r#"AT+QFTPPUT="resumed.bin","big.bin",400000"#, &format!("\r\nOK\r\n\r\n+QFTPPUT: 0,{rest}\r\n"));
    assert!(std::fs::read(server.root().join("resumed.bin")).unwrap() == data, "resumed upload");
    // Resumed download: the local file keeps its first <startpos> bytes.
    host.control.set_ufs_file("part.bin", &data[..start]);
    host.expect(r#"AT+QFTPGET="big.bin","part.bin",400000"#, &format!("\r\nOK\r\n\r\n+QFTPGET: 0,{rest}\r\n"));
    assert!(host.control.ufs_file("part.bin").unwrap() == data, "resumed download");
    host.expect(r#"AT+QFTPGET="big.bin","tail.bin",1048000"#, "\r\nOK\r\n\r\n+QFTPGET: 0,576\r\n");
    assert_eq!(host.control.ufs_file("tail.bin").unwrap(), &data[1_048_000..]);

    // Local failures.
    host.expect(r#"AT+QFTPPUT="x.bin","none.bin""#, "\r\nOK\r\n\r\n+QFTPPUT: 611,0\r\n");
    host.expect(r#"AT+QFTPPUT="x.bin","a*b""#, "\r\nOK\r\n\r\n+QFTPPUT: 611,0\r\n");
    host.expect(r#"AT+QFTPPUT="x.bin","tail.bin",577"#, "\r\nOK\r\n\r\n+QFTPPUT: 612,0\r\n");
    assert!(!server.root().join("x.bin").exists());
    host.expect(r#"AT+QFTPGET="big.bin","a*b""#, "\r\nOK\r\n\r\n+QFTPGET: 611,0\r\n");
    host.expect(r#"AT+QFTPGET="missing.bin","m.bin""#, "\r\nOK\r\n\r\n+QFTPGET: 627,550\r\n");
    assert_eq!(host.control.ufs_file("m.bin"), None);

    // A full drive: module error 613, the file as it was.
    host.control.update_faults(|f| f.ufs_capacity = 5 * MIB as u64 / 2);
    host.expect(r#"AT+QFTPGET="big.bin","tail.bin""#, "\r\nOK\r\n\r\n+QFTPGET: 613,0\r\n");
    assert_eq!(host.control.ufs_file("tail.bin").unwrap(), &data[1_048_000..]);
    host.expect("AT+QFTPLEN", "\r\nOK\r\n\r\n+QFTPLEN: 0,576\r\n");
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n");
}

#[test]
fn listings_go_to_files() {
    let server = TestServer::start().unwrap();
    std::fs::write(server.root().join("a.txt"), b"hello").unwrap();
    std::fs::create_dir(server.root().join("sub")).unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    for (cmd, file, needle) in
        [("LIST", "list.txt", "a.txt"), ("NLST", "RAM:nlst.txt", "a.txt"), ("MLSD", "mlsd.txt", "type=file")]
    {
        host.expect(&format!(r#"AT+QFTP{cmd}=".","{file}""#), &format!("\r\nOK\r\n\r\n+QFTP{cmd}: 0,"));
        let n: usize = host.line().parse().unwrap();
        let listing = host.download_file(file, n);
        let text = String::from_utf8(listing).unwrap();
        assert!(text.contains(needle) && text.contains("sub") && text.ends_with("\r\n"), "{cmd}: {text}");
    }
    host.expect("AT+QFTPLIST=\".\",\"a?\"", "\r\nOK\r\n\r\n+QFTPLIST: 611,0\r\n");
    host.control.update_faults(|f| f.ufs_max_files = 2);
    host.expect("AT+QFTPLIST=\".\",\"third.txt\"", "\r\nOK\r\n\r\n+QFTPLIST: 613,0\r\n");
}
