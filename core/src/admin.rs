//! Node administration without HTTP: what the daemon's `pocketpds account …` commands and the phone
//! bindings call on a node's state — create an account (the very logic of
//! `com.atproto.server.createAccount`), list accounts, report the node's status, and sync with the
//! primary database (a local node has nothing to sync), and move an account's repository and blobs
//! through a folder (`pocketpds account export|import`).

use crate::http::{NodeState, XrpcError};
use crate::storage::{Account, StorageError};
use crate::xrpc::server::create_account::{create_with_identity, Input};

/// Why an administrative operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request was refused, for the reason `createAccount` would give over HTTP (for example
    /// `HandleNotAvailable`, `InvalidHandle`, `InvalidPassword`, `UpstreamFailure`).
    #[error("{error}: {message}")]
    Refused {
        /// The XRPC error name.
        error: String,
        /// The explanation.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<XrpcError> for AdminError {
    fn from(e: XrpcError) -> Self {
        AdminError::Refused {
            error: e.error,
            message: e.message,
        }
    }
}

/// An account to create.
#[derive(Debug, Clone, Default)]
pub struct NewAccountRequest {
    /// The handle, under one of the service domains (`alice.test` on a localhost node).
    pub handle: String,
    /// The password.
    pub password: String,
    /// The email, if any.
    pub email: Option<String>,
    /// An invite code, when the node requires one.
    pub invite_code: Option<String>,
}

/// One account as administration shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// Its DID.
    pub did: String,
    /// Its handle.
    pub handle: String,
    /// Its email, if any.
    pub email: Option<String>,
    /// `active`, `deactivated` or `takendown`.
    pub status: &'static str,
    /// When it was created, in seconds since the epoch.
    pub created_at: i64,
}

impl From<&Account> for AccountSummary {
    fn from(account: &Account) -> Self {
        AccountSummary {
            did: account.did.clone(),
            handle: account.handle.clone(),
            email: account.email.clone(),
            status: account.status().as_str(),
            created_at: account.created_at,
        }
    }
}

/// The state of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatusReport {
    /// The node's name in the cluster.
    pub node_id: String,
    /// The public origin clients use.
    pub public_url: String,
    /// `local` or `replica`.
    pub storage_mode: &'static str,
    /// The schema version of the database.
    pub schema_version: u32,
    /// How many accounts the node hosts.
    pub accounts: u64,
    /// When the node's state was opened, in microseconds since the epoch.
    pub started_at_micros: i64,
}

/// What a sync with the primary database did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// `local` or `replica`.
    pub storage_mode: &'static str,
    /// Whether there was anything to sync (false for a local node, whose file is the database).
    pub synced: bool,
    /// What happened, for display.
    pub message: String,
}

/// The largest page [`list_accounts`] returns.
pub const MAX_PAGE: u32 = 1000;

/// Creates an account with a new did:plc identity and its empty repository, exactly as
/// `com.atproto.server.createAccount` does (without opening a session).
pub async fn create_account(
    state: &NodeState,
    request: &NewAccountRequest,
) -> Result<AccountSummary, AdminError> {
    let input = Input {
        email: request.email.clone(),
        handle: request.handle.clone(),
        did: None,
        invite_code: request.invite_code.clone(),
        password: Some(request.password.clone()),
        recovery_key: None,
    };
    let account = create_with_identity(state, &input).await?;
    log::info!("created account {} ({})", account.did, account.handle);
    Ok(AccountSummary::from(&account))
}

