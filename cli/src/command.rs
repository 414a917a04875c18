//! The commands: one driver call each (the demo a few), with their output.

use std::cell::Cell;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use embassy_time::{Duration, Timer};
use embedded_io_async::{Read, Write};
use quectel_ftp::listing::{Entry, Kind};
use quectel_ftp::{Dtr, Error, Ftp, FtpReply, FtpState, Listing, ModifyTime, Transfer};

use crate::console::{rate, Console};
use crate::io::{LocalFile, StdIo};
use crate::session::{open_session, Failure, SessionConfig, Step};
use crate::ufs::UfsCommand;
use indicatif::ProgressBar;

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
        /// file's size (the local file's first bytes are taken to be
        /// there); the sizes are compared at the end.
        #[arg(long = "continue", alias = "resume")]
        resume: bool,
        /// Store and forward: stage the file on the module's file store,
        /// let the module upload it (the UART is free meanwhile), delete it.
        #[arg(long, conflicts_with = "resume")]
        via_ufs: bool,
    },
    /// Download a remote file (written to LOCAL only when complete, unless
    /// --continue).
    Get {
        /// The remote name.
        remote: String,
        /// The local file (`-`: standard output).
        local: PathBuf,
        /// Continue a download that stopped part-way: start at LOCAL's
        /// length and append to LOCAL (the remote file's first bytes are
        /// taken to be there); the sizes are compared at the end.
        #[arg(long = "continue")]
        resume: bool,
        /// Store and forward: let the module download the file into its
        /// file store, read it back, delete it.
        #[arg(long, conflicts_with = "resume")]
        via_ufs: bool,
    },
    /// Print the server's long listing of a directory.
    Ls {
        /// The directory (default: the current one).
        dir: Option<String>,
        /// One JSON object a line per entry: name, kind, size, modified.
        #[arg(long)]
        json: bool,
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
        /// One JSON object a line per entry: name, kind, size, modified.
        #[arg(long)]
        json: bool,
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
    /// The module's file store (UFS): no FTP session needed.
    Ufs {
        /// What to do.
        #[command(subcommand)]
        op: UfsCommand,
    },
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
            Command::Ufs { op } => op.name(),
        }
    }

    /// Whether the command needs an FTP session (the file store's do not:
    /// they need the module only).
    pub fn needs_session(&self) -> bool {
        !matches!(self, Command::Ufs { .. })
    }

    /// Checks local files before any session is opened, so that a missing
    /// upload source (or a directory given as one) fails at once.
    pub fn check_local(&self) -> Result<(), Failure> {
        let readable = |step, local: &Path| {
            let fail = |e| Failure::local(step, local, e);
            let file = File::open(local).map_err(fail)?;
            match file.metadata().map_err(fail)?.is_dir() {
                true => Err(fail(std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"))),
                false => Ok(()),
            }
        };
        match self {
            Command::Put { local, .. } => readable("put", local),
            Command::Ufs { op: UfsCommand::Put { local, .. } } => readable("ufs put", local),
            _ => Ok(()),
        }
    }

    /// Runs the command in an open session; a transfer keeps `progress`
    /// up to date.
    pub async fn execute<U: Read + Write, D: Dtr>(
        &self,
        ftp: &mut Ftp<'_, U, D>,
        cfg: &SessionConfig,
        console: &mut Console<'_>,
        progress: &Progress,
    ) -> Result<(), Failure> {
        let step = self.name();
        let print = |console: &mut Console<'_>, text: &dyn std::fmt::Display| {
            writeln!(console.out, "{text}").map_err(|e| Failure::local(step, "stdout", e))
        };
        match self {
            Command::Put { local, remote, via_ufs: true, .. } => {
                crate::ufs::put_via_ufs(ftp, local, remote, console).await
            }
            Command::Get { remote, local, via_ufs: true, .. } => {
                crate::ufs::get_via_ufs(ftp, remote, local, console).await
            }
            Command::Put { local, remote, resume, .. } => {
                put(ftp, cfg, local, remote, *resume, console, progress).await
            }
            Command::Get { remote, local, resume, .. } => {
                get(ftp, cfg, remote, local, *resume, console, progress).await
            }
            Command::Ls { dir, json: false } => list(ftp, Listing::List, dir, console).await,
            Command::Ls { dir, json: true } => list_json(ftp, Listing::List, dir, console).await,
            Command::Nlst { dir } => list(ftp, Listing::Nlst, dir, console).await,
            Command::Mlsd { dir, json: false } => list(ftp, Listing::Mlsd, dir, console).await,
            Command::Mlsd { dir, json: true } => list_json(ftp, Listing::Mlsd, dir, console).await,
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
            Command::Ufs { op } => op.execute(ftp, console).await,
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
                "interrupted {how_far}; resume with: qftp [options] put --continue {} {}",
                shell_word(&local.to_string_lossy()),
                shell_word(remote)
            ),
            Command::Get { remote, local, resume: true, .. } if progress.started.get() => format!(
                "interrupted {how_far}; resume with: qftp [options] get --continue {} {}",
                shell_word(remote),
                shell_word(&local.to_string_lossy())
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

/// How long to wait before retry `n` (from 1): 1 s, 2 s, 4 s ... at most 30 s.
pub fn backoff(n: u32) -> Duration {
    let secs = 1u64 << n.saturating_sub(1).min(5);
    Duration::from_secs(secs.min(MAX_BACKOFF_S))
}

/// The longest wait between two tries of a transfer, in seconds.
const MAX_BACKOFF_S: u64 = 30;

/// After a transfer failed with `failure`: if it failed in the network
/// ([`Failure::is_transient`]) and `cfg.retries` allows another try,
/// closes the session, waits ([`backoff`]) and opens a new one (a new
/// session that fails in the network costs a try too) and returns `Ok`
/// for the caller to go on from where the transfer stopped; otherwise
/// gives `failure` back. `tries` counts the retries so far.
async fn retry<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    cfg: &SessionConfig,
    console: &mut Console<'_>,
    mut failure: Failure,
    tries: &mut u32,
) -> Result<(), Failure> {
    loop {
        if !failure.is_transient() || *tries >= cfg.retries {
            return Err(failure);
        }
        *tries += 1;
        let wait = backoff(*tries);
        let note = format!("qftp: {failure}; retry {} of {} in {} s", *tries, cfg.retries, wait.as_secs());
        writeln!(console.err, "{note}").map_err(|e| Failure::local(failure.step, "stderr", e))?;
        // Best effort: the new session starts from a closed one.
        let _ = ftp.close().await;
        Timer::after(wait).await;
        match open_session(ftp, cfg).await {
            Ok(()) => return Ok(()),
            Err(again) => failure = again,
        }
    }
}

/// After a resumed transfer (`--continue`, or a retry): the remote file's
/// size must be the local file's length. A server without SIZE (reply 502
/// or 500) cannot be checked.
async fn check_size<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    step: &'static str,
    remote: &str,
    local: &Path,
    local_len: u64,
) -> Result<(), Failure> {
    match ftp.size(remote).await {
        Ok(size) if size == local_len => Ok(()),
        Ok(size) => {
            let local = local.display();
            Err(Failure::other(step, format!("sizes differ: {remote} has {size} bytes, {local} {local_len}")))
        }
        Err(Error::Ftp { reply: Some(FtpReply::NotImplemented | FtpReply::SyntaxError), .. }) => Ok(()),
        Err(e) => Err(Failure::modem(step, e)),
    }
}

/// `put`, with its retries: a retry goes on from the remote file's size
/// once a try has moved bytes (the remote file then holds a prefix of
/// the local one), else starts again where the first try did.
async fn put<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    cfg: &SessionConfig,
    local: &Path,
    remote: &str,
    resume: bool,
    console: &mut Console<'_>,
    progress: &Progress,
) -> Result<(), Failure> {
    let mut tries = 0;
    loop {
        let from_remote_size = resume || progress.moved.get() > 0;
        match put_once(ftp, local, remote, from_remote_size, tries > 0, console, progress).await {
            Ok(()) => return Ok(()),
            Err(failure) => retry(ftp, cfg, console, failure, &mut tries).await?,
        }
    }
}

