//! XRPC handlers, one file per method under a folder per namespace (`server/describe_server.rs` is
//! `com.atproto.server.describeServer`). Handlers parse and check input, call the library rooms
//! (`repo`, `storage`, `auth`, `identity`), and return JSON or an [`crate::http::XrpcError`].

pub mod admin;
pub mod app_bsky;
pub mod identity;
pub mod node;
pub mod proxy;
pub mod repo;
pub mod server;
pub mod sync;
pub mod temp;
