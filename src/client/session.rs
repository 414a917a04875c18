//! What the client knows of the module between calls, and what the next
//! call must clean up first.
//!
//! Pure transitions, no I/O. An operation marks the stream dirty before its
//! first byte goes out and clean when it ends well; a future dropped (or a
//! wait timed out) in between leaves the mark, and the next call's
//! preparation (`recovery.rs`) reads it: resynchronise, leave data mode,
//! wait out or close what an abandoned command left pending.

use core::num::NonZeroU32;

use embassy_time::{Duration, Instant};

use super::limits::{MARGIN, RSPTIMEOUT_DEFAULT_S};
use crate::at::parse;
use crate::at::urc::Urc;
use crate::error::Error;

/// The FTP session as far as the client knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Session {
    Closed,
    Open,
    /// The network dropped the context or the module restarted; reported
    /// once as [`Error::SessionClosed`], then closed.
    Lost,
}

/// The state of the byte stream between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dirty {
    /// Every answer was read: the next command can go at once.
    Clean,
    /// A wait was abandoned: buffered bytes and late answers must go.
    Stream,
    /// ... and the module may be in data mode: escape first.
    DataMode,
    /// ... in data mode sending a payload (a download, a listing, a file
    /// read): escape first, and the payload still in flight may hold `OK`
    /// lines (see [`super::limits::MODULE_GUARD`]).
    Sending,
}