/// One try of `put`: from the remote file's size if `from_remote_size`
/// (the sizes are then compared at the end), else from the start.
async fn put_once<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    local: &Path,
    remote: &str,
    from_remote_size: bool,
    retried: bool,
    console: &mut Console<'_>,
    progress: &Progress,
) -> Result<(), Failure> {
    let mut file = File::open(local).map_err(|e| Failure::local("put", local, e))?;
    let len = file.metadata().map_err(|e| Failure::local("put", local, e))?.len();
    let start = if from_remote_size { remote_size(ftp, remote).await? } else { 0 };
    let mut summary = format!("put {} -> {remote}: ", local.display());
    if start > 0 {
        if start > len {
            let text = format!("{remote} has {start} bytes, more than {} ({len})", local.display());
            return Err(Failure::other("put", text));
        }
        if len == start {
            summary.push_str(&format!("already complete ({start} bytes)"));
            return writeln!(console.err, "{summary}").map_err(|e| Failure::local("put", "stderr", e));
        }
        file.seek(SeekFrom::Start(start)).map_err(|e| Failure::local("put", local, e))?;
    }
    let mut src = LocalFile::new(BufReader::new(file));
    let bar = console.bar(Some(len), remote);
    bar.set_position(start);
    progress.begin(start, Some(len));
    let started = Instant::now();
    let mut report = |n| {
        bar.set_position(start + n);
        progress.moved.set(start + n);
    };
    let opts = Transfer { start, ..Transfer::default() }.with_progress(&mut report);
    let moved = ftp.put(remote, &mut src, opts).await;
    bar.finish_and_clear();
    let moved = moved.map_err(|e| src.failure("put", local, e))?;
    if from_remote_size || retried {
        check_size(ftp, "put", remote, local, len).await?;
    }
    summary.push_str(&rate(moved, started.elapsed()));
    if start > 0 {
        summary.push_str(&format!(", resumed at byte {start}"));
    }
    writeln!(console.err, "{summary}").map_err(|e| Failure::local("put", "stderr", e))
}

