//! Runs the tokenizer over a 1 MiB modem stream so that callgrind can count
//! its instructions per input byte. `process` is the measured function; see
//! `benches/parser.sh`.
//!
//! Usage: `quectel-ftp-parser-bench <at|atat|exact|confirmed|confirmed-hostile> [read size]`
//!
//! `atat` runs the same AT stream through atat's `Ingress` and `AtDigester`
//! (the URC parser below recognises the unsolicited and deferred lines, as an
//! atat user of this command set would have to), draining the response slot
//! and the URC channel after every read as a client task would.

use std::hint::black_box;

use quectel_ftp::at::tokenizer::{Frame, Payload, Tokenizer};

const MIB: usize = 1 << 20;

/// A modem's side of FTP sessions as the reference documents them (sections
/// 5, 6 and 6b), with URCs in between, repeated to 1 MiB.
fn at_stream() -> Vec<u8> {
    let session: &[&[u8]] = &[
        b"\r\nOK\r\n",
        b"\r\n+QIACT: 1,1,1,\"10.7.157.1\"\r\n\r\nOK\r\n",
        b"\r\nOK\r\n\r\n+QFTPOPEN: 0,0\r\n",
        b"\r\nOK\r\n\r\n+QFTPCWD: 0,0\r\n",
        b"\r\nOK\r\n\r\n+QFTPPWD: 0,\"/firmware/releases\"\r\n",
        b"\r\n+QIURC: \"pdpdeact\",1\r\n",
        b"\r\nOK\r\n\r\n+QFTPSIZE: 0,1048576\r\n",
        b"\r\nOK\r\n\r\n+QFTPMDTM: 0,\"20140708110039\"\r\n",
        b"\r\n+CEREG: 1,\"1A2B\",\"01A2B3C4\",9\r\n",
        b"\r\nOK\r\n\r\n+QFTPSIZE: 627,550\r\n",
        b"\r\n+QFTPSTAT: 0,1\r\n\r\nOK\r\n",
        b"\r\nOK\r\n\r\n+QFTPLEN: 0,550\r\n",
        b"\r\n+CME ERROR: 603\r\n",
        b"\r\nOK\r\n\r\n+QFTPPUT: 0,4096\r\n",
        b"\r\nOK\r\n\r\n+QFTPDEL: 0,0\r\n",
        b"\r\nOK\r\n\r\n+QFTPCLOSE: 0,0\r\n",
    ];
    let mut s = Vec::with_capacity(MIB + 256);
    while s.len() < MIB {
        for part in session {
            s.extend_from_slice(part);
        }
    }
    s
}

/// `CONNECT`, 1 MiB of random binary payload, and the trailer. A `hostile`
/// payload also holds a fake end of payload (`\r\nOK\r\n\r\n+QFTPGET: 0,5`)
/// every 800 bytes or so, each of which the confirmed mode must examine.
fn payload_stream(hostile: bool) -> (Vec<u8>, usize) {
    let mut payload = Vec::with_capacity(MIB);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    while payload.len() < MIB {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        payload.extend_from_slice(&x.to_le_bytes());
        if hostile && x % 97 == 0 {
            payload.extend_from_slice(b"\r\nOK\r\n\r\n+QFTPGET: 0,5\r\n");
        }
    }
    payload.truncate(MIB);
    let mut s = b"\r\nCONNECT\r\n".to_vec();
    s.extend_from_slice(&payload);
    s.extend_from_slice(format!("\r\nOK\r\n\r\n+QFTPGET: 0,{MIB}\r\n").as_bytes());
    (s, MIB)
}

/// The measured work: feed `stream` in reads of `read` bytes, touch every
/// frame. Returns a checksum so nothing is optimised away.
#[inline(never)]
fn process(stream: &[u8], read: usize, payload: Option<Payload>) -> u64 {
    let mut tok = Tokenizer::<320>::new();
    if let Some(p) = payload {
        tok.expect_payload(p);
    }
    let mut sum = 0u64;
    for mut chunk in stream.chunks(read) {
        loop {
            let (used, frame) = tok.feed(chunk);
            chunk = &chunk[used..];
            match frame {
                Some(Frame::Data(d)) | Some(Frame::Line(d)) => sum = sum.wrapping_add(d.len() as u64),
                Some(_) => sum = sum.wrapping_add(1),
                None if chunk.is_empty() => break,
                None => {}
            }
        }
    }
    sum
}

/// URCs for atat: in atat's model every `+QFTPxxx:` result after `OK`, and
/// every `+QIURC:`/`+CEREG:` line, is a URC.
#[derive(Clone)]
struct AtatLine(#[allow(dead_code)] usize);

impl atat::AtatUrc for AtatLine {
    fn parse(resp: &[u8]) -> Option<Self> {
        Some(AtatLine(resp.len()))
    }
}

impl atat::Parser for AtatLine {
    fn parse(buf: &[u8]) -> Result<(&[u8], usize), atat::digest::ParseError> {
        use atat::digest::ParseError;
        let start = buf.iter().position(|b| !matches!(b, b'\r' | b'\n')).ok_or(ParseError::NoMatch)?;
        let line = &buf[start..];
        let urc = [&b"+QIURC:"[..], b"+CEREG:", b"+QFTP"].iter().any(|p| line.starts_with(p) || p.starts_with(line));
        if !urc {
            return Err(ParseError::NoMatch);
        }
        let end = line.windows(2).position(|w| w == b"\r\n").ok_or(ParseError::Incomplete)?;
        Ok((&line[..end], start + end + 2))
    }
}

#[inline(never)]
fn process_atat(stream: &[u8], read: usize) -> u64 {
    use atat::{AtDigester, AtatIngress, Ingress, ResponseSlot, UrcChannel};
    let slot = ResponseSlot::<512>::new();
    let urcs = UrcChannel::<AtatLine, 64, 1>::new();
    let mut sub = urcs.subscribe().expect("one subscriber");
    let mut buf = [0u8; 1024];
    let mut ingress = Ingress::new(AtDigester::<AtatLine>::new(), &mut buf, &slot, &urcs);
    let mut sum = 0u64;
    for chunk in stream.chunks(read) {
        let n = ingress.try_write(chunk).expect("atat ingress accepts the stream");
        assert_eq!(n, chunk.len());
        sum = sum.wrapping_add(n as u64);
        while let Some(AtatLine(len)) = sub.try_next_message_pure() {
            sum = sum.wrapping_add(len as u64);
        }
        if slot.try_get().is_some() {
            sum = sum.wrapping_add(1);
            slot.reset();
        }
    }
    sum
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "at".into());
    let read: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(256);
    if mode == "atat" {
        let stream = at_stream();
        let sum = process_atat(black_box(&stream), read);
        println!("mode={mode} bytes={} read={read} checksum={sum}", stream.len());
        return;
    }
    let (stream, payload) = match mode.as_str() {
        "at" => (at_stream(), None),
        "exact" => {
            let (s, n) = payload_stream(true);
            (s, Some(Payload::Exact(n as u64)))
        }
        "confirmed" | "confirmed-hostile" => {
            let (s, n) = payload_stream(mode == "confirmed-hostile");
            (s, Some(Payload::Confirmed { result: "QFTPGET", limit: Some(n as u64) }))
        }
        other => {
            eprintln!("unknown mode {other}: use at, atat, exact, confirmed or confirmed-hostile");
            std::process::exit(2);
        }
    };
    let sum = process(black_box(&stream), read, payload);
    println!("mode={mode} bytes={} read={read} checksum={sum}", stream.len());
}
