//! The module's file store: UFS (flash) and RAM, as Quectel's FILE AT
//! Commands Manual (BG96/BG95 family) describes them, and the file handles
//! of `AT+QFOPEN`.
//!
//! Pure state, no I/O: the AT side lives in `modem/files.rs`, the limits
//! come from [`Faults`](crate::Faults) at the time of each operation.
//!
//! - A name is `<name>` or `UFS:<name>` (the same file in flash) or
//!   `RAM:<name>` (a file in RAM, lost at a reset). `<name>` is 1 to
//!   [`MAX_NAME`] bytes and has none of `* ? / \ : "` or control bytes
//!   (the manual recommends DOS 8.3 names; it does not list the characters,
//!   these are the ones no FAT-like store takes).
//! - Each drive holds at most `capacity` bytes of file data and
//!   `max_files` files; a file over either limit is "no space" (420).
//!   The simulator counts no block overhead: free = capacity - sum of sizes.

use std::collections::BTreeMap;

/// Longest file name, without its `UFS:`/`RAM:` prefix (FILE manual:
/// "The maximum length is 80 bytes").
pub(crate) const MAX_NAME: usize = 80;
/// Files open at once through `AT+QFOPEN`; one more is `+CME ERROR: 413`.
pub(crate) const MAX_OPEN_FILES: usize = 16;

/// The FILE manual's error codes (its "Summary of Error Codes" table) that
/// the simulator answers, as `+CME ERROR: <code>`.
///
/// The full table: 400 invalid input value, 401 larger than the size of
/// the file, 402 read zero byte, 403 drive full, 405 file not found,
/// 406 invalid file name, 407 file already exists, 409 fail to write the
/// file, 410 fail to open the file, 411 fail to read the file, 413 reach
/// the max number of files allowed to be opened, 414 the file is
/// read-only, 416 invalid file descriptor, 417 fail to list the file,
/// 418 fail to delete the file, 419 fail to get disk info, 420 no space,
/// 421 time out, 423 file too large, 425 invalid parameter, 426 the file
/// is already opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub(crate) enum FileError {
    /// 400: a parameter that is not a valid value (a number out of range,
    /// a missing or unquoted parameter).
    InvalidInput = 400,
    /// 405: no such file.
    NotFound = 405,
    /// 406: not a valid file name.
    InvalidName = 406,
    /// 407: `AT+QFUPL` of a name that exists already.
    AlreadyExists = 407,
    /// 413: [`MAX_OPEN_FILES`] are open already.
    TooManyOpen = 413,
    /// 416: not an open file handle.
    InvalidHandle = 416,
    /// 418: `AT+QFDEL` of a file that is open.
    DeleteFailed = 418,
    /// 420: the data (or the declared `<file_size>`) exceeds the free
    /// space, or the drive holds `max_files` files already.
    NoSpace = 420,
    /// 426: `AT+QFOPEN` of a file that is open already.
    AlreadyOpen = 426,
}

impl FileError {
    /// The `+CME ERROR:` number.
    pub fn code(self) -> u16 {
        self as u16
    }
}

/// Which store a name is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Drive {
    /// Flash (`UFS:` or no prefix); kept across resets.
    Ufs,
    /// RAM (`RAM:`); emptied by a reset.
    Ram,
}

impl Drive {
    /// The drive a prefix names, and the rest of the text.
    fn split(text: &str) -> (Drive, &str) {
        let prefix = text.get(..4).map(str::to_ascii_uppercase);
        match prefix.as_deref() {
            Some("RAM:") => (Drive::Ram, &text[4..]),
            Some("UFS:") => (Drive::Ufs, &text[4..]),
            _ => (Drive::Ufs, text),
        }
    }
}

/// A valid file name on one drive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FileName {
    pub drive: Drive,
    /// Without the prefix.
    pub name: String,
}

impl FileName {
    /// Parses `name`, `UFS:name` or `RAM:name`; [`FileError::InvalidName`]
    /// for an empty or too long name or a forbidden byte.
    pub fn parse(text: &str) -> Result<Self, FileError> {
        let (drive, name) = Drive::split(text);
        let forbidden = |b: u8| b.is_ascii_control() || b"*?/\\:\"".contains(&b);
        if name.is_empty() || name.len() > MAX_NAME || name.bytes().any(forbidden) {
            return Err(FileError::InvalidName);
        }
        Ok(FileName { drive, name: name.to_owned() })
    }

