//! Typed settings: the PDP context, `AT+QFTPCFG` and `AT+QSSLCFG`.

use core::fmt;

use crate::at::cmd::{self, in_range as range};
use crate::error::ArgError;

/// `AT+QFTPCFG="filetype"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FileType {
    /// 0: binary (the default here; files arrive byte-exact).
    #[default]
    Binary = 0,
    /// 1: ASCII (the server may rewrite line ends).
    Ascii = 1,
}

/// `AT+QFTPCFG="transmode"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TransferMode {
    /// 0: active, the module listens.
    Active = 0,
    /// 1: passive, the server listens (needed for FTPS and behind NAT).
    #[default]
    Passive = 1,
}

/// `AT+QFTPCFG="ssltype"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SslType {
    /// 0: plain FTP.
    #[default]
    None = 0,
    /// 1: FTPS with implicit TLS (usually port 990).
    Implicit = 1,
    /// 2: FTPS with explicit TLS (`AUTH TLS` on port 21).
    Explicit = 2,
}

/// `AT+QFTPCFG="data_address"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DataAddress {
    /// 0: the address the server gives in its PASV reply.
    #[default]
    Server = 0,
    /// 1: the control connection's address (servers behind NAT).
    Control = 1,
}

/// The FTP(S) settings applied by [`Ftp::configure`](crate::Ftp::configure).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FtpConfig<'a> {
    /// Login name (255 bytes at most). A credential: never logged nor
    /// shown by `Debug`.
    pub user: &'a str,
    /// Password (255 bytes at most). Never logged nor shown by `Debug`.
    pub password: &'a str,
    /// Binary or ASCII.
    pub file_type: FileType,
    /// Active or passive.
    pub transfer_mode: TransferMode,
    /// PDP context id, 1–16.
    pub context_id: u8,
    /// The module's response timeout in seconds, 20–180. The driver's own
    /// deadlines are derived from it.
    pub rsp_timeout_s: u8,
    /// Plain FTP or FTPS.
    pub ssl: SslType,
    /// SSL context id, 0–5.
    pub ssl_ctx: u8,
    /// Which address the data connection goes to.
    pub data_address: DataAddress,
}

impl Default for FtpConfig<'_> {
    fn default() -> Self {
        FtpConfig {
            user: "anonymous",
            password: "anonymous@",
            file_type: FileType::Binary,
            transfer_mode: TransferMode::Passive,
            context_id: 1,
            rsp_timeout_s: 90,
            ssl: SslType::None,
            ssl_ctx: 0,
            data_address: DataAddress::Server,
        }
    }
}

impl FtpConfig<'_> {
    /// Checks every value against its documented range (the user and the
    /// password: 255 bytes at most, no `"`, CR, LF or other control byte),
    /// and refuses FTPS in active mode (the module supports FTPS only in
    /// passive mode). [`crate::Ftp::configure`] checks this before it sends
    /// anything; call it to refuse a configuration earlier.
    pub fn validate(&self) -> Result<(), ArgError> {
        cmd::qftpcfg_account(self.user, self.password)?;
        range(self.context_id, 1, 16)?;
        range(self.rsp_timeout_s, 20, 180)?;
        range(self.ssl_ctx, 0, 5)?;
        if self.ssl != SslType::None && self.transfer_mode == TransferMode::Active {
            return Err(ArgError::Conflict);
        }
        Ok(())
    }
}

impl fmt::Debug for FtpConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FtpConfig")
            .field("user", &"***")
            .field("password", &"***")
            .field("file_type", &self.file_type)
            .field("transfer_mode", &self.transfer_mode)
            .field("context_id", &self.context_id)
            .field("rsp_timeout_s", &self.rsp_timeout_s)
            .field("ssl", &self.ssl)
            .field("ssl_ctx", &self.ssl_ctx)
            .field("data_address", &self.data_address)
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for FtpConfig<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "FtpConfig {{ user: ***, password: ***, ssl: {}, context_id: {=u8}, rsp_timeout_s: {=u8} }}",
            self.ssl,
            self.context_id,
            self.rsp_timeout_s
        )
    }
}

/// The numeric `AT+QFTPCFG` settings, for [`Ftp::setting`](crate::Ftp::setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Setting {
    /// `"filetype"`.
    FileType,
    /// `"transmode"`.
    TransferMode,
    /// `"contextid"`.
    ContextId,
    /// `"rsptimeout"`.
    RspTimeout,
    /// `"ssltype"`.
    SslType,
    /// `"sslctxid"`.
    SslCtx,
    /// `"data_address"`.
    DataAddress,
}

impl Setting {
    /// The name as `AT+QFTPCFG` spells it.
    #[inline(never)]
    pub fn name(self) -> &'static str {
        match self {
            Setting::FileType => "filetype",
            Setting::TransferMode => "transmode",
            Setting::ContextId => "contextid",
            Setting::RspTimeout => "rsptimeout",
            Setting::SslType => "ssltype",
            Setting::SslCtx => "sslctxid",
            Setting::DataAddress => "data_address",
        }
    }

    /// Every numeric setting, in the order `configure` sends them.
    pub(crate) const ALL: [Setting; 7] = [
        Setting::ContextId,
        Setting::FileType,
        Setting::TransferMode,
        Setting::RspTimeout,
        Setting::SslType,
        Setting::SslCtx,
        Setting::DataAddress,
    ];

    /// This setting's value in `cfg`.
    pub(crate) fn value(self, cfg: &FtpConfig<'_>) -> u32 {
        match self {
            Setting::ContextId => cfg.context_id.into(),
            Setting::FileType => cfg.file_type as u32,
            Setting::TransferMode => cfg.transfer_mode as u32,
            Setting::RspTimeout => cfg.rsp_timeout_s.into(),
            Setting::SslType => cfg.ssl as u32,
            Setting::SslCtx => cfg.ssl_ctx.into(),
            Setting::DataAddress => cfg.data_address as u32,
        }
    }
}

