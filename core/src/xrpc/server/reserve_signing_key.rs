//! `com.atproto.server.reserveSigningKey`: a new repository signing key kept (sealed) for an
//! account about to arrive, answered with its `did:key`. For a `did` that already has one, the same
//! key; `createAccount` for that DID takes it up (see `crate::storage::accounts`' reserved keys).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::AuthError;
use crate::crypto::{Algorithm, Keypair};
use crate::http::client_address::ClientAddress;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};

/// The input.
#[derive(Deserialize)]
pub struct Input {
    #[serde(default)]
    did: Option<String>,
}

/// POST handler (no session, as in the reference; limited like account creation).
pub async fn handle(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    state.route_limits.account_creation(client)?;
    if let Some(did) = &input.did {
        crate::syntax::Did::parse(did)
            .map_err(|e| XrpcError::invalid_request(format!("Invalid DID: {e}")))?;
    }
    let key = Keypair::generate(Algorithm::K256).map_err(XrpcError::internal)?;
    let signing_key = state
        .accounts
        .reserve_signing_key(input.did.as_deref(), &key, state.sessions.now())
        .await
        .map_err(AuthError::from)?;
    Ok(Json(json!({ "signingKey": signing_key })))
}
