//! Validation of data-model values against loaded definitions: the structural types (object, array,
//! ref, union, unknown) here, the primitives in [`super::primitives`] and strings in
//! [`super::string`].
//!
//! Values are [`Ipld`] trees that already passed the data-model checks (no floats, integers within
//! `i64`, nesting at most [`crate::repo::cbor::MAX_DEPTH`], well-formed blobs), so recursion is
//! bounded by the value's depth: every step either descends into the value or follows one ref, and a
//! ref always lands on a concrete type (the catalog refuses named refs and unions). Work is linear in
//! the value's size. The first mismatch is reported, with its path, as the reference validator does.

use ipld_core::ipld::Ipld;

use super::catalog::Catalog;
use super::error::ValidationError;
use super::primitives;
use super::schema::{ArrayDef, ObjectDef, RecordDef, TypeDef, UnionDef};
use super::string;

/// The path of a record's top level in messages.
const ROOT: &str = "Record";

/// The key of an object's type name.
const TYPE_KEY: &str = "$type";

/// A mismatch at `path`.
pub(super) fn fail<T>(path: &str, reason: impl Into<String>) -> Result<T, ValidationError> {
    Err(ValidationError {
        path: path.to_owned(),
        reason: reason.into(),
    })
}

/// Validates values against the definitions of one catalog.
pub(super) struct Validator<'a> {
    catalog: &'a Catalog,
}

impl<'a> Validator<'a> {
    /// A validator resolving refs in `catalog`.
    pub(super) fn new(catalog: &'a Catalog) -> Self {
        Validator { catalog }
    }

    /// Validates a record's value against its record definition.
    pub(super) fn record(&self, def: &RecordDef, value: &Ipld) -> Result<(), ValidationError> {
        let mut path = String::from(ROOT);
        self.value(&def.record, value, &mut path)
    }

    /// Validates `value`, found at `path`, against `def`. `path` is restored before returning `Ok`.
    fn value(&self, def: &TypeDef, value: &Ipld, path: &mut String) -> Result<(), ValidationError> {
        match def {
            TypeDef::Boolean(d) => primitives::boolean(d, value, path),
            TypeDef::Integer(d) => primitives::integer(d, value, path),
            TypeDef::String(d) => string::string(d, value, path),
            TypeDef::Bytes(d) => primitives::bytes(d, value, path),
            TypeDef::CidLink(_) => primitives::cid_link(value, path),
            TypeDef::Blob(d) => primitives::blob(d, value, path),
            TypeDef::Array(d) => self.array(d, value, path),
            TypeDef::Object(d) => self.object(d, value, path),
            TypeDef::Ref(d) => self.named(&d.target, value, path),
            TypeDef::Union(d) => self.union(d, value, path),
            TypeDef::Unknown(_) => unknown(value, path),
            TypeDef::Record(d) => self.value(&d.record, value, path),
            other => fail(
                path,
                format!("has an unexpected lexicon type: {}", other.kind()),
            ),
        }
    }

    /// Validates against the definition named `target` (absolute).
    fn named(&self, target: &str, value: &Ipld, path: &mut String) -> Result<(), ValidationError> {
        match self.catalog.get(target) {
            Some(def) => self.value(def, value, path),
            None => fail(path, format!("refers to an unknown definition {target}")),
        }
    }

    fn object(
        &self,
        def: &ObjectDef,
        value: &Ipld,
        path: &mut String,
    ) -> Result<(), ValidationError> {
        let Ipld::Map(map) = value else {
            return fail(path, "must be an object");
        };
        for (key, property) in &def.properties {
            match map.get(key) {
                None if def.required.contains(key) => {
                    return fail(path, format!("must have the property \"{key}\""));
                }
                None => {}
                Some(Ipld::Null) if def.nullable.contains(key) => {}
                Some(item) => {
                    let len = path.len();
                    path.push('/');
                    path.push_str(key);
                    self.value(property, item, path)?;
                    path.truncate(len);
                }
            }
        }
        Ok(())
    }

    fn array(
        &self,
        def: &ArrayDef,
        value: &Ipld,
        path: &mut String,
    ) -> Result<(), ValidationError> {
        let Ipld::List(items) = value else {
            return fail(path, "must be an array");
        };
        if let Some(max) = def.max_length {
            if items.len() > max {
                return fail(path, format!("must not have more than {max} elements"));
            }
        }
        if let Some(min) = def.min_length {
            if items.len() < min {
                return fail(path, format!("must not have fewer than {min} elements"));
            }
        }
        for (index, item) in items.iter().enumerate() {
            let len = path.len();
            path.push('/');
            path.push_str(&index.to_string());
            self.value(&def.items, item, path)?;
            path.truncate(len);
        }
        Ok(())
    }

    fn union(
        &self,
        def: &UnionDef,
        value: &Ipld,
        path: &mut String,
    ) -> Result<(), ValidationError> {
        let type_name = match value {
            Ipld::Map(map) => match map.get(TYPE_KEY) {
                Some(Ipld::String(t)) => Some(t),
                _ => None,
            },
            _ => None,
        };
        let Some(type_name) = type_name else {
            return fail(
                path,
                "must be an object which includes the \"$type\" property",
            );
        };
        let absolute = if type_name.contains('#') {
            type_name.clone()
        } else {
            format!("{type_name}#main")
        };
        if def.refs.contains(&absolute) {
            return self.named(&absolute, value, path);
        }
        if def.closed {
            return fail(
                path,
                format!("$type must be one of {}", def.refs.join(", ")),
            );
        }
        // An open union lets types it does not know through, unchecked.
        Ok(())
    }
}

