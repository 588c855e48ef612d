//! `com.atproto.admin.updateAccountHandle`.

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
    handle: String,
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    crate::admin::update_handle(&state, &input.did, &input.handle).await?;
    Ok(Json(json!({})))
}
