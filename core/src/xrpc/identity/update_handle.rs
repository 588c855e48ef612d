//! `com.atproto.identity.updateHandle`: the account takes a new handle. A handle under the server's
//! domains follows `createAccount`'s rules; any other must already name the account (DNS TXT
//! `_atproto` or `/.well-known/atproto-did`, looked up afresh). A did:plc account's DID document
//! gets the handle through a PLC operation signed with this server's rotation key, then the shared
//! database (so every node serves it at once) and an `#identity` event.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::resolve_handle::is_service_handle;
use super::shared::{announce_identity, plc_error};
use crate::auth::AuthError;
use crate::http::auth::AccessAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, NodeState, XrpcError};
use crate::identity::{create_update, IdentityError, PlcUpdate};
use crate::syntax::{Did, Handle};
use crate::xrpc::server::create_account::check_handle;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// The new handle.
    pub handle: String,
}

fn invalid_handle(message: impl Into<String>) -> XrpcError {
    XrpcError::new(StatusCode::BAD_REQUEST, "InvalidHandle", message)
}

/// POST handler: a legacy session of the account (password or app password), or an OAuth token
/// granted `identity:handle`.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    if let Some(scopes) = &auth.oauth {
        if !scopes.allows_identity("handle") {
            return Err(XrpcError::new(
                StatusCode::FORBIDDEN,
                "ScopeMissingError",
                "Missing required scope \"identity:handle\"",
            ));
        }
    }
    let did = Did::parse(&auth.did).map_err(XrpcError::internal)?;
    change_handle(&state, &did, &input.handle).await?;
    Ok(Json(json!({})))
}

/// Gives the account `did` the handle `requested`: checks it (syntax and length under the server's
/// domains, else a domain that must already name `did`), refuses one another account holds, signs
/// and submits the PLC operation when `did` is a did:plc (with this server's rotation key, which
/// must still be one of the DID's), then stores it and announces `#identity`. Nothing changes when
/// a step before the directory's refuses. `com.atproto.admin.updateAccountHandle` and
/// `pocketpds account set-handle` go through here too.
pub(crate) async fn change_handle(
    state: &NodeState,
    did: &Did,
    requested: &str,
) -> Result<Handle, XrpcError> {
    if state.accounts.account_by_did(did.as_str()).await?.is_none() {
        return Err(AuthError::AccountNotFound.into());
    }
    let requested = requested.trim().to_ascii_lowercase();
    let parsed = Handle::parse(&requested).map_err(|e| invalid_handle(e.to_string()))?;
    let handle = if is_service_handle(&parsed, &state.config.service_handle_domains) {
        check_handle(&requested, &state.config.service_handle_domains)?
    } else {
        state.identity.forget_handle(&parsed);
        match state.identity.resolve_handle(&parsed).await {
            Ok(named) if named == *did => parsed,
            Ok(other) => {
                return Err(invalid_handle(format!(
                    "External handle names {other}, not this account"
                )))
            }
            Err(e) => {
                return Err(invalid_handle(format!(
                    "External handle did not resolve to this account: {e}"
                )))
            }
        }
    };
    if let Some(holder) = state.accounts.account_by_handle(handle.as_str()).await? {
        if holder.did != did.as_str() {
            return Err(AuthError::HandleNotAvailable.into());
        }
    }
    if did.as_str().starts_with("did:plc:") {
        let prev = state.plc.last_op(did).await.map_err(plc_error)?;
        let update = PlcUpdate {
            handle: Some(handle.clone()),
            ..PlcUpdate::default()
        };
        let op = create_update(&prev, &update, &state.plc_rotation_key).map_err(|e| match e {
            IdentityError::NotRotationKey(_) | IdentityError::Tombstoned => {
                XrpcError::invalid_request(format!(
                    "This server can no longer update the DID document: {e}"
                ))
            }
            other => XrpcError::internal(other),
        })?;
        state.plc.submit(did, &op).await.map_err(plc_error)?;
    } else {
        // A did:web document is its owner's to edit: it must name the handle already.
        let document = state.identity.resolve_did(did).await.map_err(|e| {
            XrpcError::invalid_request(format!("The DID document of {did} could not be read: {e}"))
        })?;
        if document.handle().as_ref() != Some(&handle) {
            return Err(XrpcError::invalid_request(format!(
                "The DID document of {did} does not name the handle {handle}: add at://{handle} \
                 to its alsoKnownAs first"
            )));
        }
    }
    let found = state
        .accounts
        .update_handle(did.as_str(), handle.as_str())
        .await
        .map_err(AuthError::from)?;
    if !found {
        return Err(AuthError::AccountNotFound.into());
    }
    announce_identity(state, did.as_str(), Some(handle.as_str())).await?;
    Ok(handle)
}
