//! The module's DTR input: leaving data mode without a guard time
//! (reference section 2: "raise DTR (needs `AT&D1`)").
//!
//! With `AT&D1` (sent by [`crate::Ftp::init`] when the client has a pin), a
//! low-to-high edge of DTR makes the module leave data mode at once, answer
//! `OK` and keep the connection, as a guarded `+++` does but without the
//! second of silence on each side. The pin rests low; the client raises it
//! only to leave data mode and lowers it again when the module has answered.
//!
//! Without a pin ([`NoDtr`], the default) every escape is a guarded `+++`,
//! and the code for the pin is not in the image.

/// A DTR line the client can drive. Implemented for every
/// [`embedded_hal::digital::OutputPin`] (embedded-hal 1.0): pass the GPIO
/// wired to the module's DTR input to [`crate::Ftp::with_dtr`]. If the
/// board inverts the level, wrap the pin so that `set_high` raises the
/// module's DTR.
pub trait Dtr {
    /// Whether there is a pin at all: `false` only for [`NoDtr`].
    const PRESENT: bool = true;

    /// Drives the line high (`true`) or low. `false` if the pin failed: the
    /// client then escapes with a guarded `+++`.
    fn drive(&mut self, high: bool) -> bool;
}

impl<P: embedded_hal::digital::OutputPin> Dtr for P {
    fn drive(&mut self, high: bool) -> bool {
        match high {
            true => self.set_high().is_ok(),
            false => self.set_low().is_ok(),
        }
    }
}

/// No DTR pin: the client leaves data mode with a guarded `+++`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDtr;

impl Dtr for NoDtr {
    const PRESENT: bool = false;

    fn drive(&mut self, _high: bool) -> bool {
        false
    }
}
