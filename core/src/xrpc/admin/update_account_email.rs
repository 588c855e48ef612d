//! `com.atproto.admin.updateAccountEmail` (`account` is a DID or a handle).

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
    account: String,
    email: String,
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    let account = super::account(&state, &input.account).await?;
    crate::admin::update_email(&state, &account.did, &input.email).await?;
    Ok(Json(json!({})))
}
