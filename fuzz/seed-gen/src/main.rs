//! Writes the seed corpus of the `client` fuzz target: whole sessions as
//! the reference documents them (`ref-*`), and the field behaviours the
//! scripted tests replay (`field-*`: `tests/field.rs`, `tests/bringup.rs`,
//! `tests/drop_points.rs`), so that the fuzzer starts from realistic
//! exchanges rather than from noise.
//!
//! ```text
//! cargo run --manifest-path fuzz/seed-gen/Cargo.toml [-- OUT_DIR]
//! ```
//!
//! (default `fuzz/seeds/client`). Each seed is encoded the way
//! `fuzz_targets/client.rs` reads its input: the hostile modem's script
//! (its answers, in order, whatever the client writes), the operations
//! the client runs against it, and the manners of the well-behaved module
//! that follows. When the script holds the reference's answer to each
//! command of the operations, in order, the hostile part is a clean
//! session; the fuzzer mutates it from there.

use std::path::PathBuf;

/// One act of the hostile modem.
#[derive(Clone)]
enum Act {
    /// Sends these bytes (split into the target's raw sends of at most
    /// 31 bytes).
    Send(Vec<u8>),
    /// Silent for this many milliseconds (a multiple of 40, at most 10.2 s).
    Quiet(u32),
    /// Silent for 100 s: past the client's deadlines for payload.
    Quiet100,
    /// Silent from here on.
    Never,
}

/// The target's operations (`operation` in `fuzz_targets/client.rs`).
#[derive(Clone, Copy)]
enum Op {
    InitFresh = 0,
    Open = 1,
    Size = 2,
    Get = 4,
    Put = 5,
    PutSized = 6,
    PutEscaped = 7,
    Nlst = 8,
    Stat = 9,
    Close = 10,
    Configure = 11,
    Activate = 12,
    Recover = 13,
    UfsSpace = 14,
    UfsList = 15,
    UfsSize = 16,
    UfsDelete = 17,
    UfsUpload = 18,
    UfsUploadAck = 19,
    UfsDownload = 20,
    UfsRead = 21,
    PutFromUfs = 22,
    GetToUfs = 23,
    ListToUfs = 24,
    PutViaUfs = 25,
    GetViaUfs = 26,
    InstallCa = 27,
    SslFiles = 28,
    InitWithPin = 0xFF,
}

/// One operation with its arguments.
struct Call {
    op: Op,
    /// Dropped after this many polls (times 7), or run to its end.
    drop_after: Option<u8>,
    /// The remote name: 0 `f` (the well-behaved modem's file), 3 `dir/x.bin`.
    /// The file store's operations take the local name from it too
    /// (`UFS_NAMES[name % 10]`: 0 `u.bin`, 4 `none.bin`, 5 `*`, 6
    /// `RAM:r.bin`), and FTP through the store the remote name from
    /// `name / 10 % 4`.
    name: u8,
    /// The chunk: 0 = 1 byte, 1 = 7, 2 = 64, 3 = 1000 (bits 0-1); store
    /// and forward keeps its staging file (bit 2); a listing to the store
    /// is 0 LIST, 1 NLST, 2 MLSD (bits 3-4); `ssl_files` names `cacert`
    /// (bit 2), `clientcert` (bit 3, the local name from `name / 10`),
    /// `clientkey` (bit 4).
    chunk: u8,
    /// Upload data.
    data: &'static [u8],
    /// The start offset; for the file store's operations also `<timeout>`
    /// (bits 0-1: 5, 1, 20, 0 s), a source a byte short (bit 2), the
    /// module's own transfer's time (bits 3-4: 2, 30, 0, 120 s), the ACK
    /// mode upload's length (1024 + 8 x this) and FTP's start or the SSL
    /// context (bits 5-7).
    start: u8,
}

impl Call {
    fn new(op: Op) -> Self {
        Call { op, drop_after: None, name: 0, chunk: 3, data: b"", start: 0 }
    }
}

/// A seed: the script, the calls, and the well-behaved module's manners
/// (`Manners::read`: late answers, their delay, flags).
struct Seed {
    name: &'static str,
    script: Vec<Act>,
    calls: Vec<Call>,
    manners: [u8; 3],
}

