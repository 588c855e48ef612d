//! Strict DAG-CBOR reading for atproto: [`decode`] builds an [`Ipld`] value and [`validate`] only checks.
//! Both run the same walker over the token scanner of `reader.rs`; the walker adds the structural rules:
//! exactly one top-level item, map keys that are text in canonical order without duplicates, and at most
//! [`MAX_DEPTH`] nested lists and maps (checked before descending, so hostile nesting cannot exhaust the
//! stack). Nothing is allocated from a declared length beyond what the remaining input could hold.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;

use super::encode::canonical_key_cmp;
use super::reader::{Leaf, Reader, Token};
use super::{CborError, MAX_DEPTH};

/// At most this many list slots are reserved up front, whatever a header declares; lists grow as their
/// items are actually read.
const PREALLOC_ITEMS: usize = 64;

/// Decodes one DAG-CBOR block under the atproto rules. The whole input must be one item.
pub fn decode(bytes: &[u8]) -> Result<Ipld, CborError> {
    read_document::<BuildIpld>(bytes)
}

/// Checks that `bytes` is one DAG-CBOR block that [`decode`] would accept, without building the value.
pub fn validate(bytes: &[u8]) -> Result<(), CborError> {
    read_document::<CheckOnly>(bytes)
}

/// What the walker produces from the items it reads.
trait Sink {
    type Value;
    type List;
    type Map;
    fn leaf(leaf: Leaf<'_>) -> Self::Value;
    fn list(capacity: usize) -> Self::List;
    fn push(list: &mut Self::List, value: Self::Value);
    fn end_list(list: Self::List) -> Self::Value;
    fn map() -> Self::Map;
    fn insert(map: &mut Self::Map, key: &str, value: Self::Value);
    fn end_map(map: Self::Map) -> Self::Value;
}

/// Builds [`Ipld`] values.
struct BuildIpld;

impl Sink for BuildIpld {
    type Value = Ipld;
    type List = Vec<Ipld>;
    type Map = BTreeMap<String, Ipld>;

    fn leaf(leaf: Leaf<'_>) -> Ipld {
        match leaf {
            Leaf::Null => Ipld::Null,
            Leaf::Bool(b) => Ipld::Bool(b),
            Leaf::Int(i) => Ipld::Integer(i128::from(i)),
            Leaf::Bytes(b) => Ipld::Bytes(b.to_vec()),
            Leaf::Text(s) => Ipld::String(s.to_owned()),
            Leaf::Link(cid) => Ipld::Link(cid),
        }
    }
    fn list(capacity: usize) -> Vec<Ipld> {
        Vec::with_capacity(capacity)
    }
    fn push(list: &mut Vec<Ipld>, value: Ipld) {
        list.push(value);
    }
    fn end_list(list: Vec<Ipld>) -> Ipld {
        Ipld::List(list)
    }
    fn map() -> BTreeMap<String, Ipld> {
        BTreeMap::new()
    }
    fn insert(map: &mut BTreeMap<String, Ipld>, key: &str, value: Ipld) {
        map.insert(key.to_owned(), value);
    }
    fn end_map(map: BTreeMap<String, Ipld>) -> Ipld {
        Ipld::Map(map)
    }
}

/// Builds nothing: validation only.
struct CheckOnly;

impl Sink for CheckOnly {
    type Value = ();
    type List = ();
    type Map = ();

