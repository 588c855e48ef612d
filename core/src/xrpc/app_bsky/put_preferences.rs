//! `app.bsky.actor.putPreferences`: replaces the account's `app.bsky` preferences. Each must be an
//! object with a `$type` in that namespace; a session opened with an app password may not set the
//! personal-details preference (and keeps the stored one untouched).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::{in_namespace, may_access, require_rpc_scope, PERSONAL_DETAILS};
use crate::http::auth::AccessAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::storage::preferences::{self, Preference};

/// The most preferences one account may keep.
pub const MAX_PREFERENCES: usize = 1000;

/// The input.
#[derive(Debug, Deserialize)]
pub struct Input {
    preferences: Vec<Value>,
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<StatusCode, XrpcError> {
    auth.require_standard()?;
    require_rpc_scope(&state, &auth, "app.bsky.actor.putPreferences")?;
    if input.preferences.len() > MAX_PREFERENCES {
        return Err(XrpcError::invalid_request(format!(
            "At most {MAX_PREFERENCES} preferences may be stored"
        )));
    }
    let mut prefs = Vec::with_capacity(input.preferences.len());
    for value in &input.preferences {
        let pref_type = value
            .as_object()
            .and_then(|o| o.get("$type"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| XrpcError::invalid_request("Preference is missing a $type"))?;
        if !in_namespace(pref_type) {
            return Err(XrpcError::invalid_request(
                "Some preferences are not in the app.bsky namespace",
            ));
        }
        if pref_type == PERSONAL_DETAILS && !auth.scope.is_full() {
            return Err(XrpcError::invalid_request(
                "Do not have authorization to set preferences.",
            ));
        }
        prefs.push(Preference {
            pref_type: pref_type.to_owned(),
            value_json: value.to_string(),
        });
    }
    preferences::replace(state.storage.connection(), &auth.did, &prefs, |t| {
        may_access(&auth, t)
    })
    .await?;
    Ok(StatusCode::OK)
}
