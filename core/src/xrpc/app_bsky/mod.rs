//! `app.bsky.*` methods the PDS itself answers instead of the AppView: the account's preferences,
//! kept in the shared database. Every other `app.bsky.*` call goes through the proxy
//! ([`crate::xrpc::proxy`]).

pub mod get_preferences;
pub mod put_preferences;

use axum::http::StatusCode;

use crate::auth::AuthContext;
use crate::http::{AppState, XrpcError};

/// The namespace whose preferences these methods keep.
pub const NAMESPACE: &str = "app.bsky";

/// The preference only a session opened with the account password may read or write.
pub const PERSONAL_DETAILS: &str = "app.bsky.actor.defs#personalDetailsPref";

/// Whether a preference of `$type` `pref_type` belongs to the namespace (`app.bsky` or
/// `app.bsky.*`).
pub fn in_namespace(pref_type: &str) -> bool {
    pref_type == NAMESPACE
        || pref_type
            .strip_prefix(NAMESPACE)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('#'))
}

/// Whether `caller` may see and replace a preference of `$type` `pref_type`.
pub fn may_access(caller: &AuthContext, pref_type: &str) -> bool {
    in_namespace(pref_type) && (pref_type != PERSONAL_DETAILS || caller.scope.is_full())
}

/// Refuses OAuth tokens whose scope does not grant `lxm` at the app view (as the reference checks
/// `rpc:` permissions for the preference methods, whose audience is the app view's service).
pub fn require_rpc_scope(
    state: &AppState,
    caller: &AuthContext,
    lxm: &str,
) -> Result<(), XrpcError> {
    let Some(scope) = &caller.oauth else {
        return Ok(());
    };
    let aud = match &state.config.bsky_app_view_did {
        Some(did) => format!("{did}#bsky_appview"),
        None => "did:web:api.bsky.app#bsky_appview".to_owned(),
    };
    if scope.allows_rpc(&aud, lxm) {
        return Ok(());
    }
    Err(XrpcError::new(
        StatusCode::FORBIDDEN,
        "ScopeMissingError",
        format!("Missing required scope \"rpc:{lxm}?aud={aud}\""),
    ))
}