/// The size of `remote`, 0 if it does not exist.
async fn remote_size<U: Read + Write, D: Dtr>(ftp: &mut Ftp<'_, U, D>, remote: &str) -> Result<u64, Failure> {
    match ftp.size(remote).await {
        Err(Error::Ftp { reply: Some(FtpReply::FileUnavailable), .. }) => Ok(0),
        other => other.step("put"),
    }
}

/// The chunk of a download that may be retried (`--retries`): a point to
/// resume from every 256 KiB (23 s at 115200 baud), at a round trip each.
const RESUME_CHUNK: u32 = 256 * 1024;

/// `get`, with its retries: each try goes on from the end of the last
/// chunk the module confirmed (see [`Download::keep_confirmed`]).
async fn get<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    cfg: &SessionConfig,
    remote: &str,
    local: &Path,
    resume: bool,
    console: &mut Console<'_>,
    progress: &Progress,
) -> Result<(), Failure> {
    let mut download = Download::open(local, resume)?;
    let started = Instant::now();
    let mut tries = 0;
    let last_start = loop {
        let start = download.offset();
        // With retries, the module confirms a chunk at a time: a try goes on
        // from the last one. Without, the file comes in one `AT+QFTPGET`.
        let chunk = if cfg.retries > 0 { RESUME_CHUNK } else { u32::MAX };
        let Err(failure) = get_once(ftp, remote, local, chunk, &mut download, console, progress).await else {
            break start;
        };
        // A stream that got bytes it cannot give back, or a file that
        // cannot be cut: no try can go on.
        if !matches!(download.keep_confirmed(progress.moved.get(), local), Ok(true)) {
            return Err(failure);
        }
        retry(ftp, cfg, console, failure, &mut tries).await?;
    };
    let start = download.start;
    if resume || tries > 0 {
        download.sink.io.flush().map_err(|e| Failure::local("get", local, e))?;
        check_size(ftp, "get", remote, local, start + download.sink.written).await?;
    }
    let moved = download.finish("get", local)?;
    let mut summary = format!("get {remote} -> {}: {}", local.display(), rate(moved, started.elapsed()));
    if last_start > 0 {
        summary.push_str(&format!(", resumed at byte {last_start}"));
    }
    writeln!(console.err, "{summary}").map_err(|e| Failure::local("get", "stderr", e))
}

