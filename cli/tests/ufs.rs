//! The module's file store from `qftp` (issue 16), end to end: the CLI's
//! sessions and the driver through the simulated module, against a real
//! FTP(S) server on loopback.

mod common;

use std::time::Duration;

use common::{bounded, Rig};
use qftp::demo::hostile_data;
use qftp::{Command, Tls, UfsCommand};
use quectel_ftp_sim::SimConfig;

const LIMIT: Duration = Duration::from_secs(240);

fn ufs(op: UfsCommand) -> Command {
    Command::Ufs { op }
}

/// `ufs put`, `ls`, `df`, `get` and `rm` on the module's store: byte for
/// byte, in ACK mode too, and no FTP session opened for any of them.
#[test]
fn the_file_store_commands_round_trip_a_hostile_file() {
    bounded(LIMIT, || {
        let mut rig = Rig::start(Tls::None, SimConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let data = hostile_data(200 * 1024, 3);
        let src = dir.path().join("src.bin");
        std::fs::write(&src, &data).unwrap();
        rig.ok(ufs(UfsCommand::Put { local: src.clone(), name: "a.bin".into(), ack: false }));
        rig.ok(ufs(UfsCommand::Put { local: src, name: "RAM:b.bin".into(), ack: true }));
        assert_eq!(rig.ok(ufs(UfsCommand::Ls { pattern: None })), "a.bin\t204800\n");
        assert_eq!(rig.ok(ufs(UfsCommand::Ls { pattern: Some("RAM:*".into()) })), "RAM:b.bin\t204800\n");
        let df = rig.ok(ufs(UfsCommand::Df));
        assert!(df.starts_with("free ") && df.contains(" total "), "{df}");
        let dst = dir.path().join("dst.bin");
        rig.ok(ufs(UfsCommand::Get { name: "RAM:b.bin".into(), local: dst.clone() }));
        assert!(std::fs::read(&dst).unwrap() == data);
        // `*` is every file to the module: refused, nothing deleted.
        for every in ["*", "RAM:*"] {
            let refused = rig.run(ufs(UfsCommand::Rm { name: every.into() })).unwrap_err();
            assert_eq!(refused.exit_code(), 2, "{refused}");
        }
        assert_eq!(rig.ok(ufs(UfsCommand::Ls { pattern: None })), "a.bin\t204800\n");
        rig.ok(ufs(UfsCommand::Rm { name: "a.bin".into() }));
        let failure = rig.run(ufs(UfsCommand::Rm { name: "a.bin".into() })).unwrap_err();
        assert_eq!(failure.exit_code(), 5, "the store refused: {failure}");
        assert_eq!(rig.ok(ufs(UfsCommand::Ls { pattern: None })), "");
        // A file that is not there leaves nothing named LOCAL.
        let missing = dir.path().join("missing.bin");
        rig.run(ufs(UfsCommand::Get { name: "none.bin".into(), local: missing.clone() })).unwrap_err();
        assert!(!missing.exists());
    });
}

/// `put --via-ufs` and `get --via-ufs`: a hostile MiB each way, byte for
/// byte, and nothing the tool staged left on the store, after a failure
/// too.
#[test]
fn store_and_forward_both_ways_leaves_nothing_staged() {
    bounded(LIMIT, || {
        let mut rig = Rig::start(Tls::None, SimConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let data = hostile_data(1 << 20, 5);
        let src = dir.path().join("src.bin");
        std::fs::write(&src, &data).unwrap();
        rig.ok(Command::Put { local: src.clone(), remote: "via.bin".into(), resume: false, via_ufs: true });
        assert!(std::fs::read(rig.server_path("via.bin")).unwrap() == data, "the uploaded file");
        let dst = dir.path().join("dst.bin");
        rig.ok(Command::Get { remote: "via.bin".into(), local: dst.clone(), resume: false, via_ufs: true });
        assert!(std::fs::read(&dst).unwrap() == data, "the downloaded file");
        assert_eq!(rig.sim.control.files(), vec![], "staged files left");

        let failure = rig
            .run(Command::Get { remote: "nope.bin".into(), local: dst.clone(), resume: false, via_ufs: true })
            .unwrap_err();
        assert_eq!(failure.exit_code(), 5, "{failure}");
        // A small file: the refusal is the point, not another MiB staged.
        let small = dir.path().join("small.bin");
        std::fs::write(&small, &data[..4096]).unwrap();
        let bad = Command::Put { local: small, remote: "no/such/dir/x.bin".into(), resume: false, via_ufs: true };
        assert_eq!(rig.run(bad).unwrap_err().exit_code(), 5);
        assert_eq!(rig.sim.control.files(), vec![], "staged files left after failures");
        assert!(std::fs::read(&dst).unwrap() == data, "a failed get leaves LOCAL as it was");
    });
}

/// `--tls explicit --ca-cert`: the CA that issued the server's certificate
/// lets the session open; another CA fails the login (status 4).
#[test]
fn ca_cert_verifies_the_server() {
    bounded(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let mut rig = Rig::start(Tls::Explicit, SimConfig::default());
        let other = quectel_ftp_sim::TestServer::start().unwrap();
        let wrong = dir.path().join("wrong.pem");
        std::fs::write(&wrong, other.ca_pem()).unwrap();
        rig.cfg.ca_cert = Some(wrong);
        let failure = rig.run(Command::Pwd).unwrap_err();
        assert_eq!(failure.exit_code(), 4, "{failure}");
        let right = dir.path().join("right.pem");
        std::fs::write(&right, rig.sim.server.ca_pem()).unwrap();
        rig.cfg.ca_cert = Some(right);
        assert!(!rig.ok(Command::Pwd).is_empty());
    });
}
