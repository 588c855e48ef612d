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

// ---- Administration of accounts, invite codes and takedowns (`com.atproto.admin.*` and the shell).

impl From<AdminError> for XrpcError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Refused { error, message } => {
                XrpcError::new(axum::http::StatusCode::BAD_REQUEST, error, message)
            }
            AdminError::Storage(e) => XrpcError::internal(e),
        }
    }
}

impl From<crate::auth::AuthError> for AdminError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Storage(e) => AdminError::Storage(e),
            other => AdminError::Refused {
                error: other.xrpc_name().to_owned(),
                message: other.xrpc_message(),
            },
        }
    }
}

impl From<crate::storage::AccountsError> for AdminError {
    fn from(e: crate::storage::AccountsError) -> Self {
        AdminError::from(crate::auth::AuthError::from(e))
    }
}

fn refused(error: &str, message: impl Into<String>) -> AdminError {
    AdminError::Refused {
        error: error.to_owned(),
        message: message.into(),
    }
}

fn not_found() -> AdminError {
    refused("InvalidRequest", "Account not found")
}

fn datetime(secs: i64) -> String {
    crate::syntax::format_datetime(secs.saturating_mul(1_000_000)).unwrap_or_default()
}

/// The account named by `did`, or `InvalidRequest` "Account not found".
pub async fn require_account(state: &NodeState, did: &str) -> Result<Account, AdminError> {
    state
        .accounts
        .account_by_did(did)
        .await?
        .ok_or_else(not_found)
}

/// An invite code as `com.atproto.server.defs#inviteCode` shows it, with its uses.
pub async fn invite_code_view(
    state: &NodeState,
    code: &crate::storage::InviteCode,
) -> Result<serde_json::Value, AdminError> {
    let uses = state.accounts.invite_code_uses(&code.code).await?;
    Ok(serde_json::json!({
        "code": code.code,
        "available": code.available,
        "disabled": code.disabled,
        "forAccount": code.for_account,
        "createdBy": code.created_by,
        "createdAt": datetime(code.created_at),
        "uses": uses.iter().map(|u| serde_json::json!({
            "usedBy": u.used_by,
            "usedAt": datetime(u.used_at),
        })).collect::<Vec<_>>(),
    }))
}

/// An account as `com.atproto.admin.defs#accountView` shows it.
pub async fn account_view(
    state: &NodeState,
    account: &Account,
) -> Result<serde_json::Value, AdminError> {
    let mut view = serde_json::json!({
        "did": account.did,
        "handle": account.handle,
        "indexedAt": datetime(account.created_at),
        "invitesDisabled": account.invites_disabled,
    });
    let fields = view.as_object_mut().ok_or_else(not_found)?;
    if let Some(email) = &account.email {
        fields.insert("email".into(), email.clone().into());
    }
    if let Some(at) = account.email_confirmed_at {
        fields.insert("emailConfirmedAt".into(), datetime(at).into());
    }
    if let Some(at) = account.deactivated_at {
        fields.insert("deactivatedAt".into(), datetime(at).into());
    }
    if let Some(code) = state.accounts.invited_by(&account.did).await? {
        if let Some(code) = state.accounts.invite_code(&code).await? {
            fields.insert("invitedBy".into(), invite_code_view(state, &code).await?);
        }
    }
    let mut invites = Vec::new();
    for code in state.accounts.invite_codes_for(&account.did).await? {
        invites.push(invite_code_view(state, &code).await?);
    }
    fields.insert("invites".into(), invites.into());
    Ok(view)
}

