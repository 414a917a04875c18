//! The time driver: embassy-time's mock driver, paced from the wall clock.
//!
//! The workspace has one embassy-time driver (the driver crate's tests use
//! `mock-driver`, and cargo unifies features), so the host tool uses the same
//! one and moves it forward from a background thread. [`start_wall_clock`]
//! keeps it in step with real time; [`start_clock`] can run it faster, which
//! the soak test uses to shrink the driver's long deadlines.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use embassy_time::MockDriver;

/// How often the pacer moves the clock.
const TICK: Duration = Duration::from_millis(1);

static SCALE: OnceLock<u32> = OnceLock::new();

/// Starts the pacer at real-time speed (once per process; later calls do
/// nothing). Every program and test that drives the client calls this first.
pub fn start_wall_clock() {
    start_clock(1);
}

/// Starts the pacer so that embassy time runs `scale` times faster than the
/// wall clock. Only the first call in a process takes effect; it returns the
/// scale in force.
pub fn start_clock(scale: u32) -> u32 {
    *SCALE.get_or_init(|| {
        let scale = scale.max(1);
        std::thread::Builder::new()
            .name("qftp-clock".into())
            .spawn(move || pace(scale))
            .expect("spawn the clock thread");
        scale
    })
}

/// Advances the mock clock by the scaled wall time elapsed, forever. The
/// total is computed from the start so that no rounding error accumulates.
fn pace(scale: u32) {
    let start = Instant::now();
    let mut advanced: u64 = 0;
    loop {
        std::thread::sleep(TICK);
        let target = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX).saturating_mul(scale.into());
        if target > advanced {
            MockDriver::get().advance(embassy_time::Duration::from_micros(target - advanced));
            advanced = target;
        }
    }
}
