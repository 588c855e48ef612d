//! `com.atproto.server.resetPassword`: choose a new password with the mailed code. The account's
//! refresh tokens are revoked with the old password.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::email_code::{checked, CODE_LIFETIME_SECS};
use crate::auth::password::{hash_password_async, validate_new_password};
use crate::auth::AuthError;
use crate::http::client_address::ClientAddress;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::storage::TokenPurpose;

/// The input, per the Lexicon.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// The mailed code.
    pub token: String,
    /// The new password.
    pub password: String,
}

/// POST handler (no session): `InvalidToken` / `ExpiredToken` for a wrong or old code,
/// `InvalidPassword` for a password against the rules (the code is then not used up).
pub async fn handle(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    state.route_limits.code_guess(client)?;
    validate_new_password(&input.password)?;
    let hash = hash_password_async(&input.password).await?;
    let not_before = state.sessions.now() - CODE_LIFETIME_SECS;
    let Some((did, check)) = state
        .accounts
        .take_email_token_by_code(TokenPurpose::ResetPassword, &input.token, not_before)
        .await
        .map_err(AuthError::from)?
    else {
        return Err(AuthError::InvalidToken("Token is invalid").into());
    };
    checked(check)?;
    state
        .accounts
        .set_password_hash(&did, &hash)
        .await
        .map_err(AuthError::from)?;
    log::info!("password of {did} reset with a mailed code");
    Ok(Json(json!({})))
}
