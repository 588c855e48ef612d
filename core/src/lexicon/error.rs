//! The errors of the Lexicon room: a value that breaks a schema ([`ValidationError`], with the path
//! to it), a record refused on write ([`RecordError`], which the XRPC layer turns into 400
//! `InvalidRequest`), and a Lexicon document that cannot be loaded ([`SchemaError`]).

/// A value that does not match its schema: where, and why. Displays as the reference validator's
/// messages do, `Record/embed/images/0/alt must be a string`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} {reason}")]
pub struct ValidationError {
    /// The value's path: `Record` then `/`-separated keys and indexes.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why a record may not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record does not match its Lexicon.
    #[error("Invalid {collection} record: {source}")]
    Invalid {
        /// The record's collection (its `$type`).
        collection: String,
        /// The first mismatch found.
        source: ValidationError,
    },
    /// The record key is not one the record type allows.
    #[error("Invalid record key for {collection}: {rkey:?} {reason}")]
    Key {
        /// The record's collection.
        collection: String,
        /// The refused key.
        rkey: String,
        /// What the key must be.
        reason: String,
    },
    /// Validation was required (`validate: true`) but no Lexicon for the type is known.
    #[error("Unknown lexicon type: {0}")]
    UnknownType(String),
    /// The built-in Lexicons could not be loaded: a defect of this build, not of the request.
    #[error("the built-in Lexicons failed to load: {0}")]
    Unavailable(SchemaError),
}

/// Why Lexicon documents could not be loaded into a catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A document is not valid JSON, or not of the Lexicon shape.
    #[error("lexicon document {index} does not parse: {reason}")]
    Parse {
        /// The document's position in the input.
        index: usize,
        /// The parser's explanation.
        reason: String,
    },
    /// A Lexicon version other than 1.
    #[error("lexicon {id}: version {version} is not supported (only 1 is)")]
    Version {
        /// The document's id.
        id: String,
        /// Its declared version.
        version: u32,
    },
    /// A document id that is not an NSID.
    #[error("lexicon id {0:?} is not a valid NSID")]
    InvalidId(String),
    /// Two documents with the same id.
    #[error("lexicon {0} is defined twice")]
    Duplicate(String),
    /// A definition placed or shaped against the Lexicon rules.
    #[error("{def}: {reason}")]
    Definition {
        /// The definition, `nsid#name`.
        def: String,
        /// What is wrong.
        reason: String,
    },
}
