//! Run-time control of a simulated module: faults, variants, URCs, resets.

use std::sync::Arc;

use crate::config::{Faults, SimState, Variants};
use crate::line::{lock, Event, FaultState, Shared};

/// A handle to steer a running simulated module from a test. Cheap to
/// clone; every method takes effect at once.
#[derive(Clone)]
pub struct SimControl {
    shared: Arc<Shared>,
}

impl SimControl {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        SimControl { shared }
    }

    /// The fault switches now in force.
    pub fn faults(&self) -> Faults {
        lock(&self.shared.faults).faults.clone()
    }

    /// Replaces all fault switches and reseeds the fault generator with
    /// `faults.seed`; the counters (bytes sent, stalled uploads, PIN
    /// attempts) carry on.
    pub fn set_faults(&self, faults: Faults) {
        let mut state = lock(&self.shared.faults);
        let was_ready = state.faults.sim == SimState::Ready;
        let old = std::mem::replace(&mut *state, FaultState::new(faults));
        state.sent = old.sent;
        state.stalled_uploads = old.stalled_uploads;
        state.pin_attempts = old.pin_attempts;
        state.wrong_pins = old.wrong_pins;
        state.sim_ready_since = old.sim_ready_since;
        state.note_sim_change(was_ready);
    }

    /// Changes some fault switches, keeping the generator's state.
    pub fn update_faults(&self, change: impl FnOnce(&mut Faults)) {
        let mut state = lock(&self.shared.faults);
        let was_ready = state.faults.sim == SimState::Ready;
        change(&mut state.faults);
        state.note_sim_change(was_ready);
    }

    /// Loses the `n`-th byte (0 = the next one) the module sends from now on.
    pub fn drop_byte_in(&self, n: u64) {
        let mut state = lock(&self.shared.faults);
        state.faults.drop_at = Some(state.sent + n);
    }

    /// Sends the `n`-th byte (0 = the next one) from now on twice.
    pub fn duplicate_byte_in(&self, n: u64) {
        let mut state = lock(&self.shared.faults);
        state.faults.duplicate_at = Some(state.sent + n);
    }

    /// Number of bytes the module has put on the line since power-on
    /// (counting dropped ones, counting duplicates once).
    pub fn bytes_sent(&self) -> u64 {
        lock(&self.shared.faults).sent
    }

    /// Number of counted uploads that [`Faults::stall_upload_after`] has
    /// left waiting for bytes they lost: it goes up once the module has
    /// thrown away the last byte of the chunk's tail, so the host has sent
    /// the whole chunk and now waits for a result that will not come.
    pub fn stalled_uploads(&self) -> u64 {
        lock(&self.shared.faults).stalled_uploads
    }

    /// Number of `AT+CPIN=` commands (PIN attempts, right or wrong) the
    /// module has received since power-on; resets do not clear it.
    pub fn pin_attempts(&self) -> u64 {
        lock(&self.shared.faults).pin_attempts
    }

    /// The response-shape variants now in force.
    pub fn variants(&self) -> Variants {
        lock(&self.shared.variants).clone()
    }

    /// Replaces the response-shape variants.
    pub fn set_variants(&self, variants: Variants) {
        *lock(&self.shared.variants) = variants;
    }

    /// Prints `line` (e.g. `+QIURC: "pdpdeact",1`) unsolicited as soon as
    /// the module is in command mode: between exchanges, or between a
    /// command's `OK` and its deferred result if one is pending.
    pub fn inject_urc(&self, line: &str) {
        self.shared.post(Event::Urc(line.to_owned()));
    }

    /// Prints `line` between the next command's `OK` and its deferred
    /// `+QFTPxxx:` result.
    pub fn inject_urc_before_next_result(&self, line: &str) {
        self.shared.post(Event::UrcBeforeResult(line.to_owned()));
    }

    /// The network drops PDP context `cid`: as soon as the module is in
    /// command mode it prints `+QIURC: "pdpdeact",<cid>`, the context is
    /// inactive (gone from `AT+QIACT?`), an FTP session on it is gone
    /// (`AT+QFTPSTAT` reports 4, operations fail with 606), and
    /// `AT+QIACT=<cid>` answers `ERROR` until `AT+QIDEACT=<cid>` has been
    /// sent, as on real firmware.
    pub fn drop_pdp(&self, cid: u8) {
        self.shared.post(Event::DropPdp(cid));
    }

    /// Resets the module now, also in the middle of a data-mode transfer: it
    /// prints `RDY`, `+CPIN: READY`, `+QUSIM: 1`, `+QIND: SMS DONE` and comes
    /// back with echo on, PDP contexts down, no FTP session and the network
    /// search started again ([`Registration::delay`](crate::Registration::delay)).
    /// The `+CPIN:` line shows the SIM's state (`SIM PIN`, `SIM PUK`), and
    /// is left out when `AT+CPIN?` would answer an error.
    pub fn reset(&self) {
        self.shared.post(Event::Reset);
    }

    /// A file in the module's flash file system (UFS), as written by
    /// `AT+QFTPGET`/`AT+QFTPLIST` with a local name other than `"COM:"`.
    pub fn ufs_file(&self, name: &str) -> Option<Vec<u8>> {
        lock(&self.shared.ufs).get(name).cloned()
    }

    /// Puts a file into the module's flash file system, for
    /// `AT+QFTPPUT="<remote>","<ufs name>"`.
    pub fn set_ufs_file(&self, name: &str, contents: &[u8]) {
        lock(&self.shared.ufs).insert(name.to_owned(), contents.to_vec());
    }
}
