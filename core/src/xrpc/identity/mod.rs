//! `com.atproto.identity.*` and the `/.well-known/atproto-did` document: handles and DIDs.

pub mod resolve_handle;
pub mod well_known;