/// `AT+QSSLCFG` settings for the SSL context of an FTPS session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SslConfig {
    /// `"sslversion"`: 0 SSL3.0, 1 TLS1.0, 2 TLS1.1, 3 TLS1.2, 4 all.
    pub version: u8,
    /// `"ciphersuite"`: `0xFFFF` for all.
    pub ciphersuite: u16,
    /// `"seclevel"`: 0 no authentication, 1 the server's certificate is
    /// verified against the CA certificate, 2 the client's certificate is
    /// sent too. The certificates are files on the module, named with
    /// [`crate::Ftp::ssl_files`] (or [`crate::Ftp::install_ca`]).
    pub seclevel: u8,
}

impl Default for SslConfig {
    fn default() -> Self {
        SslConfig::DEFAULT
    }
}

impl SslConfig {
    /// All versions and cipher suites, no authentication.
    pub const DEFAULT: SslConfig = SslConfig { version: 4, ciphersuite: 0xFFFF, seclevel: 0 };

    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), ArgError> {
        range(self.version, 0, 4)?;
        range(self.seclevel, 0, 2)
    }
}

/// `AT+QICSGP` IP type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IpType {
    /// 1: IPv4.
    #[default]
    V4 = 1,
    /// 2: IPv6.
    V6 = 2,
    /// 3: IPv4v6.
    V4V6 = 3,
}

/// `AT+QICSGP` authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Auth {
    /// 0: none.
    #[default]
    None = 0,
    /// 1: PAP.
    Pap = 1,
    /// 2: CHAP.
    Chap = 2,
    /// 3: PAP or CHAP.
    PapOrChap = 3,
}

/// The PDP context to bring up with [`Ftp::activate`](crate::Ftp::activate).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PdpConfig<'a> {
    /// Context id, 1–16.
    pub cid: u8,
    /// IP type.
    pub ip_type: IpType,
    /// Access point name (may be empty: the network picks).
    pub apn: &'a str,
    /// APN user name. A credential: never logged nor shown by `Debug`.
    pub user: &'a str,
    /// APN password. Never logged nor shown by `Debug`.
    pub password: &'a str,
    /// Authentication.
    pub auth: Auth,
    /// How long [`crate::Ftp::activate`] waits for the module to register
    /// with the network before it activates the context, in seconds. An
    /// LTE-M or NB-IoT attach can take minutes; 180 by default.
    pub registration_timeout_s: u16,
}

impl Default for PdpConfig<'_> {
    fn default() -> Self {
        PdpConfig {
            cid: 1,
            ip_type: IpType::V4,
            apn: "",
            user: "",
            password: "",
            auth: Auth::None,
            registration_timeout_s: 180,
        }
    }
}

impl fmt::Debug for PdpConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PdpConfig")
            .field("cid", &self.cid)
            .field("ip_type", &self.ip_type)
            .field("apn", &self.apn)
            .field("user", &"***")
            .field("password", &"***")
            .field("auth", &self.auth)
            .field("registration_timeout_s", &self.registration_timeout_s)
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for PdpConfig<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "PdpConfig {{ cid: {=u8}, apn: {=str}, password: *** }}", self.cid, self.apn)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn ranges_and_conflicts_are_refused() {
        assert_eq!(FtpConfig::default().validate(), Ok(()));
        let bad = [
            FtpConfig { context_id: 0, ..Default::default() },
            FtpConfig { context_id: 17, ..Default::default() },
            FtpConfig { rsp_timeout_s: 19, ..Default::default() },
            FtpConfig { rsp_timeout_s: 181, ..Default::default() },
            FtpConfig { ssl_ctx: 6, ..Default::default() },
        ];
        for cfg in bad {
            assert_eq!(cfg.validate(), Err(ArgError::OutOfRange), "{cfg:?}");
        }
        let ftps_active =
            FtpConfig { ssl: SslType::Implicit, transfer_mode: TransferMode::Active, ..Default::default() };
        assert_eq!(ftps_active.validate(), Err(ArgError::Conflict));
        let quoted = FtpConfig { password: "pa\"ss", ..Default::default() };
        assert_eq!(quoted.validate(), Err(ArgError::ForbiddenByte { at: 2 }));
        let long = "u".repeat(256);
        assert_eq!(FtpConfig { user: &long, ..Default::default() }.validate(), Err(ArgError::TooLong { max: 255 }));
        assert_eq!(SslConfig { version: 5, ..Default::default() }.validate(), Err(ArgError::OutOfRange));
    }

    #[test]
    fn passwords_are_not_shown() {
        let cfg = FtpConfig { password: "hunter2", ..Default::default() };
        assert!(!format!("{cfg:?}").contains("hunter2"));
        let pdp = PdpConfig { password: "s3cret", ..Default::default() };
        assert!(!format!("{pdp:?}").contains("s3cret"));
    }
}
