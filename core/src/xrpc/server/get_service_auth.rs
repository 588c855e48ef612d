//! `com.atproto.server.getServiceAuth`: a short token signed with the account's repository key, by
//! which another service can tell that a request comes from the account.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::service_jwt::{check_expiry, create_service_jwt, PROTECTED_METHODS};
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};
use crate::syntax::{Did, Nsid};
use crate::xrpc::repo::input::QueryInput;

/// The query parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    aud: String,
    exp: Option<i64>,
    lxm: Option<String>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    auth.require_standard()?;
    // A service DID may name one of its services: `did:web:api.example#bsky_appview`.
    let (aud_did, fragment) = match params.aud.split_once('#') {
        Some((did, fragment)) => (did, Some(fragment)),
        None => (params.aud.as_str(), None),
    };
    Did::parse(aud_did)
        .map_err(|e| XrpcError::invalid_request(format!("aud must be a valid did: {e}")))?;
    if fragment.is_some_and(|f| f.is_empty() || !f.bytes().all(is_fragment_byte)) {
        return Err(XrpcError::invalid_request(
            "aud must be a valid did with an optional service fragment",
        ));
    }
    if let Some(lxm) = &params.lxm {
        Nsid::parse(lxm)
            .map_err(|e| XrpcError::invalid_request(format!("lxm must be a valid nsid: {e}")))?;
        if !auth.scope.is_privileged() && PROTECTED_METHODS.contains(&lxm.as_str()) {
            return Err(XrpcError::invalid_request(format!(
                "cannot request a service token for a protected method with an app password: {lxm}"
            )));
        }
    }
    let now = state.sessions.now();
    let exp = check_expiry(now, params.exp, params.lxm.as_deref())?;
    let key = state
        .accounts
        .signing_key(&auth.did)
        .await?
        .ok_or_else(|| XrpcError::invalid_request(format!("no signing key for {}", auth.did)))?;
    let token = create_service_jwt(
        &key,
        &auth.did,
        &params.aud,
        params.lxm.as_deref(),
        now,
        exp,
    )?;
    Ok(Json(json!({ "token": token })))
}

fn is_fragment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'~')
}
