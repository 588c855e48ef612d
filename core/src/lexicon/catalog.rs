//! A [`Catalog`]: a set of Lexicon documents loaded, checked and cross-linked, which validates
//! records against them.
//!
//! Loading checks what serde cannot: the version is 1, the id is an NSID, primary types appear only
//! as `main`, a named def is not a `ref`, `union` or `unknown`, fields are not tokens or primary
//! types, a record's schema is an `object`, `required` and `nullable` name declared properties,
//! limits are not inverted, and every reference resolves — a `ref` to a value type, a union member to
//! an object (or record). References are rewritten to the absolute `nsid#name` form on the way, so
//! validation is a map lookup and cannot meet a dangling or circular chain of refs.

use std::collections::HashMap;

use ipld_core::ipld::Ipld;

use super::error::{RecordError, SchemaError};
use super::schema::{Document, ObjectDef, RecordDef, TypeDef};
use super::validate::Validator;
use crate::syntax::{is_valid_nsid, Nsid, RecordKey};

/// The outcome of validating a record that may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationStatus {
    /// A Lexicon for the record's type is known and the record matches it.
    Valid,
    /// No Lexicon for the record's type is known; it was not checked.
    Unknown,
}

impl ValidationStatus {
    /// The `validationStatus` value of the write's response.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationStatus::Valid => "valid",
            ValidationStatus::Unknown => "unknown",
        }
    }
}

/// Loaded Lexicon definitions, by absolute name (`nsid#name`).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    defs: HashMap<String, TypeDef>,
}

