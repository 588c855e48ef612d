//! `com.atproto.identity.*` and the `/.well-known/atproto-did` document: handles and DIDs — resolving
//! them, a new handle, and the PLC operations that move an account's DID between hosts.

pub mod get_recommended_did_credentials;
pub mod refresh_identity;
pub mod request_plc_operation_signature;
pub mod resolve_did;
pub mod resolve_handle;
pub mod resolve_identity;
mod shared;
pub mod sign_plc_operation;
pub mod submit_plc_operation;
pub mod update_handle;
pub mod well_known;
