//! `com.atproto.admin.updateAccountPassword`: the account's sessions end with the old password.

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
    did: String,
    password: String,
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    crate::admin::update_password(&state, &input.did, &input.password).await?;
    Ok(Json(json!({})))
}
