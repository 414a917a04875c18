#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The logging shim comes first so every module can use its macros.
#[macro_use]
mod fmt;

pub mod at;
pub mod blocking;
pub mod client;
pub mod error;
pub mod listing;

pub use client::{
    Auth, DataAddress, Dtr, FileType, Ftp, FtpConfig, FtpState, IpType, Listing, LocalAddr, ModifyTime, NoDtr,
    PdpConfig, Setting, SslConfig, SslFiles, SslType, Staging, Transfer, TransferMode, UfsSpace, UfsUpload, UploadMode,
    GUARD, MIN_BUF, RX_LEN, SLOW_ROUND_TRIP,
};
pub use error::{ArgError, CmeError, Error, FileError, FtpReply, ModuleError, SimError};
