//! The typed values of the client's API that are not settings.

use core::fmt;

/// Options of a transfer: where it starts, how much goes per round trip,
/// and who hears of its progress.
///
/// ```
/// use quectel_ftp::Transfer;
///
/// let mut moved = 0;
/// let mut seen = |n| moved = n;
/// let opts = Transfer { start: 4096, ..Transfer::default() }.with_progress(&mut seen);
/// assert_eq!(opts.chunk, u32::MAX);
/// ```
pub struct Transfer<'p> {
    /// Start (resume) offset in the remote file, in bytes.
    pub start: u64,
    /// The most bytes one `AT+QFTPPUT`/`AT+QFTPGET` moves. Unlimited by
    /// default: a length known in advance ([`crate::Ftp::put_sized`], a
    /// download whose size the server tells) goes in one command, a round
    /// trip per file. A smaller chunk gives a point the module has
    /// confirmed every `chunk` bytes (to resume from) at the cost of a
    /// round trip each. Uploads of unknown length are also limited by the
    /// chunk buffer; downloads whose size the server cannot tell by
    /// 64 KiB.
    pub chunk: u32,
    /// How [`crate::Ftp::put`] sends a source of unknown length that does
    /// not fit the chunk buffer ([`UploadMode::Auto`] by default).
    pub upload: UploadMode,
    /// Told the bytes moved so far: for uploads after each write to the
    /// module, for downloads after each chunk the module confirmed (a
    /// point to resume from; count the sink's writes for finer progress).
    /// Optional.
    pub progress: Option<&'p mut dyn FnMut(u64)>,
}

/// How an upload of unknown length ([`crate::Ftp::put`]) ends each
/// `AT+QFTPPUT` (reference section 5).
///
/// A source that ends inside the first fill of the chunk buffer goes as one
/// counted upload, except with [`UploadMode::Escaped`], which escapes
/// whatever the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UploadMode {
    /// [`UploadMode::Escaped`] for the rest of the file when it pays:
    /// with a DTR pin (its escape costs no guard time; a pin that failed
    /// when driven counts as none until the next `init`), or once the last
    /// round trip the client measured (the `CONNECT` of an `AT+QFTPPUT`, or
    /// `AT+QFTPOPEN`'s result) took [`crate::client::SLOW_ROUND_TRIP`] or
    /// more. Otherwise [`UploadMode::Counted`], looking again at every
    /// chunk.
    #[default]
    Auto,
    /// One `<uploadlen>,<beof>` upload per fill of the chunk buffer: the
    /// module leaves data mode by itself, no escape, but a round trip per
    /// buffer.
    Counted,
    /// One upload without `<uploadlen>`, ended by DTR or a guarded `+++`
    /// (the vendor's way): a round trip per file, plus two guard times
    /// without a DTR pin.
    Escaped,
}

impl<'p> Transfer<'p> {
    /// These options, reporting progress to `progress`.
    pub fn with_progress(self, progress: &'p mut dyn FnMut(u64)) -> Self {
        Transfer { progress: Some(progress), ..self }
    }

    /// Tells the progress callback, if there is one.
    pub(crate) fn report(&mut self, moved: u64) {
        if let Some(progress) = self.progress.as_mut() {
            progress(moved);
        }
    }
}

impl Default for Transfer<'_> {
    fn default() -> Self {
        Transfer { start: 0, chunk: u32::MAX, upload: UploadMode::Auto, progress: None }
    }
}

impl fmt::Debug for Transfer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transfer")
            .field("start", &self.start)
            .field("chunk", &self.chunk)
            .field("upload", &self.upload)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Transfer<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Transfer {{ start: {}, chunk: {} }}", self.start, self.chunk)
    }
}

/// The local IP address `AT+QIACT?` reported, kept as the module printed it
/// (dotted IPv4 or IPv6 text): parsing it is left to callers that need an
/// [`core::net::IpAddr`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LocalAddr {
    text: [u8; Self::MAX],
    len: u8,
}

impl LocalAddr {
    /// Longest text kept: a full IPv6 address with an IPv4 tail.
    pub const MAX: usize = 45;

