//! `com.atproto.server.requestEmailConfirmation`: mail a code that confirms the account's email.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::email_code::{send_code, session_account};
use crate::http::auth::AccessAuth;
use crate::http::client_address::ClientAddress;
use crate::http::{AppState, XrpcError};
use crate::mail::message::CodeMail;
use crate::storage::TokenPurpose;

/// POST handler: any session of an account that is not taken down; 400 without an email.
pub async fn handle(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    auth.require_standard()?;
    let account = session_account(&state, &auth.did).await?;
    if account.email.is_none() {
        return Err(XrpcError::invalid_request(
            "account does not have an email address",
        ));
    }
    state.route_limits.email(client, Some(&account.did))?;
    send_code(
        &state,
        &account,
        None,
        TokenPurpose::ConfirmEmail,
        CodeMail::ConfirmEmail,
    )
    .await?;
    Ok(Json(json!({})))
}
