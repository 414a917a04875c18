//! Semihosting: the command line in, the verdict out.

use core::fmt::Display;

use cortex_m_semihosting::{debug, hprintln, nr, syscall1};

/// The command line QEMU was given with `-semihosting-config arg=...`
/// (its arguments joined by spaces), read into `buf`.
pub fn cmdline(buf: &mut [u8]) -> Option<&str> {
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: SYS_GET_CMDLINE writes at most `block[1]` bytes to `block[0]`
    // and the length it wrote back to `block[1]`.
    let rc = unsafe { syscall1(nr::GET_CMDLINE, block.as_mut_ptr() as usize) };
    let len = block[1];
    if rc != 0 || len > buf.len() {
        return None;
    }
    core::str::from_utf8(&buf[..len]).ok()
}

/// Ends the emulation with exit status 0 (`ok`) or 1.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    // Only reached when semihosting is off.
    loop {
        cortex_m::asm::wfi();
    }
}

/// Says why, then ends with exit status 1.
pub fn fail_with(why: impl Display) -> ! {
    hprintln!("FAILED: {}", why);
    exit(false)
}

pub fn fail(why: &str) -> ! {
    fail_with(why)
}