    /// Hex digits, `.` and `:` only, at most [`Self::MAX`] bytes.
    pub(crate) fn new(text: &[u8]) -> Option<Self> {
        let ok = !text.is_empty() && text.iter().all(|b| b.is_ascii_hexdigit() || *b == b'.' || *b == b':');
        let mut addr = LocalAddr { text: [0; Self::MAX], len: text.len() as u8 };
        addr.text.get_mut(..text.len()).filter(|_| ok)?.copy_from_slice(text);
        Some(addr)
    }

    /// The address as text, e.g. `10.7.157.1`.
    pub fn as_str(&self) -> &str {
        let bytes = self.text.get(..usize::from(self.len)).unwrap_or_default();
        core::str::from_utf8(bytes).unwrap_or_default()
    }

    /// The address parsed; `None` if the module printed something odd.
    pub fn to_ip(&self) -> Option<core::net::IpAddr> {
        self.as_str().parse().ok()
    }
}

impl core::fmt::Debug for LocalAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Display for LocalAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for LocalAddr {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

/// The three listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Listing {
    /// `AT+QFTPLIST`: the server's long listing.
    List,
    /// `AT+QFTPNLST`: names only.
    Nlst,
    /// `AT+QFTPMLSD`: RFC 3659 facts.
    Mlsd,
}

impl Listing {
    /// The result line's name, e.g. `QFTPLIST`.
    pub fn result_name(self) -> &'static str {
        match self {
            Listing::List => "QFTPLIST",
            Listing::Nlst => "QFTPNLST",
            Listing::Mlsd => "QFTPMLSD",
        }
    }
}

/// A modification time from `+QFTPMDTM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ModifyTime {
    /// Year, four digits.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–60 (60 is a leap second).
    pub second: u8,
    /// Milliseconds, when the server sent them.
    pub millis: Option<u16>,
}

impl ModifyTime {
    pub(crate) fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
    }
}

impl fmt::Display for ModifyTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        match self.millis {
            Some(ms) => write!(f, ".{:03}", ms),
            None => Ok(()),
        }
    }
}

/// The session state reported by `+QFTPSTAT: 0,<state>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FtpState {
    /// 0: opening the session.
    Opening,
    /// 1: open and idle.
    Idle,
    /// 2: a transfer is running.
    Transferring,
    /// 3: closing.
    Closing,
    /// 4: closed.
    Closed,
    /// A state the reference does not list (saturated at 255).
    Other(u8),
}

impl FtpState {
    /// The state for a code as printed by the modem.
    pub fn from_code(code: u64) -> Self {
        match code {
            0 => FtpState::Opening,
            1 => FtpState::Idle,
            2 => FtpState::Transferring,
            3 => FtpState::Closing,
            4 => FtpState::Closed,
            other => FtpState::Other(u8::try_from(other).unwrap_or(u8::MAX)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addr_keeps_address_text_and_refuses_anything_else() {
        let v4 = LocalAddr::new(b"10.7.157.1").unwrap();
        assert_eq!(v4.as_str(), "10.7.157.1");
        assert_eq!(v4.to_ip(), "10.7.157.1".parse().ok());
        let v6 = LocalAddr::new(b"2001:db8::ffff:10.0.0.1").unwrap();
        assert_eq!(v6.to_ip(), "2001:db8::ffff:10.0.0.1".parse().ok());
        // Not an address: kept out rather than passed on.
        for odd in [&b""[..], b"10.0.0.1\"", b"host.example", b"1.2.3.4 ", &[b'1'; LocalAddr::MAX + 1]] {
            assert_eq!(LocalAddr::new(odd), None, "{:?}", odd);
        }
        // Hex digits and dots only, but no address: text kept, no IpAddr.
        assert_eq!(LocalAddr::new(b"abc.def").unwrap().to_ip(), None);
    }

    #[test]
    fn ftp_states() {
        let table = [
            (0, FtpState::Opening),
            (1, FtpState::Idle),
            (2, FtpState::Transferring),
            (3, FtpState::Closing),
            (4, FtpState::Closed),
            (5, FtpState::Other(5)),
            (1000, FtpState::Other(255)),
        ];
        for (code, state) in table {
            assert_eq!(FtpState::from_code(code), state);
        }
        let stat = crate::at::parse::ftp_result(b"+QFTPSTAT: 0,1", b"QFTPSTAT").and_then(|r| r.value.num());
        assert_eq!(stat.map(FtpState::from_code), Some(FtpState::Idle));
    }
}
