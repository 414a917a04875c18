//! The demo: a generated file with hostile content, up and down again.

use std::time::Instant;

use embedded_io_async::{Read, Write};
use quectel_ftp::{Dtr, Error, Ftp, FtpReply, Listing, Transfer};

use crate::console::{rate, Console};
use crate::session::{Failure, SessionConfig, Step};

/// Size of the demo file.
pub const DEMO_LEN: usize = 256 * 1024;
/// Remote name of the demo file.
pub const DEMO_NAME: &str = "qftp-demo.bin";

/// Byte strings that a careless driver would take for the modem talking:
/// final results, the escape sequence and result lines.
const HOSTILE: &[&[u8]] = &[
    b"\r\nOK\r\n",
    b"+++",
    b"\r\nCONNECT\r\n",
    b"\r\nERROR\r\n",
    b"\r\n+CME ERROR: 603\r\n",
    b"\r\nNO CARRIER\r\n",
    b"\r\n+QFTPGET: 0,512\r\n",
    b"\r\n+QFTPPUT: 0,1024\r\n",
    b"\r\n+QIURC: \"pdpdeact\",1\r\n",
    b"\r\nRDY\r\n",
];

/// `len` bytes of deterministic test data for `seed`: every byte value
/// (0..=255) first, then random bytes interleaved with AT framing
/// (`\r\nOK\r\n`, `+++`, `CONNECT`, result lines).
pub fn hostile_data(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut data: Vec<u8> = (0..=255u8).collect();
    while data.len() < len {
        if rng.u8(..) < 16 {
            data.extend_from_slice(HOSTILE[rng.usize(..HOSTILE.len())]);
        } else {
            let run = rng.usize(1..64);
            data.extend((0..run).map(|_| rng.u8(..)));
        }
    }
    data.truncate(len);
    data
}

/// Uploads [`DEMO_LEN`] bytes of [`hostile_data`] as [`DEMO_NAME`], lists
/// the directory, checks the size (if the server has SIZE), downloads the
/// file, compares it byte for byte and deletes it. Fails unless the copy is
/// exact.
pub async fn run<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    cfg: &SessionConfig,
    console: &mut Console<'_>,
) -> Result<(), Failure> {
    let out = |console: &mut Console<'_>, text: String| {
        writeln!(console.out, "{text}").map_err(|e| Failure::local("demo", "stdout", e))
    };
    let data = hostile_data(DEMO_LEN, 0xdead_beef);
    let crc = crc32fast::hash(&data);
    let tls = match cfg.tls {
        crate::Tls::None => "plain FTP",
        crate::Tls::Implicit => "implicit FTPS",
        crate::Tls::Explicit => "explicit FTPS",
    };
    out(console, format!("demo: {}@{}:{} over {tls}", cfg.user, cfg.host, cfg.port))?;
    out(console, format!("generated {DEMO_NAME}: {} bytes with AT framing inside, CRC-32 {crc:08x}", data.len()))?;

    let bar = console.bar(Some(data.len() as u64), "upload");
    let started = Instant::now();
    let mut report = |n| bar.set_position(n);
    let sent = ftp.put(DEMO_NAME, &mut &data[..], Transfer::default().with_progress(&mut report)).await;
    bar.finish_and_clear();
    let sent = sent.step("demo: put")?;
    out(console, format!("uploaded {DEMO_NAME}: {}", rate(sent, started.elapsed())))?;

    let mut listing = Vec::new();
    let started = Instant::now();
    ftp.list(Listing::List, ".", &mut listing).await.step("demo: ls")?;
    out(console, format!("listed the directory: {} bytes in {:.2} s", listing.len(), started.elapsed().as_secs_f64()))?;
    for line in String::from_utf8_lossy(&listing).lines() {
        out(console, format!("  {line}"))?;
    }

    // A server without SIZE (reply 502 or 500) is no failure: the download
    // then learns where the file ends from the module.
    let size = match ftp.size(DEMO_NAME).await {
        Ok(size) => {
            out(console, format!("server reports {size} bytes"))?;
            Some(size)
        }
        Err(Error::Ftp { reply: Some(reply @ (FtpReply::NotImplemented | FtpReply::SyntaxError)), .. }) => {
            out(console, format!("server has no SIZE (replied {}): the download finds the end", reply.code()))?;
            None
        }
        Err(e) => return Err(Failure::modem("demo: size", e)),
    };

    let mut copy = Vec::with_capacity(data.len());
    let bar = console.bar(size, "download");
    let started = Instant::now();
    let mut report = |n| bar.set_position(n);
    let got = ftp.get(DEMO_NAME, &mut copy, Transfer::default().with_progress(&mut report)).await;
    bar.finish_and_clear();
    let got = got.step("demo: get")?;
    out(console, format!("downloaded {DEMO_NAME}: {}", rate(got, started.elapsed())))?;

    if let Some(at) = data.iter().zip(&copy).position(|(a, b)| a != b) {
        return Err(Failure::other("demo", format!("the downloaded copy differs from the original at byte {at}")));
    }
    if copy.len() != data.len() || size.is_some_and(|size| size != data.len() as u64) {
        let size = size.map_or("an unknown size".to_owned(), |size| format!("{size} bytes"));
        let text = format!("sent {} bytes, server has {size}, received {}", data.len(), copy.len());
        return Err(Failure::other("demo", text));
    }
    out(console, format!("verified: {} bytes identical, CRC-32 {:08x}", copy.len(), crc32fast::hash(&copy)))?;
    ftp.delete(DEMO_NAME).await.step("demo: rm")?;
    out(console, format!("removed {DEMO_NAME}"))
}
