//! `com.atproto.server.confirmEmail`: confirm the account's email with the mailed code.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::email_code::{session_account, take_code};
use crate::http::auth::AccessAuth;
use crate::http::client_address::ClientAddress;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::storage::TokenPurpose;

/// The input, per the Lexicon.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// The address being confirmed (must be the account's).
    pub email: String,
    /// The mailed code.
    pub token: String,
}

/// POST handler: 400 `InvalidEmail` when the address is not the account's, `InvalidToken` /
/// `ExpiredToken` for a wrong or old code.
pub async fn handle(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    AccessAuth(auth): AccessAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    auth.require_standard()?;
    state.route_limits.code_guess(client)?;
    let account = session_account(&state, &auth.did).await?;
    let matches = account
        .email
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(input.email.trim()));
    if !matches {
        return Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "InvalidEmail",
            "invalid email",
        ));
    }
    take_code(
        &state,
        &account.did,
        TokenPurpose::ConfirmEmail,
        &input.token,
    )
    .await?;
    state
        .accounts
        .confirm_email(&account.did, input.email.trim(), state.sessions.now())
        .await?;
    Ok(Json(json!({})))
}
