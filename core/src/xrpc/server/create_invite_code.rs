//! `com.atproto.server.createInviteCode` (the operator's): one code of `useCount` uses.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::xrpc::admin::AdminAuth;

/// The input.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    use_count: u32,
    #[serde(default)]
    for_account: Option<String>,
}

/// POST handler (admin password).
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    let owners: Vec<String> = input.for_account.into_iter().collect();
    let made = crate::admin::create_invite_codes(&state, 1, input.use_count, &owners).await?;
    let code = made
        .into_iter()
        .flat_map(|(_, codes)| codes)
        .next()
        .ok_or_else(|| XrpcError::internal("no invite code was made"))?;
    Ok(Json(json!({ "code": code })))
}
