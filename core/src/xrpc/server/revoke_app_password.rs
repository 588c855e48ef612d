//! `com.atproto.server.revokeAppPassword`: delete an app password and end the sessions opened
//! with it.

use axum::extract::State;
use serde::Deserialize;

use super::create_app_password::require_full_access;
use crate::auth::AuthError;
use crate::http::auth::AccessAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};

/// The input, per the Lexicon.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// The app password's name.
    pub name: String,
}

/// POST handler: no output. An unknown name is not an error, as in the reference PDS.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<(), XrpcError> {
    require_full_access(&state, &auth).await?;
    state
        .accounts
        .delete_app_password(&auth.did, &input.name)
        .await
        .map_err(AuthError::from)?;
    Ok(())
}
