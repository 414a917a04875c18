//! Soak: thousands of random operations with random faults switched on,
//! checked against a model of the server's files. Now and then the client
//! is dropped and a fresh one created on the same line (a reset of the
//! microcontroller; the modem keeps its state: data mode, an open FTP
//! session), often while the modem waits for the rest of an upload chunk:
//! the fresh client must bring it back without a foreign byte reaching a
//! file.
//!
//! Throughout, the module prints unsolicited lines in every command-mode
//! window of an FTP exchange, takes 200 ms to close a session (eight of
//! the driver's busy polls, answering `+CME ERROR: 603`), searches the network
//! for a while after power-on and every reset, and stays busy after a
//! failed data connection until the session is closed. One-shot faults
//! join the line faults, URCs, server errors and resets: a data
//! connection that fails (`+CME ERROR: 615`), an upload the module ends
//! itself (`+QFTPPUT: 609,0`, with or without the `OK`), a PDP context the
//! network drops. In the middle third of the run the server has no SIZE
//! (`+QFTPSIZE: 627,502`) and a download from the end of a file fails with
//! `+QFTPGET: 627,550`. A fault may fail an operation with a typed error;
//! it may never make one hang, move a wrong byte or desynchronise the
//! client: after the soak's recovery the next operations work.
//!
//! Slow in debug builds; run it in release:
//! `cargo test --release -p qftp --test soak -- --nocapture`
//! (`QFTP_SOAK_OPS` and `QFTP_SOAK_SEED` override the defaults;
//! `QFTP_SOAK_VERBOSE` prints every failed operation).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::future::{poll_fn, Future};
use std::ops::Range;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{bounded, fresh_client, Rig};
use embassy_time::Timer;
use qftp::demo::hostile_data;
use qftp::{open_session, SessionConfig, Simulator, Tls};
use quectel_ftp::{CmeError, Error, Ftp, FtpReply, Listing, ModuleError, Transfer, UploadMode};
use quectel_ftp_sim::{Faults, Registration, SimConfig, SimPort};

/// Embassy time runs this many times faster than the wall clock, so that the
/// driver's deadlines (25 s at the minimum `rsptimeout`) and `+++` guard
/// times cost little wall time. The simulated module's guard time shrinks to
/// match.
const SCALE: u32 = 40;
/// No single operation (with its recovery) may take longer than this.
const HANG_LIMIT: Duration = Duration::from_secs(30);
const NAMES: &[&str] = &["a.bin", "b.bin", "c.bin", "d.bin", "e.txt", "f.txt"];
/// About one operation in this many is a reset of the microcontroller.
const MCU_RESET_ONE_IN: u32 = 25;
/// About one operation in this many has a one-shot fault armed.
const FAULT_ONE_IN: u32 = 8;
/// Unsolicited lines in every command-mode window, the whole run.
const URCS_IN_WINDOWS: u8 = 2;
/// How long the module takes to close a session, busy meanwhile (wall
/// time, as all the simulated module's times).
const CLOSE_DELAY: Duration = Duration::from_millis(200);
/// The network search after power-on and each reset of the module, in
/// milliseconds of wall time: 8 to 48 s of the driver's time, within its
/// registration timeout (180 s, 4.5 s of wall time).
const REGISTRATION_DELAY_MS: Range<u64> = 200..1200;

/// The client under test.
type Client = Ftp<'static, SimPort>;

