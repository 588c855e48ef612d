//! What the `com.atproto.identity.*` handlers share: resolving an identity (a local account's
//! handle from the database first), the JSON of a resolved identity, the `#identity` event, and the
//! XRPC errors of identity failures.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::http::{NodeState, XrpcError};
use crate::identity::{IdentityError, VerifiedIdentity};
use crate::repo::writer::event_time;
use crate::storage::events::{self, identity_event, EventKind};
use crate::syntax::{Did, Handle};

/// A handle's DID: a local account's from the database (one taken down does not resolve), none for
/// any other handle under the server's domains, else the network's answer.
pub(crate) async fn resolve_handle(state: &NodeState, handle: &Handle) -> Result<Did, XrpcError> {
    let not_found = || {
        XrpcError::new(
            StatusCode::BAD_REQUEST,
            "HandleNotFound",
            format!("Unable to resolve handle {handle}"),
        )
    };
    if let Some(account) = state.accounts.account_by_handle(handle.as_str()).await? {
        if account.is_taken_down() {
            return Err(not_found());
        }
        return Did::parse(&account.did).map_err(XrpcError::internal);
    }
    if super::resolve_handle::is_service_handle(handle, &state.config.service_handle_domains) {
        return Err(not_found());
    }
    state.identity.resolve_handle(handle).await.map_err(|e| {
        log::debug!("handle {handle} does not resolve: {e}");
        not_found()
    })
}

/// The DID's document, and its handle if that handle resolves back to the DID.
pub(crate) async fn resolve_did(
    state: &NodeState,
    did: &Did,
) -> Result<VerifiedIdentity, XrpcError> {
    let document = state
        .identity
        .resolve_did(did)
        .await
        .map_err(|e| did_error(did, e))?;
    let mut handle = None;
    if let Some(claimed) = document.handle() {
        match resolve_handle(state, &claimed).await {
            Ok(back) if back == *did => handle = Some(claimed),
            Ok(back) => log::debug!("handle {claimed} of {did} names {back} instead"),
            Err(_) => log::debug!("handle {claimed} of {did} does not resolve"),
        }
    }
    Ok(VerifiedIdentity {
        did: did.clone(),
        handle,
        document,
    })
}

/// The identity of `identifier` (a DID or a handle), checked both ways: a handle must be claimed
/// back by its DID's document (else `HandleNotFound`); a DID's handle shows as `handle.invalid`
/// when it does not resolve back.
pub(crate) async fn resolve_identifier(
    state: &NodeState,
    identifier: &str,
) -> Result<VerifiedIdentity, XrpcError> {
    if identifier.starts_with("did:") {
        let did = Did::parse(identifier)
            .map_err(|e| XrpcError::invalid_request(format!("identifier: {e}")))?;
        return resolve_did(state, &did).await;
    }
    let handle = Handle::parse(identifier)
        .map_err(|e| XrpcError::invalid_request(format!("identifier: {e}")))?;
    let did = resolve_handle(state, &handle).await?;
    let verified = resolve_did(state, &did).await?;
    if verified.handle.as_ref() != Some(&handle) {
        return Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "HandleNotFound",
            format!("{did}, which {handle} names, does not claim it back"),
        ));
    }
    Ok(verified)
}

/// `com.atproto.identity.defs#identityInfo`: `{did, handle, didDoc}`.
pub(crate) fn identity_info(identity: &VerifiedIdentity) -> Value {
    json!({
        "did": identity.did.as_str(),
        "handle": identity
            .handle
            .as_ref()
            .map_or("handle.invalid", |h| h.as_str()),
        "didDoc": identity.document.to_json(),
    })
}

/// The XRPC error of a DID that did not resolve.
pub(crate) fn did_error(did: &Did, e: IdentityError) -> XrpcError {
    match e {
        IdentityError::Tombstoned => XrpcError::new(
            StatusCode::BAD_REQUEST,
            "DidDeactivated",
            format!("{did} is deactivated"),
        ),
        IdentityError::NotFound(_) => XrpcError::new(
            StatusCode::BAD_REQUEST,
            "DidNotFound",
            format!("{did} not found"),
        ),
        IdentityError::InvalidPlcDid(_)
        | IdentityError::UnsupportedDidWeb { .. }
        | IdentityError::Syntax(_) => XrpcError::new(
            StatusCode::BAD_REQUEST,
            "DidNotFound",
            format!("{did} cannot be resolved: {e}"),
        ),
        other => XrpcError::new(
            StatusCode::BAD_GATEWAY,
            "UpstreamFailure",
            format!("resolving {did} failed: {other}"),
        ),
    }
}

/// The XRPC error of a PLC directory that failed or refused an operation.
pub(crate) fn plc_error(e: IdentityError) -> XrpcError {
    XrpcError::new(
        StatusCode::BAD_GATEWAY,
        "UpstreamFailure",
        format!("The PLC directory failed: {e}"),
    )
}

/// Appends `#identity` for `did` (with its `handle`) and wakes the firehose and the relays' task.
pub(crate) async fn announce_identity(
    state: &NodeState,
    did: &str,
    handle: Option<&str>,
) -> Result<(), XrpcError> {
    let time = event_time();
    let payload = identity_event(did, handle, &time);
    events::append(
        state.storage.connection(),
        did,
        EventKind::Identity,
        &time,
        &payload,
    )
    .await?;
    state.sequencer.wake();
    state.crawlers.wrote();
    Ok(())
}
