//! Identity: DIDs, handles and the did:plc method, as a PDS needs them to create and serve accounts.
//!
//! - [`plc`]: did:plc operations — data model, JSON form, DAG-CBOR, signatures, CIDs, DID derivation.
//! - [`plc_builder`]: the operations of an account — genesis, updates (handle, PDS, keys), tombstone.
//! - [`plc_log`]: verification of an operation log with no trust in the directory.
//! - [`plc_client`]: a PLC directory over HTTP (`PDS_DID_PLC_URL`): submit, resolve, logs.
//! - [`did_doc`]: DID documents — the handle, signing key and PDS endpoint atproto reads from them.
//! - [`handle`]: handle → DID (HTTPS well-known; DNS TXT through a resolver the node supplies).
//! - [`handle_cache`]: a bounded cache of handle answers (positive and negative).
//! - [`resolver`]: DID → document (did:plc, did:web), and the bidirectional handle check.
//! - [`http`]: the bounded HTTP client under all of them (rustls, timeouts, size limits, and the
//!   public-address rules of [`crate::net`] for URLs the node did not choose).
//!
//! This room calls [`crate::crypto`] (keys, `did:key`, signatures), [`crate::repo::cbor`] and
//! [`crate::repo::cid`] (encoding and hashing operations), [`crate::net`] (outbound-address rules)
//! and [`crate::syntax`] (DIDs, handles). It reads no environment: the PLC URL and development
//! mode come in as parameters. The account and XRPC code of the node call it.

pub mod did_doc;
mod error;
pub mod handle;
pub mod handle_cache;
pub mod http;
pub mod plc;
pub mod plc_builder;
pub mod plc_client;
mod plc_json;
pub mod plc_log;
pub mod resolver;

pub use did_doc::{DidDocument, Service, VerificationMethod, MAX_DID_DOCUMENT_BYTES};
pub use error::IdentityError;
pub use handle::DnsTxtResolver;
pub use handle_cache::{HandleCache, HandleCacheConfig};
pub use http::{BoxFuture, HttpClient, HttpConfig, HttpFetch, HttpResponse};
pub use plc::{is_valid_plc_did, PlcData, PlcService, SignedOperation, UnsignedOperation};
pub use plc_builder::{
    create_genesis, create_operation, create_tombstone, create_update, AtprotoPlcParams, PlcUpdate,
};
pub use plc_client::{PlcAuditEntry, PlcClient};
pub use plc_log::verify_operation_log;
pub use resolver::{IdentityResolver, VerifiedIdentity};
