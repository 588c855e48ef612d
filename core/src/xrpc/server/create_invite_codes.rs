//! `com.atproto.server.createInviteCodes` (the operator's): `codeCount` codes for each account
//! named, or for `admin`.

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
    #[serde(default = "one")]
    code_count: usize,
    use_count: u32,
    #[serde(default)]
    for_accounts: Vec<String>,
}

fn one() -> usize {
    1
}

/// POST handler (admin password).
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    let made = crate::admin::create_invite_codes(
        &state,
        input.code_count,
        input.use_count,
        &input.for_accounts,
    )
    .await?;
    let codes: Vec<Value> = made
        .into_iter()
        .map(|(account, codes)| json!({ "account": account, "codes": codes }))
        .collect();
    Ok(Json(json!({ "codes": codes })))
}
