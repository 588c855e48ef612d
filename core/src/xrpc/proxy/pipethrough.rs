//! `/xrpc/<method>` for methods this server does not implement: forwarded to the service an
//! `atproto-proxy: <did>#<service_id>` header names, or to the configured app view (`app.bsky.*`)
//! or report service (`com.atproto.moderation.createReport`), as the reference PDS's pipethrough
//! does; other methods are 501 `MethodNotImplemented`.
//!
//! Before anything is forwarded: the method must be GET, HEAD or POST; methods that manage the
//! account are never proxied; the caller needs an access token (app passwords do not reach the
//! privileged chat methods, OAuth tokens only the `rpc:` methods their scope grants for that
//! audience); the target must resolve to an endpoint this node may connect to. The upstream gets
//! `Authorization: Bearer <service token>`: `iss` the account, `aud` the service (`<did>#<id>` for
//! a header, the DID for a configured service), `lxm` the method, valid for a minute, signed with
//! the account's repository key. The answers of the account's own reads that show its posts and
//! profile are patched with what the app view has not indexed yet ([`super::read_after_write`]).

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::service_jwt::{create_service_jwt, DEFAULT_LIFETIME_SECS, PROTECTED_METHODS};
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};
use crate::proxy::{read_after_write, ProxyError};
use crate::syntax::Nsid;

/// The name of the header that picks the service.
pub const PROXY_HEADER: &str = "atproto-proxy";

/// Methods an app password without the privileged flag may not call through the proxy (the
/// reference's list: direct messages and account creation elsewhere).
pub const PRIVILEGED_METHODS: &[&str] = &[
    "chat.bsky.actor.deleteAccount",
    "chat.bsky.actor.exportAccountData",
    "chat.bsky.convo.deleteMessageForSelf",
    "chat.bsky.convo.getConvo",
    "chat.bsky.convo.getConvoForMembers",
    "chat.bsky.convo.getLog",
    "chat.bsky.convo.getMessages",
    "chat.bsky.convo.leaveConvo",
    "chat.bsky.convo.listConvos",
    "chat.bsky.convo.muteConvo",
    "chat.bsky.convo.sendMessage",
    "chat.bsky.convo.sendMessageBatch",
    "chat.bsky.convo.unmuteConvo",
    "chat.bsky.convo.updateRead",
    "com.atproto.server.createAccount",
];

/// Any method on `/xrpc/{method}` that no route answers.
pub async fn handle(
    State(state): State<AppState>,
    Path(method): Path<String>,
    request: Request,
) -> Response {
    match forward(&state, &method, request).await {
        Ok(response) => response,
        Err(rejection) => rejection,
    }
}

async fn forward(state: &AppState, method: &str, request: Request) -> Result<Response, Response> {
    let (mut parts, body) = request.into_parts();
    let header = match parts.headers.get(PROXY_HEADER) {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| refuse(ProxyError::BadHeader("not text".into())))?
                .to_owned(),
        ),
        None => None,
    };
    let Ok(lxm) = Nsid::parse(method) else {
        return Err(XrpcError::method_not_implemented(method).into_response());
    };
    let lxm = lxm.as_str().to_owned();
    let proxied_by_default = lxm.starts_with("app.bsky.")
        || lxm.starts_with("chat.bsky.")
        || lxm == "com.atproto.moderation.createReport";
    if header.is_none() && !proxied_by_default {
        return Err(XrpcError::method_not_implemented(&lxm).into_response());
    }
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::POST) {
        return Err(
            XrpcError::invalid_request("XRPC requests only supports GET and POST").into_response(),
        );
    }
    if PROTECTED_METHODS.contains(&lxm.as_str()) {
        return Err(bad_token_method());
    }
    let AccessAuth(auth) = AccessAuth::from_request_parts(&mut parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    auth.require_standard()
        .map_err(|e| XrpcError::from(e).into_response())?;
    if !auth.scope.is_privileged() && PRIVILEGED_METHODS.contains(&lxm.as_str()) {
        return Err(bad_token_method());
    }
    let target = match &header {
        Some(header) => {
            state
                .proxy
                .targets
                .from_header(header, &state.identity)
                .await
        }
        None => state.proxy.targets.default_for(&lxm),
    }
    .map_err(refuse)?;
    if let Some(scope) = &auth.oauth {
        let auds = target.scope_auds();
        if !auds.iter().any(|aud| scope.allows_rpc(aud, &lxm)) {
            return Err(XrpcError::new(
                StatusCode::FORBIDDEN,
                "ScopeMissingError",
                format!(
                    "Missing required scope \"rpc:{lxm}?aud={}\"",
                    auds[auds.len() - 1]
                ),
            )
            .into_response());
        }
    }
    let key = state
        .accounts
        .signing_key(&auth.did)
        .await
        .map_err(|e| XrpcError::from(e).into_response())?
        .ok_or_else(|| {
            XrpcError::internal(format!("no signing key for {}", auth.did)).into_response()
        })?;
    let now = state.sessions.now();
    let token = create_service_jwt(
        &key,
        &auth.did,
        &target.aud(),
        Some(&lxm),
        now,
        now + DEFAULT_LIFETIME_SECS,
    )
    .map_err(|e| XrpcError::from(e).into_response())?;
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| format!("/xrpc/{lxm}"));
    let patched = parts.method == Method::GET && read_after_write::is_patched(&lxm);
    if patched {
        // Answers that may be patched come unencoded (the node's own layers may encode them).
        parts.headers.remove(header::ACCEPT_ENCODING);
    }
    let response = state
        .proxy
        .forward(
            &target,
            parts.method.clone(),
            &path_and_query,
            &parts.headers,
            body,
            &token,
        )
        .await
        .map_err(refuse)?;
    if !patched {
        return Ok(response);
    }
    Ok(super::read_after_write::respond(state, &auth.did, &lxm, parts.uri.query(), response).await)
}

fn bad_token_method() -> Response {
    XrpcError::new(StatusCode::BAD_REQUEST, "InvalidToken", "Bad token method").into_response()
}

/// The XRPC error of a proxy refusal or failure.
fn refuse(e: ProxyError) -> Response {
    let (status, name) = match &e {
        ProxyError::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
        ProxyError::Upstream(_) => (StatusCode::BAD_GATEWAY, "UpstreamFailure"),
        _ => (StatusCode::BAD_REQUEST, "InvalidRequest"),
    };
    XrpcError::new(status, name, e.to_string()).into_response()
}
