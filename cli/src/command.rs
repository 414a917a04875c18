//! The commands: one driver call each (the demo a few), with their output.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use embedded_io_async::{Read, Write};
use quectel_ftp::{Ftp, FtpState, Listing, Transfer};

use crate::console::{rate, Console};
use crate::io::StdIo;
use crate::session::{Failure, SessionConfig, Step};

/// What to do once logged in.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Upload a local file.
    Put {
        /// The local file.
        local: PathBuf,
        /// The remote name.
        remote: String,
    },
    /// Download a remote file (written to LOCAL only when complete).
    Get {
        /// The remote name.
        remote: String,
        /// The local file.
        local: PathBuf,
    },
    /// Print the server's long listing of a directory.
    Ls {
        /// The directory (default: the current one).
        dir: Option<String>,
    },
    /// Print the names in a directory.
    Nlst {
        /// The directory (default: the current one).
        dir: Option<String>,
    },
    /// Print the RFC 3659 facts of a directory's entries.
    Mlsd {
        /// The directory (default: the current one).
        dir: Option<String>,
    },
    /// Print a remote file's size in bytes.
    Size {
        /// The remote name.
        remote: String,
    },
    /// Print a remote file's modification time.
    Mdtm {
        /// The remote name.
        remote: String,
    },
    /// Print the current directory.
    Pwd,
    /// Print the module's FTP state.
    Stat,
    /// Delete a remote file.
    Rm {
        /// The remote name.
        remote: String,
    },
    /// Create a remote directory.
    Mkdir {
        /// The directory.
        dir: String,
    },
    /// Remove a remote directory.
    Rmdir {
        /// The directory.
        dir: String,
    },
    /// Rename a remote file or directory.
    Mv {
        /// The current name.
        old: String,
        /// The new name.
        new: String,
    },
    /// Upload, list, download and verify a generated file with hostile
    /// content, and report sizes and timings.
    Demo,
}

impl Command {
    /// The command's name, as it appears in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Put { .. } => "put",
            Command::Get { .. } => "get",
            Command::Ls { .. } => "ls",
            Command::Nlst { .. } => "nlst",
            Command::Mlsd { .. } => "mlsd",
            Command::Size { .. } => "size",
            Command::Mdtm { .. } => "mdtm",
            Command::Pwd => "pwd",
            Command::Stat => "stat",
            Command::Rm { .. } => "rm",
            Command::Mkdir { .. } => "mkdir",
            Command::Rmdir { .. } => "rmdir",
            Command::Mv { .. } => "mv",
            Command::Demo => "demo",
        }
    }

    /// Checks local files before any session is opened, so that a missing
    /// upload source fails at once.
    pub fn check_local(&self) -> Result<(), Failure> {
        if let Command::Put { local, .. } = self {
            File::open(local).map_err(|e| Failure::local("put", local, e))?;
        }
        Ok(())
    }

    /// Runs the command in an open session.
    pub async fn execute<U: Read + Write>(
        &self,
        ftp: &mut Ftp<'_, U>,
        cfg: &SessionConfig,
        console: &mut Console<'_>,
    ) -> Result<(), Failure> {
        let step = self.name();
        let print = |console: &mut Console<'_>, text: &dyn std::fmt::Display| {
            writeln!(console.out, "{text}").map_err(|e| Failure::local(step, "stdout", e))
        };
        match self {
            Command::Put { local, remote } => put(ftp, local, remote, console).await,
            Command::Get { remote, local } => get(ftp, remote, local, console).await,
            Command::Ls { dir } => list(ftp, Listing::List, dir, console).await,
            Command::Nlst { dir } => list(ftp, Listing::Nlst, dir, console).await,
            Command::Mlsd { dir } => list(ftp, Listing::Mlsd, dir, console).await,
            Command::Size { remote } => {
                let size = ftp.size(remote).await.step(step)?;
                print(console, &size)
            }
            Command::Mdtm { remote } => {
                let time = ftp.mdtm(remote).await.step(step)?;
                print(console, &time)
            }
            Command::Pwd => {
                let mut buf = [0u8; 256];
                let path = ftp.pwd(&mut buf).await.step(step)?;
                print(console, &path)
            }
            Command::Stat => {
                let state = ftp.stat().await.step(step)?;
                print(console, &state_name(state))
            }
            Command::Rm { remote } => ftp.delete(remote).await.step(step),
            Command::Mkdir { dir } => ftp.mkdir(dir).await.step(step),
            Command::Rmdir { dir } => ftp.rmdir(dir).await.step(step),
            Command::Mv { old, new } => ftp.rename(old, new).await.step(step),
            Command::Demo => crate::demo::run(ftp, cfg, console).await,
        }
    }
}

