//! Error types: codes from the wire, and the crate-wide [`Error`].
//!
//! Codes the modem prints are kept even when the reference does not list
//! them: every code enum has an `Other(n)` variant and converts both ways
//! with `u16`.

use core::fmt;

/// Declares a `u16`-coded enum with a catch-all `Other(u16)` variant,
/// `From` conversions both ways and a human description per code.
macro_rules! code_enum {
    (
        $(#[$attr:meta])*
        pub enum $name:ident {
            $( $(#[$vattr:meta])* $variant:ident = $value:literal => $text:literal, )+
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vattr])* $variant, )+
            /// A code this crate has no name for, kept as printed.
            Other(u16),
        }

        impl From<u16> for $name {
            fn from(code: u16) -> Self {
                match code {
                    $( $value => $name::$variant, )+
                    other => $name::Other(other),
                }
            }
        }

        impl From<$name> for u16 {
            fn from(code: $name) -> u16 {
                match code {
                    $( $name::$variant => $value, )+
                    $name::Other(other) => other,
                }
            }
        }

        impl $name {
            /// The numeric code as printed by the modem.
            pub fn code(self) -> u16 {
                self.into()
            }

            /// A short description in words (empty for unnamed codes).
            pub fn describe(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Other(_) => "",
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.describe() {
                    "" => write!(f, "{}", self.code()),
                    text => write!(f, "{} {}", self.code(), text),
                }
            }
        }
    };
}

code_enum! {
    /// The module's `<err>` field of a `+QFTPxxx:` result (reference section 7).
    pub enum ModuleError {
        /// 601
        Unknown = 601 => "unknown error",
        /// 602
        ServerBlocked = 602 => "FTP(S) server blocked",
        /// 603
        ServerBusy = 603 => "FTP(S) server busy",
        /// 604
        DnsFailed = 604 => "DNS parse failed",
        /// 605
        Network = 605 => "network error",
        /// 606
        ControlClosed = 606 => "control connection closed",
        /// 607
        DataClosed = 607 => "data connection closed",
        /// 608
        ClosedByPeer = 608 => "socket closed by peer",
        /// 609
        Timeout = 609 => "timeout",
        /// 610
        InvalidParameter = 610 => "invalid parameter",
        /// 611
        OpenFileFailed = 611 => "failed to open file",
        /// 612
        FilePosition = 612 => "file position invalid",
        /// 613
        FileError = 613 => "file error",
        /// 614
        ServiceUnavailable = 614 => "service not available, closing control connection",
        /// 615
        DataOpenFailed = 615 => "open data connection failed",
        /// 616
        TransferAborted = 616 => "connection closed; transfer aborted",
        /// 617
        FileActionNotTaken = 617 => "requested file action not taken",
        /// 618
        LocalError = 618 => "requested action aborted: local error in processing",
        /// 619
        InsufficientStorage = 619 => "requested action not taken: insufficient system storage",
        /// 620
        CommandUnrecognized = 620 => "syntax error, command unrecognized",
        /// 621
        ParameterSyntax = 621 => "syntax error in parameters or arguments",
        /// 622
        NotImplemented = 622 => "command not implemented",
        /// 623
        BadSequence = 623 => "bad sequence of commands",
        /// 624
        ParameterNotImplemented = 624 => "command parameter not implemented",
        /// 625
        NotLoggedIn = 625 => "not logged in",
        /// 626
        NeedAccount = 626 => "need account for storing files",
        /// 627
        ActionNotTaken = 627 => "requested action not taken",
        /// 628
        PageTypeUnknown = 628 => "requested action aborted: page type unknown",
        /// 629
        FileActionAborted = 629 => "requested file action aborted",
        /// 630
        FileNameInvalid = 630 => "requested file name invalid",
        /// 631
        SslAuthFailed = 631 => "SSL authentication failed",
    }
}

