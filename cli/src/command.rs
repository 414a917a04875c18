//! The commands: one driver call each (the demo a few), with their output.

use std::cell::Cell;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use embedded_io_async::{Read, Write};
use quectel_ftp::{Error, Ftp, FtpReply, FtpState, Listing, Transfer};

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
        /// Continue an upload that stopped part-way: start at the remote
        /// file's size (the local file's first bytes are taken to be there).
        #[arg(long)]
        resume: bool,
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

    /// Runs the command in an open session; a transfer keeps `progress`
    /// up to date.
    pub async fn execute<U: Read + Write>(
        &self,
        ftp: &mut Ftp<'_, U>,
        cfg: &SessionConfig,
        console: &mut Console<'_>,
        progress: &Progress,
    ) -> Result<(), Failure> {
        let step = self.name();
        let print = |console: &mut Console<'_>, text: &dyn std::fmt::Display| {
            writeln!(console.out, "{text}").map_err(|e| Failure::local(step, "stdout", e))
        };
        match self {
            Command::Put { local, remote, resume } => put(ftp, local, remote, *resume, console, progress).await,
            Command::Get { remote, local } => get(ftp, remote, local, console, progress).await,
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

    /// What an interrupt stopped, in words: how far a transfer got and,
    /// for an upload, the command that resumes it.
    pub fn interrupted(&self, progress: &Progress) -> String {
        let how_far = match progress.total.get() {
            Some(total) => format!("after {} of {total} bytes", progress.moved.get()),
            None => format!("after {} bytes", progress.moved.get()),
        };
        match self {
            Command::Put { local, remote, .. } if progress.started.get() => format!(
                "interrupted {how_far}; resume with: qftp [options] put --resume {} {}",
                shell_word(&local.to_string_lossy()),
                shell_word(remote)
            ),
            Command::Get { local, .. } if progress.started.get() => {
                format!("interrupted {how_far}; {} not written", local.display())
            }
            _ => "interrupted".to_owned(),
        }
    }
}

/// How far the command's transfer got. It lives outside the command's
/// future, so it still tells after an interrupt has dropped that future.
#[derive(Debug, Default)]
pub struct Progress {
    /// The transfer has started.
    pub started: Cell<bool>,
    /// Bytes of the file moved, counting a resumed upload's start offset:
    /// for an upload, what the module has confirmed.
    pub moved: Cell<u64>,
    /// The file's length, if known.
    pub total: Cell<Option<u64>>,
}

impl Progress {
    fn begin(&self, moved: u64, total: Option<u64>) {
        self.started.set(true);
        self.moved.set(moved);
        self.total.set(total);
    }
}

/// `text` as one word for a POSIX shell: as it is if that is safe, else in
/// single quotes.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
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
    resume: bool,
    console: &mut Console<'_>,
    progress: &Progress,
) -> Result<(), Failure> {
    let mut file = File::open(local).map_err(|e| Failure::local("put", local, e))?;
    let len = file.metadata().map(|m| m.len()).ok();
    let start = if resume { remote_size(ftp, remote).await? } else { 0 };
    let mut summary = format!("put {} -> {remote}: ", local.display());
    if start > 0 {
        if len.is_some_and(|len| start > len) {
            let text = format!("{remote} has {start} bytes, more than {}", local.display());
            return Err(Failure::other("put", text));
        }
        if len == Some(start) {
            summary.push_str(&format!("already complete ({start} bytes)"));
            return writeln!(console.err, "{summary}").map_err(|e| Failure::local("put", "stderr", e));
        }
        file.seek(SeekFrom::Start(start)).map_err(|e| Failure::local("put", local, e))?;
    }
    let mut src = StdIo(BufReader::new(file));
    let bar = console.bar(len, remote);
    bar.set_position(start);
    progress.begin(start, len);
    let started = Instant::now();
    let mut report = |n| {
        bar.set_position(start + n);
        progress.moved.set(start + n);
    };
    let opts = Transfer { start, ..Transfer::default() }.with_progress(&mut report);
    let moved = ftp.put(remote, &mut src, opts).await;
    bar.finish_and_clear();
    let moved = moved.step("put")?;
    summary.push_str(&rate(moved, started.elapsed()));
    if start > 0 {
        summary.push_str(&format!(", resumed at byte {start}"));
    }
    writeln!(console.err, "{summary}").map_err(|e| Failure::local("put", "stderr", e))
}

/// The size of `remote`, 0 if it does not exist.
async fn remote_size<U: Read + Write>(ftp: &mut Ftp<'_, U>, remote: &str) -> Result<u64, Failure> {
    match ftp.size(remote).await {
        Err(Error::Ftp { reply: Some(FtpReply::FileUnavailable), .. }) => Ok(0),
        other => other.step("put"),
    }
}

async fn get<U: Read + Write>(
    ftp: &mut Ftp<'_, U>,
    remote: &str,
    local: &Path,
    console: &mut Console<'_>,
    progress: &Progress,
) -> Result<(), Failure> {
    // A regular file (or a new one) is replaced only when the download is
    // complete: it goes to a sibling file, which goes away however the
    // download ends, an interrupt too. Anything else named LOCAL (a device,
    // a pipe, a symbolic link) is written into, never replaced; `-` is
    // standard output.
    let (target, part) = download_target(local).map_err(|e| Failure::local("get", local, e))?;
    let mut sink: StdIo<Box<dyn std::io::Write>> = StdIo(target);
    let len = if console.progress { ftp.size(remote).await.ok() } else { None };
    let bar = console.bar(len, remote);
    progress.begin(0, len);
    let started = Instant::now();
    let mut report = |n| {
        bar.set_position(n);
        progress.moved.set(n);
    };
    let moved = ftp.get(remote, &mut sink, Transfer::default().with_progress(&mut report)).await;
    bar.finish_and_clear();
    let moved = moved.step("get")?;
    sink.0.flush().map_err(|e| Failure::local("get", local, e))?;
    drop(sink);
    if let Some(part) = &part {
        fs::rename(&part.0, local).map_err(|e| Failure::local("get", local, e))?;
    }
    let summary = format!("get {remote} -> {}: {}", local.display(), rate(moved, started.elapsed()));
    writeln!(console.err, "{summary}").map_err(|e| Failure::local("get", "stderr", e))
}

/// Where a download to `local` writes, and the sibling file to rename over
/// `local` at the end, if any (see `get`). A directory is refused before
/// anything is downloaded.
fn download_target(local: &Path) -> std::io::Result<(Box<dyn std::io::Write>, Option<PartFile>)> {
    if local.as_os_str() == "-" {
        return Ok((Box::new(BufWriter::new(std::io::stdout())), None));
    }
    match fs::symlink_metadata(local) {
        Ok(meta) if meta.is_dir() => Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory")),
        Ok(meta) if !meta.is_file() => {
            let file = fs::OpenOptions::new().write(true).open(local)?;
            Ok((Box::new(BufWriter::new(file)), None))
        }
        _ => {
            let part = PartFile::new(local);
            let file = File::create(&part.0)?;
            Ok((Box::new(BufWriter::new(file)), Some(part)))
        }
    }
}

/// The sibling file a download goes to (`<local>.qftp-part`), removed
/// when dropped unless it has been renamed.
struct PartFile(PathBuf);

impl PartFile {
    fn new(local: &Path) -> Self {
        let mut part = local.as_os_str().to_owned();
        part.push(".qftp-part");
        PartFile(PathBuf::from(part))
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
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
