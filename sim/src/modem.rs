//! The simulated module: AT command interpreter, data mode and FTP session.
//!
//! The module runs in its own thread and is written in blocking style: it
//! reads the line, answers, and carries out FTP operations against a real
//! server while the host waits for the deferred `+QFTPxxx:` result.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::at::{parse_line, Arg, Form, Line};
use crate::config::{NetworkDomain, SimConfig, SimState, Variants};
use crate::escape::EscapeDetector;
use crate::ftp::{FtpFail, FtpSession, ListKind, OpenParams, TlsSettings};
use crate::line::{lock, Event, Input, ModemLine};
use crate::ufs::FileName;

mod files;

/// Longest command line the module buffers.
const MAX_LINE: usize = 1024;
/// Longest remote path or name (reference section 4).
const MAX_PATH: usize = 255;
/// The local name that selects data mode on the UART.
const COM: &str = "COM:";
/// How many PDP contexts may be active at once.
const MAX_ACTIVE_PDP: usize = 3;
/// The unsolicited lines [`Faults::urcs_in_windows`](crate::Faults::urcs_in_windows)
/// cycles through.
const WINDOW_URCS: [&str; 3] = ["+CEREG: 5", "+QIND: \"csq\",20,99", "+QUSIM: 1"];
/// How long a SIM takes to be ready after its PIN was accepted.
const PIN_SETTLE: Duration = Duration::from_millis(100);
/// Wrong PINs in a row that lock the SIM.
const MAX_WRONG_PINS: u8 = 3;
/// How long `AT+QIACT` tries to attach before it fails while the module is
/// not registered.
const ATTACH_FAIL_DELAY: Duration = Duration::from_millis(300);

/// Why the module stops what it is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The module resets.
    Reset,
    /// The host end is gone: power off.
    HostGone,
}

/// One PDP context (`AT+QICSGP` / `AT+QIACT`).
#[derive(Debug, Clone, Default)]
struct Pdp {
    active: bool,
    /// The network dropped it: `AT+QIACT` fails until `AT+QIDEACT`.
    dropped: bool,
    context_type: u32,
    apn: String,
    user: String,
    password: String,
    auth: u32,
}

/// `AT+QFTPCFG` settings.
#[derive(Debug, Clone)]
struct FtpCfg {
    user: String,
    password: String,
    filetype: u32,
    transmode: u32,
    contextid: u32,
    rsptimeout: u32,
    ssltype: u32,
    sslctxid: u32,
    data_address: u32,
    restenable: u32,
}

impl Default for FtpCfg {
    fn default() -> Self {
        FtpCfg {
            user: String::new(),
            password: String::new(),
            filetype: 0,
            transmode: 1,
            contextid: 1,
            rsptimeout: 90,
            ssltype: 0,
            sslctxid: 0,
            data_address: 0,
            restenable: 0,
        }
    }
}

impl FtpCfg {
    /// Names of the numeric settings in the order the test form lists them.
    const NUMERIC: [&'static str; 8] =
        ["filetype", "transmode", "contextid", "rsptimeout", "ssltype", "sslctxid", "data_address", "restenable"];

    /// A numeric setting's documented range and storage.
    fn numeric(&mut self, name: &str) -> Option<(std::ops::RangeInclusive<u32>, &mut u32)> {
        Some(match name {
            "filetype" => (0..=1, &mut self.filetype),
            "transmode" => (0..=1, &mut self.transmode),
            "contextid" => (1..=16, &mut self.contextid),
            "rsptimeout" => (20..=180, &mut self.rsptimeout),
            "ssltype" => (0..=2, &mut self.ssltype),
            "sslctxid" => (0..=5, &mut self.sslctxid),
            "data_address" => (0..=1, &mut self.data_address),
            "restenable" => (0..=1, &mut self.restenable),
            _ => return None,
        })
    }
}

/// What a low-to-high DTR edge does in data mode (`AT&D<n>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum DtrMode {
    /// `AT&D0` (and `AT&D`), the power-on setting: nothing.
    #[default]
    Ignore,
    /// `AT&D1`: the module leaves data mode as a guarded `+++` makes it,
    /// without the guard times; a download can be resumed with `ATO`.
    Command,
    /// `AT&D2`: the module leaves data mode and ends the data connection:
    /// an upload ends as with `AT&D1` (what arrived is kept), a download
    /// cannot be resumed (`ATO` answers `NO CARRIER`).
    Hangup,
}

/// A download left with `+++`, to be resumed with `ATO`.
struct Suspended {
    cmd: &'static str,
    data: Vec<u8>,
    sent: usize,
}

/// Everything a reset returns to its power-on value.
struct State {
    echo: bool,
    cmee: u32,
    pdp: Vec<Pdp>,
    ftp: FtpCfg,
    /// `AT+QSSLCFG` values by (context, parameter), as printed.
    ssl: HashMap<(u32, String), String>,
    session: Option<FtpSession>,
    /// `AT+QFTPCLOSE` answered `OK`, its result is not out yet.
    closing: bool,
    /// A data connection failed with [`Faults::busy_after_data_failure`](crate::Faults::busy_after_data_failure)
    /// on: FTP commands answer 603 until `AT+QFTPCLOSE`.
    busy_until_close: bool,
    last_len: u64,
    suspended: Option<Suspended>,
    /// Power-on or the last reset: the network search starts then.
    booted: Instant,
    /// The `<n>` of `AT+CEREG=<n>`, `AT+CGREG=<n>`, `AT+CREG=<n>`.
    reg_modes: [u32; 3],
    /// `AT&D<n>`.
    dtr: DtrMode,
}

impl Default for State {
    fn default() -> Self {
        State {
            echo: true,
            cmee: 1,
            pdp: vec![Pdp::default(); 16],
            ftp: FtpCfg::default(),
            ssl: HashMap::new(),
            session: None,
            closing: false,
            busy_until_close: false,
            last_len: 0,
            suspended: None,
            booted: Instant::now(),
            reg_modes: [0; 3],
            dtr: DtrMode::Ignore,
        }
    }
}

/// Output waiting for its time (deferred results).
struct Scheduled {
    at: Instant,
    bytes: Vec<u8>,
    ends_close: bool,
}

/// Where a download or listing goes (its `<local>` name).
enum Local {
    /// `"COM:"`: the UART, in data mode.
    Com,
    /// A file on UFS or in RAM.
    File(FileName),
}

/// How a data-mode transfer from the module ended.
enum Sent {
    All,
    /// The host escaped with `+++` (or DTR after `AT&D1`) after this many
    /// bytes.
    Escaped(usize),
    /// The host raised DTR after `AT&D2` after this many bytes: the data
    /// connection is gone.
    HungUp(usize),
}

/// How the module takes in one data-mode upload (`AT+QFTPPUT` to
/// `"COM:"`, `AT+QFUPL`): what ends it besides a guarded `+++`, and the
/// faults that act on it.
#[derive(Debug, Clone, Copy)]
struct Intake {
    /// Leave data mode after this many payload bytes (`<uploadlen>`,
    /// `<file_size>`).
    limit: Option<u64>,
    /// Leave data mode after this long without a byte (`rsptimeout`,
    /// `AT+QFUPL`'s `<timeout>`).
    idle: Duration,
    /// [`Faults::stall_upload_after`](crate::Faults::stall_upload_after):
    /// the bytes the host sends from this offset up to `limit` are lost.
    lost: Option<u64>,
    /// [`Faults::end_upload_after`](crate::Faults::end_upload_after).
    cut: Option<u64>,
    /// `AT+QFUPL`'s ACK mode: send `A` after each this many bytes.
    ack_every: Option<u64>,
}

