//! `qftp-sim`: a simulated BG95 on a pseudo-terminal (or a TCP socket), so
//! that any program that opens a serial port can talk to it.
//!
//! ```text
//! qftp-sim [--tcp 127.0.0.1:PORT] [--with-server] [FAULT OPTIONS]
//! ```
//!
//! Without `--tcp` it opens a pty and prints its `/dev/pts/N` path as the
//! only line on stdout. With `--with-server` it also starts the in-process
//! FTP server and describes it on stderr. `--stall-upload-after N` arms the
//! fault that leaves the module in the middle of a counted upload after N
//! payload bytes (`Faults::stall_upload_after`); when it has bitten,
//! `qftp-sim: upload stalled` goes to stderr. Runs until killed.
//!
//! The other fault options set the [`Faults`] field of the same name (the
//! usage text lists them): `--baud N`, `--urcs-in-windows N`,
//! `--put-timeout-without-ok`, `--end-upload-after BYTES`, `--eof-as-550`,
//! `--size-unsupported REPLY`, `--fail-data-connection`,
//! `--busy-after-data-failure`, `--rejects-probe`, `--sim STATE` (`ready`,
//! `pin:<PIN>`, `puk`, `not-inserted`, `failure`, `busy:<N>`), and
//! `Faults::registration`'s `--registration-delay-ms MS`,
//! `--registration-stat N`, `--registration-via eps|gprs|cs`, `--rssi N`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use embedded_io::{Read as _, ReadReady as _, Write as _};
use quectel_ftp_sim::{pair, Faults, SimConfig, SimControl, SimPort, TestServer};

const USAGE: &str = "usage: qftp-sim [--tcp 127.0.0.1:PORT] [--with-server] [--baud N] [--stall-upload-after BYTES]
                [--urcs-in-windows N] [--put-timeout-without-ok] [--end-upload-after BYTES]
                [--eof-as-550] [--size-unsupported REPLY] [--fail-data-connection]
                [--busy-after-data-failure] [--rejects-probe]
                [--sim ready|pin:PIN|puk|not-inserted|failure|busy:N]
                [--registration-delay-ms MS] [--registration-stat N] [--registration-via eps|gprs|cs] [--rssi N]";
/// Polling period of the bridge when neither side has data.
const IDLE: Duration = Duration::from_millis(2);

struct Options {
    tcp: Option<String>,
    with_server: bool,
    faults: Faults,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options { tcp: None, with_server: false, faults: Faults::default() };
    let mut args = std::env::args().skip(1);
    let faults = &mut options.faults;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(USAGE);
        match arg.as_str() {
            "--tcp" => options.tcp = Some(value()?),
            "--with-server" => options.with_server = true,
            "--baud" => faults.baud = Some(number(&value()?)?),
            "--stall-upload-after" => faults.stall_upload_after = Some(number(&value()?)?),
            "--urcs-in-windows" => faults.urcs_in_windows = number(&value()?)?,
            "--put-timeout-without-ok" => faults.put_timeout_without_ok = true,
            "--end-upload-after" => faults.end_upload_after = Some(number(&value()?)?),
            "--eof-as-550" => faults.eof_as_550 = true,
            "--size-unsupported" => faults.size_unsupported = Some(number(&value()?)?),
            "--fail-data-connection" => faults.fail_data_connection = true,
            "--busy-after-data-failure" => faults.busy_after_data_failure = true,
            "--rejects-probe" => faults.rejects_probe = true,
            "--sim" => faults.sim = value()?.parse().map_err(|_: String| USAGE.to_owned())?,
            "--registration-delay-ms" => faults.registration.delay = Duration::from_millis(number(&value()?)?),
            "--registration-stat" => faults.registration.stat = number(&value()?)?,
            "--registration-via" => {
                faults.registration.via = value()?.parse().map_err(|_: String| USAGE.to_owned())?;
            }
            "--rssi" => faults.registration.rssi = number(&value()?)?,
            _ => return Err(USAGE.to_owned()),
        }
    }
    Ok(options)
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| USAGE.to_owned())
}

