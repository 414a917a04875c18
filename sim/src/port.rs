//! The host's end of the simulated UART.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use embedded_io::ErrorKind;

use crate::line::{lock, Outbox, Shared, Wire};

/// The host's end of the serial line to the simulated module.
///
/// Writes never block (the module has an unbounded receive FIFO); `flush`
/// waits until the bytes written have gone down the line at
/// [`Faults::baud`](crate::Faults::baud) (at once on an infinitely fast
/// line), as a UART's flush waits for its last byte to leave. Reads block
/// (or, through `embedded_io_async`, wait on a `Waker`) until the module
/// sends something; they return `Ok(0)` once the module thread has ended.
/// Dropping the port powers the module off.
pub struct SimPort {
    shared: Arc<Shared>,
    /// The time an asynchronous `flush` has a thread waking it at.
    flush_wake: Option<Instant>,
}

impl SimPort {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        SimPort { shared, flush_wake: None }
    }

    /// How long until the bytes written so far have gone down the line.
    fn flush_wait(&self, now: Instant) -> Duration {
        lock(&self.shared.inbox).drained_at.saturating_duration_since(now)
    }

    /// The host's DTR output on this line, as a pin (hand it to
    /// `quectel_ftp::Ftp::with_dtr`). Every handle drives the same line.
    pub fn dtr(&self) -> SimDtr {
        SimDtr { shared: Arc::clone(&self.shared) }
    }

    /// Number of bytes the module has sent that the host has not read yet.
    pub fn available(&self) -> usize {
        lock(&self.shared.outbox).bytes.len()
    }

    fn take(outbox: &mut Outbox, buf: &mut [u8]) -> usize {
        let n = buf.len().min(outbox.bytes.len());
        for (slot, byte) in buf.iter_mut().zip(outbox.bytes.drain(..n)) {
            *slot = byte;
        }
        n
    }
}

impl Drop for SimPort {
    fn drop(&mut self) {
        lock(&self.shared.inbox).host_gone = true;
        self.shared.inbox_ready.notify_all();
    }
}

impl embedded_io::ErrorType for SimPort {
    type Error = ErrorKind;
}

impl embedded_io::Read for SimPort {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut outbox = lock(&self.shared.outbox);
        loop {
            if !outbox.bytes.is_empty() || outbox.modem_gone {
                return Ok(Self::take(&mut outbox, buf));
            }
            outbox = self.shared.outbox_ready.wait(outbox).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

impl embedded_io::ReadReady for SimPort {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        let outbox = lock(&self.shared.outbox);
        Ok(!outbox.bytes.is_empty() || outbox.modem_gone)
    }
}

impl embedded_io::Write for SimPort {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let byte_time = lock(&self.shared.faults).faults.byte_time();
        let now = Instant::now();
        let mut inbox = lock(&self.shared.inbox);
        if lock(&self.shared.outbox).modem_gone {
            return Err(ErrorKind::BrokenPipe);
        }
        inbox.bytes.extend(buf.iter().map(|&b| (Wire::Byte(b), now)));
        if let Some(t) = byte_time {
            let n = u32::try_from(buf.len()).unwrap_or(u32::MAX);
            inbox.drained_at = inbox.drained_at.max(now) + t.saturating_mul(n);
        }
        drop(inbox);
        self.shared.inbox_ready.notify_all();
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        std::thread::sleep(self.flush_wait(Instant::now()));
        Ok(())
    }
}

impl embedded_io_async::Read for SimPort {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            let mut outbox = lock(&self.shared.outbox);
            if !outbox.bytes.is_empty() || outbox.modem_gone {
                Poll::Ready(Ok(Self::take(&mut outbox, buf)))
            } else {
                outbox.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl embedded_io_async::Write for SimPort {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        embedded_io::Write::write(self, buf)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        poll_fn(|cx| {
            let now = Instant::now();
            let wait = self.flush_wait(now);
            if wait.is_zero() {
                self.flush_wake = None;
                return Poll::Ready(Ok(()));
            }
            // One waking thread per time to wake at, however often polled.
            let at = now + wait;
            if self.flush_wake.is_none_or(|armed| armed < now || armed > at) {
                self.flush_wake = Some(at);
                let waker = cx.waker().clone();
                std::thread::spawn(move || {
                    std::thread::sleep(wait);
                    waker.wake();
                });
            }
            Poll::Pending
        })
        .await
    }
}

/// The host's DTR output to the simulated module: an embedded-hal 1.0
/// [`OutputPin`](embedded_hal::digital::OutputPin), from [`SimPort::dtr`].
///
/// The line is high until the host drives it (the module's DTR input is
/// pulled up). A change of level goes down the line in order with the
/// bytes: it acts once every byte written before it has arrived (at the
/// line rate, [`Faults::baud`](crate::Faults::baud)), and takes no line time
/// itself. After `AT&D1` (or `AT&D2`) a low-to-high edge in data mode makes
/// the module leave data mode at once, as a guarded `+++` would, without
/// the guard times; after `AT&D0` (the power-on setting) the module ignores
/// DTR, and so it does with
/// [`Faults::ignore_dtr`](crate::Faults::ignore_dtr). Driving the level the
/// line has already is no edge. The pin never fails.
#[derive(Clone)]
pub struct SimDtr {
    shared: Arc<Shared>,
}

impl SimDtr {
    fn drive(&self, high: bool) {
        let mut inbox = lock(&self.shared.inbox);
        if inbox.dtr_high != high {
            inbox.dtr_high = high;
            inbox.bytes.push_back((Wire::Dtr(high), Instant::now()));
            drop(inbox);
            self.shared.inbox_ready.notify_all();
        }
    }

    fn is_high(&self) -> bool {
        lock(&self.shared.inbox).dtr_high
    }
}

impl core::fmt::Debug for SimDtr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SimDtr").field("high", &self.is_high()).finish()
    }
}

impl embedded_hal::digital::ErrorType for SimDtr {
    type Error = core::convert::Infallible;
}

impl embedded_hal::digital::OutputPin for SimDtr {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.drive(false);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.drive(true);
        Ok(())
    }
}

impl embedded_hal::digital::StatefulOutputPin for SimDtr {
    fn is_set_high(&mut self) -> Result<bool, Self::Error> {
        Ok(self.is_high())
    }

    fn is_set_low(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.is_high())
    }
}
