//! The CAR v1 header: the DAG-CBOR map `{"roots": [CID...], "version": 1}`, encoded and decoded by hand.
//!
//! The structure is tiny and fixed, so a full DAG-CBOR codec would only widen the attack surface. Decoding
//! is strict, as DAG-CBOR and the specification's schema ask:
//! - minimal CBOR heads, definite lengths, keys in canonical order (`"roots"` before `"version"`), no
//!   duplicate keys and no trailing bytes;
//! - **unknown keys are refused**. The CARv1 specification defines the header as the IPLD Schema struct
//!   `CarHeader { version Int, roots [&Any] }`, and data with fields a struct does not declare does not
//!   match it; the specification grants no allowance for extensions (future variations are signalled by
//!   `version`). The reference PDS validates the same two fields; every known writer emits exactly them.
//! - `roots` may be empty (the specification leaves the count unresolved and recommends that new
//!   implementations accept zero); callers that need exactly one root check [`super::CarReader::roots`].
//! - each root is a tag-42 link whose CID passes [`cid_from_bytes`] (v1, dag-cbor or raw, sha2-256).
//! - a well-formed header with a version other than 1 (a CARv2 pragma is `{"version": 2}`) is
//!   [`CarError::UnsupportedVersion`].

use super::error::CarError;
use crate::repo::cid::{cid_from_bytes, Cid};

const MAJOR_UINT: u8 = 0;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;
/// The CBOR tag of an IPLD link.
const TAG_CID: u64 = 42;
/// The smallest encoding of one root: tag (2) + byte-string head (2) + 0x00 prefix + a 36-byte CID.
const MIN_ROOT_LEN: usize = 41;

/// The DAG-CBOR bytes of the header naming `roots` (without the length prefix).
pub(crate) fn encode(roots: &[Cid]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + roots.len() * 42);
    write_head(&mut out, MAJOR_MAP, 2);
    write_text(&mut out, "roots");
    write_head(&mut out, MAJOR_ARRAY, roots.len() as u64);
    for root in roots {
        let bytes = root.to_bytes();
        write_head(&mut out, MAJOR_TAG, TAG_CID);
        write_head(&mut out, MAJOR_BYTES, bytes.len() as u64 + 1);
        out.push(0x00);
        out.extend_from_slice(&bytes);
    }
    write_text(&mut out, "version");
    write_head(&mut out, MAJOR_UINT, 1);
    out
}

/// Decodes a header (without its length prefix) and returns its roots.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Cid>, CarError> {
    let mut cbor = Cursor { bytes, pos: 0 };
    let (major, entries) = cbor.head()?;
    if major != MAJOR_MAP {
        return Err(bad("not a map"));
    }
    let mut roots = None;
    let mut version = None;
    let mut previous_key: Option<&[u8]> = None;
    for _ in 0..entries {
        let key = cbor.text()?;
        if let Some(previous) = previous_key {
            // DAG-CBOR orders keys by length, then bytewise; equal keys are duplicates.
            if (previous.len(), previous) >= (key.len(), key) {
                return Err(bad("keys not in canonical order, or duplicated"));
            }
        }
        previous_key = Some(key);
        match key {
            b"roots" => roots = Some(cbor.roots()?),
            b"version" => version = Some(cbor.uint()?),
            _ => {
                return Err(bad(format!(
                    "unknown key {:?}",
                    String::from_utf8_lossy(key)
                )))
            }
        }
    }
    if cbor.pos != bytes.len() {
        return Err(bad("trailing bytes after the header map"));
    }
    match version {
        None => return Err(bad("missing version")),
        Some(1) => {}
        Some(other) => return Err(CarError::UnsupportedVersion(other)),
    }
    roots.ok_or_else(|| bad("missing roots"))
}

fn bad(message: impl Into<String>) -> CarError {
    CarError::BadHeader(message.into())
}