/// One try of `get`: from the bytes written so far, into the same sink.
/// `progress.moved` ends at the end of the last chunk the module
/// confirmed.
async fn get_once<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    remote: &str,
    local: &Path,
    chunk: u32,
    download: &mut Download,
    console: &mut Console<'_>,
    progress: &Progress,
) -> Result<(), Failure> {
    let start = download.offset();
    let len = if console.progress { ftp.size(remote).await.ok() } else { None };
    let bar = console.bar(len, remote);
    bar.set_position(start);
    progress.begin(start, len);
    let mut report = |n| {
        bar.set_position(start + n);
        progress.moved.set(start + n);
    };
    let opts = Transfer { start, chunk, ..Transfer::default() }.with_progress(&mut report);
    // The driver tells progress per chunk the module confirmed (a point to
    // resume from), and by default the file is one chunk: the bar follows
    // the bytes written instead.
    let base = download.start;
    let mut shown = Shown { sink: &mut download.sink, bar: &bar, base };
    let moved = ftp.get(remote, &mut shown, opts).await;
    bar.finish_and_clear();
    moved.map(drop).map_err(|e| download.sink.failure("get", local, e))
}

/// A download's sink that moves the progress bar at every write.
struct Shown<'a, W> {
    sink: &'a mut LocalFile<W>,
    bar: &'a ProgressBar,
    /// Where the local file began (`--continue`).
    base: u64,
}

impl<W> embedded_io::ErrorType for Shown<'_, W> {
    type Error = std::io::Error;
}

impl<W: std::io::Write> Write for Shown<'_, W> {
    async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.sink.write(buf).await?;
        self.bar.set_position(self.base + self.sink.written);
        Ok(n)
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush().await
    }
}

/// Where a download goes, kept across the tries of `--retries`.
pub(crate) struct Download {
    /// The sink, with the bytes written to it so far.
    pub(crate) sink: LocalFile<Box<dyn std::io::Write>>,
    /// The file behind the sink, if it is a regular file (opened for
    /// appending): a failed try's unconfirmed bytes are cut off it.
    file: Option<File>,
    /// LOCAL's length before this run, where `--continue` starts; else 0.
    start: u64,
    /// The sibling file to rename over LOCAL at the end, if any.
    part: Option<PartFile>,
}

impl Download {
    /// The sink for a download to `local`. Without `resume`, a regular
    /// file (or a new one) is replaced only when the download is complete:
    /// it goes to a sibling file, which goes away however the download
    /// ends, an interrupt too. Anything else named LOCAL (a device, a
    /// pipe, a symbolic link) is written into, never replaced; `-` is
    /// standard output. With `resume`, LOCAL is appended to, from its
    /// length. A directory is refused before anything is downloaded.
    pub(crate) fn open(local: &Path, resume: bool) -> Result<Download, Failure> {
        let fail = |e| Failure::local("get", local, e);
        let is_dir = || std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory");
        let append = |path: &Path| fs::OpenOptions::new().append(true).create(true).open(path);
        let to_file = |file: File, start, part| -> Result<Download, Failure> {
            let writer = BufWriter::new(file.try_clone().map_err(fail)?);
            Ok(Download { sink: LocalFile::new(Box::new(writer)), file: Some(file), start, part })
        };
        let to_other = |writer: Box<dyn std::io::Write>| Download {
            sink: LocalFile::new(writer),
            file: None,
            start: 0,
            part: None,
        };
        if resume {
            if local.as_os_str() == "-" {
                return Err(Failure::usage("get --continue needs LOCAL to be a file, not standard output"));
            }
            let file = append(local).map_err(fail)?;
            let meta = file.metadata().map_err(fail)?;
            if meta.is_dir() {
                return Err(fail(is_dir()));
            }
            return to_file(file, meta.len(), None);
        }
        if local.as_os_str() == "-" {
            return Ok(to_other(Box::new(BufWriter::new(std::io::stdout()))));
        }
        match fs::symlink_metadata(local) {
            Ok(meta) if meta.is_dir() => Err(fail(is_dir())),
            Ok(meta) if !meta.is_file() => {
                let file = fs::OpenOptions::new().write(true).open(local).map_err(fail)?;
                Ok(to_other(Box::new(BufWriter::new(file))))
            }
            _ => {
                let part = PartFile::new(local);
                File::create(&part.0).map_err(fail)?;
                let file = append(&part.0).map_err(fail)?;
                to_file(file, 0, Some(part))
            }
        }
    }

