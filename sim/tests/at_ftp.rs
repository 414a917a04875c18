//! The simulated module driven with raw AT bytes against a real FTP server.

mod common;

use std::time::{Duration, Instant};

use common::{hostile_payload, Host};
use quectel_ftp_sim::{SimConfig, TestServer};

#[test]
fn boots_with_echo_and_answers_basic_commands() {
    let mut host = Host::new(SimConfig::default());
    assert_eq!(host.at("AT", "OK\r\n"), "AT\r\r\nOK\r\n");
    assert_eq!(host.at("ATE0", "OK\r\n"), "ATE0\r\r\nOK\r\n");
    host.expect("AT", "\r\nOK\r\n");
    host.expect("AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    host.expect("AT+FOO=1", "\r\nERROR\r\n");
    host.expect(r#"AT+QICSGP=1,1,"CMNBIOT","","",1"#, "\r\nOK\r\n");
    host.expect("AT+QICSGP=1", "\r\n+QICSGP: 1,\"CMNBIOT\",\"\",\"\",1\r\n\r\nOK\r\n");
    host.expect("AT+QIACT?", "\r\nOK\r\n");
    host.expect("AT+QIACT=1", "\r\nOK\r\n");
    host.expect("AT+QIACT?", "\r\n+QIACT: 1,1,1,\"10.0.0.2\"\r\n\r\nOK\r\n");
    host.expect("AT+QIDEACT=1", "\r\nOK\r\n");
    host.expect("AT+QIACT?", "\r\nOK\r\n");
    host.expect("AT+CMEE=2", "\r\nOK\r\n");
    host.expect("AT+CMEE?", "\r\n+CMEE: 2\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFTPCFG="filetype",7"#, "\r\n+CME ERROR: invalid parameter\r\n");
    host.expect("AT+CMEE=0", "\r\nOK\r\n");
    host.expect(r#"AT+QFTPCFG="filetype",7"#, "\r\nERROR\r\n");
    host.expect("AT+CMEE=1", "\r\nOK\r\n");
    host.expect(r#"AT+QFTPCFG="filetype",7"#, "\r\n+CME ERROR: 610\r\n");
}

#[test]
fn every_ftpcfg_setting_checks_its_range() {
    let mut host = Host::new(SimConfig::default());
    host.at("ATE0", "OK\r\n");
    let settings = [
        ("filetype", 0, 1),
        ("transmode", 0, 1),
        ("contextid", 1, 16),
        ("rsptimeout", 20, 180),
        ("ssltype", 0, 2),
        ("sslctxid", 0, 5),
        ("data_address", 0, 1),
    ];
    for (name, min, max) in settings {
        for ok in [min, max] {
            host.expect(&format!(r#"AT+QFTPCFG="{name}",{ok}"#), "\r\nOK\r\n");
            host.expect(&format!(r#"AT+QFTPCFG="{name}""#), &format!("\r\n+QFTPCFG: \"{name}\",{ok}\r\n\r\nOK\r\n"));
        }
        for bad in [format!("{}", max + 1), "\"1\"".to_owned(), "x".to_owned()] {
            host.expect(&format!(r#"AT+QFTPCFG="{name}",{bad}"#), "\r\n+CME ERROR: 610\r\n");
        }
        if min > 0 {
            host.expect(&format!(r#"AT+QFTPCFG="{name}",{}"#, min - 1), "\r\n+CME ERROR: 610\r\n");
        }
    }
    host.expect(r#"AT+QFTPCFG="account","u","p""#, "\r\nOK\r\n");
    host.expect(r#"AT+QFTPCFG="account""#, "\r\n+QFTPCFG: \"account\",\"u\",\"p\"\r\n\r\nOK\r\n");
    host.expect(r#"AT+QFTPCFG="account",1,2"#, "\r\n+CME ERROR: 610\r\n");
    host.expect(r#"AT+QFTPCFG="bogus",1"#, "\r\n+CME ERROR: 610\r\n");
    let test = host.at("AT+QFTPCFG=?", "\r\nOK\r\n");
    assert_eq!(test.matches("+QFTPCFG: ").count(), 9, "{test}");
    host.expect(r#"AT+QSSLCFG="ciphersuite",0,0XFFFF"#, "\r\nOK\r\n");
    host.expect(r#"AT+QSSLCFG="seclevel",0,0"#, "\r\nOK\r\n");
    host.expect(r#"AT+QSSLCFG="sslversion",0,4"#, "\r\nOK\r\n");
    host.expect(r#"AT+QSSLCFG="cacert",2,"cacert.pem""#, "\r\nOK\r\n");
    host.expect(r#"AT+QSSLCFG="sslversion",0,5"#, "\r\n+CME ERROR: 610\r\n");
    host.expect(r#"AT+QSSLCFG="seclevel",6,0"#, "\r\n+CME ERROR: 610\r\n");
    host.expect(r#"AT+QSSLCFG="sslversion",0"#, "\r\n+QSSLCFG: \"sslversion\",0,4\r\n\r\nOK\r\n");
    host.expect(r#"AT+QSSLCFG="cacert",2"#, "\r\n+QSSLCFG: \"cacert\",2,\"cacert.pem\"\r\n\r\nOK\r\n");
}

#[test]
fn open_failures_map_to_module_errors() {
    let server = TestServer::start().unwrap();
    let mut host = Host::new(SimConfig::default());
    assert_eq!(host.at("ATE0", "OK\r\n"), "ATE0\r\r\nOK\r\n");
    host.expect(r#"AT+QFTPCFG="account","test","wrong""#, "\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "605,0", "PDP down");
    host.expect("AT+QIACT=1", "\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "625,530");
    assert_eq!(host.open("no.such.host", 21), "604,0");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    assert_eq!(host.open("127.0.0.1", closed_port), "606,0");
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,4\r\n\r\nOK\r\n");
    host.expect("AT+QFTPCWD=\"/\"", "\r\nOK\r\n\r\n+QFTPCWD: 606,0\r\n");
    host.expect(r#"AT+QFTPCFG="account","anonymous","me@""#, "\r\nOK\r\n");
    assert_eq!(host.open("localhost", server.port()), "0,0");
}

#[test]
fn directory_and_file_operations() {
    let server = TestServer::start().unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n");
    host.expect("AT+QFTPCWD=\"/\"", "\r\nOK\r\n\r\n+QFTPCWD: 0,0\r\n");
    host.expect("AT+QFTPPWD", "\r\nOK\r\n\r\n+QFTPPWD: 0,\"/\"\r\n");
    host.expect("AT+QFTPMKDIR=\"TEST\"", "\r\nOK\r\n\r\n+QFTPMKDIR: 0,0\r\n");
    assert!(server.root().join("TEST").is_dir());
    host.expect(r#"AT+QFTPRENAME="TEST","TEST_NEW""#, "\r\nOK\r\n\r\n+QFTPRENAME: 0,0\r\n");
    assert!(server.root().join("TEST_NEW").is_dir());
    host.expect("AT+QFTPCWD=\"TEST_NEW\"", "\r\nOK\r\n\r\n+QFTPCWD: 0,0\r\n");
    host.expect("AT+QFTPPWD", "\r\nOK\r\n\r\n+QFTPPWD: 0,\"/TEST_NEW\"\r\n");
    host.expect("AT+QFTPCWD=\"/\"", "\r\nOK\r\n\r\n+QFTPCWD: 0,0\r\n");
    host.expect("AT+QFTPRMDIR=\"TEST_NEW\"", "\r\nOK\r\n\r\n+QFTPRMDIR: 0,0\r\n");
    assert!(!server.root().join("TEST_NEW").exists());
    host.expect("AT+QFTPCWD=\"nope\"", "\r\nOK\r\n\r\n+QFTPCWD: 627,550\r\n");

    std::fs::write(server.root().join("test_my1.txt"), vec![b'x'; 1000]).unwrap();
    host.expect("AT+QFTPSIZE=\"test_my1.txt\"", "\r\nOK\r\n\r\n+QFTPSIZE: 0,1000\r\n");
    host.expect("AT+QFTPSIZE=\"missing.txt\"", "\r\nOK\r\n\r\n+QFTPSIZE: 627,550\r\n");
    let mdtm = host.at("AT+QFTPMDTM=\"test_my1.txt\"", "+QFTPMDTM: 0,\"");
    assert_eq!(mdtm, "\r\nOK\r\n\r\n+QFTPMDTM: 0,\"");
    let time = host.line();
    assert!(time.len() == 15 && time.ends_with('"'), "{time}");
    assert!(time[..14].bytes().all(|b| b.is_ascii_digit()), "{time}");
    host.expect("AT+QFTPDEL=\"test_my1.txt\"", "\r\nOK\r\n\r\n+QFTPDEL: 0,0\r\n");
    host.expect("AT+QFTPDEL=\"test_my1.txt\"", "\r\nOK\r\n\r\n+QFTPDEL: 627,550\r\n");
    host.expect("AT+QFTPCWD", "\r\n+CME ERROR: 610\r\n");

    // Two-phase close: 603 while the close is pending.
    host.send("AT+QFTPCLOSE\rAT+QFTPPWD\r");
    assert_eq!(host.read_until("603\r\n"), b"\r\nOK\r\n\r\n+CME ERROR: 603\r\n");
    assert_eq!(host.read_until("+QFTPCLOSE: 0,0\r\n"), b"\r\n+QFTPCLOSE: 0,0\r\n");
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,4\r\n\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
}

#[test]
fn hostile_binary_round_trips_with_counted_transfers() {
    let server = TestServer::start().unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    let data = hostile_payload();
    let (first, second) = data.split_at(300);
    host.put_counted("bin.dat", 0, first, 0);
    host.put_counted("bin.dat", first.len(), second, 1);
    assert_eq!(std::fs::read(server.root().join("bin.dat")).unwrap(), data);

    let mut back = Vec::new();
    loop {
        let chunk = host.get_counted("bin.dat", back.len(), 128);
        back.extend_from_slice(&chunk);
        if chunk.len() < 128 {
            break;
        }
    }
    assert_eq!(back, data);
    host.expect("AT+QFTPLEN", &format!("\r\nOK\r\n\r\n+QFTPLEN: 0,{}\r\n", data.len() % 128));
    host.expect("AT+QFTPSIZE=\"bin.dat\"", &format!("\r\nOK\r\n\r\n+QFTPSIZE: 0,{}\r\n", data.len()));
    // Whole file, no length.
    assert_eq!(host.at(r#"AT+QFTPGET="bin.dat","COM:""#, "CONNECT\r\n"), "\r\nCONNECT\r\n");
    let mut expected = data.clone();
    expected.extend_from_slice(format!("\r\nOK\r\n\r\n+QFTPGET: 0,{}\r\n", data.len()).as_bytes());
    assert_eq!(host.read_exact(expected.len()), expected);
    host.expect(r#"AT+QFTPGET="missing","COM:""#, "\r\nOK\r\n\r\n+QFTPGET: 627,550\r\n");
}

#[test]
fn escape_needs_guard_time_and_unguarded_plus_is_payload() {
    let server = TestServer::start().unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    let data = hostile_payload();
    assert_eq!(host.at(r#"AT+QFTPPUT="esc.dat","COM:",0"#, "CONNECT\r\n"), "\r\nCONNECT\r\n");
    host.send(&data);
    std::thread::sleep(Duration::from_millis(1100));
    // Guard before, but another byte follows within 1 s: payload.
    host.send("+++x");
    std::thread::sleep(Duration::from_millis(1100));
    host.send("+++");
    let started = Instant::now();
    let expected = format!("\r\nOK\r\n\r\n+QFTPPUT: 0,{}\r\n", data.len() + 4);
    assert_eq!(String::from_utf8(host.read_until(&expected)).unwrap(), expected);
    assert!(started.elapsed() >= Duration::from_millis(950), "guard after +++");
    let mut stored = data;
    stored.extend_from_slice(b"+++x");
    assert_eq!(std::fs::read(server.root().join("esc.dat")).unwrap(), stored);
}

#[test]
fn listings_use_data_mode_framing() {
    let server = TestServer::start().unwrap();
    std::fs::write(server.root().join("a.txt"), b"hello").unwrap();
    std::fs::create_dir(server.root().join("sub")).unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    for (cmd, needle) in [("LIST", "a.txt"), ("NLST", "a.txt"), ("MLSD", "type=file")] {
        let text = host.at(&format!(r#"AT+QFTP{cmd}=".","COM:""#), "CONNECT\r\n");
        assert_eq!(text, "\r\nCONNECT\r\n");
        let body = String::from_utf8(host.read_until(format!("\r\nOK\r\n\r\n+QFTP{cmd}: 0,"))).unwrap();
        let n: usize = host.line().parse().unwrap();
        let listing = &body[..body.len() - format!("\r\nOK\r\n\r\n+QFTP{cmd}: 0,").len()];
        assert_eq!(listing.len(), n);
        assert!(listing.contains(needle) && listing.contains("sub"), "{cmd}: {listing}");
        assert!(listing.ends_with("\r\n"));
    }
    host.expect(r#"AT+QFTPLIST=".","list.txt""#, "\r\nOK\r\n\r\n+QFTPLIST: 0,");
    let n: usize = host.line().parse().unwrap();
    assert_eq!(host.control.ufs_file("list.txt").unwrap().len(), n);
    host.expect(r#"AT+QFTPGET="a.txt","a.bin",1"#, "\r\nOK\r\n\r\n+QFTPGET: 0,4\r\n");
    assert_eq!(host.control.ufs_file("a.bin").unwrap(), b"ello");
    host.expect(r#"AT+QFTPPUT="up.txt","a.bin""#, "\r\nOK\r\n\r\n+QFTPPUT: 0,4\r\n");
    assert_eq!(std::fs::read(server.root().join("up.txt")).unwrap(), b"ello");
    host.expect(r#"AT+QFTPPUT="up.txt","none.bin""#, "\r\nOK\r\n\r\n+QFTPPUT: 611,0\r\n");
}

#[test]
fn active_mode_transfers() {
    let server = TestServer::start().unwrap();
    let mut host = Host::new(SimConfig::default());
    host.bring_up("test", "test");
    host.expect(r#"AT+QFTPCFG="transmode",0"#, "\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
    host.put_counted("act.bin", 0, b"active", 1);
    assert_eq!(host.get_counted("act.bin", 0, 100), b"active");
}

#[test]
fn explicit_ftps_round_trip() {
    let server = TestServer::start().unwrap();
    let mut host = Host::new(SimConfig::default());
    host.bring_up("test", "test");
    host.expect(r#"AT+QFTPCFG="ssltype",2"#, "\r\nOK\r\n");
    host.expect(r#"AT+QSSLCFG="seclevel",0,0"#, "\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
    let data = hostile_payload();
    host.put_counted("tls.bin", 0, &data, 1);
    assert_eq!(std::fs::read(server.root().join("tls.bin")).unwrap(), data);
    assert_eq!(host.get_counted("tls.bin", 0, 4096), data);
    host.expect("AT+QFTPCLOSE", "\r\nOK\r\n\r\n+QFTPCLOSE: 0,0\r\n");

    // Verification on: refused without a CA on UFS...
    host.expect(r#"AT+QSSLCFG="seclevel",0,1"#, "\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "631,0");
    // ...and accepted with the test CA as `cacert`.
    host.control.set_ufs_file("ca.pem", server.ca_pem().as_bytes());
    host.expect(r#"AT+QSSLCFG="cacert",0,"ca.pem""#, "\r\nOK\r\n");
    assert_eq!(host.open("localhost", server.port()), "0,0");
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn implicit_ftps_round_trip_with_vsftpd() {
    if !std::path::Path::new("/usr/sbin/vsftpd").exists() || !running_as_root() {
        eprintln!("SKIPPED: implicit FTPS needs /usr/sbin/vsftpd and root");
        return;
    }
    let server = TestServer::start_vsftpd_implicit().unwrap();
    let mut host = Host::new(SimConfig::default());
    host.bring_up("anonymous", "sim@");
    host.expect(r#"AT+QFTPCFG="ssltype",1"#, "\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
    host.expect("AT+QFTPCWD=\"pub\"", "\r\nOK\r\n\r\n+QFTPCWD: 0,0\r\n");
    let data = hostile_payload();
    host.put_counted("implicit.bin", 0, &data, 1);
    let stored = server.root().join("pub/implicit.bin");
    assert_eq!(std::fs::read(stored).unwrap(), data);
    assert_eq!(host.get_counted("implicit.bin", 0, 4096), data);
    host.expect("AT+QFTPCLOSE", "\r\nOK\r\n\r\n+QFTPCLOSE: 0,0\r\n");
}