    /// As `AT+QFLST` prints it: UFS files without a prefix, RAM files with
    /// `RAM:`.
    pub fn display(&self) -> String {
        match self.drive {
            Drive::Ufs => self.name.clone(),
            Drive::Ram => format!("RAM:{}", self.name),
        }
    }
}

/// A name pattern of `AT+QFLST` (and `"*"` of `AT+QFDEL`): a drive prefix
/// and `*` (any run of bytes) / `?` (one byte) wildcards.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub drive: Drive,
    glob: String,
}

impl Pattern {
    /// Parses `"*"`, `"RAM:*"`, `"UFS:a?.txt"`, `"name"`...
    pub fn parse(text: &str) -> Result<Self, FileError> {
        let (drive, glob) = Drive::split(text);
        let forbidden = |b: u8| b.is_ascii_control() || b"/\\:\"".contains(&b);
        if glob.is_empty() || glob.len() > MAX_NAME || glob.bytes().any(forbidden) {
            return Err(FileError::InvalidName);
        }
        Ok(Pattern { drive, glob: glob.to_owned() })
    }

    /// Whether the pattern has a wildcard (else it names one file).
    pub fn has_wildcard(&self) -> bool {
        self.glob.contains(['*', '?'])
    }

    fn matches(&self, name: &str) -> bool {
        glob_match(self.glob.as_bytes(), name.as_bytes())
    }
}

/// `*` and `?` matching, iterative with one backtrack point (linear in
/// practice, no recursion on hostile patterns).
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// The `<checksum>` of `+QFUPL:` and `+QFDWL:` (FILE manual, `AT+QFUPL`
/// note 2): the bitwise XOR of the data taken as 16-bit words, the first
/// byte of each pair the high 8 bits; an odd last byte is the high 8 bits
/// of a word whose low 8 bits are 0.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    data.chunks(2).fold(0, |sum, pair| sum ^ u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]))
}

/// Size limits of each drive (from [`Faults`](crate::Faults)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Bytes of file data a drive holds.
    pub capacity: u64,
    /// Files a drive holds.
    pub max_files: usize,
}

/// How `AT+QFOPEN` opens a file (its `<mode>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenMode {
    /// 0: open, creating it if it does not exist; read and write.
    CreateOrOpen,
    /// 1: create, or truncate an existing file to 0; read and write.
    CreateOrTruncate,
    /// 2: open an existing file read-only.
    ReadOnly,
}

/// An open file of `AT+QFOPEN`.
#[derive(Debug, Clone)]
struct Handle {
    file: FileName,
    position: usize,
}

/// Both drives and the open handles.
#[derive(Debug, Default)]
pub(crate) struct FileStore {
    files: BTreeMap<FileName, Vec<u8>>,
    handles: BTreeMap<u32, Handle>,
}

impl FileStore {
    /// A reset: RAM files and open handles are gone, flash stays.
    pub fn power_cycle(&mut self) {
        self.files.retain(|name, _| name.drive == Drive::Ufs);
        self.handles.clear();
    }

