//! `com.atproto.identity.refreshIdentity`: [`super::resolve_identity`] without the cached handle
//! answers — the handle asked for, and the one the DID's document claims, are looked up afresh
//! (DID documents are never cached here).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::shared::{identity_info, resolve_identifier};
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::syntax::{Did, Handle};

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// A DID or a handle.
    pub identifier: String,
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    if let Ok(handle) = Handle::parse(&input.identifier) {
        state.identity.forget_handle(&handle);
    } else if let Ok(did) = Did::parse(&input.identifier) {
        if let Ok(document) = state.identity.resolve_did(&did).await {
            if let Some(handle) = document.handle() {
                state.identity.forget_handle(&handle);
            }
        }
    }
    let identity = resolve_identifier(&state, &input.identifier).await?;
    Ok(Json(identity_info(&identity)))
}
