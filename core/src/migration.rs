//! Accounts moving between hosts: loading a repository brought from another host into an account
//! that moved here ([`import_repo`], behind `com.atproto.repo.importRepo` and
//! `pocketpds account import`), and the commit an activated account signs with its new key
//! ([`activate`], behind `com.atproto.server.activateAccount`).
//!
//! An import is verified whole before anything becomes visible, without holding the repository in
//! memory: the CAR is read (bounded by a size limit, every block checked against its CID) into the
//! account's staging in the database ([`ImportStaging`]), a bounded batch at a time; then the
//! repository engine's import verification reads it back from there and checks that the commit is
//! this account's, signed by the key its DID document names now, and that every MST node and record
//! is present and well placed (a tree that loops back or shares a subtree breaks the key order or
//! the layers, so it is refused too). Only then does one transactional batch make the reachable
//! blocks, the record index and the head visible ([`crate::storage::RepoStore::publish_import`]).
//!
//! **Resuming.** Staged blocks outlive a failed attempt when the failure was the transfer's (a cut
//! connection, a killed process): the next attempt — the client sends the whole CAR again — sends
//! only the blocks not staged yet to the database. A CAR that does not verify is dropped from the
//! staging, and so is everything staged once the import is stored or the account is activated.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::io::AsyncRead;

use crate::http::NodeState;
use crate::repo::car::{stage_car, verify_repo, CarError, CarLimits};
use crate::repo::commit::Commit;
use crate::repo::writer::{event_time, Record, RepoHead, WriteError};
use crate::repo::{BlockStore, RepoError};
use crate::storage::events::{self, account_event, EventKind};
use crate::storage::{Announce, ImportStaging, StagedCounts, StagedEntry, StorageError};
use crate::syntax::{Did, Tid};

/// The default of the largest repository CAR an import accepts (`PDS_MAX_IMPORT_BYTES`;
/// `importRepo` answers 413 above it).
pub const MAX_IMPORT_BYTES: u64 = 256 * 1024 * 1024;

/// Records whose blob references are read and staged per batch.
const ENTRY_BATCH: usize = 500;

/// Why an import was refused; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// No account of that DID here.
    #[error("Account not found: {0}")]
    AccountNotFound(String),
    /// The account is active: only an account that is moving here (deactivated) is loaded.
    #[error("Account {0} is active: a repository is imported only into a deactivated account that is moving here")]
    AccountActive(String),
    /// The CAR (or what is staged for the account with it) is over the limit.
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
            RepoError::Store(e) => ImportError::Storage(StorageError::Corrupt(format!(
                "staging the import failed: {e}"
            ))),
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
    /// How many blocks the CAR held.
    pub blocks: u64,
    /// Of those, how many this attempt staged, and how many an earlier attempt had staged.
    pub staged: StagedCounts,
}

/// Called with the staging's counts after each batch of blocks.
pub type ImportProgress = Arc<dyn Fn(StagedCounts) + Send + Sync>;

/// Whether a failed import leaves its staged blocks for the next attempt: a transfer that broke
/// off does; a CAR that does not verify does not.
fn resumable(err: &RepoError) -> bool {
    matches!(err, RepoError::Car(CarError::Io(_) | CarError::Truncated))
}

