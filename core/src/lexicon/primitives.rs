//! Validation of the primitive Lexicon types other than strings: `boolean`, `integer`, `bytes`,
//! `cid-link` and `blob`.
//!
//! A blob is checked against what its reference declares: a `{"$type": "blob", ref, mimeType, size}`
//! map whose MIME type the definition's `accept` allows (`type/*` and `*/*` are wildcards) and whose
//! size is at most `maxSize`. Legacy blob references (`{cid, mimeType}`, without a size) are refused,
//! as the reference PDS refuses them in new records. Whether the blob itself exists and matches what
//! the reference declares is the blob store's business, not this module's.

use ipld_core::ipld::Ipld;

use super::error::ValidationError;
use super::schema::{BlobDef, BooleanDef, BytesDef, IntegerDef};
use super::validate::fail;

/// `boolean`, with its `const`.
pub(super) fn boolean(def: &BooleanDef, value: &Ipld, path: &str) -> Result<(), ValidationError> {
    let Ipld::Bool(b) = value else {
        return fail(path, "must be a boolean");
    };
    match def.const_value {
        Some(c) if c != *b => fail(path, format!("must be {c}")),
        _ => Ok(()),
    }
}

/// `integer`, with its `const`, `enum`, `maximum` and `minimum`.
pub(super) fn integer(def: &IntegerDef, value: &Ipld, path: &str) -> Result<(), ValidationError> {
    // The data model keeps integers within i64; a value outside is no integer of any Lexicon.
    let n = match value {
        Ipld::Integer(i) => i64::try_from(*i).ok(),
        _ => None,
    };
    let Some(n) = n else {
        return fail(path, "must be an integer");
    };
    if let Some(c) = def.const_value {
        if n != c {
            return fail(path, format!("must be {c}"));
        }
    }
    if let Some(values) = &def.enum_values {
        if !values.contains(&n) {
            let list: Vec<String> = values.iter().map(i64::to_string).collect();
            return fail(path, format!("must be one of ({})", list.join("|")));
        }
    }
    if let Some(max) = def.maximum {
        if n > max {
            return fail(path, format!("can not be greater than {max}"));
        }
    }
    if let Some(min) = def.minimum {
        if n < min {
            return fail(path, format!("can not be less than {min}"));
        }
    }
    Ok(())
}

/// `bytes`, with its `maxLength` and `minLength`.
pub(super) fn bytes(def: &BytesDef, value: &Ipld, path: &str) -> Result<(), ValidationError> {
    let Ipld::Bytes(b) = value else {
        return fail(path, "must be a byte array");
    };
    if let Some(max) = def.max_length {
        if b.len() > max {
            return fail(path, format!("must not be larger than {max} bytes"));
        }
    }
    if let Some(min) = def.min_length {
        if b.len() < min {
            return fail(path, format!("must not be smaller than {min} bytes"));
        }
    }
    Ok(())
}

/// `cid-link`: a link (`{"$link": ...}` in JSON).
pub(super) fn cid_link(value: &Ipld, path: &str) -> Result<(), ValidationError> {
    match value {
        Ipld::Link(_) => Ok(()),
        _ => fail(path, "must be a CID"),
    }
}

/// `blob`: a typed blob reference within `accept` and `maxSize`.
pub(super) fn blob(def: &BlobDef, value: &Ipld, path: &str) -> Result<(), ValidationError> {
    let Some((mime, size)) = blob_ref(value) else {
        return fail(path, "should be a blob ref");
    };
    if let Some(accept) = &def.accept {
        if !accept.iter().any(|pattern| mime_matches(pattern, mime)) {
            return fail(
                path,
                format!(
                    "has MIME type {mime:?}, which is not one of {}",
                    accept.join(", ")
                ),
            );
        }
    }
    if let Some(max) = def.max_size {
        if size > max {
            return fail(
                path,
                format!("is {size} bytes, more than the {max} allowed"),
            );
        }
    }
    Ok(())
}

/// The MIME type and size of a typed blob reference, or `None` when `value` is not one.
fn blob_ref(value: &Ipld) -> Option<(&str, u64)> {
    let Ipld::Map(map) = value else {
        return None;
    };
    match (
        map.get("$type"),
        map.get("ref"),
        map.get("mimeType"),
        map.get("size"),
    ) {
        (
            Some(Ipld::String(t)),
            Some(Ipld::Link(_)),
            Some(Ipld::String(mime)),
            Some(Ipld::Integer(size)),
        ) if t == "blob" => Some((mime.as_str(), u64::try_from(*size).ok()?)),
        _ => None,
    }
}

