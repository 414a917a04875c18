//! The file store's checksum (`+QFUPL:`, `+QFDWL:`; Quectel FILE AT
//! Commands Manual, `AT+QFUPL` note 2; reference section 8): the 16-bit XOR
//! of the data taken two bytes at a time, the first byte as the high 8
//! bits; an odd last byte is the high 8 bits with 0 as the low 8 bits.

/// The checksum of a stream of bytes, fed in pieces of any size.
///
/// ```
/// use quectel_ftp::at::checksum::Checksum;
///
/// let mut sum = Checksum::new();
/// sum.update(b"01234");
/// sum.update(b"56789");
/// assert_eq!(sum.value(), 0x3839); // 0x3031 ^ 0x3233 ^ ... ^ 0x3839
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checksum {
    sum: u16,
    /// The high byte of a pair whose low byte is still to come.
    high: Option<u8>,
}

impl Checksum {
    /// The checksum of no bytes.
    pub const fn new() -> Self {
        Checksum { sum: 0, high: None }
    }

    /// Adds the next bytes of the stream.
    pub fn update(&mut self, mut bytes: &[u8]) {
        if let (Some(high), Some((&low, rest))) = (self.high, bytes.split_first()) {
            self.sum ^= u16::from_be_bytes([high, low]);
            self.high = None;
            bytes = rest;
        }
        let mut pairs = bytes.chunks_exact(2);
        for pair in &mut pairs {
            if let [high, low] = *pair {
                self.sum ^= u16::from_be_bytes([high, low]);
            }
        }
        if let [high] = *pairs.remainder() {
            self.high = Some(high);
        }
    }

    /// The checksum of the bytes so far.
    pub fn value(&self) -> u16 {
        self.sum ^ self.high.map_or(0, |high| u16::from_be_bytes([high, 0]))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn of(bytes: &[u8]) -> u16 {
        let mut sum = Checksum::new();
        sum.update(bytes);
        sum.value()
    }

    #[test]
    fn pairs_are_big_endian_and_an_odd_last_byte_is_high() {
        assert_eq!(of(b""), 0);
        assert_eq!(of(&[0x12, 0x34]), 0x1234);
        assert_eq!(of(&[0x12, 0x34, 0x56]), 0x1234 ^ 0x5600);
        assert_eq!(of(&[0xff, 0xff, 0xff, 0xff]), 0);
    }

    #[test]
    fn any_split_gives_the_same_checksum() {
        let data: std::vec::Vec<u8> = (0..=255u8).chain(0..=254).collect();
        let whole = of(&data);
        for split in 0..data.len() {
            for second in split..data.len() {
                let mut sum = Checksum::new();
                sum.update(&data[..split]);
                sum.update(&data[split..second]);
                sum.update(&data[second..]);
                assert_eq!(sum.value(), whole, "split at {split} and {second}");
            }
        }
    }
}
