//! The FILE AT commands over the module's file store (reference section 8;
//! Quectel's FILE AT Commands Manual for the BG96/BG95 family): `AT+QFLDS`,
//! `AT+QFLST`, `AT+QFDEL`, `AT+QFUPL`, `AT+QFDWL`, `AT+QFOPEN`,
//! `AT+QFREAD`, `AT+QFCLOSE`.
//!
//! Every answer is framed as the module's others (`\r\n<line>\r\n`); every
//! failure is `+CME ERROR: <err>` with the FILE manual's code
//! ([`FileError`]), or `ERROR` for a form the module does not take (test
//! and read forms). What the manual leaves open is chosen here and
//! documented on each command.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::{Intake, Modem, Sent, Stop};
use crate::at::{Arg, Form};
use crate::line::lock;
use crate::ufs::{checksum, Drive, FileError, FileName, Limits, OpenMode, Pattern};

/// `AT+QFUPL`'s `<file_size>` when not given (FILE manual: 10240).
const DEFAULT_FILE_SIZE: u64 = 10240;
/// `AT+QFUPL`'s `<timeout>` in seconds when not given (FILE manual: 5).
const DEFAULT_UPLOAD_TIMEOUT: u64 = 5;
/// `AT+QFUPL`'s ACK mode: an `A` after each this many bytes.
const ACK_WINDOW: u64 = 1024;
/// `AT+QFREAD` without `<length>` reads the rest of the file, at most this.
const DEFAULT_READ_LEN: u64 = 10240;

impl Modem {
    /// One FILE command. Only the write form (and the execution form of
    /// `AT+QFLDS` and `AT+QFLST`) is modelled; the others answer `ERROR`.
    pub(super) fn file_command(&mut self, name: &str, form: Form) -> Result<(), Stop> {
        let args = match form {
            Form::Write(args) => args,
            Form::Exec if matches!(name, "QFLDS" | "QFLST") => Vec::new(),
            Form::Exec | Form::Read | Form::Test => {
                self.error();
                return Ok(());
            }
        };
        let result = match name {
            "QFUPL" => return self.qfupl(&args),
            "QFDWL" => return self.qfdwl(&args),
            "QFLDS" => self.qflds(&args),
            "QFLST" => self.qflst(&args),
            "QFDEL" => self.qfdel(&args),
            "QFOPEN" => self.qfopen(&args),
            "QFREAD" => self.qfread(&args),
            _ => self.qfclose(&args),
        };
        if let Err(error) = result {
            self.cme(error.code());
        }
        Ok(())
    }

    /// The drives' limits now in force.
    fn file_limits(&self) -> Limits {
        lock(&self.line.shared().faults).faults.file_limits()
    }

    /// `AT+QFLDS="UFS"` → `+QFLDS: <free_size>,<total_size>` (`"RAM"`: of
    /// the RAM drive); `AT+QFLDS` → `+QFLDS: <size of the UFS files>,<number
    /// of UFS files>`; then `OK`. Another drive name is 400.
    fn qflds(&mut self, args: &[Arg]) -> Result<(), FileError> {
        let limits = self.file_limits();
        let line = match args {
            [] => {
                let (bytes, count) = lock(&self.line.shared().files).usage(Drive::Ufs);
                format!("+QFLDS: {bytes},{count}")
            }
            [drive] if drive.quoted => {
                let drive = match drive.text.to_ascii_uppercase().as_str() {
                    "UFS" => Drive::Ufs,
                    "RAM" => Drive::Ram,
                    _ => return Err(FileError::InvalidInput),
                };
                let free = lock(&self.line.shared().files).free(drive, limits);
                format!("+QFLDS: {free},{}", limits.capacity)
            }
            _ => return Err(FileError::InvalidInput),
        };
        self.respond(&line);
        self.ok();
        Ok(())
    }

    /// `AT+QFLST[="<name_pattern>"]`: one `+QFLST: "<filename>",<file_size>`
    /// per matching file, by name, then `OK`. No pattern is `"*"` (every
    /// UFS file); `"RAM:*"` lists RAM files, printed with their `RAM:`
    /// prefix; UFS files are printed without one (also for `"UFS:*"`).
    /// `*` and `?` are wildcards. A pattern without a wildcard that names
    /// no file is 405; one with a wildcard that matches none is `OK` alone.
    fn qflst(&mut self, args: &[Arg]) -> Result<(), FileError> {
        let pattern = match args {
            [] => Pattern::parse("*")?,
            [pattern] if pattern.quoted => Pattern::parse(&pattern.text)?,
            _ => return Err(FileError::InvalidInput),
        };
        let entries = lock(&self.line.shared().files).list(&pattern);
        if entries.is_empty() && !pattern.has_wildcard() {
            return Err(FileError::NotFound);
        }
        for (name, size) in entries {
            self.respond(&format!("+QFLST: \"{}\",{size}", name.display()));
        }
        self.ok();
        Ok(())
    }

