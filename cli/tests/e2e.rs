//! End to end: the CLI's sessions and the driver, through the simulated
//! modem, against a real FTP(S) server on loopback.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{bounded, vsftpd_available, Rig};
use qftp::demo::hostile_data;
use qftp::{open_session, Command, Interrupt, Tls, CLOSE_AFTER_INTERRUPT};
use quectel_ftp::{Error, FtpReply, Listing, ModuleError, Transfer};
use quectel_ftp_sim::{Faults, SimConfig, SimControl};

const LIMIT: Duration = Duration::from_secs(240);

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// Every CLI command, with its output and the server's files checked.
fn every_operation(tls: Tls) {
    let mut rig = Rig::start(tls, SimConfig::default());
    let local = temp_dir();
    let data = hostile_data(100 * 1024, 7);
    let src = local.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();

    let (out, err) =
        rig.run(Command::Put { local: src.clone(), remote: "up.bin".into(), resume: false, via_ufs: false }).unwrap();
    assert_eq!(out, "");
    assert!(err.contains("102400 bytes"), "{err}");
    assert_eq!(std::fs::read(rig.server_path("up.bin")).unwrap(), data);

    assert_eq!(rig.ok(Command::Size { remote: "up.bin".into() }), "102400\n");
    let time = rig.ok(Command::Mdtm { remote: "up.bin".into() });
    assert!(time.len() == 20 && time.as_bytes()[4] == b'-' && time.as_bytes()[13] == b':', "{time:?}");

    let ls = rig.ok(Command::Ls { dir: None, json: false });
    assert!(ls.lines().any(|l| l.ends_with(" up.bin") && l.contains("102400")), "{ls}");
    let nlst = rig.ok(Command::Nlst { dir: Some(".".into()) });
    assert!(nlst.lines().any(|l| l.trim_end() == "up.bin"), "{nlst}");
    let mlsd = rig.ok(Command::Mlsd { dir: None, json: false });
    let fact = mlsd.lines().find(|l| l.trim_end().ends_with(" up.bin")).unwrap_or_else(|| panic!("{mlsd}"));
    assert!(fact.to_ascii_lowercase().contains("type=file") && fact.contains("ize=102400"), "{fact}");

    let dst = local.path().join("dst.bin");
    let (out, err) =
        rig.run(Command::Get { remote: "up.bin".into(), local: dst.clone(), resume: false, via_ufs: false }).unwrap();
    assert_eq!(out, "");
    assert!(err.contains("102400 bytes"), "{err}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);

    assert_eq!(rig.ok(Command::Pwd), "/\n");
    assert_eq!(rig.ok(Command::Stat), "idle\n");
    rig.ok(Command::Mkdir { dir: "box".into() });
    assert!(rig.sim.server.root().join("box").is_dir());
    rig.ok(Command::Mv { old: "up.bin".into(), new: "box/moved.bin".into() });
    assert_eq!(std::fs::read(rig.sim.server.root().join("box/moved.bin")).unwrap(), data);

    // `--cwd`: the session changes directory after login.
    rig.cfg.cwd = Some("box".into());
    assert_eq!(rig.ok(Command::Pwd), "/box\n");
    assert_eq!(rig.ok(Command::Nlst { dir: None }).trim_end(), "moved.bin");
    rig.ok(Command::Rm { remote: "moved.bin".into() });
    assert!(!rig.sim.server.root().join("box/moved.bin").exists());
    rig.cfg.cwd = None;
    rig.ok(Command::Rmdir { dir: "box".into() });
    assert!(!rig.sim.server.root().join("box").exists());

    // A missing file fails with the server's reply, and leaves no local file.
    let missing = local.path().join("missing.bin");
    let failure = rig
        .run(Command::Get { remote: "nope.bin".into(), local: missing.clone(), resume: false, via_ufs: false })
        .unwrap_err();
    assert_eq!(failure.step, "get");
    assert!(matches!(failure.modem_error(), Some(Error::Ftp { reply: Some(FtpReply::FileUnavailable), .. })));
    assert!(failure.to_string().starts_with("get: file unavailable (server replied 550"), "{failure}");
    assert!(!missing.exists());
    // ... and the modem is in a known state: the next session works.
    assert_eq!(rig.ok(Command::Pwd), "/\n");
}

#[test]
fn every_operation_over_plain_ftp() {
    bounded(LIMIT, || every_operation(Tls::None));
}

#[test]
fn every_operation_over_explicit_ftps() {
    bounded(LIMIT, || every_operation(Tls::Explicit));
}

#[test]
fn implicit_ftps_against_vsftpd() {
    if !vsftpd_available() {
        println!("SKIPPED implicit_ftps_against_vsftpd: needs root and /usr/sbin/vsftpd");
        return;
    }
    bounded(LIMIT, || {
        let mut rig = Rig::start(Tls::Implicit, SimConfig::default());
        let local = temp_dir();
        let data = hostile_data(64 * 1024, 11);
        let src = local.path().join("src.bin");
        std::fs::write(&src, &data).unwrap();
        rig.ok(Command::Put { local: src, remote: "tls.bin".into(), resume: false, via_ufs: false });
        assert_eq!(std::fs::read(rig.server_path("tls.bin")).unwrap(), data);
        assert!(rig.ok(Command::Ls { dir: None, json: false }).contains("tls.bin"));
        assert_eq!(rig.ok(Command::Size { remote: "tls.bin".into() }), "65536\n");
        let dst = local.path().join("dst.bin");
        rig.ok(Command::Get { remote: "tls.bin".into(), local: dst.clone(), resume: false, via_ufs: false });
        assert_eq!(std::fs::read(dst).unwrap(), data);
        assert_eq!(rig.ok(Command::Pwd), "/pub\n");
    });
}

#[test]
fn demo_verifies_its_round_trip() {
    bounded(LIMIT, || {
        let mut rig = Rig::start(Tls::None, SimConfig::default());
        let out = rig.ok(Command::Demo);
        assert!(out.contains("verified: 262144 bytes identical"), "{out}");
        assert!(out.contains(qftp::demo::DEMO_NAME), "{out}");
        assert!(!rig.server_path(qftp::demo::DEMO_NAME).exists(), "the demo cleans up");
    });
}

/// Runs `body` in an open session of `rig`.
fn in_session<T>(rig: &mut Rig, body: impl AsyncFnOnce(&mut Rig) -> T) -> T {
    futures_executor::block_on(async {
        let cfg = rig.cfg.clone();
        open_session(&mut rig.ftp, &cfg).await.expect("open the session");
        body(rig).await
    })
}

#[test]
fn three_mib_of_hostile_bytes_round_trip_exactly() {
    bounded(LIMIT, || {
        let mut rig = Rig::start(Tls::None, SimConfig::default());
        let data = hostile_data(3 * 1024 * 1024, 3);
        in_session(&mut rig, async |rig| {
            let started = Instant::now();
            let sent = rig.ftp.put("big.bin", &mut &data[..], Transfer::default()).await.unwrap();
            let up = started.elapsed();
            assert_eq!(sent, data.len() as u64);
            assert_eq!(rig.ftp.len().await.unwrap(), 16 * 1024, "QFTPLEN reports the last chunk");
            let mut copy = Vec::new();
            let mut seen = 0;
            let started = Instant::now();
            let got =
                rig.ftp.get("big.bin", &mut copy, Transfer::default().with_progress(&mut |n| seen = n)).await.unwrap();
            println!("3 MiB: up {} / down {}", qftp::rate(sent, up), qftp::rate(got, started.elapsed()));
            assert_eq!((got, seen), (data.len() as u64, data.len() as u64));
            assert!(copy == data, "downloaded copy differs");
        });
        assert_eq!(std::fs::read(rig.server_path("big.bin")).unwrap(), data);
    });
}

/// A progress callback that makes the module reset 5000 bytes into the
/// first chunk after `bytes` have moved.
fn reset_after(control: &SimControl, bytes: u64) -> impl FnMut(u64) + '_ {
    let mut armed = false;
    move |moved| {
        if moved >= bytes && !armed {
            control.update_faults(|f| f.reset_after_data_bytes = Some(5000));
            armed = true;
        }
    }
}

