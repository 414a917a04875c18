//! The session and the file commands: `open`, `close`, `cwd`, `pwd`,
//! `size`, `delete`, `mkdir`, `rmdir`, `rename`, `mdtm`, `len`, `stat`
//! (reference section 5). Each is one command, answered `OK` and then by
//! its deferred `+QFTP<name>: <err>,<value>` within `rsptimeout`.

use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::Dtr;
use embassy_time::Instant;
use embedded_io_async::{Read, Write};

use super::answer::{Got, Want};
use super::edge::poll_out_of_line;
use super::limits::{OPEN_RETRIES, QUICK, SLOW_ROUND_TRIP};
use super::session::Session;
use super::Ftp;
use super::{FtpState, ModifyTime};
use crate::at::cmd::{self, FileOp, Names};
use crate::at::parse;
use crate::error::{CmeError, Error, ModuleError};

impl<'b, U: Read + Write, D: Dtr> Ftp<'b, U, D> {
    /// `AT+QFTPOPEN="<host>",<port>`: connects and logs in with the
    /// account of [`Ftp::configure`]. Waits up to the deferred-result
    /// deadline for `+QFTPOPEN: 0,0`.
    ///
    /// A session left open by a run that died (`+CME ERROR: 603`, or module
    /// error 603 in the result) is closed and the open tried again, once.
    ///
    /// **Time bound:** `P` + `X(D)`: `P` + 95 s by default; `P` + 295 s
    /// with the retry after a dead run's session (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a host that is empty, longer than 200
    /// bytes or holds `"` or a control byte, before anything is sent;
    /// `Ftp { module, reply }` as the module reports (`604` DNS, `606`
    /// port closed, reply `530` login refused, ...); [`Error::Timeout`]
    /// (the next call closes what may still open).
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (or closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn open(&mut self, host: &str, port: u16) -> Result<(), Error> {
        let open = cmd::qftpopen(host, port)?;
        let mut retries = 0;
        loop {
            self.prepare(false).await?;
            let sent = Instant::now();
            let r = self.command(&open, Want::Num(b"QFTPOPEN"), self.st.deferred, &mut []).await;
            self.st.slow_link = Instant::now() >= sent + SLOW_ROUND_TRIP;
            match r {
                // The module took the open: no other session holds it, so
                // none is left to close (a dead run's transfer result heard
                // meanwhile said there might be).
                Ok(_) => (self.st.session, self.st.need_close) = (Session::Open, false),
                Err(e) if busy(e) && retries < OPEN_RETRIES => {
                    warn!("a session is still open: closing it");
                    retries += 1;
                    let _ = self.st.ended(r);
                    self.st.need_close = true;
                    continue;
                }
                // The module may still finish opening: close it next time.
                Err(Error::Timeout) => self.st.need_close = true,
                Err(_) => {}
            }
            return self.st.ended(r).map(drop);
        }
    }

    /// `AT+QFTPCLOSE`: logs out and disconnects, riding out `+CME ERROR:
    /// 603` (a close already pending). Closing a session that is not open
    /// is not an error. The client takes the session as closed whatever
    /// the answer. Waits up to the deferred-result deadline.
    ///
    /// **Time bound:** `P` + `C`: `P` + 95 s by default, `P` + 185 s riding
    /// out 90 busy answers (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the module neither closes nor stays busy
    /// (`603`) until the deadline; [`Error::Io`] from the UART. A close the
    /// module refuses (nothing was open) is not an error.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn close(&mut self) -> Result<(), Error> {
        self.prepare(false).await?;
        // Closed for the caller from the command on; dropped before its
        // answer, the close is made again by the next call.
        self.st.session = Session::Closed;
        self.st.need_close = true;
        let r = self.close_session().await;
        self.st.closed();
        self.st.ended(r)
    }

