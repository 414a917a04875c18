//! The typed FTP(S) client.
//!
//! [`Ftp`] owns the UART, a tokenizer and the caller's chunk buffer. Each
//! method sends one command (or one short sequence), waits for the final
//! result and the deferred `+QFTPxxx:` line with a deadline derived from the
//! module's `rsptimeout`, and returns a typed value.
//!
//! # Where things are
//!
//! | to find | look in |
//! | --- | --- |
//! | an operation's command sequence | one file per family: `bringup.rs` (`init`, `init_with_pin`, `activate` with the wait for registration, `deactivate`), `settings.rs` (`configure`, `setting`), `files.rs` (`open`, `close`, `cwd`, ... `stat`), `download.rs` (`get`, `list`, `list_entries`), `upload.rs` (`put`, `put_sized`, `put_escaped`) |
//! | a timeout or retry count | `limits.rs` |
//! | which line answers a command, when a wait ends | `answer.rs` |
//! | what a dropped future or a timeout leaves for the next call | `session.rs` |
//! | how the next call cleans up (escape, probe, close) and `recover` | `recovery.rs` |
//! | the UART: write a command, read events with a deadline | `edge.rs` |
//!
//! Every operation reads the same way: check the arguments (nothing is
//! sent if one is refused), `prepare` the stream (clean up what an earlier
//! call left), send its commands and await their answers, then `ended`
//! records how it went for the next call.
//!
//! # Cancel safety
//!
//! No method is cancel-safe in the sense of "drop it and nothing happened":
//! a command may already be on the wire. Every method is *resync-safe*: when a
//! future is dropped (or times out) midway, the client remembers that the
//! stream is in an unknown state and the next call first brings the modem back
//! to a known state (leaves data mode with a guarded `+++` if a transfer was
//! running, discards what is buffered, probes with `AT+CMEE?`, and closes an
//! FTP session whose deferred result never came, as the vendor advises).

// The shared routines and the transfers are written as
// `fn .. -> impl Future { async move { .. } }` rather than `async fn`: an
// `async fn`'s future keeps every argument twice (as passed, and as the
// body's variable; rust-lang/rust#62958), at every level of nesting, and
// these futures nest deeply. The body reads the same either way.
mod answer;
mod bringup;
mod config;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod download;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod edge;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod files;
mod limits;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod recovery;
mod session;
mod settings;
mod types;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod upload;

use embedded_io_async::{Read, Write};

use crate::at::urc::{UrcSink, UrcStats};
use crate::error::Error;
use edge::Rx;
use session::{Session, State};

pub use config::{
    Auth, DataAddress, FileType, FtpConfig, IpType, PdpConfig, Setting, SslConfig, SslType, TransferMode,
};
pub use edge::{LINE_LEN, MIN_BUF, RX_LEN};
pub use limits::GUARD;
pub use types::{FtpState, Listing, LocalAddr, ModifyTime, Transfer};

/// The FTP(S) client over an async UART.
///
/// `U` is any `embedded_io_async::Read + Write`; for a blocking UART wrap it
/// in [`crate::blocking::Uart`] and drive the futures with
/// [`crate::blocking::block_on`].
///
/// A session goes [`Ftp::init`], [`Ftp::activate`], [`Ftp::configure`],
/// [`Ftp::open`], then file operations and transfers, then [`Ftp::close`]
/// (the crate's front page has a whole example).
///
/// Besides the errors each method names, any of them can give
/// [`Error::Io`] (the UART failed), [`Error::Timeout`] (a deadline passed;
/// the next call brings the module back to a known state first), and
/// [`Error::SessionClosed`] (the network dropped the PDP context or the
/// module restarted during or before the call: reported once, open the
/// session again).
pub struct Ftp<'b, U> {
    uart: U,
    rx: Rx<'b>,
    st: State,
    urcs: UrcSink<'b>,
    /// Lines longer than the tokenizer's buffer, skipped.
    overlong: u32,
}

impl<'b, U: Read + Write> Ftp<'b, U> {
    /// A client over `uart`, using `buf` for reception and as the upload
    /// chunk buffer (at least [`MIN_BUF`] bytes; 4 KiB or more for full
    /// speed). URCs are counted but not published; see [`Ftp::with_urcs`].
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `buf` is shorter than [`MIN_BUF`].
    pub fn new(uart: U, buf: &'b mut [u8]) -> Result<Self, Error> {
        if buf.len() < MIN_BUF {
            return Err(Error::BufferTooSmall { needed: MIN_BUF as u32 });
        }
        Ok(Ftp { uart, rx: Rx::new(buf), st: State::new(), urcs: UrcSink::new(None), overlong: 0 })
    }

    /// Publishes every URC to `sink` (see [`crate::at::urc`]).
    pub fn with_urcs(mut self, sink: UrcSink<'b>) -> Self {
        self.urcs = sink;
        self
    }

    /// URC counters.
    pub fn urc_stats(&self) -> UrcStats {
        // Lines too long for the tokenizer count as URCs too long to keep.
        let mut stats = self.urcs.stats();
        stats.seen = stats.seen.wrapping_add(self.overlong);
        stats.too_long = stats.too_long.wrapping_add(self.overlong);
        stats
    }

    /// Gives the UART back.
    pub fn release(self) -> U {
        self.uart
    }

    /// True while an FTP session is open, as far as the client knows.
    pub fn is_open(&self) -> bool {
        self.st.session == Session::Open
    }
}

/// An `embedded-io` error as the crate's.
fn io_error<E: embedded_io::Error>(e: E) -> Error {
    Error::Io(e.kind())
}

/// A count for [`Error::LengthMismatch`], saturated.
fn sat32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sat32_saturates() {
        assert_eq!(super::sat32(5), 5);
        assert_eq!(super::sat32(u64::MAX), u32::MAX);
    }
}
