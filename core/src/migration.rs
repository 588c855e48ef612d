//! Accounts moving between hosts: loading a repository brought from another host into an account
//! that moved here ([`import_repo`], behind `com.atproto.repo.importRepo` and
//! `pocketpds account import`), and the commit an activated account signs with its new key
//! ([`activate`], behind `com.atproto.server.activateAccount`).
//!
//! An import is verified whole before anything is stored: the CAR is read (bounded by a size limit,
//! every block checked against its CID) into memory, then the repository engine's import
//! verification checks that the commit is this account's, signed by the key its DID document names
//! now, and that every MST node and record is present and well placed (a tree that loops back or
//! shares a subtree breaks the key order or the layers, so it is refused too). Only then are the
//! reachable blocks, the record index and the head stored, in one transaction.

use bytes::Bytes;
use tokio::io::AsyncRead;

use crate::http::NodeState;
use crate::repo::car::{import_car, CarError, CarLimits};
use crate::repo::cid::Cid;
use crate::repo::commit::Commit;
use crate::repo::writer::{event_time, Record, RepoHead, WriteError};
use crate::repo::{BlockStore, MemoryBlockStore, RepoError};
use crate::storage::events::{self, account_event, EventKind};
use crate::storage::{Announce, ImportedRecord, StorageError};
use crate::syntax::{Did, Tid};

/// The largest repository CAR an import accepts (`importRepo` answers 413 above it).
pub const MAX_IMPORT_BYTES: u64 = 256 * 1024 * 1024;

/// Why an import was refused; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// No account of that DID here.
    #[error("Account not found: {0}")]
    AccountNotFound(String),
    /// The account is active: only an account that is moving here (deactivated) is loaded.
    #[error("Account {0} is active: a repository is imported only into a deactivated account that is moving here")]
    AccountActive(String),
    /// The CAR is over [`MAX_IMPORT_BYTES`] (or the limit given).
    #[error("Repository CAR exceeds the limit of {0} bytes")]
    TooLarge(u64),
    /// The DID document could not be read, or names no signing key.
    #[error("Could not get the signing key of {did}: {message}")]
    Identity {
        /// The account.
        did: String,
        /// What went wrong.
        message: String,
    },
    /// The CAR or the repository in it does not verify.
    #[error("Invalid repository: {0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<RepoError> for ImportError {
    fn from(err: RepoError) -> Self {
        match err {
            RepoError::Car(CarError::TotalTooLarge { max }) => ImportError::TooLarge(max),
            RepoError::Store(e) => ImportError::Invalid(format!("staging failed: {e}")),
            other => ImportError::Invalid(other.to_string()),
        }
    }
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// The imported commit's CID.
    pub commit: String,
    /// Its revision.
    pub rev: String,
    /// How many records the repository holds.
    pub records: u64,
    /// How many blocks were stored (commit, MST nodes, records).
    pub blocks: u64,
}

