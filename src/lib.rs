#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

// The logging shim comes first so every module can use its macros.
#[macro_use]
mod fmt;

pub mod at;
pub mod error;

pub use error::{ArgError, CmeError, Error, FtpReply, ModuleError};
