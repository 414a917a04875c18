//! DTR (issue 18): the simulated module's `AT&D<n>` and the host's DTR pin
//! on the exact bytes of the line, then the driver with a DTR pin against
//! the simulated module and the real FTP server.
//!
//! The simulator runs in real time: a guarded `+++` costs its guard times
//! on the wall clock. The raw-AT tests shorten the module's guard
//! ([`GUARD`]); the driver's run with the module's real 1 s, as the
//! driver's own guard is 1 s.

use std::fs;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use embedded_hal::digital::{OutputPin, StatefulOutputPin};
use quectel_ftp::{Dtr, Error, Ftp, FtpConfig, PdpConfig, Transfer, UploadMode};
use quectel_ftp_sim::{pair, Faults, SimConfig, SimControl, SimDtr, SimPort, TestServer, PASSWORD, USER};

mod common;
use common::{checksum_hex, hostile_of_len, start_wall_clock, Host, Sink};

/// The module's guard time in the raw-AT tests.
const GUARD: Duration = Duration::from_millis(300);

/// Longer than the module takes to answer anything here but a guard or a
/// timeout: what has not come by then is not coming at once.
const QUICK: Duration = Duration::from_millis(200);

fn config(faults: Faults) -> SimConfig {
    SimConfig { guard_time: GUARD, faults, ..SimConfig::default() }
}

/// A logged-in module, its DTR pin driven low, and `AT&D<n>` for each of
/// `modes` (none: the power-on setting).
fn module(server: &TestServer, config: SimConfig, modes: &[&str]) -> (Host, SimDtr) {
    let mut host = Host::logged_in(server, config);
    let mut dtr = host.port.dtr();
    dtr.set_low().unwrap();
    for mode in modes {
        host.expect(&format!("AT&D{mode}"), "\r\nOK\r\n");
    }
    (host, dtr)
}

/// A guarded `+++` (in one write, `GUARD` of silence either side).
fn guarded_escape(host: &mut Host) {
    std::thread::sleep(GUARD + Duration::from_millis(100));
    host.send("+++");
}

