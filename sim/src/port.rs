//! The host's end of the simulated UART.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use embedded_io::ErrorKind;

use crate::line::{lock, Outbox, Shared};

/// The host's end of the serial line to the simulated module.
///
/// Writes never block (the module has an unbounded receive FIFO). Reads
/// block (or, through `embedded_io_async`, wait on a `Waker`) until the
/// module sends something; they return `Ok(0)` once the module thread has
/// ended. Dropping the port powers the module off.
pub struct SimPort {
    shared: Arc<Shared>,
}

impl SimPort {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        SimPort { shared }
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
        let now = Instant::now();
        let mut inbox = lock(&self.shared.inbox);
        if lock(&self.shared.outbox).modem_gone {
            return Err(ErrorKind::BrokenPipe);
        }
        inbox.bytes.extend(buf.iter().map(|&b| (b, now)));
        drop(inbox);
        self.shared.inbox_ready.notify_all();
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
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
        Ok(())
    }
}
