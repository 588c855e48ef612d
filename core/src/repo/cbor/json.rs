//! The atproto JSON representation of the data model, both ways.
//!
//! `{"$link": "<cid>"}` is a link and `{"$bytes": "<base64>"}` is a byte string (standard alphabet;
//! padding optional on input, never written); such objects may hold no other key. Numbers must be
//! integers within `i64`; an integral float such as `123.0` is read as the integer it equals. Every
//! object also follows the data-model rules of `model.rs` (`$type`, blobs) wherever it sits.

use std::collections::BTreeMap;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use ipld_core::ipld::Ipld;
use serde_json::{Map, Number, Value};

use super::encode::encode;
use super::model::{check_depth, check_object, BYTES_KEY, LINK_KEY};
use super::DataModelError;
use crate::repo::cid::{cid_for_cbor, cid_from_str, Cid};

/// Standard base64 that writes no padding and reads it either way.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// 2^63 as a float: the first integral value beyond `i64`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Converts atproto JSON into a data-model value, checking every rule on the way.
pub fn from_json(value: &Value) -> Result<Ipld, DataModelError> {
    convert(value, 0)
}

/// Converts a JSON record into its CID, canonical DAG-CBOR bytes and value. The top level must be an
/// object.
pub fn record_from_json(value: &Value) -> Result<(Cid, Vec<u8>, Ipld), DataModelError> {
    if !value.is_object() {
        return Err(DataModelError::NotAnObject);
    }
    let ipld = from_json(value)?;
    let bytes = encode(&ipld)?;
    Ok((cid_for_cbor(&bytes), bytes, ipld))
}

/// Converts a data-model value into atproto JSON.
///
/// Total for any value: those outside the data model, which [`super::encode`] refuses, come out as
/// close as JSON allows (a float as a JSON number or `null`, an integer beyond `i64` as `u64` or a
/// float). Values from [`super::decode`] are always inside it and round-trip exactly.
pub fn to_json(value: &Ipld) -> Value {
    match value {
        Ipld::Null => Value::Null,
        Ipld::Bool(b) => Value::Bool(*b),
        Ipld::Integer(i) => integer_to_json(*i),
        Ipld::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Ipld::String(s) => Value::String(s.clone()),
        Ipld::Bytes(b) => single(BYTES_KEY, BASE64.encode(b)),
        Ipld::Link(cid) => single(LINK_KEY, cid.to_string()),
        Ipld::List(items) => Value::Array(items.iter().map(to_json).collect()),
        Ipld::Map(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<Map<String, Value>>(),
        ),
    }
}

/// An integer as a JSON number.
fn integer_to_json(i: i128) -> Value {
    if let Ok(n) = i64::try_from(i) {
        Value::from(n)
    } else if let Ok(n) = u64::try_from(i) {
        Value::from(n)
    } else {
        // Outside the data model; the nearest float is the best JSON can do.
        Number::from_f64(i as f64).map_or(Value::Null, Value::Number)
    }
}

/// `{key: text}`.
fn single(key: &str, text: String) -> Value {
    let mut object = Map::new();
    object.insert(key.to_owned(), Value::String(text));
    Value::Object(object)
}