/// `AT+QFTPSTAT`'s state in words.
fn state_name(state: FtpState) -> String {
    match state {
        FtpState::Opening => "opening".into(),
        FtpState::Idle => "idle".into(),
        FtpState::Transferring => "transferring".into(),
        FtpState::Closing => "closing".into(),
        FtpState::Closed => "closed".into(),
        FtpState::Other(n) => format!("state {n}"),
    }
}

async fn put<U: Read + Write>(
    ftp: &mut Ftp<'_, U>,
    local: &Path,
    remote: &str,
    console: &mut Console<'_>,
) -> Result<(), Failure> {
    let file = File::open(local).map_err(|e| Failure::local("put", local, e))?;
    let len = file.metadata().map(|m| m.len()).ok();
    let mut src = StdIo(BufReader::new(file));
    let bar = console.bar(len, remote);
    let started = Instant::now();
    let moved = ftp.put(remote, &mut src, Transfer::default(), &mut |n| bar.set_position(n)).await;
    bar.finish_and_clear();
    let moved = moved.step("put")?;
    let summary = format!("put {} -> {remote}: {}", local.display(), rate(moved, started.elapsed()));
    writeln!(console.err, "{summary}").map_err(|e| Failure::local("put", "stderr", e))
}

async fn get<U: Read + Write>(
    ftp: &mut Ftp<'_, U>,
    remote: &str,
    local: &Path,
    console: &mut Console<'_>,
) -> Result<(), Failure> {
    // Downloads go to a sibling file that replaces `local` only when complete.
    let mut part = local.as_os_str().to_owned();
    part.push(".qftp-part");
    let part = PathBuf::from(part);
    let file = File::create(&part).map_err(|e| Failure::local("get", &part, e))?;
    let mut sink = StdIo(BufWriter::new(file));
    let len = if console.progress { ftp.size(remote).await.ok() } else { None };
    let bar = console.bar(len, remote);
    let started = Instant::now();
    let moved = ftp.get(remote, &mut sink, Transfer::default(), &mut |n| bar.set_position(n)).await;
    bar.finish_and_clear();
    let finished = match moved {
        Ok(moved) => sink.0.flush().map(|()| moved).map_err(|e| Failure::local("get", &part, e)),
        Err(e) => Err(Failure::modem("get", e)),
    };
    drop(sink);
    let moved = match finished
        .and_then(|moved| fs::rename(&part, local).map(|()| moved).map_err(|e| Failure::local("get", local, e)))
    {
        Ok(moved) => moved,
        Err(failure) => {
            let _ = fs::remove_file(&part);
            return Err(failure);
        }
    };
    let summary = format!("get {remote} -> {}: {}", local.display(), rate(moved, started.elapsed()));
    writeln!(console.err, "{summary}").map_err(|e| Failure::local("get", "stderr", e))
}

async fn list<U: Read + Write>(
    ftp: &mut Ftp<'_, U>,
    kind: Listing,
    dir: &Option<String>,
    console: &mut Console<'_>,
) -> Result<(), Failure> {
    let step = match kind {
        Listing::List => "ls",
        Listing::Nlst => "nlst",
        Listing::Mlsd => "mlsd",
    };
    let mut out = StdIo(&mut *console.out);
    ftp.list(kind, dir.as_deref().unwrap_or("."), &mut out).await.step(step)?;
    out.0.flush().map_err(|e| Failure::local(step, "stdout", e))
}