#[derive(Debug, Default)]
struct Figures {
    ops: u64,
    ok: u64,
    failures: BTreeMap<String, u64>,
    faults: BTreeMap<&'static str, u64>,
    recoveries: u64,
    reopens: u64,
    /// Clients dropped and replaced (microcontroller resets) ...
    mcu_resets: u64,
    /// ... while the modem waited for the rest of an upload chunk ...
    mcu_resets_mid_chunk: u64,
    /// ... or in the middle of some other operation.
    mcu_resets_mid_operation: u64,
    /// Uploads ended by a guarded `+++` rather than counted.
    escaped_uploads: u64,
    bytes_up_verified: u64,
    bytes_down_verified: u64,
    listings_checked: u64,
    /// One-shot faults that bit (of those armed, in `faults`).
    bitten: BTreeMap<&'static str, u64>,
    /// Operations in the part of the run without SIZE and with 550 at the
    /// end of files ...
    no_size_ops: u64,
    /// ... SIZE refused there, as expected ...
    sizes_refused: u64,
    /// ... downloads of a whole number of chunks, whose end only the
    /// `627,550` told ...
    downloads_ended_by_550: u64,
    /// ... and empty files that read as missing (without SIZE, the module's
    /// 550 cannot tell them apart).
    empty_files_as_missing: u64,
    /// Checks after a failure that the next operations work.
    sync_checks: u64,
    /// Failures of operations without a fault armed, other than a session
    /// lost to the previous operation's fault: a random line fault, or the
    /// client's.
    unexplained: Vec<String>,
    /// The last operation, for a failure's message.
    last_op: String,
    slowest: Duration,
    /// Wall time spent in operations that succeeded, and in failed ones
    /// with their recovery.
    time_ok: Duration,
    time_failed: Duration,
}

/// What the server holds, as far as completed operations tell.
struct Model {
    files: BTreeMap<String, Vec<u8>>,
}

impl Model {
    /// Re-reads the server's root: after a failed operation the server may
    /// or may not have carried it out.
    fn reload(&mut self, sim: &Simulator) {
        self.files.clear();
        for entry in std::fs::read_dir(sim.server.root()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                self.files.insert(name, std::fs::read(entry.path()).unwrap());
            }
        }
    }
}