    fn leaf(_: Leaf<'_>) {}
    fn list(_: usize) {}
    fn push(_: &mut (), _: ()) {}
    fn end_list(_: ()) {}
    fn map() {}
    fn insert(_: &mut (), _: &str, _: ()) {}
    fn end_map(_: ()) {}
}

/// Reads exactly one item from `bytes`.
fn read_document<S: Sink>(bytes: &[u8]) -> Result<S::Value, CborError> {
    let mut reader = Reader::new(bytes);
    let value = read_value::<S>(&mut reader, 0)?;
    if reader.remaining() > 0 {
        return Err(CborError::TrailingBytes {
            offset: reader.position(),
        });
    }
    Ok(value)
}

/// Reads one item; `depth` is the number of lists and maps around it.
fn read_value<S: Sink>(reader: &mut Reader<'_>, depth: usize) -> Result<S::Value, CborError> {
    let start = reader.position();
    match reader.next()? {
        Token::Leaf(leaf) => Ok(S::leaf(leaf)),
        Token::List(len) => {
            check_depth(depth, start)?;
            let mut list = S::list(len.min(PREALLOC_ITEMS));
            for _ in 0..len {
                let item = read_value::<S>(reader, depth + 1)?;
                S::push(&mut list, item);
            }
            Ok(S::end_list(list))
        }
        Token::Map(len) => {
            check_depth(depth, start)?;
            let mut map = S::map();
            let mut previous: Option<&str> = None;
            for _ in 0..len {
                let key_at = reader.position();
                let key = match reader.next()? {
                    Token::Leaf(Leaf::Text(key)) => key,
                    _ => return Err(CborError::NonTextKey { offset: key_at }),
                };
                if let Some(previous) = previous {
                    match canonical_key_cmp(previous, key) {
                        Ordering::Less => {}
                        Ordering::Equal => return Err(CborError::DuplicateKey { offset: key_at }),
                        Ordering::Greater => {
                            return Err(CborError::UnsortedKeys { offset: key_at })
                        }
                    }
                }
                let value = read_value::<S>(reader, depth + 1)?;
                S::insert(&mut map, key, value);
                previous = Some(key);
            }
            Ok(S::end_map(map))
        }
    }
}

/// Refuses a list or map at `depth` when it would exceed [`MAX_DEPTH`].
fn check_depth(depth: usize, offset: usize) -> Result<(), CborError> {
    if depth >= MAX_DEPTH {
        return Err(CborError::TooDeep {
            offset,
            max: MAX_DEPTH,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::cid::cid_for_cbor;

    fn both(bytes: &[u8]) -> Result<Ipld, CborError> {
        let decoded = decode(bytes);
        assert_eq!(
            decoded.as_ref().err(),
            validate(bytes).err().as_ref(),
            "decode and validate disagree on {}",
            hex::encode(bytes)
        );
        decoded
    }

    #[test]
    fn a_small_map_with_every_kind_of_value_decodes() {
        let cid = cid_for_cbor(&[0xa0]);
        let mut bytes = vec![0xa7];
        bytes.extend([0x61, b'a', 0x01]); // "a": 1
        bytes.extend([0x61, b'b', 0x38, 0x63]); // "b": -100
        bytes.extend([0x61, b'c', 0xf6]); // "c": null
        bytes.extend([0x61, b'd', 0x42, 1, 2]); // "d": h'0102'
        bytes.extend([0x61, b'e', 0x82, 0xf4, 0xf5]); // "e": [false, true]
        bytes.extend([0x62, b'a', b'a', 0x62, b'h', b'i']); // "aa": "hi"
        bytes.extend([0x62, b'a', b'b', 0xd8, 0x2a, 0x58, 0x25, 0x00]); // "ab": link
        bytes.extend(cid.to_bytes());
        let value = both(&bytes).unwrap();
        let Ipld::Map(map) = value else {
            panic!("not a map")
        };
        assert_eq!(map["a"], Ipld::Integer(1));
        assert_eq!(map["b"], Ipld::Integer(-100));
        assert_eq!(map["c"], Ipld::Null);
        assert_eq!(map["d"], Ipld::Bytes(vec![1, 2]));
        assert_eq!(
            map["e"],
            Ipld::List(vec![Ipld::Bool(false), Ipld::Bool(true)])
        );
        assert_eq!(map["aa"], Ipld::String("hi".into()));
        assert_eq!(map["ab"], Ipld::Link(cid));
    }

    #[test]
    fn keys_out_of_order_or_repeated_are_refused_at_their_offset() {
        // {"b": 1, "a": 2}: same length, bytewise out of order.
        assert_eq!(
            both(&[0xa2, 0x61, b'b', 1, 0x61, b'a', 2]),
            Err(CborError::UnsortedKeys { offset: 4 })
        );
        // {"aa": 1, "b": 2}: longer key first.
        assert_eq!(
            both(&[0xa2, 0x62, b'a', b'a', 1, 0x61, b'b', 2]),
            Err(CborError::UnsortedKeys { offset: 5 })
        );
        assert_eq!(
            both(&[0xa2, 0x61, b'a', 1, 0x61, b'a', 2]),
            Err(CborError::DuplicateKey { offset: 4 })
        );
        assert_eq!(
            both(&[0xa1, 0x01, 0x02]),
            Err(CborError::NonTextKey { offset: 1 })
        );
    }

    #[test]
    fn nesting_up_to_the_limit_passes_and_one_more_fails() {
        let ok: Vec<u8> = std::iter::repeat_n(0x81, MAX_DEPTH - 1)
            .chain([0x80])
            .collect();
        assert!(both(&ok).is_ok());
        let deep: Vec<u8> = std::iter::repeat_n(0x81, MAX_DEPTH).chain([0x80]).collect();
        assert_eq!(
            both(&deep),
            Err(CborError::TooDeep {
                offset: MAX_DEPTH,
                max: MAX_DEPTH
            })
        );
    }

    #[test]
    fn one_item_only() {
        assert_eq!(both(&[]), Err(CborError::UnexpectedEnd { offset: 0 }));
        assert_eq!(
            both(&[0xa0, 0x00]),
            Err(CborError::TrailingBytes { offset: 1 })
        );
    }
}
