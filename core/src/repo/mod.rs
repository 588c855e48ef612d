//! The repository format: everything a PDS stores and serves about one account's data.
//!
//! This room holds the atproto data model (DAG-CBOR, CIDs, the JSON mapping), the Merkle Search Tree
//! (MST) that maps `collection/rkey` keys to record CIDs, signed v3 commits, and CAR v1 files (export,
//! proofs, import verification). It reads and writes blocks only through the [`BlockStore`] trait, so it
//! knows nothing of the database; [`crate::storage`] implements that trait on libSQL. It calls
//! [`crate::crypto`] for signatures and [`crate::syntax`] for key validation.

pub mod block_store;
pub mod car;
pub mod cbor;
pub mod cid;
pub mod commit;
pub mod error;
pub mod mst;
pub mod writer;

pub use block_store::{BlockStore, MemoryBlockStore};
pub use cid::Cid;
pub use error::RepoError;