impl Seed {
    fn encode(&self) -> Vec<u8> {
        let mut acts: Vec<Vec<u8>> = Vec::new();
        for act in &self.script {
            match act {
                Act::Send(bytes) => {
                    for piece in bytes.chunks(31) {
                        let mut raw = vec![0, piece.len() as u8];
                        raw.extend_from_slice(piece);
                        acts.push(raw);
                    }
                }
                Act::Quiet(ms) => acts.push(vec![224, (ms / 40).min(255) as u8]),
                Act::Quiet100 => acts.push(vec![254]),
                Act::Never => acts.push(vec![255]),
            }
        }
        // The target reads twice the count byte's acts: an odd count is
        // padded with a silence of no length.
        if acts.len() % 2 == 1 {
            acts.push(vec![224, 0]);
        }
        assert!(acts.len() / 2 <= 255, "{}: script too long", self.name);
        assert!(self.calls.len() < 8, "{}: at most 7 calls", self.name);
        let mut out = vec![(acts.len() / 2) as u8];
        out.extend(acts.concat());
        out.push(self.calls.len() as u8);
        for call in &self.calls {
            out.push(call.op as u8);
            out.push(call.drop_after.unwrap_or(0xFF));
            out.push(call.name);
            out.push(call.chunk);
            out.push(call.data.len() as u8);
            out.extend_from_slice(call.data);
            out.push(call.start);
            out.push(0); // no MCU reset
        }
        out.extend_from_slice(&self.manners);
        out
    }
}

/// Lines as the module frames them: `\r\n<line>\r\n` each.
fn lines(lines: &[&str]) -> Act {
    Act::Send(lines.iter().flat_map(|l| format!("\r\n{l}\r\n").into_bytes()).collect())
}

fn bytes(b: &[u8]) -> Act {
    Act::Send(b.to_vec())
}

/// `init_fresh`: the probe's answer, `ATE0`, `AT+CMEE=1`, `AT+CPIN?`.
fn boot() -> Vec<Act> {
    vec![lines(&["+CMEE: 1", "OK"]), lines(&["OK"]), lines(&["OK"]), lines(&["+CPIN: READY", "OK"])]
}

/// `activate` of an active context: `AT+QICSGP`, `AT+QIACT?`.
fn active() -> Vec<Act> {
    vec![lines(&["OK"]), lines(&["+QIACT: 1,1,1,\"10.0.0.2\"", "OK"])]
}

/// `configure` without SSL: the eight `AT+QFTPCFG` settings (`contextid`,
/// `filetype`, `transmode`, `rsptimeout`, `ssltype`, `sslctxid`,
/// `data_address`, `account`).
fn configured() -> Vec<Act> {
    (0..8).map(|_| lines(&["OK"])).collect()
}

fn deferred(result: &str) -> Vec<Act> {
    vec![lines(&["OK", result])]
}

/// A download or listing: `CONNECT`, the payload, `OK`, the result.
fn payload(data: &[u8], result: &str) -> Vec<Act> {
    vec![bytes(b"\r\nCONNECT\r\n"), bytes(data), lines(&["OK", &format!("+{result}: 0,{}", data.len())])]
}

/// The file store's checksum (`+QFUPL:`, `+QFDWL:`), in hexadecimal.
fn checksum(data: &[u8]) -> String {
    let sum = data.chunks(2).fold(0u16, |s, p| s ^ u16::from_be_bytes([p[0], p.get(1).copied().unwrap_or(0)]));
    format!("{sum:x}")
}

/// `AT+QFLST="<name>"` answered with one file of `size` bytes.
fn listed(name: &str, size: usize) -> Act {
    lines(&[&format!("+QFLST: \"{name}\",{size}"), "OK"])
}

/// `AT+QFDWL`: `CONNECT`, the file, its count and checksum, `OK`.
fn qfdwl(data: &[u8]) -> Vec<Act> {
    vec![bytes(b"\r\nCONNECT\r\n"), bytes(data), lines(&[&format!("+QFDWL: {},{}", data.len(), checksum(data)), "OK"])]
}

