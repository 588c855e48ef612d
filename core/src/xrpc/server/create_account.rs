//! `com.atproto.server.createAccount`: a new account with a new did:plc identity hosted here. The
//! handle must sit under one of the service domains; the DID's genesis operation (this server's
//! rotation key, the account's new signing key, this node's public URL) goes to the PLC directory;
//! then the account, its empty repository (with `#identity`, `#account`, `#commit`, `#sync` events)
//! and a first session are created. [`create_with_identity`] does all but the session, for this
//! handler and for node administration without HTTP (`crate::admin`).
//!
//! With an existing `did` (an account moving here, [`create_migrating`]) the request must carry a
//! service token from the account's current host: issued by that DID, for this service, bound to
//! `createAccount`, unexpired and signed by the DID document's current signing key. The account is
//! created deactivated with no repository, and with the signing key `reserveSigningKey` kept for
//! its DID (the reservation is then used up), else a fresh one; `importRepo`, blob uploads and
//! `activateAccount` complete the move.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::account_fields;
use crate::auth::service_jwt::ServiceToken;
use crate::auth::{create_account, CreateAccount};
use crate::crypto::{Algorithm, Keypair};
use crate::http::client_address::ClientAddress;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, NodeState, XrpcError};
use crate::identity::{create_genesis, AtprotoPlcParams};
use crate::storage::{Account, Announce};
use crate::syntax::{Did, Handle};

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The account's email.
    #[serde(default)]
    pub email: Option<String>,
    /// The requested handle.
    pub handle: String,
    /// A pre-existing DID (an account moving here from another host).
    #[serde(default)]
    pub did: Option<String>,
    /// An invite code.
    #[serde(default)]
    pub invite_code: Option<String>,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
    /// A rotation key the user holds, placed above the server's in the DID.
    #[serde(default)]
    pub recovery_key: Option<String>,
}

fn invalid_handle(message: impl Into<String>) -> XrpcError {
    XrpcError::new(StatusCode::BAD_REQUEST, "InvalidHandle", message)
}

/// Checks a requested handle against the syntax and the service domains, as the reference does.
pub(crate) fn check_handle(requested: &str, domains: &[String]) -> Result<Handle, XrpcError> {
    let handle = Handle::parse(requested).map_err(|e| invalid_handle(e.to_string()))?;
    let name = handle.as_str();
    let Some(domain) = domains.iter().find(|d| name.ends_with(d.as_str())) else {
        return Err(invalid_handle(format!(
            "Handle must end with one of {}",
            domains.join(", ")
        )));
    };
    let front = &name[..name.len() - domain.len()];
    if front.contains('.') {
        return Err(invalid_handle("Invalid characters in handle"));
    }
    if front.len() < 3 {
        return Err(invalid_handle("Handle too short"));
    }
    if front.len() > 18 {
        return Err(invalid_handle("Handle too long"));
    }
    Ok(handle)
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    state.route_limits.account_creation(client)?;
    let account = match &input.did {
        Some(did) => create_migrating(&state, &input, did, bearer(&headers)).await?,
        None => create_with_identity(&state, &input).await?,
    };
    let session = state.sessions.create_session(&account, None).await?;
    let mut body = account_fields(&account);
    body.insert("accessJwt".into(), Value::from(session.access_jwt));
    body.insert("refreshJwt".into(), Value::from(session.refresh_jwt));
    Ok(Json(Value::Object(body)))
}

/// Creates the account with its new did:plc identity and its empty repository, as
/// `createAccount` does before it opens a session. A refused request leaves nothing behind.
pub async fn create_with_identity(state: &NodeState, input: &Input) -> Result<Account, XrpcError> {
    if input.did.is_some() {
        return Err(XrpcError::invalid_request(
            "An account for an existing DID is created with a service token (createAccount)",
        ));
    }
    let password = input
        .password
        .as_deref()
        .ok_or_else(|| XrpcError::invalid_request("Password is required"))?;
    let handle = check_handle(&input.handle, &state.config.service_handle_domains)?;
    if state
        .accounts
        .account_by_handle(handle.as_str())
        .await
        .map_err(XrpcError::internal)?
        .is_some()
    {
        return Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "HandleNotAvailable",
            "Handle already taken",
        ));
    }
    let mut rotation_keys = Vec::new();
    if let Some(recovery) = &input.recovery_key {
        let key = crate::crypto::PublicKey::from_did_key(recovery)
            .map_err(|e| XrpcError::invalid_request(format!("recoveryKey: {e}")))?;
        rotation_keys.push(key);
    }
    rotation_keys.push(state.plc_rotation_key.public_key());
    let signing_key = Keypair::generate(Algorithm::K256).map_err(XrpcError::internal)?;
    let (did, op) = create_genesis(
        &AtprotoPlcParams {
            signing_key: signing_key.public_key(),
            handle: handle.clone(),
            pds_endpoint: state.config.public_url.clone(),
            rotation_keys,
        },
        &state.plc_rotation_key,
    )
    .map_err(|e| XrpcError::invalid_request(e.to_string()))?;
    let now = state.sessions.now();
    // The account row first: it consumes the invite code and claims the handle and email, so a
    // refused request never reaches the PLC directory.
    let account = create_account(
        &state.accounts,
        &CreateAccount {
            did: did.as_str(),
            handle: handle.as_str(),
            email: input.email.as_deref(),
            password,
            signing_key: &signing_key,
            invite_code: input.invite_code.as_deref(),
            invite_required: state.config.invite_required,
            deactivated: false,
        },
        now,
    )
    .await?;
    if let Err(e) = state.plc.submit(&did, &op).await {
        undo(state, did.as_str()).await;
        return Err(XrpcError::new(
            StatusCode::BAD_GATEWAY,
            "UpstreamFailure",
            format!("The PLC directory refused the new identity: {e}"),
        ));
    }
    if let Err(e) = state
        .repos
        .create_repo(
            &did,
            &signing_key,
            Announce::NewAccount {
                handle: Some(handle.as_str()),
            },
        )
        .await
    {
        undo(state, did.as_str()).await;
        return Err(e.into());
    }
    Ok(account)
}