/// Loads the repository CAR read from `car` (at most `limit` bytes) into the deactivated account
/// `did`, replacing what it held: see the module comment. `progress`, if given, hears of each
/// batch of blocks staged.
pub async fn import_repo<R: AsyncRead + Unpin>(
    state: &NodeState,
    did: &Did,
    car: R,
    limit: u64,
    progress: Option<ImportProgress>,
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
    let mut staging = ImportStaging::new(state.storage.connect().await?, did.as_str());
    if let Some(progress) = progress {
        staging = staging.with_progress(progress);
    }
    let limits = CarLimits {
        max_total_bytes: Some(limit),
        ..CarLimits::default()
    };
    let verified = match stage_car(car, limits, &staging).await {
        Ok(root) => verify_repo(&staging, root, did.as_str(), &key).await,
        Err(err) => Err(err),
    };
    let verified = match verified {
        Ok(verified) => verified,
        Err(err) => {
            if !resumable(&err) {
                staging.discard().await?;
            }
            return Err(err.into());
        }
    };
    if staging.staged_bytes().await? > limit {
        // Earlier attempts staged other blocks than this CAR's, and together they are too many.
        staging.discard().await?;
        return Err(ImportError::TooLarge(limit));
    }
    let rev = Tid::parse(&verified.commit.rev)
        .map_err(|e| ImportError::Invalid(format!("commit rev: {e}")))?;
    staging.clear_entries().await?;
    let mut nodes = Vec::with_capacity(verified.node_cids.len() + 1);
    nodes.push(StagedEntry::Node(verified.commit_cid));
    nodes.extend(verified.node_cids.iter().copied().map(StagedEntry::Node));
    for chunk in nodes.chunks(ENTRY_BATCH * 2) {
        staging.add_entries(chunk).await?;
    }
    drop(nodes);
    for chunk in verified.entries.chunks(ENTRY_BATCH) {
        let cids: Vec<_> = chunk.iter().map(|(_, cid)| *cid).collect();
        let bytes: HashMap<_, _> = staging
            .get_many(&cids)
            .await
            .map_err(|e| ImportError::Storage(StorageError::Corrupt(e.to_string())))?
            .into_iter()
            .collect();
        let mut entries = Vec::with_capacity(chunk.len() * 2);
        for (key, cid) in chunk {
            let (collection, rkey) = key.split_once('/').ok_or_else(|| {
                ImportError::Invalid(format!("record key {key} has no collection"))
            })?;
            let record_bytes = bytes
                .get(cid)
                .ok_or_else(|| ImportError::Invalid(format!("missing block {cid}")))?;
            let record = Record::from_cbor(record_bytes.clone())
                .map_err(|e| ImportError::Invalid(format!("record {key}: {e}")))?;
            for blob in record.blob_cids() {
                entries.push(StagedEntry::BlobRef {
                    collection: collection.to_owned(),
                    rkey: rkey.to_owned(),
                    cid: blob,
                });
            }
            entries.push(StagedEntry::Record {
                collection: collection.to_owned(),
                rkey: rkey.to_owned(),
                cid: *cid,
            });
        }
        staging.add_entries(&entries).await?;
    }
    let head = RepoHead {
        commit: verified.commit_cid,
        data: verified.commit.data,
        rev,
    };
    state
        .repos
        .publish_import(did.as_str(), &head, verified.records)
        .await?;
    let staged = staging.counts();
    log::info!(
        "imported the repository of {did}: commit {}, rev {rev}, {} records; {} blocks staged, {} reused from an earlier attempt",
        verified.commit_cid,
        verified.records,
        staged.stored,
        staged.reused,
    );
    Ok(ImportSummary {
        commit: verified.commit_cid.to_string(),
        rev: rev.to_string(),
        records: verified.records,
        blocks: staged.stored + staged.reused,
        staged,
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
    if did.method() == "web" {
        hosted_here(state, did, &key).await?;
    }
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
    // An import that never finished leaves nothing behind once the account is in use.
    ImportStaging::new(state.storage.connect().await?, did.as_str())
        .discard()
        .await?;
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

/// Checks that the DID document of the did:web account `did` — which its owner edits on their own
/// domain, as no PLC operation can — names this server as its `#atproto_pds` and `key` as its
/// atproto signing key, as `getRecommendedDidCredentials` tells them to.
async fn hosted_here(
    state: &NodeState,
    did: &Did,
    key: &crate::crypto::Keypair,
) -> Result<(), ActivateError> {
    let incompatible = |why: String| ActivateError::IncompatibleDidDoc(format!("{did}: {why}"));
    let document = state
        .identity
        .resolve_did(did)
        .await
        .map_err(|e| incompatible(format!("the DID document could not be read: {e}")))?;
    let ours = state.config.public_url.trim_end_matches('/');
    match document.pds_endpoint() {
        Some(endpoint) if endpoint.trim_end_matches('/') == ours => {}
        Some(endpoint) => {
            return Err(incompatible(format!(
                "the DID document names {endpoint} as its PDS, not {ours}"
            )))
        }
        None => return Err(incompatible("the DID document names no PDS".into())),
    }
    match document.signing_key() {
        Some(signing) if signing == key.public_key() => Ok(()),
        _ => Err(incompatible(format!(
            "the DID document's atproto signing key is not {}",
            key.public_key().to_did_key()
        ))),
    }
}

/// Why an activation failed.
#[derive(Debug, thiserror::Error)]
pub enum ActivateError {
    /// No account of that DID here.
    #[error("Account not found: {0}")]
    AccountNotFound(String),
    /// The account's did:web document does not name this server and the account's key.
    #[error("The DID document does not let this server host the account: {0}")]
    IncompatibleDidDoc(String),
    /// The new commit could not be made.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