/// The module resets part-way through a transfer; the client recovers,
/// sets the module up again and resumes from where the server's copy ends.
#[test]
fn upload_resumes_after_a_reset_mid_transfer() {
    bounded(LIMIT, || {
        let mut rig = Rig::start(Tls::None, SimConfig::default());
        let data = hostile_data(300 * 1024, 5);
        in_session(&mut rig, async |rig| {
            let mut arm = reset_after(&rig.sim.control, 100_000);
            let r = rig.ftp.put("resume.bin", &mut &data[..], Transfer::default().with_progress(&mut arm)).await;
            assert!(r.is_err(), "the reset must fail the upload");
            let cfg = rig.cfg.clone();
            rig.ftp.recover(Some(&cfg.pdp())).await.expect("recover");
            open_session(&mut rig.ftp, &cfg).await.expect("open again");
            let have = rig.ftp.size("resume.bin").await.expect("partial size");
            assert!(have > 0 && have < data.len() as u64, "partial upload of {have} bytes");
            let opts = Transfer { start: have, ..Transfer::default() };
            let rest = &data[have as usize..];
            let sent = rig.ftp.put("resume.bin", &mut &rest[..], opts).await.expect("resume");
            assert_eq!(have + sent, data.len() as u64);
        });
        assert!(std::fs::read(rig.server_path("resume.bin")).unwrap() == data, "resumed upload differs");
    });
}