impl Catalog {
    /// Parses and loads Lexicon documents given as JSON text.
    pub fn from_json<'a>(
        documents: impl IntoIterator<Item = &'a str>,
    ) -> Result<Catalog, SchemaError> {
        let parsed = documents
            .into_iter()
            .enumerate()
            .map(|(index, text)| {
                serde_json::from_str::<Document>(text).map_err(|e| SchemaError::Parse {
                    index,
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Catalog::new(parsed)
    }

    /// Loads parsed documents, checking each and every reference between them.
    pub fn new(documents: impl IntoIterator<Item = Document>) -> Result<Catalog, SchemaError> {
        let mut defs = HashMap::new();
        let mut ids = std::collections::HashSet::new();
        for doc in documents {
            if doc.lexicon != 1 {
                return Err(SchemaError::Version {
                    id: doc.id,
                    version: doc.lexicon,
                });
            }
            if !is_valid_nsid(&doc.id) {
                return Err(SchemaError::InvalidId(doc.id));
            }
            if !ids.insert(doc.id.clone()) {
                return Err(SchemaError::Duplicate(doc.id));
            }
            for (name, mut def) in doc.defs {
                let full = format!("{}#{name}", doc.id);
                check_named(&full, &name, &mut def, &doc.id)?;
                defs.insert(full, def);
            }
        }
        let catalog = Catalog { defs };
        for (name, def) in &catalog.defs {
            catalog.check_refs(name, def)?;
        }
        Ok(catalog)
    }

    /// The definition with an absolute name (`nsid#name`).
    pub fn get(&self, name: &str) -> Option<&TypeDef> {
        self.defs.get(name)
    }

    /// The record definition of a collection, when the catalog has one.
    pub fn record(&self, collection: &str) -> Option<&RecordDef> {
        match self.defs.get(&format!("{collection}#main")) {
            Some(TypeDef::Record(record)) => Some(record),
            _ => None,
        }
    }

    /// How many definitions are loaded.
    pub fn len(&self) -> usize {
        self.defs.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// Validates a record of `collection` stored under `rkey`: [`ValidationStatus::Unknown`] when
    /// the catalog has no record type of that name, [`ValidationStatus::Valid`] when the key and the
    /// value match it, else the first mismatch.
    pub fn validate_record(
        &self,
        collection: &Nsid,
        rkey: &RecordKey,
        record: &Ipld,
    ) -> Result<ValidationStatus, RecordError> {
        let Some(def) = self.record(collection.as_str()) else {
            return Ok(ValidationStatus::Unknown);
        };
        def.key
            .check(rkey.as_str())
            .map_err(|reason| RecordError::Key {
                collection: collection.to_string(),
                rkey: rkey.to_string(),
                reason,
            })?;
        Validator::new(self)
            .record(def, record)
            .map_err(|source| RecordError::Invalid {
                collection: collection.to_string(),
                source,
            })?;
        Ok(ValidationStatus::Valid)
    }

    /// Checks that every reference inside `def` resolves to a definition of the right kind.
    fn check_refs(&self, name: &str, def: &TypeDef) -> Result<(), SchemaError> {
        let fail = |reason: String| SchemaError::Definition {
            def: name.to_owned(),
            reason,
        };
        match def {
            TypeDef::Ref(r) => match self.defs.get(&r.target) {
                None => Err(fail(format!("ref {} does not resolve", r.target))),
                Some(TypeDef::Token(_)) => Err(fail(format!("ref {} is a token", r.target))),
                Some(t) if t.is_primary() && !matches!(t, TypeDef::Record(_)) => Err(fail(
                    format!("ref {} is a {}, not a value type", r.target, t.kind()),
                )),
                Some(_) => Ok(()),
            },
            TypeDef::Union(u) => {
                for target in &u.refs {
                    match self.defs.get(target) {
                        None => return Err(fail(format!("union ref {target} does not resolve"))),
                        Some(TypeDef::Object(_) | TypeDef::Record(_)) => {}
                        Some(t) => {
                            return Err(fail(format!(
                                "union ref {target} is a {}, not an object",
                                t.kind()
                            )))
                        }
                    }
                }
                Ok(())
            }
            TypeDef::Array(a) => self.check_refs(name, &a.items),
            TypeDef::Object(o) => o
                .properties
                .values()
                .try_for_each(|p| self.check_refs(name, p)),
            TypeDef::Record(r) => self.check_refs(name, &r.record),
            _ => Ok(()),
        }
    }
}

/// Checks a named def of document `id` and makes its references absolute.
fn check_named(full: &str, name: &str, def: &mut TypeDef, id: &str) -> Result<(), SchemaError> {
    let fail = |reason: String| SchemaError::Definition {
        def: full.to_owned(),
        reason,
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(fail("a def name is letters and digits only".into()));
    }
    if def.is_primary() && name != "main" {
        return Err(fail(format!("a {} can only be the main def", def.kind())));
    }
    match def {
        TypeDef::Ref(_) | TypeDef::Union(_) | TypeDef::Unknown(_) => {
            Err(fail(format!("a named def cannot be a {}", def.kind())))
        }
        TypeDef::Record(record) => {
            if !matches!(record.record.as_ref(), TypeDef::Object(_)) {
                return Err(fail("a record's schema must be an object".into()));
            }
            check_field(full, &mut record.record, id)
        }
        TypeDef::Token(_)
        | TypeDef::Query(_)
        | TypeDef::Procedure(_)
        | TypeDef::Subscription(_)
        | TypeDef::PermissionSet(_) => Ok(()),
        _ => check_field(full, def, id),
    }
}

/// Checks a field type (a property, array items, a named value def) and makes its references
/// absolute.
fn check_field(full: &str, def: &mut TypeDef, id: &str) -> Result<(), SchemaError> {
    let fail = |reason: String| SchemaError::Definition {
        def: full.to_owned(),
        reason,
    };
    if def.is_primary() || matches!(def, TypeDef::Token(_)) {
        return Err(fail(format!("a {} cannot be a field type", def.kind())));
    }
    match def {
        TypeDef::Integer(i) => {
            if let (Some(min), Some(max)) = (i.minimum, i.maximum) {
                if min > max {
                    return Err(fail(format!("minimum {min} exceeds maximum {max}")));
                }
            }
        }
        TypeDef::String(s) => {
            ordered(s.min_length, s.max_length).map_err(&fail)?;
            ordered(s.min_graphemes, s.max_graphemes).map_err(&fail)?;
        }
        TypeDef::Bytes(b) => ordered(b.min_length, b.max_length).map_err(&fail)?,
        TypeDef::Array(a) => {
            ordered(a.min_length, a.max_length).map_err(&fail)?;
            check_field(full, &mut a.items, id)?;
        }
        TypeDef::Object(o) => {
            check_object(o).map_err(&fail)?;
            for property in o.properties.values_mut() {
                check_field(full, property, id)?;
            }
        }
        TypeDef::Ref(r) => r.target = absolute(&r.target, id).map_err(&fail)?,
        TypeDef::Union(u) => {
            for target in &mut u.refs {
                *target = absolute(target, id).map_err(&fail)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `required` and `nullable` may only name declared properties.
fn check_object(o: &ObjectDef) -> Result<(), String> {
    for (list, names) in [("required", &o.required), ("nullable", &o.nullable)] {
        if let Some(missing) = names.iter().find(|n| !o.properties.contains_key(*n)) {
            return Err(format!("{list} names {missing:?}, which is not a property"));
        }
    }
    Ok(())
}

/// A lower limit must not exceed the upper one.
fn ordered(min: Option<usize>, max: Option<usize>) -> Result<(), String> {
    match (min, max) {
        (Some(min), Some(max)) if min > max => Err(format!("minimum {min} exceeds maximum {max}")),
        _ => Ok(()),
    }
}

/// A reference made absolute: `#name` is in document `id`, a bare NSID means its `main`.
fn absolute(reference: &str, id: &str) -> Result<String, String> {
    let (nsid, name) = match reference.split_once('#') {
        Some(("", name)) => (id, name),
        Some((nsid, name)) => (nsid, name),
        None => (reference, "main"),
    };
    if !is_valid_nsid(nsid) || name.is_empty() || name.contains('#') {
        return Err(format!("{reference:?} is not a valid reference"));
    }
    Ok(format!("{nsid}#{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(docs: &[&str]) -> Result<Catalog, SchemaError> {
        Catalog::from_json(docs.iter().copied())
    }

    const THING: &str = r##"{"lexicon": 1, "id": "com.example.thing", "defs": {
        "main": {"type": "record", "key": "tid", "record": {"type": "object",
            "properties": {"a": {"type": "ref", "ref": "#part"}, "b": {"type": "ref", "ref": "com.example.other"},
                           "c": {"type": "union", "refs": ["com.example.other#main", "#part"]}}}},
        "part": {"type": "object", "properties": {}}}}"##;
    const OTHER: &str = r##"{"lexicon": 1, "id": "com.example.other", "defs": {
        "main": {"type": "object", "properties": {}}, "tok": {"type": "token"}}}"##;

    #[test]
    fn references_are_made_absolute_and_resolved() {
        let catalog = load(&[THING, OTHER]).unwrap();
        let record = catalog.record("com.example.thing").unwrap();
        let TypeDef::Object(o) = record.record.as_ref() else {
            panic!("not an object")
        };
        let refs: Vec<String> = ["a", "b"]
            .iter()
            .map(|p| match o.properties.get(*p) {
                Some(TypeDef::Ref(r)) => r.target.clone(),
                _ => panic!("not a ref"),
            })
            .collect();
        assert_eq!(refs, ["com.example.thing#part", "com.example.other#main"]);
        assert!(catalog.record("com.example.other").is_none());
        assert_eq!(catalog.len(), 4);
    }

    #[test]
    fn dangling_or_misplaced_definitions_are_refused() {
        // A ref that resolves nowhere (the other document is missing).
        assert!(matches!(
            load(&[THING]),
            Err(SchemaError::Definition { .. })
        ));
        let doc =
            |defs: &str| format!(r#"{{"lexicon": 1, "id": "com.example.x", "defs": {defs}}}"#);
        for defs in [
            r#"{"demo": {"type": "record", "key": "any", "record": {"type": "object"}}}"#,
            r#"{"main": {"type": "record", "key": "any", "record": {"type": "string"}}}"#,
            r#"{"demo": {"type": "unknown"}}"#,
            r#"{"demo": {"type": "ref", "ref": "com.example.x#other"}, "other": {"type": "integer"}}"#,
            r#"{"demo": {"type": "object", "required": ["nope"], "properties": {}}}"#,
            r#"{"demo": {"type": "object", "properties": {"t": {"type": "token"}}}}"#,
            r##"{"demo": {"type": "array", "items": {"type": "ref", "ref": "#tok"}}, "tok": {"type": "token"}}"##,
            r##"{"demo": {"type": "object", "properties": {"u": {"type": "union", "refs": ["#n"]}}}, "n": {"type": "integer"}}"##,
            r##"{"demo": {"type": "object", "properties": {"r": {"type": "ref", "ref": "#"}}}}"##,
            r#"{"demo": {"type": "object", "properties": {"r": {"type": "ref", "ref": "lex:com.example.x"}}}}"#,
            r#"{"demo": {"type": "string", "minLength": 5, "maxLength": 4}}"#,
            r#"{"demo": {"type": "integer", "minimum": 5, "maximum": 4}}"#,
            r#"{"": {"type": "integer"}}"#,
        ] {
            assert!(load(&[&doc(defs)]).is_err(), "{defs}");
        }
        for bad in [
            r#"{"lexicon": 2, "id": "com.example.x", "defs": {}}"#,
            r#"{"lexicon": 1, "id": "nope", "defs": {}}"#,
            r#"{"lexicon": 1, "id": "com.example.x"}"#,
            "not json",
        ] {
            assert!(load(&[bad]).is_err(), "{bad}");
        }
        assert!(matches!(
            load(&[OTHER, OTHER]),
            Err(SchemaError::Duplicate(_))
        ));
    }

    #[test]
    fn xrpc_definitions_load_without_being_interpreted() {
        let catalog = load(&[
            r#"{"lexicon": 1, "id": "com.example.q", "defs": {"main": {"type": "query",
                "parameters": {"type": "params", "properties": {}}}}}"#,
        ])
        .unwrap();
        assert!(catalog.record("com.example.q").is_none());
    }

    #[test]
    fn unknown_collections_are_reported_as_unknown() {
        let catalog = load(&[THING, OTHER]).unwrap();
        let status = catalog
            .validate_record(
                &Nsid::parse("com.example.nothing").unwrap(),
                &RecordKey::parse("x").unwrap(),
                &Ipld::Map(Default::default()),
            )
            .unwrap();
        assert_eq!(status, ValidationStatus::Unknown);
        assert_eq!(ValidationStatus::Valid.as_str(), "valid");
    }
}