/// Up to `limit` (at most [`MAX_PAGE`]) accounts whose DID sorts after `after`, in DID order.
pub async fn list_accounts(
    state: &NodeState,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<AccountSummary>, AdminError> {
    let accounts = state
        .accounts
        .list_accounts(after, limit.min(MAX_PAGE))
        .await?;
    Ok(accounts.iter().map(AccountSummary::from).collect())
}

/// Every account, page by page.
pub async fn all_accounts(state: &NodeState) -> Result<Vec<AccountSummary>, AdminError> {
    let mut all: Vec<AccountSummary> = Vec::new();
    loop {
        let after = all.last().map(|a| a.did.clone());
        let page = list_accounts(state, after.as_deref(), MAX_PAGE).await?;
        let done = page.len() < MAX_PAGE as usize;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

/// The node's status.
pub async fn status(state: &NodeState) -> Result<NodeStatusReport, AdminError> {
    Ok(NodeStatusReport {
        node_id: state.config.node_id.clone(),
        public_url: state.config.public_url.clone(),
        storage_mode: state.config.storage_mode(),
        schema_version: crate::storage::schema_version(state.storage.connection()).await?,
        accounts: state.accounts.count_accounts().await?,
        started_at_micros: state.started_at_micros,
    })
}

/// Syncs with the primary database now. A local node's file is the database: nothing to sync.
pub async fn sync_now(state: &NodeState) -> Result<SyncReport, AdminError> {
    let storage_mode = state.config.storage_mode();
    Ok(match state.config.database_url {
        None => SyncReport {
            storage_mode,
            synced: false,
            message: "local database: nothing to sync".into(),
        },
        Some(_) => SyncReport {
            storage_mode,
            synced: false,
            message: "replica storage is not available in this build: nothing was synced".into(),
        },
    })
}

/// How far a long transfer (`pocketpds account import|export`) is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// What is moving: `repository` or `blobs`.
    pub what: &'static str,
    /// How many items are done.
    pub done: u64,
    /// How many there are, when known.
    pub total: Option<u64>,
}

/// The repository CAR in an account folder.
pub const REPO_FILE: &str = "repo.car";
/// The folder of blobs (one file per CID) in an account folder.
pub const BLOBS_DIR: &str = "blobs";
/// The blobs' MIME types in an account folder: `cid<TAB>mime type` per line.
pub const BLOBS_INDEX: &str = "blobs.tsv";

fn io_error(what: &str, path: &std::path::Path, e: std::io::Error) -> AdminError {
    AdminError::Refused {
        error: "IoError".into(),
        message: format!("{what} {}: {e}", path.display()),
    }
}

/// Writes the account `did`'s repository (as `sync.getRepo` serves it) and every blob its records
/// reference into the folder `dir`: [`REPO_FILE`], [`BLOBS_DIR`]`/<cid>` and [`BLOBS_INDEX`].
/// Files are written with blocking calls: this is for the daemon's command line, not for a request
/// handler.
pub async fn export_account(
    state: &NodeState,
    did: &str,
    dir: &std::path::Path,
    progress: &dyn Fn(Progress),
) -> Result<(), AdminError> {
    let head = state
        .repos
        .head(did)
        .await?
        .ok_or_else(|| AdminError::Refused {
            error: "RepoNotFound".into(),
            message: format!("no repository for {did}"),
        })?;
    let blobs_dir = dir.join(BLOBS_DIR);
    std::fs::create_dir_all(&blobs_dir).map_err(|e| io_error("creating", &blobs_dir, e))?;
    let car_path = dir.join(REPO_FILE);
    let (car, blocks) =
        crate::repo::car::export_repo(&state.repos.blocks(did), head.commit, Vec::new())
            .await
            .map_err(|e| AdminError::Refused {
                error: "InvalidRepository".into(),
                message: e.to_string(),
            })?;
    std::fs::write(&car_path, car).map_err(|e| io_error("writing", &car_path, e))?;
    progress(Progress {
        what: "repository",
        done: blocks,
        total: Some(blocks),
    });
    let store = state.blobs.store();
    let mut cids = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_referenced(did, None, after.as_ref(), 1000)
            .await?;
        let Some(last) = page.last().copied() else {
            break;
        };
        cids.extend(page);
        after = Some(last);
    }
    let mut index = String::new();
    let total = cids.len() as u64;
    let mut done = 0;
    for cid in cids {
        let Some(blob) = store.blob(did, &cid).await? else {
            continue; // referenced but never uploaded here
        };
        let path = blobs_dir.join(cid.to_string());
        let mut bytes = Vec::with_capacity(usize::try_from(blob.size).unwrap_or(0));
        for seq in 0..blob.chunk_count() {
            let chunk = store.chunk(&blob, seq).await?.ok_or_else(|| {
                AdminError::Storage(StorageError::Corrupt(format!("blob {cid} lost a chunk")))
            })?;
            bytes.extend_from_slice(&chunk);
        }
        std::fs::write(&path, bytes).map_err(|e| io_error("writing", &path, e))?;
        index.push_str(&format!("{cid}\t{}\n", blob.mime_type));
        done += 1;
        progress(Progress {
            what: "blobs",
            done,
            total: Some(total),
        });
    }
    let index_path = dir.join(BLOBS_INDEX);
    std::fs::write(&index_path, index).map_err(|e| io_error("writing", &index_path, e))?;
    Ok(())
}

/// Loads an account folder written by [`export_account`] into the deactivated account `did`: the
/// repository through the same verification as `com.atproto.repo.importRepo`, then each blob as
/// `uploadBlob` stores it. Files are read with blocking calls, as in [`export_account`].
pub async fn import_account(
    state: &NodeState,
    did: &str,
    dir: &std::path::Path,
    progress: &dyn Fn(Progress),
) -> Result<crate::migration::ImportSummary, AdminError> {
    let did = crate::syntax::Did::parse(did).map_err(|e| AdminError::Refused {
        error: "InvalidRequest".into(),
        message: e.to_string(),
    })?;
    let car_path = dir.join(REPO_FILE);
    let car = std::fs::read(&car_path).map_err(|e| io_error("reading", &car_path, e))?;
    let summary =
        crate::migration::import_repo(state, &did, &car[..], crate::migration::MAX_IMPORT_BYTES)
            .await
            .map_err(XrpcError::from)?;
    progress(Progress {
        what: "repository",
        done: summary.blocks,
        total: Some(summary.blocks),
    });
    let index_path = dir.join(BLOBS_INDEX);
    let index =
        std::fs::read_to_string(&index_path).map_err(|e| io_error("reading", &index_path, e))?;
    let lines: Vec<(&str, &str)> = index
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .collect();
    let total = lines.len() as u64;
    for (done, (cid, mime_type)) in lines.into_iter().enumerate() {
        let cid: crate::repo::Cid = cid.parse().map_err(|_| AdminError::Refused {
            error: "InvalidRequest".into(),
            message: format!("{}: not a CID: {cid}", index_path.display()),
        })?;
        let path = dir.join(BLOBS_DIR).join(cid.to_string());
        let bytes =
            bytes::Bytes::from(std::fs::read(&path).map_err(|e| io_error("reading", &path, e))?);
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..bytes.len())
            .step_by(256 * 1024)
            .map(|at| Ok(bytes.slice(at..bytes.len().min(at + 256 * 1024))))
            .collect();
        let mut stream = futures_util::stream::iter(chunks);
        let stored = state
            .blobs
            .upload(
                state.storage.connect().await?,
                did.as_str(),
                mime_type,
                &mut stream,
            )
            .await
            .map_err(XrpcError::from)?;
        if stored.cid != cid {
            return Err(AdminError::Refused {
                error: "InvalidRequest".into(),
                message: format!("{} does not hash to its name", path.display()),
            });
        }
        progress(Progress {
            what: "blobs",
            done: done as u64 + 1,
            total: Some(total),
        });
    }
    Ok(summary)
}