#[test]
fn download_resumes_after_a_reset_mid_transfer() {
    bounded(LIMIT, || {
        let mut rig = Rig::start(Tls::None, SimConfig::default());
        let data = hostile_data(300 * 1024, 9);
        std::fs::write(rig.server_path("down.bin"), &data).unwrap();
        in_session(&mut rig, async |rig| {
            let mut copy = Vec::new();
            let mut arm = reset_after(&rig.sim.control, 70_000);
            // Chunks the module confirms, to resume from.
            let chunks = Transfer { chunk: 16 * 1024, ..Transfer::default() };
            let r = rig.ftp.get("down.bin", &mut copy, chunks.with_progress(&mut arm)).await;
            assert!(r.is_err(), "the reset must fail the download");
            // Whole chunks that completed are good; a partial chunk is dropped.
            copy.truncate(copy.len() / (16 * 1024) * (16 * 1024));
            assert!(!copy.is_empty() && copy.len() < data.len());
            let cfg = rig.cfg.clone();
            rig.ftp.recover(Some(&cfg.pdp())).await.expect("recover");
            open_session(&mut rig.ftp, &cfg).await.expect("open again");
            let opts = Transfer { start: copy.len() as u64, ..Transfer::default() };
            rig.ftp.get("down.bin", &mut copy, opts).await.expect("resume");
            assert!(copy == data, "resumed download differs");
        });
    });
}

/// A server-side failure is reported with both codes and the next
/// operation in the same session works.
#[test]
fn server_errors_are_typed_and_the_session_stays_usable() {
    bounded(LIMIT, || {
        let mut rig = Rig::start(Tls::None, SimConfig::default());
        in_session(&mut rig, async |rig| {
            rig.sim.control.update_faults(|f| f.fail_next = Some((627, 550)));
            let e = rig.ftp.mkdir("x").await.unwrap_err();
            assert_eq!(e, Error::Ftp { module: ModuleError::ActionNotTaken, reply: Some(FtpReply::FileUnavailable) });
            let mut buf = [0u8; 64];
            assert_eq!(rig.ftp.pwd(&mut buf).await.unwrap(), "/");
            let mut names = Vec::new();
            rig.ftp.list(Listing::Nlst, ".", &mut names).await.unwrap();
            assert!(names.is_empty(), "{names:?}");
        });
    });
}

/// Two whole sessions on the same powered module: the second finds the PDP
/// context active and reuses it.
#[test]
fn back_to_back_sessions_reuse_the_context() {
    bounded(LIMIT, || {
        let mut rig = Rig::start(Tls::None, SimConfig::default());
        let local = temp_dir();
        let src: PathBuf = local.path().join("a.txt");
        std::fs::write(&src, b"hello\r\nOK\r\n").unwrap();
        rig.ok(Command::Put { local: src, remote: "a.txt".into(), resume: false, via_ufs: false });
        assert_eq!(rig.ok(Command::Size { remote: "a.txt".into() }), "11\n");
        assert_eq!(rig.ok(Command::Size { remote: "a.txt".into() }), "11\n");
    });
}

