//! The driver's file store operations (issue 16) through the simulated
//! module and the real FTP(S) server: store and forward both ways with a
//! hostile MiB, nothing left staged, a checksum that catches a byte the
//! UART doubled, the ACK mode, `AT+QFREAD`, and FTPS that verifies the
//! server against the CA the client installed.

use std::fs;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use embassy_time::Timer;

use quectel_ftp::{
    CmeError, Error, FileError, Ftp, FtpConfig, PdpConfig, SslConfig, SslType, Staging, Transfer, UfsUpload,
};
use quectel_ftp_sim::{pair, Faults, SimConfig, SimControl, SimPort, TestServer, PASSWORD, USER};

mod common;
use common::{hostile_of_len, start_wall_clock, Sink};

/// A client of a fresh simulated module, and the module's control handle.
fn session(buf: &mut [u8]) -> (Ftp<'_, SimPort>, SimControl) {
    start_wall_clock();
    let (port, control) = pair(SimConfig::default());
    (Ftp::new(port, buf).unwrap(), control)
}

/// Brings the module up and configures the session (FTPS with `ssl`,
/// verifying the server).
async fn log_in(ftp: &mut Ftp<'_, SimPort>, ssl: SslType) -> Result<(), Error> {
    ftp.init_fresh().await?;
    ftp.activate(&PdpConfig::default()).await?;
    let config = FtpConfig { user: USER, password: PASSWORD, rsp_timeout_s: 20, ssl, ..Default::default() };
    ftp.configure(&config, Some(&SslConfig { seclevel: u8::from(ssl != SslType::None), ..SslConfig::DEFAULT })).await?;
    Ok(())
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T, Error>>) -> T {
    futures_executor::block_on(f).map_err(|e| format!("{e:?}")).unwrap()
}

#[test]
fn store_and_forward_a_hostile_mib_both_ways_and_nothing_stays_staged() {
    let server = TestServer::start().unwrap();
    let data = hostile_of_len(1 << 20);
    fs::write(server.root().join("down.bin"), &data).unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let (mut ftp, control) = session(&mut buf);
    let mut sink = Sink::default();
    block_on(async {
        log_in(&mut ftp, SslType::None).await?;
        ftp.open("127.0.0.1", server.port()).await?;
        let staging = Staging::new("stage.bin");
        let up = ftp.put_via_ufs("up.bin", &mut &data[..], data.len() as u64, &staging, Transfer::default()).await?;
        assert_eq!(up, 1 << 20);
        let down = ftp.get_via_ufs("down.bin", &mut sink, &staging, Transfer::default()).await?;
        assert_eq!(down, 1 << 20);
        ftp.close().await
    });
    assert!(fs::read(server.root().join("up.bin")).unwrap() == data, "the uploaded file");
    assert!(sink.0 == data, "the downloaded file");
    assert_eq!(control.files(), vec![], "nothing staged is left");
}

#[test]
fn a_failed_transfer_leaves_nothing_staged() {
    let server = TestServer::start().unwrap();
    let mut buf = vec![0u8; 4096];
    let (mut ftp, control) = session(&mut buf);
    block_on(async {
        log_in(&mut ftp, SslType::None).await?;
        ftp.open("127.0.0.1", server.port()).await?;
        let staging = Staging::new("stage.bin");
        let r = ftp.get_via_ufs("no such file", &mut Sink::default(), &staging, Transfer::default()).await;
        assert!(matches!(r, Err(Error::Ftp { .. })), "{r:?}");
        let r = ftp.put_via_ufs("no/such/dir/up.bin", &mut &b"abc"[..], 3, &staging, Transfer::default()).await;
        assert!(matches!(r, Err(Error::Ftp { .. })), "{r:?}");
        ftp.close().await
    });
    assert_eq!(control.files(), vec![]);
}

/// A byte the UART doubles on its way from the module: the payload's
/// length still matches, its checksum does not.
#[test]
fn a_doubled_byte_in_a_file_read_back_is_caught_by_the_checksum() {
    let mut buf = vec![0u8; 4096];
    let (mut ftp, control) = session(&mut buf);
    let data = hostile_of_len(5000);
    control.set_ufs_file("f.bin", &data);
    block_on(async {
        ftp.init_fresh().await?;
        assert_eq!(ftp.ufs_size("f.bin").await?, Some(5000));
        // `AT+QFDWL`'s `\r\nCONNECT\r\n` is 11 bytes; then the data.
        control.duplicate_byte_in(11 + 2000);
        let r = ftp.ufs_download("f.bin", &mut Sink::default(), Transfer::default()).await;
        assert!(matches!(r, Err(Error::Checksum { .. })), "{r:?}");
        // The client is in step again at once.
        let mut back = Sink::default();
        assert_eq!(ftp.ufs_download("f.bin", &mut back, Transfer::default()).await?, 5000);
        assert!(back.0 == data);
        Ok(())
    });
}

