//! Low-level DAG-CBOR writers: each appends one canonical header or item to a byte buffer.
//!
//! [`super::encode`] is built on them, and code that writes fixed structures (MST nodes, commits) can use
//! them directly instead of building an `Ipld` tree first. They write what they are given: a caller that
//! writes a map must write its keys in canonical order ([`super::canonical_key_cmp`]) itself, and
//! [`write_cid`] does not check that the CID is one atproto allows.

use crate::repo::cid::Cid;

/// Major type 0: unsigned integers.
pub const MAJOR_UNSIGNED: u8 = 0;
/// Major type 1: negative integers (`-1 - n`).
pub const MAJOR_NEGATIVE: u8 = 1;
/// Major type 2: byte strings.
pub const MAJOR_BYTES: u8 = 2;
/// Major type 3: UTF-8 text strings.
pub const MAJOR_TEXT: u8 = 3;
/// Major type 4: arrays (lists).
pub const MAJOR_ARRAY: u8 = 4;
/// Major type 5: maps.
pub const MAJOR_MAP: u8 = 5;
/// Major type 6: tags.
pub const MAJOR_TAG: u8 = 6;

/// The tag DAG-CBOR puts on CID links.
pub const TAG_CID: u64 = 42;

/// Appends the shortest header of major type `major` (0–7; higher bits are ignored) with argument `n`.
pub fn write_uint_header(buf: &mut Vec<u8>, major: u8, n: u64) {
    let m = (major & 0x07) << 5;
    if let Ok(small) = u8::try_from(n) {
        if small < 24 {
            buf.push(m | small);
        } else {
            buf.extend_from_slice(&[m | 24, small]);
        }
    } else if let Ok(n) = u16::try_from(n) {
        buf.push(m | 25);
        buf.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = u32::try_from(n) {
        buf.push(m | 26);
        buf.extend_from_slice(&n.to_be_bytes());
    } else {
        buf.push(m | 27);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends an unsigned integer.
pub fn write_uint(buf: &mut Vec<u8>, n: u64) {
    write_uint_header(buf, MAJOR_UNSIGNED, n);
}

/// Appends a signed integer.
pub fn write_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        write_uint_header(buf, MAJOR_UNSIGNED, n.unsigned_abs());
    } else {
        // For n < 0, -1 - n lies in 0..=i64::MAX.
        write_uint_header(buf, MAJOR_NEGATIVE, (-1 - n).unsigned_abs());
    }
}

/// Appends a text string.
pub fn write_text(buf: &mut Vec<u8>, s: &str) {
    write_uint_header(buf, MAJOR_TEXT, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

/// Appends a byte string.
pub fn write_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    write_uint_header(buf, MAJOR_BYTES, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// Appends a CID link: tag 42 around a byte string of 0x00 followed by the binary CID.
pub fn write_cid(buf: &mut Vec<u8>, cid: &Cid) {
    write_uint_header(buf, MAJOR_TAG, TAG_CID);
    write_uint_header(buf, MAJOR_BYTES, cid.encoded_len() as u64 + 1);
    buf.push(0x00);
    // Writing into a Vec cannot fail.
    let _ = cid.write_bytes(&mut *buf);
}

/// Appends `null`.
pub fn write_null(buf: &mut Vec<u8>) {
    buf.push(0xf6);
}

/// Appends `false` or `true`.
pub fn write_bool(buf: &mut Vec<u8>, b: bool) {
    buf.push(if b { 0xf5 } else { 0xf4 });
}

/// Appends the header of an array of `len` items; the items follow.
pub fn write_array_header(buf: &mut Vec<u8>, len: u64) {
    write_uint_header(buf, MAJOR_ARRAY, len);
}

/// Appends the header of a map of `len` entries; the keys and values follow, keys in canonical order.
pub fn write_map_header(buf: &mut Vec<u8>, len: u64) {
    write_uint_header(buf, MAJOR_MAP, len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::cid::cid_for_raw;

    fn written(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut buf = Vec::new();
        f(&mut buf);
        buf
    }

    #[test]
    fn headers_use_the_shortest_width() {
        let cases: [(u64, &[u8]); 9] = [
            (0, &[0x00]),
            (23, &[0x17]),
            (24, &[0x18, 24]),
            (255, &[0x18, 0xff]),
            (256, &[0x19, 0x01, 0x00]),
            (65_535, &[0x19, 0xff, 0xff]),
            (65_536, &[0x1a, 0, 1, 0, 0]),
            (u64::from(u32::MAX), &[0x1a, 0xff, 0xff, 0xff, 0xff]),
            (1 << 32, &[0x1b, 0, 0, 0, 1, 0, 0, 0, 0]),
        ];
        for (n, expected) in cases {
            assert_eq!(written(|b| write_uint(b, n)), expected, "{n}");
        }
        assert_eq!(written(|b| write_uint_header(b, MAJOR_MAP, 2)), [0xa2]);
    }

    #[test]
    fn signed_integers_match_the_cbor_examples() {
        assert_eq!(written(|b| write_int(b, -1)), [0x20]);
        assert_eq!(written(|b| write_int(b, -100)), [0x38, 0x63]);
        assert_eq!(written(|b| write_int(b, 1000)), [0x19, 0x03, 0xe8]);
        assert_eq!(
            written(|b| write_int(b, i64::MIN)),
            [0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn strings_simple_values_and_links() {
        assert_eq!(written(|b| write_text(b, "IETF")), b"\x64IETF");
        assert_eq!(written(|b| write_bytes(b, &[1, 2])), [0x42, 1, 2]);
        assert_eq!(written(write_null), [0xf6]);
        assert_eq!(written(|b| write_bool(b, true)), [0xf5]);
        let cid = cid_for_raw(b"blob");
        let bytes = written(|b| write_cid(b, &cid));
        assert_eq!(&bytes[..5], &[0xd8, 0x2a, 0x58, 0x25, 0x00]);
        assert_eq!(&bytes[5..], cid.to_bytes().as_slice());
    }
}
