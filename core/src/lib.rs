//! PocketPDS core: an AT Protocol Personal Data Server as a library.
//!
//! The same crate runs inside a phone app (through the `pocketpds-ffi` bindings), as the `pocketpds`
//! daemon on a laptop or a Raspberry Pi, and in tests. It holds no FFI types. Rooms:
//! - [`syntax`]: validators for the atproto identifier formats (DID, handle, NSID, record key, TID, AT-URI,
//!   datetime, language tag) and the TID generator.
//! - [`crypto`]: k256 / p256 keys, `did:key`, low-S signatures.
//! - [`repo`]: the repository format: DAG-CBOR data model, CIDs, the Merkle Search Tree, signed commits,
//!   CAR files and proofs, over a [`repo::BlockStore`].
//! - [`identity`]: did:plc operations and the PLC directory client, DID documents, did:web and handle
//!   resolution.
//! - [`storage`]: libSQL-backed storage.
#![warn(missing_docs)]

pub mod crypto;
pub mod identity;
pub mod repo;
pub mod storage;
pub mod syntax;
