//! Logging shim: `trace!` .. `error!` go to `defmt`, to `log`, or nowhere.
//!
//! Never pass a password to these macros: the client logs command *names*,
//! never their arguments.
#![allow(unused_macros)]

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!("features `defmt` and `log` are mutually exclusive");

macro_rules! trace {
    ($s:literal $(, $x:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::trace!($s $(, $x)*);
        #[cfg(feature = "log")]
        ::log::trace!($s $(, $x)*);
        // Without a logger the arguments are type-checked, never evaluated.
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        if false {
            let _ = ($( & $x ),*);
        }
    }};
}

macro_rules! debug {
    ($s:literal $(, $x:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::debug!($s $(, $x)*);
        #[cfg(feature = "log")]
        ::log::debug!($s $(, $x)*);
        // Without a logger the arguments are type-checked, never evaluated.
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        if false {
            let _ = ($( & $x ),*);
        }
    }};
}

macro_rules! warn {
    ($s:literal $(, $x:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::warn!($s $(, $x)*);
        #[cfg(feature = "log")]
        ::log::warn!($s $(, $x)*);
        // Without a logger the arguments are type-checked, never evaluated.
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        if false {
            let _ = ($( & $x ),*);
        }
    }};
}

/// Bytes of the wire for a trace: printable ASCII as it is, CR and LF as
/// `\r` and `\n`, every other byte as `\xNN`.
pub(crate) struct Escaped<'a>(pub(crate) &'a [u8]);

impl core::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use core::fmt::Write;
        for &b in self.0 {
            match b {
                b'\r' => f.write_str("\\r")?,
                b'\n' => f.write_str("\\n")?,
                0x20..=0x7e => f.write_char(char::from(b))?,
                _ => write!(f, "\\x{:02x}", b)?,
            }
        }
        Ok(())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Escaped<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=[u8]:a}", self.0)
    }
}