    /// `AT+QFTPCWD="<path>"`: changes the remote directory (reference
    /// section 5; paths of at most 255 bytes).
    ///
    /// **Time bound:** `P` + `X(D)`: `P` + 95 s by default (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a name that is empty, longer than 255
    /// bytes or holds `"` or a control byte, before anything is sent;
    /// [`Error::NotOpen`] without a session; `Ftp { .. }` as the module and
    /// server report (reply 550: no such file or directory);
    /// [`Error::Timeout`] after `rsptimeout` plus 5 s.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (or closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn cwd<'s>(&'s mut self, path: &'s str) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        FileCommand::new(self.file_op(FileOp::Cwd, Names::One(path), &mut []))
    }

    /// `AT+QFTPPWD`: the current directory, copied into `buf`.
    ///
    /// **Time bound:** `P` + `X(D)`: `P` + 95 s by default (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if the path is longer than `buf`; as
    /// [`Ftp::cwd`] otherwise.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (or closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub async fn pwd<'p>(&mut self, buf: &'p mut [u8]) -> Result<&'p str, Error> {
        let n = match FileCommand::<_, Got>::new(self.file_op(FileOp::Pwd, Names::None, buf)).await? {
            Got::Text(n) => n,
            _ => return Err(Error::Protocol),
        };
        buf.get(..n).and_then(|b| core::str::from_utf8(b).ok()).ok_or(Error::Protocol)
    }

    /// `AT+QFTPSIZE`: the size of a remote file in bytes.
    ///
    /// **Time bound:** `P` + `X(D)`: `P` + 95 s by default (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a name that is empty, longer than 255
    /// bytes or holds `"` or a control byte, before anything is sent;
    /// [`Error::NotOpen`] without a session; `Ftp { .. }` as the module and
    /// server report (reply 550: no such file or directory);
    /// [`Error::Timeout`] after `rsptimeout` plus 5 s.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (or closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn size<'s>(&'s mut self, name: &'s str) -> impl Future<Output = Result<u64, Error>> + use<'s, 'b, U, D> {
        FileCommand::new(self.file_op(FileOp::Size, Names::One(name), &mut []))
    }

    /// `AT+QFTPDEL="<name>"`: deletes a remote file.
    ///
    /// **Time bound:** `P` + `X(D)`: `P` + 95 s by default (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a name that is empty, longer than 255
    /// bytes or holds `"` or a control byte, before anything is sent;
    /// [`Error::NotOpen`] without a session; `Ftp { .. }` as the module and
    /// server report (reply 550: no such file or directory);
    /// [`Error::Timeout`] after `rsptimeout` plus 5 s.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (or closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn delete<'s>(&'s mut self, name: &'s str) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        FileCommand::new(self.file_op(FileOp::Del, Names::One(name), &mut []))
    }

    /// `AT+QFTPMKDIR="<dir>"`: creates a remote directory.
    ///
    /// **Time bound:** `P` + `X(D)`: `P` + 95 s by default (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a name that is empty, longer than 255
    /// bytes or holds `"` or a control byte, before anything is sent;
    /// [`Error::NotOpen`] without a session; `Ftp { .. }` as the module and
    /// server report (reply 550: no such file or directory);
    /// [`Error::Timeout`] after `rsptimeout` plus 5 s.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (or closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn mkdir<'s>(&'s mut self, dir: &'s str) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        FileCommand::new(self.file_op(FileOp::Mkdir, Names::One(dir), &mut []))
    }

    /// `AT+QFTPRMDIR="<dir>"`: removes an empty remote directory.
    ///
    /// **Time bound:** `P` + `X(D)`: `P` + 95 s by default (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a name that is empty, longer than 255
    /// bytes or holds `"` or a control byte, before anything is sent;
    /// [`Error::NotOpen`] without a session; `Ftp { .. }` as the module and
    /// server report (reply 550: no such file or directory);
    /// [`Error::Timeout`] after `rsptimeout` plus 5 s.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (or closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn rmdir<'s>(&'s mut self, dir: &'s str) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        FileCommand::new(self.file_op(FileOp::Rmdir, Names::One(dir), &mut []))
    }

    /// `AT+QFTPRENAME="<old>","<new>"`: renames a remote file or
    /// directory.
    ///
    /// **Time bound:** `P` + `X(D)`: `P` + 95 s by default (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a name that is empty, longer than 255
    /// bytes or holds `"` or a control byte, before anything is sent;
    /// [`Error::NotOpen`] without a session; `Ftp { .. }` as the module and
    /// server report (reply 550: no such file or directory);
    /// [`Error::Timeout`] after `rsptimeout` plus 5 s.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (or closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn rename<'s>(
        &'s mut self,
        old: &'s str,
        new: &'s str,
    ) -> impl Future<Output = Result<(), Error>> + use<'s, 'b, U, D> {
        FileCommand::new(self.file_op(FileOp::Rename, Names::Two(old, new), &mut []))
    }

    /// `AT+QFTPMDTM="<name>"`: a remote file's modification time, as
    /// the server reports it (RFC 3659, section 3: UTC).
    ///
    /// **Time bound:** `P` + `X(D)`: `P` + 95 s by default (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a name that is empty, longer than 255
    /// bytes or holds `"` or a control byte, before anything is sent;
    /// [`Error::NotOpen`] without a session; `Ftp { .. }` as the module and
    /// server report (reply 550: no such file or directory);
    /// [`Error::Timeout`] after `rsptimeout` plus 5 s.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (or closes the
    /// session if it never comes), so it can never pass for a later answer.
    pub fn mdtm<'s>(
        &'s mut self,
        name: &'s str,
    ) -> impl Future<Output = Result<ModifyTime, Error>> + use<'s, 'b, U, D> {
        FileCommand::new(self.file_op(FileOp::Mdtm, Names::One(name), &mut []))
    }

    /// `AT+QFTPLEN`: bytes moved by the session's last transfer.
    ///
    /// **Time bound:** `P` + `X(D)`: `P` + 95 s by default (see [the time
    /// bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::NotOpen`] without a session; `Ftp { .. }` as the module
    /// reports; [`Error::Timeout`] after `rsptimeout` plus 5 s.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out this command's deferred result first (or closes the
    /// session if it never comes), so it can never pass for a later answer.
    #[allow(clippy::len_without_is_empty)]
    pub fn len<'s>(&'s mut self) -> impl Future<Output = Result<u64, Error>> + use<'s, 'b, U, D> {
        FileCommand::new(self.file_op(FileOp::Len, Names::None, &mut []))
    }

    /// `AT+QFTPSTAT`: the module's FTP state, answered at once (within
    /// 5 s). Works without an open session.
    ///
    /// **Time bound:** `P` + `X(5 s)`: `P` + 5 s without busy answers (see
    /// [the time bounds](crate::client#time-bounds)).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] after 5 s; `Cme`/`AtError` as the module answers.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn stat(&mut self) -> Result<FtpState, Error> {
        self.prepare(false).await?;
        let r = self.command(&cmd::qftpstat(), Want::Num(b"QFTPSTAT"), QUICK, &mut []).await;
        self.st.ended(r)?.num().map(FtpState::from_code)
    }

    /// One file command of an open session, its answer's value. Text
    /// answers go to `text`. One future type for every file command: its
    /// poll is compiled once (see [`FileCommand`]).
    pub(crate) fn file_op<'s, 'n>(
        &'s mut self,
        op: FileOp,
        names: Names<'n>,
        text: &'s mut [u8],
    ) -> impl Future<Output = Result<Got, Error>> + use<'s, 'n, 'b, U, D> {
        async move {
            // Checked before anything is sent; built again after the
            // preparation, so as not to hold it meanwhile.
            cmd::file_cmd(op, names)?;
            let want = match op {
                FileOp::Pwd => Want::Text(op.result()),
                FileOp::Mdtm => Want::Time(parse::mdtm_value),
                _ => Want::Num(op.result()),
            };
            self.prepare(true).await?;
            let r = self.command(&cmd::file_cmd(op, names)?, want, self.st.deferred, text).await;
            self.st.ended(r)
        }
    }
}

