//! `qftp-sim`: a simulated BG95 on a pseudo-terminal (or a TCP socket), so
//! that any program that opens a serial port can talk to it.
//!
//! Without `--tcp` it opens a pty and prints its `/dev/pts/N` path as the
//! only line on stdout; with `--tcp` it prints the address it listens on.
//! With `--with-server` it also starts the in-process FTP server and
//! describes it on stderr. When the `--stall-upload-after` fault has
//! bitten, `qftp-sim: upload stalled` goes to stderr. Runs until killed.
//!
//! The options are [`Options`] (`qftp-sim --help` prints them); each fault
//! option sets the [`Faults`] field of the same name, or of
//! [`Faults::registration`] for `--registration-*` and `--rssi`. A bad
//! option or value exits with status 2.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use clap::Parser;
use embedded_io::{Read as _, ReadReady as _, Write as _};
use quectel_ftp_sim::{pair, Faults, NetworkDomain, SimConfig, SimControl, SimPort, SimState, TestServer};

/// Polling period of the bridge when neither side has data.
const IDLE: Duration = Duration::from_millis(2);

/// A simulated Quectel BG95 on a pseudo-terminal or a TCP socket.
///
/// Prints the pty's path (or the TCP address) as the only line on stdout,
/// then serves it until killed. Fault options switch on the misbehaviour of
/// real modules and networks, from power-on.
#[derive(Debug, Parser)]
#[command(name = "qftp-sim", version, args_override_self = true)]
struct Options {
    /// Listen on this TCP address (e.g. 127.0.0.1:0) instead of opening a pty; one client at a time.
    #[arg(long, value_name = "ADDR")]
    tcp: Option<String>,
    /// Also start the FTP server on loopback (user test/test or anonymous); its port and root go to stderr.
    #[arg(long)]
    with_server: bool,
    /// Line rate: every byte takes 10/N seconds each way (default: an infinitely fast line).
    #[arg(long, value_name = "N")]
    baud: Option<u32>,
    /// The module loses the rest of the counted upload chunk in which this payload offset falls, and waits for it (one shot).
    #[arg(long, value_name = "BYTES")]
    stall_upload_after: Option<u64>,
    /// Unsolicited lines (+CEREG, +QIND, +QUSIM) in every command-mode window of an FTP exchange.
    #[arg(long, value_name = "N")]
    urcs_in_windows: Option<u8>,
    /// An upload the module ends itself (+QFTPPUT: 609,0) leaves data mode without the OK before it.
    #[arg(long)]
    put_timeout_without_ok: bool,
    /// The module ends the next upload by itself after this many payload bytes (one shot).
    #[arg(long, value_name = "BYTES")]
    end_upload_after: Option<u64>,
    /// A download from the end of a file fails with +QFTPGET: 627,550 instead of an empty chunk.
    #[arg(long)]
    eof_as_550: bool,
    /// AT+QFTPSIZE fails with +QFTPSIZE: 627,REPLY (a server without SIZE: 502 or 500).
    #[arg(long, value_name = "REPLY")]
    size_unsupported: Option<u16>,
    /// The next transfer or listing fails to open its data connection (+CME ERROR: 615; one shot).
    #[arg(long)]
    fail_data_connection: bool,
    /// After that failure the module stays busy (+CME ERROR: 603) until AT+QFTPCLOSE.
    #[arg(long)]
    busy_after_data_failure: bool,
    /// The module answers every command line with ERROR.
    #[arg(long)]
    rejects_probe: bool,
    /// The SIM card: ready, pin:PIN (locked by PIN), puk, not-inserted, failure or busy:N.
    #[arg(long, value_name = "STATE")]
    sim: Option<SimState>,
    /// How long the network search takes after power-on (and after the SIM becomes ready).
    #[arg(long, value_name = "MS")]
    registration_delay_ms: Option<u64>,
    /// The registration state the search ends in: 1 home, 5 roaming, 3 denied, 0 not searching.
    #[arg(long, value_name = "N")]
    registration_stat: Option<u8>,
    /// Which command reports the registration: AT+CEREG? (eps), AT+CGREG? (gprs) or AT+CREG? (cs).
    #[arg(long, value_name = "DOMAIN")]
    registration_via: Option<NetworkDomain>,
    /// The signal AT+CSQ reports: 0-31, 99 unknown.
    #[arg(long, value_name = "N")]
    rssi: Option<u8>,
    /// Bytes each of the module's drives (UFS, RAM) holds (default 4 MiB); more is "no space" (+CME ERROR: 420).
    #[arg(long, value_name = "BYTES")]
    ufs_capacity: Option<u64>,
    /// Files each of the module's drives holds (default 64).
    #[arg(long, value_name = "N")]
    ufs_max_files: Option<usize>,
    /// The module ignores DTR even after AT&D1 (only a guarded +++ leaves data mode). The pty and TCP links carry no
    /// DTR line, so this changes nothing here yet; it is there for a bridge that passes DTR on.
    #[arg(long)]
    ignore_dtr: bool,
    /// The module answers OK this long after it left data mode (a DTR edge, or a +++ and its guard time).
    #[arg(long, value_name = "MS")]
    escape_answer_delay_ms: Option<u64>,
}