/// Whether `mime` is allowed by an `accept` entry: the same type, `type/*`, or `*/*`.
fn mime_matches(pattern: &str, mime: &str) -> bool {
    if pattern == "*/*" || pattern == mime {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) if prefix.ends_with('/') => mime.starts_with(prefix),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::repo::cid::cid_for_raw;

    fn blob_value(mime: &str, size: i128) -> Ipld {
        Ipld::Map(BTreeMap::from([
            ("$type".to_owned(), Ipld::String("blob".into())),
            ("ref".to_owned(), Ipld::Link(cid_for_raw(b"x"))),
            ("mimeType".to_owned(), Ipld::String(mime.into())),
            ("size".to_owned(), Ipld::Integer(size)),
        ]))
    }

    #[test]
    fn integers_keep_within_const_enum_and_range() {
        let range = IntegerDef {
            minimum: Some(10),
            maximum: Some(20),
            ..Default::default()
        };
        assert!(integer(&range, &Ipld::Integer(10), "p").is_ok());
        assert!(integer(&range, &Ipld::Integer(20), "p").is_ok());
        let err = integer(&range, &Ipld::Integer(21), "p").unwrap_err();
        assert_eq!(err.to_string(), "p can not be greater than 20");
        assert!(integer(&range, &Ipld::Integer(9), "p").is_err());
        assert!(integer(&range, &Ipld::String("15".into()), "p").is_err());
        assert!(integer(&range, &Ipld::Integer(i128::MAX), "p").is_err());
        let listed = IntegerDef {
            enum_values: Some(vec![4, 9]),
            const_value: None,
            ..Default::default()
        };
        assert!(integer(&listed, &Ipld::Integer(9), "p").is_ok());
        assert_eq!(
            integer(&listed, &Ipld::Integer(7), "p").unwrap_err().reason,
            "must be one of (4|9)"
        );
        let fixed = IntegerDef {
            const_value: Some(42),
            ..Default::default()
        };
        assert!(integer(&fixed, &Ipld::Integer(41), "p").is_err());
    }

    #[test]
    fn booleans_bytes_and_links_check_their_type_and_limits() {
        let yes = BooleanDef {
            const_value: Some(true),
            default: None,
        };
        assert!(boolean(&yes, &Ipld::Bool(true), "p").is_ok());
        assert!(boolean(&yes, &Ipld::Bool(false), "p").is_err());
        assert!(boolean(&BooleanDef::default(), &Ipld::Integer(1), "p").is_err());
        let sized = BytesDef {
            min_length: Some(2),
            max_length: Some(3),
        };
        assert!(bytes(&sized, &Ipld::Bytes(vec![0; 2]), "p").is_ok());
        assert!(bytes(&sized, &Ipld::Bytes(vec![0; 4]), "p").is_err());
        assert!(bytes(&sized, &Ipld::Bytes(vec![0; 1]), "p").is_err());
        assert!(bytes(&sized, &Ipld::String("ab".into()), "p").is_err());
        assert!(cid_link(&Ipld::Link(cid_for_raw(b"x")), "p").is_ok());
        assert!(cid_link(&Ipld::String("bafy".into()), "p").is_err());
    }

    #[test]
    fn blobs_are_held_to_accept_and_max_size() {
        let images = BlobDef {
            accept: Some(vec!["image/png".into(), "video/*".into()]),
            max_size: Some(1000),
        };
        assert!(blob(&images, &blob_value("image/png", 1000), "p").is_ok());
        assert!(blob(&images, &blob_value("video/mp4", 1), "p").is_ok());
        assert!(blob(&images, &blob_value("image/jpeg", 1), "p").is_err());
        assert!(blob(&images, &blob_value("videos/mp4", 1), "p").is_err());
        assert!(blob(&images, &blob_value("image/png", 1001), "p").is_err());
        let any = BlobDef {
            accept: Some(vec!["*/*".into()]),
            max_size: None,
        };
        assert!(blob(&any, &blob_value("text/plain", 1 << 40), "p").is_ok());
        let legacy = Ipld::Map(BTreeMap::from([
            ("cid".to_owned(), Ipld::String("bafkreia".into())),
            ("mimeType".to_owned(), Ipld::String("image/png".into())),
        ]));
        assert_eq!(
            blob(&any, &legacy, "p").unwrap_err().reason,
            "should be a blob ref"
        );
        assert!(blob(&any, &Ipld::String("blob".into()), "p").is_err());
    }
}
