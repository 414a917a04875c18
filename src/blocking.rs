//! Blocking use: the async client driven by [`block_on`].
//!
//! There is one implementation of the protocol, the async [`Ftp`](crate::Ftp)
//! client. For a blocking `embedded-io` UART, wrap it in [`Uart`] (which polls
//! `ReadReady`, so that every deadline still holds) and run each call to
//! completion with [`block_on`]; wrap blocking sources and sinks of transfers
//! in [`Io`].
//!
//! ```
//! use quectel_ftp::blocking::{block_on, Io};
//! use embedded_io_async::Read;
//!
//! let mut src = Io(&b"hello"[..]);
//! let mut buf = [0u8; 8];
//! assert_eq!(block_on(src.read(&mut buf)).unwrap(), 5);
//! ```
//!
//! `block_on` polls in a loop and needs an embassy-time driver, as the async
//! client does.

use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::{Context, Poll, Waker};

/// Runs a future to completion by polling it in a loop.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// A blocking UART as an async one. Reads wait (by returning `Pending`)
/// until `read_ready()`, so that the client's deadlines can fire.
pub struct Uart<T>(pub T);

impl<T: embedded_io::ErrorType> embedded_io::ErrorType for Uart<T> {
    type Error = T::Error;
}

impl<T: embedded_io::Read + embedded_io::ReadReady> embedded_io_async::Read for Uart<T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        poll_fn(|cx| match self.0.read_ready() {
            Ok(true) => Poll::Ready(self.0.read(buf)),
            Ok(false) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        })
        .await
    }
}

impl<T: embedded_io::Write> embedded_io_async::Write for Uart<T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush()
    }
}

/// A blocking reader or writer (a transfer's source or sink) as an async one.
pub struct Io<T>(pub T);

impl<T: embedded_io::ErrorType> embedded_io::ErrorType for Io<T> {
    type Error = T::Error;
}

impl<T: embedded_io::Read> embedded_io_async::Read for Io<T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf)
    }
}

impl<T: embedded_io::Write> embedded_io_async::Write for Io<T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush()
    }
}