/// Changes an account's handle exactly as `com.atproto.identity.updateHandle` does: checked the
/// same way (a handle under the service domains, or a domain that already names the account), the
/// DID document of a did:plc account updated at the PLC directory with this server's rotation key,
/// `#identity` on the firehose.
pub async fn update_handle(state: &NodeState, did: &str, handle: &str) -> Result<(), AdminError> {
    require_account(state, did).await?;
    let parsed = crate::syntax::Did::parse(did)
        .map_err(|e| refused("InvalidRequest", format!("Invalid DID: {e}")))?;
    let handle =
        crate::xrpc::identity::update_handle::change_handle(state, &parsed, handle).await?;
    log::info!("admin: handle of {did} is now {}", handle.as_str());
    Ok(())
}

/// Changes an account's email (no longer confirmed).
pub async fn update_email(state: &NodeState, did: &str, email: &str) -> Result<(), AdminError> {
    crate::auth::account::validate_email(email.trim())?;
    require_account(state, did).await?;
    state.accounts.update_email(did, email.trim()).await?;
    log::info!("admin: email of {did} changed");
    Ok(())
}

/// Sets an account's password and ends its sessions.
pub async fn update_password(
    state: &NodeState,
    did: &str,
    password: &str,
) -> Result<(), AdminError> {
    crate::auth::password::validate_new_password(password)?;
    require_account(state, did).await?;
    let hash = crate::auth::password::hash_password_async(password).await?;
    state.accounts.set_password_hash(did, &hash).await?;
    log::info!("admin: password of {did} changed");
    Ok(())
}

/// Deletes an account with its repository, blobs and credentials (`#account` deleted on the
/// firehose).
pub async fn delete_account(state: &NodeState, did: &str) -> Result<(), AdminError> {
    let parsed = crate::syntax::Did::parse(did)
        .map_err(|e| refused("InvalidRequest", format!("Invalid DID: {e}")))?;
    require_account(state, did).await?;
    state.repos.delete_repo(&parsed).await?;
    state.accounts.delete_account(did).await?;
    log::info!("admin: account {did} deleted");
    Ok(())
}

/// Takes an account down (`Some(reference)`) or restores it (`None`), ending its sessions on
/// takedown, and announces its new status with `#account` on the firehose.
pub async fn set_account_takedown(
    state: &NodeState,
    did: &str,
    reference: Option<&str>,
) -> Result<(), AdminError> {
    let account = require_account(state, did).await?;
    state.accounts.set_takedown(did, reference).await?;
    let (active, status) = match (reference, account.deactivated_at) {
        (Some(_), _) => (false, Some("takendown")),
        (None, Some(_)) => (false, Some("deactivated")),
        (None, None) => (true, None),
    };
    announce(
        state,
        did,
        crate::storage::events::EventKind::Account,
        crate::storage::events::account_event(did, active, status, &event_time()),
    )
    .await?;
    log::info!(
        "admin: account {did} {}",
        if reference.is_some() {
            "taken down"
        } else {
            "restored"
        }
    );
    Ok(())
}

/// Takes a record (its AT-URI) or a blob of `did` down, or restores it.
pub async fn set_subject_takedown(
    state: &NodeState,
    subject: &str,
    did: &str,
    reference: Option<&str>,
) -> Result<(), AdminError> {
    require_account(state, did).await?;
    state
        .accounts
        .set_subject_takedown(subject, did, reference, state.sessions.now())
        .await?;
    Ok(())
}

/// Creates `count` codes of `uses` uses for each of `for_accounts` (or for `admin` when empty).
pub async fn create_invite_codes(
    state: &NodeState,
    count: usize,
    uses: u32,
    for_accounts: &[String],
) -> Result<Vec<(String, Vec<String>)>, AdminError> {
    let owners: Vec<String> = if for_accounts.is_empty() {
        vec!["admin".to_owned()]
    } else {
        for_accounts.to_vec()
    };
    let mut out = Vec::new();
    for owner in owners {
        let codes = crate::auth::create_invite_codes(
            &state.accounts,
            &state.config.hostname,
            count,
            uses,
            &owner,
            "admin",
            state.sessions.now(),
        )
        .await?;
        out.push((owner, codes));
    }
    Ok(out)
}

