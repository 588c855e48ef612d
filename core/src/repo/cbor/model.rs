//! The atproto data-model rules that go beyond DAG-CBOR, checked on [`Ipld`] values: no floats,
//! integers within `i64`, only atproto CIDs, `$type` a non-empty string wherever it appears, blob maps
//! (`$type: "blob"`) with a raw-codec `ref`, a non-empty `mimeType` and a non-negative integer `size`,
//! and no map keys that the JSON representation reserves (`$link`, `$bytes`). The JSON mapping applies
//! the per-object rules ([`check_object`]) as it converts; [`validate_record_value`] applies them all to
//! a value decoded from CBOR.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;

use super::{DataModelError, MAX_DEPTH};
use crate::repo::cid::{check_cid, RAW};

/// The keys that the JSON representation uses for links and bytes.
pub(super) const LINK_KEY: &str = "$link";
/// See [`LINK_KEY`].
pub(super) const BYTES_KEY: &str = "$bytes";
/// The key naming an object's Lexicon type.
const TYPE_KEY: &str = "$type";

/// Checks that `value` is a record in the atproto data model: a map, and every value inside it allowed.
pub fn validate_record_value(value: &Ipld) -> Result<(), DataModelError> {
    match value {
        Ipld::Map(_) => check_value(value, 0),
        _ => Err(DataModelError::NotAnObject),
    }
}

/// Checks one value and everything inside it; `depth` is the number of lists and maps around it.
fn check_value(value: &Ipld, depth: usize) -> Result<(), DataModelError> {
    match value {
        Ipld::Null | Ipld::Bool(_) | Ipld::String(_) | Ipld::Bytes(_) => Ok(()),
        Ipld::Float(f) => Err(DataModelError::Float(f.to_string())),
        Ipld::Integer(i) => i64::try_from(*i)
            .map(drop)
            .map_err(|_| DataModelError::IntegerOutOfRange(i.to_string())),
        Ipld::Link(cid) => check_cid(cid).map_err(|e| DataModelError::InvalidLink(e.to_string())),
        Ipld::List(items) => {
            check_depth(depth)?;
            for (index, item) in items.iter().enumerate() {
                check_value(item, depth + 1).map_err(|e| e.within(&index.to_string()))?;
            }
            Ok(())
        }
        Ipld::Map(map) => {
            check_depth(depth)?;
            check_object(map)?;
            for (key, item) in map {
                check_value(item, depth + 1).map_err(|e| e.within(key))?;
            }
            Ok(())
        }
    }
}

/// Refuses a list or map at `depth` when it would exceed [`MAX_DEPTH`].
pub(super) fn check_depth(depth: usize) -> Result<(), DataModelError> {
    if depth >= MAX_DEPTH {
        return Err(DataModelError::TooDeep(MAX_DEPTH));
    }
    Ok(())
}

/// The rules about one map's own keys (not its nested values): reserved keys, `$type`, blob shape.
pub(super) fn check_object(map: &BTreeMap<String, Ipld>) -> Result<(), DataModelError> {
    for reserved in [LINK_KEY, BYTES_KEY] {
        if map.contains_key(reserved) {
            return Err(DataModelError::ReservedKey(reserved.to_owned()));
        }
    }
    match map.get(TYPE_KEY) {
        None => Ok(()),
        Some(Ipld::String(t)) if t == "blob" => check_blob(map),
        Some(Ipld::String(t)) if !t.is_empty() => Ok(()),
        Some(_) => Err(DataModelError::InvalidType.within(TYPE_KEY)),
    }
}

/// A blob reference: `ref` a link to raw bytes, `mimeType` a non-empty string, `size` an integer ≥ 0.
///
/// The specification asks writers for a positive size; zero is accepted here because empty blobs exist
/// and the legacy-blob guidance stores unknown sizes as zero.
fn check_blob(map: &BTreeMap<String, Ipld>) -> Result<(), DataModelError> {
    let invalid = |why: &str| DataModelError::InvalidBlob(why.to_owned());
    match map.get("ref") {
        Some(Ipld::Link(cid)) if cid.codec() == RAW => {}
        Some(Ipld::Link(_)) => return Err(invalid("ref must link to a raw (0x55) block")),
        Some(_) => return Err(invalid("ref must be a link")),
        None => return Err(invalid("missing ref")),
    }
    match map.get("mimeType") {
        Some(Ipld::String(m)) if !m.is_empty() => {}
        Some(_) => return Err(invalid("mimeType must be a non-empty string")),
        None => return Err(invalid("missing mimeType")),
    }
    match map.get("size") {
        Some(Ipld::Integer(n)) if *n >= 0 && i64::try_from(*n).is_ok() => Ok(()),
        Some(_) => Err(invalid("size must be a non-negative integer")),
        None => Err(invalid("missing size")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::cid::{cid_for_cbor, cid_for_raw};

    fn map(entries: Vec<(&str, Ipld)>) -> Ipld {
        Ipld::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    fn blob(size: Ipld) -> Ipld {
        map(vec![
            ("$type", Ipld::String("blob".into())),
            ("ref", Ipld::Link(cid_for_raw(b"img"))),
            ("mimeType", Ipld::String("image/png".into())),
            ("size", size),
        ])
    }

    #[test]
    fn a_record_must_be_a_map() {
        assert_eq!(
            validate_record_value(&Ipld::List(vec![])),
            Err(DataModelError::NotAnObject)
        );
        assert_eq!(validate_record_value(&map(vec![])), Ok(()));
    }

    #[test]
    fn nested_type_fields_must_be_non_empty_strings() {
        let bad = map(vec![(
            "embed",
            map(vec![("$type", Ipld::String(String::new()))]),
        )]);
        let err = validate_record_value(&bad).unwrap_err();
        assert_eq!(err.kind(), &DataModelError::InvalidType);
        assert_eq!(
            err.to_string(),
            "at /embed/$type: $type must be a non-empty string"
        );
        let null = map(vec![("$type", Ipld::Null)]);
        assert!(validate_record_value(&null).is_err());
    }

    #[test]
    fn blobs_are_checked_wherever_they_sit() {
        assert_eq!(
            validate_record_value(&map(vec![("b", blob(Ipld::Integer(10)))])),
            Ok(())
        );
        let in_list = map(vec![(
            "l",
            Ipld::List(vec![blob(Ipld::String("10".into()))]),
        )]);
        let err = validate_record_value(&in_list).unwrap_err();
        assert!(matches!(err.kind(), DataModelError::InvalidBlob(_)));
        assert!(err.to_string().starts_with("at /l/0: "));
        let Ipld::Map(mut wrong_codec) = blob(Ipld::Integer(1)) else {
            unreachable!()
        };
        wrong_codec.insert("ref".into(), Ipld::Link(cid_for_cbor(b"x")));
        assert!(validate_record_value(&Ipld::Map(wrong_codec)).is_err());
        assert!(validate_record_value(&blob(Ipld::Integer(-1))).is_err());
    }

    #[test]
    fn floats_big_integers_and_reserved_keys_are_refused() {
        assert!(validate_record_value(&map(vec![("f", Ipld::Float(1.0))])).is_err());
        let big = Ipld::Integer(i128::from(u64::MAX));
        assert!(validate_record_value(&map(vec![("n", big)])).is_err());
        let reserved = map(vec![("$bytes", Ipld::String("AAAA".into()))]);
        assert_eq!(
            validate_record_value(&reserved),
            Err(DataModelError::ReservedKey("$bytes".into()))
        );
    }
}
