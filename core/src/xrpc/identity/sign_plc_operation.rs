//! `com.atproto.identity.signPlcOperation`: with the one-time code of
//! `requestPlcOperationSignature`, this server signs (with its PLC rotation key) an operation that
//! follows the DID's last one and states the fields given, the others kept — how an account leaving
//! this server hands its DID to the next host. The operation is returned, not submitted.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::shared::plc_error;
use crate::auth::AuthError;
use crate::http::auth::AccessAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::identity::{create_operation, IdentityError, PlcService};
use crate::storage::{TokenCheck, TokenPurpose};
use crate::syntax::Did;
use crate::xrpc::server::delete_account::TOKEN_LIFETIME_SECS;

/// A service entry as the request gives it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceInput {
    /// The service type.
    #[serde(rename = "type")]
    pub service_type: String,
    /// The endpoint URL.
    pub endpoint: String,
}

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    /// The code from `requestPlcOperationSignature`.
    #[serde(default)]
    pub token: Option<String>,
    /// New rotation keys (`did:key`), highest authority first.
    #[serde(default)]
    pub rotation_keys: Option<Vec<String>>,
    /// New `alsoKnownAs` URIs.
    #[serde(default)]
    pub also_known_as: Option<Vec<String>>,
    /// New verification methods (name → `did:key`).
    #[serde(default)]
    pub verification_methods: Option<BTreeMap<String, String>>,
    /// New services (name → type and endpoint).
    #[serde(default)]
    pub services: Option<BTreeMap<String, ServiceInput>>,
}

/// POST handler (the account password's session only).
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let token = input.token.as_deref().map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Err(XrpcError::invalid_request(
            "email confirmation token required to sign PLC operations",
        ));
    }
    let did = Did::parse(&auth.did).map_err(XrpcError::internal)?;
    if !did.as_str().starts_with("did:plc:") {
        return Err(XrpcError::invalid_request(
            "Only a did:plc identity has PLC operations",
        ));
    }
    let not_before = state.sessions.now() - TOKEN_LIFETIME_SECS;
    match state
        .accounts
        .take_email_token(did.as_str(), TokenPurpose::PlcOperation, token, not_before)
        .await
        .map_err(AuthError::from)?
    {
        TokenCheck::Accepted => {}
        TokenCheck::Expired => return Err(AuthError::ExpiredToken.into()),
        TokenCheck::Invalid => return Err(AuthError::InvalidToken("Token is invalid").into()),
    }
    let prev = state.plc.last_op(&did).await.map_err(plc_error)?;
    let mut data = prev
        .data()
        .ok_or_else(|| XrpcError::invalid_request("The DID is deactivated (tombstoned)"))?;
    if let Some(keys) = input.rotation_keys {
        data.rotation_keys = keys;
    }
    if let Some(aka) = input.also_known_as {
        data.also_known_as = aka;
    }
    if let Some(methods) = input.verification_methods {
        data.verification_methods = methods;
    }
    if let Some(services) = input.services {
        data.services = services
            .into_iter()
            .map(|(name, s)| {
                (
                    name,
                    PlcService {
                        service_type: s.service_type,
                        endpoint: s.endpoint,
                    },
                )
            })
            .collect();
    }
    let op = create_operation(&prev, data, &state.plc_rotation_key).map_err(|e| match e {
        IdentityError::NotRotationKey(_) => XrpcError::invalid_request(format!(
            "This server's rotation key may not sign for the DID: {e}"
        )),
        other => XrpcError::invalid_request(other.to_string()),
    })?;
    Ok(Json(json!({ "operation": op.to_json() })))
}