/// How a data-mode upload ended.
#[derive(Debug, PartialEq, Eq)]
enum Received {
    /// `<uploadlen>` bytes arrived.
    Complete,
    /// Guarded `+++`, or a DTR edge after `AT&D1` or `AT&D2`.
    Escaped,
    /// No byte for [`Intake::idle`].
    TimedOut,
    /// [`Faults::end_upload_after`](crate::Faults::end_upload_after) bytes
    /// arrived: the module ends the upload.
    Cut,
}

/// The simulated module.
pub(crate) struct Modem {
    line: ModemLine,
    config: SimConfig,
    st: State,
    cmd: Vec<u8>,
    scheduled: Vec<Scheduled>,
    urcs_before_result: Vec<String>,
    /// URCs and PDP drops that arrived in data mode, carried out when it ends.
    held_events: Vec<Event>,
}

impl Modem {
    pub fn new(line: ModemLine, config: SimConfig) -> Self {
        Modem {
            line,
            config,
            st: State::default(),
            cmd: Vec::new(),
            scheduled: Vec::new(),
            urcs_before_result: Vec::new(),
            held_events: Vec::new(),
        }
    }

    /// Serves the line until the host end is dropped.
    pub fn run(mut self) {
        loop {
            match self.step() {
                Ok(()) => {}
                Err(Stop::Reset) => self.reset(),
                Err(Stop::HostGone) => return,
            }
        }
    }

    fn step(&mut self) -> Result<(), Stop> {
        self.flush_due();
        let deadline = self.scheduled.iter().map(|s| s.at).min();
        match self.line.recv(deadline) {
            Input::Byte(byte, _) => self.command_byte(byte),
            // DTR only acts in data mode.
            Input::Dtr(_) => Ok(()),
            Input::Event(event) => self.event(event),
            Input::Timeout => Ok(()),
            Input::HostGone => Err(Stop::HostGone),
        }
    }

    fn reset(&mut self) {
        // The module dies: no QUIT, the server sees the connection drop.
        self.st = State::default();
        self.cmd.clear();
        self.scheduled.clear();
        self.urcs_before_result.clear();
        self.held_events.clear();
        self.line.discard_input();
        lock(&self.line.shared().files).power_cycle();
        let cpin = match lock(&self.line.shared().faults).faults.sim {
            SimState::Ready => "\r\n+CPIN: READY\r\n",
            SimState::Pin(_) => "\r\n+CPIN: SIM PIN\r\n",
            SimState::Puk => "\r\n+CPIN: SIM PUK\r\n",
            SimState::NotInserted | SimState::Failure | SimState::Busy(_) => "",
        };
        self.send(format!("\r\nRDY\r\n{cpin}\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n").as_bytes());
    }

    /// A control event in command mode.
    fn event(&mut self, event: Event) -> Result<(), Stop> {
        match event {
            Event::Urc(urc) => self.respond(&urc),
            Event::UrcBeforeResult(urc) => self.urcs_before_result.push(urc),
            Event::DropPdp(cid) => self.drop_pdp(cid),
            Event::Reset => return Err(Stop::Reset),
        }
        Ok(())
    }

    // ----- output -------------------------------------------------------

    fn variants(&self) -> Variants {
        lock(&self.line.shared().variants).clone()
    }

    fn send(&mut self, bytes: &[u8]) {
        self.line.send(bytes);
    }

    /// Prints `\r\n<line>\r\n`.
    fn respond(&mut self, line: &str) {
        self.send(format!("\r\n{line}\r\n").as_bytes());
    }

    fn ok(&mut self) {
        self.respond("OK");
    }

    fn error(&mut self) {
        self.respond("ERROR");
    }

    /// `+CME ERROR: <code>` (or `ERROR` with `AT+CMEE=0`).
    fn cme(&mut self, code: u16) {
        match self.st.cmee {
            0 => self.error(),
            2 => self.respond(&format!("+CME ERROR: {}", error_text(code))),
            _ => self.respond(&format!("+CME ERROR: {code}")),
        }
    }

    /// A quoted string, with the optional space before it.
    fn quoted(&self, text: &str) -> String {
        if self.variants().space_before_quoted {
            format!(" \"{text}\"")
        } else {
            format!("\"{text}\"")
        }
    }

    /// Schedules `+QFTP<cmd>: 0,<value>` or `+QFTP<cmd>: <err>,<reply>`.
    fn defer(&mut self, cmd: &str, outcome: Result<String, FtpFail>) {
        let line = match outcome {
            Ok(value) if cmd == "SIZE" && self.variants().size_without_err => {
                format!("+QFTPSIZE: {value}")
            }
            Ok(value) => format!("+QFTP{cmd}: 0,{value}"),
            Err(fail) => format!("+QFTP{cmd}: {},{}", fail.err, fail.reply),
        };
        self.schedule(&line, Duration::ZERO, false);
    }

