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