fn kind(e: &Error) -> String {
    match e {
        Error::Ftp { module, reply } => format!("ftp {}/{}", module.code(), reply.map_or(0, |r| r.code())),
        Error::Cme(c) => format!("cme {c}"),
        Error::LengthMismatch { .. } => "length mismatch".into(),
        other => format!("{other:?}"),
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
#[cfg_attr(debug_assertions, ignore = "slow in debug builds: cargo test --release -p qftp --test soak")]
fn random_operations_with_faults() {
    let ops = env_or("QFTP_SOAK_OPS", 2000);
    let seed = env_or("QFTP_SOAK_SEED", 0x50a6);
    let figures = bounded(Duration::from_secs(600), move || soak(ops, seed));
    println!("soak figures (seed {seed:#x}): {figures:#?}");
}

fn soak(ops: u64, seed: u64) -> Figures {
    assert_eq!(qftp::clock::start_clock(SCALE), SCALE);
    let config = SimConfig {
        guard_time: Duration::from_millis(10),
        close_delay: CLOSE_DELAY,
        faults: Faults {
            seed,
            drop_probability: 2e-6,
            duplicate_probability: 2e-6,
            urcs_in_windows: URCS_IN_WINDOWS,
            busy_after_data_failure: true,
            // The module answers `+++` a second (of the driver's time)
            // after it at the earliest, as a real one does: its guard
            // above is shortened to keep the run quick.
            escape_answer_delay: Duration::from_millis(20),
            registration: Registration { delay: Duration::from_secs(1), ..Registration::default() },
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let (sim, mut ftp, cfg) = Rig::start_on_running_clock(Tls::None, config).into_parts();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut model = Model { files: BTreeMap::new() };
    let mut fig = Figures::default();
    let started = Instant::now();
    let no_size = ops / 3..ops * 2 / 3;
    let verbose = std::env::var_os("QFTP_SOAK_VERBOSE").is_some();
    futures_executor::block_on(async {
        open_session(&mut ftp, &cfg).await.expect("first session");
        for op in 0..ops {
            fig.ops += 1;
            // The middle third: a server without SIZE, and firmware that
            // fails a download from the end of a file.
            if op == no_size.start || op == no_size.end {
                let on = no_size.contains(&op);
                sim.control.update_faults(|f| {
                    f.size_unsupported = on.then_some(502);
                    f.eof_as_550 = on;
                });
            }
            fig.no_size_ops += u64::from(no_size.contains(&op));
            let t0 = Instant::now();
            if rng.u32(..MCU_RESET_ONE_IN) == 0 {
                // A reset of the microcontroller, perhaps in the middle of
                // an operation; the modem keeps its state.
                let cut = mcu_reset(&mut rng, &mut ftp, &sim, &mut model, &mut fig).await;
                disarm(&sim);
                ftp = fresh_client(ftp);
                fig.mcu_resets += 1;
                reopen(&mut ftp, &cfg).await;
                if let Some((name, data, at)) = cut {
                    // The upload's bytes up to the stall, nothing else.
                    let on_disk = std::fs::read(sim.server.root().join(name)).unwrap();
                    if let Some(i) = on_disk.iter().zip(&data).position(|(a, b)| a != b) {
                        panic!("op {}: {name} has foreign bytes from byte {i} (stalled at {at})", fig.ops);
                    }
                    assert_eq!(on_disk.len(), at, "op {}: {name} after a reset mid-chunk", fig.ops);
                }
                model.reload(&sim);
                assert_in_sync(&mut ftp, &sim, "a reset of the microcontroller", fig.ops).await;
                fig.time_failed += t0.elapsed();
                assert!(t0.elapsed() < HANG_LIMIT, "op {} took {:?}", fig.ops, t0.elapsed());
                continue;
            }
            let armed = arm_fault(&mut rng, &sim);
            if let Some(armed) = &armed {
                *fig.faults.entry(armed.name).or_default() += 1;
            }
            let outcome = one_op(&mut rng, &mut ftp, &sim, &mut model, &mut fig, armed.as_ref()).await;
            if let Some(armed) = &armed {
                check_armed(armed, &outcome, &sim, &mut fig);
            }
            disarm(&sim);
            let outcome_ok = outcome.is_ok();
            match outcome {
                Ok(()) => {
                    fig.ok += 1;
                    if let Some(armed) = armed.as_ref().filter(|_| verbose) {
                        println!("op {}: ok in {} (fault: {}, {})", fig.ops, fig.last_op, armed.name, armed.detail);
                    }
                }
                Err(e) => {
                    *fig.failures.entry(kind(&e)).or_default() += 1;
                    let fault = armed.as_ref().map(|a| format!(" (fault: {}, {})", a.name, a.detail));
                    let report = format!("op {}: {e:?} in {}{}", fig.ops, fig.last_op, fault.unwrap_or_default());
                    if verbose {
                        println!("{report}");
                    }
                    if armed.is_none() && !matches!(e, Error::SessionClosed | Error::NotOpen) {
                        fig.unexplained.push(report);
                    }
                    // Recovery: server refusals need none; a lost session is
                    // opened again; anything else gets the vendor's recovery.
                    if !matches!(e, Error::Ftp { .. }) || !ftp.is_open() {
                        if matches!(e, Error::SessionClosed | Error::NotOpen | Error::Ftp { .. }) {
                            fig.reopens += 1;
                        } else {
                            fig.recoveries += 1;
                            let _ = ftp.recover(Some(&cfg.pdp())).await;
                        }
                        reopen(&mut ftp, &cfg).await;
                    }
                    model.reload(&sim);
                    let what = match &armed {
                        Some(armed) => format!("{e:?} in {} (fault: {}, {})", fig.last_op, armed.name, armed.detail),
                        None => format!("{e:?} in {}", fig.last_op),
                    };
                    assert_in_sync(&mut ftp, &sim, &what, fig.ops).await;
                    fig.sync_checks += 1;
                }
            }
            let took = t0.elapsed();
            if outcome_ok {
                fig.time_ok += took;
            } else {
                fig.time_failed += took;
            }
            fig.slowest = fig.slowest.max(took);
            assert!(took < HANG_LIMIT, "op {} took {took:?}", fig.ops);
        }
        ftp.close().await.expect("final close");
    });
    // The server's files are what the model says.
    let mut disk = Model { files: BTreeMap::new() };
    disk.reload(&sim);
    assert!(disk.files == model.files, "server files differ from the model");
    println!(
        "soak: {} ops in {:.1} s: 0 hangs (slowest {:?}), 0 desynchronisations ({} checks after failures), \
         0 corrupted bytes ({} up and {} down verified)",
        fig.ops,
        started.elapsed().as_secs_f64(),
        fig.slowest,
        fig.sync_checks,
        fig.bytes_up_verified,
        fig.bytes_down_verified
    );
    fig
}

/// Removes the directory an interrupted operation may have left, and
/// checks that nothing is desynchronised after `what`: the next operations
/// work.
async fn assert_in_sync(ftp: &mut Client, sim: &Simulator, what: &str, op: u64) {
    let _ = std::fs::remove_dir(sim.server.root().join("tmpdir"));
    let mut buf = [0u8; 64];
    let back = ftp.cwd("/").await;
    assert_eq!(back, Ok(()), "desynchronised after {what} (op {op})");
    let pwd = ftp.pwd(&mut buf).await.map(str::to_owned);
    assert_eq!(pwd.as_deref(), Ok("/"), "desynchronised after {what} (op {op})");
}

async fn reopen(ftp: &mut Client, cfg: &SessionConfig) {
    for attempt in 0..3 {
        match open_session(ftp, cfg).await {
            Ok(()) => return,
            Err(failure) if attempt < 2 => {
                let _ = failure;
                let _ = ftp.recover(Some(&cfg.pdp())).await;
            }
            Err(failure) => panic!("cannot open a session again: {failure}"),
        }
    }
}

/// What the client was doing when the microcontroller reset: an upload
/// that left the modem waiting for the rest of a chunk (returned: the
/// name, the data and where it stalled, for the check after the reset),
/// some other operation cut short at a random moment, or nothing.
async fn mcu_reset(
    rng: &mut fastrand::Rng,
    ftp: &mut Client,
    sim: &Simulator,
    model: &mut Model,
    fig: &mut Figures,
) -> Option<(&'static str, Vec<u8>, usize)> {
    match rng.u32(..4) {
        0 | 1 => {
            let name = NAMES[rng.usize(..NAMES.len())];
            let data = hostile_data(rng.usize(1..60_000), rng.u64(..));
            let at = rng.usize(..data.len());
            let chunk = [16 * 1024, 4096, 1000][rng.usize(..3)];
            let control = &sim.control;
            let before = control.stalled_uploads();
            control.update_faults(|f| f.stall_upload_after = Some(at as u64));
            // The fault stalls counted uploads (an MCU reset mid-chunk);
            // an upload left in data mode mid-stream is the escaped
            // path's, tested in `tests/latency.rs` and `sim/tests/dtr.rs`.
            let opts = Transfer { start: 0, chunk, upload: UploadMode::Counted, ..Transfer::default() };
            let stalled = until(|| control.stalled_uploads() > before);
            let r = race(ftp.put(name, &mut &data[..], opts), stalled).await;
            match r {
                Either::Right(()) => {
                    fig.mcu_resets_mid_chunk += 1;
                    Some((name, data, at))
                }
                Either::Left(Ok(n)) => panic!("an upload of {n} bytes ended without stalling at {at}"),
                // A line fault (a lost or doubled byte) failed it first.
                Either::Left(Err(_)) => None,
            }
        }
        2 => {
            fig.mcu_resets_mid_operation += 1;
            let cut = Timer::after_millis(rng.u64(..400));
            let _ = race(one_op(rng, ftp, sim, model, fig, None), cut).await;
            None
        }
        _ => None,
    }
}

enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls both futures until one is done; the other is dropped.
async fn race<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(x));
        }
        b.as_mut().poll(cx).map(Either::Right)
    })
    .await
}

