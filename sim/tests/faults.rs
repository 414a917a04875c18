//! Fault switches, response variants and the async port.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::time::{Duration, Instant};

use common::Host;
use quectel_ftp_sim::{pair, Faults, SimConfig, TestServer, Variants};

#[test]
fn response_variants() {
    let server = TestServer::start().unwrap();
    std::fs::write(server.root().join("f.txt"), vec![b'x'; 1000]).unwrap();
    let variants = Variants {
        stat_before_ok: false,
        len_before_ok: true,
        size_without_err: true,
        pwd_unquoted: true,
        extra_blank_lines: 2,
        mdtm_millis: true,
        stray_contextid_line: true,
        ..Variants::default()
    };
    let mut host = Host::logged_in(&server, SimConfig::default());
    host.control.set_variants(variants);
    host.expect("AT+QFTPSTAT", "\r\nOK\r\n\r\n+QFTPSTAT: 0,1\r\n");
    host.expect("AT+QFTPLEN", "\r\n+QFTPLEN: 0,0\r\n\r\nOK\r\n");
    host.expect("AT+QFTPSIZE=\"f.txt\"", "\r\nOK\r\n\r\n\r\n\r\n+QFTPSIZE: 1000\r\n");
    host.expect("AT+QFTPPWD", "\r\nOK\r\n\r\n\r\n\r\n+QFTPPWD: 0,/\r\n");
    host.expect(r#"AT+QFTPCFG="contextid",1"#, "\r\n1\r\n\r\nOK\r\n");
    let mdtm = host.at("AT+QFTPMDTM=\"f.txt\"", "\r\n+QFTPMDTM: 0,\"");
    assert!(mdtm.starts_with("\r\nOK\r\n"));
    let time = host.line();
    assert_eq!(time.len(), 19, "YYYYMMDDHHMMSS.NNN\": {time}");
    assert_eq!(&time[14..15], ".");

    host.control.set_variants(Variants { space_before_quoted: true, ..Variants::default() });
    host.expect("AT+QFTPPWD", "\r\nOK\r\n\r\n+QFTPPWD: 0, \"/\"\r\n");
    host.expect("AT+QIACT?", "\r\n+QIACT: 1,1,1, \"10.0.0.2\"\r\n\r\nOK\r\n");
}

#[test]
fn delayed_and_missing_results() {
    let server = TestServer::start().unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    host.control.update_faults(|f| f.result_delay = Duration::from_millis(300));
    let started = Instant::now();
    host.expect("AT+QFTPPWD", "\r\nOK\r\n");
    assert!(started.elapsed() < Duration::from_millis(250), "OK comes at once");
    assert_eq!(host.read_until("\r\n+QFTPPWD: 0,\"/\"\r\n"), b"\r\n+QFTPPWD: 0,\"/\"\r\n");
    assert!(started.elapsed() >= Duration::from_millis(300));

    host.control.update_faults(|f| {
        f.result_delay = Duration::ZERO;
        f.drop_results = true;
    });
    host.expect("AT+QFTPPWD", "\r\nOK\r\n");
    assert_eq!(host.drain(Duration::from_millis(300)), b"");
    host.control.update_faults(|f| f.drop_results = false);
    host.expect("AT+QFTPPWD", "\r\nOK\r\n\r\n+QFTPPWD: 0,\"/\"\r\n");
}

#[test]
fn injected_server_error() {
    let server = TestServer::start().unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    host.control.update_faults(|f| f.fail_next = Some((614, 421)));
    host.expect("AT+QFTPCWD=\"/\"", "\r\nOK\r\n\r\n+QFTPCWD: 614,421\r\n");
    host.expect("AT+QFTPCWD=\"/\"", "\r\nOK\r\n\r\n+QFTPCWD: 0,0\r\n");
}

#[test]
fn byte_drop_and_duplicate_at_offsets() {
    let mut host = Host::new(SimConfig::default());
    host.at("ATE0", "OK\r\n");
    host.control.drop_byte_in(2); // "\r\nOK\r\n": the 'O'
    host.send("AT\r");
    assert_eq!(host.drain(Duration::from_millis(100)), b"\r\nK\r\n");
    host.control.duplicate_byte_in(3); // the 'K'
    host.send("AT\r");
    assert_eq!(host.drain(Duration::from_millis(100)), b"\r\nOKK\r\n");
    host.send("AT\r");
    assert_eq!(host.drain(Duration::from_millis(100)), b"\r\nOK\r\n");
}

#[test]
fn probabilistic_faults_are_seeded() {
    let run = |seed| {
        let faults = Faults { seed, drop_probability: 0.2, duplicate_probability: 0.2, ..Faults::default() };
        let mut host = Host::new(SimConfig { faults, ..SimConfig::default() });
        host.send("AT+CPIN?\rAT+CPIN?\rAT+CPIN?\r");
        host.drain(Duration::from_millis(150))
    };
    let clean = b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n".repeat(3);
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a, b, "same seed, same faults");
    assert_ne!(a, clean);
    assert_ne!(a, c);
}