/// Mails the operator's `content` to an account's email; whether there was an address to send to.
pub async fn send_email(
    state: &NodeState,
    did: &str,
    subject: Option<&str>,
    content: &str,
) -> Result<bool, AdminError> {
    let account = require_account(state, did).await?;
    let Some(email) = &account.email else {
        return Ok(false);
    };
    let subject = subject
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("Message from {}", state.config.hostname));
    let message = crate::mail::message::operator_message(email, &subject, content);
    Ok(state.mail.deliver(&message).await)
}

fn event_time() -> String {
    crate::repo::writer::event_time()
}

async fn announce(
    state: &NodeState,
    did: &str,
    kind: crate::storage::events::EventKind,
    payload: Vec<u8>,
) -> Result<(), AdminError> {
    crate::storage::events::append(
        state.storage.connection(),
        did,
        kind,
        &event_time(),
        &payload,
    )
    .await?;
    state.sequencer.wake();
    Ok(())
}

/// The hosted account a DID or handle names.
pub async fn find_account(state: &NodeState, identifier: &str) -> Result<Account, AdminError> {
    let found = if identifier.starts_with("did:") {
        state.accounts.account_by_did(identifier).await?
    } else {
        state.accounts.account_by_handle(identifier).await?
    };
    found.ok_or_else(not_found)
}

/// Sets a new random password (24 characters, 120 bits) for the account and returns it.
pub async fn reset_password(state: &NodeState, did: &str) -> Result<String, AdminError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let bytes: [u8; 24] = rand::random();
    // 57 symbols: the modulo bias is below 1 in 4 per symbol and costs under a bit of the 140.
    let password: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    update_password(state, did, &password).await?;
    Ok(password)
}

/// Invite codes, newest first: up to `limit` after the cursor `after` (`(created_at, code)`).
pub async fn list_invite_codes(
    state: &NodeState,
    after: Option<(i64, &str)>,
    limit: u32,
) -> Result<Vec<crate::storage::InviteCode>, AdminError> {
    Ok(state
        .accounts
        .list_invite_codes(after, limit.min(MAX_PAGE))
        .await?)
}

/// Disables invite codes by value.
pub async fn disable_invite_codes(state: &NodeState, codes: &[String]) -> Result<(), AdminError> {
    for code in codes {
        if !state.accounts.set_invite_code_disabled(code, true).await? {
            return Err(refused("InvalidRequest", format!("No invite code {code}")));
        }
    }
    Ok(())
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

/// What [`import_account`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountImport {
    /// The repository import, or `None` when the account's repository already was the folder's
    /// (an earlier run stored it).
    pub repository: Option<crate::migration::ImportSummary>,
    /// The account's head commit afterwards.
    pub commit: String,
    /// Blobs uploaded by this run.
    pub blobs_uploaded: u64,
    /// Their bytes.
    pub blob_bytes_uploaded: u64,
    /// Blobs the account already held (an earlier run uploaded them), left alone.
    pub blobs_present: u64,
}

/// A file read with blocking calls as an [`tokio::io::AsyncRead`] (for the command line, where
/// nothing else waits on the thread).
struct BlockingFile(std::io::BufReader<std::fs::File>);

impl tokio::io::AsyncRead for BlockingFile {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::io::Read;
        let read = self.0.read(buf.initialize_unfilled());
        std::task::Poll::Ready(read.map(|n| buf.advance(n)))
    }
}

fn open_car(path: &std::path::Path) -> Result<BlockingFile, AdminError> {
    let file = std::fs::File::open(path).map_err(|e| io_error("reading", path, e))?;
    Ok(BlockingFile(std::io::BufReader::with_capacity(
        256 * 1024,
        file,
    )))
}

