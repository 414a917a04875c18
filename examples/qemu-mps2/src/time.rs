//! embassy-time on SysTick: a 1 kHz tick counter and a timer queue.
//!
//! QEMU's mps2 boards clock SysTick (with `CLKSOURCE` = processor) from the
//! 25 MHz SYSCLK (`SYSCLK_FRQ` in hw/arm/mps2.c), in virtual time that
//! follows the host's clock.

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;
use critical_section::{CriticalSection, Mutex};
use embassy_time_driver::{time_driver_impl, Driver, TICK_HZ};
use embassy_time_queue_utils::Queue;

/// The core clock of QEMU's mps2-an385/an386.
const CORE_HZ: u64 = 25_000_000;

struct SysTickDriver {
    ticks: Mutex<Cell<u64>>,
    /// The next tick at which a timer expires.
    alarm: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

impl SysTickDriver {
    /// Wakes expired timers and re-arms.
    fn expire(&self, cs: CriticalSection<'_>, now: u64) {
        let next = self.queue.borrow_ref_mut(cs).next_expiration(now);
        self.alarm.borrow(cs).set(next);
    }
}

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            if self.queue.borrow_ref_mut(cs).schedule_wake(at, waker) {
                self.expire(cs, self.ticks.borrow(cs).get());
            }
        })
    }
}

time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    alarm: Mutex::new(Cell::new(u64::MAX)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

/// Starts the tick: one SysTick interrupt per embassy-time tick.
pub fn init(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload((CORE_HZ / TICK_HZ) as u32 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let now = DRIVER.ticks.borrow(cs).get() + 1;
        DRIVER.ticks.borrow(cs).set(now);
        if now >= DRIVER.alarm.borrow(cs).get() {
            DRIVER.expire(cs, now);
        }
    })
}
