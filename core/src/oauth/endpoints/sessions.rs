//! The account owner's OAuth sessions (one per app and device it authorized), listed and revoked
//! through two XRPC methods of this server's own namespace. Both need the account password's
//! session (a legacy session, not an app password or an OAuth token).
//!
//! - `dev.pocketpds.oauth.listSessions` (query): `{sessions: [{id, clientId, scope, deviceId,
//!   userAgent, createdAt, updatedAt, expiresAt}], devices: [{id, deviceId, userAgent, ipAddress,
//!   createdAt, lastUsedAt, expiresAt}]}`, newest first: the apps' sessions, and the browsers on
//!   which the account stays signed in to the authorization page.
//! - `dev.pocketpds.oauth.revokeSession` (procedure, `{id}`): a session id (`ses-…`) ends that
//!   session on every node and forgets the consent the account gave its client; a device id
//!   (`dva-…`) signs the account out of that browser. An unknown id, or another account's, is 400
//!   `InvalidRequest`.

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
    let devices = state
        .oauth
        .store
        .account_devices(&auth.did, now)
        .await?
        .into_iter()
        .map(|d| {
            Ok(json!({
                "id": d.id,
                "deviceId": d.device_id,
                "userAgent": d.user_agent,
                "ipAddress": d.ip_address,
                "createdAt": iso(d.created_at)?,
                "lastUsedAt": iso(d.last_used_at)?,
                "expiresAt": iso(d.expires_at)?,
            }))
        })
        .collect::<Result<Vec<Value>, XrpcError>>()?;
    Ok(Json(json!({ "sessions": sessions, "devices": devices })))
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
    let store = &state.oauth.store;
    let revoked = if input.id.starts_with("dva-") {
        store.delete_account_device(&auth.did, &input.id).await?
    } else {
        match store.session(&input.id).await? {
            Some(session) if session.did == auth.did => {
                store.delete_consent(&auth.did, &session.client_id).await?;
                store.delete_account_session(&auth.did, &input.id).await?
            }
            _ => false,
        }
    };
    if !revoked {
        return Err(XrpcError::invalid_request("No such session"));
    }
    Ok(Json(json!({})))
}
