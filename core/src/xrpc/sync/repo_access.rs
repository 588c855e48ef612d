//! Which repositories the sync methods serve: a hosted account that is neither taken down nor
//! deactivated, with its head, and the reference PDS's error names when not.

use axum::http::StatusCode;

use crate::http::{AppState, XrpcError};
use crate::repo::writer::RepoHead;
use crate::storage::Account;
use crate::syntax::Did;

/// A 400 error with the name `name`.
pub fn bad(name: &str, message: String) -> XrpcError {
    XrpcError::new(StatusCode::BAD_REQUEST, name, message)
}

/// The hosted, active account of `did`: `RepoNotFound` when not hosted, `RepoTakendown` or
/// `RepoDeactivated` when it is not active.
pub async fn account(state: &AppState, did: &Did) -> Result<Account, XrpcError> {
    let account = state
        .accounts
        .account_by_did(did.as_str())
        .await?
        .ok_or_else(|| {
            bad(
                "RepoNotFound",
                format!("Could not find repo for DID: {did}"),
            )
        })?;
    if account.is_taken_down() {
        return Err(bad(
            "RepoTakendown",
            format!("Repo has been takendown: {did}"),
        ));
    }
    if account.deactivated_at.is_some() {
        return Err(bad(
            "RepoDeactivated",
            format!("Repo has been deactivated: {did}"),
        ));
    }
    Ok(account)
}

/// The account and head of `did`: the errors of [`account`], and `RepoNotFound` for an account
/// without a repository.
pub async fn available(state: &AppState, did: &Did) -> Result<(Account, RepoHead), XrpcError> {
    let account = account(state, did).await?;
    let head = state.repos.head(did.as_str()).await?.ok_or_else(|| {
        bad(
            "RepoNotFound",
            format!("Could not find root for DID: {did}"),
        )
    })?;
    Ok((account, head))
}