    /// `AT+QFDEL="<filename>"` → `OK`, 405 if there is no such file, 418
    /// if it is open. `"*"` (or `"UFS:*"`) deletes every UFS file,
    /// `"RAM:*"` every RAM file, but not the open ones; `OK` also when
    /// there were none.
    fn qfdel(&mut self, args: &[Arg]) -> Result<(), FileError> {
        let [arg] = args else {
            return Err(FileError::InvalidInput);
        };
        if !arg.quoted {
            return Err(FileError::InvalidInput);
        }
        let mut files = lock(&self.line.shared().files);
        match arg.text.to_ascii_uppercase().as_str() {
            "*" | "UFS:*" => files.delete_all(Drive::Ufs),
            "RAM:*" => files.delete_all(Drive::Ram),
            _ => files.delete(&FileName::parse(&arg.text)?)?,
        }
        drop(files);
        self.ok();
        Ok(())
    }

    /// `AT+QFUPL="<filename>"[,<file_size>[,<timeout>[,<ackmode>]]]`:
    /// `CONNECT`, then data mode until `<file_size>` bytes (default
    /// 10240), `<timeout>` seconds without a byte (default 5, 1-65535), or
    /// a guarded `+++` (or DTR, after `AT&D1` or `AT&D2`); what arrived
    /// is stored and the module answers `+QFUPL: <upload_size>,<checksum>`
    /// (checksum in lowercase hex, without `0x` or leading zeros) and `OK`.
    ///
    /// Before `CONNECT`: 406 for an invalid name, 407 if the file exists,
    /// 420 if `<file_size>` exceeds the drive's free space or the drive
    /// holds its maximum number of files already, 400 for other bad
    /// parameters (`<file_size>` 0, `<ackmode>` not 0 or 1). If the drive
    /// has no room for the data when data mode ends (its limits shrank
    /// meanwhile), the module answers 420 and keeps no file.
    /// ACK mode: see [`Modem::receive_upload`].
    fn qfupl(&mut self, args: &[Arg]) -> Result<(), Stop> {
        let (name, intake) = match self.upload_setup(args) {
            Ok(setup) => setup,
            Err(error) => {
                self.cme(error.code());
                return Ok(());
            }
        };
        self.send(b"\r\nCONNECT\r\n");
        let (payload, _end) = self.receive_upload(intake)?;
        let (upload_size, sum) = (payload.len(), checksum(&payload));
        let limits = self.file_limits();
        let stored = lock(&self.line.shared().files).write(&name, payload, limits);
        match stored {
            Ok(()) => {
                self.respond(&format!("+QFUPL: {upload_size},{sum:x}"));
                self.ok();
            }
            Err(error) => self.cme(error.code()),
        }
        self.release_held_events()
    }

    /// The checks `AT+QFUPL` makes before `CONNECT`, and how it will take
    /// the data in.
    fn upload_setup(&self, args: &[Arg]) -> Result<(FileName, Intake), FileError> {
        if args.len() > 4 {
            return Err(FileError::InvalidInput);
        }
        let name = file_name(args.first())?;
        let file_size = number(args, 1, DEFAULT_FILE_SIZE, 1..=u64::MAX)?;
        let timeout = number(args, 2, DEFAULT_UPLOAD_TIMEOUT, 1..=65535)?;
        let ackmode = number(args, 3, 0, 0..=1)?;
        let limits = self.file_limits();
        let files = lock(&self.line.shared().files);
        if files.get(&name).is_some() {
            return Err(FileError::AlreadyExists);
        }
        if !files.fits(&name, file_size, limits) {
            return Err(FileError::NoSpace);
        }
        let intake = Intake {
            limit: Some(file_size),
            idle: Duration::from_secs(timeout),
            lost: None,
            cut: None,
            ack_every: (ackmode == 1).then_some(ACK_WINDOW),
        };
        Ok((name, intake))
    }

