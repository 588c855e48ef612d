//! The HTTP server: the router (XRPC under `/xrpc/`, well-known documents, the status page), the
//! shared [`AppState`], and the mapping of errors to XRPC responses ([`XrpcError`]). Handlers live in
//! [`crate::xrpc`], one file per method; this room only wires them.

pub mod auth;
pub mod error;
pub mod json_body;
pub mod status_page;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::OriginalUri;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};

pub use error::XrpcError;

use crate::auth::SessionManager;
use crate::config::Config;
use crate::storage::{AccountStore, RepoStore, Storage};
use crate::xrpc;

/// What every handler can reach.
pub struct NodeState {
    /// The configuration.
    pub config: Config,
    /// The database.
    pub storage: Storage,
    /// Accounts, credentials and invite codes.
    pub accounts: AccountStore,
    /// Repositories: heads, records, commits and the event sequence.
    pub repos: RepoStore,
    /// Legacy session tokens.
    pub sessions: SessionManager,
    /// The PLC directory.
    pub plc: crate::identity::PlcClient,
    /// The server's PLC rotation key (the environment's, or the cluster's, created once).
    pub plc_rotation_key: crate::crypto::Keypair,
    /// The key sealing the secrets stored in the database.
    pub secrets_key: crate::storage::SealingKey,
    /// When the node started, in microseconds since the epoch.
    pub started_at_micros: i64,
}

/// The state handed to handlers.
pub type AppState = Arc<NodeState>;

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
        .route("/xrpc/{method}", axum::routing::any(unknown_method))
        .fallback(not_found)
        .with_state(state)
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

async fn unknown_method(axum::extract::Path(method): axum::extract::Path<String>) -> XrpcError {
    XrpcError::method_not_implemented(&method)
}

async fn not_found(OriginalUri(uri): OriginalUri) -> XrpcError {
    XrpcError::not_found(uri.path())
}
