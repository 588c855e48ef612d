//! The Merkle Search Tree (MST): the sorted, content-addressed map from `collection/rkey` to record
//! CIDs at the heart of every repository (atproto repository spec, "Merkle Search Tree").
//!
//! - [`key`]: which keys are valid and on which layer each lives;
//! - [`node`]: the stored node format, canonical encoding and strict decoding;
//! - `ops`: the tree algorithms on nodes in memory;
//! - [`tree`]: [`Mst`], reads and writes over a [`crate::repo::BlockStore`];
//! - [`diff`]: what changed between two roots;
//! - [`proof`]: covering proofs and their verification.
//!
//! The same key set always gives the same root, whatever order it was written in.

pub mod diff;
pub mod key;
pub mod node;
mod ops;
pub mod proof;
pub mod tree;

pub use diff::MstDiff;
pub use node::{Entry, Node, NodeLinks};
pub use proof::verify_key_proof;
pub use tree::Mst;

use crate::repo::block_store::StoreError;
use crate::repo::cid::Cid;

/// Why an MST operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MstError {
    /// The key is not a valid `collection/rkey`.
    #[error("invalid MST key {0:?}")]
    InvalidKey(String),
    /// `add` of a key that exists.
    #[error("key already exists: {0}")]
    KeyExists(String),
    /// `update` of a key that does not exist.
    #[error("key not found: {0}")]
    KeyNotFound(String),
    /// A node's bytes are not a valid MST node.
    #[error("malformed MST node: {0}")]
    MalformedNode(String),
    /// The tree's shape contradicts the MST rules.
    #[error("corrupt MST: {0}")]
    Corrupt(String),
    /// A node the operation needs is not in the store.
    #[error("missing MST block {0}")]
    MissingBlock(Cid),
    /// A stored block does not hash to its CID.
    #[error("block {0} does not match its CID")]
    HashMismatch(Cid),
    /// The block store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
