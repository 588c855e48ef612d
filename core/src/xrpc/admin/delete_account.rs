//! `com.atproto.admin.deleteAccount`: the account, its repository, blobs and credentials.

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
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    crate::admin::delete_account(&state, &input.did).await?;
    Ok(Json(json!({})))
}
