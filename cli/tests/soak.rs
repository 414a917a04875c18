//! Soak: thousands of random operations with random faults switched on,
//! checked against a model of the server's files. Now and then the client
//! is dropped and a fresh one created on the same line (a reset of the
//! microcontroller; the modem keeps its state: data mode, an open FTP
//! session), often while the modem waits for the rest of an upload chunk:
//! the fresh client must bring it back without a foreign byte reaching a
//! file.
//!
//! Slow in debug builds; run it in release:
//! `cargo test --release -p qftp --test soak -- --nocapture`
//! (`QFTP_SOAK_OPS` and `QFTP_SOAK_SEED` override the defaults).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{bounded, fresh_client, Rig};
use embassy_time::Timer;
use qftp::demo::hostile_data;
use qftp::{open_session, SessionConfig, Simulator, Tls};
use quectel_ftp::{Error, Ftp, Listing, Transfer};
use quectel_ftp_sim::{Faults, SimConfig, SimPort};

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
    bytes_up_verified: u64,
    bytes_down_verified: u64,
    listings_checked: u64,
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
        close_delay: Duration::from_millis(5),
        faults: Faults { seed, drop_probability: 2e-6, duplicate_probability: 2e-6, ..Faults::default() },
        ..SimConfig::default()
    };
    let (sim, mut ftp, cfg) = Rig::start_on_running_clock(Tls::None, config).into_parts();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut model = Model { files: BTreeMap::new() };
    let mut fig = Figures::default();
    let started = Instant::now();
    futures_executor::block_on(async {
        open_session(&mut ftp, &cfg).await.expect("first session");
        for _ in 0..ops {
            fig.ops += 1;
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
            let fault = arm_fault(&mut rng, &sim);
            if let Some(fault) = fault {
                *fig.faults.entry(fault).or_default() += 1;
            }
            let outcome = one_op(&mut rng, &mut ftp, &sim, &mut model, &mut fig).await;
            disarm(&sim);
            let outcome_ok = outcome.is_ok();
            match outcome {
                Ok(()) => fig.ok += 1,
                Err(e) => {
                    *fig.failures.entry(kind(&e)).or_default() += 1;
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
                    assert_in_sync(&mut ftp, &sim, &format!("{e:?}"), fig.ops).await;
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
    println!("soak: {} ops in {:.1} s", fig.ops, started.elapsed().as_secs_f64());
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
            let opts = Transfer { start: 0, chunk, ..Transfer::default() };
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
            let _ = race(one_op(rng, ftp, sim, model, fig), cut).await;
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

/// Switches one random fault on for the next operation (about one
/// operation in twelve).
fn arm_fault(rng: &mut fastrand::Rng, sim: &Simulator) -> Option<&'static str> {
    let control = &sim.control;
    if rng.u32(..12) != 0 {
        return None;
    }
    Some(match rng.u32(..8) {
        0 => {
            control.drop_byte_in(rng.u64(..4000));
            "drop byte"
        }
        1 => {
            control.duplicate_byte_in(rng.u64(..4000));
            "duplicate byte"
        }
        2 => {
            let delay = Duration::from_millis(rng.u64(1..200));
            control.update_faults(|f| f.result_delay = delay);
            "delayed result"
        }
        3 => {
            control.inject_urc_before_next_result(["+QIND: \"csq\",17,99", "+XYZ: 1"][rng.usize(..2)]);
            "unknown URC"
        }
        4 => {
            control.inject_urc_before_next_result("+QIURC: \"pdpdeact\",1");
            "pdpdeact"
        }
        5 => {
            control.update_faults(|f| f.fail_next = Some([(627, 550), (616, 426), (605, 0)][rng.usize(..3)]));
            "server error"
        }
        6 => {
            let after = rng.u64(1..20_000);
            control.update_faults(|f| f.reset_after_data_bytes = Some(after));
            "reset mid-transfer"
        }
        _ => {
            control.reset();
            "reset"
        }
    })
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
    });
}

async fn one_op(
    rng: &mut fastrand::Rng,
    ftp: &mut Client,
    sim: &Simulator,
    model: &mut Model,
    fig: &mut Figures,
) -> Result<(), Error> {
    let name = NAMES[rng.usize(..NAMES.len())];
    let other = NAMES[rng.usize(..NAMES.len())];
    let exists = model.files.contains_key(name);
    match rng.u32(..20) {
        0..=4 => {
            let len = if rng.u32(..10) == 0 { rng.usize(..120_000) } else { rng.usize(..20_000) };
            let data = hostile_data(len, rng.u64(..));
            let chunk = [16 * 1024, 16 * 1024, 4096, 1000][rng.usize(..4).min(rng.usize(..4))];
            let sent = ftp.put(name, &mut &data[..], Transfer { start: 0, chunk, ..Transfer::default() }).await?;
            assert_eq!(sent, len as u64);
            let on_disk = std::fs::read(sim.server.root().join(name)).unwrap();
            assert!(on_disk == data, "uploaded {name} differs on the server");
            fig.bytes_up_verified += sent;
            model.files.insert(name.to_owned(), data);
        }
        5..=8 => {
            let mut copy = Vec::new();
            let chunk = [16 * 1024, 16 * 1024, 4096, 1000][rng.usize(..4).min(rng.usize(..4))];
            let r = ftp.get(name, &mut copy, Transfer { start: 0, chunk, ..Transfer::default() }).await;
            match (r, model.files.get(name)) {
                (Ok(n), Some(want)) => {
                    assert!(copy == *want, "downloaded {name} differs from the model ({n} bytes)");
                    fig.bytes_down_verified += n;
                }
                (Ok(_), None) => panic!("downloaded {name}, which does not exist"),
                (Err(Error::Ftp { .. }), None) => {}
                (Err(e), _) => return Err(e),
            }
        }
        9 | 10 => match ftp.size(name).await {
            Ok(size) => assert_eq!(Some(size), model.files.get(name).map(|d| d.len() as u64), "size of {name}"),
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
                ftp.get(name, &mut sink, Transfer { start: 0, chunk: 4096, ..Transfer::default() }).await?;
                let last = if len == 0 { 0 } else { (len - 1) % 4096 + 1 };
                assert_eq!(ftp.len().await?, last as u64, "QFTPLEN after getting {name}");
                fig.bytes_down_verified += len as u64;
                assert!(sink == model.files[name]);
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