code_enum! {
    /// The FTP server's reply code (`<protocol_error>`, RFC 959). Codes
    /// outside the reference's table (such as 150) are kept as `Other`.
    pub enum FtpReply {
        /// 421
        ServiceNotAvailable = 421 => "service not available",
        /// 425
        CantOpenDataConnection = 425 => "can't open data connection",
        /// 426
        TransferAborted = 426 => "connection closed; transfer aborted",
        /// 450
        FileBusy = 450 => "requested file action not taken",
        /// 451
        LocalError = 451 => "requested action aborted: local error",
        /// 452
        InsufficientStorage = 452 => "insufficient system storage",
        /// 500
        SyntaxError = 500 => "syntax error, command unrecognized",
        /// 501
        ParameterSyntax = 501 => "syntax error in parameters",
        /// 502
        NotImplemented = 502 => "command not implemented",
        /// 503
        BadSequence = 503 => "bad sequence of commands",
        /// 504
        ParameterNotImplemented = 504 => "command parameter not implemented",
        /// 530
        NotLoggedIn = 530 => "not logged in",
        /// 532
        NeedAccount = 532 => "need account for storing files",
        /// 550
        FileUnavailable = 550 => "file unavailable",
        /// 551
        PageTypeUnknown = 551 => "page type unknown",
        /// 552
        StorageExceeded = 552 => "exceeded storage allocation",
        /// 553
        FileNameNotAllowed = 553 => "file name not allowed",
    }
}

code_enum! {
    /// The file store's `+CME ERROR: <err>` codes (Quectel FILE AT
    /// Commands Manual, "Summary of Error Codes"; reference section 8).
    pub enum FileError {
        /// 400
        InvalidInput = 400 => "invalid input value",
        /// 401
        LargerThanFile = 401 => "larger than the size of the file",
        /// 402
        ReadZero = 402 => "read zero byte",
        /// 403
        DriveFull = 403 => "drive full",
        /// 405
        NotFound = 405 => "file not found",
        /// 406
        InvalidName = 406 => "invalid file name",
        /// 407
        AlreadyExists = 407 => "file already exists",
        /// 409
        WriteFailed = 409 => "fail to write the file",
        /// 410
        OpenFailed = 410 => "fail to open the file",
        /// 411
        ReadFailed = 411 => "fail to read the file",
        /// 413
        TooManyOpen = 413 => "reach the max number of files allowed to be opened",
        /// 414
        ReadOnly = 414 => "the file is read-only",
        /// 416
        InvalidHandle = 416 => "invalid file descriptor",
        /// 417
        ListFailed = 417 => "fail to list the file",
        /// 418
        DeleteFailed = 418 => "fail to delete the file",
        /// 419
        DiskInfoFailed = 419 => "fail to get disk info",
        /// 420
        NoSpace = 420 => "no space",
        /// 421
        Timeout = 421 => "time out",
        /// 423
        FileTooLarge = 423 => "file too large",
        /// 425
        InvalidParameter = 425 => "invalid parameter",
        /// 426
        AlreadyOpen = 426 => "file already opened",
    }
}

/// What keeps the SIM from use (`AT+CPIN?` and its `+CME ERROR` codes,
/// 3GPP TS 27.007 sections 8.3 and 9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SimError {
    /// No SIM (`+CME ERROR: 10`).
    NotInserted,
    /// The SIM failed (`+CME ERROR: 13`).
    Failure,
    /// Still busy after the wait (`+CME ERROR: 14`).
    Busy,
    /// `+CPIN: SIM PIN`, and no PIN was given.
    PinRequired,
    /// The PIN given was refused (`+CME ERROR: 16`): it is not tried again
    /// (a third wrong PIN blocks the SIM).
    WrongPin,
    /// `+CPIN: SIM PUK`: the SIM is blocked; unblock it with its PUK.
    PukRequired,
    /// Another lock (`+CPIN: PH-SIM PIN`, `SIM PIN2`, ...).
    Locked,
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SimError::NotInserted => "not inserted",
            SimError::Failure => "failure",
            SimError::Busy => "busy",
            SimError::PinRequired => "PIN required",
            SimError::WrongPin => "wrong PIN",
            SimError::PukRequired => "PUK required (blocked)",
            SimError::Locked => "locked",
        })
    }
}

/// `+CME ERROR: <err>` — the modem refused a command outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CmeError {
    /// Numeric form (`AT+CMEE=1`). FTP commands use the module codes
    /// 601–631 here too (for example 603 while a close is pending).
    Code(u16),
    /// Verbose text form (`AT+CMEE=2`) this crate could not map to a number.
    /// The text is not kept (no allocation); `hash` is an FNV-1a hash of it so
    /// that equal texts compare equal.
    Text {
        /// FNV-1a hash of the text.
        hash: u32,
    },
}

impl CmeError {
    /// The module error this code stands for, if it is in the 601–631 range.
    pub fn module(self) -> Option<ModuleError> {
        match self {
            CmeError::Code(c @ 601..=631) => Some(ModuleError::from(c)),
            _ => None,
        }
    }

