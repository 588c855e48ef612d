//! `com.atproto.server.listAppPasswords`: the account's app passwords, without their secrets.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::create_app_password::require_full_access;
use super::datetime_from_secs;
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};

/// GET handler: `{passwords: [{name, createdAt, privileged}]}`, newest first.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    require_full_access(&state, &auth).await?;
    let passwords = state
        .accounts
        .list_app_passwords(&auth.did)
        .await?
        .into_iter()
        .map(|info| {
            Ok(json!({
                "name": info.name,
                "createdAt": datetime_from_secs(info.created_at)?,
                "privileged": info.privileged,
            }))
        })
        .collect::<Result<Vec<Value>, XrpcError>>()?;
    Ok(Json(json!({ "passwords": passwords })))
}
