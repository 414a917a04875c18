//! FTP with a file of the module's store instead of `"COM:"` (reference
//! section 8; the FTP application note's step 4): the module moves the
//! file over the network by itself, and the UART and the task only wait
//! for its result. On top, store and forward in one call (stage, transfer,
//! delete, cleaning up after an error too), and the certificate files of
//! FTPS that verifies the server. The file commands themselves are in
//! `ufs.rs`.

use super::Dtr;
use embassy_time::Duration;
use embedded_io_async::{Read, Write};

use super::answer::Want;
use super::limits::QUICK;
use super::ufs::UfsUpload;
use super::{sat32, Ftp, Listing, Transfer};
use crate::at::cmd::{self, Command, COM};
use crate::error::{ArgError, CmeError, Error};

/// The staging file of a store-and-forward transfer
/// ([`Ftp::put_via_ufs`], [`Ftp::get_via_ufs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Staging<'a> {
    /// Its local name; it must not exist yet.
    pub name: &'a str,
    /// Keep it afterwards, whatever happened (by default it is deleted,
    /// after an error too).
    pub keep: bool,
    /// How it is uploaded.
    pub upload: UfsUpload,
    /// How long the module's own FTP transfer of it may take, in seconds:
    /// its `+QFTPPUT:`/`+QFTPGET:` comes when the whole file has moved.
    pub within_s: u32,
}

impl<'a> Staging<'a> {
    /// The file `name`, deleted afterwards, ten minutes for its FTP
    /// transfer.
    pub fn new(name: &'a str) -> Self {
        Staging { name, keep: false, upload: UfsUpload::default(), within_s: 600 }
    }
}

impl<'b, U: Read + Write, D: Dtr> Ftp<'b, U, D> {
    /// `AT+QFTPPUT="<remote>","<local>",<start>`: the module uploads its
    /// file `local` to `remote` (from `start` of the remote file: non-zero
    /// resumes or appends) by itself, within `within_s` seconds; the UART
    /// waits idle meanwhile. Returns the bytes the module moved
    /// (`+QFTPPUT: 0,<transferlen>`).
    ///
    /// **Time bound:** `P` + `within_s` (the whole transfer), riding out
    /// up to three busy answers.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before anything is sent (also for the
    /// local name `"COM:"`, which is [`Ftp::put`]'s); [`Error::NotOpen`]
    /// without a session; `Ftp { .. }` as the module and server report
    /// (module error 611 or 613: no such local file); [`Error::Timeout`].
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call waits out the deferred result for the deferred-result deadline
    /// (not `within_s`), then closes the session if it has not come.
    pub async fn put_from_ufs(&mut self, remote: &str, local: &str, start: u64, within_s: u32) -> Result<u64, Error> {
        not_com(local)?;
        let command = cmd::qftpput(remote, local, start, None)?;
        self.ufs_ftp(&command, b"QFTPPUT", within_s).await
    }

    /// `AT+QFTPGET="<remote>","<local>",<start>`: the module downloads
    /// `remote` (from byte `start`) into its file `local` by itself,
    /// within `within_s` seconds. Returns the bytes the module moved
    /// (`+QFTPGET: 0,<transferlen>`).
    ///
    /// **Time bound, errors, cancel safety:** as [`Ftp::put_from_ufs`]
    /// (a full store: module error 613 or 619).
    pub async fn get_to_ufs(&mut self, remote: &str, local: &str, start: u64, within_s: u32) -> Result<u64, Error> {
        not_com(local)?;
        let command = cmd::qftpget(remote, local, start, None)?;
        self.ufs_ftp(&command, b"QFTPGET", within_s).await
    }

    /// `AT+QFTPLIST="<dir>","<local>"` (likewise NLST, MLSD): the module
    /// stores the listing of `dir` in its file `local`. Returns the
    /// listing's length in bytes.
    ///
    /// **Time bound, errors, cancel safety:** as [`Ftp::put_from_ufs`].
    pub async fn list_to_ufs(&mut self, kind: Listing, dir: &str, local: &str, within_s: u32) -> Result<u64, Error> {
        not_com(local)?;
        let command = cmd::qftplist(kind, dir, local)?;
        let result = kind.result_name().as_bytes();
        self.ufs_ftp(&command, result, within_s).await
    }

