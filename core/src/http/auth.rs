//! Who is calling: the extractors handlers use to require a legacy session access token
//! (`Authorization: Bearer <jwt>`). OAuth (DPoP-bound tokens) will join here.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use super::{AppState, XrpcError};
use crate::auth::AuthContext;

/// A caller holding a valid access token (full or app-password scope).
pub struct AccessAuth(pub AuthContext);

fn bearer(parts: &Parts) -> Result<&str, XrpcError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            XrpcError::new(
                StatusCode::UNAUTHORIZED,
                "AuthenticationRequired",
                "Authentication Required",
            )
        })?
        .to_str()
        .map_err(|_| XrpcError::new(StatusCode::BAD_REQUEST, "InvalidToken", "Malformed token"))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        XrpcError::new(StatusCode::BAD_REQUEST, "InvalidToken", "Malformed token")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Unexpected authorization type",
        ));
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for AccessAuth {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, XrpcError> {
        let token = bearer(parts)?;
        let ctx = state.sessions.verify_access(token)?;
        Ok(AccessAuth(ctx))
    }
}

/// The raw bearer token of a request (for refreshSession / deleteSession, which take the refresh token).
pub struct BearerToken(pub String);

impl FromRequestParts<AppState> for BearerToken {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, XrpcError> {
        bearer(parts).map(|t| BearerToken(t.to_owned()))
    }
}
