//! `com.atproto.server.getSession`: who the access token belongs to, and the account's state.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use super::account_fields;
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};

/// GET handler. Any access token is accepted, including the restricted one of a taken-down
/// account (which can still read its status here).
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    let account = state
        .accounts
        .account_by_did(&auth.did)
        .await?
        .ok_or_else(|| {
            XrpcError::invalid_request(format!(
                "Could not find user info for account: {}",
                auth.did
            ))
        })?;
    Ok(Json(Value::Object(account_fields(&account))))
}