    /// Flushes what was written and puts the sibling file, if any, in
    /// place of `local`; returns the bytes written.
    pub(crate) fn finish(self, step: &'static str, local: &Path) -> Result<u64, Failure> {
        let Download { mut sink, part, .. } = self;
        sink.io.flush().map_err(|e| Failure::local(step, local, e))?;
        let written = sink.written;
        drop(sink);
        if let Some(part) = &part {
            fs::rename(&part.0, local).map_err(|e| Failure::local(step, local, e))?;
        }
        Ok(written)
    }

    /// Where the next try starts in the remote file.
    fn offset(&self) -> u64 {
        self.start + self.sink.written
    }

    /// After a failed try: keeps only the bytes up to `confirmed`, the end
    /// of the last chunk the module confirmed (the bytes of a chunk that
    /// failed may be short, or shifted by a lost byte). A file is cut
    /// there; for a stream (stdout, a pipe) that already has more, false:
    /// the download cannot go on.
    fn keep_confirmed(&mut self, confirmed: u64, local: &Path) -> Result<bool, Failure> {
        let fail = |e| Failure::local("get", local, e);
        if self.offset() == confirmed {
            return Ok(true);
        }
        let Some(file) = &self.file else { return Ok(false) };
        self.sink.io.flush().map_err(fail)?;
        file.set_len(confirmed).map_err(fail)?;
        self.sink.written = confirmed.saturating_sub(self.start);
        Ok(true)
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

/// The name of a listing command.
fn list_step(kind: Listing) -> &'static str {
    match kind {
        Listing::List => "ls",
        Listing::Nlst => "nlst",
        Listing::Mlsd => "mlsd",
    }
}

async fn list<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    kind: Listing,
    dir: &Option<String>,
    console: &mut Console<'_>,
) -> Result<(), Failure> {
    let step = list_step(kind);
    let mut out = StdIo(&mut *console.out);
    ftp.list(kind, dir.as_deref().unwrap_or("."), &mut out).await.step(step)?;
    out.0.flush().map_err(|e| Failure::local(step, "stdout", e))
}

/// A listing as JSON lines, one object per entry ([`entry_json`]), each
/// printed as it is parsed.
async fn list_json<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    kind: Listing,
    dir: &Option<String>,
    console: &mut Console<'_>,
) -> Result<(), Failure> {
    let step = list_step(kind);
    let tomorrow = civil_date(days_since_epoch() + 1);
    let out = &mut *console.out;
    let mut failed = None;
    let mut each = |entry: Entry<'_>| {
        if failed.is_none() {
            if let Err(e) = writeln!(out, "{}", entry_json(&entry, kind, tomorrow)) {
                failed = Some(e);
            }
        }
    };
    let listed = ftp.list_entries(kind, dir.as_deref().unwrap_or("."), &mut each).await;
    if let Some(e) = failed {
        return Err(Failure::local(step, "stdout", e));
    }
    listed.step(step)?;
    out.flush().map_err(|e| Failure::local(step, "stdout", e))
}

