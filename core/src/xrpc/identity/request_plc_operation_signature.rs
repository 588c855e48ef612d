//! `com.atproto.identity.requestPlcOperationSignature`: the owner asks for a one-time code that
//! `signPlcOperation` requires, through the one-time email codes of the account store. No mail
//! transport is configured on this node, so the message goes to the node's log (as the reference
//! PDS does without an SMTP server).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::AuthError;
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};
use crate::storage::TokenPurpose;

/// POST handler (the account password's session only).
pub async fn handle(
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
            TokenPurpose::PlcOperation,
            &token,
            state.sessions.now(),
        )
        .await
        .map_err(AuthError::from)?;
    log::info!(
        "mail to {} ({}): your code to sign a PLC operation is {token}; it is valid for 15 \
         minutes (no mail transport is configured, so the message is written here)",
        account.email.as_deref().unwrap_or("the account owner"),
        account.did
    );
    Ok(Json(json!({})))
}
