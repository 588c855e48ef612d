//! Identifier syntax: validators and small typed values for the atproto string formats.
//!
//! This room holds one file per format: [`did`], [`handle`], [`nsid`], [`record_key`], [`tid`] (with the
//! process-wide monotonic TID generator), [`at_uri`], [`at_identifier`] (DID or handle), [`datetime`],
//! [`language`], [`cid_string`] and [`uri`]. Each offers an allocation-free `is_valid_*` check and, where a
//! typed value is useful, a newtype whose `parse` is the only way in, so a value of that type is valid by
//! construction. The validators are written by hand from the atproto specifications and are checked
//! against the official interop vectors. This room depends on nothing else in the crate; the repository,
//! identity and XRPC rooms call it to check what they read from the network.

pub mod at_identifier;
pub mod at_uri;
pub mod cid_string;
pub mod datetime;
pub mod did;
pub mod handle;
pub mod language;
pub mod nsid;
pub mod record_key;
pub mod tid;
pub mod uri;

mod error;

pub use at_identifier::{is_valid_at_identifier, AtIdentifier};
pub use at_uri::{is_valid_at_uri, AtUri};
pub use cid_string::{is_valid_cid_string, validate_cid_string};
pub use datetime::{format_datetime, is_valid_datetime, parse_datetime};
pub use did::{is_valid_did, Did};
pub use error::SyntaxError;
pub use handle::{is_disallowed_tld, is_valid_handle, Handle};
pub use language::{is_valid_language, is_well_formed_language, validate_language};
pub use nsid::{is_valid_nsid, Nsid};
pub use record_key::{is_valid_record_key, RecordKey};
pub use tid::{is_valid_tid, Tid};
pub use uri::{is_valid_uri, validate_uri};