/// The client's state between calls. The one-byte fields first
/// (`repr(C)`): the shorter load and store instructions reach them.
#[repr(C)]
pub(crate) struct State {
    pub(crate) session: Session,
    pub(crate) dirty: Dirty,
    /// An FTP deferred result never came, or a dead predecessor's session
    /// may be open: `AT+QFTPCLOSE` before anything else.
    pub(crate) need_close: bool,
    /// The module restarted: echo is on again, `ATE0` and `AT+CMEE=1` first.
    pub(crate) need_init: bool,
    /// A command line is partly written: its start sits in the module's
    /// line buffer, and the next CR would run it (a cut `...,4096,0` runs
    /// as `...,40`). The next call escapes first: `+++` spoils the line.
    pub(crate) line_open: bool,
    /// Even with every answer read, the next call resynchronises first:
    /// lines the module may still answer went out (the end of an upload's
    /// data after the module left data mode).
    pub(crate) probe_first: bool,
    /// `AT+QFTPCLOSE` went out and its `+QFTPCLOSE:` has not come yet:
    /// FTP commands answer `+CME ERROR: 603` until it does.
    pub(crate) closing: bool,
    /// The last round trip measured (`AT+QFTPOPEN` to its result, or an
    /// `AT+QFTPPUT` to its `CONNECT`) took [`super::SLOW_ROUND_TRIP`] or
    /// more (see [`crate::UploadMode::Auto`]).
    pub(crate) slow_link: bool,
    /// The DTR pin failed when driven (a serial port that has no DTR line,
    /// a pty): until the next bring-up, escapes are guarded `+++`s without
    /// trying it, and [`crate::UploadMode::Auto`] chooses as without a pin.
    pub(crate) dtr_failed: bool,
    /// The PDP context of the FTP session (`+QIURC: "pdpdeact"` of it ends
    /// the session).
    pub(crate) context_id: u8,
    /// The handle of a file [`super::Ftp::ufs_read`] opened and did not
    /// close (dropped, or timed out in data mode): the next call closes it
    /// first, or reading the file again would answer `+CME ERROR: 426` and
    /// deleting it 418. (A handle of 0 is not kept: the file then stays
    /// open until the module restarts.)
    pub(crate) open_file: Option<NonZeroU32>,
    /// The deferred result (`QFTPSIZE`, ...) of the command in flight. If
    /// its operation is dropped, the next call waits for that line (or
    /// closes the session) so that it can never pass for a later answer.
    pub(crate) pending: Option<&'static [u8]>,
    /// The deadline of deferred results: the module's `rsptimeout` plus a
    /// margin.
    pub(crate) deferred: Duration,
    /// While a payload comes: the deadline in force when the last payload
    /// event came. Once a possible end of the payload was seen, it stays:
    /// the module must confirm the end by then, however much it sends.
    pub(crate) end_by: Instant,
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            session: Session::Closed,
            dirty: Dirty::Clean,
            need_close: false,
            need_init: false,
            pending: None,
            line_open: false,
            probe_first: false,
            closing: false,
            context_id: 1,
            open_file: None,
            deferred: Self::rsptimeout(RSPTIMEOUT_DEFAULT_S),
            end_by: Instant::MAX,
            slow_link: false,
            dtr_failed: false,
        }
    }

    /// The deadline of deferred results for a module `rsptimeout` of `s`
    /// seconds.
    pub(crate) fn rsptimeout(s: u64) -> Duration {
        Duration::from_secs(s) + MARGIN
    }

    /// A line that answered no command. Returns true if it says the module
    /// restarted under an open session (nothing in flight will be answered
    /// then). A transfer result (`+QFTPPUT:`, `+QFTPGET:`) while this client
    /// has no session means that a transfer it does not know of ended (a
    /// dead run's, heard by `init`): that session is closed before anything
    /// else. (Under an open session, a stray result changes nothing.)
    pub(crate) fn unanswered(&mut self, line: &[u8], urc: Option<Urc>) -> bool {
        if let Some((b"QFTPPUT" | b"QFTPGET", _)) = parse::prefixed(line) {
            if self.session != Session::Open {
                self.need_close = true;
            }
        }
        match urc {
            Some(Urc::PdpDeactivated { cid }) if cid == self.context_id => self.lose(),
            Some(Urc::Ready) => {
                let was_open = self.session == Session::Open;
                self.lose();
                self.need_init = true;
                self.closing = false;
                // Nothing of the old module's is pending any more.
                self.pending = None;
                return was_open;
            }
            _ => {}
        }
        false
    }

    fn lose(&mut self) {
        if self.session == Session::Open {
            self.session = Session::Lost;
        }
    }

    /// A line of the stream: if it is the pending deferred result, nothing
    /// is pending any more (true if it was); a `+QFTPCLOSE:` ends a close
    /// in progress, whoever waits.
    pub(crate) fn settles(&mut self, line: &[u8]) -> bool {
        let name = parse::prefixed(line).map(|(n, _)| n);
        if name == Some(b"QFTPCLOSE") {
            self.closing = false;
        }
        let settles = self.pending.is_some() && name == self.pending;
        if settles {
            self.pending = None;
        }
        settles
    }

    /// The module stayed busy (`+CME ERROR: 603`) with no close in
    /// progress to wait for: some firmware stays so until a close
    /// (reference section 6b). The session is reported lost and the next
    /// call closes it.
    pub(crate) fn busy_for_good(&mut self) {
        if self.session == Session::Open {
            self.need_close = true;
        }
        self.lose();
    }

    /// An operation that needs a session may start, or the error to report.
    pub(crate) fn require_session(&mut self) -> Result<(), Error> {
        match self.session {
            Session::Open => Ok(()),
            Session::Closed => Err(Error::NotOpen),
            Session::Lost => {
                self.session = Session::Closed;
                Err(Error::SessionClosed)
            }
        }
    }

    /// How an operation ended: `r` as the caller sees it. Success leaves a
    /// clean stream; a failure goes through [`State::failed`].
    pub(crate) fn ended<T>(&mut self, r: Result<T, Error>) -> Result<T, Error> {
        match r {
            Ok(v) => {
                self.dirty = Dirty::Clean;
                Ok(v)
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    /// An operation failed with `e`; returns the error to report.
    ///
    /// A timeout, a UART error, nonsense from the modem or a failed
    /// source or sink leaves the stream dirty and an open session in doubt
    /// (closed by the next call). Other
    /// failures are answers: the stream is clean. A session lost meanwhile
    /// is reported once.
    #[inline(never)]
    pub(crate) fn failed(&mut self, e: Error) -> Error {
        match e {
            // A source or sink that failed midway left the transfer in
            // data mode, as a UART error may.
            Error::Timeout | Error::Io(_) | Error::Protocol | Error::Source(_) | Error::Sink(_) => {
                if self.session == Session::Open {
                    self.need_close = true;
                }
            }
            _ => self.dirty = Dirty::Clean,
        }
        if self.session == Session::Lost {
            self.session = Session::Closed;
            return Error::SessionClosed;
        }
        e
    }

    /// What the resynchronisation must do first: escape if the module may
    /// be in data mode or holds part of a command line.
    pub(crate) fn must_escape(&self) -> bool {
        matches!(self.dirty, Dirty::DataMode | Dirty::Sending) || self.line_open
    }

    /// After a resynchronisation: whether to wait for the deferred result
    /// an abandoned command left pending. Not after a transfer broken off
    /// in data mode (the module's state is unknown: close, as the vendor
    /// advises), nor when a close is due anyway.
    pub(crate) fn wait_for_pending(&self, was_data_mode: bool) -> bool {
        self.pending.is_some() && !was_data_mode && !self.need_close
    }

    /// The pending result did not come (or was not waited for): the module
    /// may still be busy with its command, and print that result later,
    /// where it could pass for the answer to a later command of its kind
    /// (an `open` abandoned without a session, a `+QFTPOPEN:` that comes
    /// during the next `open`). A close before anything else ends that
    /// command, its result coming before the close's (closing what is not
    /// open is fine).
    ///
    /// `broken_off`: a resynchronisation had to escape with the command in
    /// flight (a transfer broken off in data mode, or a command line cut
    /// short). Then the session is closed whether or not the result came
    /// meanwhile: it may come with the escape's `OK` (and be forgotten
    /// with it) or during the probe, and what the caller finds must not
    /// depend on how the module's bytes were split between reads.
    pub(crate) fn give_up_pending(&mut self, broken_off: bool) {
        if self.pending.take().is_some() || broken_off {
            self.need_close = true;
        }
    }

    /// The session was closed (or there was none to close).
    pub(crate) fn closed(&mut self) {
        self.session = Session::Closed;
        self.need_close = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CmeError;

    fn open() -> State {
        let mut s = State::new();
        s.session = Session::Open;
        s.dirty = Dirty::Stream;
        s
    }

    #[test]
    fn a_timeout_puts_an_open_session_in_doubt_and_leaves_the_stream_dirty() {
        let other = embedded_io::ErrorKind::Other;
        for e in [Error::Timeout, Error::Io(other), Error::Protocol, Error::Source(other), Error::Sink(other)] {
            let mut s = open();
            assert_eq!(s.ended::<()>(Err(e)), Err(e));
            assert!(s.need_close);
            assert_eq!(s.dirty, Dirty::Stream);
        }
        // Without a session there is nothing to close.
        let mut s = State::new();
        s.dirty = Dirty::Stream;
        let _ = s.ended::<()>(Err(Error::Timeout));
        assert!(!s.need_close);
    }

    #[test]
    fn an_answer_leaves_a_clean_stream() {
        for e in [Error::AtError, Error::Cme(CmeError::Code(603)), Error::ftp(627, 550), Error::NotOpen] {
            let mut s = open();
            assert_eq!(s.ended::<()>(Err(e)), Err(e));
            assert_eq!((s.dirty, s.need_close), (Dirty::Clean, false));
        }
        let mut s = open();
        assert_eq!(s.ended(Ok(7)), Ok(7));
        assert_eq!(s.dirty, Dirty::Clean);
    }

    #[test]
    fn a_lost_session_is_reported_once() {
        let mut s = open();
        s.unanswered(b"+QIURC: \"pdpdeact\",1", Some(Urc::PdpDeactivated { cid: 1 }));
        assert_eq!(s.ended(Ok(1)), Ok(1), "the operation itself succeeded");
        assert_eq!(s.require_session(), Err(Error::SessionClosed));
        assert_eq!(s.require_session(), Err(Error::NotOpen));
        let mut s = open();
        s.unanswered(b"+QIURC: \"pdpdeact\",1", Some(Urc::PdpDeactivated { cid: 1 }));
        assert_eq!(s.ended::<()>(Err(Error::Timeout)), Err(Error::SessionClosed));
        // Another context's loss is not ours.
        let mut s = open();
        s.unanswered(b"+QIURC: \"pdpdeact\",2", Some(Urc::PdpDeactivated { cid: 2 }));
        assert_eq!(s.require_session(), Ok(()));
    }

    #[test]
    fn a_restart_needs_init_and_forgets_what_was_pending() {
        let mut s = open();
        s.pending = Some(b"QFTPSIZE");
        assert!(s.unanswered(b"RDY", Some(Urc::Ready)));
        assert!(s.need_init);
        assert_eq!(s.pending, None);
        assert_eq!(s.session, Session::Lost);
        // Without a session the restart interrupts nothing.
        let mut s = State::new();
        assert!(!s.unanswered(b"RDY", Some(Urc::Ready)));
    }

    #[test]
    fn only_the_pending_result_settles() {
        let mut s = open();
        s.pending = Some(b"QFTPSIZE");
        assert!(!s.settles(b"+QFTPGET: 0,1"));
        assert!(!s.settles(b"+QFTPSIZEX: 0,1"));
        assert!(s.settles(b"+QFTPSIZE: 0,1"));
        assert_eq!(s.pending, None);
    }

    #[test]
    fn a_pending_result_is_waited_for_unless_a_close_is_due() {
        let mut s = open();
        s.pending = Some(b"QFTPSIZE");
        assert!(s.wait_for_pending(false));
        assert!(!s.wait_for_pending(true), "a transfer broken off in data mode");
        s.give_up_pending(false);
        assert!(s.need_close);
        assert!(!s.wait_for_pending(false));
    }

    #[test]
    fn a_transfer_broken_off_is_closed_even_if_its_result_came() {
        // The result settled the pending command during the probe.
        let mut s = open();
        s.give_up_pending(true);
        assert!(s.need_close);
        // Nothing was pending and nothing broken off: nothing to close.
        let mut s = open();
        s.give_up_pending(false);
        assert!(!s.need_close);
    }

    #[test]
    fn a_predecessors_transfer_result_is_noticed() {
        let mut s = State::new();
        s.unanswered(b"+CEREG: 5", None);
        assert!(!s.need_close);
        s.unanswered(b"+QFTPPUT: 0,1000", None);
        assert!(s.need_close);
        // Under an open session a stray result changes nothing.
        let mut s = open();
        s.unanswered(b"+QFTPGET: 0,5", None);
        assert!(!s.need_close);
    }
}