    /// The file store's error this code stands for, if it is in the 400–499
    /// range (the FILE commands, `AT+QFUPL` and the like).
    pub fn file(self) -> Option<FileError> {
        match self {
            CmeError::Code(c @ 400..=499) => Some(FileError::from(c)),
            _ => None,
        }
    }
}

impl fmt::Display for CmeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CmeError::Code(c) => match (self.module(), self.file()) {
                (Some(m), _) => write!(f, "+CME ERROR: {}", m),
                (_, Some(e)) => write!(f, "+CME ERROR: {}", e),
                _ => write!(f, "+CME ERROR: {}", c),
            },
            CmeError::Text { hash } => write!(f, "+CME ERROR (verbose text #{:08x})", hash),
        }
    }
}

/// Why a caller-supplied argument was refused. Nothing is written to the UART
/// for a refused command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ArgError {
    /// Longer than the documented limit for this kind of argument.
    TooLong {
        /// The limit in bytes.
        max: u16,
    },
    /// Empty where a value is required.
    Empty,
    /// Contains `"`, CR, LF, another control byte (< 0x20) or DEL (0x7F).
    ForbiddenByte {
        /// Offset of the first forbidden byte.
        at: u16,
    },
    /// A number outside its documented range.
    OutOfRange,
    /// A combination of settings the module rejects (for example FTPS in
    /// active mode).
    Conflict,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ArgError::TooLong { max } => write!(f, "argument longer than {} bytes", max),
            ArgError::Empty => f.write_str("argument is empty"),
            ArgError::ForbiddenByte { at } => {
                write!(f, "argument has a quote or control byte at offset {}", at)
            }
            ArgError::OutOfRange => f.write_str("number out of range"),
            ArgError::Conflict => f.write_str("conflicting settings"),
        }
    }
}

/// The crate-wide error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The UART failed.
    Io(embedded_io::ErrorKind),
    /// The caller's source of an upload failed to read, or (with
    /// `InvalidInput`) ended before the length announced to the module.
    Source(embedded_io::ErrorKind),
    /// The caller's sink of a download failed to write.
    Sink(embedded_io::ErrorKind),
    /// A wait ran past its deadline. The client must resynchronise
    /// (it does so itself before the next command).
    Timeout,
    /// A deferred result reported failure: the module's `<err>` and the
    /// server's reply code (if it sent one).
    Ftp {
        /// The module error (`<err>`).
        module: ModuleError,
        /// The FTP server's reply code, `None` when the module printed 0.
        reply: Option<FtpReply>,
    },
    /// `+CME ERROR: <n>`.
    Cme(CmeError),
    /// A plain `ERROR` final result (check the SIM with `AT+CPIN?`).
    AtError,
    /// A caller-supplied argument was refused before anything was sent.
    InvalidArgument(ArgError),
    /// A buffer of the caller's is too small: the chunk buffer given to
    /// [`crate::Ftp::new`], or the buffer an answer is copied into
    /// ([`crate::Ftp::pwd`]). Nothing was lost on the wire.
    BufferTooSmall {
        /// Bytes the buffer needs at least.
        needed: u32,
    },
    /// The modem sent something this crate could not make sense of where a
    /// specific answer was expected.
    Protocol,
    /// A transfer chunk moved a different number of bytes than the modem
    /// reports (or, for a download of known size, than was asked for). The
    /// counts are the chunk's (a chunk is at most `u32::MAX` bytes; the one
    /// stream of [`crate::Ftp::put_escaped`] saturates there). 32 bits keep
    /// every `Result` of the driver small.
    LengthMismatch {
        /// Bytes the driver moved.
        moved: u32,
        /// Bytes the module reported (or that were asked for).
        reported: u32,
    },
    /// The file store's checksum of a file moved to or from it
    /// (`+QFUPL:`, `+QFDWL:`) is not the one of the bytes this side moved:
    /// the UART lost or changed some (reference section 8).
    Checksum {
        /// The 16-bit XOR checksum of the bytes this side moved.
        ours: u16,
        /// The module's.
        module: u16,
    },
    /// The SIM keeps the module off the network (`AT+CPIN?`).
    Sim(SimError),
    /// The module did not register with the network in time, or the
    /// network denied it (`AT+CEREG?`, `AT+CGREG?`, `AT+CREG?`; 3GPP TS
    /// 27.007 sections 7.2, 10.1.20, 10.1.22).
    NotRegistered {
        /// The last registration state seen, the best of the three
        /// queries: 0 not searching, 2 searching, 3 denied, 4 unknown.
        stat: u8,
        /// The signal then (`AT+CSQ` `<rssi>`): 0–31 (-113 to -51 dBm in 2
        /// dB steps), 99 unknown.
        rssi: u8,
    },
    /// The network dropped the PDP context (`+QIURC: "pdpdeact"`) or the
    /// module restarted: the FTP session is gone; open it again.
    SessionClosed,
    /// No FTP session is open.
    NotOpen,
}