/// One entry as `{"name", "kind", "size", "modified"}`: the name as UTF-8
/// (bytes that are not become U+FFFD), the kind `file`, `dir`, `link` or
/// `other`, the size in bytes or null, the modification time as
/// `YYYY-MM-DDTHH:MM:SS` or null. MLSD times are UTC (a `Z` follows);
/// `ls` times are the server's local time (no `Z`). A time without a year
/// (`ls -l` of a recent file) is put in the latest year that makes it no
/// later than `tomorrow` (year, month, day), as `ls` means it.
fn entry_json(entry: &Entry<'_>, format: Listing, tomorrow: (u16, u8, u8)) -> serde_json::Value {
    let kind = match entry.kind {
        Kind::File => "file",
        Kind::Dir => "dir",
        Kind::Link => "link",
        Kind::Other => "other",
    };
    let (year, month, day) = tomorrow;
    let recent =
        entry.recent.map(|r| r.in_year(if (r.month, r.day) <= (month, day) { year } else { year.saturating_sub(1) }));
    let zone = if format == Listing::Mlsd { "Z" } else { "" };
    let modified = entry.modified.or(recent).map(|t| {
        let ModifyTime { year, month, day, hour, minute, second, .. } = t;
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{zone}")
    });
    serde_json::json!({
        "name": String::from_utf8_lossy(entry.name),
        "kind": kind,
        "size": entry.size,
        "modified": modified,
    })
}

/// Whole days since 1970-01-01 UTC, by the system clock.
fn days_since_epoch() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(secs / 86_400).unwrap_or(0)
}

/// The proleptic Gregorian date `days` after 1970-01-01, as (year, month,
/// day) (Howard Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> (u16, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (u16::try_from(year).unwrap_or(0), month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_of_known_days() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(19_723), (2024, 1, 1));
        assert_eq!(civil_date(19_723 + 59), (2024, 2, 29));
        assert_eq!(civil_date(-1), (1969, 12, 31));
    }

    #[test]
    fn a_directory_to_upload_is_refused_before_any_session() {
        let dir = std::env::temp_dir();
        let put = Command::Put { local: dir.clone(), remote: "r".into(), resume: false, via_ufs: false };
        let failure = put.check_local().expect_err("a directory");
        assert_eq!(failure.exit_code(), crate::session::EXIT_LOCAL);
        assert!(failure.to_string().ends_with(": is a directory"), "{failure}");
        let ufs = Command::Ufs { op: UfsCommand::Put { local: dir, name: "n".into(), ack: false } };
        assert_eq!(ufs.check_local().expect_err("a directory").exit_code(), crate::session::EXIT_LOCAL);
    }

    #[test]
    fn back_off_doubles_up_to_thirty_seconds() {
        let secs: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn entries_as_json() {
        let time = ModifyTime { year: 2024, month: 7, day: 8, hour: 11, minute: 0, second: 39, millis: None };
        let entry = Entry { name: b"a b\xff", kind: Kind::File, size: Some(10), modified: Some(time), recent: None };
        let json = entry_json(&entry, Listing::Mlsd, (2026, 1, 1));
        assert_eq!(json["name"], "a b\u{fffd}");
        assert_eq!(json["kind"], "file");
        assert_eq!(json["size"], 10);
        assert_eq!(json["modified"], "2024-07-08T11:00:39Z");
        let recent = quectel_ftp::listing::Recent { month: 12, day: 30, hour: 9, minute: 5 };
        let entry = Entry { name: b"d", kind: Kind::Dir, size: None, modified: None, recent: Some(recent) };
        let json = entry_json(&entry, Listing::List, (2026, 1, 1));
        assert_eq!(json["modified"], "2025-12-30T09:05:00", "a December date seen on New Year's Eve is last year's");
        assert_eq!(json["size"], serde_json::Value::Null);
        let json = entry_json(&entry, Listing::List, (2026, 12, 31));
        assert_eq!(json["modified"], "2026-12-30T09:05:00");
    }
}
