//! [`BlobError`]: why an upload or a record's blob reference was refused, or failed.

use crate::repo::cid::Cid;
use crate::storage::StorageError;

/// Why an upload or a record's blob reference was refused (the client's doing) or failed (the
/// server's: [`BlobError::Storage`]).
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The upload declares no `Content-Type`, or one that is not a media type.
    #[error("Request encoding (Content-Type) required but not provided")]
    MissingContentType,
    /// The upload is compressed (`Content-Encoding` other than `identity`).
    #[error("unsupported content-encoding")]
    UnsupportedEncoding,
    /// The upload declares neither a length nor chunked transfer: there is no body.
    #[error("A request body is expected but none was provided")]
    MissingBody,
    /// The `Content-Length` header is not a number.
    #[error("invalid content-length")]
    InvalidContentLength,
    /// The upload is larger than the configured limit.
    #[error("request entity too large")]
    TooLarge,
    /// The body could not be read to its end (the client went away, or broke the framing).
    #[error("reading the request body failed: {0}")]
    Body(String),
    /// The content is not what the declared type claims (see `mime`).
    #[error("Content does not match its declared type {declared}{}", detected.as_deref().map(|d| format!(" (it is {d})")).unwrap_or_default())]
    ContentMismatch {
        /// The declared type.
        declared: String,
        /// What the content was recognised as, if anything.
        detected: Option<String>,
    },
    /// The upload took so long that it was collected as abandoned.
    #[error("The upload took too long and was discarded")]
    Expired,
    /// A record references a blob the account does not hold.
    #[error("Could not find blob: {0}")]
    NotFound(Cid),
    /// A record gives a temporary blob another MIME type than the one it was stored with.
    #[error("Referenced Mimetype does not match stored blob. Expected: {expected}, Got: {got}")]
    MimeMismatch {
        /// The stored type.
        expected: String,
        /// The record's.
        got: String,
    },
    /// A record gives a temporary blob another size than its own.
    #[error("Referenced Size does not match stored blob. Expected: {expected}, Got: {got}")]
    SizeMismatch {
        /// The stored size.
        expected: u64,
        /// The record's.
        got: u64,
    },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
