//! The FTP session on QEMU's `mps2-an386` (see `run.sh`).
//!
//! UART0 goes to the simulated modem, SysTick drives embassy-time, an
//! embassy thread-mode executor runs the session, and semihosting carries
//! the server's address in (`-semihosting-config arg=...`), the report out
//! and the exit status back to QEMU: 0 only if every step and the CRC were
//! right.
//!
//! The session calls every client operation (`ftp_session::run`); with
//! `--features upload-only` it only brings the module up, logs in, uploads
//! one file and logs out (`ftp_session::upload`): the size report's second
//! image, showing that a firmware links only the driver code it calls.
#![no_std]
#![no_main]

mod semi;
mod stack;
mod time;
mod uart;

use core::cell::UnsafeCell;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use embassy_executor::Executor;
use ftp_session::{Plan, Step};
use quectel_ftp::{FtpConfig, PdpConfig};

/// The chunk buffer: the driver's receive buffer and upload chunk.
const BUF_LEN: usize = 1024 + quectel_ftp::RX_LEN + 1;

#[entry]
fn main() -> ! {
    stack::paint();
    let p = cortex_m::Peripherals::take().unwrap();
    time::init(p.SYST);
    // SAFETY: `main` never returns and runs once: the executor lives for ever.
    static mut EXECUTOR: UnsafeCell<Option<Executor>> = UnsafeCell::new(None);
    let executor = unsafe { (*core::ptr::addr_of_mut!(EXECUTOR)).get_mut().insert(Executor::new()) };
    executor.run(|spawner| spawner.spawn(session().unwrap()))
}

#[embassy_executor::task]
async fn session() {
    let mut args = [0u8; 64];
    let Some((host, port)) = semi::cmdline(&mut args).and_then(server_address) else {
        semi::fail("usage: -semihosting-config enable=on,arg=<host>,arg=<port>");
    };
    let plan = Plan {
        pdp: PdpConfig { apn: "internet", ..PdpConfig::default() },
        ftp: FtpConfig { user: "test", password: "test", rsp_timeout_s: 30, ..FtpConfig::default() },
        host,
        port,
        dir: "qemu",
        len: 20_000,
        chunk: 4096,
    };
    let mut buf = [0u8; BUF_LEN];
    let mut log = |step: Step| hprintln!("step {}", step.name());
    let result = run(&mut buf, &plan, &mut log).await;
    let peak = stack::peak();
    match result {
        Ok(r) => {
            #[cfg(not(feature = "upload-only"))]
            hprintln!("session ok: {} bytes up and down, crc32 {:08x}, {} bytes listed", r.bytes, r.crc, r.listed);
            #[cfg(feature = "upload-only")]
            hprintln!("session ok: {} bytes up, crc32 {:08x}", r.bytes, r.crc);
            hprintln!("peak stack: {} bytes", peak);
            semi::exit(true)
        }
        Err(failed) => {
            hprintln!("peak stack: {} bytes", peak);
            semi::fail_with(failed)
        }
    }
}

#[cfg(not(feature = "no-driver"))]
async fn run(
    buf: &mut [u8],
    plan: &Plan<'_>,
    log: &mut dyn FnMut(Step),
) -> Result<ftp_session::Report, ftp_session::Failed> {
    // Not `unwrap`: that would link the error's `Debug` for nothing.
    let Ok(mut ftp) = quectel_ftp::Ftp::new(uart::Uart0::new(115_200), buf) else {
        semi::fail("chunk buffer too small");
    };
    #[cfg(not(feature = "upload-only"))]
    let session = ftp_session::run(&mut ftp, plan, log);
    #[cfg(feature = "upload-only")]
    let session = ftp_session::upload(&mut ftp, plan, log);
    session.await
}

/// The baseline: the same non-driver work (UART, timers, generator, CRC),
/// no driver (with `upload-only`: the generator and CRC of the upload).
#[cfg(feature = "no-driver")]
async fn run(
    buf: &mut [u8],
    plan: &Plan<'_>,
    log: &mut dyn FnMut(Step),
) -> Result<ftp_session::Report, ftp_session::Failed> {
    use embassy_time::{with_timeout, Duration};
    use embedded_io_async::{Read, Write};
    let mut uart = uart::Uart0::new(115_200);
    let _ = uart.write_all(b"AT\r").await;
    let _ = with_timeout(Duration::from_millis(100), uart.read(buf)).await;
    #[cfg(not(feature = "upload-only"))]
    let stub = ftp_session::stub(buf, plan, log);
    #[cfg(feature = "upload-only")]
    let stub = ftp_session::stub_upload(buf, plan, log);
    stub.await
}

/// `<host> <port>` from the semihosting command line.
fn server_address(args: &str) -> Option<(&str, u16)> {
    let mut words = args.split_ascii_whitespace();
    Some((words.next()?, words.next()?.parse().ok()?))
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    semi::exit(false)
}
