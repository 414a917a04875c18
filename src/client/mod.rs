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
//! | an operation's command sequence | one file per family: `bringup.rs` (`init`, `init_with_pin`, `activate` with the wait for registration, `deactivate`), `settings.rs` (`configure`, `setting`), `files.rs` (`open`, `close`, `cwd`, ... `stat`), `download.rs` (`get`, `list`, `list_entries`), `upload.rs` (`put`, `put_sized`, `put_escaped`), `ufs.rs` (the module's file store: `ufs_upload`, `ufs_download`, `ufs_read`, ...), `forward.rs` (FTP through a file of the store, `put_via_ufs`/`get_via_ufs`, `ssl_files`, `install_ca`) |
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
//! to a known state (leaves data mode by DTR or a guarded `+++` if a transfer was
//! running, discards what is buffered, probes with `AT+CMEE?`, and closes an
//! FTP session whose deferred result never came, as the vendor advises, or
//! whose transfer was broken off in data mode, whether or not its result
//! came meanwhile).
//!
//! # Time bounds
//!
//! Every wait of the client has a deadline (embassy-time), and every retry
//! loop a count, so every call returns, with its result or
//! [`Error::Timeout`], within a bound set by the constants of `limits.rs`.
//! The bounds below are derived from the code paths. They count the
//! client's waits, pauses and retries; what they leave out is listed after
//! the table. Where a path's worst case is hard to state exactly, the
//! bound is a safe upper bound and says so. Figures are at the module's
//! default `rsptimeout`, 90 s.
//!
//! ## Terms
//!
//! - `D`, the deadline of a deferred `+QFTPxxx:` result: `rsptimeout` plus
//!   `MARGIN` (5 s); 95 s, and 25 to 185 s for the `rsp_timeout_s` of 20 to
//!   180 that [`FtpConfig`] accepts. [`Ftp::configure`] sets it (its own
//!   preparation still runs with the one before).
//! - `Q` = `QUICK`, 5 s: a command the module answers at once.
//! - `G` = [`GUARD`], 1.1 s, and `A` = `ESCAPE_ANSWER`, 2 s: an escape
//!   takes at most `E` = `2·G + A` = 4.2 s (`G` of silence, `+++`, then up
//!   to `G + A` for the module's `OK`). With a DTR pin ([`Ftp::with_dtr`])
//!   the DTR edge comes first and waits up to `A` for its `OK`: `E` is then
//!   6.2 s at most (a module that ignores the edge), 0 to `A` when it
//!   answers it. With a pin, the init calls send `AT&D1` too: one `Q` more.
//! - `p` = `AFTER_ABANDON.timeout`, 2 s: one resynchronisation probe
//!   (`AT+CMEE?`), of which there are at most `AFTER_ABANDON.tries` = 3.
//! - `X(T)`, one command whose answer has the deadline `T`, riding out
//!   `+CME ERROR: 603` (busy, see `exchange` in `edge.rs`): after each
//!   `603` the client waits up to `BUSY_POLL` (`b`, 1 s) and sends the
//!   command again, so with `k` busy answers `X(T)` = `(k + 1)·T + k·b`
//!   (each answer may formally take its whole `T`), or `T + k·b` when the
//!   module answers `603` at once, as it does. `k` = 0 when no session is
//!   open and no close is in progress (`603` is then the answer);
//!   `k ≤ BUSY_RETRIES` = 3 with a session open; `k ≤ BUSY_POLLS_CLOSING`
//!   = 90 while a close is in progress (an `AT+QFTPCLOSE` went out and its
//!   `+QFTPCLOSE:` has not come: during a close, and after one that timed
//!   out). The module answers `603` to FTP commands only: the bounds of
//!   the other commands (`AT+QIACT`, `AT+CPIN?`, ...) count none, although
//!   every command goes through the same loop.
//!
//!   | | no `603` | `k` = 3: at once / formally | `k` = 90: at once / formally |
//!   | --- | --- | --- | --- |
//!   | `X(Q)` | 5 s | 8 s / 23 s | 95 s / 545 s |
//!   | `X(D)` | 95 s | 98 s / 383 s | 185 s / 8735 s |
//!
//! - `C`, a close (`AT+QFTPCLOSE`): `X(D)` with `k ≤ BUSY_POLLS_CLOSING`,
//!   the close itself being a close in progress: 95 s without `603`, 185 s
//!   riding out 90 `603`s answered at once, 8735 s formally.
//! - `P`, the preparation (`prepare`) every call makes first, except
//!   `init`, `init_with_pin`, `init_fresh` and `recover` (which have their
//!   own, in the table). No wait at all when the previous call left
//!   nothing to clean up (as a success leaves). After a timeout, a dropped
//!   future, a UART error, an upload the module ended itself, a session
//!   given up as busy or a restart of the module, at most `S + 2·Q + C`, a
//!   safe upper bound (no single case needs all three at their worst):
//!   - `S`, resynchronising: up to three rounds of a guarded `+++` (the
//!     first round's only if the module may be in data mode or holds part
//!     of a command line) and a probe, then `p` of listening for a late
//!     probe answer: `3·(E + p) + p` = 20.6 s (26.6 s with a DTR pin). Or, when no escape was
//!     needed and the first probe was answered, the deferred result an
//!     abandoned command left pending is waited out: `p + D` = 97 s. So
//!     `S` = `max(3·(E + p) + p, p + D)` = 97 s.
//!   - `2·Q` = 10 s: `ATE0` and `AT+CMEE=1` after the module restarted
//!     (`RDY`); with a DTR pin `AT&D1` too, `3·Q` = 15 s.
//!   - `C`: closing a session in doubt (a deferred result that never came,
//!     a transfer broken off, a timeout under an open session, a session
//!     given up as busy, a dead run's transfer result heard).
//!
//!   `P` ≤ 202 s without `603`, 292 s riding out 90 `603`s answered at
//!   once, 8842 s formally.
//!
//! ## Per call
//!
//! `k` is the most busy answers each `X` of the row can ride out (see
//! `X(T)`; — for a row of commands the module does not answer `603`); `r` is [`PdpConfig::registration_timeout_s`] (180 s by
//! default); `c` is [`Transfer::chunk`] (unlimited by default: one chunk); `B` is the
//! chunk buffer given to [`Ftp::new`].
//!
//! | call | bound | at defaults, no `603` | `k` |
//! | --- | --- | --- | --- |
//! | [`Ftp::init`] | no `P`. `2·G` (listen, `+++`, listen) + `AT_BOOT` probes (10 of 1 s, then 1 s of listening) + `2·Q` (`ATE0`, `AT+CMEE=1`) + the SIM: `AT+CPIN?` every `SIM_POLL` while busy, for `SIM_READY`: `SIM_READY + SIM_POLL + Q` | 2.2 + 11 + 10 + 26 = 49.2 s | 0 |
//! | [`Ftp::init_fresh`] | as `init`, without the `2·G` | 47 s | 0 |
//! | [`Ftp::init_with_pin`] | `init`, then `Q` (`AT+CPIN="…"`) + `SIM_READY + SIM_POLL + Q` | 80.2 s | 0 |
//! | [`Ftp::activate`] | `P + 2·Q` (`AT+QICSGP`, `AT+QIACT?`) if the context is active; else `P` + `7·Q` + `r` + `REGISTRATION_POLL` + `2·PDP_ACT` + `PDP_DEACT`: registration rounds of `4·Q` every `REGISTRATION_POLL` until `r` ran out, `AT+QIACT` (150 s), on refusal `AT+QIDEACT` (40 s) and `AT+QIACT` again, `AT+QIACT?` | `P` + 377 s + `r` = `P` + 557 s | — |
//! | [`Ftp::deactivate`] | `P + PDP_DEACT` | `P` + 40 s | — |
//! | [`Ftp::configure`] | `P` + `8·X(Q)` (`AT+QFTPCFG`); FTPS adds 3 or 4 `AT+QSSLCFG` of `Q` (4 with a CA file) | `P` + 40 s; FTPS `P` + 55 s or 60 s | 3 with a session open; 90 after a close that timed out |
//! | [`Ftp::setting`], [`Ftp::stat`] | `P + X(Q)` | `P` + 5 s | as `configure` |
//! | [`Ftp::open`] | `P + X(D)`; when a dead run's session answers `603` (at once, or as module error 603 in `+QFTPOPEN:`), it is closed and the open tried again, `OPEN_RETRIES` = 1 time: `+ 2·Q + C + X(D)` | `P` + 95 s; with the retry `P` + 295 s | 0 without a session; 90 after a close that timed out |
//! | [`Ftp::close`] | `P + C` | `P` + 95 s | 90: `P` + 185 s at once, `P` + 8735 s formally |
//! | [`Ftp::cwd`], [`Ftp::pwd`], [`Ftp::size`], [`Ftp::delete`], [`Ftp::mkdir`], [`Ftp::rmdir`], [`Ftp::rename`], [`Ftp::mdtm`], [`Ftp::len`] | `P + X(D)` | `P` + 95 s | 3 |
//! | [`Ftp::get`], one chunk of `n` ≤ `c` bytes | `X(D)` until `CONNECT`, then `D` until the first payload byte; each further piece of payload, and its end, within `D` of the one before; then `D` for `\r\nOK\r\n` and `+QFTPGET:`. The chunk fails within `D` of any silence; its total grows with the time the modem takes to deliver it: at most `X(D) + (n + 2)·D` (a safe upper bound: at most `n` pieces) | 285 s of command and result waits + the payload, whose silences end it at 95 s | 3 |
//! | [`Ftp::get`], `L` bytes from `start` | `P + X(D)` (`AT+QFTPSIZE`) + the chunks (their preparation is nothing after a chunk that ended well): `P + X(D) + m·(X(D) + 2·D) + (L − start)·D`, `m` = ⌈(L − start)/`c`⌉ chunks, and one more (perhaps empty) when the server cannot tell the size | `P` + 95 s + `m`·285 s + the payload | 3 |
//! | [`Ftp::list`], [`Ftp::list_entries`], a listing of `N` bytes | as a chunk of `get`: `P + X(D) + (N + 2)·D` at most; and from the first possible end of the payload on (a whole `\r\nOK\r\n`), the deadline stops moving (`end_by`): the rest of the listing must come by the deadline then in force (`D` after the wait that saw it began), however much the module keeps sending, and the result within `D` more | `P` + 285 s + the listing, whose silences end it at 95 s; at most 190 s from the wait that saw a possible end | 3 |
//! | [`Ftp::put`], one chunk of `n` bytes | `X(D)` until `CONNECT` + `D` for the chunk's one UART write + `D` for `+QFTPPUT:`: `X(D) + 2·D`; `n` ≤ `c` and ≤ `B` − `RX_LEN` − 1 | 285 s | 3 |
//! | [`Ftp::put`], `L` bytes | `P + m·(X(D) + 2·D)`, `m` = max(1, ⌈L/n⌉) chunks of `n` bytes; once [`UploadMode`] turns to an escape, the rest as [`Ftp::put_escaped`] without its `P` | `P` + `m`·285 s | 3 |
//! | [`Ftp::put_sized`], one chunk of `n` ≤ `c` bytes | `X(D) + w·D + D`: `w` UART writes of `D` each, one per non-empty read of the source (at least ⌈n/(`B` − `RX_LEN`)⌉, at most `n`), then `+QFTPPUT:` | 190 s + `w`·95 s | 3 |
//! | [`Ftp::put_sized`], `len` bytes | `P` + the chunks, max(1, ⌈len/`c`⌉) of them | `P` + the chunks | 3 |
//! | [`Ftp::put_escaped`] | `P + X(D) + w·D + ESCAPE_TRIES·(2·G + A) + D`, `w` as for `put_sized`, three guarded `+++` at most (with a DTR pin, `A` more before them) | `P` + 202.6 s + `w`·95 s (204.6 s with a pin) | 3 |
//! | [`Ftp::recover`] without `pdp` | no `P`: `S′ + 2·Q + C`, `S′` = `3·(E + p) + p` = 20.6 s (an escape in every round; nothing pending is waited for) | 125.6 s (131.6 s with a DTR pin) | 90: 215.6 s at once, 8765.6 s formally |
//! | [`Ftp::recover`] with `pdp` | the above, then `deactivate` and `activate`, each preparing in at most `S′ + 2·Q` (nothing is pending or in doubt after the close): `+ 2·(S′ + 2·Q) + PDP_DEACT` + `activate` without its `P` | 783.8 s (801.8 s with a DTR pin) | as above |
//!
//! ## What the bounds leave out
//!
//! - **Writes to the UART.** Every write has a deadline (`write_all`): a
//!   command line 16 bytes at a time, `Q` for each (so an `n`-byte line
//!   takes at most ⌈n/16⌉·`Q`: the longest, `AT+QICSGP` with a 100-byte
//!   APN and 255-byte credentials, 636 bytes, 200 s; a file command at
//!   most 530 bytes; the probe 10); `+++` `Q`; upload data `D` a write,
//!   which the table counts. Over a UART that takes bytes at its baud rate
//!   a command line takes milliseconds, and the table leaves it out; a UART
//!   whose writes stall (hardware flow control held) adds up to ⌈n/16⌉·`Q`
//!   for each line written (a busy retry writes its line again). With
//!   [`crate::blocking::Uart`], reads keep every deadline (they wait for
//!   `ReadReady`), but a write is the blocking UART's own: one that blocks
//!   is outside every bound.
//! - **The caller's source and sink.** A transfer awaits the caller's
//!   [`Write`] (`get`, `list`: each piece of payload) and [`Read`] (`put`,
//!   `put_sized`, `put_escaped`) with no deadline, and calls
//!   `list_entries`'s `each` and [`Transfer::progress`]: time spent in them
//!   is outside the bound. A blocking sink holds the UART unread; the next
//!   wait's `D` starts when it returns, except after a possible end of a
//!   listing, whose fixed deadline (`end_by`) the sink's time counts
//!   against. `put` reads a chunk before its `AT+QFTPPUT`, with the module
//!   in command mode; `put_sized` and `put_escaped` read the source while
//!   the module is in data mode, which ends the upload itself if the source
//!   stalls for too long (`+QFTPPUT: 609,0`).
//! - CPU time and the executor's latency.
//!
//! ## A module that keeps sending
//!
//! Every wait but those for a payload has a fixed deadline, checked each
//! time the bytes read so far are used up: a module that keeps sending
//! lines (URCs, late answers, noise) cannot hold it past its deadline. A
//! wait for payload moves its deadline `D` on with every piece, so a
//! download's time is bounded per silence, not per chunk nor per file: as
//! long as the modem keeps delivering bytes, at gaps under `D`, it goes on,
//! and its bound grows with its length (`(n + 2)·D` a chunk, above). A
//! payload of unknown length (a listing; a chunk of a file whose size the
//! server cannot tell) stops moving its deadline at its first possible
//! end (`end_by`): from then on it ends by that deadline, however much
//! the module sends. Before `CONNECT`, nothing moves the deadline of a
//! download's wait: `OK` or late result lines the module repeats there
//! cannot hold `get` or `list` past `X(D)`.