/// Ends once `done` holds, looking every millisecond of wall time.
async fn until(done: impl Fn() -> bool) {
    while !done() {
        Timer::after_millis(u64::from(SCALE)).await;
    }
}

/// A one-shot fault switched on for the next operation.
struct Armed {
    name: &'static str,
    /// Its settings, for a failure's message.
    detail: String,
    /// The operation to run (see `one_op`), for a fault that only an
    /// operation of some kind can meet.
    op: Option<u32>,
    /// The module ends the next upload after this many bytes.
    end_upload_after: Option<u64>,
}

/// Switches one random fault on for the next operation (about one
/// operation in [`FAULT_ONE_IN`]).
fn arm_fault(rng: &mut fastrand::Rng, sim: &Simulator) -> Option<Armed> {
    let control = &sim.control;
    if rng.u32(..FAULT_ONE_IN) != 0 {
        return None;
    }
    // A reset restarts the network search.
    let search = Duration::from_millis(rng.u64(REGISTRATION_DELAY_MS));
    let armed = |name, detail: String| Armed { name, detail, op: None, end_upload_after: None };
    Some(match rng.u32(..12) {
        0 => {
            let n = rng.u64(..4000);
            control.drop_byte_in(n);
            armed("drop byte", format!("byte {n} from now"))
        }
        1 => {
            let n = rng.u64(..4000);
            control.duplicate_byte_in(n);
            armed("duplicate byte", format!("byte {n} from now"))
        }
        2 => {
            let delay = Duration::from_millis(rng.u64(1..200));
            control.update_faults(|f| f.result_delay = delay);
            armed("delayed result", format!("{delay:?}"))
        }
        3 => {
            let urc = ["+QIND: \"csq\",17,99", "+XYZ: 1"][rng.usize(..2)];
            control.inject_urc_before_next_result(urc);
            armed("unknown URC", urc.to_owned())
        }
        4 => {
            control.inject_urc_before_next_result("+QIURC: \"pdpdeact\",1");
            armed("pdpdeact", String::new())
        }
        5 => {
            let fail = [(627, 550), (616, 426), (605, 0)][rng.usize(..3)];
            control.update_faults(|f| f.fail_next = Some(fail));
            armed("server error", format!("{fail:?}"))
        }
        6 => {
            let after = rng.u64(1..20_000);
            control.update_faults(|f| {
                f.reset_after_data_bytes = Some(after);
                f.registration.delay = search;
            });
            armed("reset mid-transfer", format!("after {after} bytes, network search {search:?}"))
        }
        7 => {
            control.update_faults(|f| f.registration.delay = search);
            control.reset();
            armed("reset", format!("network search {search:?}"))
        }
        8 | 9 => {
            // An upload, a download or a listing: each opens a data connection.
            control.update_faults(|f| f.fail_data_connection = true);
            let op = [0, 5, 13, 16][rng.usize(..4)];
            Armed { op: Some(op), ..armed("data connection fails", format!("op {op}")) }
        }
        10 => {
            // Mostly within the first chunk, so that it bites.
            let after = rng.u64(1..2000);
            let without_ok = rng.bool();
            control.update_faults(|f| {
                f.end_upload_after = Some(after);
                f.put_timeout_without_ok = without_ok;
            });
            let detail = format!("after {after} bytes, {} OK", if without_ok { "without" } else { "with" });
            Armed { op: Some(0), end_upload_after: Some(after), ..armed("module ends upload", detail) }
        }
        _ => {
            control.drop_pdp(1);
            armed("PDP context dropped", "cid 1".to_owned())
        }
    })
}

