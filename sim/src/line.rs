//! The simulated UART: the byte queues between host and module, the line
//! rate, and the faults that act on the module-to-host direction.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::config::{Faults, SimState, Variants};
use crate::ufs::FileStore;

/// Longest single wait of the module thread, so that it re-checks for a
/// departed host at least this often.
const MAX_IDLE_WAIT: Duration = Duration::from_millis(200);

/// Something the host-side control handle asks the module to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// Print an unsolicited line as soon as the module is in command mode.
    Urc(String),
    /// Print an unsolicited line between the next `OK` and its deferred result.
    UrcBeforeResult(String),
    /// Reset the module now (also in the middle of a transfer).
    Reset,
    /// The network deactivates this PDP context.
    DropPdp(u8),
}

/// What the host puts on the line towards the module: a byte on TXD, or a
/// change of the level it drives on DTR (`true`: high).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    Byte(u8),
    Dtr(bool),
}

/// Host to module: bytes and DTR changes in the order the host made them,
/// with the time it made them, and control events.
pub(crate) struct Inbox {
    pub bytes: VecDeque<(Wire, Instant)>,
    pub events: VecDeque<Event>,
    pub host_gone: bool,
    /// The level the host drives on DTR now: high until it drives the line,
    /// as the module's DTR input is pulled up.
    pub dtr_high: bool,
    /// When the last byte the host wrote has gone down the line at the
    /// line rate (the host's `flush` waits for it).
    pub drained_at: Instant,
}

impl Default for Inbox {
    fn default() -> Self {
        Inbox {
            bytes: VecDeque::new(),
            events: VecDeque::new(),
            host_gone: false,
            dtr_high: true,
            drained_at: Instant::now(),
        }
    }
}

/// Module to host.
#[derive(Default)]
pub(crate) struct Outbox {
    pub bytes: VecDeque<u8>,
    pub waker: Option<Waker>,
    pub modem_gone: bool,
}

/// Fault switches plus the state needed to apply them.
pub(crate) struct FaultState {
    pub faults: Faults,
    pub rng: SplitMix64,
    /// Bytes the module has put on the line since power-on.
    pub sent: u64,
    /// Counted uploads left waiting for bytes they lost
    /// ([`Faults::stall_upload_after`]).
    pub stalled_uploads: u64,
    /// `AT+CPIN=` commands since power-on.
    pub pin_attempts: u64,
    /// Times a DTR edge made the module leave data mode since power-on.
    pub dtr_escapes: u64,
    /// Times a guarded `+++` made the module leave data mode since power-on.
    pub guarded_escapes: u64,
    /// Wrong PINs in a row; the third locks the SIM.
    pub wrong_pins: u8,
    /// When the SIM became (or becomes) ready, if it was not ready from
    /// power-on: the network search starts then.
    pub sim_ready_since: Option<Instant>,
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        FaultState {
            rng: SplitMix64(faults.seed),
            faults,
            sent: 0,
            stalled_uploads: 0,
            pin_attempts: 0,
            dtr_escapes: 0,
            guarded_escapes: 0,
            wrong_pins: 0,
            sim_ready_since: None,
        }
    }

    /// Notes the time the SIM became ready if a change of the switches
    /// made it so.
    pub fn note_sim_change(&mut self, was_ready: bool) {
        if !was_ready && self.faults.sim == SimState::Ready {
            self.sim_ready_since = Some(Instant::now());
        }
    }

    /// How many copies (0, 1 or 2) of the next outgoing byte reach the host.
    fn copies_of_next_byte(&mut self) -> usize {
        let offset = self.sent;
        self.sent += 1;
        let f = &self.faults;
        let (drop_p, dup_p) = (f.drop_probability, f.duplicate_probability);
        if f.drop_at == Some(offset) || (drop_p > 0.0 && self.rng.next_f64() < drop_p) {
            0
        } else if f.duplicate_at == Some(offset) || (dup_p > 0.0 && self.rng.next_f64() < dup_p) {
            2
        } else {
            1
        }
    }
}

