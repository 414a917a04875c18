//! Peak stack use by painting: the free stack is filled with a pattern at
//! reset, and the lowest word that no longer holds it is the high-water mark.
//!
//! cortex-m-rt puts the stack at the top of RAM growing down towards the end
//! of `.bss` (`__sheap`), so everything between is paintable.

const PAINT: u32 = 0xC0FF_EE55;

extern "C" {
    static mut __sheap: u32;
    static _stack_start: u32;
}

fn bottom() -> *mut u32 {
    core::ptr::addr_of_mut!(__sheap)
}

fn top() -> usize {
    core::ptr::addr_of!(_stack_start) as usize
}

/// Paints from the end of `.bss` up to a little below the current stack
/// pointer. Call first thing in `main`.
pub fn paint() {
    let sp = cortex_m::register::msp::read() as usize - 64;
    let mut p = bottom();
    while (p as usize) < sp {
        // SAFETY: the words between `.bss` and the live stack are unused.
        unsafe {
            p.write_volatile(PAINT);
            p = p.add(1);
        }
    }
}

/// The deepest the stack has reached since [`paint`], in bytes.
pub fn peak() -> usize {
    let mut p = bottom();
    // SAFETY: reads words of the stack region, below the live stack.
    while (p as usize) < top() && unsafe { p.read_volatile() } == PAINT {
        p = unsafe { p.add(1) };
    }
    top() - p as usize
}