fn write_head(out: &mut Vec<u8>, major: u8, value: u64) {
    let major = major << 5;
    match value {
        0..=23 => out.push(major | value as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, value as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(value as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(value as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    write_head(out, MAJOR_TEXT, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// A read position in the header bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: u64) -> Result<&'a [u8], CarError> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let len = usize::try_from(len)
            .ok()
            .filter(|len| *len <= rest.len())
            .ok_or_else(|| bad("ends early"))?;
        self.pos += len;
        Ok(rest.get(..len).unwrap_or_default())
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// A CBOR head: the major type and its argument, which must be minimally encoded and definite.
    fn head(&mut self) -> Result<(u8, u64), CarError> {
        let [initial] = self.take(1)? else {
            return Err(bad("ends early"));
        };
        let major = initial >> 5;
        let info = initial & 0x1f;
        let (value, minimum) = match info {
            0..=23 => return Ok((major, u64::from(info))),
            24 => (u64::from(u8::from_be_bytes(self.be::<1>()?)), 24),
            25 => (u64::from(u16::from_be_bytes(self.be::<2>()?)), 0x100),
            26 => (u64::from(u32::from_be_bytes(self.be::<4>()?)), 0x1_0000),
            27 => (u64::from_be_bytes(self.be::<8>()?), 0x1_0000_0000),
            _ => return Err(bad("indefinite length or reserved CBOR head")),
        };
        if value < minimum {
            return Err(bad("CBOR integer not minimally encoded"));
        }
        Ok((major, value))
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], CarError> {
        self.take(N as u64)?
            .try_into()
            .map_err(|_| bad("ends early"))
    }

    fn expect(&mut self, major: u8, what: &str) -> Result<u64, CarError> {
        let (found, value) = self.head()?;
        if found != major {
            return Err(bad(format!("expected {what}")));
        }
        Ok(value)
    }

    fn text(&mut self) -> Result<&'a [u8], CarError> {
        let len = self.expect(MAJOR_TEXT, "a text key")?;
        self.take(len)
    }

    fn uint(&mut self) -> Result<u64, CarError> {
        self.expect(MAJOR_UINT, "an unsigned integer version")
    }

    fn roots(&mut self) -> Result<Vec<Cid>, CarError> {
        let count = self.expect(MAJOR_ARRAY, "an array of roots")?;
        // Never trust the claimed count for the allocation: the bytes left bound how many roots fit.
        let capacity = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .min(self.remaining() / MIN_ROOT_LEN);
        let mut roots = Vec::with_capacity(capacity);
        for _ in 0..count {
            if self.expect(MAJOR_TAG, "a CID (tag 42)")? != TAG_CID {
                return Err(bad("expected a CID (tag 42)"));
            }
            let len = self.expect(MAJOR_BYTES, "CID bytes")?;
            let Some((&0x00, cid)) = self.take(len)?.split_first() else {
                return Err(bad("CID bytes lack the 0x00 multibase prefix"));
            };
            roots.push(cid_from_bytes(cid)?);
        }
        Ok(roots)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ipld_core::ipld::Ipld;

    use super::*;
    use crate::repo::cid::{cid_for_cbor, cid_for_raw};

    fn ipld_header(roots: &[Cid], version: i128) -> Vec<u8> {
        let mut map = BTreeMap::new();
        map.insert(
            "roots".to_owned(),
            Ipld::List(roots.iter().copied().map(Ipld::Link).collect()),
        );
        map.insert("version".to_owned(), Ipld::Integer(version));
        serde_ipld_dagcbor::to_vec(&Ipld::Map(map)).unwrap()
    }

    #[test]
    fn encoding_matches_a_general_dag_cbor_encoder() {
        let some = [cid_for_cbor(b"a"), cid_for_raw(b"b"), cid_for_cbor(b"c")];
        for roots in [&some[..0], &some[..1], &some[..]] {
            assert_eq!(encode(roots), ipld_header(roots, 1));
            assert_eq!(decode(&encode(roots)).unwrap(), roots);
        }
    }

    #[test]
    fn a_header_with_many_roots_uses_wide_heads_and_round_trips() {
        let roots: Vec<Cid> = (0..300u32)
            .map(|i| cid_for_cbor(&i.to_be_bytes()))
            .collect();
        let bytes = encode(&roots);
        assert_eq!(bytes, ipld_header(&roots, 1));
        assert_eq!(decode(&bytes).unwrap(), roots);
    }

    #[test]
    fn other_versions_are_unsupported() {
        let bytes = ipld_header(&[cid_for_cbor(b"a")], 2);
        assert!(matches!(
            decode(&bytes),
            Err(CarError::UnsupportedVersion(2))
        ));
        // The CARv2 pragma: {"version": 2}, no roots.
        let pragma = [0xa1, 0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x02];
        assert!(matches!(
            decode(&pragma),
            Err(CarError::UnsupportedVersion(2))
        ));
        let negative = ipld_header(&[], -1);
        assert!(matches!(decode(&negative), Err(CarError::BadHeader(_))));
    }

    #[test]
    fn keys_out_of_order_duplicated_or_missing_are_refused() {
        let mut swapped = vec![0xa2];
        write_text(&mut swapped, "version");
        swapped.push(0x01);
        write_text(&mut swapped, "roots");
        swapped.push(0x80);
        assert!(matches!(decode(&swapped), Err(CarError::BadHeader(_))));

        let mut duplicated = vec![0xa2];
        write_text(&mut duplicated, "version");
        duplicated.push(0x01);
        write_text(&mut duplicated, "version");
        duplicated.push(0x01);
        assert!(matches!(decode(&duplicated), Err(CarError::BadHeader(_))));

        let mut no_roots = vec![0xa1];
        write_text(&mut no_roots, "version");
        no_roots.push(0x01);
        assert!(matches!(decode(&no_roots), Err(CarError::BadHeader(_))));
    }

    #[test]
    fn non_minimal_heads_indefinite_lengths_and_trailing_bytes_are_refused() {
        let mut long_map = encode(&[]);
        long_map[0] = 0xb8; // map, one-byte length follows
        long_map.insert(1, 2);
        assert!(matches!(decode(&long_map), Err(CarError::BadHeader(_))));
        let mut indefinite = encode(&[]);
        indefinite[0] = 0xbf;
        assert!(matches!(decode(&indefinite), Err(CarError::BadHeader(_))));
        let mut trailing = encode(&[]);
        trailing.push(0x00);
        assert!(matches!(decode(&trailing), Err(CarError::BadHeader(_))));
    }

    #[test]
    fn a_huge_root_count_does_not_preallocate() {
        let mut bytes = vec![0xa2];
        write_text(&mut bytes, "roots");
        write_head(&mut bytes, MAJOR_ARRAY, u64::MAX);
        assert!(matches!(decode(&bytes), Err(CarError::BadHeader(_))));
    }

    #[test]
    fn a_root_without_the_zero_prefix_or_with_a_foreign_codec_is_refused() {
        let cid = cid_for_cbor(b"a").to_bytes();
        let mut bytes = vec![0xa2];
        write_text(&mut bytes, "roots");
        write_head(&mut bytes, MAJOR_ARRAY, 1);
        write_head(&mut bytes, MAJOR_TAG, TAG_CID);
        write_head(&mut bytes, MAJOR_BYTES, cid.len() as u64);
        bytes.extend_from_slice(&cid);
        write_text(&mut bytes, "version");
        bytes.push(0x01);
        assert!(matches!(decode(&bytes), Err(CarError::BadHeader(_))));

        let dag_pb = crate::repo::cid::cid_for(0x70, b"a");
        assert!(matches!(
            decode(&encode(&[dag_pb])),
            Err(CarError::BadCid(crate::repo::cid::CidError::Codec(0x70)))
        ));
    }
}
