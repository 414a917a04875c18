//! Start-up configuration, response-shape variants and fault switches.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::ufs::Limits;

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
    /// whatever the host sends next is payload, until a guarded `+++` (or
    /// DTR, after `AT&D1`) ends the chunk early (`OK`, then `+QFTPPUT: 0,<bytes received>`; the
    /// bytes are kept) or `rsptimeout` passes without a byte.
    /// [`SimControl::stalled_uploads`](crate::SimControl::stalled_uploads)
    /// counts the chunks this has happened to.
    pub stall_upload_after: Option<u64>,
    /// In every command-mode window of an FTP exchange the module prints
    /// this many unsolicited lines, cycling through `+CEREG: 5`,
    /// `+QIND: "csq",20,99` and `+QUSIM: 1` (from the first in each window),
    /// as busy networks make real modules do: between a command's `OK` and
    /// its deferred `+QFTPxxx:` result, before every `CONNECT` (also
    /// `ATO`'s), and between a transfer's closing `OK` and its result. Those
    /// before a result come out as soon as the module has it, ahead of
    /// [`result_delay`](Self::result_delay), and also when
    /// [`drop_results`](Self::drop_results) swallows it.
    pub urcs_in_windows: u8,
    /// An upload that the module ends by itself with `+QFTPPUT: 609,0`
    /// (no byte for `rsptimeout`, or [`end_upload_after`](Self::end_upload_after))
    /// leaves data mode without the `OK` before that result, as some
    /// firmware does.
    pub put_timeout_without_ok: bool,
    /// The module ends the next `"COM:"` upload by itself after this many
    /// payload bytes (one shot; spent if that upload ends first): it leaves
    /// data mode, stores what it received and answers `OK` (see
    /// [`put_timeout_without_ok`](Self::put_timeout_without_ok)) and
    /// `+QFTPPUT: 609,0`. What the host sends after that is command-mode
    /// input.
    pub end_upload_after: Option<u64>,
    /// `AT+QFTPGET="<remote>","COM:",<startpos>,<downloadlen>` at the end
    /// of the file (`<startpos>` equal to its size) fails with `OK` and
    /// `+QFTPGET: 627,550` instead of sending an empty chunk, as firmware
    /// that checks the position against the server's size does.
    pub eof_as_550: bool,
    /// `AT+QFTPSIZE` fails with `OK` and `+QFTPSIZE: 627,<reply>` (a server
    /// without SIZE answers 502 or 500).
    pub size_unsupported: Option<u16>,
    /// The next `AT+QFTPGET`, `AT+QFTPPUT`, `AT+QFTPLIST`, `AT+QFTPNLST` or
    /// `AT+QFTPMLSD` fails to open its data connection and answers
    /// `+CME ERROR: 615` at once instead of `CONNECT` (one shot).
    pub fail_data_connection: bool,
    /// After [`fail_data_connection`](Self::fail_data_connection) has
    /// bitten, the module stays busy, as some firmware does: every FTP
    /// command but `AT+QFTPCLOSE` and `AT+QFTPSTAT` (which reports 2,
    /// transferring) answers `+CME ERROR: 603` until `AT+QFTPCLOSE`
    /// (`AT+QFTPCFG` still works). Without it the 615 is a one-off and the
    /// session stays usable.
    pub busy_after_data_failure: bool,
    /// The SIM card's state. The module moves it on as a real one does: a
    /// correct PIN makes it `Ready`, three wrong ones in a row `Puk`, and
    /// `Busy(n)` counts down; read it back with
    /// [`SimControl::faults`](crate::SimControl::faults).
    pub sim: SimState,
    /// The module is alive but answers every command line with `ERROR`
    /// (`AT`, `ATE0` and `AT+CMEE?` too).
    pub rejects_probe: bool,
    /// Network registration, as `AT+CEREG?`, `AT+CGREG?`, `AT+CREG?` and
    /// `AT+CSQ` report it. `AT+QIACT` answers `ERROR` at once while the SIM
    /// is not ready, and after a 300 ms attach attempt while not registered.
    pub registration: Registration,
    /// Bytes of file data each of the module's drives (UFS and RAM) holds:
    /// `AT+QFLDS="UFS"` reports it as `<total_size>`; an upload, a download
    /// to a file or a listing to a file that would need more is "no space"
    /// (`+CME ERROR: 420`, or module error 613 for FTP). Set it small to
    /// test a full drive.
    pub ufs_capacity: u64,
    /// Files each drive holds; one more is "no space" too.
    pub ufs_max_files: usize,
    /// The module ignores DTR even after `AT&D1` or `AT&D2` (which it still
    /// answers `OK`), as firmware that does not honour them, or a board
    /// whose DTR trace is not connected, does: only a guarded `+++` leaves
    /// data mode.
    pub ignore_dtr: bool,
    /// The module answers `OK` this long after it has left data mode (at a
    /// DTR edge, or once a `+++` and its guard time are through), as a
    /// module busy with its network can; what the host sends meanwhile is
    /// command-mode input.
    pub escape_answer_delay: Duration,
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
            urcs_in_windows: 0,
            put_timeout_without_ok: false,
            end_upload_after: None,
            eof_as_550: false,
            size_unsupported: None,
            fail_data_connection: false,
            busy_after_data_failure: false,
            sim: SimState::Ready,
            rejects_probe: false,
            registration: Registration::default(),
            ufs_capacity: 4 << 20,
            ufs_max_files: 64,
            ignore_dtr: false,
            escape_answer_delay: Duration::ZERO,
        }
    }
}

