//! `com.atproto.identity.resolveHandle`: the DID of a handle hosted on this server. Handles hosted
//! elsewhere are not resolved yet (that needs outbound lookups with protection against private
//! addresses); they get the reference's "Unable to resolve handle" error.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::{AppState, XrpcError};
use crate::syntax::Handle;
use crate::xrpc::repo::input::QueryInput;

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct Params {
    /// The handle to resolve.
    pub handle: Option<String>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let raw = params.handle.ok_or_else(|| {
        XrpcError::invalid_request("Error: Params must have the property \"handle\"")
    })?;
    let handle = Handle::parse(&raw).map_err(|e| XrpcError::invalid_request(e.to_string()))?;
    let account = state
        .accounts
        .account_by_handle(handle.as_str())
        .await
        .map_err(XrpcError::internal)?;
    match account {
        Some(a) if !a.is_taken_down() => Ok(Json(json!({ "did": a.did }))),
        _ => Err(XrpcError::invalid_request("Unable to resolve handle")),
    }
}
