//! `com.atproto.admin.getAccountInfo`: one account as the operator sees it.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::AdminAuth;
use crate::http::{AppState, XrpcError};
use crate::xrpc::repo::input::QueryInput;

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    did: String,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let account = crate::admin::require_account(&state, &params.did).await?;
    Ok(Json(crate::admin::account_view(&state, &account).await?))
}
