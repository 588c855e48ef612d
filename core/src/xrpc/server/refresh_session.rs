//! `com.atproto.server.refreshSession`: trade a refresh token (in the `Authorization` header) for a
//! new access and refresh token; the old refresh token is used up.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use super::account_fields;
use crate::http::auth::BearerToken;
use crate::http::{AppState, XrpcError};

/// POST handler. A used or revoked refresh token is 400 `ExpiredToken`; an access token or a
/// forged token is 400 `InvalidToken`; a taken-down account is 401 `AccountTakedown`.
pub async fn handle(
    State(state): State<AppState>,
    BearerToken(token): BearerToken,
) -> Result<Json<Value>, XrpcError> {
    let session = state.sessions.refresh_session(&token).await?;
    let account = state
        .accounts
        .account_by_did(&session.did)
        .await?
        .ok_or_else(|| {
            XrpcError::invalid_request(format!(
                "Could not find user info for account: {}",
                session.did
            ))
        })?;
    let mut body = account_fields(&account);
    body.insert("accessJwt".into(), Value::from(session.access_jwt));
    body.insert("refreshJwt".into(), Value::from(session.refresh_jwt));
    Ok(Json(Value::Object(body)))
}