/// Loads an account folder written by [`export_account`] into the deactivated account `did`: the
/// repository through the same staging and verification as `com.atproto.repo.importRepo`
/// (streamed from the file), then each blob as `uploadBlob` stores it. A run that was stopped
/// (killed, or the database unreachable) is resumed by running it again: a repository already
/// stored (the account's head is the folder's commit) is not read again, blocks an earlier run
/// staged are not written again, and blobs the account holds are skipped. Files are read with
/// blocking calls, as in [`export_account`].
pub async fn import_account(
    state: &NodeState,
    did: &str,
    dir: &std::path::Path,
    progress: std::sync::Arc<dyn Fn(Progress) + Send + Sync>,
) -> Result<AccountImport, AdminError> {
    let did = crate::syntax::Did::parse(did).map_err(|e| AdminError::Refused {
        error: "InvalidRequest".into(),
        message: e.to_string(),
    })?;
    let car_path = dir.join(REPO_FILE);
    let invalid = |e: crate::repo::car::CarError| AdminError::Refused {
        error: "InvalidRequest".into(),
        message: format!("Invalid repository: {e}"),
    };
    let root = {
        let reader = crate::repo::car::CarReader::new(
            open_car(&car_path)?,
            crate::repo::car::CarLimits::default(),
        )
        .await
        .map_err(invalid)?;
        reader.roots().first().copied()
    };
    let head = state.repos.head(did.as_str()).await?;
    let already = matches!((&head, root), (Some(head), Some(root)) if head.commit == root);
    let (repository, commit) = if already {
        let commit = root.map(|c| c.to_string()).unwrap_or_default();
        progress(Progress {
            what: "repository already imported",
            done: 0,
            total: None,
        });
        (None, commit)
    } else {
        let report = std::sync::Arc::clone(&progress);
        let staged: crate::migration::ImportProgress = std::sync::Arc::new(move |counts| {
            report(Progress {
                what: "repository blocks",
                done: counts.stored + counts.reused,
                total: None,
            })
        });
        let summary = crate::migration::import_repo(
            state,
            &did,
            open_car(&car_path)?,
            state.config.max_import_bytes,
            Some(staged),
        )
        .await
        .map_err(XrpcError::from)?;
        progress(Progress {
            what: "repository",
            done: summary.blocks,
            total: Some(summary.blocks),
        });
        let commit = summary.commit.clone();
        (Some(summary), commit)
    };
    let index_path = dir.join(BLOBS_INDEX);
    let index =
        std::fs::read_to_string(&index_path).map_err(|e| io_error("reading", &index_path, e))?;
    let lines: Vec<(&str, &str)> = index
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .collect();
    let total = lines.len() as u64;
    let store = state.blobs.store();
    let mut outcome = AccountImport {
        repository,
        commit,
        blobs_uploaded: 0,
        blob_bytes_uploaded: 0,
        blobs_present: 0,
    };
    for (done, (cid, mime_type)) in lines.into_iter().enumerate() {
        let cid: crate::repo::Cid = cid.parse().map_err(|_| AdminError::Refused {
            error: "InvalidRequest".into(),
            message: format!("{}: not a CID: {cid}", index_path.display()),
        })?;
        if store.blob(did.as_str(), &cid).await?.is_some() {
            outcome.blobs_present += 1;
        } else {
            let path = dir.join(BLOBS_DIR).join(cid.to_string());
            let bytes = bytes::Bytes::from(
                std::fs::read(&path).map_err(|e| io_error("reading", &path, e))?,
            );
            let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..bytes.len())
                .step_by(256 * 1024)
                .map(|at| Ok(bytes.slice(at..bytes.len().min(at + 256 * 1024))))
                .collect();
            let mut stream = futures_util::stream::iter(chunks);
            let stored = state
                .blobs
                .upload(
                    state.storage.connect().await?,
                    state.storage.mode(),
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
            outcome.blobs_uploaded += 1;
            outcome.blob_bytes_uploaded += bytes.len() as u64;
        }
        progress(Progress {
            what: "blobs",
            done: done as u64 + 1,
            total: Some(total),
        });
    }
    Ok(outcome)
}
