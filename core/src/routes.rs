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
            "/xrpc/com.atproto.server.requestEmailConfirmation",
            procedure(xrpc::server::request_email_confirmation::handle),
        )
        .route(
            "/xrpc/com.atproto.server.confirmEmail",
            procedure(xrpc::server::confirm_email::handle),
        )
        .route(
            "/xrpc/com.atproto.server.requestEmailUpdate",
            procedure(xrpc::server::request_email_update::handle),
        )
        .route(
            "/xrpc/com.atproto.server.updateEmail",
            procedure(xrpc::server::update_email::handle),
        )
        .route(
            "/xrpc/com.atproto.server.requestPasswordReset",
            procedure(xrpc::server::request_password_reset::handle),
        )
        .route(
            "/xrpc/com.atproto.server.resetPassword",
            procedure(xrpc::server::reset_password::handle),
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
        // com.atproto.admin.* (HTTP Basic admin password), invite codes and the signup queue
        .route(
            "/xrpc/com.atproto.admin.getAccountInfo",
            query(xrpc::admin::get_account_info::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.getAccountInfos",
            query(xrpc::admin::get_account_infos::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.getInviteCodes",
            query(xrpc::admin::get_invite_codes::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.updateAccountHandle",
            procedure(xrpc::admin::update_account_handle::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.updateAccountEmail",
            procedure(xrpc::admin::update_account_email::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.updateAccountPassword",
            procedure(xrpc::admin::update_account_password::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.deleteAccount",
            procedure(xrpc::admin::delete_account::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.disableAccountInvites",
            procedure(xrpc::admin::disable_account_invites::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.enableAccountInvites",
            procedure(xrpc::admin::enable_account_invites::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.disableInviteCodes",
            procedure(xrpc::admin::disable_invite_codes::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.getSubjectStatus",
            query(xrpc::admin::get_subject_status::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.updateSubjectStatus",
            procedure(xrpc::admin::update_subject_status::handle),
        )
        .route(
            "/xrpc/com.atproto.admin.sendEmail",
            procedure(xrpc::admin::send_email::handle),
        )
        .route(
            "/xrpc/com.atproto.server.createInviteCode",
            procedure(xrpc::server::create_invite_code::handle),
        )
        .route(
            "/xrpc/com.atproto.server.createInviteCodes",
            procedure(xrpc::server::create_invite_codes::handle),
        )
        .route(
            "/xrpc/com.atproto.server.getAccountInviteCodes",
            query(xrpc::server::get_account_invite_codes::handle),
        )
        .route(
            "/xrpc/com.atproto.server.reserveSigningKey",
            procedure(xrpc::server::reserve_signing_key::handle),
        )
        .route(
            "/xrpc/com.atproto.temp.checkSignupQueue",
            query(xrpc::temp::check_signup_queue::handle),
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
            "/xrpc/com.atproto.sync.getCheckout",
            query(xrpc::sync::get_checkout::handle),
        )
        .route(
            "/xrpc/com.atproto.sync.getHead",
            query(xrpc::sync::get_head::handle),
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
        .route(
            "/xrpc/dev.pocketpds.node.getStatus",
            query(xrpc::node::get_status::handle),
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
            primary_deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors_and_dpop_nonce,
        ))
        .layer(axum::middleware::from_fn(
            crate::http::drain::drain_unread_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::body_deadline::limit_body_time,
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

/// A procedure (a write) on a node that follows a primary gets an answer in bounded time when the
/// primary is away: past [`crate::storage::replication::NETWORK_TIMEOUT`], as soon as the node
/// knows the primary is unreachable (the sync loop or another write found out), the request gets
/// 503 `PrimaryUnavailable` naming the cause instead of waiting on a connection that hangs. Commits
/// carry their own time limit; this covers every other write (sessions, OAuth rows, accounts).
/// Reads never wait on the primary.
async fn primary_deadline(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use crate::storage::replication::NETWORK_TIMEOUT;
    use axum::response::IntoResponse;
    if state.storage.mode() == crate::storage::StorageMode::Local
        || request.method() != Method::POST
    {
        return next.run(request).await;
    }
    let replication = std::sync::Arc::clone(state.storage.replication());
    let run = next.run(request);
    tokio::pin!(run);
    let unreachable = async {
        tokio::time::sleep(NETWORK_TIMEOUT).await;
        loop {
            let status = replication.status();
            if !status.reachable {
                return status
                    .last_error
                    .unwrap_or_else(|| "the primary database did not answer in time".to_owned());
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    };
    tokio::select! {
        response = &mut run => response,
        cause = unreachable => XrpcError::from(
            crate::storage::StorageError::PrimaryUnavailable(cause),
        )
        .into_response(),
    }
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
