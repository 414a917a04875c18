//! The CMSDK APB UART0 of mps2-an386 at 0x4000_4000, polled.
//!
//! When there is nothing to read (or no room to write) the futures return
//! `Pending` and wake themselves, so the executor polls again: the simplest
//! driver that still lets timeouts fire.

use core::convert::Infallible;
use core::future::poll_fn;
use core::ptr::{read_volatile, write_volatile};
use core::task::Poll;

use embedded_io_async::{ErrorType, Read, Write};

const BASE: usize = 0x4000_4000;
const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const BAUDDIV: usize = 0x10;

const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;

/// PCLK of the UARTs: the 25 MHz SYSCLK.
const PCLK_HZ: u32 = 25_000_000;

pub struct Uart0(());

impl Uart0 {
    /// Enables transmitter and receiver. QEMU does not pace the line, but
    /// wants a valid divider.
    pub fn new(baud: u32) -> Self {
        let uart = Uart0(());
        uart.set(BAUDDIV, PCLK_HZ / baud);
        uart.set(CTRL, CTRL_TX_EN | CTRL_RX_EN);
        uart
    }

    fn get(&self, reg: usize) -> u32 {
        // SAFETY: a register of UART0, which this driver owns.
        unsafe { read_volatile((BASE + reg) as *const u32) }
    }

    fn set(&self, reg: usize, value: u32) {
        // SAFETY: as above.
        unsafe { write_volatile((BASE + reg) as *mut u32, value) }
    }
}

impl ErrorType for Uart0 {
    type Error = Infallible;
}

impl Read for Uart0 {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        poll_fn(|cx| {
            let mut n = 0;
            while n < buf.len() && self.get(STATE) & STATE_RX_FULL != 0 {
                buf[n] = self.get(DATA) as u8;
                n += 1;
            }
            if n > 0 || buf.is_empty() {
                Poll::Ready(Ok(n))
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }
}

impl Write for Uart0 {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        poll_fn(|cx| {
            let mut n = 0;
            while n < buf.len() && self.get(STATE) & STATE_TX_FULL == 0 {
                self.set(DATA, buf[n].into());
                n += 1;
            }
            if n > 0 || buf.is_empty() {
                Poll::Ready(Ok(n))
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }

    /// QEMU sends each byte as it is written.
    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}
