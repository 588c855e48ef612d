//! `com.atproto.server.deleteSession`: log out by revoking the refresh token in the
//! `Authorization` header (an expired one is accepted, so a client can always log out).

use axum::extract::State;

use crate::http::auth::BearerToken;
use crate::http::{AppState, XrpcError};

/// POST handler: no output. A token already revoked is not an error.
pub async fn handle(
    State(state): State<AppState>,
    BearerToken(token): BearerToken,
) -> Result<(), XrpcError> {
    state.sessions.delete_session(&token).await?;
    Ok(())
}