/// Ctrl-C while the modem waits for the rest of an upload chunk: the
/// session drops the transfer, closes (the client leaves data mode first),
/// says how far it got, and the server's copy holds the bytes before the
/// stall and nothing else; `put --resume` completes it.
#[test]
fn interrupt_mid_chunk_closes_the_session_and_reports_how_far() {
    bounded(LIMIT, || {
        let faults = Faults { stall_upload_after: Some(40_000), ..Faults::default() };
        let mut rig = Rig::start(Tls::None, SimConfig { faults, ..SimConfig::default() });
        let local = temp_dir();
        let data = hostile_data(200_000, 11);
        let src = local.path().join("src.bin");
        std::fs::write(&src, &data).unwrap();
        let interrupt = Arc::new(Interrupt::new());
        let (control, trigger) = (rig.sim.control.clone(), Arc::clone(&interrupt));
        let fired = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while control.stalled_uploads() == 0 {
                assert!(Instant::now() < deadline, "the upload never stalled");
                std::thread::sleep(Duration::from_millis(2));
            }
            trigger.trigger();
            Instant::now()
        });
        let put = Command::Put { local: src.clone(), remote: "stalled.bin".into(), resume: false, via_ufs: false };
        let failure = rig.run_until(put, &interrupt).expect_err("interrupted");
        let took = fired.join().unwrap().elapsed();
        assert!(took < Duration::from(CLOSE_AFTER_INTERRUPT) + Duration::from_secs(1), "{took:?}");
        assert_eq!(failure.exit_code(), 130);
        let resume = format!("qftp [options] put --continue {} stalled.bin", src.display());
        assert_eq!(failure.to_string(), format!("put: interrupted after 32768 of 200000 bytes; resume with: {resume}"));
        let on_server = std::fs::read(rig.server_path("stalled.bin")).unwrap();
        assert!(on_server == data[..40_000], "{} bytes on the server, not the first 40000", on_server.len());

        let resumed = Command::Put { local: src, remote: "stalled.bin".into(), resume: true, via_ufs: false };
        let (_, err) = rig.run(resumed).expect("put --continue");
        assert!(err.contains("resumed at byte 40000"), "{err}");
        assert!(std::fs::read(rig.server_path("stalled.bin")).unwrap() == data, "resumed upload differs");
    });
}

/// `--retries`: a download that fails part-way is run again in a new
/// session, from the end of the last chunk the module confirmed; the bytes
/// of the failed chunk are cut off the local file first.
#[test]
fn a_download_that_fails_part_way_is_retried_from_the_last_confirmed_chunk() {
    bounded(LIMIT, || {
        let mut rig = Rig::start(Tls::None, SimConfig::default());
        rig.cfg.retries = 1;
        let data = hostile_data(600_000, 12);
        std::fs::write(rig.server_path("cut.bin"), &data).unwrap();
        let local = temp_dir();

        // A byte of the second 256 KiB chunk (`--retries` asks the file in
        // chunks the module confirms) is lost on its way to the host.
        let dst = local.path().join("lost-byte.bin");
        rig.sim.control.drop_byte_in(300_000);
        let (_, err) = rig
            .run(Command::Get { remote: "cut.bin".into(), local: dst.clone(), resume: false, via_ufs: false })
            .unwrap();
        assert!(err.contains("; retry 1 of 1 in 1 s"), "{err}");
        assert!(err.contains("resumed at byte 262144"), "{err}");
        assert!(std::fs::read(&dst).unwrap() == data, "the retried download differs");

        // `--continue` too: the module resets 30000 bytes into the first
        // chunk, which started at the local file's 10000 bytes.
        let dst = local.path().join("reset.bin");
        std::fs::write(&dst, &data[..10_000]).unwrap();
        rig.sim.control.update_faults(|f| f.reset_after_data_bytes = Some(30_000));
        let (_, err) = rig
            .run(Command::Get { remote: "cut.bin".into(), local: dst.clone(), resume: true, via_ufs: false })
            .unwrap();
        assert!(err.contains("; retry 1 of 1 in 1 s"), "{err}");
        assert!(err.contains("resumed at byte 10000"), "{err}");
        assert!(std::fs::read(&dst).unwrap() == data, "the continued and retried download differs");

        // Without retries the file comes in one `AT+QFTPGET`: the same
        // failure is reported, and the local file keeps only what was
        // confirmed, nothing: `--continue` goes on from there.
        rig.cfg.retries = 0;
        let dst = local.path().join("kept.bin");
        std::fs::write(&dst, b"").unwrap();
        rig.sim.control.drop_byte_in(100_000);
        let failure = rig
            .run(Command::Get { remote: "cut.bin".into(), local: dst.clone(), resume: true, via_ufs: false })
            .unwrap_err();
        assert!(failure.is_transient(), "{failure}");
        assert!(std::fs::read(&dst).unwrap().is_empty(), "only what was confirmed is kept");
        rig.ok(Command::Get { remote: "cut.bin".into(), local: dst.clone(), resume: true, via_ufs: false });
        assert!(std::fs::read(&dst).unwrap() == data, "the continued download differs");
    });
}
