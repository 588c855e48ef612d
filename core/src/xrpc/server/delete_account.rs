//! `com.atproto.server.requestAccountDelete` and `deleteAccount`: the owner asks for a one-time code,
//! then deletes the account with the code and the account password. Deletion removes the account,
//! its credentials, repository, blobs and earlier events, and announces `#account` (deleted) on the
//! firehose.
//!
//! The code is mailed to the account's email ([`crate::mail`]; to the node's log when no transport
//! is configured, which on a personal node the owner reads, as the reference PDS does without SMTP).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::email_code::{send_code, session_account, take_code};
use crate::auth::{login, AuthError, LoginLimits};
use crate::http::auth::AccessAuth;
use crate::http::client_address::ClientAddress;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::mail::message::CodeMail;
use crate::storage::TokenPurpose;
use crate::syntax::Did;

/// How long a deletion code stays valid, in seconds (the reference's 15 minutes).
pub const TOKEN_LIFETIME_SECS: i64 = super::email_code::CODE_LIFETIME_SECS;

/// POST handler of `requestAccountDelete`: only the account password's session may ask.
pub async fn request(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let account = session_account(&state, &auth.did).await?;
    state.route_limits.email(client, Some(&account.did))?;
    send_code(
        &state,
        &account,
        None,
        TokenPurpose::DeleteAccount,
        CodeMail::DeleteAccount,
    )
    .await?;
    Ok(Json(json!({})))
}

/// Input of `deleteAccount`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteInput {
    did: String,
    password: String,
    token: String,
}

/// POST handler of `deleteAccount` (no session: the password and the code are the proof).
pub async fn delete(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonBody(input): JsonBody<DeleteInput>,
) -> Result<Json<Value>, XrpcError> {
    let did = Did::parse(&input.did)
        .map_err(|e| XrpcError::invalid_request(format!("did must be a valid did: {e}")))?;
    let limits = LoginLimits::from_config(&state.config);
    let checked = login(
        &state.accounts,
        &limits,
        client,
        did.as_str(),
        &input.password,
    )
    .await?;
    if checked.app_password.is_some() || checked.account.did != did.as_str() {
        return Err(AuthError::AuthenticationRequired.into());
    }
    take_code(
        &state,
        did.as_str(),
        TokenPurpose::DeleteAccount,
        input.token.trim(),
    )
    .await?;
    state.repos.delete_repo(&did).await?;
    state
        .accounts
        .delete_account(did.as_str())
        .await
        .map_err(AuthError::from)?;
    log::info!("account {did} deleted by its owner");
    Ok(Json(json!({})))
}
