//! `com.atproto.repo.describeRepo`: an account's handle, DID, DID document and collections (public).
//!
//! The DID document is the one this server would publish (signing key and PDS endpoint), not one
//! resolved from the network, and `handleIsCorrect` is `true` until handle resolution exists.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::account;
use super::input::QueryInput;
use crate::http::{AppState, XrpcError};

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    repo: String,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let account = account::find_served(&state, &params.repo)
        .await?
        .ok_or_else(|| {
            XrpcError::invalid_request(format!("Could not find user: {}", params.repo))
        })?;
    let did = &account.did;
    let key = state
        .accounts
        .signing_key(did)
        .await?
        .ok_or_else(|| XrpcError::internal(format!("no signing key for {did}")))?;
    let did_doc = json!({
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
        ],
        "id": did,
        "alsoKnownAs": [format!("at://{}", account.handle)],
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.public_key().to_multibase(),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": state.config.public_url,
        }],
    });
    let collections = state.repos.list_collections(did).await?;
    Ok(Json(json!({
        "handle": account.handle,
        "did": did,
        "didDoc": did_doc,
        "collections": collections,
        "handleIsCorrect": true,
    })))
}
