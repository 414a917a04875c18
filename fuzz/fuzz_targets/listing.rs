//! The listing splitter and parsers on arbitrary bytes, split arbitrarily:
//! no panics, the entries do not depend on the split, and they are what
//! parsing each line on its own gives (a line longer than the buffer
//! being its start, as `Kind::Other`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quectel_ftp::listing::{self, Entries, Entry, Kind, Recent};
use quectel_ftp::{Listing, ModifyTime};

type Owned = (Vec<u8>, Kind, Option<u64>, Option<ModifyTime>, Option<Recent>);

fn owned(e: Entry<'_>) -> Owned {
    (e.name.to_vec(), e.kind, e.size, e.modified, e.recent)
}

/// The entries of `text` fed in pieces whose sizes cycle through `split`
/// (in one piece if `split` is empty).
fn entries(format: Listing, text: &[u8], split: &[u8], cap: usize) -> Vec<Owned> {
    let mut buf = vec![0u8; cap];
    let mut out = Vec::new();
    let mut sink = Entries::new(format, &mut buf, |e| out.push(owned(e)));
    let mut sizes = split.iter().map(|&n| usize::from(n) + 1).cycle();
    let mut rest = text;
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(usize::MAX).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        sink.feed(piece);
        rest = tail;
    }
    let n = sink.finish();
    assert_eq!(n, out.len() as u64);
    out
}

/// The same, one line at a time, without the splitter.
fn model(format: Listing, text: &[u8], cap: usize) -> Vec<Owned> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let entry = match line.get(..cap) {
            Some(start) if line.len() > cap => Some((start.to_vec(), Kind::Other, None, None, None)),
            _ => listing::parse(format, line).map(owned),
        };
        out.extend(entry);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [mode, cap, split_len, rest @ ..] = data else { return };
    let format = [Listing::List, Listing::Mlsd, Listing::Nlst][usize::from(*mode % 3)];
    let cap = match *cap {
        255 => listing::LINE_MAX,
        n => usize::from(n % 96),
    };
    let (split, text) = rest.split_at(usize::from(*split_len % 8).min(rest.len()));
    let pieces = entries(format, text, split, cap);
    assert_eq!(pieces, entries(format, text, &[], cap), "the split changed the entries");
    assert_eq!(pieces, model(format, text, cap), "the splitter is not line by line");
    for (name, kind, size, modified, recent) in &pieces {
        if *kind == Kind::Other {
            assert!(size.is_none() && modified.is_none() && recent.is_none());
        } else {
            assert!(!name.is_empty());
        }
        if let Some(t) = modified {
            assert!((1..=12).contains(&t.month) && (1..=31).contains(&t.day) && t.hour < 24 && t.minute < 60);
        }
    }
});
