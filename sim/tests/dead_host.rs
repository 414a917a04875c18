//! What a host that died mid-session leaves behind: a counted upload
//! waiting for the rest of its chunk, and an FTP session still open.

mod common;

use std::time::{Duration, Instant};

use common::{hostile_payload, Host};
use quectel_ftp_sim::{Faults, SimConfig, TestServer, Variants};

/// A short guard time keeps the escapes quick; the host waits a little
/// longer than it on each side of a `+++`.
const GUARD: Duration = Duration::from_millis(150);

fn config() -> SimConfig {
    SimConfig { guard_time: GUARD, ..SimConfig::default() }
}

fn pause() {
    std::thread::sleep(GUARD + Duration::from_millis(100));
}

/// Waits until the module has thrown away the tail of a chunk.
fn wait_for_stall(host: &Host, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.control.stalled_uploads() < count {
        assert!(Instant::now() < deadline, "the upload did not stall");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn put_command(name: &str, start: usize, len: usize, beof: u8) -> String {
    format!(r#"AT+QFTPPUT="{name}","COM:",{start},{len},{beof}"#)
}

#[test]
fn guarded_escape_ends_a_counted_chunk_and_keeps_its_bytes() {
    let server = TestServer::start().unwrap();
    let mut host = Host::logged_in(&server, config());
    let data = hostile_payload();
    host.expect(&put_command("early.bin", 0, 1000, 1), "\r\nCONNECT\r\n");
    host.send(&data[..300]);
    pause();
    host.send("+++");
    let started = Instant::now();
    host.expect_output("\r\nOK\r\n\r\n+QFTPPUT: 0,300\r\n");
    assert!(started.elapsed() >= GUARD - Duration::from_millis(20), "OK only after the guard");
    assert_eq!(std::fs::read(server.root().join("early.bin")).unwrap(), data[..300]);
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n");
}

#[test]
fn stall_leaves_the_module_in_the_chunk_until_a_guarded_escape() {
    let server = TestServer::start().unwrap();
    let faults = Faults { stall_upload_after: Some(1000), ..Faults::default() };
    let mut host = Host::logged_in(&server, SimConfig { faults, ..config() });
    let data: Vec<u8> = (0..1200u32).map(|i| (i * 7 % 256) as u8).collect();
    // The first chunk is whole: 600 of the 1000 bytes.
    host.put_counted("dead.bin", 0, &data[..600], 0);
    assert_eq!(host.control.stalled_uploads(), 0);
    assert_eq!(host.control.faults().stall_upload_after, Some(400));
    // The second: 400 bytes arrive, the other 200 are lost.
    host.expect(&put_command("dead.bin", 600, 600, 1), "\r\nCONNECT\r\n");
    host.send(&data[600..]);
    wait_for_stall(&host, 1);
    assert_eq!(host.control.faults().stall_upload_after, None, "one shot");
    assert_eq!(host.drain(GUARD * 2), b"", "still in data mode, waiting");
    // A guarded `+++` ends the chunk with what arrived.
    host.send("+++");
    host.expect_output("\r\nOK\r\n\r\n+QFTPPUT: 0,400\r\n");
    assert_eq!(std::fs::read(server.root().join("dead.bin")).unwrap(), data[..1000]);
    // Back in command mode, where `+++` is only the start of a line.
    host.send("+++");
    pause();
    host.expect("", "\r\nERROR\r\n");
    host.expect("AT+CMEE?", "\r\n+CMEE: 1\r\n\r\nOK\r\n");
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n");
}

/// What the issue reports: the next host's first bytes are taken as the
/// upload's missing bytes and written into the remote file.
#[test]
fn after_a_stall_the_next_hosts_bytes_are_payload() {
    let server = TestServer::start().unwrap();
    let faults = Faults { stall_upload_after: Some(40), ..Faults::default() };
    let mut host = Host::logged_in(&server, SimConfig { faults, ..config() });
    let data = [0x55u8; 100];
    host.expect(&put_command("foreign.bin", 0, 100, 1), "\r\nCONNECT\r\n");
    host.send(data);
    wait_for_stall(&host, 1);
    // A host that starts with plain commands fills the chunk.
    host.send("ATE0\r".repeat(12));
    host.expect_output("\r\nOK\r\n\r\n+QFTPPUT: 0,100\r\n");
    let mut stored = data[..40].to_vec();
    stored.extend_from_slice("ATE0\r".repeat(12).as_bytes());
    assert_eq!(std::fs::read(server.root().join("foreign.bin")).unwrap(), stored);
}

#[test]
fn a_stall_spans_chunks_and_only_counted_uploads() {
    let server = TestServer::start().unwrap();
    let faults = Faults { stall_upload_after: Some(250), ..Faults::default() };
    let mut host = Host::logged_in(&server, SimConfig { faults, ..config() });
    // An escaped upload does not count.
    host.expect(r#"AT+QFTPPUT="esc.bin","COM:",0"#, "\r\nCONNECT\r\n");
    host.send([1u8; 500]);
    pause();
    host.send("+++");
    host.expect_output("\r\nOK\r\n\r\n+QFTPPUT: 0,500\r\n");
    assert_eq!(host.control.faults().stall_upload_after, Some(250));
    for (i, start) in [0usize, 100].into_iter().enumerate() {
        host.put_counted("span.bin", start, &[i as u8; 100], 0);
    }
    host.expect(&put_command("span.bin", 200, 100, 1), "\r\nCONNECT\r\n");
    host.send([2u8; 100]);
    wait_for_stall(&host, 1);
    pause();
    host.send("+++");
    host.expect_output("\r\nOK\r\n\r\n+QFTPPUT: 0,50\r\n");
    let mut stored = vec![0u8; 100];
    stored.extend([1u8; 100]);
    stored.extend([2u8; 50]);
    assert_eq!(std::fs::read(server.root().join("span.bin")).unwrap(), stored);
}

#[test]
fn open_while_a_session_is_open_is_busy() {
    let server = TestServer::start().unwrap();
    let mut host = Host::logged_in(&server, config());
    let open = format!(r#"AT+QFTPOPEN="127.0.0.1",{}"#, server.port());
    host.expect(&open, "\r\n+CME ERROR: 603\r\n");
    host.control.set_variants(Variants { open_busy_deferred: true, ..Variants::default() });
    host.expect(&open, "\r\nOK\r\n\r\n+QFTPOPEN: 603,0\r\n");
    // The session that was open still works.
    host.expect("AT+QFTPPWD", "\r\nOK\r\n\r\n+QFTPPWD: 0,\"/\"\r\n");
    host.expect("AT+QFTPCLOSE", "\r\nOK\r\n\r\n+QFTPCLOSE: 0,0\r\n");
    assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
}

#[test]
fn module_ends_an_upload_after_n_bytes_and_what_follows_is_a_command() {
    let server = TestServer::start().unwrap();
    let faults = Faults { end_upload_after: Some(40), ..Faults::default() };
    let mut host = Host::logged_in(&server, SimConfig { faults, ..config() });
    let data: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
    host.expect(r#"AT+QFTPPUT="cut.bin","COM:",0"#, "\r\nCONNECT\r\n");
    host.send(&data);
    host.send("garbage\r");
    host.expect_output("\r\nOK\r\n\r\n+QFTPPUT: 609,0\r\n\r\nERROR\r\n");
    assert_eq!(std::fs::read(server.root().join("cut.bin")).unwrap(), data, "what arrived is kept");
    assert_eq!(host.control.faults().end_upload_after, None, "one shot");
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n");

    // Without the OK, in a counted upload; the rest of the chunk is commands.
    host.control.update_faults(|f| {
        f.end_upload_after = Some(3);
        f.put_timeout_without_ok = true;
    });
    host.expect(&put_command("cut.bin", 0, 13, 1), "\r\nCONNECT\r\n");
    host.send("abcAT+CMEE?\r\n");
    host.expect_output("\r\n+QFTPPUT: 609,0\r\n\r\n+CMEE: 1\r\n\r\nOK\r\n");
    assert_eq!(std::fs::read(server.root().join("cut.bin")).unwrap(), b"abc");
    // An upload that ends before the count spends the fault.
    host.control.update_faults(|f| f.end_upload_after = Some(10));
    host.put_counted("whole.bin", 0, b"12345", 1);
    assert_eq!(host.control.faults().end_upload_after, None);
}

/// The shortest `rsptimeout` the module accepts.
const RSPTIMEOUT: Duration = Duration::from_secs(20);

/// Waits out `rsptimeout` and returns what the module printed just before
/// and just after it.
fn around_the_timeout(host: &mut Host, started: Instant) -> (Vec<u8>, Vec<u8>) {
    let before = host.drain(RSPTIMEOUT.saturating_sub(started.elapsed() + Duration::from_millis(300)));
    let after = host.drain(Duration::from_millis(1500));
    (before, after)
}

#[test]
fn a_silent_upload_times_out_with_ok_and_609() {
    let server = TestServer::start().unwrap();
    let mut host = Host::logged_in(&server, config());
    host.expect(r#"AT+QFTPCFG="rsptimeout",20"#, "\r\nOK\r\n");
    host.expect(r#"AT+QFTPPUT="silent.bin","COM:",0"#, "\r\nCONNECT\r\n");
    host.send("0123456789");
    let started = Instant::now();
    let (before, after) = around_the_timeout(&mut host, started);
    assert_eq!(before, b"", "still in data mode");
    assert_eq!(after, b"\r\nOK\r\n\r\n+QFTPPUT: 609,0\r\n");
    host.send("garbage\r");
    host.expect_output("\r\nERROR\r\n");
    host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n");
}

#[test]
fn a_stalled_counted_upload_times_out_without_ok() {
    let server = TestServer::start().unwrap();
    let faults = Faults { put_timeout_without_ok: true, ..Faults::default() };
    let mut host = Host::logged_in(&server, SimConfig { faults, ..config() });
    host.expect(r#"AT+QFTPCFG="rsptimeout",20"#, "\r\nOK\r\n");
    host.expect(&put_command("stalled.bin", 0, 100, 1), "\r\nCONNECT\r\n");
    host.send([7u8; 10]);
    let started = Instant::now();
    let (before, after) = around_the_timeout(&mut host, started);
    assert_eq!(before, b"", "still in data mode");
    assert_eq!(after, b"\r\n+QFTPPUT: 609,0\r\n");
    // The rest of the chunk arrives in command mode.
    host.send([7u8; 89]);
    host.send("\r");
    host.expect_output("\r\nERROR\r\n");
    host.expect("AT+QFTPPWD", "\r\nOK\r\n\r\n+QFTPPWD: 0,\"/\"\r\n");
}
