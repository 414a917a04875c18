//! `Ftp::list_entries` (issue 17): a listing parsed as it arrives, through
//! the same transfer as `Ftp::list`. Names that look like the modem's own
//! lines come out exactly, however the modem's output is split.

mod common;

use common::*;
use quectel_ftp::listing::{Entries, Entry, Kind, Recent, LINE_MAX};
use quectel_ftp::{Error, Ftp, Listing, ModifyTime};

const CONNECT: &[u8] = b"\r\nCONNECT\r\n";

/// Splits of the modem's output the tests run with.
const READ_CHUNKS: [usize; 5] = [1, 2, 3, 16, usize::MAX];

/// An entry as owned data.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    name: Vec<u8>,
    kind: Kind,
    size: Option<u64>,
    modified: Option<ModifyTime>,
    recent: Option<Recent>,
}

fn owned(e: Entry<'_>) -> Owned {
    Owned { name: e.name.to_vec(), kind: e.kind, size: e.size, modified: e.modified, recent: e.recent }
}

fn entry(name: &str, kind: Kind, size: Option<u64>, modified: Option<ModifyTime>, recent: Option<Recent>) -> Owned {
    Owned { name: name.as_bytes().to_vec(), kind, size, modified, recent }
}

fn other(line: &str) -> Owned {
    entry(line, Kind::Other, None, None, None)
}

/// Runs `list_entries(kind, ".")` after bring-up against a modem that
/// answers `command` with `payload`, `chunk` bytes a read.
fn listing(kind: Listing, command: &str, payload: &[u8], chunk: usize) -> (Result<u64, Error>, Vec<Owned>) {
    let result = format!("+{}: 0,{}", kind.result_name(), payload.len());
    let transfer = Script::new().cmd(command).send(CONNECT).send(payload).lines(&["OK"]).lines(&[&result]);
    let modem = Modem::new(boot_open().then(transfer)).with_read_chunk(chunk);
    let mut buf = [0u8; 256];
    let mut ftp = Ftp::new(modem.clone(), &mut buf).unwrap();
    run(LONG, up(&mut ftp));
    let mut got = Vec::new();
    let r = run(LONG, ftp.list_entries(kind, ".", |e| got.push(owned(e))));
    modem.finished();
    (r, got)
}

#[test]
fn a_list_with_names_like_ok_and_the_result_line_comes_out_exactly() {
    let _c = clock();
    let payload = b"total 20\r\n\
-rw-r--r--   1 ftp      ftp             2 Jul  8 11:00 OK\r\n\
-rw-r--r--   1 ftp      ftp            14 Jul  8  2014 +QFTPLIST: 0,5\r\n\
drwxr-xr-x   2 ftp      ftp          4096 Jul  8 11:00 CONNECT\r\n\
-rw-r--r--   1 ftp      ftp     5368709120 Dec 31  2019 big file.iso\r\n\
lrwxrwxrwx   1 ftp      ftp             2 Jul  8 11:00 ok link -> OK\r\n\
OK\r\n\
\r\n\
+QFTPLIST: 0,5\r\n\
+++\r\n\
+QFTPLIST: 0,5";
    let recent = Some(Recent { month: 7, day: 8, hour: 11, minute: 0 });
    let year = |y, m, d| Some(ModifyTime { year: y, month: m, day: d, hour: 0, minute: 0, second: 0, millis: None });
    let want = vec![
        entry("OK", Kind::File, Some(2), None, recent),
        entry("+QFTPLIST: 0,5", Kind::File, Some(14), year(2014, 7, 8), None),
        entry("CONNECT", Kind::Dir, Some(4096), None, recent),
        entry("big file.iso", Kind::File, Some(5 << 30), year(2019, 12, 31), None),
        entry("ok link", Kind::Link, Some(2), None, recent),
        other("OK"),
        other("+QFTPLIST: 0,5"),
        other("+++"),
        // The last line, without a line end, right before the modem's
        // `\r\nOK\r\n+QFTPLIST: 0,<n>`.
        other("+QFTPLIST: 0,5"),
    ];
    for chunk in READ_CHUNKS {
        let (r, got) = listing(Listing::List, "AT+QFTPLIST=\".\",\"COM:\"", payload, chunk);
        assert_eq!(r, Ok(want.len() as u64), "read chunk {chunk}");
        assert_eq!(got, want, "read chunk {chunk}");
    }
}

