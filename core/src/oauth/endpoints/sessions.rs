//! The account owner's OAuth sessions (one per app and device it authorized), listed and revoked
//! through two XRPC methods of this server's own namespace. Both need the account password's
//! session (a legacy session, not an app password or an OAuth token).
//!
//! - `dev.pocketpds.oauth.listSessions` (query): `{sessions: [{id, clientId, scope, deviceId,
//!   userAgent, createdAt, updatedAt, expiresAt}]}`, newest first.
//! - `dev.pocketpds.oauth.revokeSession` (procedure, `{id}`): ends one session on every node; an
//!   unknown id, or another account's, is 400 `InvalidRequest`.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::auth::AccessAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};

fn iso(secs: i64) -> Result<String, XrpcError> {
    crate::xrpc::server::datetime_from_secs(secs)
}

/// GET `dev.pocketpds.oauth.listSessions`.
pub async fn list(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let now = state.oauth.now();
    let sessions = state
        .oauth
        .store
        .account_sessions(&auth.did, now)
        .await?
        .into_iter()
        .map(|s| {
            Ok(json!({
                "id": s.id,
                "clientId": s.client_id,
                "scope": s.scope,
                "deviceId": s.device_id,
                "userAgent": s.user_agent,
                "createdAt": iso(s.created_at)?,
                "updatedAt": iso(s.updated_at)?,
                "expiresAt": iso(s.expires_at.min(s.refresh_expires_at))?,
            }))
        })
        .collect::<Result<Vec<Value>, XrpcError>>()?;
    Ok(Json(json!({ "sessions": sessions })))
}

/// The input of `revokeSession`.
#[derive(Debug, Deserialize)]
pub struct RevokeInput {
    /// The session id.
    pub id: String,
}

/// POST `dev.pocketpds.oauth.revokeSession`.
pub async fn revoke(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonBody(input): JsonBody<RevokeInput>,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    if !state
        .oauth
        .store
        .delete_account_session(&auth.did, &input.id)
        .await?
    {
        return Err(XrpcError::invalid_request("No such session"));
    }
    Ok(Json(json!({})))
}
