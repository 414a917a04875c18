//! The FTP session on an nRF52840 (e.g. the nRF52840-DK) with a BG95 on
//! UARTE1 (P1.02 TX, P1.01 RX, 115200 8N1). `BufferedUarte` receives by
//! EasyDMA into a ring buffer, counting bytes with TIMER0 over PPI, so
//! nothing is lost between the driver's reads.
//!
//! Server and APN come from the build environment (see
//! `ftp_session::Plan::from_build_env`): `FTP_HOST=... cargo run --release`.
#![no_std]
#![no_main]

use defmt::{error, info};
use embassy_executor::Spawner;
use embassy_nrf::buffered_uarte::{self, BufferedUarte};
use embassy_nrf::{bind_interrupts, peripherals, uarte};
use ftp_session::Plan;
use quectel_ftp::Ftp;
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    UARTE1 => buffered_uarte::InterruptHandler<peripherals::UARTE1>;
});

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let p = embassy_nrf::init(Default::default());
    let mut config = uarte::Config::default();
    config.baudrate = uarte::Baudrate::Baud115200;
    let (mut rx_ring, mut tx_ring) = ([0u8; 1024], [0u8; 256]);
    let modem = BufferedUarte::new(
        p.UARTE1,
        p.TIMER0,
        p.PPI_CH0,
        p.PPI_CH1,
        p.PPI_GROUP0,
        p.P1_01,
        p.P1_02,
        Irqs,
        config,
        &mut rx_ring,
        &mut tx_ring,
    );

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
