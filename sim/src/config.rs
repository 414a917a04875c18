//! Start-up configuration, response-shape variants and fault switches.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// How the simulated module is built. `SimConfig::default()` is a BG95 as it
/// leaves the factory: echo on, `+CME ERROR: <n>` errors, no faults.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Host names `AT+QFTPOPEN` may resolve. Every address must be a
    /// loopback address: the simulator never connects anywhere else. Any
    /// other name fails like a DNS failure (`+QFTPOPEN: 604,0`).
    pub hosts: HashMap<String, IpAddr>,
    /// Silence required before and after a `+++` escape, and the window in
    /// which its three `+` must arrive. The real module uses 1 s.
    pub guard_time: Duration,
    /// How long the module takes between `AT+QFTPCLOSE`'s `OK` and the
    /// `+QFTPCLOSE: 0,0` result; FTP commands answer `+CME ERROR: 603`
    /// meanwhile.
    pub close_delay: Duration,
    /// The IP address reported by `AT+QIACT?`.
    pub pdp_address: Ipv4Addr,
    /// PEM certificates trusted when `AT+QSSLCFG="seclevel",<ctx>,1|2`
    /// asks for server verification (the module's `cacert`).
    pub ca_pem: Option<String>,
    /// Response-shape variants (reference sections 6 and 6b).
    pub variants: Variants,
    /// Faults active from power-on; change them later through
    /// [`SimControl`](crate::SimControl).
    pub faults: Faults,
}

impl Default for SimConfig {
    fn default() -> Self {
        let hosts = [("localhost", IpAddr::V4(Ipv4Addr::LOCALHOST)), ("ftp.sim.test", IpAddr::V4(Ipv4Addr::LOCALHOST))]
            .into_iter()
            .map(|(name, ip)| (name.to_owned(), ip))
            .collect();
        SimConfig {
            hosts,
            guard_time: Duration::from_secs(1),
            close_delay: Duration::from_millis(50),
            pdp_address: Ipv4Addr::new(10, 0, 0, 2),
            ca_pem: None,
            variants: Variants::default(),
            faults: Faults::default(),
        }
    }
}

/// Switches between the response shapes that the vendor document and real
/// firmware print for the same thing. The default is the normalised shape
/// of reference section 5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variants {
    /// `+QFTPSTAT: 0,<state>` is printed before `OK` (as the document's
    /// example does) instead of after it.
    pub stat_before_ok: bool,
    /// `+QFTPLEN: 0,<len>` is printed before `OK` instead of after it.
    pub len_before_ok: bool,
    /// `+QFTPSIZE: 1000` without the `<err>` field on success.
    pub size_without_err: bool,
    /// `+QFTPPWD: 0,/` with the path unquoted (EC20/EC25 firmware).
    pub pwd_unquoted: bool,
    /// A space after the comma before quoted strings:
    /// `+QFTPPWD: 0, "/"`, `+QFTPMDTM: 0, "..."`, `+QIACT: 1,1,1, "..."`.
    pub space_before_quoted: bool,
    /// Extra blank lines (`\r\n`) between `OK` and a deferred result.
    pub extra_blank_lines: u8,
    /// `+QFTPMDTM: 0,"YYYYMMDDHHMMSS.NNN"` with milliseconds.
    pub mdtm_millis: bool,
    /// A stray line `1` after `AT+QFTPCFG="contextid",1` (document quirk).
    pub stray_contextid_line: bool,
    /// `+++` during a download aborts it: a following `ATO` answers
    /// `NO CARRIER` instead of resuming.
    pub escape_aborts_download: bool,
    /// `AT+QFTPOPEN` while a session is already open answers `OK` and then
    /// `+QFTPOPEN: 603,0`, instead of `+CME ERROR: 603` at once.
    pub open_busy_deferred: bool,
}

impl Default for Variants {
    fn default() -> Self {
        Variants {
            stat_before_ok: true,
            len_before_ok: false,
            size_without_err: false,
            pwd_unquoted: false,
            space_before_quoted: false,
            extra_blank_lines: 0,
            mdtm_millis: false,
            stray_contextid_line: false,
            escape_aborts_download: false,
            open_busy_deferred: false,
        }
    }
}

/// Faults the simulated module or its line can show. All probabilities are
/// drawn from a generator seeded with `seed`, so a run is repeatable.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Seed of the fault generator.
    pub seed: u64,
    /// Line rate in baud: every byte takes `10 / baud` seconds in each
    /// direction. `None` is an infinitely fast line.
    pub baud: Option<u32>,
    /// Extra delay before every deferred `+QFTPxxx:` result.
    pub result_delay: Duration,
    /// Deferred results are swallowed (never printed) while this is set.
    pub drop_results: bool,
    /// Probability that a byte from the module to the host is lost.
    pub drop_probability: f64,
    /// Probability that a byte from the module to the host is sent twice.
    pub duplicate_probability: f64,
    /// Stream offset (counted from power-on over everything the module
    /// sent) of one byte that is lost. See [`SimControl::drop_byte_in`](crate::SimControl::drop_byte_in).
    pub drop_at: Option<u64>,
    /// Stream offset of one byte that is sent twice.
    pub duplicate_at: Option<u64>,
    /// The module resets after this many payload bytes of the next data-mode
    /// transfer (either direction).
    pub reset_after_data_bytes: Option<u64>,
    /// The next FTP operation fails with this `(<err>, <protocol_error>)`
    /// instead of reaching the server (one shot).
    pub fail_next: Option<(u16, u16)>,
    /// Leaves the module in the middle of a counted upload (one shot): of
    /// the counted uploads (`AT+QFTPPUT=...,<uploadlen>,<beof>`) from now
    /// on, the module receives this many payload bytes, counting every
    /// chunk's `<uploadlen>`, and then loses the rest of the chunk in which
    /// that offset falls. It stays in data mode waiting for the bytes it
    /// lost, as if the host had died part-way through writing the chunk:
    /// whatever the host sends next is payload, until a guarded `+++` ends
    /// the chunk early (`OK`, then `+QFTPPUT: 0,<bytes received>`; the
    /// bytes are kept) or `rsptimeout` passes without a byte.
    /// [`SimControl::stalled_uploads`](crate::SimControl::stalled_uploads)
    /// counts the chunks this has happened to.
    pub stall_upload_after: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            seed: 0x5eed,
            baud: None,
            result_delay: Duration::ZERO,
            drop_results: false,
            drop_probability: 0.0,
            duplicate_probability: 0.0,
            drop_at: None,
            duplicate_at: None,
            reset_after_data_bytes: None,
            fail_next: None,
            stall_upload_after: None,
        }
    }
}

impl Faults {
    /// Time one byte takes on the line at the configured baud rate.
    pub fn byte_time(&self) -> Option<Duration> {
        self.baud.filter(|&baud| baud > 0).map(|baud| Duration::from_secs_f64(10.0 / f64::from(baud)))
    }
}
