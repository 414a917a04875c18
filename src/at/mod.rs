//! The AT engine: command writer, tokenizer, response parsers and URC
//! dispatcher. It knows nothing about FTP sessions; the client sequences it.

pub mod checksum;
pub(crate) mod cmd;
#[doc(hidden)]
pub mod parse;
pub mod tokenizer;
pub mod urc;

/// `n / d` and `n % d` for a small divisor, in 16-bit steps: 32-bit
/// divisions only, so no 64-bit division routine is linked on 32-bit MCUs.
pub(crate) fn div_rem_small(n: u64, d: u16) -> (u64, u16) {
    let d = u32::from(d.max(1));
    let mut quotient = 0u64;
    let mut rem = 0u32;
    for shift in [48u32, 32, 16, 0] {
        // `rem < d <= 0xFFFF`, so `cur` fits in 32 bits.
        let cur = (rem << 16) | ((n >> shift) as u32 & 0xFFFF);
        quotient |= u64::from(cur / d) << shift;
        rem = cur % d;
    }
    (quotient, rem as u16)
}

#[cfg(test)]
mod tests {
    #[test]
    fn div_rem_small_matches_u64_division() {
        for n in [0, 1, 9, 10, 65_535, 65_536, 1 << 32, u64::MAX, u64::MAX - 7, 12_345_678_901_234] {
            for d in [1u16, 7, 10, 16, 1000, u16::MAX] {
                assert_eq!(super::div_rem_small(n, d), (n / u64::from(d), (n % u64::from(d)) as u16));
            }
        }
    }
}
