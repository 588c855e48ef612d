//! The OAuth authorization server of the atproto OAuth profile, and the DPoP checks the resource
//! server (XRPC) makes — built so that **any node of a cluster verifies any request**: DPoP nonces
//! are derived from a secret the nodes share ([`nonce`]), access tokens are JWTs signed with the
//! cluster's key ([`token`]), every single-use step is a conditional statement on the shared
//! database ([`crate::storage::OAuthStore`]), and the proof replay cache lives in memory only for a
//! node-private hostname ([`replay`]).
//!
//! This room calls [`crate::storage`] (its rows and the cluster secrets), [`crate::auth`] (password
//! logins on the consent page), [`crate::crypto`] (keys and thumbprints) and
//! [`crate::identity`]'s HTTP settings; [`crate::http`] routes to its endpoints and asks it to
//! authenticate DPoP-bound XRPC calls.

pub mod client;
pub mod device;
pub mod dpop;
pub mod endpoints;
mod error;
pub mod form;
pub mod jws;
pub mod nonce;
pub mod permission_set;
pub mod random;
pub mod replay;
pub mod request;
pub mod resource;
pub mod scope;
pub mod server;
pub mod token;

pub use error::OAuthError;
pub use resource::OAuthAccess;
pub use server::OAuthServer;