    /// Schedules a deferred result line, through the result faults; the
    /// window's unsolicited lines go out at once.
    fn schedule(&mut self, line: &str, base_delay: Duration, ends_close: bool) {
        self.window_urcs();
        let (delay, dropped) = {
            let faults = &lock(&self.line.shared().faults).faults;
            (faults.result_delay, faults.drop_results)
        };
        let mut bytes = Vec::new();
        if !dropped {
            for urc in self.urcs_before_result.drain(..) {
                bytes.extend_from_slice(format!("\r\n{urc}\r\n").as_bytes());
            }
            for _ in 0..self.variants().extra_blank_lines {
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(format!("\r\n{line}\r\n").as_bytes());
        }
        self.scheduled.push(Scheduled { at: Instant::now() + base_delay + delay, bytes, ends_close });
        self.flush_due();
    }

    /// Prints the scheduled output whose time has come, oldest first.
    fn flush_due(&mut self) {
        let now = Instant::now();
        self.scheduled.sort_by_key(|s| s.at);
        while self.scheduled.first().is_some_and(|s| s.at <= now) {
            let due = self.scheduled.remove(0);
            self.send(&due.bytes);
            if due.ends_close {
                self.st.closing = false;
            }
        }
    }

    /// Carries out what arrived in data mode, now that it has ended.
    fn release_held_events(&mut self) -> Result<(), Stop> {
        for event in std::mem::take(&mut self.held_events) {
            self.event(event)?;
        }
        Ok(())
    }

    /// Prints the unsolicited lines of [`Faults::urcs_in_windows`](crate::Faults::urcs_in_windows).
    fn window_urcs(&mut self) {
        let n = lock(&self.line.shared().faults).faults.urcs_in_windows;
        for urc in WINDOW_URCS.iter().cycle().take(n.into()) {
            self.respond(urc);
        }
    }

    // ----- command mode -------------------------------------------------

    fn command_byte(&mut self, byte: u8) -> Result<(), Stop> {
        if self.st.echo {
            self.send(&[byte]);
        }
        match byte {
            b'\r' => {
                let line = std::mem::take(&mut self.cmd);
                let rejects = lock(&self.line.shared().faults).faults.rejects_probe;
                match parse_line(&line) {
                    Some(_) if rejects => self.error(),
                    Some(Line::Basic(cmd)) => self.basic(&cmd)?,
                    Some(Line::Extended(name, form)) => self.extended(&name, form)?,
                    Some(Line::Invalid) => self.error(),
                    None => {}
                }
            }
            b'\n' if self.cmd.is_empty() => {}
            0x08 => {
                self.cmd.pop();
            }
            _ if self.cmd.len() < MAX_LINE => self.cmd.push(byte),
            _ => {}
        }
        Ok(())
    }

    fn basic(&mut self, cmd: &str) -> Result<(), Stop> {
        match cmd {
            "" | "V1" | "Q0" | "&F" | "&W" | "Z" | "&C1" => self.ok(),
            // V.250: `&D` without a value is `&D0`.
            "&D" | "&D0" | "&D1" | "&D2" => {
                self.st.dtr = match cmd {
                    "&D1" => DtrMode::Command,
                    "&D2" => DtrMode::Hangup,
                    _ => DtrMode::Ignore,
                };
                self.ok();
            }
            "E" | "E0" => {
                self.st.echo = false;
                self.ok();
            }
            "E1" => {
                self.st.echo = true;
                self.ok();
            }
            "I" => {
                self.send(b"\r\nQuectel\r\nBG95-M3\r\nRevision: BG95M3LAR02A03_SIM\r\n");
                self.ok();
            }
            "O" => return self.resume_download(),
            _ => self.error(),
        }
        Ok(())
    }

    fn extended(&mut self, name: &str, form: Form) -> Result<(), Stop> {
        match (name, form) {
            ("CMEE", Form::Write(args)) => match args.first().and_then(|a| a.int(0..=2)) {
                Some(n) => {
                    self.st.cmee = n;
                    self.ok();
                }
                None => self.error(),
            },
            ("CMEE", Form::Read) => {
                self.respond(&format!("+CMEE: {}", self.st.cmee));
                self.ok();
            }
            ("CPIN", Form::Read) => self.cpin_read(),
            ("CPIN", Form::Write(args)) => self.cpin_write(&args),
            ("CEREG" | "CGREG" | "CREG", form) => self.creg(name, form),
            ("CSQ", Form::Exec) => {
                let rssi = lock(&self.line.shared().faults).faults.registration.rssi;
                self.respond(&format!("+CSQ: {rssi},99"));
                self.ok();
            }
            ("QICSGP", Form::Write(args)) => self.qicsgp(&args),
            ("QIACT", Form::Write(args)) => self.qiact(&args),
            ("QIACT", Form::Read) => self.qiact_read(),
            ("QIDEACT", Form::Write(args)) => self.qideact(&args),
            ("QFTPCFG", Form::Test) => self.qftpcfg_test(),
            ("QFTPCFG", Form::Write(args)) => self.qftpcfg(&args),
            ("QSSLCFG", Form::Write(args)) => self.qsslcfg(&args),
            ("QFLDS" | "QFLST" | "QFDEL" | "QFUPL" | "QFDWL" | "QFOPEN" | "QFREAD" | "QFCLOSE", form) => {
                return self.file_command(name, form)
            }
            (name, form) if name.starts_with("QFTP") => return self.ftp_command(name, form),
            _ => self.error(),
        }
        Ok(())
    }

    /// `AT+CPIN?`: the SIM's state; a busy SIM counts the queries down.
    fn cpin_read(&mut self) {
        let now = Instant::now();
        let answer = {
            let mut guard = lock(&self.line.shared().faults);
            let state = &mut *guard;
            let settling = state.sim_ready_since.is_some_and(|since| now < since);
            let answer = match state.faults.sim {
                SimState::Ready if settling => Err(14),
                SimState::Ready | SimState::Busy(0) => Ok("READY"),
                SimState::Pin(_) => Ok("SIM PIN"),
                SimState::Puk => Ok("SIM PUK"),
                SimState::NotInserted => Err(10),
                SimState::Failure => Err(13),
                SimState::Busy(n) => {
                    state.faults.sim = SimState::Busy(n - 1);
                    Err(14)
                }
            };
            if state.faults.sim == SimState::Busy(0) {
                state.faults.sim = SimState::Ready;
                state.sim_ready_since = Some(now);
            }
            answer
        };
        match answer {
            Ok(status) => {
                self.respond(&format!("+CPIN: {status}"));
                self.ok();
            }
            Err(code) => self.cme(code),
        }
    }

    /// `AT+CPIN=<pin>`: every attempt is counted; the third wrong PIN in a
    /// row locks the SIM.
    fn cpin_write(&mut self, args: &[Arg]) {
        let entered = match args {
            [pin] => Some(pin.text.as_str()),
            _ => None,
        };
        let answer = {
            let mut guard = lock(&self.line.shared().faults);
            let state = &mut *guard;
            state.pin_attempts += 1;
            match &state.faults.sim {
                SimState::Pin(pin) if entered == Some(pin.as_str()) => {
                    state.faults.sim = SimState::Ready;
                    state.sim_ready_since = Some(Instant::now() + PIN_SETTLE);
                    state.wrong_pins = 0;
                    Ok(())
                }
                SimState::Pin(_) => {
                    state.wrong_pins += 1;
                    if state.wrong_pins >= MAX_WRONG_PINS {
                        state.faults.sim = SimState::Puk;
                        state.wrong_pins = 0;
                    }
                    Err(16)
                }
                SimState::Puk => Err(16),
                SimState::Ready => Err(3),
                SimState::NotInserted => Err(10),
                SimState::Failure => Err(13),
                SimState::Busy(_) => Err(14),
            }
        };
        match answer {
            Ok(()) => self.ok(),
            Err(code) => self.cme(code),
        }
    }

    /// Whether the SIM is ready (its PIN accepted, if it needed one).
    fn sim_ready(&self) -> bool {
        let state = lock(&self.line.shared().faults);
        state.faults.sim == SimState::Ready && state.sim_ready_since.is_none_or(|since| Instant::now() >= since)
    }

    /// The registration stat that `domain`'s command reports now.
    fn registration_stat(&self, domain: NetworkDomain) -> u8 {
        if !self.sim_ready() {
            return 0;
        }
        let state = lock(&self.line.shared().faults);
        let reg = &state.faults.registration;
        if reg.via != domain {
            return 0;
        }
        let search_start = state.sim_ready_since.map_or(self.st.booted, |since| since.max(self.st.booted));
        if Instant::now() < search_start + reg.delay {
            2
        } else {
            reg.stat
        }
    }

    /// Registered, at home or roaming.
    fn registered(&self) -> bool {
        let via = lock(&self.line.shared().faults).faults.registration.via;
        matches!(self.registration_stat(via), 1 | 5)
    }

    /// `AT+CEREG`, `AT+CGREG`, `AT+CREG`: `+<name>: <n>,<stat>` (without
    /// the location fields that `<n>` 2 and up add on real modules).
    fn creg(&mut self, name: &str, form: Form) {
        let (domain, slot, max_n) = match name {
            "CEREG" => (NetworkDomain::Eps, 0, 5),
            "CGREG" => (NetworkDomain::Gprs, 1, 2),
            _ => (NetworkDomain::Cs, 2, 2),
        };
        match form {
            Form::Read => {
                let stat = self.registration_stat(domain);
                self.respond(&format!("+{name}: {},{stat}", self.st.reg_modes[slot]));
                self.ok();
            }
            Form::Write(args) => match args.as_slice() {
                [n] => match n.int(0..=max_n) {
                    Some(n) => {
                        self.st.reg_modes[slot] = n;
                        self.ok();
                    }
                    None => self.error(),
                },
                _ => self.error(),
            },
            Form::Exec | Form::Test => self.error(),
        }
    }

    fn qicsgp(&mut self, args: &[Arg]) {
        let Some(cid) = args.first().and_then(|a| a.int(1..=16)) else {
            return self.error();
        };
        let index = cid as usize - 1;
        if args.len() == 1 {
            let p = self.st.pdp[index].clone();
            self.respond(&format!(
                "+QICSGP: {},\"{}\",\"{}\",\"{}\",{}",
                p.context_type, p.apn, p.user, p.password, p.auth
            ));
            return self.ok();
        }
        let text = |i: usize| args.get(i).map_or(Some(""), |a| a.string(MAX_PATH));
        let (Some(context_type), Some(apn), Some(user), Some(password)) =
            (args.get(1).and_then(|a| a.int(1..=3)), text(2), text(3), text(4))
        else {
            return self.error();
        };
        let Some(auth) = args.get(5).map_or(Some(0), |a| a.int(0..=3)) else {
            return self.error();
        };
        let p = &mut self.st.pdp[index];
        p.context_type = context_type;
        p.apn = apn.to_owned();
        p.user = user.to_owned();
        p.password = password.to_owned();
        p.auth = auth;
        self.ok();
    }

    fn qiact(&mut self, args: &[Arg]) {
        let Some(cid) = args.first().and_then(|a| a.int(1..=16)) else {
            return self.error();
        };
        if !self.sim_ready() {
            return self.error();
        }
        if !self.registered() {
            // The attach is tried, and fails.
            std::thread::sleep(ATTACH_FAIL_DELAY);
            return self.error();
        }
        let active = self.st.pdp.iter().filter(|p| p.active).count();
        let pdp = &mut self.st.pdp[cid as usize - 1];
        if pdp.dropped || (!pdp.active && active >= MAX_ACTIVE_PDP) {
            return self.error();
        }
        pdp.active = true;
        if pdp.context_type == 0 {
            pdp.context_type = 1;
        }
        self.ok();
    }

    fn qiact_read(&mut self) {
        let ip = self.quoted(&self.config.pdp_address.to_string());
        let lines: Vec<String> = (1..)
            .zip(&self.st.pdp)
            .filter(|(_, p)| p.active)
            .map(|(cid, p)| format!("+QIACT: {cid},1,{},{ip}", p.context_type))
            .collect();
        for line in lines {
            self.respond(&line);
        }
        self.ok();
    }

    fn qideact(&mut self, args: &[Arg]) {
        let Some(cid) = args.first().and_then(|a| a.int(1..=16)) else {
            return self.error();
        };
        let pdp = &mut self.st.pdp[cid as usize - 1];
        pdp.active = false;
        pdp.dropped = false;
        if self.st.ftp.contextid == cid {
            if let Some(session) = self.st.session.take() {
                session.quit();
            }
            self.st.suspended = None;
        }
        self.ok();
    }

    /// The network drops context `cid` (see [`SimControl::drop_pdp`](crate::SimControl::drop_pdp)).
    fn drop_pdp(&mut self, cid: u8) {
        let index = usize::from(cid).checked_sub(1);
        if let Some(pdp) = index.and_then(|i| self.st.pdp.get_mut(i)) {
            pdp.active = false;
            pdp.dropped = true;
            if self.st.ftp.contextid == u32::from(cid) {
                // Gone with the context: no QUIT reaches the server.
                self.st.session = None;
                self.st.suspended = None;
            }
        }
        self.respond(&format!("+QIURC: \"pdpdeact\",{cid}"));
    }

    fn qftpcfg_test(&mut self) {
        self.respond("+QFTPCFG: \"account\",<username>,<password>");
        for name in FtpCfg::NUMERIC {
            let (range, _) = self.st.ftp.numeric(name).expect("listed setting");
            self.respond(&format!("+QFTPCFG: \"{name}\",({}-{})", range.start(), range.end()));
        }
        self.ok();
    }

    fn qftpcfg(&mut self, args: &[Arg]) {
        let Some(name) = args.first().and_then(|a| a.string(32)).map(str::to_owned) else {
            return self.cme(610);
        };
        let values = &args[1..];
        if name == "account" {
            match values {
                [] => {
                    let cfg = &self.st.ftp;
                    let line = format!("+QFTPCFG: \"account\",\"{}\",\"{}\"", cfg.user, cfg.password);
                    self.respond(&line);
                    self.ok();
                }
                [user, password] => match (user.string(MAX_PATH), password.string(MAX_PATH)) {
                    (Some(user), Some(password)) => {
                        self.st.ftp.user = user.to_owned();
                        self.st.ftp.password = password.to_owned();
                        self.ok();
                    }
                    _ => self.cme(610),
                },
                _ => self.cme(610),
            }
            return;
        }
        let Some((range, value)) = self.st.ftp.numeric(&name) else {
            return self.cme(610);
        };
        match values {
            [] => {
                let line = format!("+QFTPCFG: \"{name}\",{value}");
                self.respond(&line);
                self.ok();
            }
            [arg] => match arg.int(range) {
                Some(v) => {
                    *value = v;
                    if name == "contextid" && self.variants().stray_contextid_line {
                        self.respond(&v.to_string());
                    }
                    self.ok();
                }
                None => self.cme(610),
            },
            _ => self.cme(610),
        }
    }

    fn qsslcfg(&mut self, args: &[Arg]) {
        let (Some(param), Some(ctx)) =
            (args.first().and_then(|a| a.string(32)), args.get(1).and_then(|a| a.int(0..=5)))
        else {
            return self.cme(610);
        };
        let param = param.to_ascii_lowercase();
        let values = &args[2..];
        if values.is_empty() {
            let key = (ctx, param.clone());
            let value = self.st.ssl.get(&key).cloned().or_else(|| ssl_default(&param));
            return match value {
                Some(value) => {
                    self.respond(&format!("+QSSLCFG: \"{param}\",{ctx},{value}"));
                    self.ok()
                }
                None => self.cme(610),
            };
        }
        let value = match (param.as_str(), values) {
            ("sslversion", [v]) => v.int(0..=4).map(|v| v.to_string()),
            ("seclevel", [v]) => v.int(0..=2).map(|v| v.to_string()),
            ("ciphersuite", [v]) if !v.quoted => {
                let hex = v.text.trim_start_matches("0x").trim_start_matches("0X");
                u32::from_str_radix(hex, 16).ok().map(|_| v.text.clone())
            }
            ("cacert" | "clientcert" | "clientkey", [v]) => {
                v.string(crate::ufs::MAX_NAME + "RAM:".len()).map(|name| format!("\"{name}\""))
            }
            (_, values) => Some(
                values
                    .iter()
                    .map(|v| if v.quoted { format!("\"{}\"", v.text) } else { v.text.clone() })
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        };
        match value {
            Some(value) => {
                self.st.ssl.insert((ctx, param), value);
                self.ok();
            }
            None => self.cme(610),
        }
    }

    /// An integer `AT+QSSLCFG` value of the FTP session's SSL context.
    fn ssl_int(&self, param: &str) -> u8 {
        let key = (self.st.ftp.sslctxid, param.to_owned());
        self.st.ssl.get(&key).cloned().or_else(|| ssl_default(param)).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    // ----- FTP ----------------------------------------------------------

    fn ftp_command(&mut self, name: &str, form: Form) -> Result<(), Stop> {
        let busy = match name {
            "QFTPSTAT" => false,
            "QFTPCLOSE" => self.st.closing,
            "QFTPLEN" => self.st.busy_until_close,
            _ => self.st.closing || self.st.busy_until_close,
        };
        if busy {
            self.cme(603);
            return Ok(());
        }
        let args = match form {
            Form::Write(args) => args,
            Form::Exec => Vec::new(),
            Form::Read | Form::Test => {
                self.error();
                return Ok(());
            }
        };
        let path = |i: usize| args.get(i).and_then(|a| a.string(MAX_PATH)).map(str::to_owned);
        match (name, path(0), path(1)) {
            ("QFTPOPEN", Some(host), _) => self.open(&host, args.get(1)),
            ("QFTPCLOSE", ..) => self.close(),
            ("QFTPSTAT", ..) => self.stat(),
            ("QFTPLEN", ..) => self.len(),
            ("QFTPPWD", ..) => {
                let unquoted = self.variants().pwd_unquoted;
                let r = self.simple(|s| s.pwd());
                let r = r.map(|pwd| if unquoted { pwd } else { self.quoted(&pwd) });
                self.defer("PWD", r);
            }
            ("QFTPCWD", Some(p), _) => self.simple_done("CWD", |s| s.cwd(&p)),
            ("QFTPDEL", Some(p), _) => self.simple_done("DEL", |s| s.delete(&p)),
            ("QFTPMKDIR", Some(p), _) => self.simple_done("MKDIR", |s| s.mkdir(&p)),
            ("QFTPRMDIR", Some(p), _) => self.simple_done("RMDIR", |s| s.rmdir(&p)),
            ("QFTPRENAME", Some(from), Some(to)) => self.simple_done("RENAME", |s| s.rename(&from, &to)),
            ("QFTPSIZE", Some(p), _) => {
                let unsupported = lock(&self.line.shared().faults).faults.size_unsupported;
                let r = self
                    .simple(|s| match unsupported {
                        Some(reply) => Err(FtpFail { err: 627, reply }),
                        None => s.size(&p),
                    })
                    .map(|n| n.to_string());
                self.defer("SIZE", r);
            }
            ("QFTPMDTM", Some(p), _) => {
                let millis = self.variants().mdtm_millis;
                let r = self.simple(|s| s.mdtm(&p, millis));
                let r = r.map(|t| self.quoted(&t));
                self.defer("MDTM", r);
            }
            ("QFTPGET", Some(remote), local) => {
                let numbers = (int_arg(&args, 2), int_arg(&args, 3));
                let (Some(start), Some(len)) = numbers else {
                    self.cme(610);
                    return Ok(());
                };
                let local = local.unwrap_or_else(|| COM.to_owned());
                return self.get(&remote, &local, start.unwrap_or(0), len);
            }
            ("QFTPPUT", Some(remote), Some(local)) => {
                let numbers = (int_arg(&args, 2), int_arg(&args, 3), int_arg(&args, 4));
                let (Some(start), Some(len), Some(beof)) = numbers else {
                    self.cme(610);
                    return Ok(());
                };
                if len.is_some() != beof.is_some() || beof.is_some_and(|b| b > 1) {
                    self.cme(610);
                    return Ok(());
                }
                return self.put(&remote, &local, start.unwrap_or(0), len);
            }
            ("QFTPLIST" | "QFTPNLST" | "QFTPMLSD", dir, local) => {
                let (cmd, kind) = match name {
                    "QFTPLIST" => ("LIST", ListKind::List),
                    "QFTPNLST" => ("NLST", ListKind::Nlst),
                    _ => ("MLSD", ListKind::Mlsd),
                };
                let dir = dir.unwrap_or_else(|| ".".to_owned());
                let local = local.unwrap_or_else(|| COM.to_owned());
                return self.list(cmd, kind, &dir, &local);
            }
            ("QFTPOPEN" | "QFTPCWD" | "QFTPDEL" | "QFTPMKDIR" | "QFTPRMDIR", ..)
            | ("QFTPRENAME" | "QFTPSIZE" | "QFTPMDTM" | "QFTPGET" | "QFTPPUT", ..) => self.cme(610),
            _ => self.error(),
        }
        Ok(())
    }

    /// Checks that an FTP operation may go to the server: the one-shot
    /// injected failure, then an open session.
    fn ready(&mut self) -> Result<(), FtpFail> {
        if let Some((err, reply)) = lock(&self.line.shared().faults).faults.fail_next.take() {
            return Err(FtpFail { err, reply });
        }
        if self.st.session.is_none() {
            return Err(FtpFail::module(606));
        }
        Ok(())
    }

    /// Runs an operation on the open session; a lost control connection
    /// ends the session.
    fn on_session<T>(&mut self, op: impl FnOnce(&mut FtpSession) -> Result<T, FtpFail>) -> Result<T, FtpFail> {
        let session = self.st.session.as_mut().ok_or(FtpFail::module(606))?;
        let result = op(session);
        if let Err(FtpFail { err: 606 | 608 | 614, .. }) = result {
            self.st.session = None;
        }
        result
    }

    /// `OK`, then the operation; the caller prints the result.
    fn simple<T>(&mut self, op: impl FnOnce(&mut FtpSession) -> Result<T, FtpFail>) -> Result<T, FtpFail> {
        self.ok();
        self.st.suspended = None;
        self.ready().and_then(|()| self.on_session(op))
    }

    /// `OK`, the operation, and `+QFTP<cmd>: 0,0` or the failure.
    fn simple_done(&mut self, cmd: &str, op: impl FnOnce(&mut FtpSession) -> Result<(), FtpFail>) {
        let result = self.simple(op).map(|()| "0".to_owned());
        self.defer(cmd, result);
    }

    fn open(&mut self, host: &str, port: Option<&Arg>) {
        let Some(port) = port.map_or(Some(21), |p| p.int(1..=65535)) else {
            return self.cme(610);
        };
        if host.len() > 200 {
            return self.cme(610);
        }
        if self.st.session.is_some() && !self.variants().open_busy_deferred {
            // A session is open already (perhaps a dead host's): busy.
            return self.cme(603);
        }
        self.ok();
        let result = self.connect(host, port as u16);
        match result {
            Ok(session) => {
                self.st.session = Some(session);
                self.defer("OPEN", Ok("0".to_owned()));
            }
            Err(fail) => self.defer("OPEN", Err(fail)),
        }
    }

    fn connect(&mut self, host: &str, port: u16) -> Result<FtpSession, FtpFail> {
        if let Some((err, reply)) = lock(&self.line.shared().faults).faults.fail_next.take() {
            return Err(FtpFail { err, reply });
        }
        if self.st.session.is_some() {
            return Err(FtpFail::module(603));
        }
        let cfg = &self.st.ftp;
        if !self.st.pdp[cfg.contextid as usize - 1].active {
            return Err(FtpFail::module(605));
        }
        let ip = self.resolve(host)?;
        let params = OpenParams {
            addr: SocketAddr::new(ip, port),
            host: host.to_owned(),
            user: cfg.user.clone(),
            password: cfg.password.clone(),
            ssl_type: cfg.ssltype as u8,
            tls: self.tls_settings()?,
            passive: cfg.transmode == 1,
            control_address_for_data: cfg.data_address == 1,
            ascii: cfg.filetype == 1,
            timeout: Duration::from_secs(cfg.rsptimeout.into()),
        };
        FtpSession::open(&params)
    }

    /// The FTP session's SSL context, with the files its `cacert`,
    /// `clientcert` and `clientkey` name read from the file store now, at
    /// `AT+QFTPOPEN` (the module loads them for the handshake). Plain FTP
    /// reads none. A file that `seclevel` needs (1: `cacert`; 2: also
    /// `clientcert` and `clientkey`) that is not named, or not there,
    /// fails the open with 631, as a handshake without it would.
    fn tls_settings(&self) -> Result<TlsSettings, FtpFail> {
        const SSL_FAILED: FtpFail = FtpFail::module(631);
        let seclevel = self.ssl_int("seclevel");
        let secure = self.st.ftp.ssltype != 0;
        let file = |param: &str| -> Result<Vec<u8>, FtpFail> {
            let key = (self.st.ftp.sslctxid, param.to_owned());
            let name = self.st.ssl.get(&key).ok_or(SSL_FAILED)?;
            let name = FileName::parse(name.trim_matches('"')).map_err(|_| SSL_FAILED)?;
            lock(&self.line.shared().files).get(&name).cloned().ok_or(SSL_FAILED)
        };
        let ca_pem = if secure && seclevel >= 1 { Some(file("cacert")?) } else { None };
        let client_pem = if secure && seclevel == 2 { Some((file("clientcert")?, file("clientkey")?)) } else { None };
        Ok(TlsSettings { version: self.ssl_int("sslversion"), seclevel, ca_pem, client_pem })
    }

    /// Only loopback addresses are ever contacted; other names fail as DNS
    /// failures, other addresses as network errors.
    fn resolve(&self, host: &str) -> Result<IpAddr, FtpFail> {
        let ip = match host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => *self.config.hosts.get(&host.to_ascii_lowercase()).ok_or(FtpFail::module(604))?,
        };
        if ip.is_loopback() {
            Ok(ip)
        } else {
            Err(FtpFail::module(605))
        }
    }

    fn close(&mut self) {
        self.ok();
        if let Some(session) = self.st.session.take() {
            session.quit();
        }
        self.st.suspended = None;
        self.st.busy_until_close = false;
        self.st.closing = true;
        self.schedule("+QFTPCLOSE: 0,0", self.config.close_delay, true);
    }

    fn stat(&mut self) {
        let state = if self.st.closing {
            3
        } else if self.st.suspended.is_some() || self.st.busy_until_close {
            2
        } else if self.st.session.is_some() {
            1
        } else {
            4
        };
        let before = self.variants().stat_before_ok;
        self.info_and_ok(&format!("+QFTPSTAT: 0,{state}"), before);
    }

    fn len(&mut self) {
        let before = self.variants().len_before_ok;
        self.info_and_ok(&format!("+QFTPLEN: 0,{}", self.st.last_len), before);
    }

    fn info_and_ok(&mut self, info: &str, info_first: bool) {
        if info_first {
            self.respond(info);
            self.ok();
        } else {
            self.ok();
            self.respond(info);
        }
    }

    /// Where a download or listing goes, from its `<local>` name: the UART
    /// or a file. `None` after answering `OK` and `+QFTP<cmd>: 611,0`
    /// (failed to open the file) for a name that is not a valid file name.
    fn local_target(&mut self, cmd: &str, local: &str) -> Option<Local> {
        if local == COM {
            return Some(Local::Com);
        }
        match FileName::parse(local) {
            Ok(name) => Some(Local::File(name)),
            Err(_) => {
                self.ok();
                self.defer(cmd, Err(FtpFail::module(611)));
                None
            }
        }
    }

    /// Writes a download into a file: replacing it at `start` 0; at
    /// `start` > 0 after the file's first `start` bytes, resuming an
    /// interrupted download (a shorter or missing file gets the data at
    /// its end). A drive without room for the result fails with module
    /// error 613 (file error) and leaves the file as it was.
    fn write_download(&mut self, name: &FileName, start: u64, data: Vec<u8>) -> Result<(), FtpFail> {
        let limits = lock(&self.line.shared().faults).faults.file_limits();
        let mut files = lock(&self.line.shared().files);
        let keep = usize::try_from(start).unwrap_or(usize::MAX);
        let mut contents = match files.get(name) {
            Some(old) if keep > 0 => old[..keep.min(old.len())].to_vec(),
            _ => Vec::new(),
        };
        contents.extend(data);
        files.write(name, contents, limits).map_err(|_| FtpFail::module(613))
    }

    fn get(&mut self, remote: &str, local: &str, start: u64, len: Option<u64>) -> Result<(), Stop> {
        self.st.suspended = None;
        if self.data_connection_fails() {
            return Ok(());
        }
        let Some(target) = self.local_target("GET", local) else {
            return Ok(());
        };
        let eof_fails = local == COM && len.is_some() && lock(&self.line.shared().faults).faults.eof_as_550;
        let data = self.ready().and_then(|()| {
            self.on_session(|s| {
                if eof_fails && s.size(remote).is_ok_and(|size| size == start) {
                    return Err(FtpFail { err: 627, reply: 550 });
                }
                s.retrieve(remote, start)
            })
        });
        let data = data.map(|mut data| {
            if let Some(len) = len {
                data.truncate(usize::try_from(len).unwrap_or(usize::MAX));
            }
            data
        });
        self.deliver("GET", target, start, data)
    }

    fn list(&mut self, cmd: &'static str, kind: ListKind, dir: &str, local: &str) -> Result<(), Stop> {
        self.st.suspended = None;
        if self.data_connection_fails() {
            return Ok(());
        }
        let Some(target) = self.local_target(cmd, local) else {
            return Ok(());
        };
        let data = self.ready().and_then(|()| self.on_session(|s| s.listing(kind, dir)));
        self.deliver(cmd, target, 0, data)
    }

    /// The one-shot [`Faults::fail_data_connection`](crate::Faults::fail_data_connection):
    /// `+CME ERROR: 615` at once, and busy until `AT+QFTPCLOSE` if
    /// [`Faults::busy_after_data_failure`](crate::Faults::busy_after_data_failure)
    /// says so.
    fn data_connection_fails(&mut self) -> bool {
        let (fails, busy) = {
            let faults = &mut lock(&self.line.shared().faults).faults;
            (std::mem::take(&mut faults.fail_data_connection), faults.busy_after_data_failure)
        };
        if fails {
            self.cme(615);
            self.st.busy_until_close |= busy;
        }
        fails
    }

    /// Hands downloaded bytes to the UART in data mode, or to a file
    /// ([`write_download`](Self::write_download) from `start`).
    fn deliver(
        &mut self,
        cmd: &'static str,
        target: Local,
        start: u64,
        data: Result<Vec<u8>, FtpFail>,
    ) -> Result<(), Stop> {
        match (data, target) {
            (Ok(data), Local::Com) => self.download(cmd, data, 0),
            (Ok(data), Local::File(name)) => {
                self.ok();
                let len = data.len() as u64;
                let stored = self.write_download(&name, start, data);
                if stored.is_ok() {
                    self.st.last_len = len;
                }
                self.defer(cmd, stored.map(|()| len.to_string()));
                Ok(())
            }
            (Err(fail), _) => {
                self.ok();
                self.defer(cmd, Err(fail));
                Ok(())
            }
        }
    }

    /// `CONNECT`, the data from `from`, `OK` and the result; or `OK` only
    /// if the host escapes with `+++` (resume with `ATO`).
    fn download(&mut self, cmd: &'static str, data: Vec<u8>, from: usize) -> Result<(), Stop> {
        self.window_urcs();
        self.send(b"\r\nCONNECT\r\n");
        let outcome = self.stream_out(&data[from..]);
        match outcome? {
            Sent::All => {
                self.ok();
                self.st.last_len = data.len() as u64;
                self.defer(cmd, Ok(data.len().to_string()));
            }
            Sent::Escaped(n) => {
                self.ok();
                self.st.suspended = Some(Suspended { cmd, data, sent: from + n });
            }
            Sent::HungUp(_) => self.ok(),
        }
        self.release_held_events()
    }

    fn resume_download(&mut self) -> Result<(), Stop> {
        match self.st.suspended.take() {
            Some(s) if !self.variants().escape_aborts_download => self.download(s.cmd, s.data, s.sent),
            _ => {
                self.respond("NO CARRIER");
                Ok(())
            }
        }
    }

    /// Sends payload in data mode while watching the host for `+++` and
    /// DTR.
    fn stream_out(&mut self, data: &[u8]) -> Result<Sent, Stop> {
        let mut reset_budget = self.take_reset_budget();
        let mut detector = EscapeDetector::new(self.config.guard_time, Instant::now());
        let mut discarded = Vec::new();
        let chunk = match lock(&self.line.shared().faults).faults.baud {
            Some(baud) => (baud as usize / 1000).clamp(1, 512),
            None => 512,
        };
        let mut sent = 0;
        for piece in data.chunks(chunk) {
            if let Some(budget) = reset_budget.as_mut() {
                if (piece.len() as u64) >= *budget {
                    self.send(&piece[..*budget as usize]);
                    return Err(Stop::Reset);
                }
                *budget -= piece.len() as u64;
            }
            self.send(piece);
            sent += piece.len();
            loop {
                match self.line.poll() {
                    Input::Byte(byte, at) => detector.feed(byte, at, &mut discarded),
                    Input::Dtr(high) => match self.dtr_leaves(high) {
                        Some(DtrMode::Hangup) => {
                            self.answer_escape_late();
                            return Ok(Sent::HungUp(sent));
                        }
                        Some(_) => {
                            self.answer_escape_late();
                            return Ok(Sent::Escaped(sent));
                        }
                        None => {}
                    },
                    Input::Event(event) => self.data_mode_event(event)?,
                    Input::Timeout => break,
                    Input::HostGone => return Err(Stop::HostGone),
                }
            }
            if detector.poll(Instant::now(), &mut discarded) {
                lock(&self.line.shared().faults).guarded_escapes += 1;
                self.answer_escape_late();
                return Ok(Sent::Escaped(sent));
            }
        }
        Ok(Sent::All)
    }

    fn put(&mut self, remote: &str, local: &str, start: u64, len: Option<u64>) -> Result<(), Stop> {
        self.st.suspended = None;
        if self.data_connection_fails() {
            return Ok(());
        }
        if local != COM {
            return self.put_file(remote, local, start);
        }
        if let Err(fail) = self.ready() {
            self.ok();
            self.defer("PUT", Err(fail));
            return Ok(());
        }
        self.window_urcs();
        self.send(b"\r\nCONNECT\r\n");
        let lost = len.and_then(|len| self.stall_point(len));
        let cut = lock(&self.line.shared().faults).faults.end_upload_after.take();
        let idle = Duration::from_secs(self.st.ftp.rsptimeout.into());
        let (payload, end) = self.receive_upload(Intake { limit: len, idle, lost, cut, ack_every: None })?;
        let module_ended = matches!(end, Received::TimedOut | Received::Cut);
        if !(module_ended && lock(&self.line.shared().faults).faults.put_timeout_without_ok) {
            self.ok();
        }
        let result = match end {
            Received::TimedOut => Err(FtpFail::module(609)),
            Received::Cut => {
                // What arrived is kept; the upload still ends as a timeout.
                let _kept = self.on_session(|s| s.store(remote, start, &payload));
                Err(FtpFail::module(609))
            }
            Received::Complete | Received::Escaped => self.on_session(|s| s.store(remote, start, &payload)),
        };
        self.release_held_events()?;
        self.finish_put(result)
    }

    /// `AT+QFTPPUT="<remote>","<file>"[,<startpos>]`: `OK`, then the file
    /// goes to the server. At `<startpos>` > 0 it resumes an interrupted
    /// upload: the file's bytes from `<startpos>` on are appended to the
    /// remote file (which holds the first `<startpos>` already), and
    /// `<transferlen>` counts those. A missing file (or an invalid name) is
    /// module error 611 (failed to open file), a `<startpos>` beyond its
    /// end 612 (file position invalid); neither reaches the server.
    fn put_file(&mut self, remote: &str, local: &str, start: u64) -> Result<(), Stop> {
        self.ok();
        let data = FileName::parse(local).ok().and_then(|name| lock(&self.line.shared().files).get(&name).cloned());
        let result = match data {
            None => Err(FtpFail::module(611)),
            Some(data) => match usize::try_from(start).ok().and_then(|from| data.get(from..)) {
                None => Err(FtpFail::module(612)),
                Some(rest) => self.ready().and_then(|()| self.on_session(|s| s.store(remote, start, rest))),
            },
        };
        self.finish_put(result)
    }

    fn finish_put(&mut self, result: Result<u64, FtpFail>) -> Result<(), Stop> {
        if let Ok(n) = result {
            self.st.last_len = n;
        }
        self.defer("PUT", result.map(|n| n.to_string()));
        Ok(())
    }

    /// Where the "stall" fault bites in a counted upload of `len` bytes:
    /// the offset from which the rest of the chunk is lost.
    fn stall_point(&self, len: u64) -> Option<u64> {
        let mut state = lock(&self.line.shared().faults);
        let budget = state.faults.stall_upload_after?;
        if budget < len {
            state.faults.stall_upload_after = None;
            Some(budget)
        } else {
            state.faults.stall_upload_after = Some(budget - len);
            None
        }
    }

    /// Collects upload payload until [`Intake::limit`] bytes, a guarded
    /// `+++` or a DTR edge ([`Modem::dtr_leaves`]), [`Intake::idle`]
    /// without a byte, or [`Intake::cut`] bytes. The bytes that arrived
    /// before the edge are payload, `+` bytes held back as a possible
    /// escape too.
    ///
    /// ACK mode ([`Intake::ack_every`], FILE manual, `AT+QFUPL` note 4)
    /// is there for UARTs without working flow control: after each 1 KiB
    /// the module sends `A` (one byte, no framing), unless that KiB
    /// completes the `limit` (then the result follows instead), and the
    /// host must wait for the `A` before it sends more. The simulator
    /// models a module without flow control that is busy with the KiB it
    /// has until it sends the `A`: bytes that arrive before the `A` went
    /// out (a host that did not wait) are lost, and the upload goes on
    /// with the bytes that arrive after it. A host that does not wait thus
    /// ends up with a short file, as on a real UART without flow control.
    fn receive_upload(&mut self, intake: Intake) -> Result<(Vec<u8>, Received), Stop> {
        let Intake { limit, idle, lost, cut, ack_every } = intake;
        let reset_budget = self.take_reset_budget();
        let start = Instant::now();
        let mut detector = EscapeDetector::new(self.config.guard_time, start);
        let mut payload = Vec::new();
        let mut last_byte = start;
        // Bytes the host has sent in this data mode, lost ones included.
        let mut arrived: u64 = 0;
        // Bytes the module took in (ACK mode's count).
        let mut taken: u64 = 0;
        // When the last `A` went out: bytes sent before it are lost.
        let mut acked_at: Option<Instant> = None;
        loop {
            if let Some(limit) = limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)) {
                if payload.len() >= limit {
                    payload.truncate(limit);
                    return Ok((payload, Received::Complete));
                }
            }
            if let Some(cut) = cut.filter(|&cut| payload.len() as u64 >= cut) {
                payload.truncate(usize::try_from(cut).unwrap_or(usize::MAX));
                return Ok((payload, Received::Cut));
            }
            if reset_budget.is_some_and(|b| payload.len() as u64 >= b) {
                return Err(Stop::Reset);
            }
            let idle_deadline = last_byte + idle;
            let deadline = detector.deadline().map_or(idle_deadline, |d| d.min(idle_deadline));
            match self.line.recv(Some(deadline)) {
                Input::Byte(byte, at) => {
                    arrived += 1;
                    if let (Some(from), Some(to)) = (lost, limit) {
                        if (from + 1..=to).contains(&arrived) {
                            if arrived == to {
                                lock(&self.line.shared().faults).stalled_uploads += 1;
                            }
                            continue;
                        }
                    }
                    if acked_at.is_some_and(|acked| at < acked) {
                        continue;
                    }
                    last_byte = at;
                    detector.feed(byte, at, &mut payload);
                    taken += 1;
                    let window_full = ack_every.is_some_and(|every| taken.is_multiple_of(every));
                    if window_full && limit.is_none_or(|limit| taken < limit) {
                        acked_at = Some(Instant::now());
                        self.send(b"A");
                    }
                }
                Input::Dtr(high) => {
                    if self.dtr_leaves(high).is_some() {
                        detector.release(&mut payload);
                        self.answer_escape_late();
                        return Ok((payload, Received::Escaped));
                    }
                }
                Input::Event(event) => self.data_mode_event(event)?,
                Input::Timeout => {
                    let now = Instant::now();
                    if detector.poll(now, &mut payload) {
                        lock(&self.line.shared().faults).guarded_escapes += 1;
                        self.answer_escape_late();
                        return Ok((payload, Received::Escaped));
                    }
                    if now >= idle_deadline {
                        return Ok((payload, Received::TimedOut));
                    }
                }
                Input::HostGone => return Err(Stop::HostGone),
            }
        }
    }