// The shared routines and the transfers are written as
// `fn .. -> impl Future { async move { .. } }` rather than `async fn`: an
// `async fn`'s future keeps every argument twice (as passed, and as the
// body's variable; rust-lang/rust#62958), at every level of nesting, and
// these futures nest deeply. The body reads the same either way.
//
// An operation whose steps all end in `State::ended` runs them in a
// labelled block, with `or_break!` for `?`, rather than in an inner
// `async` block: that block's future is one more level of state machine
// in the operation's (often 50 to 150 B of flash; measure: not always).

/// `?` inside the labelled block `$label`: the value of `$e`, or the block
/// ends with its error.
macro_rules! or_break {
    ($label:lifetime, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => break $label Err(e.into()),
        }
    };
}

mod answer;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod bringup;
mod config;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod download;
mod dtr;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod edge;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod files;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod forward;
mod limits;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod recovery;
mod session;
mod settings;
mod types;
#[allow(clippy::manual_async_fn, reason = "smaller futures, see above")]
mod ufs;
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
pub use dtr::{Dtr, NoDtr};
pub use edge::{LINE_LEN, MIN_BUF, RX_LEN};
pub use forward::{SslFiles, Staging};
pub use limits::{GUARD, SLOW_ROUND_TRIP};
pub use types::{FtpState, Listing, LocalAddr, ModifyTime, Transfer, UploadMode};
pub use ufs::{UfsSpace, UfsUpload};

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
#[repr(C)]
pub struct Ftp<'b, U, D = NoDtr> {
    // First, in this order (`repr(C)`): the fields every operation reads
    // and writes sit at small offsets, which the shorter load and store
    // instructions reach.
    st: State,
    rx: Rx<'b>,
    uart: U,
    /// The module's DTR input, if the board wires it (see [`Ftp::with_dtr`]).
    dtr: D,
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
        Ok(Ftp { uart, dtr: NoDtr, rx: Rx::new(buf), st: State::new(), urcs: UrcSink::new(None), overlong: 0 })
    }

    /// Gives the client the module's DTR input (any embedded-hal 1.0
    /// `OutputPin`; see [`Dtr`]). The pin is driven low at once. From the
    /// next [`Ftp::init`] on (which sends `AT&D1`), the client leaves data
    /// mode by a low-to-high edge instead of a guarded `+++`: at the end of
    /// an upload of unknown length, and when it recovers from a transfer
    /// that was abandoned. A module that does not answer the edge within
    /// 2 s gets a guarded `+++` after all.
    pub fn with_dtr<P: Dtr>(self, mut pin: P) -> Ftp<'b, U, P> {
        pin.drive(false);
        let Ftp { uart, dtr: NoDtr, rx, st, urcs, overlong } = self;
        Ftp { uart, dtr: pin, rx, st, urcs, overlong }
    }
}

impl<'b, U: Read + Write, D: Dtr> Ftp<'b, U, D> {
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

/// An `embedded-io` error of the UART as the crate's.
fn io_error<E: embedded_io::Error>(e: E) -> Error {
    Error::Io(e.kind())
}

/// An `embedded-io` error of the caller's source as the crate's.
fn source_error<E: embedded_io::Error>(e: E) -> Error {
    Error::Source(e.kind())
}

/// An `embedded-io` error of the caller's sink as the crate's.
fn sink_error<E: embedded_io::Error>(e: E) -> Error {
    Error::Sink(e.kind())
}

/// The source ended before the length announced to the module.
const SOURCE_ENDED: Error = Error::Source(embedded_io::ErrorKind::InvalidInput);

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