impl Error {
    /// Builds the error for a failed deferred result `<err>,<protocol_error>`.
    pub fn ftp(err: u16, reply: u16) -> Self {
        Error::Ftp {
            module: ModuleError::from(err),
            reply: if reply == 0 { None } else { Some(FtpReply::from(reply)) },
        }
    }
}

impl From<ArgError> for Error {
    fn from(e: ArgError) -> Self {
        Error::InvalidArgument(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(kind) => write!(f, "UART error: {:?}", kind),
            Error::Source(embedded_io::ErrorKind::InvalidInput) => {
                f.write_str("the source ended before the length announced")
            }
            Error::Source(kind) => write!(f, "reading the source failed: {:?}", kind),
            Error::Sink(kind) => write!(f, "writing the sink failed: {:?}", kind),
            Error::Timeout => f.write_str("timed out waiting for the modem"),
            Error::Ftp { module, reply: Some(reply) } => {
                write!(f, "{} (server replied {}; module error {})", reply.describe_or_code(), reply.code(), module)
            }
            Error::Ftp { module, reply: None } => write!(f, "module error {}", module),
            Error::Cme(e) => write!(f, "{}", e),
            Error::AtError => f.write_str("the modem answered ERROR (is the SIM ready?)"),
            Error::InvalidArgument(e) => write!(f, "invalid argument: {}", e),
            Error::BufferTooSmall { needed } => write!(f, "buffer too small: {} bytes needed", needed),
            Error::Protocol => f.write_str("unexpected response from the modem"),
            Error::LengthMismatch { moved, reported } => {
                write!(f, "transfer length mismatch: moved {} bytes, modem reports {}", moved, reported)
            }
            Error::Checksum { ours, module } => {
                write!(f, "checksum mismatch: {:04x} sent or received, module {:04x}", ours, module)
            }
            Error::Sim(e) => write!(f, "SIM: {}", e),
            Error::NotRegistered { stat, rssi } => {
                write!(f, "not registered with the network (state {}, signal {})", stat, rssi)
            }
            Error::SessionClosed => f.write_str("the network closed the session (PDP context deactivated)"),
            Error::NotOpen => f.write_str("no FTP session is open"),
        }
    }
}

impl FtpReply {
    fn describe_or_code(self) -> &'static str {
        match self.describe() {
            "" => "server error",
            text => text,
        }
    }
}

impl core::error::Error for Error {}

impl embedded_io::Error for Error {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            Error::Io(kind) | Error::Source(kind) | Error::Sink(kind) => *kind,
            Error::Timeout => embedded_io::ErrorKind::TimedOut,
            Error::InvalidArgument(_) => embedded_io::ErrorKind::InvalidInput,
            _ => embedded_io::ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn codes_round_trip_and_keep_unknown_values() {
        for code in 0..1000u16 {
            assert_eq!(u16::from(ModuleError::from(code)), code);
            assert_eq!(u16::from(FtpReply::from(code)), code);
        }
        assert_eq!(ModuleError::from(604), ModuleError::DnsFailed);
        assert_eq!(FtpReply::from(150), FtpReply::Other(150));
        assert_eq!(FtpReply::from(550), FtpReply::FileUnavailable);
    }

    #[test]
    fn display_names_codes_in_words() {
        let e = Error::ftp(627, 550);
        assert_eq!(e.to_string(), "file unavailable (server replied 550; module error 627 requested action not taken)");
        assert_eq!(Error::ftp(604, 0).to_string(), "module error 604 DNS parse failed");
        assert_eq!(
            Error::ftp(627, 150).to_string(),
            "server error (server replied 150; module error 627 requested action not taken)"
        );
        assert_eq!(Error::Cme(CmeError::Code(603)).to_string(), "+CME ERROR: 603 FTP(S) server busy");
        assert_eq!(Error::Cme(CmeError::Code(426)).to_string(), "+CME ERROR: 426 file already opened");
        assert_eq!(Error::Cme(CmeError::Code(10)).to_string(), "+CME ERROR: 10");
    }
}
