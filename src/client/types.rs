//! The typed values of the client's API that are not settings.

/// Options of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Transfer {
    /// Start (resume) offset in the remote file, in bytes.
    pub start: u64,
    /// Bytes per `AT+QFTPGET`/`AT+QFTPPUT` round trip. Uploads are also
    /// limited by the chunk buffer. Larger chunks give more goodput.
    pub chunk: u32,
}

impl Default for Transfer {
    fn default() -> Self {
        Transfer { start: 0, chunk: 64 * 1024 }
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
}
