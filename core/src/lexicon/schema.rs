//! The Lexicon document format, read with serde: a document (`lexicon`, `id`, `defs`) and the type
//! definitions its defs and fields use. Only what validating data needs is kept (limits, formats,
//! refs, required and nullable names, record keys); descriptions and other keys are ignored, and the
//! XRPC primary types (`query`, `procedure`, `subscription`, `permission-set`) are accepted but not
//! interpreted. Structural rules that serde cannot express (where each type may appear, whether refs
//! resolve) are checked by [`super::Catalog`] when it loads the documents.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::key::KeyConstraint;

/// One Lexicon document.
#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    /// The Lexicon language version; only 1 exists.
    pub lexicon: u32,
    /// The document's NSID.
    pub id: String,
    /// Its named definitions; `main` is the one the bare NSID names.
    pub defs: BTreeMap<String, TypeDef>,
}

/// A type definition: a named def of a document, an object property, or array items.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TypeDef {
    /// `true` or `false`.
    Boolean(BooleanDef),
    /// A signed 64-bit integer.
    Integer(IntegerDef),
    /// A UTF-8 string, perhaps with a format and limits.
    String(StringDef),
    /// A byte string.
    Bytes(BytesDef),
    /// A CID link.
    CidLink(Opaque),
    /// A blob reference.
    Blob(BlobDef),
    /// A list of values of one type.
    Array(ArrayDef),
    /// A map with named properties.
    Object(ObjectDef),
    /// Another definition, by reference.
    Ref(RefDef),
    /// One of several object definitions, told apart by `$type`.
    Union(UnionDef),
    /// Any object.
    Unknown(Opaque),
    /// A named constant: only ever a value of `knownValues`, never a field type.
    Token(Opaque),
    /// A repository record type.
    Record(RecordDef),
    /// An XRPC query (not interpreted here).
    Query(Opaque),
    /// An XRPC procedure (not interpreted here).
    Procedure(Opaque),
    /// An XRPC event stream (not interpreted here).
    Subscription(Opaque),
    /// An OAuth permission set (not interpreted here).
    PermissionSet(Opaque),
}

impl TypeDef {
    /// The name of this definition's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            TypeDef::Boolean(_) => "boolean",
            TypeDef::Integer(_) => "integer",
            TypeDef::String(_) => "string",
            TypeDef::Bytes(_) => "bytes",
            TypeDef::CidLink(_) => "cid-link",
            TypeDef::Blob(_) => "blob",
            TypeDef::Array(_) => "array",
            TypeDef::Object(_) => "object",
            TypeDef::Ref(_) => "ref",
            TypeDef::Union(_) => "union",
            TypeDef::Unknown(_) => "unknown",
            TypeDef::Token(_) => "token",
            TypeDef::Record(_) => "record",
            TypeDef::Query(_) => "query",
            TypeDef::Procedure(_) => "procedure",
            TypeDef::Subscription(_) => "subscription",
            TypeDef::PermissionSet(_) => "permission-set",
        }
    }

    /// Whether this is a primary type, which only a document's `main` def may be.
    pub fn is_primary(&self) -> bool {
        matches!(
            self,
            TypeDef::Record(_)
                | TypeDef::Query(_)
                | TypeDef::Procedure(_)
                | TypeDef::Subscription(_)
                | TypeDef::PermissionSet(_)
        )
    }
}

/// A definition whose content is not interpreted (descriptions and the like are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Opaque {}

/// `boolean`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BooleanDef {
    /// The only value allowed.
    #[serde(rename = "const")]
    pub const_value: Option<bool>,
    /// The value an absent field stands for.
    pub default: Option<bool>,
}

/// `integer`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IntegerDef {
    /// The smallest value allowed.
    pub minimum: Option<i64>,
    /// The largest value allowed.
    pub maximum: Option<i64>,
    /// The only values allowed.
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<i64>>,
    /// The only value allowed.
    #[serde(rename = "const")]
    pub const_value: Option<i64>,
    /// The value an absent field stands for.
    pub default: Option<i64>,
}

/// The `format` of a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StringFormat {
    /// A DID or a handle.
    AtIdentifier,
    /// An `at://` URI.
    AtUri,
    /// A CID in string form.
    Cid,
    /// An RFC 3339 / ISO 8601 datetime with a timezone.
    Datetime,
    /// A DID.
    Did,
    /// A handle.
    Handle,
    /// A BCP 47 language tag.
    Language,
    /// An NSID.
    Nsid,
    /// A record key.
    RecordKey,
    /// A TID.
    Tid,
    /// A generic URI.
    Uri,
}

impl StringFormat {
    /// The format's name in Lexicon documents.
    pub fn name(self) -> &'static str {
        match self {
            StringFormat::AtIdentifier => "at-identifier",
            StringFormat::AtUri => "at-uri",
            StringFormat::Cid => "cid",
            StringFormat::Datetime => "datetime",
            StringFormat::Did => "did",
            StringFormat::Handle => "handle",
            StringFormat::Language => "language",
            StringFormat::Nsid => "nsid",
            StringFormat::RecordKey => "record-key",
            StringFormat::Tid => "tid",
            StringFormat::Uri => "uri",
        }
    }
}

