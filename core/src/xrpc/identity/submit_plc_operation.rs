//! `com.atproto.identity.submitPlcOperation`: an operation for the account's DID, signed elsewhere
//! (by the previous host, or a key the user holds), is checked and sent to the PLC directory — the
//! last step of moving an account here. Refused before anything is sent: an operation that is not
//! well formed, does not follow the DID's last operation, is not signed by one of that operation's
//! rotation keys, or would not leave the account hosted here (this server's rotation key, its
//! public URL as `atproto_pds`, the account's signing key and handle). Then `#identity`.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::shared::{announce_identity, plc_error};
use crate::auth::AuthError;
use crate::http::auth::AccessAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::identity::SignedOperation;
use crate::syntax::Did;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// The signed operation, in the PLC directory's JSON form.
    pub operation: Value,
}

/// POST handler (the account password's session only).
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let did = Did::parse(&auth.did).map_err(XrpcError::internal)?;
    if !did.as_str().starts_with("did:plc:") {
        return Err(XrpcError::invalid_request(
            "Only a did:plc identity has PLC operations",
        ));
    }
    let op = SignedOperation::from_json(&input.operation)
        .map_err(|e| XrpcError::invalid_request(format!("operation: {e}")))?;
    let data = op
        .data()
        .ok_or_else(|| XrpcError::invalid_request("A tombstone cannot be submitted here"))?;
    let server_key = state.plc_rotation_key.public_key().to_did_key();
    if !data.rotation_keys.contains(&server_key) {
        return Err(XrpcError::invalid_request(
            "Rotation keys do not include server's rotation key",
        ));
    }
    if data.pds_endpoint() != Some(state.config.public_url.as_str()) {
        return Err(XrpcError::invalid_request(
            "Incorrect endpoint on atproto_pds service",
        ));
    }
    let account = state
        .accounts
        .account_by_did(did.as_str())
        .await?
        .ok_or(AuthError::AccountNotFound)?;
    let key = state
        .accounts
        .signing_key(did.as_str())
        .await?
        .ok_or(AuthError::AccountNotFound)?;
    if data.atproto_signing_key() != Some(key.public_key().to_did_key().as_str()) {
        return Err(XrpcError::invalid_request("Incorrect signing key"));
    }
    if data.handle() != Some(account.handle.as_str()) {
        return Err(XrpcError::invalid_request(
            "Incorrect handle in alsoKnownAs",
        ));
    }
    let prev = state.plc.last_op(&did).await.map_err(plc_error)?;
    let prev_cid = prev.cid().map_err(XrpcError::internal)?.to_string();
    if op.prev() != Some(prev_cid.as_str()) {
        return Err(XrpcError::invalid_request(
            "The operation does not follow the DID's last operation",
        ));
    }
    let allowed = prev
        .data()
        .map(|d| d.rotation_keys)
        .ok_or_else(|| XrpcError::invalid_request("The DID is deactivated (tombstoned)"))?;
    if op.verify(&allowed).is_err() {
        return Err(XrpcError::invalid_request(
            "The operation is not signed by a rotation key of the DID",
        ));
    }
    state.plc.submit(&did, &op).await.map_err(plc_error)?;
    announce_identity(&state, did.as_str(), Some(account.handle.as_str())).await?;
    Ok(Json(json!({})))
}
