//! Unsigned LEB128 varints, the length prefixes of CAR files: minimal, at most 9 bytes (63 bits), as
//! the multiformats unsigned-varint specification requires.

use tokio::io::{AsyncRead, AsyncReadExt};

use super::error::CarError;

/// The longest varint accepted: 9 bytes carry 63 bits.
pub(crate) const MAX_LEN: usize = 9;

/// Appends the varint of `value` to `out`.
pub(crate) fn encode(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(((value & 0x7f) as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// How many bytes [`encode`] writes for `value`.
pub(crate) fn encoded_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Reads one varint. Returns `Ok(None)` when the input ends before its first byte (a clean end of
/// stream), else the value and how many bytes it took. The input ending inside the varint is
/// [`CarError::Truncated`].
pub(crate) async fn read<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<(u64, usize)>, CarError> {
    let mut value = 0u64;
    for index in 0..MAX_LEN {
        let mut byte = [0u8; 1];
        if reader.read(&mut byte).await? == 0 {
            return if index == 0 {
                Ok(None)
            } else {
                Err(CarError::Truncated)
            };
        }
        let [byte] = byte;
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            if byte == 0 && index > 0 {
                return Err(CarError::BadVarint("not minimally encoded"));
            }
            return Ok(Some((value, index + 1)));
        }
    }
    Err(CarError::BadVarint("longer than 9 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<Option<(u64, usize)>, CarError> {
        let mut reader = bytes;
        super::super::reader::poll_ready(read(&mut reader))
    }

    #[test]
    fn values_round_trip_with_their_predicted_length() {
        for value in [
            0,
            1,
            127,
            128,
            255,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            (1 << 63) - 1,
        ] {
            let mut out = Vec::new();
            encode(value, &mut out);
            assert_eq!(out.len(), encoded_len(value), "length of {value}");
            let (decoded, used) = decode(&out).unwrap().unwrap();
            assert_eq!((decoded, used), (value, out.len()));
        }
    }

    #[test]
    fn known_encodings_match_the_multiformats_examples() {
        let mut out = Vec::new();
        encode(300, &mut out);
        assert_eq!(out, [0xac, 0x02]);
        out.clear();
        encode(16_384, &mut out);
        assert_eq!(out, [0x80, 0x80, 0x01]);
    }

    #[test]
    fn empty_input_is_a_clean_end_and_a_cut_varint_is_truncated() {
        assert!(decode(&[]).unwrap().is_none());
        assert!(matches!(decode(&[0x80]), Err(CarError::Truncated)));
    }

    #[test]
    fn non_minimal_and_overlong_varints_are_refused() {
        assert!(matches!(decode(&[0x81, 0x00]), Err(CarError::BadVarint(_))));
        assert!(matches!(decode(&[0x80; 10]), Err(CarError::BadVarint(_))));
        let mut ten = vec![0xff; 9];
        ten.push(0x01);
        assert!(matches!(decode(&ten), Err(CarError::BadVarint(_))));
    }
}
