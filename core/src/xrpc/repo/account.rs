//! Finding the account a `repo` parameter names, and checking that the caller may write to it.

use axum::http::StatusCode;

use super::input;
use crate::auth::AuthContext;
use crate::crypto::Keypair;
use crate::http::{AppState, XrpcError};
use crate::oauth::scope::RepoAction;
use crate::repo::cid::Cid;
use crate::repo::writer::WriteOp;
use crate::storage::{Account, CommitResult};
use crate::syntax::{AtIdentifier, Did};

/// The account a DID or handle names, if this server hosts it.
pub async fn find(state: &AppState, repo: &str) -> Result<Option<Account>, XrpcError> {
    let account = match input::at_identifier("repo", repo)? {
        AtIdentifier::Did(did) => state.accounts.account_by_did(did.as_str()).await?,
        AtIdentifier::Handle(handle) => state.accounts.account_by_handle(handle.as_str()).await?,
    };
    Ok(account)
}

/// The account a DID or handle names, if this server hosts it and serves its repository to the
/// public: a taken-down account is not found.
pub async fn find_served(state: &AppState, repo: &str) -> Result<Option<Account>, XrpcError> {
    Ok(find(state, repo).await?.filter(|a| !a.is_taken_down()))
}

/// The repository a write names, with its signing key, as the reference PDS checks it: an unknown
/// repository or a deactivated account is 400 `InvalidRequest`; another account's repository is 401
/// `AuthenticationRequired`.
pub async fn writable(
    state: &AppState,
    repo: &str,
    caller: &AuthContext,
) -> Result<(Did, Keypair), XrpcError> {
    caller.require_standard()?;
    let account = find(state, repo)
        .await?
        .ok_or_else(|| XrpcError::invalid_request(format!("Could not find repo: {repo}")))?;
    if account.deactivated_at.is_some() {
        return Err(XrpcError::invalid_request("Account is deactivated"));
    }
    if account.is_taken_down() && account.did == caller.did {
        // An access token issued before the takedown is still signed, but writes no more.
        return Err(crate::auth::AuthError::AccountTakedown.into());
    }
    if account.did != caller.did {
        return Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Authentication Required",
        ));
    }
    let did = Did::parse(&account.did).map_err(XrpcError::internal)?;
    let key = state
        .accounts
        .signing_key(&account.did)
        .await?
        .ok_or_else(|| XrpcError::internal(format!("no signing key for {did}")))?;
    Ok((did, key))
}

/// Stores `ops` as one commit of `did`'s repository once the caller's scope covers them and every
/// blob their records reference was uploaded by the account: the last step of every repo write.
pub async fn commit(
    state: &AppState,
    caller: &AuthContext,
    did: &Did,
    key: &Keypair,
    ops: &[WriteOp],
    swap_commit: Option<Cid>,
) -> Result<CommitResult, XrpcError> {
    require_write_scope(caller, ops)?;
    state
        .blobs
        .check_references(did.as_str(), ops.iter().filter_map(WriteOp::record))
        .await?;
    Ok(state.repos.write(did, key, ops, swap_commit).await?)
}

/// Refuses writes an OAuth token's scope does not cover (403 `ScopeMissingError`, naming the scope
/// that is missing); legacy sessions pass. A `put` needs both `create` and `update`.
fn require_write_scope(caller: &AuthContext, ops: &[WriteOp]) -> Result<(), XrpcError> {
    let Some(scope) = &caller.oauth else {
        return Ok(());
    };
    for op in ops {
        let (collection, actions): (_, &[RepoAction]) = match op {
            WriteOp::Create { collection, .. } => (collection, &[RepoAction::Create]),
            WriteOp::Update { collection, .. } => (collection, &[RepoAction::Update]),
            WriteOp::Put { collection, .. } => {
                (collection, &[RepoAction::Create, RepoAction::Update])
            }
            WriteOp::Delete { collection, .. } => (collection, &[RepoAction::Delete]),
        };
        for action in actions {
            if !scope.allows_repo(collection.as_str(), *action) {
                return Err(XrpcError::new(
                    StatusCode::FORBIDDEN,
                    "ScopeMissingError",
                    format!(
                        "Missing required scope \"repo:{}?action={}\"",
                        collection.as_str(),
                        action.as_str()
                    ),
                ));
            }
        }
    }
    Ok(())
}
