//! `com.atproto.server.createAppPassword`: make a named app password; its secret is shown once.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::datetime_from_secs;
use crate::auth::session::AccountChecks;
use crate::auth::{create_app_password, AuthContext};
use crate::http::auth::AccessAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};

/// The input, per the Lexicon.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// A name to tell the password apart from the account's others.
    pub name: String,
    /// Whether the password may reach privileged endpoints (such as direct messages).
    #[serde(default)]
    pub privileged: Option<bool>,
}

/// Refuses sessions that may not manage credentials: any app-password session (400
/// `InvalidToken`, "Bad token scope") and taken-down accounts (401 `AccountTakedown`).
pub(super) async fn require_full_access(
    state: &AppState,
    auth: &AuthContext,
) -> Result<(), XrpcError> {
    auth.require_full()?;
    state
        .sessions
        .require_account(
            &auth.did,
            AccountChecks {
                takedown: true,
                deactivated: false,
            },
        )
        .await?;
    Ok(())
}

/// POST handler: `{name, password, createdAt, privileged}`. A name the account already uses is 400
/// `InvalidRequest`.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    require_full_access(&state, &auth).await?;
    let created = create_app_password(
        &state.accounts,
        &auth.did,
        &input.name,
        input.privileged.unwrap_or(false),
        state.sessions.now(),
    )
    .await?;
    Ok(Json(json!({
        "name": created.name,
        "password": created.password,
        "createdAt": datetime_from_secs(created.created_at)?,
        "privileged": created.privileged,
    })))
}
