//! The atproto data model on DAG-CBOR: strict decoding, canonical encoding, and the JSON mapping.
//!
//! Values are [`Ipld`] trees. [`decode`] reads one DAG-CBOR block under the atproto rules (definite
//! lengths, minimal integer and length headers, text map keys in canonical order without duplicates,
//! valid UTF-8, only tag 42 for CIDs, no floats, integers within `i64`, bounded nesting) and [`validate`]
//! checks the same rules without building values. [`encode`] writes the canonical form, and the small
//! writers in [`writer`] let the MST and commit code hand-encode fixed structures byte for byte.
//! [`from_json`] / [`to_json`] map the atproto JSON conventions (`$link`, `$bytes`, blobs) onto the
//! data model, and [`record_from_json`] turns a JSON record into its CID and canonical bytes.
//! [`find_blobs`] lists the blobs a value references.
//!
//! This room calls only [`crate::repo::cid`]; the MST, commit, CAR and XRPC code call it.

mod blob_refs;
mod decode;
mod encode;
mod json;
mod model;
#[cfg(test)]
mod properties;
mod reader;
pub mod writer;

pub use blob_refs::{find_blobs, BlobRef, FoundBlob};
pub use decode::{decode, validate};
pub use encode::{canonical_key_cmp, encode, encode_to};
pub use ipld_core::ipld::Ipld;
pub use json::{from_json, record_from_json, to_json};
pub use model::validate_record_value;

/// How many maps and lists may nest inside one another, in CBOR and in JSON. The outermost map or list
/// counts as one; a value nested deeper is refused rather than risking the stack.
pub const MAX_DEPTH: usize = 128;

