//! Who is calling: the extractors handlers use to require an access token — a legacy session token
//! (`Authorization: Bearer <jwt>`) or an OAuth access token bound to a DPoP key (`Authorization:
//! DPoP <jwt>` with a `DPoP` proof, checked by [`crate::oauth::OAuthServer::authenticate_request`]).
//! An OAuth token presented as `Bearer` is refused. OAuth refusals carry their `WWW-Authenticate`
//! challenge (`use_dpop_nonce` is 401 here, as RFC 9449 §9 has it for resource servers).

use std::sync::Arc;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{AppState, XrpcError};
use crate::auth::{AuthContext, AuthScope};
use crate::oauth::OAuthError;

/// A caller holding a valid access token (full or app-password scope, or OAuth).
pub struct AccessAuth(pub AuthContext);

/// Why a request was not authenticated: the XRPC error, and the challenge of an OAuth refusal.
#[derive(Debug)]
pub struct AuthRejection {
    /// The error body and status.
    pub error: XrpcError,
    /// The `WWW-Authenticate` value, for OAuth refusals.
    pub challenge: Option<String>,
}

impl From<XrpcError> for AuthRejection {
    fn from(error: XrpcError) -> Self {
        AuthRejection {
            error,
            challenge: None,
        }
    }
}

impl From<OAuthError> for AuthRejection {
    fn from(e: OAuthError) -> Self {
        let challenge = e.www_authenticate();
        let status = match &e {
            OAuthError::UseDpopNonce(_)
            | OAuthError::InvalidDpopProof(_)
            | OAuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            other => other.status(),
        };
        let error = if status.is_server_error() {
            XrpcError::new(status, "InternalServerError", e.description())
        } else {
            XrpcError::new(status, e.code(), e.description())
        };
        if let OAuthError::Internal(detail) = &e {
            log::error!("oauth: {detail}");
        }
        AuthRejection { error, challenge }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let mut response = self.error.into_response();
        if let Some(value) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

fn authorization(parts: &Parts) -> Result<(&str, &str), XrpcError> {
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
    Ok((scheme, token.trim()))
}

fn bearer(parts: &Parts) -> Result<&str, XrpcError> {
    let (scheme, token) = authorization(parts)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Unexpected authorization type",
        ));
    }
    Ok(token)
}

/// Whether `token` has the header of this server's OAuth access tokens.
fn looks_like_oauth_token(token: &str) -> bool {
    crate::oauth::jws::parse(token)
        .is_ok_and(|jws| jws.typ() == Some("at+jwt") && jws.alg() == Some("ES256"))
}

impl FromRequestParts<AppState> for AccessAuth {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, AuthRejection> {
        let (scheme, token) = authorization(parts)?;
        if scheme.eq_ignore_ascii_case("dpop") {
            let path = parts
                .extensions
                .get::<OriginalUri>()
                .map(|u| u.0.path().to_owned())
                .unwrap_or_else(|| parts.uri.path().to_owned());
            let access = state
                .oauth
                .authenticate_request(&parts.headers, parts.method.as_str(), &path, token)
                .await?;
            let scope = if access.scope.has_transition_chat() {
                AuthScope::AppPassPrivileged
            } else {
                AuthScope::AppPass
            };
            return Ok(AccessAuth(AuthContext {
                did: access.did,
                scope,
                oauth: Some(Arc::new(access.scope)),
            }));
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(XrpcError::new(
                StatusCode::UNAUTHORIZED,
                "AuthenticationRequired",
                "Unexpected authorization type",
            )
            .into());
        }
        match state.sessions.verify_access(token) {
            Ok(ctx) => Ok(AccessAuth(ctx)),
            Err(_) if looks_like_oauth_token(token) => Err(OAuthError::InvalidToken(
                "Access token is bound to a DPoP proof, but token type is Bearer".into(),
            )
            .into()),
            Err(e) => Err(XrpcError::from(e).into()),
        }
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
