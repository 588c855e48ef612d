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

/// The account and head of `did`: `RepoNotFound` when not hosted (or without a repository),
/// `RepoTakendown` or `RepoDeactivated` when it is not active.
pub async fn available(state: &AppState, did: &Did) -> Result<(Account, RepoHead), XrpcError> {
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
    let head = state.repos.head(did.as_str()).await?.ok_or_else(|| {
        bad(
            "RepoNotFound",
            format!("Could not find root for DID: {did}"),
        )
    })?;
    Ok((account, head))
}
