//! `com.atproto.admin.disableAccountInvites`: stops the account from making invite codes and disables the codes it has.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AdminAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};

/// The input (`note` is accepted and not kept).
#[derive(Deserialize)]
pub struct Input {
    account: String,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    let account = super::account(&state, &input.account).await?;
    state
        .accounts
        .set_invites_disabled(&account.did, true)
        .await?;
    state.accounts.disable_invite_codes_of(&account.did).await?;
    Ok(Json(json!({})))
}
