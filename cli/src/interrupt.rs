//! Ctrl-C and SIGTERM: the first stops the running operation so that the
//! session can be closed cleanly, the second exits at once.
//!
//! [`Interrupt`] is a flag with a waker: the signal handler (a thread that
//! `ctrlc` runs) sets it, and [`Interrupt::unless`] drops the operation's
//! future as soon as it is set. Dropping a driver future is allowed at any
//! point: the client's next call (the session's `close`) leaves data mode
//! and resynchronises first.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::task::{Poll, Waker};

/// Exit status after an interrupt (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The process's interrupt, set by the signal handler [`install`] registers.
pub static SIGNALS: Interrupt = Interrupt::new();

/// A request to stop, with the waker of the task that waits for it.
#[derive(Debug, Default)]
pub struct Interrupt {
    count: AtomicU32,
    waker: Mutex<Option<Waker>>,
}

impl Interrupt {
    /// An interrupt that has not fired.
    pub const fn new() -> Self {
        Interrupt { count: AtomicU32::new(0), waker: Mutex::new(None) }
    }

    /// Fires the interrupt and wakes the task waiting in [`Interrupt::unless`];
    /// returns how often it has fired, this time included.
    pub fn trigger(&self) -> u32 {
        let count = self.count.fetch_add(1, Ordering::SeqCst).saturating_add(1);
        let waker = self.waker.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(waker) = waker {
            waker.wake();
        }
        count
    }

    /// True once the interrupt has fired.
    pub fn is_set(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }

    /// Runs `fut` unless the interrupt fires first: then `fut` is dropped
    /// where it stands and the result is `None`. An interrupt that has
    /// already fired drops `fut` before its first poll.
    pub async fn unless<F: Future>(&self, fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        poll_fn(|cx| {
            // Register before looking, so that a trigger in between wakes us.
            *self.waker.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(cx.waker().clone());
            if self.is_set() {
                return Poll::Ready(None);
            }
            fut.as_mut().poll(cx).map(Some)
        })
        .await
    }
}

/// Installs the handler for Ctrl-C, SIGTERM and SIGHUP: the first signal
/// fires [`SIGNALS`] (the session stops and closes), the second exits at
/// once with [`EXIT_INTERRUPTED`].
pub fn install() -> Result<(), ctrlc::Error> {
    // A signal sent to the whole process group (`timeout`, a terminal's
    // Ctrl-C with a wrapper) can arrive twice within microseconds: a
    // second signal counts only after this long.
    const REPEAT: std::time::Duration = std::time::Duration::from_millis(250);
    let first = Mutex::new(None::<std::time::Instant>);
    ctrlc::set_handler(move || {
        let mut first = first.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match *first {
            None => {
                *first = Some(std::time::Instant::now());
                SIGNALS.trigger();
                eprintln!("qftp: interrupted: stopping and closing the session (again to exit at once)");
            }
            Some(at) if at.elapsed() < REPEAT => {}
            Some(_) => {
                eprintln!("qftp: interrupted again: exiting now");
                std::process::exit(EXIT_INTERRUPTED.into());
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unless_runs_the_future_until_the_interrupt_fires() {
        let interrupt = Interrupt::new();
        assert_eq!(futures_executor::block_on(interrupt.unless(async { 7 })), Some(7));
        let dropped = std::cell::Cell::new(false);
        struct Flag<'a>(&'a std::cell::Cell<bool>);
        impl Drop for Flag<'_> {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let r = futures_executor::block_on(interrupt.unless(async {
            let _flag = Flag(&dropped);
            // Fires while the operation waits.
            let mut fired = false;
            poll_fn(|cx| {
                if !fired {
                    fired = true;
                    cx.waker().wake_by_ref();
                    assert_eq!(interrupt.trigger(), 1);
                }
                Poll::<()>::Pending
            })
            .await;
        }));
        assert_eq!(r, None);
        assert!(dropped.get(), "the operation's future is dropped");
        assert!(interrupt.is_set());
        // Once fired, later operations do not start.
        assert_eq!(futures_executor::block_on(interrupt.unless(async { panic!("polled") })), None::<()>);
        assert_eq!(interrupt.trigger(), 2);
    }

    #[test]
    fn a_trigger_from_another_thread_wakes_the_waiting_task() {
        let interrupt = std::sync::Arc::new(Interrupt::new());
        let remote = std::sync::Arc::clone(&interrupt);
        let r = futures_executor::block_on(interrupt.unless(async move {
            std::thread::spawn(move || remote.trigger());
            std::future::pending::<()>().await
        }));
        assert_eq!(r, None);
    }
}