#[test]
fn an_mlsd_listing_comes_out_as_entries_with_facts() {
    let _c = clock();
    let payload = b"type=cdir;modify=20140708110039; /home/ftp\r\n\
type=file;size=2;modify=20140708110039; OK\r\n\
type=file;size=14;modify=20140708110039.250; +QFTPMLSD: 0,5\r\n\
type=dir;modify=20240304050607; Reports 2024\r\n\
type=pdir; ..\r\n\
\r\nOK\r\n";
    let t = |hms: (u8, u8, u8), millis| {
        Some(ModifyTime { year: 2014, month: 7, day: 8, hour: hms.0, minute: hms.1, second: hms.2, millis })
    };
    let dir = Some(ModifyTime { year: 2024, month: 3, day: 4, hour: 5, minute: 6, second: 7, millis: None });
    let want = vec![
        entry("OK", Kind::File, Some(2), t((11, 0, 39), None), None),
        entry("+QFTPMLSD: 0,5", Kind::File, Some(14), t((11, 0, 39), Some(250)), None),
        entry("Reports 2024", Kind::Dir, None, dir, None),
        // Not of MLSD's shape: kept whole.
        other("OK"),
    ];
    for chunk in READ_CHUNKS {
        let (r, got) = listing(Listing::Mlsd, "AT+QFTPMLSD=\".\",\"COM:\"", payload, chunk);
        assert_eq!(r, Ok(want.len() as u64), "read chunk {chunk}");
        assert_eq!(got, want, "read chunk {chunk}");
    }
}

/// A `Recent` time, as `ls -l` prints one for a file changed this year.
const fn recent(month: u8, day: u8, hour: u8, minute: u8) -> Option<Recent> {
    Some(Recent { month, day, hour, minute })
}

/// A full time; `millis` as MLSD's fraction gives it.
const fn at(ymd: (u16, u8, u8), hms: (u8, u8, u8), millis: Option<u16>) -> Option<ModifyTime> {
    let ((year, month, day), (hour, minute, second)) = (ymd, hms);
    Some(ModifyTime { year, month, day, hour, minute, second, millis })
}