#[test]
fn unsolicited_lines_between_and_during_exchanges() {
    let server = TestServer::start().unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    host.control.inject_urc("+QIURC: \"pdpdeact\",1");
    assert_eq!(host.read_until("\"pdpdeact\",1\r\n"), b"\r\n+QIURC: \"pdpdeact\",1\r\n");
    host.control.inject_urc_before_next_result("+CEREG: 1");
    host.control.inject_urc_before_next_result("+XYZ: 1,2");
    host.expect("AT+QFTPPWD", "\r\nOK\r\n\r\n+CEREG: 1\r\n\r\n+XYZ: 1,2\r\n\r\n+QFTPPWD: 0,\"/\"\r\n");
    // A URC while a deferred result is delayed lands between OK and the result.
    host.control.update_faults(|f| f.result_delay = Duration::from_millis(200));
    host.expect("AT+QFTPPWD", "\r\nOK\r\n");
    host.control.inject_urc("+XYZ: 9");
    host.expect_output("\r\n+XYZ: 9\r\n\r\n+QFTPPWD: 0,\"/\"\r\n");
}

/// The lines `urcs_in_windows` = 4 prints in each window.
const FOUR_URCS: &str = "\r\n+CEREG: 5\r\n\r\n+QIND: \"csq\",20,99\r\n\r\n+QUSIM: 1\r\n\r\n+CEREG: 5\r\n";