/// Loads the repository CAR read from `car` (at most `limit` bytes) into the deactivated account
/// `did`, replacing what it held: see the module comment.
pub async fn import_repo<R: AsyncRead + Unpin>(
    state: &NodeState,
    did: &Did,
    car: R,
    limit: u64,
) -> Result<ImportSummary, ImportError> {
    let account = state
        .accounts
        .account_by_did(did.as_str())
        .await?
        .ok_or_else(|| ImportError::AccountNotFound(did.to_string()))?;
    if account.deactivated_at.is_none() {
        return Err(ImportError::AccountActive(did.to_string()));
    }
    let identity = |message: String| ImportError::Identity {
        did: did.to_string(),
        message,
    };
    let document = state
        .identity
        .resolve_did(did)
        .await
        .map_err(|e| identity(e.to_string()))?;
    let key = document
        .signing_key()
        .ok_or_else(|| identity("the DID document names no atproto signing key".into()))?;
    let staged = MemoryBlockStore::new();
    let limits = CarLimits {
        max_total_bytes: Some(limit),
        ..CarLimits::default()
    };
    let verified = import_car(car, limits, &staged, did.as_str(), &key).await?;
    let rev = Tid::parse(&verified.commit.rev)
        .map_err(|e| ImportError::Invalid(format!("commit rev: {e}")))?;
    let mut blocks: Vec<(Cid, Bytes)> =
        Vec::with_capacity(verified.node_cids.len() + verified.entries.len() + 1);
    let mut records = Vec::with_capacity(verified.entries.len());
    let take = |cid: &Cid| {
        staged
            .get_sync(cid)
            .ok_or(ImportError::Invalid(format!("missing block {cid}")))
    };
    blocks.push((verified.commit_cid, take(&verified.commit_cid)?));
    for cid in &verified.node_cids {
        blocks.push((*cid, take(cid)?));
    }
    let mut seen = std::collections::HashSet::new();
    for (key, cid) in &verified.entries {
        let bytes = take(cid)?;
        let (collection, rkey) = key
            .split_once('/')
            .ok_or_else(|| ImportError::Invalid(format!("record key {key} has no collection")))?;
        let record = Record::from_cbor(bytes.clone())
            .map_err(|e| ImportError::Invalid(format!("record {key}: {e}")))?;
        records.push(ImportedRecord {
            collection: collection.to_owned(),
            rkey: rkey.to_owned(),
            cid: *cid,
            blobs: record.blob_cids(),
        });
        if seen.insert(*cid) {
            blocks.push((*cid, bytes));
        }
    }
    drop(staged);
    let head = RepoHead {
        commit: verified.commit_cid,
        data: verified.commit.data,
        rev,
    };
    state
        .repos
        .import(did.as_str(), &head, &blocks, &records)
        .await?;
    log::info!(
        "imported the repository of {did}: commit {}, rev {rev}, {} records, {} blocks",
        verified.commit_cid,
        records.len(),
        blocks.len()
    );
    Ok(ImportSummary {
        commit: verified.commit_cid.to_string(),
        rev: rev.to_string(),
        records: records.len() as u64,
        blocks: blocks.len() as u64,
    })
}

/// Activates the deactivated account `did` (`com.atproto.server.activateAccount`); returns whether
/// it was deactivated. An account that moved here gets a commit of its own first, signed with its
/// key here and announced with `#identity`, `#account` and `#sync` ([`RepoStore::resign`]), so
/// that its repository verifies against its DID document at once; an account without a repository
/// (it imported none) gets an empty one, announced as a new account is. Any other account is
/// announced with `#account` alone.
///
/// [`RepoStore::resign`]: crate::storage::RepoStore::resign
pub async fn activate(state: &NodeState, did: &Did) -> Result<bool, ActivateError> {
    let Some(account) = state.accounts.account_by_did(did.as_str()).await? else {
        return Err(ActivateError::AccountNotFound(did.to_string()));
    };
    if account.deactivated_at.is_none() {
        return Ok(false);
    }
    let key = state
        .accounts
        .signing_key(did.as_str())
        .await?
        .ok_or_else(|| ActivateError::AccountNotFound(did.to_string()))?;
    let handle = Some(account.handle.as_str());
    let announced = match state.repos.head(did.as_str()).await? {
        None => {
            state
                .repos
                .create_repo(did, &key, Announce::NewAccount { handle })
                .await?;
            true
        }
        Some(head) => {
            let bytes = state
                .repos
                .blocks(did.as_str())
                .get(&head.commit)
                .await
                .map_err(|e| ActivateError::Write(e.into()))?
                .ok_or_else(|| {
                    ActivateError::Storage(StorageError::Corrupt(format!(
                        "the head commit {} of {did} is missing",
                        head.commit
                    )))
                })?;
            let signed_here = Commit::decode(&bytes)
                .map(|commit| commit.verify(&key.public_key()).is_ok())
                .unwrap_or(false);
            if signed_here {
                false
            } else {
                state.repos.resign(did, &key, handle).await?;
                true
            }
        }
    };
    let changed = state.accounts.activate(did.as_str()).await?;
    if changed && !announced {
        let time = event_time();
        let payload = account_event(did.as_str(), true, None, &time);
        events::append(
            state.storage.connection(),
            did.as_str(),
            EventKind::Account,
            &time,
            &payload,
        )
        .await?;
    }
    state.sequencer.wake();
    Ok(changed)
}

/// Why an activation failed.
#[derive(Debug, thiserror::Error)]
pub enum ActivateError {
    /// No account of that DID here.
    #[error("Account not found: {0}")]
    AccountNotFound(String),
    /// The new commit could not be made.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
