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
