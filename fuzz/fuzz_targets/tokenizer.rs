//! The tokenizer on arbitrary bytes, split arbitrarily, in every mode:
//! it must never panic, always make progress, and give the same frames
//! whatever the split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quectel_ftp::at::tokenizer::{Frame, Payload, Tokenizer};

/// Frames as owned data, adjacent payload merged, so that runs compare.
fn frames(input: &[u8], payload: Payload, split: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut tok = Tokenizer::<48>::new();
    tok.expect_payload(payload);
    let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut rest = input;
    let mut sizes = split.iter().cycle();
    while !rest.is_empty() {
        let n = (usize::from(*sizes.next().unwrap_or(&255)) + 1).min(rest.len());
        let (mut chunk, tail) = rest.split_at(n);
        rest = tail;
        let mut idle = 0;
        loop {
            let (used, frame) = tok.feed(chunk);
            assert!(used <= chunk.len());
            chunk = &chunk[used..];
            let Some(frame) = frame else {
                if chunk.is_empty() {
                    break;
                }
                idle += 1;
                assert!(idle < 4, "no progress");
                continue;
            };
            idle = 0;
            let item = match frame {
                Frame::Data(d) => {
                    assert!(!d.is_empty());
                    if let Some((0, prev)) = out.last_mut() {
                        prev.extend_from_slice(d);
                        continue;
                    }
                    (0, d.to_vec())
                }
                Frame::Line(l) => (1, l.to_vec()),
                Frame::Echo(l) => (2, l.to_vec()),
                Frame::DataEnd { len } => (3, len.to_le_bytes().to_vec()),
                Frame::Cme(e) => (4, format!("{e:?}").into_bytes()),
                other => (5, format!("{other:?}").into_bytes()),
            };
            out.push(item);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Some((&limit, rest)) = rest.split_first() else { return };
    let cut = rest.len().min(16);
    let (split, input) = rest.split_at(cut);
    let payload = match mode % 4 {
        0 => Payload::Exact(u64::from(limit)),
        1 => Payload::Confirmed { result: "QFTPGET", limit: Some(u64::from(limit)) },
        // `AT+QFREAD`: the length on the `CONNECT <n>` line.
        2 => Payload::Counted { limit: u64::from(limit) },
        _ => Payload::Confirmed { result: "QFTPLIST", limit: None },
    };
    let whole = frames(input, payload, &[255]);
    assert_eq!(frames(input, payload, split), whole);
    assert_eq!(frames(input, payload, &[0]), whole);
});