    /// `AT+QFDWL="<filename>"`: `CONNECT`, the file's bytes, then
    /// `+QFDWL: <download_size>,<checksum>` and `OK` (405 for a missing
    /// file). A guarded `+++` (or DTR, after `AT&D1` or `AT&D2`) from the
    /// host stops the bytes early; the result then counts what was sent.
    fn qfdwl(&mut self, args: &[Arg]) -> Result<(), Stop> {
        let data = match args {
            [arg] => file_name(Some(arg))
                .and_then(|name| lock(&self.line.shared().files).get(&name).cloned().ok_or(FileError::NotFound)),
            _ => Err(FileError::InvalidInput),
        };
        let data = match data {
            Ok(data) => data,
            Err(error) => {
                self.cme(error.code());
                return Ok(());
            }
        };
        self.send(b"\r\nCONNECT\r\n");
        let download_size = match self.stream_out(&data)? {
            Sent::All => data.len(),
            Sent::Escaped(n) | Sent::HungUp(n) => n,
        };
        let sent = &data[..download_size];
        self.respond(&format!("+QFDWL: {download_size},{:x}", checksum(sent)));
        self.ok();
        self.release_held_events()
    }

    /// `AT+QFOPEN="<filename>"[,<mode>]` → `+QFOPEN: <filehandle>` and
    /// `OK`. `<mode>` 0 (default) creates a missing file, 1 creates or
    /// truncates, 2 opens an existing file read-only (405 if missing).
    /// Handles are the lowest free number from 1; a file open already is
    /// 426, more than 16 open files 413, a file that does not fit 420.
    fn qfopen(&mut self, args: &[Arg]) -> Result<(), FileError> {
        if args.len() > 2 {
            return Err(FileError::InvalidInput);
        }
        let name = file_name(args.first())?;
        let mode = match number(args, 1, 0, 0..=2)? {
            0 => OpenMode::CreateOrOpen,
            1 => OpenMode::CreateOrTruncate,
            _ => OpenMode::ReadOnly,
        };
        let limits = self.file_limits();
        let handle = lock(&self.line.shared().files).open(&name, mode, limits)?;
        self.respond(&format!("+QFOPEN: {handle}"));
        self.ok();
        Ok(())
    }

    /// `AT+QFREAD=<filehandle>[,<length>]` → `CONNECT <n>`, exactly `<n>`
    /// bytes, `OK` (`\r\nCONNECT <n>\r\n<bytes>\r\nOK\r\n`): `<n>` is at
    /// most `<length>` (default: the rest of the file, at most 10240), 0 at
    /// the end of the file. 416 for a handle that is not open.
    fn qfread(&mut self, args: &[Arg]) -> Result<(), FileError> {
        if !(1..=2).contains(&args.len()) {
            return Err(FileError::InvalidInput);
        }
        let handle = handle(args)?;
        let len = number(args, 1, DEFAULT_READ_LEN, 0..=u64::MAX)?;
        let data = lock(&self.line.shared().files).read(handle, usize::try_from(len).unwrap_or(usize::MAX))?;
        self.send(format!("\r\nCONNECT {}\r\n", data.len()).as_bytes());
        self.send(&data);
        self.ok();
        Ok(())
    }

    /// `AT+QFCLOSE=<filehandle>` → `OK`; 416 for a handle that is not open.
    fn qfclose(&mut self, args: &[Arg]) -> Result<(), FileError> {
        if args.len() != 1 {
            return Err(FileError::InvalidInput);
        }
        lock(&self.line.shared().files).close(handle(args)?)?;
        self.ok();
        Ok(())
    }
}

/// A quoted `<filename>` parameter: 400 if missing or unquoted, 406 if not
/// a valid name.
fn file_name(arg: Option<&Arg>) -> Result<FileName, FileError> {
    let arg = arg.filter(|arg| arg.quoted).ok_or(FileError::InvalidInput)?;
    FileName::parse(&arg.text)
}

/// The integer parameter `i` within `range`, `default` if absent; 400 if
/// quoted, not a number or out of range.
fn number(args: &[Arg], i: usize, default: u64, range: RangeInclusive<u64>) -> Result<u64, FileError> {
    match args.get(i) {
        None => Ok(default),
        Some(arg) if !arg.quoted => arg.text.parse().ok().filter(|n| range.contains(n)).ok_or(FileError::InvalidInput),
        Some(_) => Err(FileError::InvalidInput),
    }
}

/// The first parameter as a `<filehandle>`: 400 if not a number, 416 if
/// it cannot be a handle.
fn handle(args: &[Arg]) -> Result<u32, FileError> {
    let handle = number(args, 0, 0, 0..=u64::MAX)?;
    u32::try_from(handle).map_err(|_| FileError::InvalidHandle)
}
