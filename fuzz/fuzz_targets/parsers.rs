//! Every response parser on arbitrary lines: no panics, and what parses
//! is consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quectel_ftp::at::parse;

fuzz_target!(|line: &[u8]| {
    for name in [&b"QFTPSIZE"[..], b"QFTPPWD", b"QFTPGET", b"QFTPMDTM"] {
        if let Some(r) = parse::ftp_result(line, name) {
            let _ = parse::mdtm_value(r.value);
        }
    }
    let _ = parse::prefixed(line);
    let _ = parse::qiact(line);
    let _ = parse::qftpcfg(line);
    let _ = parse::mdtm_time(line);
    let _ = parse::qiurc(line);
    let _ = parse::cme_error(line);
    let _ = parse::cpin(line);
    let _ = parse::qflst(line);
    // The file store's answers (issue 16).
    for name in [&b"QFUPL"[..], b"QFDWL"] {
        if let Some((size, checksum)) = parse::file_moved(line, name) {
            // What parses prints back the same.
            let printed = format!("+{}: {size},{checksum:x}", std::str::from_utf8(name).unwrap());
            assert_eq!(parse::file_moved(printed.as_bytes(), name), Some((size, checksum)));
        }
    }
    let _ = parse::qflds(line);
    let _ = parse::qfopen(line);
    let _ = quectel_ftp::at::urc::Urc::from_line(line);
    if let Some(t) = parse::mdtm_time(line) {
        assert!((1..=12).contains(&t.month) && (1..=31).contains(&t.day));
    }
});