    /// Whether DTR going to `high` in data mode makes the module leave it,
    /// and how (`AT&D1` or `AT&D2`): only a low-to-high edge, not after
    /// `AT&D0`, nor with [`Faults::ignore_dtr`](crate::Faults::ignore_dtr).
    /// Counts the escape.
    fn dtr_leaves(&self, high: bool) -> Option<DtrMode> {
        if !high || self.st.dtr == DtrMode::Ignore {
            return None;
        }
        let mut state = lock(&self.line.shared().faults);
        if state.faults.ignore_dtr {
            return None;
        }
        state.dtr_escapes += 1;
        Some(self.st.dtr)
    }

    /// [`Faults::escape_answer_delay`](crate::Faults::escape_answer_delay):
    /// the module, out of data mode, is busy before it answers.
    fn answer_escape_late(&self) {
        let delay = lock(&self.line.shared().faults).faults.escape_answer_delay;
        std::thread::sleep(delay);
    }

    fn data_mode_event(&mut self, event: Event) -> Result<(), Stop> {
        match event {
            Event::UrcBeforeResult(urc) => self.urcs_before_result.push(urc),
            Event::Reset => return Err(Stop::Reset),
            Event::Urc(_) | Event::DropPdp(_) => self.held_events.push(event),
        }
        Ok(())
    }