impl Options {
    /// The default module's faults with these options applied.
    fn faults(&self) -> Faults {
        let mut faults = Faults::default();
        faults.baud = self.baud.or(faults.baud);
        faults.stall_upload_after = self.stall_upload_after.or(faults.stall_upload_after);
        faults.urcs_in_windows = self.urcs_in_windows.unwrap_or(faults.urcs_in_windows);
        faults.put_timeout_without_ok |= self.put_timeout_without_ok;
        faults.end_upload_after = self.end_upload_after.or(faults.end_upload_after);
        faults.eof_as_550 |= self.eof_as_550;
        faults.size_unsupported = self.size_unsupported.or(faults.size_unsupported);
        faults.fail_data_connection |= self.fail_data_connection;
        faults.busy_after_data_failure |= self.busy_after_data_failure;
        faults.rejects_probe |= self.rejects_probe;
        faults.ignore_dtr |= self.ignore_dtr;
        if let Some(ms) = self.escape_answer_delay_ms {
            faults.escape_answer_delay = Duration::from_millis(ms);
        }
        faults.ufs_capacity = self.ufs_capacity.unwrap_or(faults.ufs_capacity);
        faults.ufs_max_files = self.ufs_max_files.unwrap_or(faults.ufs_max_files);
        if let Some(sim) = &self.sim {
            faults.sim = sim.clone();
        }
        let registration = &mut faults.registration;
        if let Some(ms) = self.registration_delay_ms {
            registration.delay = Duration::from_millis(ms);
        }
        registration.stat = self.registration_stat.unwrap_or(registration.stat);
        registration.via = self.registration_via.unwrap_or(registration.via);
        registration.rssi = self.rssi.unwrap_or(registration.rssi);
        faults
    }
}

fn main() {
    // Usage errors exit with status 2, `--help` and `--version` with 0.
    let options = Options::parse();
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
    let (port, control) = pair(SimConfig { faults: options.faults(), ..SimConfig::default() });
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use quectel_ftp_sim::Registration;

    #[test]
    fn the_command_line_is_well_formed() {
        Options::command().debug_assert();
    }

    #[test]
    fn no_option_keeps_the_default_module() {
        let options = Options::parse_from(["qftp-sim"]);
        assert_eq!((options.tcp.as_deref(), options.with_server), (None, false));
        assert_eq!(options.faults(), Faults::default());
    }

    #[test]
    fn every_fault_option_sets_its_field() {
        #[rustfmt::skip]
        let options = Options::parse_from([
            "qftp-sim", "--tcp", "127.0.0.1:0", "--with-server", "--baud", "9600", "--stall-upload-after", "5",
            "--urcs-in-windows", "3", "--put-timeout-without-ok", "--end-upload-after", "7", "--eof-as-550",
            "--size-unsupported", "502", "--fail-data-connection", "--busy-after-data-failure", "--rejects-probe",
            "--sim", "busy:2", "--registration-delay-ms", "1500", "--registration-stat", "5",
            "--registration-via", "cs", "--rssi", "99", "--ufs-capacity", "1000", "--ufs-max-files", "3",
            "--ignore-dtr", "--escape-answer-delay-ms", "2500",
        ]);
        assert_eq!((options.tcp.as_deref(), options.with_server), (Some("127.0.0.1:0"), true));
        let want = Faults {
            baud: Some(9600),
            stall_upload_after: Some(5),
            urcs_in_windows: 3,
            put_timeout_without_ok: true,
            end_upload_after: Some(7),
            eof_as_550: true,
            size_unsupported: Some(502),
            fail_data_connection: true,
            busy_after_data_failure: true,
            rejects_probe: true,
            sim: SimState::Busy(2),
            registration: Registration {
                delay: Duration::from_millis(1500),
                stat: 5,
                via: NetworkDomain::Cs,
                rssi: 99,
            },
            ufs_capacity: 1000,
            ufs_max_files: 3,
            ignore_dtr: true,
            escape_answer_delay: Duration::from_millis(2500),
            ..Faults::default()
        };
        assert_eq!(options.faults(), want);
    }

    #[test]
    fn a_repeated_option_takes_its_last_value_as_before() {
        let options = Options::parse_from(["qftp-sim", "--rssi", "3", "--rssi", "4", "--with-server", "--with-server"]);
        assert_eq!(options.faults().registration.rssi, 4);
    }
}