/// What a sample line must parse to: name, kind, size, full time, recent time.
type Row = (&'static str, Kind, Option<u64>, Option<ModifyTime>, Option<Recent>);

use Kind::{Dir, File, Link};

// vsftpd 3.0 LIST (it has no MLSD): owner and group as names or numbers,
// `%b %d` (a zero-padded day), the year for files older than six months.
const VSFTPD_LIST: &str = "\
drwxr-xr-x    2 ftp      ftp          4096 Nov 30 14:15 incoming\r
-rw-r--r--    1 ftp      ftp          1234 Nov 30 14:15 name with spaces.txt\r
-rw-r--r--    1 0        0       104857600 Mar 02  2025 100MB.bin\r
-rw-r--r--    1 ftp      ftp             2 Nov 03 09:05 OK\r
-rw-r--r--    1 ftp      ftp            14 Nov 30 14:15 +QFTPLIST: 0,5\r
lrwxrwxrwx    1 ftp      ftp            20 Nov 30 14:15 latest -> name with spaces.txt\r
";
#[rustfmt::skip]
const VSFTPD_LIST_ENTRIES: &[Row] = &[
    ("incoming", Dir, Some(4096), None, recent(11, 30, 14, 15)),
    ("name with spaces.txt", File, Some(1234), None, recent(11, 30, 14, 15)),
    ("100MB.bin", File, Some(104_857_600), at((2025, 3, 2), (0, 0, 0), None), None),
    ("OK", File, Some(2), None, recent(11, 3, 9, 5)),
    ("+QFTPLIST: 0,5", File, Some(14), None, recent(11, 30, 14, 15)),
    ("latest", Link, Some(20), None, recent(11, 30, 14, 15)),
];

// ProFTPD 1.3 LIST: `total`, `%b %e` (a space-padded day), `.` and `..`
// with `ListOptions -a`.
const PROFTPD_LIST: &str = "\
total 16\r
drwxr-xr-x   3 ftp      ftp          4096 Nov 30 14:15 .\r
drwxr-xr-x   5 root     root         4096 Jan  1  2024 ..\r
-rw-r--r--   1 ftp      ftp          1234 Nov 30 14:15 name with spaces.txt\r
drwxr-xr-x   2 ftp      ftp          4096 Nov  3 09:05 Reports 2026\r
-rw-r--r--   1 ftp      ftp             2 Nov 30 14:15 OK\r
-rw-r--r--   1 ftp      ftp            14 Dec 24  2025 +QFTPLIST: 0,5\r
";
#[rustfmt::skip]
const PROFTPD_LIST_ENTRIES: &[Row] = &[
    ("name with spaces.txt", File, Some(1234), None, recent(11, 30, 14, 15)),
    ("Reports 2026", Dir, Some(4096), None, recent(11, 3, 9, 5)),
    ("OK", File, Some(2), None, recent(11, 30, 14, 15)),
    ("+QFTPLIST: 0,5", File, Some(14), at((2025, 12, 24), (0, 0, 0), None), None),
];

// ProFTPD 1.3 MLSD (mod_facts): `perm`, `unique` and the UNIX.* facts,
// the listed directory and its parent, `OS.unix=symlink`.
const PROFTPD_MLSD: &str = "\
modify=20261130141500;perm=flcdmpe;type=cdir;unique=FD01U2A;UNIX.group=65534;UNIX.groupname=nogroup;UNIX.mode=0755;UNIX.owner=65534;UNIX.ownername=nobody; .\r
modify=20240101000000;perm=flcdmpe;type=pdir;unique=FD01U1;UNIX.group=0;UNIX.groupname=root;UNIX.mode=0755;UNIX.owner=0;UNIX.ownername=root; ..\r
modify=20261130141500;perm=adfrw;size=1234;type=file;unique=FD01U2B3C;UNIX.group=65534;UNIX.groupname=nogroup;UNIX.mode=0644;UNIX.owner=65534;UNIX.ownername=nobody; name with spaces.txt\r
modify=20261103090500;perm=flcdmpe;type=dir;unique=FD01U2B3D;UNIX.group=65534;UNIX.groupname=nogroup;UNIX.mode=0755;UNIX.owner=65534;UNIX.ownername=nobody; Reports 2026\r
modify=20261130141500;perm=adfrw;size=2;type=file;unique=FD01U2B3E;UNIX.group=65534;UNIX.groupname=nogroup;UNIX.mode=0644;UNIX.owner=65534;UNIX.ownername=nobody; OK\r
modify=20261130141500;perm=adfrw;size=20;type=OS.unix=symlink;unique=FD01U2B3F;UNIX.group=65534;UNIX.groupname=nogroup;UNIX.mode=0777;UNIX.owner=65534;UNIX.ownername=nobody; latest\r
";
#[rustfmt::skip]
const PROFTPD_MLSD_ENTRIES: &[Row] = &[
    ("name with spaces.txt", File, Some(1234), at((2026, 11, 30), (14, 15, 0), None), None),
    ("Reports 2026", Dir, None, at((2026, 11, 3), (9, 5, 0), None), None),
    ("OK", File, Some(2), at((2026, 11, 30), (14, 15, 0), None), None),
    ("latest", Link, Some(20), at((2026, 11, 30), (14, 15, 0), None), None),
];

// Pure-FTPd 1.0 LIST: wide numeric owner and group columns, LF line ends.
const PURE_FTPD_LIST: &str = "\
drwxr-xr-x    3 1000       1000             4096 Nov 30 14:15 .\n\
drwxr-xr-x    3 0          0                4096 Nov 30 14:15 ..\n\
-rw-r--r--    1 1000       1000             1234 Nov 30 14:15 name with spaces.txt\n\
drwxr-xr-x    2 1000       1000             4096 Sep 15  2025 old dir\n\
-rw-r--r--    1 1000       1000               14 Nov 30 14:15 +QFTPLIST: 0,5\n\
-rw-r--r--    1 1000       1000                2 Nov 30 14:15 OK\n\
";
#[rustfmt::skip]
const PURE_FTPD_LIST_ENTRIES: &[Row] = &[
    ("name with spaces.txt", File, Some(1234), None, recent(11, 30, 14, 15)),
    ("old dir", Dir, Some(4096), at((2025, 9, 15), (0, 0, 0), None), None),
    ("+QFTPLIST: 0,5", File, Some(14), None, recent(11, 30, 14, 15)),
    ("OK", File, Some(2), None, recent(11, 30, 14, 15)),
];

// Pure-FTPd 1.0 MLSD: `type` first, `sizd` for directories, UNIX.mode,
// UNIX.uid and UNIX.gid, `OS.unix=slink:<target>` for links.
const PURE_FTPD_MLSD: &str = "\
type=cdir;sizd=4096;modify=20261130141500;UNIX.mode=0755;UNIX.uid=1000;UNIX.gid=1000;unique=803g2a1; .\r
type=pdir;sizd=4096;modify=20261130141500;UNIX.mode=0755;UNIX.uid=0;UNIX.gid=0;unique=803g2; ..\r
type=file;size=1234;modify=20261130141500;UNIX.mode=0644;UNIX.uid=1000;UNIX.gid=1000;unique=803g2a4; name with spaces.txt\r
type=dir;sizd=4096;modify=20250915000000;UNIX.mode=0755;UNIX.uid=1000;UNIX.gid=1000;unique=803g2a5; old dir\r
type=file;size=14;modify=20261130141500;UNIX.mode=0644;UNIX.uid=1000;UNIX.gid=1000;unique=803g2a6; +QFTPLIST: 0,5\r
type=file;size=2;modify=20261130141500;UNIX.mode=0644;UNIX.uid=1000;UNIX.gid=1000;unique=803g2a7; OK\r
type=OS.unix=slink:/srv/ftp/name with spaces.txt;modify=20261130141500;UNIX.mode=0777;UNIX.uid=1000;UNIX.gid=1000;unique=803g2a8; latest\r
";
#[rustfmt::skip]
const PURE_FTPD_MLSD_ENTRIES: &[Row] = &[
    ("name with spaces.txt", File, Some(1234), at((2026, 11, 30), (14, 15, 0), None), None),
    ("old dir", Dir, Some(4096), at((2025, 9, 15), (0, 0, 0), None), None),
    ("+QFTPLIST: 0,5", File, Some(14), at((2026, 11, 30), (14, 15, 0), None), None),
    ("OK", File, Some(2), at((2026, 11, 30), (14, 15, 0), None), None),
    ("latest", Link, None, at((2026, 11, 30), (14, 15, 0), None), None),
];

// IIS LIST in MS-DOS style: `<DIR>` or the size, 12-hour clock, two-digit
// years (four with the "long date" setting).
const IIS_LIST: &str = "\
11-30-26  02:15PM       <DIR>          name with spaces\r
11-30-26  02:15PM                 1234 report.txt\r
01-05-2025  12:00AM                 0 empty file.log\r
11-30-26  12:30PM                    2 OK\r
11-30-26  09:05AM                   14 +QFTPLIST: 0,5\r
";
#[rustfmt::skip]
const IIS_LIST_ENTRIES: &[Row] = &[
    ("name with spaces", Dir, None, at((2026, 11, 30), (14, 15, 0), None), None),
    ("report.txt", File, Some(1234), at((2026, 11, 30), (14, 15, 0), None), None),
    ("empty file.log", File, Some(0), at((2025, 1, 5), (0, 0, 0), None), None),
    ("OK", File, Some(2), at((2026, 11, 30), (12, 30, 0), None), None),
    ("+QFTPLIST: 0,5", File, Some(14), at((2026, 11, 30), (9, 5, 0), None), None),
];

// IIS MLSD: `modify` with milliseconds first, `type` last, no cdir line.
const IIS_MLSD: &str = "\
modify=20261130141500.123;type=dir; name with spaces\r
modify=20261130141500.123;size=1234;type=file; report.txt\r
modify=20261130123000.000;size=2;type=file; OK\r
modify=20261130090500.5;size=14;type=file; +QFTPLIST: 0,5\r
";
#[rustfmt::skip]
const IIS_MLSD_ENTRIES: &[Row] = &[
    ("name with spaces", Dir, None, at((2026, 11, 30), (14, 15, 0), Some(123)), None),
    ("report.txt", File, Some(1234), at((2026, 11, 30), (14, 15, 0), Some(123)), None),
    ("OK", File, Some(2), at((2026, 11, 30), (12, 30, 0), Some(0)), None),
    ("+QFTPLIST: 0,5", File, Some(14), at((2026, 11, 30), (9, 5, 0), Some(500)), None),
];

// FileZilla Server LIST: one link, owner and group `ftp`, directories of size 0.
const FILEZILLA_LIST: &str = "\
drwxr-xr-x 1 ftp ftp              0 Nov 30 14:15 name with spaces\r
-rw-r--r-- 1 ftp ftp           1234 Nov 30 14:15 name\r
-rw-r--r-- 1 ftp ftp     4294967296 Jan 01  2026 4 GiB.bin\r
-rw-r--r-- 1 ftp ftp              2 Nov 30 14:15 OK\r
-rw-r--r-- 1 ftp ftp             14 Nov 30 14:15 +QFTPLIST: 0,5\r
";
#[rustfmt::skip]
const FILEZILLA_LIST_ENTRIES: &[Row] = &[
    ("name with spaces", Dir, Some(0), None, recent(11, 30, 14, 15)),
    ("name", File, Some(1234), None, recent(11, 30, 14, 15)),
    ("4 GiB.bin", File, Some(1 << 32), at((2026, 1, 1), (0, 0, 0), None), None),
    ("OK", File, Some(2), None, recent(11, 30, 14, 15)),
    ("+QFTPLIST: 0,5", File, Some(14), None, recent(11, 30, 14, 15)),
];

// FileZilla Server MLSD: `type;size;modify;perm`.
const FILEZILLA_MLSD: &str = "\
type=dir;modify=20261130141500;perm=cplemfd; name with spaces\r
type=file;size=1234;modify=20261130141500;perm=awrdf; name\r
type=file;size=4294967296;modify=20260101000000;perm=awrdf; 4 GiB.bin\r
type=file;size=2;modify=20261130141500;perm=awrdf; OK\r
type=file;size=14;modify=20261130141500;perm=awrdf; +QFTPLIST: 0,5\r
";
#[rustfmt::skip]
const FILEZILLA_MLSD_ENTRIES: &[Row] = &[
    ("name with spaces", Dir, None, at((2026, 11, 30), (14, 15, 0), None), None),
    ("name", File, Some(1234), at((2026, 11, 30), (14, 15, 0), None), None),
    ("4 GiB.bin", File, Some(1 << 32), at((2026, 1, 1), (0, 0, 0), None), None),
    ("OK", File, Some(2), at((2026, 11, 30), (14, 15, 0), None), None),
    ("+QFTPLIST: 0,5", File, Some(14), at((2026, 11, 30), (14, 15, 0), None), None),
];

/// Every sample: server, format, what it sent, what it means.
const SERVER_SAMPLES: &[(&str, Listing, &str, &[Row])] = &[
    ("vsftpd", Listing::List, VSFTPD_LIST, VSFTPD_LIST_ENTRIES),
    ("ProFTPD", Listing::List, PROFTPD_LIST, PROFTPD_LIST_ENTRIES),
    ("ProFTPD", Listing::Mlsd, PROFTPD_MLSD, PROFTPD_MLSD_ENTRIES),
    ("Pure-FTPd", Listing::List, PURE_FTPD_LIST, PURE_FTPD_LIST_ENTRIES),
    ("Pure-FTPd", Listing::Mlsd, PURE_FTPD_MLSD, PURE_FTPD_MLSD_ENTRIES),
    ("IIS", Listing::List, IIS_LIST, IIS_LIST_ENTRIES),
    ("IIS", Listing::Mlsd, IIS_MLSD, IIS_MLSD_ENTRIES),
    ("FileZilla Server", Listing::List, FILEZILLA_LIST, FILEZILLA_LIST_ENTRIES),
    ("FileZilla Server", Listing::Mlsd, FILEZILLA_MLSD, FILEZILLA_MLSD_ENTRIES),
];

fn rows(rows: &[Row]) -> Vec<Owned> {
    rows.iter().map(|&(name, kind, size, modified, recent)| entry(name, kind, size, modified, recent)).collect()
}

/// The entries of `text` fed to an [`Entries`] sink `chunk` bytes at a
/// time, and the count it returns.
fn through_sink(format: Listing, text: &[u8], chunk: usize) -> (Vec<Owned>, u64) {
    let mut buf = [0u8; LINE_MAX];
    let mut got = Vec::new();
    let mut sink = Entries::new(format, &mut buf, |e| got.push(owned(e)));
    for piece in text.chunks(chunk) {
        sink.feed(piece);
    }
    let n = sink.finish();
    (got, n)
}

#[test]
fn every_server_sample_parses_to_its_entries_at_every_chunk_size() {
    for &(server, format, text, want) in SERVER_SAMPLES {
        let want = rows(want);
        for chunk in 1..=text.len() {
            let (got, n) = through_sink(format, text.as_bytes(), chunk);
            assert_eq!(got, want, "{server} {format:?}, chunk {chunk}");
            assert_eq!(n, want.len() as u64, "{server} {format:?}, chunk {chunk}");
        }
    }
}

#[test]
fn every_server_sample_comes_out_of_list_entries_however_the_modem_splits_it() {
    let _c = clock();
    for &(server, format, text, want) in SERVER_SAMPLES {
        let want = rows(want);
        let command = format!("AT+{}=\".\",\"COM:\"", format.result_name());
        for chunk in READ_CHUNKS {
            let (r, got) = listing(format, &command, text.as_bytes(), chunk);
            assert_eq!(r, Ok(want.len() as u64), "{server} {format:?}, read chunk {chunk}");
            assert_eq!(got, want, "{server} {format:?}, read chunk {chunk}");
        }
    }
}
