//! The one error type of the identity room: PLC operations and logs, DID documents, resolution and
//! the HTTP exchanges under them.

use crate::repo::cbor::CborError;
use crate::syntax::SyntaxError;

/// Why an identity operation, document, resolution or request failed. Values quoted from the network
/// are shortened (see [`excerpt`]), so hostile input cannot make messages huge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A PLC operation does not have the shape of any operation type: a field is missing, has the
    /// wrong type, or is unknown.
    #[error("malformed PLC operation: {0}")]
    MalformedOperation(String),
    /// A PLC operation is larger, in DAG-CBOR, than directories accept.
    #[error("PLC operation is {size} bytes of DAG-CBOR, more than the {max} allowed")]
    OperationTooLarge {
        /// The encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The content of an operation breaks a rule of the PLC method (key count, duplicate entries,
    /// a key that is not a `did:key`, an endpoint that is not an http(s) URL...).
    #[error("invalid PLC operation: {0}")]
    InvalidOperation(String),
    /// The `sig` field is not a 64-byte signature in unpadded, canonical base64url.
    #[error("malformed operation signature: {0}")]
    MalformedSignature(&'static str),
    /// No rotation key allowed to sign an operation verifies its signature. `index` is the
    /// operation's position in its log (0 for a lone operation).
    #[error("operation {index} is not signed by a rotation key allowed to sign it")]
    InvalidSignature {
        /// Position of the operation in the log.
        index: usize,
    },
    /// The key asked to sign an operation is not one of the rotation keys that may sign it, so the
    /// directory would refuse the operation.
    #[error("key {0} is not one of the rotation keys allowed to sign this operation")]
    NotRotationKey(String),
    /// The genesis operation does not hash to the DID it is filed under.
    #[error("genesis operation hashes to {computed}, not {expected}")]
    GenesisHashMismatch {
        /// The DID the log was given for.
        expected: String,
        /// The DID the genesis operation yields.
        computed: String,
    },
    /// An operation's `prev` does not name the operation before it, a genesis operation has a
    /// `prev`, or a later operation has none.
    #[error("operation {index} does not follow the operation before it")]
    MisorderedOperation {
        /// Position of the operation in the log.
        index: usize,
    },
    /// An operation log without operations.
    #[error("empty operation log")]
    EmptyLog,
    /// The identity is deactivated (its last operation is a tombstone), or a tombstone appears
    /// before the end of a log.
    #[error("the DID is deactivated (tombstoned)")]
    Tombstoned,
    /// A string that is not a `did:plc` identifier (`did:plc:` + 24 base32 characters).
    #[error("not a did:plc identifier: {0:?}")]
    InvalidPlcDid(String),
    /// A value could not be encoded as DAG-CBOR.
    #[error(transparent)]
    Cbor(#[from] CborError),

    /// A DID document that is not a JSON object of the expected shape (or is too large).
    #[error("malformed DID document: {0}")]
    MalformedDocument(String),
    /// A DID document whose `id` is not the DID that was resolved.
    #[error("DID document is for {found:?}, not {expected}")]
    DocumentDidMismatch {
        /// The DID that was resolved.
        expected: String,
        /// The document's `id`.
        found: String,
    },
    /// A DID whose method atproto does not support (only `plc` and `web` are).
    #[error("unsupported DID method {0:?}")]
    UnsupportedDidMethod(String),
    /// A `did:web` atproto cannot resolve: a path, a port or `localhost` outside development mode,
    /// a hostname that is not valid or has a disallowed top-level domain.
    #[error("cannot resolve {did:?}: {reason}")]
    UnsupportedDidWeb {
        /// The DID.
        did: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A handle resolution must refuse: a disallowed top-level domain (`.test` outside development
    /// mode, `.local`, `.invalid`...).
    #[error("handle {handle} cannot be resolved: {reason}")]
    UnresolvableHandle {
        /// The handle.
        handle: String,
        /// Why.
        reason: &'static str,
    },
    /// The DID or handle is unknown to the service that should know it (HTTP 404, no DNS record
    /// and no well-known answer).
    #[error("{0} not found")]
    NotFound(String),
    /// Several DNS TXT records of a handle name different DIDs.
    #[error("handle {0} has DNS TXT records naming different DIDs")]
    AmbiguousHandle(String),
    /// A handle resolves to a DID whose document does not name the handle back.
    #[error("handle {handle} resolves to {did}, whose DID document does not claim it")]
    HandleMismatch {
        /// The handle.
        handle: String,
        /// The DID it resolved to.
        did: String,
    },
    /// A DNS TXT lookup failed (not "no record": a failure of the lookup itself).
    #[error("DNS lookup of {name} failed: {reason}")]
    Dns {
        /// The name queried.
        name: String,
        /// What the resolver reported.
        reason: String,
    },
    /// A value read from the network is not valid atproto syntax.
    #[error(transparent)]
    Syntax(#[from] SyntaxError),

    /// A URL that cannot be used: not http(s), no host, credentials, a query or fragment where none
    /// is allowed.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL (shortened).
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// A plain-http URL outside development mode.
    #[error("plain http is only allowed in development mode: {0}")]
    InsecureUrl(String),
    /// The request did not complete: connection, TLS, timeout, too many redirects.
    #[error("request to {url} failed: {reason}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered with an unexpected HTTP status.
    #[error("{url} answered HTTP {status}: {message}")]
    HttpStatus {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        message: String,
    },
    /// A response body larger than the limit for its kind.
    #[error("response from {url} is larger than {max} bytes")]
    ResponseTooLarge {
        /// The URL requested.
        url: String,
        /// The limit.
        max: usize,
    },
    /// A response that is not the JSON expected.
    #[error("response from {url} is not valid JSON: {reason}")]
    InvalidJson {
        /// The URL requested.
        url: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The PLC directory refused an operation (HTTP 4xx) and said why.
    #[error("PLC directory refused the operation (HTTP {status}): {message}")]
    Rejected {
        /// The status code.
        status: u16,
        /// The directory's message.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client setup failed: {0}")]
    ClientSetup(String),
}

/// The longest excerpt of a network-supplied value kept in an error, in characters.
const EXCERPT_CHARS: usize = 200;

/// `value`, cut to [`EXCERPT_CHARS`] characters (with an ellipsis when cut).
pub(crate) fn excerpt(value: &str) -> String {
    match value.char_indices().nth(EXCERPT_CHARS) {
        None => value.to_owned(),
        Some((cut, _)) => format!("{}…", value.get(..cut).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded_and_cut_on_character_boundaries() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(10_000);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
