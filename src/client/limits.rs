//! Every timeout and retry count of the client, with its source.
//!
//! Deadlines of commands that wait for a deferred `+QFTPxxx:` result follow
//! the module's own `rsptimeout` (`AT+QFTPCFG="rsptimeout"`, 90 s by
//! default, reference section 1) plus [`MARGIN`]: the module always answers
//! within its `rsptimeout`, so a driver deadline below it would abandon
//! answers that are still coming.

use embassy_time::Duration;

/// The `+++` guard time: the silence the module needs before the escape
/// (at least 1 s, reference section 2), with 10 % to spare: a write's end
/// (a UART's `flush`) is not always when the last byte has reached the
/// module (FIFOs, USB serial adapters, a pty), and a `+++` the module takes
/// as data fails the upload (the result line's count exceeds the bytes
/// sent: `LengthMismatch`). A 1.0 s guard did, over a pty to the
/// simulator. After the `+++` the client waits for the module's `OK`,
/// which comes after the module's own second of silence.
pub const GUARD: Duration = Duration::from_millis(1100);

/// The silence the module needs after `+++` before it takes it as an
/// escape (reference section 2): its `OK` cannot come earlier. An `OK`
/// before then, while a download's payload may still be coming, is
/// payload.
pub(crate) const MODULE_GUARD: Duration = Duration::from_secs(1);

/// How long the module may take to answer `+++` with `OK` once the trailing
/// guard is over, or a DTR edge at once (measured on BG95: well under
/// 100 ms; 2 s is generous).
pub(crate) const ESCAPE_ANSWER: Duration = Duration::from_secs(2);

/// [`crate::UploadMode::Auto`] ends the rest of an upload of unknown length
/// with an escape rather than a round trip per chunk buffer once a round
/// trip takes this long. On a quick link (a wired server, the bench) a
/// round trip is the command and its answers on the wire: 4–7 ms at
/// 115200 baud. A cellular network adds its own (LTE-M 50–200 ms, NB-IoT
/// up to seconds), and then a round trip per 4 KiB buffer costs more than
/// the two guard times of one escape for a file of a few hundred KiB.
pub const SLOW_ROUND_TRIP: Duration = Duration::from_millis(20);

/// Guarded `+++` attempts before giving up: "retries are sometimes needed"
/// (reference section 6b).
pub(crate) const ESCAPE_TRIES: u8 = 3;

/// Deadline of commands the module answers at once (`ATE0`, `AT+QFTPCFG`,
/// `AT+QFTPSTAT`, `AT+QIACT?`, ...). The manuals give 300 ms; 5 s leaves room
/// for a busy module.
pub(crate) const QUICK: Duration = Duration::from_secs(5);

/// Added to the module's `rsptimeout` for the driver's own deadlines.
pub(crate) const MARGIN: Duration = Duration::from_secs(5);

/// The module's `rsptimeout` until `configure` sets another (reference
/// section 4, `AT+QFTPCFG="rsptimeout"` default).
pub(crate) const RSPTIMEOUT_DEFAULT_S: u64 = 90;

/// `AT+QIACT` may take up to 150 s (TCP/IP application note, maximum
/// response time).
pub(crate) const PDP_ACT: Duration = Duration::from_secs(150);

/// `AT+QIDEACT` may take up to 40 s (TCP/IP application note).
pub(crate) const PDP_DEACT: Duration = Duration::from_secs(40);

/// `init` waits this long for `+CPIN: READY` (SIM initialisation after
/// boot, or after the PIN) while the SIM is busy (`+CME ERROR: 14`) or the
/// module refuses the query ...
pub(crate) const SIM_READY: Duration = Duration::from_secs(20);

/// ... asking again after this pause.
pub(crate) const SIM_POLL: Duration = Duration::from_secs(1);

/// While the module is not registered with the network, `activate` asks
/// again after this pause (each round is `AT+CEREG?`, `AT+CGREG?`,
/// `AT+CREG?`).
pub(crate) const REGISTRATION_POLL: Duration = Duration::from_secs(2);

/// How the client probes the module (`AT+CMEE?`) until it answers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probes {
    /// How long each probe waits for its answer.
    pub(crate) timeout: Duration,
    /// How many probes at most.
    pub(crate) tries: u8,
    /// A guarded `+++` before each retry (a module left in data mode takes
    /// the probe as data).
    pub(crate) escape_between: bool,
}

/// `init`: a module still booting answers within about 10 s of power-up
/// (hardware design guides: `RDY` after 5–10 s), so a probe a second, ten
/// times, and no escapes (its escape came first).
pub(crate) const AT_BOOT: Probes = Probes { timeout: Duration::from_secs(1), tries: 10, escape_between: false };

/// After a timeout or a dropped future: a module that is up answers at
/// once; 2 s each, three times, escaping before each retry.
pub(crate) const AFTER_ABANDON: Probes = Probes { timeout: Duration::from_secs(2), tries: 3, escape_between: true };

/// An FTP command answered `+CME ERROR: 603` (busy: a close is pending,
/// or after a failed data connection, reference section 6b) is sent again
/// after this pause, or as soon as the pending `+QFTPCLOSE:` arrives ...
pub(crate) const BUSY_POLL: Duration = Duration::from_secs(1);

/// ... this many times while a close is in progress (the module's
/// `rsptimeout` at its default, 90 s, bounds the close) ...
pub(crate) const BUSY_POLLS_CLOSING: u8 = 90;

/// ... and this many times when none is: some firmware then stays busy
/// until a close (reference section 6b), so the session is given up.
pub(crate) const BUSY_RETRIES: u8 = 3;

/// `open` that finds a dead predecessor's session (`+CME ERROR: 603`)
/// closes it and tries again this many times.
pub(crate) const OPEN_RETRIES: u8 = 1;
