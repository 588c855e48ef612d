//! [`WriteError`]: why a repository write was refused or failed.

use crate::repo::block_store::StoreError;
use crate::repo::cbor::CborError;
use crate::repo::cid::Cid;
use crate::repo::mst::MstError;
use crate::syntax::SyntaxError;

/// Why a write failed. The first group is the client's doing (XRPC `InvalidRequest` and friends);
/// the rest are the server's.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// `swapCommit` or a `swapRecord` did not match (XRPC error `InvalidSwap`). `path` is `None` for
    /// the commit; `current` is what the repository holds (`None`: no commit, or no record).
    #[error("invalid swap: {} was at {}", path.as_deref().unwrap_or("the repository"), current.map_or_else(|| "nothing".to_owned(), |c| c.to_string()))]
    InvalidSwap {
        /// The record key (`collection/rkey`) whose swap failed, or `None` for the commit.
        path: Option<String>,
        /// The current CID of the commit or record.
        current: Option<Cid>,
    },
    /// A create of a key that holds a record.
    #[error("record already exists: {0}")]
    RecordExists(String),
    /// An update or delete of a key that holds no record.
    #[error("record not found: {0}")]
    RecordNotFound(String),
    /// Two ops of one commit on the same key (a commit's ops must name distinct records, so that a
    /// firehose consumer can invert them).
    #[error("more than one write to {0} in one commit")]
    DuplicatePath(String),
    /// More ops than one commit may hold.
    #[error("too many writes: {count} (at most {max})")]
    TooManyWrites {
        /// How many were asked for.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The commit's firehose blocks would exceed the event size limit.
    #[error("commit too large: {bytes} bytes of blocks (at most {max})")]
    TooLarge {
        /// The size of the event's blocks CAR.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The account has no repository.
    #[error("no repository for {0}")]
    RepoNotFound(String),
    /// The account already has a repository.
    #[error("a repository already exists for {0}")]
    RepoExists(String),
    /// Other writers kept moving the head: the write was rebuilt this many times and gave up.
    #[error("repository head kept moving: gave up after {attempts} attempts")]
    Contention {
        /// How many times the commit was built.
        attempts: u32,
    },
    /// No revision greater than the current one exists.
    #[error("cannot pick the next revision: {0}")]
    Rev(#[from] SyntaxError),
    /// The repository's tree is malformed or incomplete, or a key is not a valid MST key.
    #[error(transparent)]
    Mst(#[from] MstError),
    /// The event could not be encoded.
    #[error("encoding the commit event: {0}")]
    Encode(#[from] CborError),
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database that stores commits cannot be reached now (a replica cut off from its
    /// primary); nothing was stored and the write may be retried later.
    #[error("{0}")]
    Unavailable(String),
}

impl WriteError {
    /// Whether the client caused the failure (a bad swap, an existing or missing record, a batch too
    /// large), as opposed to the server.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            WriteError::InvalidSwap { .. }
                | WriteError::RecordExists(_)
                | WriteError::RecordNotFound(_)
                | WriteError::DuplicatePath(_)
                | WriteError::TooManyWrites { .. }
                | WriteError::TooLarge { .. }
                | WriteError::RepoNotFound(_)
                | WriteError::RepoExists(_)
        ) || matches!(self, WriteError::Mst(MstError::InvalidKey(_)))
    }
}