/// `unknown`: any object, but not one of the data model's special objects (a blob).
fn unknown(value: &Ipld, path: &str) -> Result<(), ValidationError> {
    match value {
        Ipld::Map(map) if !matches!(map.get(TYPE_KEY), Some(Ipld::String(t)) if t == "blob") => {
            Ok(())
        }
        _ => fail(path, "must be an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::cbor::from_json;
    use serde_json::json;

    const DOC: &str = r##"{"lexicon": 1, "id": "com.example.rec", "defs": {
        "main": {"type": "record", "key": "any", "record": {"type": "object",
            "required": ["must"], "nullable": ["maybe"],
            "properties": {
                "must": {"type": "integer"},
                "maybe": {"type": "string"},
                "open": {"type": "union", "refs": ["#a", "com.example.other"]},
                "closed": {"type": "union", "refs": ["#a"], "closed": true},
                "node": {"type": "ref", "ref": "#node"},
                "list": {"type": "array", "maxLength": 10, "items": {"type": "integer"}},
                "any": {"type": "unknown"}}}},
        "a": {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer"}}},
        "node": {"type": "object", "properties": {"next": {"type": "ref", "ref": "#node"}}}}}"##;
    const OTHER: &str = r#"{"lexicon": 1, "id": "com.example.other", "defs": {
        "main": {"type": "object", "properties": {"y": {"type": "boolean"}}}}}"#;

    fn check(value: serde_json::Value) -> Result<(), ValidationError> {
        let catalog = Catalog::from_json([DOC, OTHER]).unwrap();
        let def = catalog.record("com.example.rec").unwrap();
        Validator::new(&catalog).record(def, &from_json(&value).unwrap())
    }

    fn reason(value: serde_json::Value) -> String {
        check(value).unwrap_err().to_string()
    }

    #[test]
    fn objects_require_and_allow_null_as_declared() {
        assert!(check(json!({"must": 1, "extra": "ignored"})).is_ok());
        assert_eq!(reason(json!({})), "Record must have the property \"must\"");
        assert_eq!(
            reason(json!({"must": null})),
            "Record/must must be an integer"
        );
        assert!(check(json!({"must": 1, "maybe": null})).is_ok());
        assert!(check(json!({"must": 1, "maybe": 2})).is_err());
    }

    #[test]
    fn unions_pick_the_member_by_type() {
        let with = |field: &str, v: serde_json::Value| {
            let mut r = json!({"must": 1});
            r[field] = v;
            r
        };
        assert!(check(with("open", json!({"$type": "com.example.rec#a", "x": 1}))).is_ok());
        assert_eq!(
            reason(with("open", json!({"$type": "com.example.rec#a"}))),
            "Record/open must have the property \"x\""
        );
        // A bare NSID names its main def, and so does an explicit #main.
        assert!(check(with(
            "open",
            json!({"$type": "com.example.other", "y": true})
        ))
        .is_ok());
        assert!(check(with(
            "open",
            json!({"$type": "com.example.other#main", "y": 1})
        ))
        .is_err());
        assert!(check(with(
            "open",
            json!({"$type": "com.example.unknown", "z": 1})
        ))
        .is_ok());
        assert!(check(with("open", json!({"x": 1}))).is_err());
        assert!(check(with("open", json!("com.example.rec#a"))).is_err());
        assert!(check(with(
            "closed",
            json!({"$type": "com.example.rec#a", "x": 1})
        ))
        .is_ok());
        assert_eq!(
            reason(with("closed", json!({"$type": "com.example.unknown"}))),
            "Record/closed $type must be one of com.example.rec#a"
        );
    }

    #[test]
    fn unknown_is_any_object_but_a_blob() {
        let with = |v: serde_json::Value| json!({"must": 1, "any": v});
        assert!(check(with(json!({"whatever": [1, {"a": null}]}))).is_ok());
        for bad in [
            json!(1),
            json!([1]),
            json!("text"),
            json!({"$bytes": "AAEC"}),
            json!({"$link": "bafkreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}),
            json!({"$type": "blob", "mimeType": "a/b", "size": 1,
                   "ref": {"$link": "bafkreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}}),
        ] {
            assert!(check(with(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_recursive_values_and_huge_arrays_are_bounded() {
        // A self-referencing schema follows the value down to the data model's depth limit.
        let mut node = json!({});
        for _ in 0..120 {
            node = json!({"next": node});
        }
        assert!(check(json!({"must": 1, "node": node})).is_ok());
        let mut bad = json!({"next": 5});
        for _ in 0..100 {
            bad = json!({"next": bad});
        }
        let err = check(json!({"must": 1, "node": bad})).unwrap_err();
        assert_eq!(err.path.matches("/next").count(), 101);
        // An array over its limit is refused before any element is looked at.
        let huge = vec![json!("not an integer"); 200_000];
        assert_eq!(
            reason(json!({"must": 1, "list": huge})),
            "Record/list must not have more than 10 elements"
        );
        assert_eq!(
            reason(json!({"must": 1, "list": [1, 2, "3"]})),
            "Record/list/2 must be an integer"
        );
    }
}