/// The module is busy with a session still open: `+CME ERROR: 603` at
/// once, or module error 603 in the deferred result.
fn busy(e: Error) -> bool {
    match e {
        Error::Cme(CmeError::Code(603)) => true,
        Error::Ftp { module, .. } => module == ModuleError::from(603),
        _ => false,
    }
}

pin_project_lite::pin_project! {
    /// The future of a file command: [`Ftp::file_op`]'s future, its value
    /// converted for the caller. Every file command's future is one of
    /// these, so `file_op`'s state machine is polled by one out-of-line
    /// function rather than compiled into each caller's.
    pub(crate) struct FileCommand<F, T> {
        #[pin]
        fut: F,
        out: PhantomData<fn() -> T>,
    }
}

impl<F, T> FileCommand<F, T> {
    pub(crate) fn new(fut: F) -> Self {
        FileCommand { fut, out: PhantomData }
    }
}

impl<F: Future<Output = Result<Got, Error>>, T: FromGot> Future for FileCommand<F, T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_out_of_line(self.project().fut, cx).map(|r| r.and_then(T::from_got))
    }
}

/// What an answer's value becomes for the caller.
pub(crate) trait FromGot: Sized {
    fn from_got(got: Got) -> Result<Self, Error>;
}

impl FromGot for Got {
    fn from_got(got: Got) -> Result<Self, Error> {
        Ok(got)
    }
}

impl FromGot for () {
    fn from_got(_: Got) -> Result<Self, Error> {
        Ok(())
    }
}

impl FromGot for u64 {
    fn from_got(got: Got) -> Result<Self, Error> {
        got.num()
    }
}

impl FromGot for ModifyTime {
    fn from_got(got: Got) -> Result<Self, Error> {
        match got {
            Got::Time(t) => Ok(t),
            _ => Err(Error::Protocol),
        }
    }
}
