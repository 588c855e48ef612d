//! The repository layer's error: one enum that the rooms of [`crate::repo`] convert into, and that
//! the HTTP layer maps to XRPC errors once.

use super::block_store::StoreError;
use super::car::CarError;
use super::cbor::CborError;
use super::cid::Cid;
use super::commit::CommitError;
use super::mst::MstError;

/// A failure of a repository operation (export, import verification, proofs).
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// Reading or writing a CAR failed.
    #[error(transparent)]
    Car(#[from] CarError),
    /// The MST is malformed or incomplete.
    #[error(transparent)]
    Mst(#[from] MstError),
    /// The commit is malformed or its signature is wrong.
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// A record block is not valid DAG-CBOR.
    #[error("record {cid}: {source}")]
    Record {
        /// The record's CID.
        cid: Cid,
        /// What is wrong with it.
        source: CborError,
    },
    /// The block store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A block the repository refers to is absent.
    #[error("missing block {0}")]
    MissingBlock(Cid),
    /// The repository is not the one expected (other DID, no root, ...).
    #[error("invalid repository: {0}")]
    Invalid(String),
}