/// Counts the fault if it bit, and checks the operation's outcome where
/// the fault decides it.
fn check_armed(armed: &Armed, outcome: &Result<(), Error>, sim: &Simulator, fig: &mut Figures) {
    let bit = match armed.name {
        // The module takes the switch when it bites.
        "data connection fails" => !sim.control.faults().fail_data_connection,
        // Checked by the upload itself (see `one_op`).
        "module ends upload" => false,
        _ => return,
    };
    if bit {
        *fig.bitten.entry(armed.name).or_default() += 1;
        let e = outcome.as_ref().expect_err("a data connection failed, and the operation succeeded");
        assert_eq!(*e, Error::Cme(CmeError::Code(615)), "op {}: the failed data connection's error", fig.ops);
    }
}

/// Switches the one-shot faults off again (they may not have fired).
fn disarm(sim: &Simulator) {
    sim.control.update_faults(|f| {
        f.drop_at = None;
        f.duplicate_at = None;
        f.result_delay = Duration::ZERO;
        f.fail_next = None;
        f.reset_after_data_bytes = None;
        f.stall_upload_after = None;
        f.fail_data_connection = false;
        f.end_upload_after = None;
        f.put_timeout_without_ok = false;
    });
}

/// One random operation (or operation `armed.op`), checked against the
/// model.
async fn one_op(
    rng: &mut fastrand::Rng,
    ftp: &mut Client,
    sim: &Simulator,
    model: &mut Model,
    fig: &mut Figures,
    armed: Option<&Armed>,
) -> Result<(), Error> {
    let name = NAMES[rng.usize(..NAMES.len())];
    let other = NAMES[rng.usize(..NAMES.len())];
    let exists = model.files.contains_key(name);
    // The server has no SIZE and the module fails downloads at the end of a file.
    let no_size = sim.control.faults().size_unsupported.is_some();
    let pick = armed.and_then(|a| a.op).unwrap_or(rng.u32(..20));
    fig.last_op = format!("op {pick} on {name}{}", if no_size { " (no SIZE)" } else { "" });
    let fault = armed.map(|a| format!(" (fault: {}, {})", a.name, a.detail)).unwrap_or_default();
    let during = |fig: &Figures| format!("op {}: {}{fault}", fig.ops, fig.last_op);
    match pick {
        0..=4 => {
            let len = match rng.u32(..10) {
                0 => rng.usize(..120_000),
                // Whole chunks: a download without SIZE learns the end
                // only from the module.
                1 => [1000, 4096, 16 * 1024][rng.usize(..3)] * rng.usize(1..4),
                _ => rng.usize(..20_000),
            };
            let data = hostile_data(len, rng.u64(..));
            let chunk = [16 * 1024, 16 * 1024, 4096, 1000][rng.usize(..4).min(rng.usize(..4))];
            // One upload in four ended by a guarded `+++`, the rest counted
            // in chunks: chosen here, not by `UploadMode::Auto`, which
            // follows the round trip the session measured (machine load).
            let upload = if rng.u32(..4) == 0 { UploadMode::Escaped } else { UploadMode::Counted };
            fig.last_op = format!("put {name}, {len} bytes, {upload:?} in chunks of {chunk}");
            fig.escaped_uploads += u64::from(upload == UploadMode::Escaped);
            let opts = Transfer { start: 0, chunk, upload, ..Transfer::default() };
            let r = ftp.put(name, &mut &data[..], opts).await;
            // Where the module ends the upload by itself: in the first
            // counted chunk, or anywhere in an escaped upload.
            let first = match upload {
                UploadMode::Escaped => len,
                _ => len.min(chunk as usize),
            };
            let cut = armed.and_then(|a| a.end_upload_after).map(|n| n as usize);
            let sent = match (r, cut) {
                (Err(e @ Error::Ftp { module: ModuleError::Timeout, reply: None }), Some(cut)) if cut <= first => {
                    // What the module received is stored, and nothing else.
                    let on_disk = std::fs::read(sim.server.root().join(name)).unwrap();
                    if let Some(i) = on_disk.iter().zip(&data).position(|(a, b)| a != b) {
                        panic!("op {}: {name} has foreign bytes from byte {i} (upload ended at {cut})", fig.ops);
                    }
                    assert_eq!(on_disk.len(), cut, "op {}: {name} after the module ended the upload", fig.ops);
                    *fig.bitten.entry("module ends upload").or_default() += 1;
                    fig.bytes_up_verified += cut as u64;
                    model.files.insert(name.to_owned(), on_disk);
                    return Err(e);
                }
                (Ok(_), Some(cut)) if cut < first => {
                    panic!("op {}: the module ended the upload of {name} after {cut} bytes, and put succeeded", fig.ops)
                }
                (r, _) => r?,
            };
            assert_eq!(sent, len as u64);
            let on_disk = std::fs::read(sim.server.root().join(name)).unwrap();
            assert!(on_disk == data, "uploaded {name} differs on the server");
            fig.bytes_up_verified += sent;
            model.files.insert(name.to_owned(), data);
        }
        5..=8 => {
            let mut copy = Vec::new();
            let chunk = [16 * 1024, 16 * 1024, 4096, 1000][rng.usize(..4).min(rng.usize(..4))];
            fig.last_op = format!("get {name} in chunks of {chunk}{}", if no_size { " (no SIZE)" } else { "" });
            let r = ftp.get(name, &mut copy, Transfer { start: 0, chunk, ..Transfer::default() }).await;
            match (r, model.files.get(name)) {
                (Ok(n), Some(want)) => {
                    assert_same(&copy, want, &during(fig));
                    fig.bytes_down_verified += n;
                    if no_size && n > 0 && n % u64::from(chunk) == 0 {
                        fig.downloads_ended_by_550 += 1;
                    }
                }
                (Err(e), Some(want)) if no_size && want.is_empty() && is_550(&e) => fig.empty_files_as_missing += 1,
                (Ok(_), None) => panic!("downloaded {name}, which does not exist"),
                (Err(Error::Ftp { .. }), None) => {}
                (Err(e), _) => return Err(e),
            }
        }
        9 | 10 => match ftp.size(name).await {
            Ok(size) => {
                assert!(!no_size, "op {}: SIZE answered while the server has none", fig.ops);
                assert_eq!(Some(size), model.files.get(name).map(|d| d.len() as u64), "size of {name}");
            }
            Err(Error::Ftp { reply: Some(FtpReply::NotImplemented), .. }) if no_size => fig.sizes_refused += 1,
            Err(Error::Ftp { .. }) if !exists => {}
            Err(e) => return Err(e),
        },
        11 => match ftp.delete(name).await {
            Ok(()) => assert!(model.files.remove(name).is_some(), "deleted {name}, which does not exist"),
            Err(Error::Ftp { .. }) if !exists => {}
            Err(e) => return Err(e),
        },
        12 => match ftp.rename(name, other).await {
            Ok(()) => {
                let data = model.files.remove(name).expect("renamed a file that exists");
                model.files.insert(other.to_owned(), data);
            }
            Err(Error::Ftp { .. }) if !exists => {}
            Err(e) => return Err(e),
        },
        13 | 14 => {
            let kind = [Listing::List, Listing::Nlst, Listing::Mlsd][rng.usize(..3)];
            let mut listing = Vec::new();
            ftp.list(kind, ".", &mut listing).await?;
            let text = String::from_utf8_lossy(&listing);
            let names: BTreeSet<&str> = text
                .lines()
                .filter_map(|l| l.trim_end().rsplit([' ', '/']).next())
                .filter(|n| !n.is_empty() && *n != "." && *n != "..")
                .collect();
            let want: BTreeSet<&str> = model.files.keys().map(String::as_str).collect();
            assert_eq!(names, want, "{kind:?} listing:\n{text}");
            fig.listings_checked += 1;
        }
        15 => {
            ftp.mkdir("tmpdir").await?;
            ftp.cwd("tmpdir").await?;
            let mut buf = [0u8; 64];
            assert_eq!(ftp.pwd(&mut buf).await?, "/tmpdir");
            ftp.cwd("/").await?;
            ftp.rmdir("tmpdir").await?;
        }
        16 => {
            if let Some(len) = model.files.get(name).map(Vec::len) {
                let mut sink = Vec::new();
                match ftp.get(name, &mut sink, Transfer { start: 0, chunk: 4096, ..Transfer::default() }).await {
                    Err(e) if no_size && len == 0 && is_550(&e) => {
                        fig.empty_files_as_missing += 1;
                        return Ok(());
                    }
                    r => r?,
                };
                let last = if len == 0 { 0 } else { (len - 1) % 4096 + 1 };
                assert_eq!(ftp.len().await?, last as u64, "QFTPLEN after getting {name}");
                fig.bytes_down_verified += len as u64;
                assert_same(&sink, &model.files[name], &during(fig));
            }
        }
        17 => {
            if exists {
                let t = ftp.mdtm(name).await?;
                assert!(t.year >= 2024, "{t}");
            }
        }
        18 => {
            ftp.stat().await?;
        }
        _ => {
            let mut buf = [0u8; 64];
            assert_eq!(ftp.pwd(&mut buf).await?, "/");
        }
    }
    Ok(())
}

/// The module's "file unavailable" (`+QFTPGET: 627,550`).
fn is_550(e: &Error) -> bool {
    matches!(e, Error::Ftp { module: ModuleError::ActionNotTaken, reply: Some(FtpReply::FileUnavailable) })
}

/// `got` is `want`, or the panic says where they part.
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
        let around = |b: &[u8]| String::from_utf8_lossy(&b[at.saturating_sub(40)..(at + 80).min(b.len())]).into_owned();
        panic!(
            "{what}: {} bytes, {} expected, differing from byte {at}:\n got: {:?}\nwant: {:?}",
            got.len(),
            want.len(),
            around(got),
            around(want)
        );
    }
}
