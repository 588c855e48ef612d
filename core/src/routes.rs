//! The router: every path the node serves, wired to its handler in [`crate::xrpc`], [`crate::oauth`]
//! or [`crate::http::status_page`], plus the middleware every response passes through (CORS and the
//! cluster's DPoP nonce). It only wires: handlers never import it. [`crate::node`] builds it at start.

use axum::extract::DefaultBodyLimit;
use axum::extract::OriginalUri;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};

use crate::http::{status_page, AppState, XrpcError};
use crate::xrpc;

/// The node's router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(status_page::status_page))
        .route("/xrpc/_health", get(health))
        .route(
            "/xrpc/com.atproto.server.describeServer",
            get(xrpc::server::describe_server::handle),
        )
        .route(
            "/.well-known/atproto-did",
            get(xrpc::identity::well_known::handle),
        )
        .route(
            "/xrpc/com.atproto.identity.resolveHandle",
            query(xrpc::identity::resolve_handle::handle),
        )
        .route(
            "/xrpc/com.atproto.identity.resolveDid",
            query(xrpc::identity::resolve_did::handle),
        )
        .route(
            "/xrpc/com.atproto.identity.resolveIdentity",
            query(xrpc::identity::resolve_identity::handle),
        )
        .route(
            "/xrpc/com.atproto.identity.refreshIdentity",
            procedure(xrpc::identity::refresh_identity::handle),
        )
        .route(
            "/xrpc/com.atproto.identity.updateHandle",
            procedure(xrpc::identity::update_handle::handle),
        )
        .route(
            "/xrpc/com.atproto.identity.getRecommendedDidCredentials",
            query(xrpc::identity::get_recommended_did_credentials::handle),
        )
        .route(
            "/xrpc/com.atproto.identity.requestPlcOperationSignature",
            procedure(xrpc::identity::request_plc_operation_signature::handle),
        )
        .route(
            "/xrpc/com.atproto.identity.signPlcOperation",
            procedure(xrpc::identity::sign_plc_operation::handle),
        )
        .route(
            "/xrpc/com.atproto.identity.submitPlcOperation",
            procedure(xrpc::identity::submit_plc_operation::handle),
        )
        .route(
            "/xrpc/com.atproto.server.activateAccount",
            procedure(xrpc::server::account_status::activate),
        )
        .route(
            "/xrpc/com.atproto.server.deactivateAccount",
            procedure(xrpc::server::account_status::deactivate),
        )
        .route(
            "/xrpc/com.atproto.server.checkAccountStatus",
            query(xrpc::server::account_status::check),
        )
        .route(
            "/xrpc/com.atproto.server.createAccount",
            procedure(xrpc::server::create_account::handle),
        )
        .route(
            "/xrpc/com.atproto.server.createSession",
            procedure(xrpc::server::create_session::handle),
        )
        .route(
            "/xrpc/com.atproto.server.requestAccountDelete",
            procedure(xrpc::server::delete_account::request),
        )
        .route(
            "/xrpc/com.atproto.server.deleteAccount",
            procedure(xrpc::server::delete_account::delete),
        )
        .route(
            "/xrpc/com.atproto.server.getServiceAuth",
            query(xrpc::server::get_service_auth::handle),
        )
        .route(
            "/xrpc/com.atproto.server.getSession",
            query(xrpc::server::get_session::handle),
        )
        .route(
            "/xrpc/com.atproto.server.refreshSession",
            procedure(xrpc::server::refresh_session::handle),
        )
        .route(
            "/xrpc/com.atproto.server.deleteSession",
            procedure(xrpc::server::delete_session::handle),
        )
        .route(
            "/xrpc/com.atproto.server.createAppPassword",
            procedure(xrpc::server::create_app_password::handle),
        )
        .route(
            "/xrpc/com.atproto.server.listAppPasswords",
            query(xrpc::server::list_app_passwords::handle),
        )
        .route(
            "/xrpc/com.atproto.server.revokeAppPassword",
            procedure(xrpc::server::revoke_app_password::handle),
        )
        // com.atproto.repo.* and com.atproto.sync.*
        .route(
            "/xrpc/com.atproto.repo.createRecord",
            post(xrpc::repo::create_record::handle).layer(body_limit()),
        )
        .route(
            "/xrpc/com.atproto.repo.getRecord",
            get(xrpc::repo::get_record::handle),
        )
        .route(
            "/xrpc/com.atproto.repo.listRecords",
            get(xrpc::repo::list_records::handle),
        )
        .route(
            "/xrpc/com.atproto.repo.deleteRecord",
            post(xrpc::repo::delete_record::handle).layer(body_limit()),
        )
        .route(
            "/xrpc/com.atproto.repo.putRecord",
            post(xrpc::repo::put_record::handle).layer(body_limit()),
        )
        .route(
            "/xrpc/com.atproto.repo.applyWrites",
            post(xrpc::repo::apply_writes::handle).layer(body_limit()),
        )
        .route(
            "/xrpc/com.atproto.repo.describeRepo",
            get(xrpc::repo::describe_repo::handle),
        )
        .route(
            "/xrpc/com.atproto.repo.uploadBlob",
            procedure(xrpc::repo::upload_blob::handle),
        )
        .route(
            "/xrpc/com.atproto.repo.importRepo",
            procedure(xrpc::repo::import_repo::handle),
        )
        .route(
            "/xrpc/com.atproto.repo.listMissingBlobs",
            query(xrpc::repo::list_missing_blobs::handle),
        )
        .route(
            "/xrpc/com.atproto.sync.getBlob",
            query(xrpc::sync::get_blob::handle),
        )
        .route(
            "/xrpc/com.atproto.sync.listBlobs",
            query(xrpc::sync::list_blobs::handle),
        )
        .route(
            "/xrpc/com.atproto.sync.getBlocks",
            get(xrpc::sync::get_blocks::handle),
        )
        .route(
            "/xrpc/com.atproto.sync.getLatestCommit",
            get(xrpc::sync::get_latest_commit::handle),
        )
        .route(
            "/xrpc/com.atproto.sync.getRepo",
            get(xrpc::sync::get_repo::handle),
        )
        .route(
            "/xrpc/com.atproto.sync.getRecord",
            get(xrpc::sync::get_record::handle),
        )
        .route(
            "/xrpc/com.atproto.sync.getRepoStatus",
            get(xrpc::sync::get_repo_status::handle),
        )
        .route(
            "/xrpc/com.atproto.sync.listRepos",
            get(xrpc::sync::list_repos::handle),
        )
        .route(
            "/xrpc/com.atproto.sync.subscribeRepos",
            get(xrpc::sync::subscribe_repos::handle),
        )
        // app.bsky.* served here; every other unknown method goes to the proxy.
        .route(
            "/xrpc/app.bsky.actor.getPreferences",
            query(xrpc::app_bsky::get_preferences::handle),
        )
        .route(
            "/xrpc/app.bsky.actor.putPreferences",
            procedure(xrpc::app_bsky::put_preferences::handle),
        )
        .merge(oauth_routes())
        .route(
            "/xrpc/{method}",
            axum::routing::any(xrpc::proxy::pipethrough::handle),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors_and_dpop_nonce,
        ))
        .layer(axum::middleware::from_fn(
            crate::http::drain::drain_unread_body,
        ))
        .with_state(state)
}