/// Converts one JSON value; `depth` is the number of arrays and objects around it.
fn convert(value: &Value, depth: usize) -> Result<Ipld, DataModelError> {
    match value {
        Value::Null => Ok(Ipld::Null),
        Value::Bool(b) => Ok(Ipld::Bool(*b)),
        Value::Number(n) => number(n),
        Value::String(s) => Ok(Ipld::String(s.clone())),
        Value::Array(items) => {
            check_depth(depth)?;
            let converted = items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    convert(item, depth + 1).map_err(|e| e.within(&index.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Ipld::List(converted))
        }
        Value::Object(object) => {
            check_depth(depth)?;
            if let Some(link) = object.get(LINK_KEY) {
                return link_object(object, link);
            }
            if let Some(bytes) = object.get(BYTES_KEY) {
                return bytes_object(object, bytes);
            }
            let mut map = BTreeMap::new();
            for (key, item) in object {
                let converted = convert(item, depth + 1).map_err(|e| e.within(key))?;
                map.insert(key.clone(), converted);
            }
            check_object(&map)?;
            Ok(Ipld::Map(map))
        }
    }
}

/// `{"$link": "<cid>"}` and nothing else.
fn link_object(object: &Map<String, Value>, link: &Value) -> Result<Ipld, DataModelError> {
    let invalid = |why: String| DataModelError::InvalidLink(why);
    if object.len() != 1 {
        return Err(invalid("a $link object may hold no other key".into()));
    }
    let text = link
        .as_str()
        .ok_or_else(|| invalid("the value must be a string".into()))?;
    let cid = cid_from_str(text).map_err(|e| invalid(e.to_string()))?;
    Ok(Ipld::Link(cid))
}

/// `{"$bytes": "<base64>"}` and nothing else.
fn bytes_object(object: &Map<String, Value>, bytes: &Value) -> Result<Ipld, DataModelError> {
    let invalid = |why: String| DataModelError::InvalidBytes(why);
    if object.len() != 1 {
        return Err(invalid("a $bytes object may hold no other key".into()));
    }
    let text = bytes
        .as_str()
        .ok_or_else(|| invalid("the value must be a string".into()))?;
    let decoded = BASE64.decode(text).map_err(|e| invalid(e.to_string()))?;
    Ok(Ipld::Bytes(decoded))
}

/// A JSON number as a data-model integer.
fn number(n: &Number) -> Result<Ipld, DataModelError> {
    if let Some(i) = n.as_i64() {
        return Ok(Ipld::Integer(i128::from(i)));
    }
    if n.is_u64() {
        return Err(DataModelError::IntegerOutOfRange(n.to_string()));
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f.fract() == 0.0 => {
            if (-TWO_POW_63..TWO_POW_63).contains(&f) {
                // Integral and within range, so the conversion is exact.
                Ok(Ipld::Integer(i128::from(f as i64)))
            } else {
                Err(DataModelError::IntegerOutOfRange(n.to_string()))
            }
        }
        _ => Err(DataModelError::Float(n.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::repo::cid::cid_for_raw;

    #[test]
    fn links_and_bytes_round_trip_through_json() {
        let cid = cid_for_raw(b"x");
        let value = json!({"l": {"$link": cid.to_string()}, "b": {"$bytes": "AQID"}});
        let ipld = from_json(&value).unwrap();
        let Ipld::Map(map) = &ipld else {
            panic!("not a map")
        };
        assert_eq!(map["l"], Ipld::Link(cid));
        assert_eq!(map["b"], Ipld::Bytes(vec![1, 2, 3]));
        assert_eq!(to_json(&ipld), value);
    }

    #[test]
    fn base64_padding_is_optional_on_input_and_never_written() {
        let padded = from_json(&json!({"$bytes": "AQ=="})).unwrap();
        let unpadded = from_json(&json!({"$bytes": "AQ"})).unwrap();
        assert_eq!(padded, Ipld::Bytes(vec![1]));
        assert_eq!(padded, unpadded);
        assert_eq!(to_json(&padded), json!({"$bytes": "AQ"}));
        assert!(from_json(&json!({"$bytes": "A-_B"})).is_err());
        assert!(from_json(&json!({"$bytes": "!!"})).is_err());
    }

    #[test]
    fn integral_floats_become_integers_and_others_are_refused() {
        assert_eq!(from_json(&json!(123.0)), Ok(Ipld::Integer(123)));
        assert_eq!(from_json(&json!(-0.0)), Ok(Ipld::Integer(0)));
        assert_eq!(
            from_json(&json!(i64::MIN)),
            Ok(Ipld::Integer(i128::from(i64::MIN)))
        );
        assert!(matches!(
            from_json(&json!(1.5)),
            Err(DataModelError::Float(_))
        ));
        assert!(matches!(
            from_json(&json!(u64::MAX)),
            Err(DataModelError::IntegerOutOfRange(_))
        ));
        assert!(matches!(
            from_json(&json!(1e19)),
            Err(DataModelError::IntegerOutOfRange(_))
        ));
        let beyond: Value = serde_json::from_str("123456789012345678901234567890").unwrap();
        assert!(from_json(&beyond).is_err());
    }

    #[test]
    fn errors_say_where_they_are() {
        let err = from_json(&json!({"a": [1, {"b": 2.5}]})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "at /a/1/b: floating-point number 2.5: the atproto data model has no floats"
        );
        let err = from_json(&json!({"x/y": {"$type": ""}})).unwrap_err();
        assert!(err.to_string().starts_with("at /x~1y/$type: "), "{err}");
    }

    #[test]
    fn deep_json_is_refused_without_recursing_further() {
        let mut value = json!([]);
        for _ in 0..crate::repo::cbor::MAX_DEPTH {
            value = json!([value]);
        }
        assert!(matches!(
            from_json(&value).unwrap_err().kind(),
            DataModelError::TooDeep(_)
        ));
    }

    #[test]
    fn records_must_be_objects_and_get_the_cid_of_their_bytes() {
        assert_eq!(
            record_from_json(&json!("blah")),
            Err(DataModelError::NotAnObject)
        );
        let (cid, bytes, ipld) = record_from_json(&json!({})).unwrap();
        assert_eq!(bytes, [0xa0]);
        assert_eq!(cid, cid_for_cbor(&[0xa0]));
        assert_eq!(ipld, Ipld::Map(BTreeMap::new()));
    }
}