impl Faults {
    /// Time one byte takes on the line at the configured baud rate.
    pub fn byte_time(&self) -> Option<Duration> {
        self.baud.filter(|&baud| baud > 0).map(|baud| Duration::from_secs_f64(10.0 / f64::from(baud)))
    }

    /// The drives' limits now in force.
    pub(crate) fn file_limits(&self) -> Limits {
        Limits { capacity: self.ufs_capacity, max_files: self.ufs_max_files }
    }
}

/// The SIM card, as `AT+CPIN?` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SimState {
    /// `+CPIN: READY`.
    #[default]
    Ready,
    /// `+CPIN: SIM PIN` until `AT+CPIN="<this PIN>"`, which answers `OK`;
    /// the SIM is ready 100 ms later (`AT+CPIN?` answers
    /// `+CME ERROR: 14`, busy, meanwhile). A wrong PIN answers
    /// `+CME ERROR: 16`; the third wrong one in a row locks the SIM (`Puk`).
    Pin(String),
    /// `+CPIN: SIM PUK`: locked after three wrong PINs. Unlocking with the
    /// PUK is not modelled: `AT+CPIN=` answers `+CME ERROR: 16`.
    Puk,
    /// No SIM: `AT+CPIN?` answers `+CME ERROR: 10`.
    NotInserted,
    /// A broken SIM: `AT+CPIN?` answers `+CME ERROR: 13`.
    Failure,
    /// Still starting: the next `n` `AT+CPIN?` answer `+CME ERROR: 14`,
    /// then the SIM is ready.
    Busy(u32),
}

/// How the module registers with the network. The default is registered
/// on LTE (`AT+CEREG?`) in the home network at once, signal `20`.
///
/// Until the SIM is ready every registration command reports stat 0 (not
/// searching); from power-on, a reset or the SIM becoming ready, the one
/// that [`via`](Self::via) names reports 2 (searching) for
/// [`delay`](Self::delay), then [`stat`](Self::stat); the other two always
/// report 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// How long the search takes.
    pub delay: Duration,
    /// The stat the search ends in: 1 home, 5 roaming (both registered),
    /// 3 denied, 0 not searching.
    pub stat: u8,
    /// Which command reports the registration.
    pub via: NetworkDomain,
    /// `<rssi>` of `+CSQ: <rssi>,99` (0-31, 99 unknown).
    pub rssi: u8,
}

impl Default for Registration {
    fn default() -> Self {
        Registration { delay: Duration::ZERO, stat: 1, via: NetworkDomain::Eps, rssi: 20 }
    }
}

/// Where the module registers, and so which command reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkDomain {
    /// LTE (Cat M1, NB-IoT): `AT+CEREG?`.
    Eps,
    /// EGPRS packet domain: `AT+CGREG?`.
    Gprs,
    /// Circuit-switched domain: `AT+CREG?`.
    Cs,
}

/// As the simulator's command lines spell it: `ready`, `pin:<PIN>`, `puk`,
/// `not-inserted`, `failure` or `busy:<N>`.
impl std::str::FromStr for SimState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text.split_once(':') {
            None if text == "ready" => SimState::Ready,
            None if text == "puk" => SimState::Puk,
            None if text == "not-inserted" => SimState::NotInserted,
            None if text == "failure" => SimState::Failure,
            Some(("pin", pin)) => SimState::Pin(pin.to_owned()),
            Some(("busy", n)) => SimState::Busy(n.parse().map_err(|_| format!("busy:{n}: not a count"))?),
            _ => return Err("expected ready, pin:PIN, puk, not-inserted, failure or busy:N".to_owned()),
        })
    }
}

/// As the simulator's command lines spell it: `eps`, `gprs` or `cs`.
impl std::str::FromStr for NetworkDomain {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "eps" => Ok(NetworkDomain::Eps),
            "gprs" => Ok(NetworkDomain::Gprs),
            "cs" => Ok(NetworkDomain::Cs),
            _ => Err("expected eps, gprs or cs".to_owned()),
        }
    }
}
