//! `com.atproto.identity.resolveDid`: the DID document of a DID (did:plc through the PLC directory,
//! did:web over HTTPS, public addresses only), as the reference PDS serves it: `DidNotFound` for
//! a DID that does not resolve, `DidDeactivated` for a tombstoned did:plc.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::shared::did_error;
use crate::http::{AppState, XrpcError};
use crate::syntax::Did;
use crate::xrpc::repo::input::QueryInput;

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct Params {
    /// The DID to resolve.
    pub did: Option<String>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let raw = params.did.ok_or_else(|| {
        XrpcError::invalid_request("Error: Params must have the property \"did\"")
    })?;
    let did = Did::parse(&raw).map_err(|e| XrpcError::invalid_request(format!("did: {e}")))?;
    let document = state
        .identity
        .resolve_did(&did)
        .await
        .map_err(|e| did_error(&did, e))?;
    Ok(Json(json!({ "didDoc": document.to_json() })))
}
