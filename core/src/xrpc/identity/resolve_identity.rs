//! `com.atproto.identity.resolveIdentity`: a DID or handle, checked both ways, as
//! `{did, handle, didDoc}`. A handle must be claimed back by its DID's document (else
//! `HandleNotFound`); a DID whose handle does not resolve back shows `handle.invalid`. Local
//! accounts' handles answer from the database.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::shared::{identity_info, resolve_identifier};
use crate::http::{AppState, XrpcError};
use crate::xrpc::repo::input::QueryInput;

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct Params {
    /// A DID or a handle.
    pub identifier: Option<String>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let identifier = params.identifier.ok_or_else(|| {
        XrpcError::invalid_request("Error: Params must have the property \"identifier\"")
    })?;
    let identity = resolve_identifier(&state, &identifier).await?;
    Ok(Json(identity_info(&identity)))
}
