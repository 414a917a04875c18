//! The URC dispatcher: lines that do not answer the pending command.
//!
//! The client hands every line that is not its pending command's answer to a
//! [`UrcSink`]. The sink recognises the URCs the client itself must react to
//! (`+QIURC: "pdpdeact"`, `RDY`) and publishes every URC to an
//! [`embassy_sync::pubsub::PubSubChannel`] chosen by the application
//! (generic over `RawMutex` and bounded). Publishing never waits: when the
//! channel is full the oldest message goes and slow subscribers are told how
//! many they missed, so one URC nobody reads can never hold up the ones after
//! it, nor the driver. A URC longer than [`URC_LEN`] is dropped and counted.
//!
//! ```
//! use embassy_sync::blocking_mutex::raw::NoopRawMutex;
//! use quectel_ftp::at::urc::{Urc, UrcChannel, UrcSink};
//!
//! let channel: UrcChannel<NoopRawMutex, 4, 1> = UrcChannel::new();
//! let mut sub = channel.subscriber().unwrap();
//! let mut sink = UrcSink::new(Some(channel.dyn_immediate_publisher()));
//! sink.dispatch(b"+QIURC: \"pdpdeact\",1");
//! assert_eq!(sub.try_next_message_pure(), Some(Urc::PdpDeactivated { cid: 1 }));
//! ```

use embassy_sync::pubsub::{DynImmediatePublisher, PubSubChannel};
use heapless::Vec;

use crate::at::parse::{self, Qiurc};

/// Longest URC kept, in bytes; longer ones are dropped and counted.
pub const URC_LEN: usize = 96;

/// An unsolicited line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Urc {
    /// `+QIURC: "pdpdeact",<cid>`: the network deactivated the PDP context.
    /// Any FTP session over it is gone.
    PdpDeactivated {
        /// The context id.
        cid: u8,
    },
    /// `RDY`: the module restarted (echo is on again, PDP and FTP are down).
    Ready,
    /// Any other line, as received (`+CEREG: 1`, `+QIND: SMS DONE`, a late
    /// result, ...).
    Other(Vec<u8, URC_LEN>),
}

impl Urc {
    /// Classifies a line; `None` if it is too long to keep.
    pub fn from_line(line: &[u8]) -> Option<Urc> {
        if line == b"RDY" {
            return Some(Urc::Ready);
        }
        if let Some(Qiurc::PdpDeact { cid }) = parse::qiurc(line) {
            return Some(Urc::PdpDeactivated { cid });
        }
        Vec::from_slice(line).ok().map(Urc::Other)
    }
}

/// A channel for URCs: `CAP` messages kept, `SUBS` subscribers. The driver
/// publishes through an immediate publisher, which takes no publisher slot.
pub type UrcChannel<M, const CAP: usize, const SUBS: usize> = PubSubChannel<M, Urc, CAP, SUBS, 1>;

/// Counters kept by the dispatcher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UrcStats {
    /// URCs seen (published or not).
    pub seen: u32,
    /// URCs dropped because they were longer than [`URC_LEN`].
    pub too_long: u32,
}

/// Where the client sends lines that are not its pending command's answer.
pub struct UrcSink<'a> {
    publisher: Option<DynImmediatePublisher<'a, Urc>>,
    stats: UrcStats,
}

impl<'a> UrcSink<'a> {
    /// A sink publishing to `publisher`, or only counting with `None`.
    pub fn new(publisher: Option<DynImmediatePublisher<'a, Urc>>) -> Self {
        UrcSink { publisher, stats: UrcStats::default() }
    }

    /// Dispatches one line. Returns the URC when the client must react to it.
    pub fn dispatch(&mut self, line: &[u8]) -> Option<Urc> {
        self.stats.seen = self.stats.seen.wrapping_add(1);
        let Some(urc) = Urc::from_line(line) else {
            self.stats.too_long = self.stats.too_long.wrapping_add(1);
            warn!("URC of {} bytes dropped", line.len());
            return None;
        };
        let react = match urc {
            Urc::Other(_) => None,
            ref known => Some(known.clone()),
        };
        if let Some(p) = &self.publisher {
            p.publish_immediate(urc);
        }
        react
    }

    /// The counters.
    pub fn stats(&self) -> UrcStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embassy_sync::blocking_mutex::raw::NoopRawMutex;
    use embassy_sync::pubsub::WaitResult;

    #[test]
    fn unknown_urcs_never_hold_up_later_ones() {
        let channel: UrcChannel<NoopRawMutex, 2, 1> = UrcChannel::new();
        let mut sub = channel.subscriber().unwrap();
        let mut sink = UrcSink::new(Some(channel.dyn_immediate_publisher()));
        // Nobody reads while five URCs arrive into a channel of two.
        for _ in 0..4 {
            assert_eq!(sink.dispatch(b"+XYZ: 1"), None);
        }
        assert_eq!(sink.dispatch(b"+QIURC: \"pdpdeact\",1"), Some(Urc::PdpDeactivated { cid: 1 }));
        // The subscriber learns it missed three and still gets the newest.
        assert!(matches!(sub.try_next_message(), Some(WaitResult::Lagged(3))));
        assert!(matches!(sub.try_next_message(), Some(WaitResult::Message(Urc::Other(_)))));
        assert_eq!(sub.try_next_message_pure(), Some(Urc::PdpDeactivated { cid: 1 }));
        assert_eq!(sink.stats().seen, 5);
    }

    #[test]
    fn too_long_urcs_are_counted_not_fatal() {
        let mut sink = UrcSink::new(None);
        let long = [b'x'; URC_LEN + 1];
        assert_eq!(sink.dispatch(&long), None);
        assert_eq!(sink.dispatch(b"RDY"), Some(Urc::Ready));
        assert_eq!(sink.stats(), UrcStats { seen: 2, too_long: 1 });
    }
}
