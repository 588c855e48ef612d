//! `app.bsky.actor.getPreferences`: the account's preferences, from the database.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::{may_access, require_rpc_scope};
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};
use crate::storage::preferences;

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    auth.require_standard()?;
    require_rpc_scope(&state, &auth, "app.bsky.actor.getPreferences")?;
    let stored = preferences::list(state.storage.connection(), &auth.did).await?;
    let mut prefs = Vec::with_capacity(stored.len());
    for pref in stored
        .into_iter()
        .filter(|p| may_access(&auth, &p.pref_type))
    {
        prefs.push(serde_json::from_str::<Value>(&pref.value_json).map_err(XrpcError::internal)?);
    }
    Ok(Json(json!({ "preferences": prefs })))
}
