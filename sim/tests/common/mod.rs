//! A raw-AT test harness over the in-process pair.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use embedded_io::{Read, ReadReady, Write};
use quectel_ftp_sim::{pair, SimConfig, SimControl, SimPort, TestServer};

/// Longest wait for any expected output.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// The host side of a simulated module, with a receive buffer.
pub struct Host {
    pub port: SimPort,
    pub control: SimControl,
    buf: Vec<u8>,
}

impl Host {
    pub fn new(config: SimConfig) -> Self {
        let (port, control) = pair(config);
        Host { port, control, buf: Vec::new() }
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.port.write_all(bytes.as_ref()).unwrap();
    }

    /// Reads whatever arrives within `wait`.
    pub fn drain(&mut self, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            self.fill();
            std::thread::sleep(Duration::from_millis(2));
        }
        self.fill();
        std::mem::take(&mut self.buf)
    }

    fn fill(&mut self) -> bool {
        if self.port.read_ready().unwrap() {
            let mut chunk = [0u8; 4096];
            let n = self.port.read(&mut chunk).unwrap();
            self.buf.extend_from_slice(&chunk[..n]);
            n > 0
        } else {
            false
        }
    }

    /// Everything up to and including `needle`; panics after [`TIMEOUT`].
    pub fn read_until(&mut self, needle: impl AsRef<[u8]>) -> Vec<u8> {
        let needle = needle.as_ref();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(at) = find(&self.buf, needle) {
                let rest = self.buf.split_off(at + needle.len());
                return std::mem::replace(&mut self.buf, rest);
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {:?}; got {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&self.buf)
            );
            if !self.fill() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Reads exactly `n` bytes.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + TIMEOUT;
        while self.buf.len() < n {
            assert!(
                Instant::now() < deadline,
                "timed out reading {n} bytes; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            if !self.fill() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let rest = self.buf.split_off(n);
        std::mem::replace(&mut self.buf, rest)
    }

    /// Sends `cmd` + CR and returns the response up to `end` as text.
    pub fn at(&mut self, cmd: &str, end: &str) -> String {
        self.send(format!("{cmd}\r"));
        String::from_utf8(self.read_until(end)).unwrap()
    }

    /// Sends `cmd` and asserts the exact response.
    pub fn expect(&mut self, cmd: &str, response: &str) {
        self.send(format!("{cmd}\r"));
        let got = self.read_exact(response.len());
        assert_eq!(String::from_utf8_lossy(&got), response, "response to {cmd}");
    }

    /// Asserts the next output exactly, without sending anything.
    pub fn expect_output(&mut self, response: &str) {
        let got = self.read_exact(response.len());
        assert_eq!(String::from_utf8_lossy(&got), response);
    }

    /// Echo off, PDP context 1 up, account set.
    pub fn bring_up(&mut self, user: &str, password: &str) {
        assert_eq!(self.at("ATE0", "OK\r\n"), "ATE0\r\r\nOK\r\n");
        self.expect("AT+QIACT=1", "\r\nOK\r\n");
        self.expect(&format!(r#"AT+QFTPCFG="account","{user}","{password}""#), "\r\nOK\r\n");
    }

    /// `AT+QFTPOPEN` and its deferred result line.
    pub fn open(&mut self, host: &str, port: u16) -> String {
        let text = self.at(&format!(r#"AT+QFTPOPEN="{host}",{port}"#), "+QFTPOPEN: ");
        assert_eq!(text, "\r\nOK\r\n\r\n+QFTPOPEN: ");
        self.line()
    }

    /// The rest of the current line, without CRLF.
    pub fn line(&mut self) -> String {
        let mut line = String::from_utf8(self.read_until("\r\n")).unwrap();
        line.truncate(line.len() - 2);
        line
    }

    /// A module logged in to `server` as test/test.
    pub fn logged_in(server: &TestServer, config: SimConfig) -> Self {
        let mut host = Host::new(config);
        host.bring_up("test", "test");
        assert_eq!(host.open("127.0.0.1", server.port()), "0,0");
        host
    }

    /// Uploads `data` with `<uploadlen>`,`<beof>` (no escape needed).
    pub fn put_counted(&mut self, name: &str, start: usize, data: &[u8], beof: u8) {
        let cmd = format!(r#"AT+QFTPPUT="{name}","COM:",{start},{},{beof}"#, data.len());
        assert_eq!(self.at(&cmd, "CONNECT\r\n"), "\r\nCONNECT\r\n");
        self.send(data);
        let expected = format!("\r\nOK\r\n\r\n+QFTPPUT: 0,{}\r\n", data.len());
        assert_eq!(String::from_utf8(self.read_until(&expected)).unwrap(), expected);
    }

    /// Downloads with `<startpos>`,`<downloadlen>` and checks the framing.
    pub fn get_counted(&mut self, name: &str, start: usize, len: usize) -> Vec<u8> {
        let cmd = format!(r#"AT+QFTPGET="{name}","COM:",{start},{len}"#);
        assert_eq!(self.at(&cmd, "CONNECT\r\n"), "\r\nCONNECT\r\n");
        let head = self.read_until("\r\nOK\r\n\r\n+QFTPGET: 0,");
        let n: usize = self.line().parse().unwrap();
        let tail = b"\r\nOK\r\n\r\n+QFTPGET: 0,".len();
        assert_eq!(head.len() - tail, n, "payload length matches the result");
        head[..n].to_vec()
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A payload with every byte value and every sequence a parser could trip on.
pub fn hostile_payload() -> Vec<u8> {
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend_from_slice(b"\r\nOK\r\n+++\r\nCONNECT\r\n\r\n+QFTPGET: 0,5\r\nERROR\r\n+++");
    data.extend((0..=255u8).rev());
    data
}

/// The test's own statement of the FILE manual's `<checksum>` (16-bit XOR
/// of big-endian byte pairs, an odd last byte padded with 0), as the
/// lowercase hex the module prints: the oracle for `+QFUPL:`/`+QFDWL:`.
pub fn checksum_hex(data: &[u8]) -> String {
    let mut sum = 0u16;
    for (i, &byte) in data.iter().enumerate() {
        sum ^= if i % 2 == 0 { u16::from(byte) << 8 } else { u16::from(byte) };
    }
    format!("{sum:x}")
}

/// `n` bytes cycling through [`hostile_payload`].
pub fn hostile_of_len(n: usize) -> Vec<u8> {
    hostile_payload().into_iter().cycle().take(n).collect()
}

impl Host {
    /// `AT+QFUPL="<name>",<len>` with `data` (no escape needed), checking
    /// the framing and the result.
    pub fn upload_file(&mut self, name: &str, data: &[u8]) {
        assert_eq!(self.at(&format!(r#"AT+QFUPL="{name}",{}"#, data.len()), "CONNECT\r\n"), "\r\nCONNECT\r\n");
        self.send(data);
        self.expect_output(&format!("\r\n+QFUPL: {},{}\r\n\r\nOK\r\n", data.len(), checksum_hex(data)));
    }

    /// `AT+QFDWL="<name>"` of a file of `size` bytes: its bytes, checking
    /// the framing and the result line (size and checksum).
    pub fn download_file(&mut self, name: &str, size: usize) -> Vec<u8> {
        self.expect(&format!(r#"AT+QFDWL="{name}""#), "\r\nCONNECT\r\n");
        let data = self.read_exact(size);
        self.expect_output(&format!("\r\n+QFDWL: {size},{}\r\n\r\nOK\r\n", checksum_hex(&data)));
        data
    }
}

/// Starts embassy-time's mock clock (once per process), moved on from the
/// wall clock by a background thread: the client's deadlines then pass in
/// real time, as the simulated module's do.
pub fn start_wall_clock() {
    static CLOCK: std::sync::Once = std::sync::Once::new();
    CLOCK.call_once(|| {
        std::thread::spawn(|| {
            let start = Instant::now();
            let mut advanced = 0u64;
            loop {
                std::thread::sleep(std::time::Duration::from_millis(1));
                let now = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                embassy_time::MockDriver::get().advance(embassy_time::Duration::from_micros(now - advanced));
                advanced = now;
            }
        });
    });
}

/// Bytes received, as an async sink.
#[derive(Default)]
pub struct Sink(pub Vec<u8>);

impl embedded_io_async::ErrorType for Sink {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Write for Sink {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}