/// Why DAG-CBOR bytes were refused by [`decode`] / [`validate`], or a value by [`encode`].
/// Offsets count bytes from the start of the input and point at the offending item's first byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CborError {
    /// The input ends inside an item (or is empty).
    #[error("unexpected end of input at offset {offset}")]
    UnexpectedEnd {
        /// Where more input was needed.
        offset: usize,
    },
    /// A byte string, text string, list or map declares more content than the input could hold.
    #[error("declared length {declared} at offset {offset} exceeds the remaining input")]
    LengthExceedsInput {
        /// The header's offset.
        offset: usize,
        /// The declared number of bytes, items or entries.
        declared: u64,
    },
    /// Bytes follow the single top-level item.
    #[error("trailing bytes after the item, at offset {offset}")]
    TrailingBytes {
        /// Where the extra bytes start.
        offset: usize,
    },
    /// An indefinite-length string, list or map, or a stray "break" byte.
    #[error("indefinite length or break at offset {offset}")]
    IndefiniteLength {
        /// The header's offset.
        offset: usize,
    },
    /// An integer, length or tag written with more bytes than needed.
    #[error("non-minimal integer or length encoding at offset {offset}")]
    NonMinimal {
        /// The header's offset.
        offset: usize,
    },
    /// Additional information 28–30, which CBOR reserves.
    #[error("reserved header value at offset {offset}")]
    Reserved {
        /// The header's offset.
        offset: usize,
    },
    /// A floating-point number: atproto forbids them.
    #[error("floating-point number at offset {offset}: the atproto data model has no floats")]
    Float {
        /// The header's offset.
        offset: usize,
    },
    /// A simple value other than false, true and null (undefined included).
    #[error("unsupported simple value {value} at offset {offset}")]
    UnsupportedSimple {
        /// The header's offset.
        offset: usize,
        /// The simple value's number.
        value: u8,
    },
    /// An integer outside the signed 64-bit range.
    #[error("integer out of the signed 64-bit range at offset {offset}")]
    IntegerOutOfRange {
        /// The header's offset.
        offset: usize,
    },
    /// A text string (or map key) that is not valid UTF-8.
    #[error("invalid UTF-8 in text string at offset {offset}")]
    InvalidUtf8 {
        /// The string's offset.
        offset: usize,
    },
    /// A map key that is not a text string.
    #[error("map key at offset {offset} is not a text string")]
    NonTextKey {
        /// The key's offset.
        offset: usize,
    },
    /// A map key that does not follow the previous one in canonical order (shorter first, then bytewise).
    #[error("map key at offset {offset} is out of canonical order")]
    UnsortedKeys {
        /// The key's offset.
        offset: usize,
    },
    /// A map key equal to the previous one.
    #[error("duplicate map key at offset {offset}")]
    DuplicateKey {
        /// The key's offset.
        offset: usize,
    },
    /// A tag other than 42.
    #[error("unsupported tag {tag} at offset {offset}")]
    UnsupportedTag {
        /// The tag's offset.
        offset: usize,
        /// The tag number.
        tag: u64,
    },
    /// Tag 42 whose content is not a byte string holding 0x00 and an acceptable CID.
    #[error("invalid CID link at offset {offset}: {reason}")]
    InvalidLink {
        /// The tag's offset.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// Maps and lists nested deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {max} at offset {offset}")]
    TooDeep {
        /// Where the list or map that went too deep starts (0 when encoding).
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// [`encode`] was given a float, which atproto forbids.
    #[error("cannot encode a float: the atproto data model has no floats")]
    FloatValue,
    /// [`encode`] was given an integer outside the signed 64-bit range.
    #[error("cannot encode integer {0}: outside the signed 64-bit range")]
    IntegerValueOutOfRange(i128),
    /// [`encode`] was given a link atproto does not allow (not v1, dag-cbor/raw, sha2-256).
    #[error("cannot encode link: {0}")]
    LinkValue(String),
}

/// Why a value does not fit the atproto data model (from JSON, or as a record).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataModelError {
    /// The same error, at a path of keys and indexes inside the value (`/rcrd/a`, `/list/0`).
    #[error("at {path}: {source}")]
    At {
        /// JSON-pointer-like path to the offending value.
        path: String,
        /// What was wrong there.
        source: Box<DataModelError>,
    },
    /// A record must be an object (a map).
    #[error("a record must be an object")]
    NotAnObject,
    /// A non-integral number: atproto has no floats.
    #[error("floating-point number {0}: the atproto data model has no floats")]
    Float(String),
    /// An integer outside the signed 64-bit range.
    #[error("integer {0} is outside the signed 64-bit range")]
    IntegerOutOfRange(String),
    /// A `$link` object that is malformed, or whose CID is not acceptable.
    #[error("invalid $link: {0}")]
    InvalidLink(String),
    /// A `$bytes` object that is malformed, or whose base64 is invalid.
    #[error("invalid $bytes: {0}")]
    InvalidBytes(String),
    /// A `$type` field that is not a non-empty string.
    #[error("$type must be a non-empty string")]
    InvalidType,
    /// A map with `$type: "blob"` lacking or mistyping `ref`, `mimeType` or `size`.
    #[error("invalid blob: {0}")]
    InvalidBlob(String),
    /// A map key (`$link`, `$bytes`) that the JSON representation reserves for links and bytes.
    #[error("map key {0} is reserved by the JSON representation")]
    ReservedKey(String),
    /// Objects and arrays nested deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    /// The value could not be encoded as DAG-CBOR.
    #[error(transparent)]
    Cbor(#[from] CborError),
}

impl DataModelError {
    /// The same error, located one step further out: `segment` is the key or index that leads to it.
    pub(crate) fn within(self, segment: &str) -> Self {
        // JSON Pointer escaping, so a key holding `/` cannot forge a path.
        let segment = segment.replace('~', "~0").replace('/', "~1");
        match self {
            DataModelError::At { path, source } => DataModelError::At {
                path: format!("/{segment}{path}"),
                source,
            },
            other => DataModelError::At {
                path: format!("/{segment}"),
                source: Box::new(other),
            },
        }
    }

    /// The error without its location.
    pub fn kind(&self) -> &DataModelError {
        match self {
            DataModelError::At { source, .. } => source.kind(),
            other => other,
        }
    }
}