/// `AT+QFUPL`: `CONNECT`, then (the data taken) its count and checksum.
fn qfupl(data: &[u8]) -> Vec<Act> {
    vec![lines(&["CONNECT"]), lines(&[&format!("+QFUPL: {},{}", data.len(), checksum(data)), "OK"])]
}

/// `AT+QFREAD`: `CONNECT <n>`, the piece, `OK`.
fn qfread(piece: &[u8]) -> Act {
    Act::Send([format!("\r\nCONNECT {}\r\n", piece.len()).as_bytes(), piece, b"\r\nOK\r\n"].concat())
}

/// The session every `ref-` seed starts with: bring-up, activation,
/// configuration, open.
fn up() -> (Vec<Act>, Vec<Call>) {
    let script = [boot(), active(), configured(), deferred("+QFTPOPEN: 0,0")].concat();
    let calls = [Op::InitFresh, Op::Activate, Op::Configure, Op::Open].map(Call::new).into();
    (script, calls)
}

fn seeds() -> Vec<Seed> {
    let polite = [1, 0, 0b0111];
    let mut seeds = Vec::new();
    let mut session = |name, script: Vec<Act>, calls: Vec<Call>, manners| {
        let (mut s, mut c) = up();
        s.extend(script);
        c.extend(calls);
        seeds.push(Seed { name, script: s, calls: c, manners });
    };

    // The reference's exchanges (section 5), whole.
    session(
        "ref-size-get-close",
        [deferred("+QFTPSIZE: 0,7"), payload(b"hello\r\n", "QFTPGET"), deferred("+QFTPCLOSE: 0,0")].concat(),
        vec![Call::new(Op::Get), Call::new(Op::Close)],
        polite,
    );
    session(
        "ref-put-nlst-stat",
        [
            vec![lines(&["CONNECT"]), lines(&["OK", "+QFTPPUT: 0,3"])],
            payload(b"f\r\ndir\r\n", "QFTPNLST"),
            vec![lines(&["+QFTPSTAT: 0,1", "OK"])],
        ]
        .concat(),
        vec![Call { data: b"abc", ..Call::new(Op::Put) }, Call::new(Op::Nlst), Call::new(Op::Stat)],
        polite,
    );
    session(
        "ref-put-sized-in-chunks",
        [
            vec![lines(&["CONNECT"]), lines(&["OK", "+QFTPPUT: 0,7"])],
            vec![lines(&["CONNECT"]), lines(&["OK", "+QFTPPUT: 0,3"])],
        ]
        .concat(),
        vec![Call { data: b"0123456789", chunk: 1, ..Call::new(Op::PutSized) }],
        polite,
    );
    session(
        "ref-put-escaped",
        // Data mode ended by the client's guarded `+++`.
        vec![lines(&["CONNECT"]), lines(&["OK", "+QFTPPUT: 0,5"])],
        vec![Call { data: b"hello", ..Call::new(Op::PutEscaped) }],
        polite,
    );
    session(
        "ref-size-of-a-missing-file",
        deferred("+QFTPSIZE: 627,550"),
        vec![Call { name: 3, ..Call::new(Op::Size) }],
        polite,
    );

    // What modules in the field do (issue 15; tests/field.rs).
    session(
        "field-urcs-between-the-listing-ok-and-its-result",
        vec![
            bytes(b"\r\nCONNECT\r\nf\r\ndir\r\n"),
            lines(&["OK", "+CEREG: 5", "+QIND: \"csq\",20,99", "+QUSIM: 1", "+QFTPNLST: 0,8"]),
        ],
        vec![Call::new(Op::Nlst)],
        polite,
    );
    session(
        "field-upload-ended-by-the-module",
        vec![lines(&["CONNECT"]), Act::Quiet(400), lines(&["OK", "+QFTPPUT: 609,0"])],
        vec![Call { data: b"0123456789abcdef", ..Call::new(Op::PutEscaped) }, Call::new(Op::Stat)],
        polite,
    );
    session(
        "field-busy-while-closing",
        vec![
            lines(&["+CME ERROR: 603"]),
            Act::Quiet(1000),
            lines(&["+CME ERROR: 603"]),
            lines(&["+QFTPCLOSE: 0,0"]),
            lines(&["OK", "+QFTPCLOSE: 0,0"]),
        ],
        vec![Call::new(Op::Close), Call::new(Op::Open)],
        polite,
    );
    session(
        "field-end-of-file-as-550",
        [deferred("+QFTPSIZE: 627,502"), payload(b"0123456", "QFTPGET"), vec![lines(&["+QFTPGET: 627,550"])]].concat(),
        vec![Call { chunk: 1, ..Call::new(Op::Get) }],
        polite,
    );
    session(
        "field-listing-that-never-ends",
        vec![bytes(b"\r\nCONNECT\r\nf\r\n\r\nOK\r\n"), bytes(&b"+CEREG: 5\r\n".repeat(40))],
        vec![Call::new(Op::Nlst), Call::new(Op::Stat)],
        polite,
    );
    session(
        "field-context-dropped-after-open",
        vec![lines(&["+QIURC: \"pdpdeact\",1"]), lines(&["+CME ERROR: 601"])],
        vec![Call::new(Op::Size), Call::new(Op::Recover)],
        polite,
    );
    session(
        "field-module-restarts-mid-download",
        vec![bytes(b"\r\nOK\r\n\r\n+QFTPSIZE: 0,41\r\n\r\nCONNECT\r\n0123"), lines(&["RDY"]), Act::Never],
        vec![Call { chunk: 2, ..Call::new(Op::Get) }, Call::new(Op::InitFresh)],
        [0, 0, 0],
    );
    session(
        "field-silent-mid-download-then-dropped",
        vec![bytes(b"\r\nOK\r\n\r\n+QFTPSIZE: 0,41\r\n\r\nCONNECT\r\n0123"), Act::Never],
        vec![Call { chunk: 2, drop_after: Some(40), ..Call::new(Op::Get) }],
        [2, 30, 0b0010],
    );
    session(
        "field-unsolicited-final-results",
        vec![lines(&["ERROR", "+CME ERROR: 3"]), bytes(b"\r\n+CME ERROR: 4")],
        vec![Call::new(Op::Stat)],
        polite,
    );

    // FTP through the file store: the module moves its local file.
    session(
        "ref-ftp-through-the-store",
        [deferred("+QFTPPUT: 0,41"), deferred("+QFTPGET: 0,7")].concat(),
        vec![Call { start: 8, ..Call::new(Op::PutFromUfs) }, Call { name: 30, start: 8, ..Call::new(Op::GetToUfs) }],
        polite,
    );

    // A listing into a file of the store; store and forward (stage,
    // transfer, delete), after a failure too; a staging file that exists.
    session(
        "ref-list-to-ufs",
        deferred("+QFTPNLST: 0,8"),
        vec![Call { name: 4, chunk: 3 | 1 << 3, start: 8, ..Call::new(Op::ListToUfs) }],
        polite,
    );
    session(
        "ref-put-via-ufs",
        [qfupl(b"hello"), deferred("+QFTPPUT: 0,5"), vec![lines(&["OK"])], vec![lines(&["+QFTPSTAT: 0,1", "OK"])]]
            .concat(),
        vec![Call { name: 4, data: b"hello", start: 8, ..Call::new(Op::PutViaUfs) }, Call::new(Op::Stat)],
        polite,
    );
    session(
        "ref-get-via-ufs",
        [
            deferred("+QFTPGET: 0,5"),
            vec![listed("none.bin", 5)],
            qfdwl(b"hello"),
            vec![lines(&["OK"])],
            vec![lines(&["+QFTPSTAT: 0,1", "OK"])],
        ]
        .concat(),
        vec![Call { name: 4, start: 8, ..Call::new(Op::GetViaUfs) }, Call::new(Op::Stat)],
        polite,
    );
    session(
        "put-via-ufs-fails-staging-deleted",
        [qfupl(b"hello"), deferred("+QFTPPUT: 627,550"), vec![lines(&["OK"])], vec![lines(&["+QFTPSTAT: 0,1", "OK"])]]
            .concat(),
        vec![Call { name: 4, data: b"hello", start: 8, ..Call::new(Op::PutViaUfs) }, Call::new(Op::Stat)],
        polite,
    );
    session(
        "get-via-ufs-fails-nothing-staged",
        [deferred("+QFTPGET: 627,550"), vec![lines(&["+CME ERROR: 405"])], vec![lines(&["+QFTPSTAT: 0,1", "OK"])]]
            .concat(),
        vec![Call { name: 4, start: 8, ..Call::new(Op::GetViaUfs) }, Call::new(Op::Stat)],
        polite,
    );
    session(
        "put-via-ufs-staging-exists",
        vec![lines(&["+CME ERROR: 407"]), lines(&["+QFTPSTAT: 0,1", "OK"])],
        vec![Call { name: 0, data: b"hello", start: 8, ..Call::new(Op::PutViaUfs) }, Call::new(Op::Stat)],
        polite,
    );
    session(
        "get-via-ufs-kept",
        [
            deferred("+QFTPGET: 0,5"),
            vec![listed("none.bin", 5)],
            qfdwl(b"hello"),
            vec![lines(&["+QFTPSTAT: 0,1", "OK"])],
        ]
        .concat(),
        vec![Call { name: 4, chunk: 3 | 1 << 2, start: 8, ..Call::new(Op::GetViaUfs) }, Call::new(Op::Stat)],
        polite,
    );
    session(
        "put-via-ufs-source-short",
        // The module's own end 5 s after the last byte, the escape's `OK`,
        // the probe's answer, the close, the deletion.
        vec![
            lines(&["CONNECT"]),
            Act::Quiet(5000),
            lines(&[&format!("+QFUPL: 5,{}", checksum(b"hello")), "OK"]),
            lines(&["+CMEE: 1", "OK"]),
            lines(&["OK", "+QFTPCLOSE: 0,0"]),
            lines(&["OK"]),
        ],
        vec![Call { name: 4, data: b"hello", start: 8 | 4, ..Call::new(Op::PutViaUfs) }],
        polite,
    );

    // The file store (reference section 8): no session needed.
    let mut store = |name, script: Vec<Act>, calls: Vec<Call>, manners| {
        seeds.push(Seed {
            name,
            script: [boot(), script].concat(),
            calls: std::iter::once(Call::new(Op::InitFresh)).chain(calls).collect(),
            manners,
        });
    };
    store(
        "ref-ufs-space-list-size-delete",
        vec![
            lines(&["+QFLDS: 2096640,2097152", "OK"]),
            lines(&["+QFLST: \"u.bin\",41", "+QFLST: \"w.bin\",0", "OK"]),
            listed("u.bin", 41),
            lines(&["+CME ERROR: 405"]),
        ],
        vec![
            Call::new(Op::UfsSpace),
            Call { name: 5, ..Call::new(Op::UfsList) },
            Call::new(Op::UfsSize),
            Call { name: 4, ..Call::new(Op::UfsDelete) },
        ],
        polite,
    );
    store(
        "ref-ufs-upload-download-read",
        [
            qfupl(b"hello"),
            vec![listed("u.bin", 5)],
            qfdwl(b"hello"),
            vec![lines(&["+QFOPEN: 1027", "OK"]), qfread(b"hello"), qfread(b""), lines(&["OK"])],
        ]
        .concat(),
        vec![
            Call { name: 4, data: b"hello", ..Call::new(Op::UfsUpload) },
            Call::new(Op::UfsDownload),
            Call { chunk: 1, ..Call::new(Op::UfsRead) },
        ],
        polite,
    );
    // ACK mode: 1152 bytes of `0123456789`, an `A` after the first KiB.
    let acked: Vec<u8> = b"0123456789".iter().copied().cycle().take(1152).collect();
    store(
        "ref-ufs-upload-ack-mode",
        // Silent while the client streams the first KiB (a few steps of
        // mock time), the `A` while it waits for it.
        vec![
            lines(&["CONNECT"]),
            Act::Quiet(2000),
            bytes(b"A"),
            Act::Quiet(2000),
            lines(&[&format!("+QFUPL: 1152,{}", checksum(&acked)), "OK"]),
        ],
        vec![Call { name: 4, data: b"0123456789", start: 16, ..Call::new(Op::UfsUploadAck) }],
        polite,
    );
    store(
        "ufs-read-dropped-file-left-open",
        vec![lines(&["+QFOPEN: 1027", "OK"]), bytes(b"\r\nCONNECT 7\r\nAT+"), Act::Never],
        vec![Call { chunk: 1, drop_after: Some(20), ..Call::new(Op::UfsRead) }],
        polite,
    );
    store(
        "ufs-read-timed-out-then-closed",
        vec![
            lines(&["+QFOPEN: 1027", "OK"]),
            bytes(b"\r\nCONNECT 7\r\nAT+"),
            Act::Quiet100,
            // The escape's `OK`, the probe's answer, the close's, the space.
            lines(&["OK"]),
            lines(&["+CMEE: 1", "OK"]),
            lines(&["OK"]),
            lines(&["+QFLDS: 1,2", "OK"]),
        ],
        vec![Call { chunk: 1, ..Call::new(Op::UfsRead) }, Call::new(Op::UfsSpace)],
        polite,
    );
    store(
        "ufs-upload-source-short-module-times-out",
        // The module's own end 5 s after the last byte; then the probe's
        // answer and the space.
        vec![
            lines(&["CONNECT"]),
            Act::Quiet(5000),
            lines(&[&format!("+QFUPL: 3,{}", checksum(b"abc")), "OK"]),
            lines(&["+CMEE: 1", "OK"]),
            lines(&["+QFLDS: 1,2", "OK"]),
        ],
        vec![Call { name: 4, data: b"abc", start: 4, ..Call::new(Op::UfsUpload) }, Call::new(Op::UfsSpace)],
        polite,
    );
    // A byte doubled inside a counted piece (`CONNECT 7`, eight bytes):
    // the piece is not followed by `OK` at once (found by review, then by
    // the property the target checks since).
    store(
        "finding-ufs-read-piece-not-followed-by-ok",
        vec![
            lines(&["+QFOPEN: 1027", "OK"]),
            bytes(b"\r\nCONNECT 7\r\n01233456\r\nOK\r\n"),
            qfread(b""),
            lines(&["OK"]),
        ],
        vec![Call { chunk: 1, ..Call::new(Op::UfsRead) }],
        polite,
    );
    store(
        "ufs-download-more-than-listed",
        [vec![listed("u.bin", 3)], qfdwl(b"hello")].concat(),
        vec![Call::new(Op::UfsDownload), Call::new(Op::UfsSpace)],
        [0, 0, 0],
    );

    // The certificates of FTPS that verifies the server: a CA installed
    // (none yet), the files of a context named.
    // (No `AT` in the data: the target drops such upload data.)
    let pem = b"-----BEGIN CERT-----\nMIIB\n";
    store(
        "ref-install-ca-ssl-files",
        [
            vec![lines(&["+CME ERROR: 405"])],
            qfupl(pem),
            vec![lines(&["OK"]), lines(&["OK"])],
            vec![lines(&["OK"]), lines(&["OK"]), lines(&["OK"])],
        ]
        .concat(),
        vec![
            Call { name: 4, data: pem, start: 32, ..Call::new(Op::InstallCa) },
            Call { name: 10, chunk: 3 | 4 | 8 | 16, start: 32, ..Call::new(Op::SslFiles) },
        ],
        polite,
    );

    // Bring-up with a PIN (issue 15 #6; tests/bringup.rs).
    seeds.push(Seed {
        name: "field-sim-pin",
        script: vec![
            lines(&["ERROR", "+CMEE: 1", "OK"]),
            lines(&["OK"]),
            lines(&["OK"]),
            lines(&["+CPIN: SIM PIN", "OK"]),
            lines(&["OK"]),
            lines(&["+CPIN: READY", "OK"]),
        ],
        calls: vec![Call::new(Op::InitWithPin)],
        manners: polite,
    });
    seeds
}

fn main() -> std::io::Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("seeds").join("client"));
    std::fs::create_dir_all(&out)?;
    let seeds = seeds();
    for seed in &seeds {
        std::fs::write(out.join(seed.name), seed.encode())?;
    }
    println!("{} seeds written to {}", seeds.len(), out.display());
    Ok(())
}
