//! Run-time control of a simulated module: faults, variants, URCs, resets.

use std::sync::Arc;

use crate::config::{Faults, SimState, Variants};
use crate::line::{lock, Event, FaultState, Shared};
use crate::ufs::FileName;

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
    /// attempts, escapes) carry on.
    pub fn set_faults(&self, faults: Faults) {
        let mut state = lock(&self.shared.faults);
        let was_ready = state.faults.sim == SimState::Ready;
        let old = std::mem::replace(&mut *state, FaultState::new(faults));
        state.sent = old.sent;
        state.stalled_uploads = old.stalled_uploads;
        state.pin_attempts = old.pin_attempts;
        state.dtr_escapes = old.dtr_escapes;
        state.guarded_escapes = old.guarded_escapes;
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

    /// Number of times a DTR edge made the module leave data mode (an
    /// upload, a download, a listing, `AT+QFUPL`, `AT+QFDWL`) since
    /// power-on; resets do not clear it.
    pub fn dtr_escapes(&self) -> u64 {
        lock(&self.shared.faults).dtr_escapes
    }

    /// Number of times a guarded `+++` made the module leave data mode
    /// since power-on; resets do not clear it.
    pub fn guarded_escapes(&self) -> u64 {
        lock(&self.shared.faults).guarded_escapes
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

    /// Every file on the module's drives as `(name, size)`: UFS files by
    /// name (without a prefix), then RAM files (as `RAM:<name>`), as
    /// `AT+QFLST="*"` and `AT+QFLST="RAM:*"` print them.
    pub fn files(&self) -> Vec<(String, usize)> {
        lock(&self.shared.files).entries().map(|(name, data)| (name.display(), data.len())).collect()
    }

    /// A file's contents: `name` or `UFS:name` in flash, `RAM:name` in RAM
    /// (as written by `AT+QFUPL`, or by `AT+QFTPGET`/`AT+QFTPLIST` with a
    /// local name other than `"COM:"`). `None` if there is no such file.
    pub fn ufs_file(&self, name: &str) -> Option<Vec<u8>> {
        let name = FileName::parse(name).ok()?;
        lock(&self.shared.files).get(&name).cloned()
    }

    /// Puts a file on the module's drives (replacing one of that name),
    /// for `AT+QFTPPUT="<remote>","<name>"`, `AT+QFDWL` or a `cacert`.
    /// The drive's limits ([`Faults::ufs_capacity`], [`Faults::ufs_max_files`])
    /// are not checked, so a test can fill a drive beyond them.
    ///
    /// # Panics
    /// If `name` is not a valid file name (1 to 80 bytes after an optional
    /// `UFS:`/`RAM:` prefix, none of `* ? / \ : "` or control bytes).
    pub fn set_ufs_file(&self, name: &str, contents: &[u8]) {
        let name = FileName::parse(name).unwrap_or_else(|_| panic!("not a valid UFS file name: {name:?}"));
        lock(&self.shared.files).put_unchecked(name, contents.to_vec());
    }

    /// Deletes a file, also one that is open; `false` if there was none.
    pub fn remove_ufs_file(&self, name: &str) -> bool {
        let Ok(name) = FileName::parse(name) else { return false };
        lock(&self.shared.files).remove(&name)
    }

    /// Empties both drives (UFS and RAM) and closes every `AT+QFOPEN`
    /// handle.
    pub fn clear_files(&self) {
        lock(&self.shared.files).clear();
    }
}