/// The OAuth authorization server's routes and the account owner's session methods.
fn oauth_routes() -> Router<AppState> {
    use crate::oauth::endpoints::{authorize, metadata, par, revoke, sessions, token};
    let form_limit = DefaultBodyLimit::max(crate::oauth::form::MAX_FORM_BYTES);
    Router::new()
        .route(
            "/.well-known/oauth-protected-resource",
            get(metadata::protected_resource),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::authorization_server),
        )
        .route("/oauth/jwks", get(metadata::jwks))
        .route("/oauth/par", post(par::handle).layer(form_limit))
        .route(
            "/oauth/authorize",
            get(authorize::show).post(authorize::submit.layer(form_limit)),
        )
        .route("/oauth/token", post(token::handle).layer(form_limit))
        .route("/oauth/revoke", post(revoke::handle).layer(form_limit))
        .route(
            "/xrpc/dev.pocketpds.oauth.listSessions",
            query(sessions::list),
        )
        .route(
            "/xrpc/dev.pocketpds.oauth.revokeSession",
            procedure(sessions::revoke),
        )
}

/// Every response carries the cluster's current `DPoP-Nonce` (RFC 9449 §8.2 and §9) and lets
/// browser-based clients read it; preflight requests are answered here.
async fn cors_and_dpop_nonce(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        axum::http::StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    if let Ok(nonce) = HeaderValue::from_str(&state.oauth.next_nonce()) {
        headers.insert("dpop-nonce", nonce);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("DPoP-Nonce, WWW-Authenticate"),
    );
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "Authorization, Content-Type, DPoP, atproto-proxy, atproto-accept-labelers",
            ),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, POST, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    response
}

/// The body limit of the record-writing methods.
fn body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(xrpc::repo::input::MAX_BODY_BYTES)
}

/// GET `/xrpc/_health`.
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "version": env!("CARGO_PKG_VERSION") }))
}

/// The route of an XRPC query: GET (and HEAD); other methods get 400 `InvalidRequest`.
fn query<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    get(handler).fallback(|method: Method| async move { wrong_method(&method, "GET") })
}

/// The route of an XRPC procedure: POST; other methods get 400 `InvalidRequest`.
fn procedure<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    post(handler).fallback(|method: Method| async move { wrong_method(&method, "POST") })
}

fn wrong_method(method: &Method, expected: &str) -> XrpcError {
    XrpcError::invalid_request(format!(
        "Incorrect HTTP method ({method}) expected {expected}"
    ))
}

async fn not_found(OriginalUri(uri): OriginalUri) -> XrpcError {
    XrpcError::not_found(uri.path())
}
