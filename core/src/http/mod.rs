//! The pieces every HTTP handler shares: the node's [`AppState`], the mapping of errors to XRPC
//! responses ([`XrpcError`]), the auth extractors ([`auth`]), JSON body parsing ([`json_body`]), the
//! status page, the middleware that drains request bodies an error left unread ([`drain`]) and the
//! one that gives a request body a deadline ([`body_deadline`]).
//! Handlers in [`crate::xrpc`] and [`crate::oauth`] use this room; it calls none of them.
//! The router that names every path sits above both, in [`crate::routes`].

pub mod auth;
pub mod body_deadline;
pub mod body_reader;
pub mod client_address;
pub mod drain;
pub mod error;
pub mod json_body;
pub mod listener;
pub mod status_page;

use std::sync::Arc;

pub use error::XrpcError;

use crate::auth::SessionManager;
use crate::config::Config;
use crate::storage::{AccountStore, RepoStore, Storage};

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
    /// Blobs: uploads, the store, and the collection of temporary ones.
    pub blobs: crate::blobs::Blobs,
    /// The firehose.
    pub sequencer: crate::events::Sequencer,
    /// Legacy session tokens.
    pub sessions: SessionManager,
    /// The PLC directory.
    pub plc: crate::identity::PlcClient,
    /// DID and handle resolution for identities hosted elsewhere (public addresses only, cached
    /// handle answers, DNS TXT when the host supplied a resolver).
    pub identity: crate::identity::IdentityResolver,
    /// The server's PLC rotation key (the environment's, or the cluster's, created once).
    pub plc_rotation_key: crate::crypto::Keypair,
    /// The key sealing the secrets stored in the database.
    pub secrets_key: crate::storage::SealingKey,
    /// When the node started, in microseconds since the epoch.
    pub started_at_micros: i64,
    /// The OAuth authorization server and the DPoP checks of XRPC calls.
    pub oauth: crate::oauth::OAuthServer,
    /// The per-node limits of account creation and email sends.
    pub route_limits: crate::auth::RouteLimits,
    /// Mail to account owners (SMTP, the platform's, or the log).
    pub mail: crate::mail::Postman,
    /// Forwarding of calls to other services (the app view, chat, moderation).
    pub proxy: crate::proxy::Proxy,
    /// The relays asked to crawl the server (`PDS_CRAWLERS`).
    pub crawlers: crate::crawlers::Crawlers,
}

/// The state handed to handlers.
pub type AppState = Arc<NodeState>;