    /// Everything on both drives, UFS first, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&FileName, &Vec<u8>)> {
        self.files.iter()
    }

    /// Empties both drives and closes every handle.
    pub fn clear(&mut self) {
        self.files.clear();
        self.handles.clear();
    }

    pub fn get(&self, name: &FileName) -> Option<&Vec<u8>> {
        self.files.get(name)
    }

    /// Bytes and number of files on `drive`.
    pub fn usage(&self, drive: Drive) -> (u64, usize) {
        self.files
            .iter()
            .filter(|(name, _)| name.drive == drive)
            .fold((0, 0), |(bytes, count), (_, data)| (bytes + data.len() as u64, count + 1))
    }

    /// Free bytes on `drive`.
    pub fn free(&self, drive: Drive, limits: Limits) -> u64 {
        limits.capacity.saturating_sub(self.usage(drive).0)
    }

    /// Whether `size` bytes fit as the new contents of `name` (which may
    /// exist and then frees its old size), within both limits.
    pub fn fits(&self, name: &FileName, size: u64, limits: Limits) -> bool {
        let (used, count) = self.usage(name.drive);
        let old = self.files.get(name).map(|data| data.len() as u64);
        let count_after = count + usize::from(old.is_none());
        (used - old.unwrap_or(0)).saturating_add(size) <= limits.capacity && count_after <= limits.max_files
    }

    /// Writes a whole file, replacing an existing one; [`FileError::NoSpace`]
    /// leaves the store as it was.
    pub fn write(&mut self, name: &FileName, data: Vec<u8>, limits: Limits) -> Result<(), FileError> {
        if !self.fits(name, data.len() as u64, limits) {
            return Err(FileError::NoSpace);
        }
        self.files.insert(name.clone(), data);
        Ok(())
    }

    /// Removes a file whether or not it is open (test set-up); a handle
    /// on it then reads nothing.
    pub fn remove(&mut self, name: &FileName) -> bool {
        self.files.remove(name).is_some()
    }

    /// Puts a file without checking the limits (test set-up).
    pub fn put_unchecked(&mut self, name: FileName, data: Vec<u8>) {
        self.files.insert(name, data);
    }

    /// Files on the pattern's drive that match it, by name.
    pub fn list(&self, pattern: &Pattern) -> Vec<(FileName, usize)> {
        self.files
            .iter()
            .filter(|(name, _)| name.drive == pattern.drive && pattern.matches(&name.name))
            .map(|(name, data)| (name.clone(), data.len()))
            .collect()
    }

    fn is_open(&self, name: &FileName) -> bool {
        self.handles.values().any(|handle| &handle.file == name)
    }

    /// Deletes one file; an open one is [`FileError::DeleteFailed`].
    pub fn delete(&mut self, name: &FileName) -> Result<(), FileError> {
        if !self.files.contains_key(name) {
            return Err(FileError::NotFound);
        }
        if self.is_open(name) {
            return Err(FileError::DeleteFailed);
        }
        self.files.remove(name);
        Ok(())
    }

    /// Deletes every file on `drive` that is not open.
    pub fn delete_all(&mut self, drive: Drive) {
        let open: Vec<FileName> = self.handles.values().map(|handle| handle.file.clone()).collect();
        self.files.retain(|name, _| name.drive != drive || open.contains(name));
    }

    /// `AT+QFOPEN`: a new handle, the lowest free number from 1.
    pub fn open(&mut self, name: &FileName, mode: OpenMode, limits: Limits) -> Result<u32, FileError> {
        if self.is_open(name) {
            return Err(FileError::AlreadyOpen);
        }
        if self.handles.len() >= MAX_OPEN_FILES {
            return Err(FileError::TooManyOpen);
        }
        match (mode, self.files.contains_key(name)) {
            (OpenMode::ReadOnly, false) => return Err(FileError::NotFound),
            (OpenMode::ReadOnly | OpenMode::CreateOrOpen, true) => {}
            (OpenMode::CreateOrOpen | OpenMode::CreateOrTruncate, _) => self.write(name, Vec::new(), limits)?,
        }
        let handle = (1..).find(|h| !self.handles.contains_key(h)).unwrap_or(0);
        self.handles.insert(handle, Handle { file: name.clone(), position: 0 });
        Ok(handle)
    }

    /// `AT+QFREAD`: up to `len` bytes from the handle's position, which
    /// moves past them; none at the end of the file.
    pub fn read(&mut self, handle: u32, len: usize) -> Result<Vec<u8>, FileError> {
        let open = self.handles.get_mut(&handle).ok_or(FileError::InvalidHandle)?;
        let data = self.files.get(&open.file).map_or(&[][..], Vec::as_slice);
        let from = open.position.min(data.len());
        let to = from + len.min(data.len() - from);
        open.position = to;
        Ok(data[from..to].to_vec())
    }

    /// `AT+QFCLOSE`.
    pub fn close(&mut self, handle: u32) -> Result<(), FileError> {
        self.handles.remove(&handle).map(|_| ()).ok_or(FileError::InvalidHandle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_pairs_bytes_high_first_and_pads_an_odd_one() {
        assert_eq!(checksum(b""), 0);
        assert_eq!(checksum(&[0x61, 0x3e]), 0x613e);
        assert_eq!(checksum(b"1234567890"), 0x3132 ^ 0x3334 ^ 0x3536 ^ 0x3738 ^ 0x3930);
        assert_eq!(checksum(b"12345"), 0x3132 ^ 0x3334 ^ 0x3500);
        assert_eq!(checksum(&[0xff]), 0xff00);
    }

    #[test]
    fn names_and_prefixes() {
        let plain = FileName::parse("a.txt").unwrap();
        assert_eq!(FileName::parse("UFS:a.txt").unwrap(), plain);
        assert_eq!(FileName::parse("ufs:a.txt").unwrap(), plain);
        let ram = FileName::parse("RAM:a.txt").unwrap();
        assert_eq!((ram.drive, ram.display()), (Drive::Ram, "RAM:a.txt".to_owned()));
        for bad in ["", "RAM:", "a*b", "a?b", "a/b", "C:x", "a\"b", "a\rb"] {
            assert_eq!(FileName::parse(bad), Err(FileError::InvalidName), "{bad:?}");
        }
        assert!(FileName::parse(&"x".repeat(MAX_NAME)).is_ok());
        assert!(FileName::parse(&format!("RAM:{}", "x".repeat(MAX_NAME))).is_ok());
        assert_eq!(FileName::parse(&"x".repeat(MAX_NAME + 1)), Err(FileError::InvalidName));
    }

    #[test]
    fn globs() {
        for (pattern, name, hit) in [
            ("*", "anything", true),
            ("*.txt", "a.txt", true),
            ("*.txt", "a.bin", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("**", "", true),
            ("abc", "abc", true),
            ("abc", "abcd", false),
        ] {
            assert_eq!(glob_match(pattern.as_bytes(), name.as_bytes()), hit, "{pattern} {name}");
        }
    }

    #[test]
    fn limits_count_bytes_and_files_per_drive() {
        let limits = Limits { capacity: 10, max_files: 2 };
        let mut store = FileStore::default();
        let (a, b, c) = (FileName::parse("a").unwrap(), FileName::parse("b").unwrap(), FileName::parse("c").unwrap());
        store.write(&a, vec![0; 6], limits).unwrap();
        assert_eq!(store.write(&b, vec![0; 5], limits), Err(FileError::NoSpace));
        store.write(&b, vec![0; 4], limits).unwrap();
        assert_eq!(store.write(&c, vec![], limits), Err(FileError::NoSpace), "file count");
        store.write(&a, vec![0; 6], limits).unwrap();
        store.write(&FileName::parse("RAM:c").unwrap(), vec![0; 10], limits).unwrap();
        assert_eq!((store.usage(Drive::Ufs), store.free(Drive::Ufs, limits)), ((10, 2), 0));
        store.power_cycle();
        assert_eq!(store.usage(Drive::Ram), (0, 0));
    }

    #[test]
    fn handles_read_in_chunks_and_guard_their_file() {
        let limits = Limits { capacity: 100, max_files: 4 };
        let mut store = FileStore::default();
        let name = FileName::parse("f").unwrap();
        store.write(&name, b"hello".to_vec(), limits).unwrap();
        let h = store.open(&name, OpenMode::ReadOnly, limits).unwrap();
        assert_eq!(h, 1);
        assert_eq!(store.open(&name, OpenMode::CreateOrOpen, limits), Err(FileError::AlreadyOpen));
        assert_eq!(store.read(h, 3).unwrap(), b"hel");
        assert_eq!(store.read(h, 3).unwrap(), b"lo");
        assert_eq!(store.read(h, 3).unwrap(), b"");
        assert_eq!(store.delete(&name), Err(FileError::DeleteFailed));
        store.delete_all(Drive::Ufs);
        assert!(store.get(&name).is_some());
        store.close(h).unwrap();
        assert_eq!(store.close(h), Err(FileError::InvalidHandle));
        assert_eq!(store.read(h, 1), Err(FileError::InvalidHandle));
        let missing = FileName::parse("g").unwrap();
        assert_eq!(store.open(&missing, OpenMode::ReadOnly, limits), Err(FileError::NotFound));
        let h = store.open(&name, OpenMode::CreateOrTruncate, limits).unwrap();
        assert_eq!(store.read(h, 10).unwrap(), b"");
    }
}
