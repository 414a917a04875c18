//! The FTP session on a NUCLEO-F429ZI with a BG95 on USART2 (PD5 TX, PD6
//! RX, 115200 8N1): DMA transmit, DMA ring-buffer receive, embassy.
//!
//! Server and APN come from the build environment (see
//! `ftp_session::Plan::from_build_env`): `FTP_HOST=... cargo run --release`.
#![no_std]
#![no_main]

use defmt::{error, info};
use embassy_executor::Spawner;
use embassy_stm32::mode::Async;
use embassy_stm32::usart::{self, RingBufferedUartRx, Uart, UartTx};
use embassy_stm32::{bind_interrupts, dma, peripherals};
use embedded_io_async::{ErrorType, Read, Write};
use ftp_session::Plan;
use quectel_ftp::Ftp;
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    USART2 => usart::InterruptHandler<peripherals::USART2>;
    DMA1_STREAM5 => dma::InterruptHandler<peripherals::DMA1_CH5>;
    DMA1_STREAM6 => dma::InterruptHandler<peripherals::DMA1_CH6>;
});

/// The modem's UART: DMA writes, and reads from a DMA ring buffer that
/// never stops receiving.
struct Modem<'d> {
    tx: UartTx<'d, Async>,
    rx: RingBufferedUartRx<'d>,
}

impl ErrorType for Modem<'_> {
    type Error = usart::Error;
}

impl Read for Modem<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, usart::Error> {
        self.rx.read(buf).await
    }
}

impl Write for Modem<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, usart::Error> {
        Write::write(&mut self.tx, buf).await
    }

    async fn flush(&mut self) -> Result<(), usart::Error> {
        Write::flush(&mut self.tx).await
    }
}

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let p = embassy_stm32::init(Default::default());
    let mut config = usart::Config::default();
    config.baudrate = 115_200;
    let uart = Uart::new(p.USART2, p.PD6, p.PD5, p.DMA1_CH6, p.DMA1_CH5, Irqs, config).unwrap();
    let (tx, rx) = uart.split();
    let mut ring = [0u8; 1024];
    let modem = Modem { tx, rx: rx.into_ring_buffered(&mut ring) };

    let mut buf = [0u8; 4096 + quectel_ftp::RX_LEN + 1];
    let mut ftp = Ftp::new(modem, &mut buf).unwrap();
    let plan = Plan::from_build_env();
    match ftp_session::run(&mut ftp, &plan, &mut |step| info!("step {}", step)).await {
        Ok(report) => info!("session ok: {}", report),
        Err(failed) => {
            error!("session failed: {}", failed);
            let _ = ftp.close().await;
        }
    }
}