    /// An FTP command whose local file is on the module: `OK`, then
    /// `+<result>: 0,<transferlen>` once the module is done.
    async fn ufs_ftp(&mut self, command: &Command<'_>, result: &'static [u8], within_s: u32) -> Result<u64, Error> {
        self.prepare(true).await?;
        let within = Duration::from_secs(within_s.into());
        let r = self.command(command, Want::Num(result), within, &mut []).await;
        self.st.ended(r)?.num()
    }

    /// Store and forward, up: stages `size` bytes of `src` on the module
    /// ([`Ftp::ufs_upload`] to `staging.name`, checksummed), has the module
    /// upload it to `remote` ([`Ftp::put_from_ufs`], from `opts.start`),
    /// checks the count, and deletes the staging file: after an error too,
    /// unless `staging.keep` (a staging file that existed already is never
    /// touched: that upload fails with `Cme(Code(407))`). `progress` hears
    /// the staging upload. Returns `size`.
    ///
    /// The module moves the file to the server by itself: the UART and the
    /// task only wait for its result (within `staging.within_s`).
    ///
    /// **Time bound:** [`Ftp::ufs_upload`]'s, then [`Ftp::put_from_ufs`]'s,
    /// then `P` + 5 s for the deletion.
    ///
    /// # Errors
    ///
    /// Those of the steps; [`Error::LengthMismatch`] if the module's
    /// count is not `size`. The first error wins; the deletion's own
    /// failure is reported only if all else went well.
    ///
    /// **Cancel safety:** as the steps'; a dropped call leaves the staging
    /// file on the module: delete it.
    pub async fn put_via_ufs<R: Read>(
        &mut self,
        remote: &str,
        src: &mut R,
        size: u64,
        staging: &Staging<'_>,
        opts: Transfer<'_>,
    ) -> Result<u64, Error> {
        cmd::qftpput(remote, staging.name, opts.start, None)?;
        not_com(staging.name)?;
        let start = opts.start;
        let r = match self.ufs_upload(staging.name, src, size, staging.upload, opts).await {
            // Not ours: left alone.
            Err(e @ Error::Cme(CmeError::Code(407))) => return Err(e),
            Err(e) => Err(e),
            Ok(_) => match self.put_from_ufs(remote, staging.name, start, staging.within_s).await {
                Ok(moved) if moved != size => Err(Error::LengthMismatch { moved: sat32(size), reported: sat32(moved) }),
                r => r,
            },
        };
        self.unstage(staging, r).await
    }

    /// Store and forward, down: has the module download `remote` (from
    /// `opts.start`) into `staging.name` ([`Ftp::get_to_ufs`]), reads it
    /// into `sink` ([`Ftp::ufs_download`], checksummed), checks the count,
    /// and deletes the staging file: after an error too, unless
    /// `staging.keep`. `progress` hears the read-back. Returns the bytes
    /// written to `sink`.
    ///
    /// **Time bound:** [`Ftp::get_to_ufs`]'s, then [`Ftp::ufs_download`]'s,
    /// then `P` + 5 s for the deletion.
    ///
    /// # Errors
    ///
    /// Those of the steps; [`Error::LengthMismatch`] if the module's count
    /// and the file read back differ.
    ///
    /// **Cancel safety:** as [`Ftp::put_via_ufs`].
    pub async fn get_via_ufs<W: Write>(
        &mut self,
        remote: &str,
        sink: &mut W,
        staging: &Staging<'_>,
        opts: Transfer<'_>,
    ) -> Result<u64, Error> {
        cmd::qftpget(remote, staging.name, opts.start, None)?;
        not_com(staging.name)?;
        let r = match self.get_to_ufs(remote, staging.name, opts.start, staging.within_s).await {
            Err(e) => Err(e),
            Ok(moved) => match self.ufs_download(staging.name, sink, opts).await {
                Ok(read) if read != moved => Err(Error::LengthMismatch { moved: sat32(read), reported: sat32(moved) }),
                r => r,
            },
        };
        self.unstage(staging, r).await
    }

    /// Deletes the staging file unless it is to be kept; `r` wins.
    async fn unstage(&mut self, staging: &Staging<'_>, r: Result<u64, Error>) -> Result<u64, Error> {
        if staging.keep {
            return r;
        }
        let deleted = match self.ufs_delete(staging.name).await {
            // Never made (the download failed before it), or deleted
            // already (a checksum failure).
            Err(Error::Cme(CmeError::Code(405))) => Ok(()),
            d => d,
        };
        r.and_then(|n| deleted.map(|_| n))
    }

