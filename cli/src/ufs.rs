//! The module's file store (UFS) from the command line: `qftp ufs ...`,
//! `put`/`get --via-ufs` and the CA certificate of `--ca-cert`.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Instant;

use embedded_io_async::{Read, Write};
use quectel_ftp::{Dtr, Ftp, Staging, Transfer, UfsUpload};

use crate::command::Download;
use crate::console::{rate, Console};
use crate::io::LocalFile;
use crate::session::{Failure, Step};

/// The name `--via-ufs` stages a file under on the module.
pub const STAGING: &str = "qftp-stage.bin";
/// The name `--ca-cert` installs the CA certificate under.
pub const CA_FILE: &str = "qftp-ca.pem";
/// How long the module's own FTP transfer of a staged file may take.
const WITHIN_S: u32 = 3600;

/// What to do with the module's file store (none of it needs an FTP
/// session).
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum UfsCommand {
    /// Print name and size of the files whose names match PATTERN.
    Ls {
        /// `*` any run of characters, `?` any one (default: `*`, all of
        /// UFS; `RAM:*` the RAM's files).
        pattern: Option<String>,
    },
    /// Print the store's free and total bytes.
    Df,
    /// Upload a local file into the store (AT+QFUPL, checksum checked).
    Put {
        /// The local file.
        local: PathBuf,
        /// The name on the module (at most 80 bytes; `RAM:` for its RAM).
        name: String,
        /// ACK mode: the module acknowledges each KiB (for UARTs without
        /// hardware flow control).
        #[arg(long)]
        ack: bool,
    },
    /// Download a file of the store (AT+QFDWL, checksum checked); written
    /// to LOCAL only when complete.
    Get {
        /// The name on the module.
        name: String,
        /// The local file.
        local: PathBuf,
    },
    /// Delete a file of the store.
    Rm {
        /// The name on the module (no `*`: the module takes `*` as every
        /// file).
        name: String,
    },
}

impl UfsCommand {
    /// The command's name in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            UfsCommand::Ls { .. } => "ufs ls",
            UfsCommand::Df => "ufs df",
            UfsCommand::Put { .. } => "ufs put",
            UfsCommand::Get { .. } => "ufs get",
            UfsCommand::Rm { .. } => "ufs rm",
        }
    }

    /// Runs the command on a module that is up (no session needed).
    pub async fn execute<U: Read + Write, D: Dtr>(
        &self,
        ftp: &mut Ftp<'_, U, D>,
        console: &mut Console<'_>,
    ) -> Result<(), Failure> {
        let step = self.name();
        match self {
            UfsCommand::Ls { pattern } => {
                let mut lines = Vec::new();
                let pattern = pattern.as_deref().unwrap_or("*");
                ftp.ufs_list(pattern, |name, size| lines.push(format!("{}\t{size}", String::from_utf8_lossy(name))))
                    .await
                    .step(step)?;
                for line in lines {
                    writeln!(console.out, "{line}").map_err(|e| Failure::local(step, "stdout", e))?;
                }
                Ok(())
            }
            UfsCommand::Df => {
                let space = ftp.ufs_space().await.step(step)?;
                writeln!(console.out, "free {} total {}", space.free, space.total)
                    .map_err(|e| Failure::local(step, "stdout", e))
            }
            UfsCommand::Put { local, name, ack } => {
                let how = UfsUpload { ack: *ack, ..UfsUpload::default() };
                let (mut src, len) = open_source(step, local)?;
                let bar = console.bar(Some(len), name);
                let started = Instant::now();
                let mut report = |n| bar.set_position(n);
                let r = ftp.ufs_upload(name, &mut src, len, how, Transfer::default().with_progress(&mut report)).await;
                bar.finish_and_clear();
                r.map_err(|e| src.failure(step, local, e))?;
                summary(console, step, &format!("{} -> UFS {name}", local.display()), len, started)
            }
            UfsCommand::Get { name, local } => {
                let mut download = Download::open(local, false)?;
                let bar = console.bar(None, name);
                let started = Instant::now();
                let mut report = |n| bar.set_position(n);
                let r =
                    ftp.ufs_download(name, &mut download.sink, Transfer::default().with_progress(&mut report)).await;
                bar.finish_and_clear();
                r.map_err(|e| download.sink.failure(step, local, e))?;
                let n = download.finish(step, local)?;
                summary(console, step, &format!("UFS {name} -> {}", local.display()), n, started)
            }
            // `AT+QFDEL="*"` deletes every file of the store (`RAM:*` every
            // file of the RAM): not what "delete a file" asks for.
            UfsCommand::Rm { name } if name.contains('*') => {
                Err(Failure::usage(format!("ufs rm deletes one file, and the module takes `*` as every file: {name}")))
            }
            UfsCommand::Rm { name } => ftp.ufs_delete(name).await.step(step),
        }
    }
}