fn main() {
    let options = match parse_args() {
        Ok(options) => options,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(options) {
        eprintln!("qftp-sim: {error}");
        std::process::exit(1);
    }
}

fn run(options: Options) -> io::Result<()> {
    let _server = if options.with_server {
        let server = TestServer::start()?;
        eprintln!(
            "qftp-sim: FTP server on 127.0.0.1:{} (user test/test or anonymous), root {}",
            server.port(),
            server.root().display()
        );
        Some(server)
    } else {
        None
    };
    let (port, control) = pair(SimConfig { faults: options.faults, ..SimConfig::default() });
    let mut module = Module { port, control, stalls: 0 };
    match options.tcp {
        Some(addr) => serve_tcp(&mut module, &addr),
        None => serve_pty(&mut module),
    }
}

/// The simulated module's line, and what the bridge reports about it.
struct Module {
    port: SimPort,
    control: SimControl,
    /// Stalled uploads already reported.
    stalls: u64,
}

impl Module {
    /// Says on stderr when the stall fault has bitten.
    fn report(&mut self) {
        let stalls = self.control.stalled_uploads();
        if stalls > self.stalls {
            self.stalls = stalls;
            eprintln!("qftp-sim: upload stalled (the module waits for the rest of the chunk)");
        }
    }
}

/// Serves one TCP client at a time; the module keeps its state between them.
fn serve_tcp(module: &mut Module, addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    println!("{}", listener.local_addr()?);
    io::stdout().flush()?;
    loop {
        let (mut stream, _) = listener.accept()?;
        stream.set_nonblocking(true)?;
        if let Err(error) = bridge(module, &mut stream) {
            eprintln!("qftp-sim: connection ended: {error}");
        }
    }
}

/// Opens a raw pseudo-terminal, prints the slave's path and serves it.
fn serve_pty(module: &mut Module) -> io::Result<()> {
    let (master, slave, path) = open_pty()?;
    println!("{path}");
    io::stdout().flush()?;
    let mut master = File::from(master);
    // The slave stays open here so the master never sees a hang-up when a
    // client closes it: the "device" outlives its users.
    let _slave = slave;
    bridge(module, &mut master)
}

fn open_pty() -> io::Result<(OwnedFd, OwnedFd, String)> {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors; name, termios and winsize may be null.
    let rc =
        unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty succeeded, so both descriptors are open and ours.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    use std::os::fd::AsRawFd;
    // SAFETY: plain termios calls on a descriptor we own.
    unsafe {
        let mut tio: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut tio) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::cfmakeraw(&mut tio);
        if libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &tio) != 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        if libc::fcntl(master.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: the buffer is valid for its length.
    let rc = unsafe { libc::ttyname_r(slave.as_raw_fd(), name.as_mut_ptr(), name.len()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    // SAFETY: ttyname_r wrote a NUL-terminated string into the buffer.
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    Ok((master, slave, path.to_string_lossy().into_owned()))
}

/// Copies bytes both ways between the module and a non-blocking link until
/// the link reaches end of file.
fn bridge(module: &mut Module, link: &mut (impl Read + Write)) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let port = &mut module.port;
        let mut idle = true;
        match link.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                port.write_all(&buf[..n]).map_err(io::Error::other)?;
                idle = false;
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(e) => return Err(e),
        }
        while port.read_ready().map_err(io::Error::other)? {
            let n = port.read(&mut buf).map_err(io::Error::other)?;
            if n == 0 {
                return Ok(());
            }
            write_all_nonblocking(link, &buf[..n])?;
            idle = false;
        }
        if idle {
            module.report();
            std::thread::sleep(IDLE);
        }
    }
}

fn write_all_nonblocking(link: &mut impl Write, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match link.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {
                std::thread::sleep(IDLE)
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
