//! `Ftp::list_entries` (issue 17): a listing parsed as it arrives, through
//! the same transfer as `Ftp::list`. Names that look like the modem's own
//! lines come out exactly, however the modem's output is split.

mod common;

use common::*;
use quectel_ftp::listing::{Entry, Kind, Recent};
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
