//! `com.atproto.server.requestAccountDelete` and `deleteAccount`: the owner asks for a one-time code,
//! then deletes the account with the code and the account password. Deletion removes the account,
//! its credentials, repository, blobs and earlier events, and announces `#account` (deleted) on the
//! firehose.
//!
//! The code is meant for the account's email. This node has no mail transport yet, so it writes the
//! message to the node's log, which on a personal node the owner reads (as the reference PDS does
//! when it has no SMTP server configured).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{login, AuthError, LoginLimits};
use crate::http::auth::AccessAuth;
use crate::http::client_address::ClientAddress;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::storage::{TokenCheck, TokenPurpose};
use crate::syntax::Did;

/// How long a deletion code stays valid, in seconds (the reference's 15 minutes).
pub const TOKEN_LIFETIME_SECS: i64 = 15 * 60;

/// POST handler of `requestAccountDelete`: only the account password's session may ask.
pub async fn request(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let account = state
        .accounts
        .account_by_did(&auth.did)
        .await?
        .ok_or(AuthError::AccountNotFound)?;
    let token = crate::auth::email_code()?;
    state
        .accounts
        .put_email_token(
            &auth.did,
            TokenPurpose::DeleteAccount,
            &token,
            state.sessions.now(),
        )
        .await
        .map_err(AuthError::from)?;
    log::info!(
        "mail to {} ({}): your account deletion code is {token}; it is valid for 15 minutes \
         (no mail transport is configured, so the message is written here)",
        account.email.as_deref().unwrap_or("the account owner"),
        account.did
    );
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
    let not_before = state.sessions.now() - TOKEN_LIFETIME_SECS;
    let check = state
        .accounts
        .take_email_token(
            did.as_str(),
            TokenPurpose::DeleteAccount,
            input.token.trim(),
            not_before,
        )
        .await
        .map_err(AuthError::from)?;
    match check {
        TokenCheck::Accepted => {}
        TokenCheck::Expired => return Err(AuthError::ExpiredToken.into()),
        TokenCheck::Invalid => return Err(AuthError::InvalidToken("Token is invalid").into()),
    }
    state.repos.delete_repo(&did).await?;
    state
        .accounts
        .delete_account(did.as_str())
        .await
        .map_err(AuthError::from)?;
    log::info!("account {did} deleted by its owner");
    Ok(Json(json!({})))
}