/// `string`. Lengths count UTF-8 bytes; graphemes count extended grapheme clusters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StringDef {
    /// A syntax the value must have.
    pub format: Option<StringFormat>,
    /// The fewest UTF-8 bytes.
    pub min_length: Option<usize>,
    /// The most UTF-8 bytes.
    pub max_length: Option<usize>,
    /// The fewest graphemes.
    pub min_graphemes: Option<usize>,
    /// The most graphemes.
    pub max_graphemes: Option<usize>,
    /// Suggested values; others are allowed (an open set, never enforced).
    pub known_values: Option<Vec<String>>,
    /// The only values allowed (a closed set).
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    /// The only value allowed.
    #[serde(rename = "const")]
    pub const_value: Option<String>,
    /// The value an absent field stands for.
    pub default: Option<String>,
}

/// `bytes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BytesDef {
    /// The fewest bytes.
    pub min_length: Option<usize>,
    /// The most bytes.
    pub max_length: Option<usize>,
}

/// `blob`: checked against what the blob reference declares (`mimeType`, `size`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobDef {
    /// Accepted MIME types; `type/*` and `*/*` are wildcards. Absent: any.
    pub accept: Option<Vec<String>>,
    /// The largest size in bytes.
    pub max_size: Option<u64>,
}

/// `array`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArrayDef {
    /// The type of every element.
    pub items: Box<TypeDef>,
    /// The fewest elements.
    pub min_length: Option<usize>,
    /// The most elements.
    pub max_length: Option<usize>,
}

/// `object`. Properties not listed are allowed and not checked.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ObjectDef {
    /// The properties that must be present.
    #[serde(default)]
    pub required: Vec<String>,
    /// The properties that may be `null`.
    #[serde(default)]
    pub nullable: Vec<String>,
    /// The known properties and their types.
    #[serde(default)]
    pub properties: BTreeMap<String, TypeDef>,
}

/// `ref`. Once loaded into a catalog, `target` is absolute: `nsid#name`.
#[derive(Debug, Clone, Deserialize)]
pub struct RefDef {
    /// The referenced definition: `#name` (same document), `nsid` (its `main`) or `nsid#name`.
    #[serde(rename = "ref")]
    pub target: String,
}

/// `union`. Once loaded into a catalog, every ref is absolute: `nsid#name`.
#[derive(Debug, Clone, Deserialize)]
pub struct UnionDef {
    /// The object definitions a value may be, told apart by its `$type`.
    pub refs: Vec<String>,
    /// Closed: a `$type` outside `refs` is refused. Open (the default): it is allowed, unchecked.
    #[serde(default)]
    pub closed: bool,
}

/// `record`.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordDef {
    /// What the records' keys must be.
    pub key: KeyConstraint,
    /// The records' schema; always an `object` once loaded into a catalog.
    pub record: Box<TypeDef>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_parse_with_descriptions_and_unknown_keys_ignored() {
        let doc: Document = serde_json::from_str(
            r##"{"lexicon": 1, "id": "com.example.thing", "description": "x",
                "defs": {"main": {"type": "record", "key": "tid", "description": "y",
                  "record": {"type": "object", "required": ["a"], "properties": {
                    "a": {"type": "string", "format": "did", "maxLength": 5, "knownValues": ["q"]},
                    "b": {"type": "array", "items": {"type": "ref", "ref": "#other"}}}}},
                  "other": {"type": "object", "properties": {}}}}"##,
        )
        .unwrap();
        assert_eq!(doc.id, "com.example.thing");
        let Some(TypeDef::Record(record)) = doc.defs.get("main") else {
            panic!("not a record")
        };
        let TypeDef::Object(object) = record.record.as_ref() else {
            panic!("not an object")
        };
        let Some(TypeDef::String(a)) = object.properties.get("a") else {
            panic!("not a string")
        };
        assert_eq!(a.format, Some(StringFormat::Did));
        assert_eq!(a.max_length, Some(5));
    }

    #[test]
    fn unknown_types_formats_and_bad_numbers_are_refused() {
        for bad in [
            r#"{"type": "float"}"#,
            r#"{"type": "string", "format": "email"}"#,
            r#"{"type": "string", "maxLength": -1}"#,
            r#"{"type": "integer", "minimum": 1.5}"#,
            r#"{"type": "array"}"#,
            r#"{"type": "record", "key": "tid"}"#,
            r#"{"type": "record", "key": "sometimes", "record": {"type": "object"}}"#,
            r#"{"properties": {}}"#,
        ] {
            assert!(serde_json::from_str::<TypeDef>(bad).is_err(), "{bad}");
        }
    }
}