/// A small, seedable generator (SplitMix64) for fault probabilities.
pub(crate) struct SplitMix64(pub u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Everything host, module and control handle share.
pub(crate) struct Shared {
    pub inbox: Mutex<Inbox>,
    pub inbox_ready: Condvar,
    pub outbox: Mutex<Outbox>,
    pub outbox_ready: Condvar,
    pub faults: Mutex<FaultState>,
    pub variants: Mutex<Variants>,
    /// The module's file store (UFS, kept across resets, and RAM) and its
    /// open file handles.
    pub files: Mutex<FileStore>,
}

/// Locks a mutex, recovering the data if a thread panicked while holding it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub fn new(faults: Faults, variants: Variants) -> Self {
        Shared {
            inbox: Mutex::default(),
            inbox_ready: Condvar::new(),
            outbox: Mutex::default(),
            outbox_ready: Condvar::new(),
            faults: Mutex::new(FaultState::new(faults)),
            variants: Mutex::new(variants),
            files: Mutex::default(),
        }
    }

    /// Queues a control event for the module thread.
    pub fn post(&self, event: Event) {
        lock(&self.inbox).events.push_back(event);
        self.inbox_ready.notify_all();
    }

    /// Makes newly queued output visible to a blocked or pending reader.
    fn wake_reader(&self, mut outbox: MutexGuard<'_, Outbox>) {
        let waker = outbox.waker.take();
        drop(outbox);
        self.outbox_ready.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// What the module thread received.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// A byte from the host and the time it arrived at the module.
    Byte(u8, Instant),
    /// The host drove DTR high (`true`) or low; it acts once every byte the
    /// host wrote before has arrived.
    Dtr(bool),
    /// A control event.
    Event(Event),
    /// The deadline passed.
    Timeout,
    /// The host end was dropped.
    HostGone,
}

/// The module's end of the line.
pub(crate) struct ModemLine {
    shared: std::sync::Arc<Shared>,
    /// When the last received byte finished arriving (line-rate pacing).
    rx_last: Instant,
    /// When the line is free for the next outgoing byte.
    tx_free: Instant,
}

impl ModemLine {
    pub fn new(shared: std::sync::Arc<Shared>) -> Self {
        let now = Instant::now();
        ModemLine { shared, rx_last: now, tx_free: now }
    }

    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    fn byte_time(&self) -> Option<Duration> {
        lock(&self.shared.faults).faults.byte_time()
    }

    /// Waits for the next byte or event until `deadline` (`None`: no
    /// deadline). Events overtake queued bytes.
    pub fn recv(&mut self, deadline: Option<Instant>) -> Input {
        let byte_time = self.byte_time();
        let mut inbox = lock(&self.shared.inbox);
        loop {
            if inbox.host_gone {
                return Input::HostGone;
            }
            if let Some(event) = inbox.events.pop_front() {
                return Input::Event(event);
            }
            let now = Instant::now();
            let mut wake_at = deadline.unwrap_or(now + MAX_IDLE_WAIT);
            match inbox.bytes.front() {
                Some(&(Wire::Byte(byte), written)) => {
                    let arrival = match byte_time {
                        Some(t) => written.max(self.rx_last + t),
                        None => written,
                    };
                    if arrival <= now {
                        inbox.bytes.pop_front();
                        self.rx_last = arrival;
                        return Input::Byte(byte, arrival);
                    }
                    wake_at = wake_at.min(arrival);
                }
                // A level takes no line time, but comes after the bytes
                // written before it.
                Some(&(Wire::Dtr(high), _)) => {
                    inbox.bytes.pop_front();
                    return Input::Dtr(high);
                }
                None => {}
            }
            if deadline.is_some_and(|d| d <= now) {
                return Input::Timeout;
            }
            let wait = wake_at.saturating_duration_since(now).min(MAX_IDLE_WAIT);
            inbox =
                self.shared.inbox_ready.wait_timeout(inbox, wait).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
        }
    }

    /// Takes what is already there without waiting.
    pub fn poll(&mut self) -> Input {
        self.recv(Some(Instant::now()))
    }

    /// Throws away everything the host has sent but the module not yet read
    /// (a reset loses it; DTR keeps the level the host drives).
    pub fn discard_input(&mut self) {
        lock(&self.shared.inbox).bytes.clear();
    }

    /// Puts bytes on the line towards the host, at the line rate and through
    /// the drop/duplicate faults.
    pub fn send(&mut self, bytes: &[u8]) {
        let byte_time = self.byte_time();
        let mut pending: Vec<u8> = Vec::with_capacity(bytes.len() + 8);
        for &byte in bytes {
            if let Some(t) = byte_time {
                let now = Instant::now();
                if self.tx_free > now + Duration::from_millis(2) {
                    self.deliver(&mut pending);
                    std::thread::sleep(self.tx_free - now);
                }
                self.tx_free = self.tx_free.max(now) + t;
            }
            let copies = lock(&self.shared.faults).copies_of_next_byte();
            pending.extend(std::iter::repeat_n(byte, copies));
        }
        self.deliver(&mut pending);
    }

    fn deliver(&self, pending: &mut Vec<u8>) {
        if pending.is_empty() {
            return;
        }
        let mut outbox = lock(&self.shared.outbox);
        outbox.bytes.extend(pending.drain(..));
        self.shared.wake_reader(outbox);
    }
}

impl Drop for ModemLine {
    fn drop(&mut self) {
        let mut outbox = lock(&self.shared.outbox);
        outbox.modem_gone = true;
        self.shared.wake_reader(outbox);
    }
}