#[test]
fn urcs_in_every_window_of_an_ftp_exchange() {
    let server = TestServer::start().unwrap();
    std::fs::write(server.root().join("f.bin"), b"0123456789abcdef").unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    host.control.update_faults(|f| f.urcs_in_windows = 4);
    let u = FOUR_URCS;
    // Between OK and the deferred result.
    host.expect("AT+QFTPPWD", &format!("\r\nOK\r\n{u}\r\n+QFTPPWD: 0,\"/\"\r\n"));
    // Before CONNECT, and between the payload's OK and the result.
    host.expect(
        r#"AT+QFTPGET="f.bin","COM:",0,10"#,
        &format!("{u}\r\nCONNECT\r\n0123456789\r\nOK\r\n{u}\r\n+QFTPGET: 0,10\r\n"),
    );
    host.expect(r#"AT+QFTPLIST=".","COM:""#, &format!("{u}\r\nCONNECT\r\n"));
    let listing = host.read_until(format!("\r\nOK\r\n{u}\r\n+QFTPLIST: 0,"));
    assert!(String::from_utf8_lossy(&listing).contains("f.bin"));
    host.line();
    host.expect(r#"AT+QFTPPUT="up.bin","COM:",0,5,1"#, &format!("{u}\r\nCONNECT\r\n"));
    host.send("hello");
    host.expect_output(&format!("\r\nOK\r\n{u}\r\n+QFTPPUT: 0,5\r\n"));
    // A failure's result and a close's have their window too.
    host.expect(r#"AT+QFTPGET="missing","COM:""#, &format!("\r\nOK\r\n{u}\r\n+QFTPGET: 627,550\r\n"));
    // Commands without a deferred result have no window.
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n");
    // Each window starts the cycle afresh.
    host.control.update_faults(|f| f.urcs_in_windows = 1);
    host.expect("AT+QFTPCWD=\"/\"", "\r\nOK\r\n\r\n+CEREG: 5\r\n\r\n+QFTPCWD: 0,0\r\n");
    host.expect("AT+QFTPCLOSE", "\r\nOK\r\n\r\n+CEREG: 5\r\n\r\n+QFTPCLOSE: 0,0\r\n");
    host.control.update_faults(|f| f.urcs_in_windows = 0);
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
}

#[test]
fn end_of_file_as_550_and_size_unsupported() {
    let server = TestServer::start().unwrap();
    std::fs::write(server.root().join("f.bin"), b"0123456789").unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    host.expect(r#"AT+QFTPGET="f.bin","COM:",10,5"#, "\r\nCONNECT\r\n\r\nOK\r\n\r\n+QFTPGET: 0,0\r\n");
    host.control.update_faults(|f| f.eof_as_550 = true);
    host.expect(r#"AT+QFTPGET="f.bin","COM:",10,5"#, "\r\nOK\r\n\r\n+QFTPGET: 627,550\r\n");
    host.expect(r#"AT+QFTPGET="f.bin","COM:",8,5"#, "\r\nCONNECT\r\n89\r\nOK\r\n\r\n+QFTPGET: 0,2\r\n");

    host.control.update_faults(|f| f.size_unsupported = Some(502));
    host.expect(r#"AT+QFTPSIZE="f.bin""#, "\r\nOK\r\n\r\n+QFTPSIZE: 627,502\r\n");
    host.control.update_faults(|f| f.size_unsupported = Some(500));
    host.expect(r#"AT+QFTPSIZE="f.bin""#, "\r\nOK\r\n\r\n+QFTPSIZE: 627,500\r\n");
    host.control.update_faults(|f| f.size_unsupported = None);
    host.expect(r#"AT+QFTPSIZE="f.bin""#, "\r\nOK\r\n\r\n+QFTPSIZE: 0,10\r\n");
}

#[test]
fn failed_data_connection_is_a_one_off_or_leaves_the_module_busy() {
    let server = TestServer::start().unwrap();
    std::fs::write(server.root().join("f.bin"), b"0123456789").unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    host.control.update_faults(|f| f.fail_data_connection = true);
    host.expect(r#"AT+QFTPGET="f.bin","COM:""#, "\r\n+CME ERROR: 615\r\n");
    assert!(!host.control.faults().fail_data_connection, "one shot");
    host.expect(r#"AT+QFTPGET="f.bin","COM:",0,4"#, "\r\nCONNECT\r\n0123\r\nOK\r\n\r\n+QFTPGET: 0,4\r\n");

    host.control.update_faults(|f| {
        f.fail_data_connection = true;
        f.busy_after_data_failure = true;
    });
    host.expect(r#"AT+QFTPPUT="up.bin","COM:",0,5,1"#, "\r\n+CME ERROR: 615\r\n");
    for cmd in
        ["AT+QFTPPWD", r#"AT+QFTPLIST=".""#, r#"AT+QFTPGET="f.bin","COM:""#, "AT+QFTPLEN", r#"AT+QFTPOPEN="x",21"#]
    {
        host.expect(cmd, "\r\n+CME ERROR: 603\r\n");
    }
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,2\r\n\r\nOK\r\n");
    host.send("AT+QFTPCLOSE\rAT+QFTPPWD\r");
    host.expect_output("\r\nOK\r\n\r\n+CME ERROR: 603\r\n\r\n+QFTPCLOSE: 0,0\r\n");
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,4\r\n\r\nOK\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
    host.expect(r#"AT+QFTPLIST=".","COM:""#, "\r\nCONNECT\r\n");
    host.read_until("\r\nOK\r\n\r\n+QFTPLIST: 0,");
    host.line();
    // A listing fails the same way.
    host.control.update_faults(|f| f.fail_data_connection = true);
    host.expect(r#"AT+QFTPMLSD=".","COM:""#, "\r\n+CME ERROR: 615\r\n");
    host.expect("AT+QFTPCWD=\"/\"", "\r\n+CME ERROR: 603\r\n");
}

#[test]
fn reset_in_the_middle_of_a_download_and_an_upload() {
    let server = TestServer::start().unwrap();
    std::fs::write(server.root().join("big.bin"), vec![0xA5; 5000]).unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    host.control.update_faults(|f| f.reset_after_data_bytes = Some(1000));
    host.expect(r#"AT+QFTPGET="big.bin","COM:""#, "\r\nCONNECT\r\n");
    assert_eq!(host.read_exact(1000), vec![0xA5; 1000]);
    host.expect_output("\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n");
    // Echo is back on, PDP is down, FTP is closed.
    assert_eq!(host.at("AT+QIACT?", "OK\r\n"), "AT+QIACT?\r\r\nOK\r\n");
    assert_eq!(host.at("AT+QFTPSTAT", "OK\r\n"), "AT+QFTPSTAT\r\r\n+QFTPSTAT: 0,4\r\n\r\nOK\r\n");

    host.bring_up("test", "test");
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
    host.expect(r#"AT+QFTPPUT="up.bin","COM:",0,100,1"#, "\r\nCONNECT\r\n");
    host.send([1u8; 10]);
    host.control.reset();
    host.expect_output("\r\nRDY\r\n");
    host.drain(Duration::from_millis(50));
    assert!(!server.root().join("up.bin").exists());
}

#[test]
fn baud_rate_throttles_both_directions() {
    let faults = Faults { baud: Some(9600), ..Faults::default() };
    let mut host = Host::new(SimConfig { faults, ..SimConfig::default() });
    // Full duplex at ~1.04 ms per byte: 48 bytes in, echoed as they arrive,
    // then 6 bytes of OK: at least 54 byte times.
    let cmd = format!("AT{}\r", " ".repeat(45));
    let started = Instant::now();
    host.send(&cmd);
    host.read_until("OK\r\n");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(54), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn escape_during_download_then_ato_resumes() {
    let server = TestServer::start().unwrap();
    let data: Vec<u8> = (0..3600u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(server.root().join("slow.bin"), &data).unwrap();
    let mut host = Host::logged_in(&server, SimConfig::default());
    host.control.update_faults(|f| f.baud = Some(14400)); // ~1.4 kB/s
    host.expect(r#"AT+QFTPGET="slow.bin","COM:""#, "\r\nCONNECT\r\n");
    std::thread::sleep(Duration::from_millis(1050));
    host.send("+++");
    let mut received = host.read_until("\r\nOK\r\n");
    received.truncate(received.len() - 6);
    assert!(received.len() > 1000 && received.len() < data.len(), "{}", received.len());
    assert_eq!(received, data[..received.len()]);
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,2\r\n\r\nOK\r\n");
    host.control.update_faults(|f| f.baud = None);
    host.expect("ATO", "\r\nCONNECT\r\n");
    let rest = host.read_until(format!("\r\nOK\r\n\r\n+QFTPGET: 0,{}\r\n", data.len()));
    received.extend_from_slice(&rest[..data.len() - received.len()]);
    assert_eq!(received, data);
}

/// Wakes by unparking the test thread.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Arc::new(ThreadWaker(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        assert!(Instant::now() < deadline, "future did not complete");
        std::thread::park_timeout(Duration::from_secs(5));
    }
}

#[test]
fn async_read_is_woken_by_the_module() {
    use embedded_io_async::{Read, Write};
    let (mut port, _control) = pair(SimConfig::default());
    let reply = block_on(async {
        port.write_all(b"ATE0\r").await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while !got.ends_with(b"OK\r\n") {
            let n = port.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        got
    });
    assert_eq!(reply, b"ATE0\r\r\nOK\r\n");
}
