//! Canonical DAG-CBOR writing of [`Ipld`] values: map keys sorted shorter first then bytewise, minimal
//! integer and length headers, CIDs as tag 42 with the 0x00 prefix. Values outside the atproto data model
//! (floats, integers beyond `i64`, links of other CID kinds, nesting beyond [`MAX_DEPTH`]) are refused,
//! so everything [`encode`] writes, [`super::decode`] reads back to the same value.

use std::cmp::Ordering;

use ipld_core::ipld::Ipld;

use super::writer::{
    write_array_header, write_bool, write_bytes, write_cid, write_int, write_map_header,
    write_null, write_text,
};
use super::{CborError, MAX_DEPTH};
use crate::repo::cid::check_cid;

/// The DAG-CBOR order of map keys: shorter keys first, then bytewise.
pub fn canonical_key_cmp(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// Encodes `value` as canonical DAG-CBOR.
pub fn encode(value: &Ipld) -> Result<Vec<u8>, CborError> {
    let mut buf = Vec::new();
    encode_to(&mut buf, value)?;
    Ok(buf)
}

/// Appends the canonical DAG-CBOR encoding of `value` to `buf`. On error `buf` is left as it was.
pub fn encode_to(buf: &mut Vec<u8>, value: &Ipld) -> Result<(), CborError> {
    let start = buf.len();
    let result = write_value(buf, value, 0);
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

/// Writes one value; `depth` is the number of lists and maps around it.
fn write_value(buf: &mut Vec<u8>, value: &Ipld, depth: usize) -> Result<(), CborError> {
    match value {
        Ipld::Null => write_null(buf),
        Ipld::Bool(b) => write_bool(buf, *b),
        Ipld::Integer(i) => {
            let n = i64::try_from(*i).map_err(|_| CborError::IntegerValueOutOfRange(*i))?;
            write_int(buf, n);
        }
        Ipld::Float(_) => return Err(CborError::FloatValue),
        Ipld::String(s) => write_text(buf, s),
        Ipld::Bytes(b) => write_bytes(buf, b),
        Ipld::Link(cid) => {
            check_cid(cid).map_err(|e| CborError::LinkValue(e.to_string()))?;
            write_cid(buf, cid);
        }
        Ipld::List(items) => {
            check_depth(depth)?;
            write_array_header(buf, items.len() as u64);
            for item in items {
                write_value(buf, item, depth + 1)?;
            }
        }
        Ipld::Map(map) => {
            check_depth(depth)?;
            let mut entries: Vec<(&String, &Ipld)> = map.iter().collect();
            entries.sort_by(|a, b| canonical_key_cmp(a.0, b.0));
            write_map_header(buf, entries.len() as u64);
            for (key, item) in entries {
                write_text(buf, key);
                write_value(buf, item, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// Refuses a list or map at `depth` when it would exceed [`MAX_DEPTH`].
fn check_depth(depth: usize) -> Result<(), CborError> {
    if depth >= MAX_DEPTH {
        return Err(CborError::TooDeep {
            offset: 0,
            max: MAX_DEPTH,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::repo::cid::{cid_for, cid_for_cbor};

    #[test]
    fn keys_are_written_shorter_first_then_bytewise() {
        let map: BTreeMap<String, Ipld> = ["bb", "a", "b", "aaa"]
            .into_iter()
            .map(|k| (k.to_owned(), Ipld::Null))
            .collect();
        let bytes = encode(&Ipld::Map(map)).unwrap();
        assert_eq!(
            bytes,
            [
                0xa4, 0x61, b'a', 0xf6, 0x61, b'b', 0xf6, 0x62, b'b', b'b', 0xf6, 0x63, b'a', b'a',
                b'a', 0xf6
            ]
        );
    }

    #[test]
    fn values_outside_the_data_model_are_refused_and_leave_the_buffer_alone() {
        let mut buf = vec![0x01];
        let list = Ipld::List(vec![Ipld::Integer(1), Ipld::Float(1.5)]);
        assert_eq!(encode_to(&mut buf, &list), Err(CborError::FloatValue));
        assert_eq!(buf, [0x01]);
        let big = Ipld::Integer(i128::from(i64::MAX) + 1);
        assert_eq!(
            encode(&big),
            Err(CborError::IntegerValueOutOfRange(i128::from(i64::MAX) + 1))
        );
        let dag_pb = Ipld::Link(cid_for(0x70, b"x"));
        assert!(matches!(encode(&dag_pb), Err(CborError::LinkValue(_))));
        assert!(encode(&Ipld::Link(cid_for_cbor(b"x"))).is_ok());
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused() {
        let mut value = Ipld::List(vec![]);
        for _ in 1..MAX_DEPTH {
            value = Ipld::List(vec![value]);
        }
        assert!(encode(&value).is_ok());
        let value = Ipld::List(vec![value]);
        assert!(matches!(encode(&value), Err(CborError::TooDeep { .. })));
    }
}
