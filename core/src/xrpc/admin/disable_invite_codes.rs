//! `com.atproto.admin.disableInviteCodes`: the codes named, and every code of the accounts named.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AdminAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};

/// The input.
#[derive(Deserialize)]
pub struct Input {
    #[serde(default)]
    codes: Vec<String>,
    #[serde(default)]
    accounts: Vec<String>,
}

/// POST handler. The `admin` account's codes cannot be disabled by account, as in the reference.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    if input.accounts.iter().any(|a| a == "admin") {
        return Err(XrpcError::invalid_request(
            "cannot disable admin invite codes",
        ));
    }
    for code in &input.codes {
        state.accounts.set_invite_code_disabled(code, true).await?;
    }
    for account in &input.accounts {
        state.accounts.disable_invite_codes_of(account).await?;
    }
    Ok(Json(json!({})))
}