/// The bearer token of the request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The method a migration's service token must be bound to.
const CREATE_ACCOUNT: &str = "com.atproto.server.createAccount";

/// Creates the account of `did`, which moves here from another host: checks `service_token` (see
/// the module comment), then stores the account deactivated with the key reserved for `did` (or a
/// fresh one) and no repository. The DID document is not touched: the account's old host signs the PLC operation
/// that points it here.
pub async fn create_migrating(
    state: &NodeState,
    input: &Input,
    did: &str,
    service_token: Option<&str>,
) -> Result<Account, XrpcError> {
    let did = Did::parse(did).map_err(|e| XrpcError::invalid_request(format!("did: {e}")))?;
    let token = service_token.ok_or_else(|| {
        XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Creating an account for an existing DID needs a service token from its current host",
        )
    })?;
    let bad_token =
        |message: String| XrpcError::new(StatusCode::UNAUTHORIZED, "InvalidToken", message);
    let token = ServiceToken::parse(token).map_err(|e| bad_token(e.to_string()))?;
    if token.issuer() != did.as_str() {
        return Err(bad_token(format!(
            "service token issued by {}, expected {did}",
            token.issuer()
        )));
    }
    let password = input
        .password
        .as_deref()
        .ok_or_else(|| XrpcError::invalid_request("Password is required"))?;
    let handle = check_handle(&input.handle, &state.config.service_handle_domains)?;
    let document = state.identity.resolve_did(&did).await.map_err(|e| {
        XrpcError::invalid_request(format!("Could not resolve the DID document of {did}: {e}"))
    })?;
    let key = document.signing_key().ok_or_else(|| {
        XrpcError::invalid_request(format!(
            "The DID document of {did} has no atproto signing key"
        ))
    })?;
    token
        .verify(
            did.as_str(),
            &state.config.service_did(),
            CREATE_ACCOUNT,
            state.sessions.now(),
            &key,
        )
        .map_err(|e| bad_token(e.to_string()))?;
    if state
        .accounts
        .account_by_handle(handle.as_str())
        .await
        .map_err(XrpcError::internal)?
        .is_some()
    {
        return Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "HandleNotAvailable",
            "Handle already taken",
        ));
    }
    // The key reserveSigningKey kept for this DID, which the old host's PLC operation names.
    let signing_key = match state.accounts.reserved_signing_key(did.as_str()).await? {
        Some(reserved) => reserved,
        None => Keypair::generate(Algorithm::K256).map_err(XrpcError::internal)?,
    };
    let account = create_account(
        &state.accounts,
        &CreateAccount {
            did: did.as_str(),
            handle: handle.as_str(),
            email: input.email.as_deref(),
            password,
            signing_key: &signing_key,
            invite_code: input.invite_code.as_deref(),
            invite_required: state.config.invite_required,
            deactivated: true,
        },
        state.sessions.now(),
    )
    .await?;
    Ok(account)
}

/// Removes the account row of a creation that failed half-way.
async fn undo(state: &NodeState, did: &str) {
    if let Err(e) = state.accounts.delete_account(did).await {
        log::error!("could not remove half-created account {did}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_must_fit_the_service_domains() {
        let domains = vec![".test".to_string()];
        assert_eq!(
            check_handle("Alice.test", &domains).unwrap().as_str(),
            "alice.test"
        );
        let too_long = format!("{}.test", "x".repeat(19));
        for bad in [
            "al.test",
            "alice.example",
            "a.bob.test",
            too_long.as_str(),
            "not a handle",
        ] {
            assert!(check_handle(bad, &domains).is_err(), "{bad}");
        }
    }
}
