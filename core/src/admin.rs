//! Node administration without HTTP: what the daemon's `pocketpds account …` commands and the phone
//! bindings call on a node's state — create an account (the very logic of
//! `com.atproto.server.createAccount`), list accounts, report the node's status, and sync with the
//! primary database (a local node has nothing to sync).

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
    /// `local`, `replica` or `remote`.
    pub storage_mode: &'static str,
    /// The schema version of the database.
    pub schema_version: u32,
    /// How many accounts the node hosts.
    pub accounts: u64,
    /// When the node's state was opened, in microseconds since the epoch.
    pub started_at_micros: i64,
    /// The primary, whether it is reachable, the replication position and the lag.
    pub replication: crate::storage::ReplicationStatus,
    /// The nodes of the cluster, as the registry holds them (most recently seen first).
    pub nodes: Vec<crate::storage::cluster::NodeRecord>,
}

/// What a sync with the primary database did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// `local`, `replica` or `remote`.
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

/// The node's status. Reads the local replica only: it answers while the primary is away.
pub async fn status(state: &NodeState) -> Result<NodeStatusReport, AdminError> {
    let conn = state.storage.connection();
    Ok(NodeStatusReport {
        node_id: state.config.node_id.clone(),
        public_url: state.config.public_url.clone(),
        storage_mode: state.config.storage_mode(),
        schema_version: crate::storage::schema_version(conn).await?,
        accounts: state.accounts.count_accounts().await?,
        started_at_micros: state.started_at_micros,
        replication: state.storage.replication().status(),
        nodes: crate::storage::cluster::list_nodes(conn).await?,
    })
}

/// Syncs with the primary database now (under the network time limit). A local node's file is
/// the database: nothing to sync.
pub async fn sync_now(state: &NodeState) -> Result<SyncReport, AdminError> {
    let storage_mode = state.config.storage_mode();
    let replication = state.storage.replication();
    Ok(match replication.mode() {
        crate::storage::StorageMode::Local => SyncReport {
            storage_mode,
            synced: false,
            message: "local database: nothing to sync".into(),
        },
        crate::storage::StorageMode::Remote => SyncReport {
            storage_mode,
            synced: false,
            message: "remote database: every read goes to the primary, nothing to sync".into(),
        },
        crate::storage::StorageMode::Replica => {
            let position = replication.sync().await?;
            state.sequencer.event_signal().notify();
            SyncReport {
                storage_mode,
                synced: true,
                message: match position {
                    Some(frame) => format!("caught up with the primary at frame {frame}"),
                    None => "caught up with the primary (empty database)".into(),
                },
            }
        }
    })
}

/// Tells the node whether its app is in the background: periodic syncs stop while it is (no
/// timer wakes the device), and resume — with a sync at once — when it comes back.
pub fn set_background(state: &NodeState, background: bool) {
    state.storage.replication().set_paused(background);
}