    /// `AT+QSSLCFG="cacert"|"clientcert"|"clientkey",<ctx>,"<name>"` for
    /// each file `files` names: the certificates of FTPS that verifies the
    /// server (`seclevel` 1: `cacert`) and shows its own (`seclevel` 2: all
    /// three), PEM files on the module (upload them with
    /// [`Ftp::ufs_upload`], or use [`Ftp::install_ca`]). `seclevel` itself
    /// is [`crate::SslConfig::seclevel`], set by [`Ftp::configure`].
    ///
    /// **Time bound:** `P` + 5 s per file.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a context beyond 5 or a bad name,
    /// before anything is sent; `Cme`/`AtError` as the module answers.
    ///
    /// **Cancel safety:** the future may be dropped at any point; the next
    /// call resynchronises first.
    pub async fn ssl_files(&mut self, ssl_ctx: u8, files: &SslFiles<'_>) -> Result<(), Error> {
        for (param, name) in files.named() {
            cmd::qsslcfg_file(param, ssl_ctx, name)?;
        }
        self.prepare(false).await?;
        let r = async {
            for (param, name) in files.named() {
                self.command(&cmd::qsslcfg_file(param, ssl_ctx, name)?, Want::Nothing, QUICK, &mut []).await?;
            }
            Ok(())
        }
        .await;
        self.st.ended(r)
    }

    /// Installs a CA certificate for FTPS that verifies the server: uploads
    /// `size` bytes of PEM from `src` into the file `name` (replacing one
    /// of that name), then `AT+QSSLCFG="seclevel",<ctx>,1` and
    /// `AT+QSSLCFG="cacert",<ctx>,"<name>"`. Call it after
    /// [`Ftp::configure`], which sets `seclevel` too (or give `configure`
    /// `seclevel: 1`).
    ///
    /// **Time bound:** [`Ftp::ufs_delete`]'s, [`Ftp::ufs_upload`]'s, then
    /// `P` + 10 s.
    ///
    /// # Errors
    ///
    /// Those of the upload; [`Error::InvalidArgument`] for an SSL context
    /// beyond 5, before anything is sent.
    ///
    /// **Cancel safety:** as the upload's.
    pub async fn install_ca<R: Read>(&mut self, name: &str, src: &mut R, size: u64, ssl_ctx: u8) -> Result<(), Error> {
        let seclevel = cmd::qsslcfg_num("seclevel", ssl_ctx, 1)?;
        let files = SslFiles { cacert: Some(name), ..SslFiles::default() };
        cmd::qsslcfg_file("cacert", ssl_ctx, name)?;
        match self.ufs_delete(name).await {
            Ok(()) | Err(Error::Cme(CmeError::Code(405))) => {}
            Err(e) => return Err(e),
        }
        self.ufs_upload(name, src, size, UfsUpload::default(), Transfer::default()).await?;
        self.prepare(false).await?;
        let r = self.command(&seclevel, Want::Nothing, QUICK, &mut []).await;
        self.st.ended(r)?;
        self.ssl_files(ssl_ctx, &files).await
    }
}

/// The certificate files of an SSL context, by their names on the module
/// ([`Ftp::ssl_files`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SslFiles<'a> {
    /// `"cacert"`: the CA certificate the server's is verified against.
    pub cacert: Option<&'a str>,
    /// `"clientcert"`: the client's certificate (`seclevel` 2).
    pub clientcert: Option<&'a str>,
    /// `"clientkey"`: the client's private key (`seclevel` 2).
    pub clientkey: Option<&'a str>,
}

impl<'a> SslFiles<'a> {
    /// The files named, by their `AT+QSSLCFG` parameter.
    fn named(&self) -> impl Iterator<Item = (&'static str, &'a str)> {
        [("cacert", self.cacert), ("clientcert", self.clientcert), ("clientkey", self.clientkey)]
            .into_iter()
            .filter_map(|(param, name)| Some((param, name?)))
    }
}

/// A local name for a file of the module, not the UART's `"COM:"`.
fn not_com(local: &str) -> Result<(), ArgError> {
    match local.eq_ignore_ascii_case(COM) {
        true => Err(ArgError::Conflict),
        false => Ok(()),
    }
}