/// The bytes of an upload without `<uploadlen>`, an edge right after them
/// (the module's line at 115200 baud: the edge comes while most of the
/// bytes are still on their way, and must act after them), and the module's
/// `OK` and count at once, with no guard time (the module's real 1 s here).
#[test]
fn an_edge_after_at_d1_ends_an_escaped_upload_after_the_bytes_before_it() {
    let server = TestServer::start().unwrap();
    let faults = Faults { baud: Some(115_200), ..Faults::default() };
    let (mut host, mut dtr) = module(&server, SimConfig { faults, ..SimConfig::default() }, &["1"]);
    let data = hostile_of_len(6_000);
    assert_eq!(host.at(r#"AT+QFTPPUT="up.bin","COM:",0"#, "CONNECT\r\n"), "\r\nCONNECT\r\n");
    let sent = Instant::now();
    host.send(&data);
    dtr.set_high().unwrap();
    host.expect_output("\r\nOK\r\n");
    // 6,000 bytes take 0.52 s on the line, the `OK` 1 ms: no guard time
    // (1 s) on either side of the edge.
    let took = sent.elapsed();
    assert!(took >= Duration::from_millis(500) && took < Duration::from_millis(1300), "{took:?}");
    host.expect_output(&format!("\r\n+QFTPPUT: 0,{}\r\n", data.len()));
    dtr.set_low().unwrap();
    assert!(fs::read(server.root().join("up.bin")).unwrap() == data);
    assert_eq!((host.control.dtr_escapes(), host.control.guarded_escapes()), (1, 0));
    // The module is in command mode, the pin low again: the next edge in
    // command mode does nothing.
    dtr.set_high().unwrap();
    host.expect("AT", "\r\nOK\r\n");
    assert_eq!(host.control.dtr_escapes(), 1);
}

/// `+` bytes the module holds back as the start of a possible `+++` (after
/// a guard time of silence) are payload when DTR ends the upload before
/// their window has run out.
#[test]
fn pluses_held_as_a_possible_escape_are_payload_when_dtr_ends_the_upload() {
    let server = TestServer::start().unwrap();
    let (mut host, mut dtr) = module(&server, config(Faults::default()), &["1"]);
    assert_eq!(host.at(r#"AT+QFTPPUT="plus.bin","COM:",0"#, "CONNECT\r\n"), "\r\nCONNECT\r\n");
    host.send("abc");
    std::thread::sleep(GUARD + Duration::from_millis(100));
    host.send("++");
    // The two `+` wait for a third for `GUARD`; the edge comes before.
    let raised = Instant::now();
    dtr.set_high().unwrap();
    host.expect_output("\r\nOK\r\n");
    assert!(raised.elapsed() < GUARD, "{:?}", raised.elapsed());
    host.expect_output("\r\n+QFTPPUT: 0,5\r\n");
    assert_eq!(fs::read(server.root().join("plus.bin")).unwrap(), b"abc++");
    assert_eq!((host.control.dtr_escapes(), host.control.guarded_escapes()), (1, 0));
}

/// A counted upload ended early by DTR ends as a guarded `+++` ends it:
/// `OK`, then the count of what arrived, which is kept.
#[test]
fn an_edge_ends_a_counted_upload_early_and_keeps_what_arrived() {
    let server = TestServer::start().unwrap();
    let (mut host, mut dtr) = module(&server, config(Faults::default()), &["1"]);
    let data = hostile_of_len(1000);
    assert_eq!(host.at(r#"AT+QFTPPUT="part.bin","COM:",0,1000,1"#, "CONNECT\r\n"), "\r\nCONNECT\r\n");
    host.send(&data[..400]);
    dtr.set_high().unwrap();
    host.expect_output("\r\nOK\r\n\r\n+QFTPPUT: 0,400\r\n");
    assert!(fs::read(server.root().join("part.bin")).unwrap() == data[..400]);
    // What follows is a command again.
    host.expect("AT", "\r\nOK\r\n");
}

/// A download ended by DTR: after `AT&D1`, `OK` at once and `ATO` resumes
/// it (the bytes before and after make the file); after `AT&D2` the data
/// connection is gone: `ATO` answers `NO CARRIER`, the session is idle.
#[test]
fn an_edge_ends_a_download_resumable_after_at_d1_and_not_after_at_d2() {
    let server = TestServer::start().unwrap();
    // No `\r\nOK\r\n` in it: the test finds the end of the bytes by it.
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(server.root().join("down.bin"), &data).unwrap();
    let faults = Faults { baud: Some(460_800), ..Faults::default() };
    for mode in ["1", "2"] {
        let (mut host, mut dtr) = module(&server, config(faults.clone()), &[mode]);
        assert_eq!(host.at(r#"AT+QFTPGET="down.bin","COM:""#, "CONNECT\r\n"), "\r\nCONNECT\r\n");
        let mut got = host.read_exact(2000);
        dtr.set_high().unwrap();
        let rest = host.read_until("\r\nOK\r\n");
        got.extend_from_slice(&rest[..rest.len() - 6]);
        assert!(got.len() < data.len(), "the edge came before the end ({} bytes)", got.len());
        assert!(got == data[..got.len()]);
        dtr.set_low().unwrap();
        assert_eq!(host.drain(QUICK), b"", "nothing more after the OK");
        assert_eq!(host.control.dtr_escapes(), 1);
        if mode == "1" {
            assert_eq!(host.at("ATO", "CONNECT\r\n"), "\r\nCONNECT\r\n");
            let tail = format!("\r\nOK\r\n\r\n+QFTPGET: 0,{}\r\n", data.len());
            let rest = host.read_until(&tail);
            got.extend_from_slice(&rest[..rest.len() - tail.len()]);
            assert!(got == data);
        } else {
            host.expect("ATO", "\r\nNO CARRIER\r\n");
            host.expect("AT+QFTPSTAT", "\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n");
        }
    }
}

/// With DTR ignored, the edge and its way back leave an upload to `name`
/// as it was: the bytes after them are payload too, and only a guarded
/// `+++` ends it.
fn assert_an_edge_is_ignored(host: &mut Host, dtr: &mut SimDtr, server: &TestServer, name: &str) {
    let before = (host.control.dtr_escapes(), host.control.guarded_escapes());
    assert_eq!(host.at(&format!(r#"AT+QFTPPUT="{name}","COM:",0"#), "CONNECT\r\n"), "\r\nCONNECT\r\n");
    let data = hostile_of_len(3000);
    host.send(&data[..1000]);
    dtr.set_high().unwrap();
    assert_eq!(host.drain(QUICK), b"", "the module stays in data mode");
    dtr.set_low().unwrap();
    host.send(&data[1000..]);
    guarded_escape(host);
    host.expect_output("\r\nOK\r\n\r\n+QFTPPUT: 0,3000\r\n");
    assert_eq!((host.control.dtr_escapes(), host.control.guarded_escapes()), (before.0, before.1 + 1));
    assert!(fs::read(server.root().join(name)).unwrap() == data);
}

#[test]
fn dtr_is_ignored_at_power_on() {
    let server = TestServer::start().unwrap();
    let (mut host, mut dtr) = module(&server, config(Faults::default()), &[]);
    assert_an_edge_is_ignored(&mut host, &mut dtr, &server, "a.bin");
}

#[test]
fn dtr_is_ignored_after_at_d0_and_at_d() {
    let server = TestServer::start().unwrap();
    let (mut host, mut dtr) = module(&server, config(Faults::default()), &["1", "0"]);
    assert_an_edge_is_ignored(&mut host, &mut dtr, &server, "b.bin");
    // `AT&D` is `AT&D0` (V.250); `AT&D3` is no setting.
    host.expect("AT&D2", "\r\nOK\r\n");
    host.expect("AT&D", "\r\nOK\r\n");
    host.expect("AT&D3", "\r\nERROR\r\n");
    assert_an_edge_is_ignored(&mut host, &mut dtr, &server, "c.bin");
    assert_eq!(host.control.dtr_escapes(), 0);
}

#[test]
fn the_ignore_dtr_fault_ignores_edges_after_at_d1() {
    let server = TestServer::start().unwrap();
    let (mut host, mut dtr) = module(&server, config(Faults { ignore_dtr: true, ..Faults::default() }), &["1"]);
    assert_an_edge_is_ignored(&mut host, &mut dtr, &server, "d.bin");
    // Switched off, the `AT&D1` given before acts.
    host.control.update_faults(|f| f.ignore_dtr = false);
    assert_eq!(host.at(r#"AT+QFTPPUT="e.bin","COM:",0"#, "CONNECT\r\n"), "\r\nCONNECT\r\n");
    host.send("ok");
    dtr.set_high().unwrap();
    host.expect_output("\r\nOK\r\n\r\n+QFTPPUT: 0,2\r\n");
    assert_eq!(host.control.dtr_escapes(), 1);
}

/// `AT+QFUPL` ends at DTR after `AT&D1`; a module restart forgets `AT&D1`,
/// so the same edge then waits for `<timeout>`.
#[test]
fn a_restart_forgets_at_d1() {
    let mut host = Host::new(config(Faults::default()));
    let mut dtr = host.port.dtr();
    dtr.set_low().unwrap();
    assert_eq!(host.at("ATE0", "OK\r\n"), "ATE0\r\r\nOK\r\n");
    host.expect("AT&D1", "\r\nOK\r\n");
    let data = hostile_of_len(100);
    for (name, armed) in [("f1", true), ("f2", false)] {
        assert_eq!(host.at(&format!(r#"AT+QFUPL="{name}",1000,1"#), "CONNECT\r\n"), "\r\nCONNECT\r\n");
        host.send(&data);
        dtr.set_high().unwrap();
        let result = format!("\r\n+QFUPL: 100,{}\r\n\r\nOK\r\n", checksum_hex(&data));
        if armed {
            host.expect_output(&result);
            host.control.reset();
            host.read_until("+QIND: SMS DONE\r\n");
            assert_eq!(host.at("ATE0", "OK\r\n"), "ATE0\r\r\nOK\r\n");
        } else {
            assert_eq!(host.drain(QUICK), b"");
            // `<timeout>` 1 s without a byte ends it.
            host.expect_output(&result);
        }
        dtr.set_low().unwrap();
        assert!(host.control.ufs_file(name).unwrap() == data);
    }
    assert_eq!(host.control.dtr_escapes(), 1);
}

// ----- the driver ---------------------------------------------------------

/// A client with the module's DTR pin (and a handle on the same line), and
/// the module's control handle.
fn client(buf: &mut [u8], faults: Faults) -> (Ftp<'_, SimPort, SimDtr>, SimDtr, SimControl) {
    start_wall_clock();
    let (port, control) = pair(SimConfig { faults, ..SimConfig::default() });
    let dtr = port.dtr();
    let ftp = Ftp::new(port, buf).unwrap().with_dtr(dtr.clone());
    (ftp, dtr, control)
}

async fn log_in<D: Dtr>(ftp: &mut Ftp<'_, SimPort, D>, server: &TestServer) -> Result<(), Error> {
    ftp.init_fresh().await?;
    ftp.activate(&PdpConfig::default()).await?;
    let config = FtpConfig { user: USER, password: PASSWORD, rsp_timeout_s: 20, ..Default::default() };
    ftp.configure(&config, None).await?;
    ftp.open("127.0.0.1", server.port()).await
}

fn block_on<T>(f: impl Future<Output = Result<T, Error>>) -> T {
    futures_executor::block_on(f).map_err(|e| format!("{e:?}")).unwrap()
}

/// `(DTR escapes, guarded escapes)` so far.
fn escapes(control: &SimControl) -> (u64, u64) {
    (control.dtr_escapes(), control.guarded_escapes())
}

#[test]
fn a_hostile_mib_with_a_dtr_pin_through_put_put_escaped_put_sized_and_get() {
    let server = TestServer::start().unwrap();
    let data = hostile_of_len(1 << 20);
    fs::write(server.root().join("down.bin"), &data).unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let (mut ftp, mut dtr, control) = client(&mut buf, Faults::default());
    let mut sink = Sink::default();
    let mut seen = Vec::new();
    block_on(async {
        log_in(&mut ftp, &server).await?;
        // `Auto` goes escaped at once with a pin: one DTR edge.
        assert_eq!(ftp.put("auto.bin", &mut &data[..], Transfer::default()).await?, 1 << 20);
        seen.push(escapes(&control));
        assert_eq!(ftp.put_escaped("escaped.bin", &mut &data[..], Transfer::default()).await?, 1 << 20);
        seen.push(escapes(&control));
        let len = data.len() as u64;
        assert_eq!(ftp.put_sized("sized.bin", &mut &data[..], len, Transfer::default()).await?, 1 << 20);
        seen.push(escapes(&control));
        assert_eq!(ftp.get("down.bin", &mut sink, Transfer::default()).await?, 1 << 20);
        seen.push(escapes(&control));
        ftp.close().await
    });
    for name in ["auto.bin", "escaped.bin", "sized.bin"] {
        assert!(fs::read(server.root().join(name)).unwrap() == data, "{name}");
    }
    assert!(sink.0 == data, "the downloaded file");
    // Counted uploads and downloads need no escape; no `+++` at all.
    assert_eq!(seen, [(1, 0), (2, 0), (2, 0), (2, 0)]);
    assert!(dtr.is_set_low().unwrap(), "the pin rests low");
}

/// A source that yields `data[..stop]`, then never more (the future that
/// reads it waits for ever), counting what it gave.
struct Stalling<'a> {
    data: &'a [u8],
    stop: usize,
    given: Arc<AtomicUsize>,
}

impl embedded_io_async::ErrorType for Stalling<'_> {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Stalling<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let at = self.given.load(Ordering::SeqCst);
        if at >= self.stop {
            std::future::pending::<()>().await;
        }
        let n = buf.len().min(self.stop - at).min(self.data.len() - at);
        buf[..n].copy_from_slice(&self.data[at..at + n]);
        self.given.store(at + n, Ordering::SeqCst);
        Ok(n)
    }
}

/// Polls `fut` (on the wall clock) until `done` has held for 100 ms, then
/// drops it.
fn poll_until_then_drop<F: Future>(fut: F, done: impl Fn() -> bool) {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let end = Instant::now() + Duration::from_secs(15);
    let mut since = None;
    loop {
        assert!(fut.as_mut().poll(&mut cx).is_pending(), "the future ended before it was dropped");
        let now = Instant::now();
        assert!(now < end, "the future never got there");
        match (done(), since) {
            (false, _) => since = None,
            (true, None) => since = Some(now),
            (true, Some(t)) if now - t >= Duration::from_millis(100) => return,
            (true, Some(_)) => {}
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A put dropped in the middle of its data, then the next call, a fresh
/// upload, with the module's deferred results `result_delay` late: that
/// call leaves data mode by DTR at once (the module keeps the bytes sent
/// before the edge, as many as the source gave) and resynchronises. Returns
/// what it returned, and makes sure a fresh upload is byte-exact after it
/// (opening the session again if it was closed).
fn a_dropped_put_then_a_fresh_one(result_delay: Duration) -> Result<u64, Error> {
    let server = TestServer::start().unwrap();
    let data = hostile_of_len(300_000);
    let mut buf = vec![0u8; 4096];
    let (mut ftp, mut dtr, control) = client(&mut buf, Faults::default());
    block_on(log_in(&mut ftp, &server));
    let given = Arc::new(AtomicUsize::new(0));
    let stop = 100_000;
    let mut src = Stalling { data: &data, stop, given: Arc::clone(&given) };
    poll_until_then_drop(ftp.put("dropped.bin", &mut src, Transfer::default()), || {
        given.load(Ordering::SeqCst) == stop
    });
    assert_eq!(escapes(&control), (0, 0), "still in data mode");
    control.update_faults(|f| f.result_delay = result_delay);
    let started = Instant::now();
    let first = futures_executor::block_on(ftp.put("fresh.bin", &mut &data[..], Transfer::default()));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(escapes(&control).1, 0, "no +++");
    assert!(fs::read(server.root().join("dropped.bin")).unwrap() == data[..stop], "the bytes before the edge");
    match first {
        Ok(n) => assert_eq!(n, data.len() as u64),
        Err(Error::NotOpen | Error::SessionClosed) => block_on(async {
            ftp.open("127.0.0.1", server.port()).await?;
            assert_eq!(ftp.put("fresh.bin", &mut &data[..], Transfer::default()).await?, data.len() as u64);
            ftp.close().await
        }),
        Err(e) => panic!("{e:?}"),
    }
    assert!(fs::read(server.root().join("fresh.bin")).unwrap() == data);
    assert_eq!(escapes(&control), (2, 0), "the abandoned upload and the fresh one, by DTR");
    assert!(dtr.is_set_low().unwrap());
    first
}

/// The abandoned upload's result comes late, after the resynchronisation:
/// the session is closed, as the client documents, and opened again.
#[test]
fn a_put_dropped_mid_data_is_recovered_by_dtr_and_the_session_closed() {
    let first = a_dropped_put_then_a_fresh_one(Duration::from_millis(500));
    assert!(matches!(first, Err(Error::NotOpen | Error::SessionClosed)), "{first:?}");
}

/// The abandoned upload's result comes at once (the module's `OK` to the
/// edge, then `+QFTPPUT: 0,100000`, perhaps while the client probes): the
/// session is closed all the same, whenever the result arrives, and the
/// fresh upload is byte-exact.
#[test]
fn a_put_dropped_mid_data_is_recovered_by_dtr_and_the_next_upload_is_exact() {
    let first = a_dropped_put_then_a_fresh_one(Duration::ZERO);
    assert!(matches!(first, Err(Error::NotOpen | Error::SessionClosed)), "{first:?}");
}

/// A module that ignores DTR: the client's edge goes unanswered, it falls
/// back to a guarded `+++` (after the 2 s it gives the edge), and the
/// upload is still byte-exact.
#[test]
fn a_module_that_ignores_dtr_gets_a_guarded_escape_and_the_upload_is_exact() {
    let server = TestServer::start().unwrap();
    let data = hostile_of_len(1 << 20);
    let mut buf = vec![0u8; 16 * 1024];
    let (mut ftp, _dtr, control) = client(&mut buf, Faults { ignore_dtr: true, ..Faults::default() });
    let mut took = Duration::ZERO;
    block_on(async {
        log_in(&mut ftp, &server).await?;
        let started = Instant::now();
        let opts = Transfer { upload: UploadMode::Escaped, ..Transfer::default() };
        assert_eq!(ftp.put("up.bin", &mut &data[..], opts).await?, 1 << 20);
        took = started.elapsed();
        ftp.close().await
    });
    assert!(fs::read(server.root().join("up.bin")).unwrap() == data);
    assert_eq!(escapes(&control), (0, 1));
    // 2 s for the edge's answer, then the guard times.
    assert!(took >= Duration::from_secs(3), "{took:?}");
}

/// A module restart forgets `AT&D1`: the client, re-initialising the module
/// by itself, sends it again, and its next escape is by DTR still.
#[test]
fn after_a_module_restart_the_client_escapes_by_dtr_again() {
    let server = TestServer::start().unwrap();
    let data = hostile_of_len(200_000);
    let mut buf = vec![0u8; 4096];
    let (mut ftp, _dtr, control) = client(&mut buf, Faults::default());
    block_on(async {
        log_in(&mut ftp, &server).await?;
        assert_eq!(ftp.put("one.bin", &mut &data[..], Transfer::default()).await?, data.len() as u64);
        Ok(())
    });
    assert_eq!(escapes(&control), (1, 0));
    control.reset();
    std::thread::sleep(Duration::from_millis(200));
    let r = futures_executor::block_on(ftp.put("two.bin", &mut &data[..], Transfer::default()));
    assert!(matches!(r, Err(Error::NotOpen | Error::SessionClosed)), "{r:?}");
    // Not `init`: the client has re-initialised the module by itself.
    block_on(async {
        ftp.activate(&PdpConfig::default()).await?;
        let config = FtpConfig { user: USER, password: PASSWORD, rsp_timeout_s: 20, ..Default::default() };
        ftp.configure(&config, None).await?;
        ftp.open("127.0.0.1", server.port()).await?;
        ftp.put("two.bin", &mut &data[..], Transfer::default()).await
    });
    assert!(fs::read(server.root().join("two.bin")).unwrap() == data);
    assert_eq!(escapes(&control), (2, 0), "by DTR, no +++");
}

/// `put` (`Auto`) with a pin around the end of the first fill of the chunk
/// buffer (4096 bytes less `RX_LEN` + 1: 4031 bytes), and `put_escaped`
/// of nothing: a source that ends inside the first fill goes counted, one
/// longer escaped, by DTR (with the byte read beyond the fill), and every
/// file is byte-exact.
#[test]
fn put_with_a_pin_is_exact_around_the_first_fill_and_escaped_with_nothing() {
    let server = TestServer::start().unwrap();
    let data = hostile_of_len(4100);
    let mut buf = vec![0u8; 4096];
    let (mut ftp, _dtr, control) = client(&mut buf, Faults::default());
    let room = 4096 - quectel_ftp::RX_LEN - 1;
    let mut seen = Vec::new();
    block_on(async {
        log_in(&mut ftp, &server).await?;
        for len in [0, 1, room - 1, room, room + 1, room + 2] {
            let name = format!("f{len}.bin");
            assert_eq!(ftp.put(&name, &mut &data[..len], Transfer::default()).await?, len as u64);
            seen.push((len, control.dtr_escapes()));
        }
        assert_eq!(ftp.put_escaped("none.bin", &mut &data[..0], Transfer::default()).await?, 0);
        ftp.close().await
    });
    for len in [0, 1, room - 1, room, room + 1, room + 2] {
        assert!(fs::read(server.root().join(format!("f{len}.bin"))).unwrap() == data[..len], "{len} bytes");
    }
    assert_eq!(fs::read(server.root().join("none.bin")).unwrap(), b"");
    let want = [(0, 0), (1, 0), (room - 1, 0), (room, 0), (room + 1, 1), (room + 2, 2)];
    assert_eq!(seen, want);
    assert_eq!(escapes(&control), (3, 0));
}

/// The driver at 115200 baud: the bytes of an escaped upload take 2.6 s on
/// the line, more than the 2 s the client gives the module to answer its
/// edge. The client's `flush` waits for them (as a UART's does), so the
/// edge follows them and is answered at once; and the next command finds a
/// clean command line (no `+++` of a fallback left in it).
#[test]
fn at_115200_baud_the_edge_follows_the_flushed_bytes_and_is_answered_at_once() {
    let server = TestServer::start().unwrap();
    let data = hostile_of_len(30_000);
    let mut buf = vec![0u8; 4096];
    let (mut ftp, _dtr, control) = client(&mut buf, Faults { baud: Some(115_200), ..Faults::default() });
    block_on(async {
        log_in(&mut ftp, &server).await?;
        assert_eq!(ftp.put("b.bin", &mut &data[..], Transfer::default()).await?, data.len() as u64);
        assert_eq!(ftp.size("b.bin").await?, data.len() as u64);
        ftp.close().await
    });
    assert!(fs::read(server.root().join("b.bin")).unwrap() == data);
    assert_eq!(escapes(&control), (1, 0));
}

/// A module that answers the edge late (2.5 s: busy with its network; the
/// client gives it 2 s): the late `OK` comes during the guard before the
/// fallback `+++`, and ends the escape there. No `+++` reaches the module
/// in command mode, to spoil the next command.
#[test]
fn a_late_answer_to_the_edge_leaves_the_next_command_working() {
    let server = TestServer::start().unwrap();
    let data = hostile_of_len(50_000);
    let mut buf = vec![0u8; 4096];
    let (mut ftp, _dtr, control) = client(&mut buf, Faults::default());
    block_on(log_in(&mut ftp, &server));
    control.update_faults(|f| f.escape_answer_delay = Duration::from_millis(2500));
    let put = futures_executor::block_on(ftp.put("late.bin", &mut &data[..], Transfer::default()));
    control.update_faults(|f| f.escape_answer_delay = Duration::ZERO);
    let size = futures_executor::block_on(ftp.size("late.bin"));
    assert_eq!(put, Ok(data.len() as u64));
    assert!(fs::read(server.root().join("late.bin")).unwrap() == data);
    assert_eq!(escapes(&control), (1, 0));
    assert_eq!(size, Ok(data.len() as u64));
}

/// The same without a pin: a `+++` answered late (2.5 s after the module's
/// guard time; the client gives it `GUARD` + 2 s) is not sent again: its
/// late `OK` comes during the guard before the retry and ends the escape.
#[test]
fn a_late_answer_to_a_guarded_escape_leaves_the_next_command_working() {
    start_wall_clock();
    let server = TestServer::start().unwrap();
    let data = hostile_of_len(50_000);
    let mut buf = vec![0u8; 4096];
    let (port, control) = pair(SimConfig::default());
    let mut ftp = Ftp::new(port, &mut buf).unwrap();
    block_on(log_in(&mut ftp, &server));
    control.update_faults(|f| f.escape_answer_delay = Duration::from_millis(2500));
    let put = futures_executor::block_on(ftp.put_escaped("late.bin", &mut &data[..], Transfer::default()));
    control.update_faults(|f| f.escape_answer_delay = Duration::ZERO);
    let size = futures_executor::block_on(ftp.size("late.bin"));
    assert_eq!(put, Ok(data.len() as u64));
    assert!(fs::read(server.root().join("late.bin")).unwrap() == data);
    assert_eq!(escapes(&control), (0, 1));
    assert_eq!(size, Ok(data.len() as u64));
}