#[test]
fn ack_mode_upload_and_counted_reads() {
    let mut buf = vec![0u8; 1500];
    let (mut ftp, control) = session(&mut buf);
    let data = hostile_of_len(10_000);
    let mut read = Sink::default();
    block_on(async {
        ftp.init_fresh().await?;
        let how = UfsUpload { timeout_s: 5, ack: true };
        ftp.ufs_upload("a.bin", &mut &data[..], data.len() as u64, how, Transfer::default()).await?;
        let r = ftp.ufs_upload("a.bin", &mut &data[..], 1, how, Transfer::default()).await;
        assert_eq!(r.map_err(|e| matches!(e, Error::Cme(c) if c.file() == Some(FileError::AlreadyExists))), Err(true));
        let n = ftp.ufs_read("a.bin", &mut read, Transfer { chunk: 3000, ..Transfer::default() }).await?;
        assert_eq!(n, 10_000);
        let space = ftp.ufs_space().await?;
        assert!(space.free < space.total && space.total > 0, "{space:?}");
        ftp.ufs_delete("a.bin").await?;
        assert_eq!(ftp.ufs_delete("a.bin").await, Err(Error::Cme(CmeError::Code(405))));
        Ok(())
    });
    assert!(control.ufs_file("a.bin").is_none());
    assert!(read.0 == data);
}

/// FTPS that verifies the server: the CA that issued its certificate,
/// installed by the client, lets the session open; another CA does not.
#[test]
fn ftps_opens_with_the_right_ca_and_not_with_another() {
    let server = TestServer::start().unwrap();
    let other = TestServer::start().unwrap();
    let mut buf = vec![0u8; 4096];
    let (mut ftp, _control) = session(&mut buf);
    block_on(async {
        log_in(&mut ftp, SslType::Explicit).await?;
        let wrong = other.ca_pem().as_bytes();
        ftp.install_ca("ca.pem", &mut &wrong[..], wrong.len() as u64, 0).await?;
        let r = ftp.open("127.0.0.1", server.port()).await;
        assert!(matches!(r, Err(Error::Ftp { module, .. }) if module.code() == 631), "{r:?}");
        let right = server.ca_pem().as_bytes();
        ftp.install_ca("ca.pem", &mut &right[..], right.len() as u64, 0).await?;
        ftp.open("127.0.0.1", server.port()).await?;
        assert!(ftp.size("missing").await.is_err());
        ftp.close().await
    });
}

/// A file read dropped midway stays open on the module (reading it again
/// answers `+CME ERROR: 426`, deleting it 418) until the client's next
/// call closes it: then it reads whole and deletes.
#[test]
fn a_read_dropped_midway_leaves_no_file_open() {
    start_wall_clock();
    // At 115200 baud the file takes 1.7 s to read.
    let (port, control) =
        pair(SimConfig { faults: Faults { baud: Some(115_200), ..Faults::default() }, ..SimConfig::default() });
    let mut buf = vec![0u8; 1500];
    let mut ftp = Ftp::new(port, &mut buf).unwrap();
    let data = hostile_of_len(20_000);
    control.set_ufs_file("a.bin", &data);
    block_on(ftp.init_fresh());
    let opts = || Transfer { chunk: 15_000, ..Transfer::default() };
    // Dropped once part of the first piece has come.
    let mut part = Sink::default();
    let outcome = futures_executor::block_on(async {
        let mut read = pin!(ftp.ufs_read("a.bin", &mut part, opts()));
        let mut stop = pin!(Timer::after_millis(300));
        poll_fn(|cx| match read.as_mut().poll(cx) {
            Poll::Ready(r) => Poll::Ready(Some(r)),
            Poll::Pending => stop.as_mut().poll(cx).map(|()| None),
        })
        .await
    });
    assert!(outcome.is_none(), "the read ended before it was dropped: {outcome:?}");
    let mut whole = Sink::default();
    block_on(async {
        assert_eq!(ftp.ufs_read("a.bin", &mut whole, opts()).await, Ok(20_000));
        ftp.ufs_delete("a.bin").await
    });
    assert!(whole.0 == data, "the file read again");
    assert!(control.ufs_file("a.bin").is_none(), "deleted");
}