    /// The one-shot "reset after N data bytes" fault, armed for this transfer.
    fn take_reset_budget(&self) -> Option<u64> {
        lock(&self.line.shared().faults).faults.reset_after_data_bytes.take()
    }
}

/// An optional integer parameter: `Some(None)` if absent, `None` if invalid.
fn int_arg(args: &[Arg], i: usize) -> Option<Option<u64>> {
    match args.get(i) {
        None => Some(None),
        Some(arg) if !arg.quoted => arg.text.parse().ok().map(Some),
        Some(_) => None,
    }
}

/// Power-on values of `AT+QSSLCFG` parameters.
fn ssl_default(param: &str) -> Option<String> {
    Some(
        match param {
            "sslversion" => "4",
            "seclevel" => "0",
            "ciphersuite" => "0XFFFF",
            _ => return None,
        }
        .to_owned(),
    )
}

/// Verbose text of a module error (`AT+CMEE=2`).
fn error_text(code: u16) -> &'static str {
    match code {
        3 => "operation not allowed",
        10 => "SIM not inserted",
        13 => "SIM failure",
        14 => "SIM busy",
        16 => "incorrect password",
        601 => "unknown error",
        603 => "FTP(S) server busy",
        606 => "control connection closed",
        610 => "invalid parameter",
        615 => "open data connection failed",
        400 => "invalid input value",
        405 => "file not found",
        406 => "invalid file name",
        407 => "file already exists",
        413 => "too many open files",
        416 => "invalid file descriptor",
        418 => "fail to delete the file",
        420 => "no space",
        426 => "file already opened",
        _ => "error",
    }
}