/// `put --via-ufs`: stage the file on the module, have the module upload
/// it, delete it (also after a failure).
pub async fn put_via_ufs<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    local: &Path,
    remote: &str,
    console: &mut Console<'_>,
) -> Result<(), Failure> {
    let (mut src, len) = open_source("put", local)?;
    let bar = console.bar(Some(len), &format!("{remote} (staging on the module)"));
    let started = Instant::now();
    let mut report = |n| bar.set_position(n);
    let staging = Staging { within_s: WITHIN_S, ..Staging::new(STAGING) };
    let r = ftp.put_via_ufs(remote, &mut src, len, &staging, Transfer::default().with_progress(&mut report)).await;
    bar.finish_and_clear();
    r.map_err(|e| src.failure("put", local, e))?;
    summary(console, "put", &format!("{} -> {remote} via UFS", local.display()), len, started)
}

/// `get --via-ufs`: have the module download the file into its store, read
/// it back, delete it (also after a failure). LOCAL is written only when
/// complete.
pub async fn get_via_ufs<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    remote: &str,
    local: &Path,
    console: &mut Console<'_>,
) -> Result<(), Failure> {
    let mut download = Download::open(local, false)?;
    let bar = console.bar(None, &format!("{remote} (reading back from the module)"));
    let started = Instant::now();
    let mut report = |n| bar.set_position(n);
    let staging = Staging { within_s: WITHIN_S, ..Staging::new(STAGING) };
    let r = ftp.get_via_ufs(remote, &mut download.sink, &staging, Transfer::default().with_progress(&mut report)).await;
    bar.finish_and_clear();
    r.map_err(|e| download.sink.failure("get", local, e))?;
    let n = download.finish("get", local)?;
    summary(console, "get", &format!("{remote} -> {} via UFS", local.display()), n, started)
}

/// `--ca-cert`: installs the PEM file as the CA that the server's
/// certificate is verified against (`seclevel` 1) on SSL context `ctx`.
pub async fn install_ca<U: Read + Write, D: Dtr>(ftp: &mut Ftp<'_, U, D>, pem: &Path, ctx: u8) -> Result<(), Failure> {
    let (mut src, len) = open_source("ca-cert", pem)?;
    let r = ftp.install_ca(CA_FILE, &mut src, len, ctx).await;
    r.map_err(|e| src.failure("ca-cert", pem, e))
}

/// A local file to upload, and its length.
fn open_source(step: &'static str, local: &Path) -> Result<(LocalFile<BufReader<File>>, u64), Failure> {
    let file = File::open(local).map_err(|e| Failure::local(step, local, e))?;
    let len = file.metadata().map_err(|e| Failure::local(step, local, e))?.len();
    Ok((LocalFile::new(BufReader::new(file)), len))
}

fn summary(console: &mut Console<'_>, step: &'static str, what: &str, n: u64, started: Instant) -> Result<(), Failure> {
    writeln!(console.err, "{step} {what}: {}", rate(n, started.elapsed()))
        .map_err(|e| Failure::local(step, "stderr", e))
}
