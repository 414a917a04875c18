//! Detection of the guarded `+++` escape sequence in data mode.

use std::time::{Duration, Instant};

/// Separates the guarded `+++` escape from payload.
///
/// An escape is three `+` with at least `guard` of silence before the
/// first, all three within `guard`, and at least `guard` of silence after
/// the last. Held-back `+` bytes that turn out not to be an escape are
/// handed back as payload, in order.
#[derive(Debug)]
pub(crate) struct EscapeDetector {
    guard: Duration,
    last_byte: Instant,
    pluses: usize,
    first_plus: Instant,
}

impl EscapeDetector {
    /// Starts detection; `start` counts as the time of the last byte (the
    /// module's `CONNECT`).
    pub fn new(guard: Duration, start: Instant) -> Self {
        EscapeDetector { guard, last_byte: start, pluses: 0, first_plus: start }
    }

    /// Feeds one byte that arrived at `at`; payload goes to `payload`.
    pub fn feed(&mut self, byte: u8, at: Instant, payload: &mut Vec<u8>) {
        let in_window = at.saturating_duration_since(self.first_plus) <= self.guard;
        if byte == b'+' && (1..3).contains(&self.pluses) && in_window {
            self.pluses += 1;
        } else {
            let silent_before = at.saturating_duration_since(self.last_byte) >= self.guard;
            self.release(payload);
            if byte == b'+' && silent_before {
                self.pluses = 1;
                self.first_plus = at;
            } else {
                payload.push(byte);
            }
        }
        self.last_byte = at;
    }

    /// Checks the clock: returns `true` once a complete `+++` has been
    /// followed by the guard silence; releases held `+` bytes whose window
    /// has run out.
    pub fn poll(&mut self, now: Instant, payload: &mut Vec<u8>) -> bool {
        match self.pluses {
            3 => now.saturating_duration_since(self.last_byte) >= self.guard,
            1 | 2 if now.saturating_duration_since(self.first_plus) > self.guard => {
                self.release(payload);
                false
            }
            _ => false,
        }
    }

    /// When `poll` should next be called, if an escape is in progress.
    pub fn deadline(&self) -> Option<Instant> {
        match self.pluses {
            3 => Some(self.last_byte + self.guard),
            1 | 2 => Some(self.first_plus + self.guard + Duration::from_millis(1)),
            _ => None,
        }
    }

    /// Hands the held-back `+` bytes to `payload`: also when data mode
    /// ends some other way (DTR), as they were no escape then.
    pub fn release(&mut self, payload: &mut Vec<u8>) {
        payload.extend(std::iter::repeat_n(b'+', self.pluses));
        self.pluses = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: Duration = Duration::from_secs(1);

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn guarded_escape_is_detected() {
        let t0 = Instant::now();
        let mut d = EscapeDetector::new(G, t0);
        let mut out = Vec::new();
        d.feed(b'a', ms(t0, 0), &mut out);
        for i in 0..3 {
            d.feed(b'+', ms(t0, 1100 + i), &mut out);
        }
        assert!(!d.poll(ms(t0, 1500), &mut out));
        assert!(d.poll(ms(t0, 2102), &mut out));
        assert_eq!(out, b"a");
    }

    #[test]
    fn unguarded_pluses_are_payload() {
        let t0 = Instant::now();
        let mut d = EscapeDetector::new(G, t0);
        let mut out = Vec::new();
        d.feed(b'a', ms(t0, 0), &mut out);
        for i in 0..3 {
            d.feed(b'+', ms(t0, 10 + i), &mut out);
        }
        assert!(!d.poll(ms(t0, 5000), &mut out));
        assert_eq!(out, b"a+++");
    }

    #[test]
    fn byte_after_pluses_cancels_escape() {
        let t0 = Instant::now();
        let mut d = EscapeDetector::new(G, t0);
        let mut out = Vec::new();
        for i in 0..3 {
            d.feed(b'+', ms(t0, 1000 + i), &mut out);
        }
        d.feed(b'x', ms(t0, 1500), &mut out);
        assert!(!d.poll(ms(t0, 4000), &mut out));
        assert_eq!(out, b"+++x");
    }

    #[test]
    fn lone_plus_is_released_after_window() {
        let t0 = Instant::now();
        let mut d = EscapeDetector::new(G, t0);
        let mut out = Vec::new();
        d.feed(b'+', ms(t0, 1200), &mut out);
        assert!(!d.poll(ms(t0, 2300), &mut out));
        assert_eq!(out, b"+");
    }
}
