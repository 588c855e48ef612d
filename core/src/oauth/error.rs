//! [`OAuthError`]: why an OAuth request was refused, with the RFC error code (`invalid_grant`,
//! `use_dpop_nonce`, ...), the reference provider's HTTP status, and the `WWW-Authenticate`
//! challenge where one is due. The authorization server answers it as `{"error",
//! "error_description"}` ([`OAuthError::into_response`]); the resource server (XRPC) converts it to
//! an XRPC error with the same challenge ([`crate::http::auth`]).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::storage::StorageError;

/// Why an OAuth request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// A parameter is missing, repeated, malformed or not allowed (`invalid_request`).
    #[error("{0}")]
    InvalidRequest(String),
    /// The client could not be identified or authenticated (`invalid_client`).
    #[error("{0}")]
    InvalidClient(String),
    /// The client's metadata document is unusable (`invalid_client_metadata`).
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// A code, refresh token or PKCE verifier is wrong, used, expired or revoked (`invalid_grant`).
    #[error("{0}")]
    InvalidGrant(String),
    /// The grant type is not one this server supports (`unsupported_grant_type`).
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// A scope is unknown, malformed or not declared by the client (`invalid_scope`).
    #[error("{0}")]
    InvalidScope(String),
    /// The user or the server refused the authorization (`access_denied`).
    #[error("{0}")]
    AccessDenied(String),
    /// The DPoP proof lacks the server's current nonce (`use_dpop_nonce`).
    #[error("{0}")]
    UseDpopNonce(String),
    /// The DPoP proof is missing, malformed, forged, stale, replayed or for another request
    /// (`invalid_dpop_proof`).
    #[error("{0}")]
    InvalidDpopProof(String),
    /// The access token is malformed, forged, expired, revoked, of the wrong type or bound to
    /// another key (`invalid_token`).
    #[error("{0}")]
    InvalidToken(String),
    /// The server cannot take the request now (`temporarily_unavailable`).
    #[error("{0}")]
    TemporarilyUnavailable(String),
    /// The server failed; the detail is logged, not shown (`server_error`).
    #[error("internal: {0}")]
    Internal(String),
}

impl OAuthError {
    /// A proof was required and none came.
    pub fn missing_dpop_proof() -> OAuthError {
        OAuthError::InvalidDpopProof("DPoP proof required".into())
    }

    /// The RFC error code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidClientMetadata(_) => "invalid_client_metadata",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::AccessDenied(_) => "access_denied",
            OAuthError::UseDpopNonce(_) => "use_dpop_nonce",
            OAuthError::InvalidDpopProof(_) => "invalid_dpop_proof",
            OAuthError::InvalidToken(_) => "invalid_token",
            OAuthError::TemporarilyUnavailable(_) => "temporarily_unavailable",
            OAuthError::Internal(_) => "server_error",
        }
    }

    /// The human-readable description (server failures say nothing of their cause).
    pub fn description(&self) -> String {
        match self {
            OAuthError::Internal(_) => "Internal Server Error".to_owned(),
            other => other.to_string(),
        }
    }

    /// The status at the authorization server: 400 for refused requests (`use_dpop_nonce`
    /// included, RFC 9449 §8), 401 for DPoP proofs and tokens (with a challenge), 503 and 500 for
    /// the server's own failures.
    pub fn status(&self) -> StatusCode {
        match self {
            OAuthError::InvalidDpopProof(_) | OAuthError::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            OAuthError::TemporarilyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            OAuthError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The `WWW-Authenticate` challenge of this error, if it has one: `DPoP algs="ES256",
    /// error="…", error_description="…"`. `use_dpop_nonce` gets one too, for the resource server.
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            OAuthError::UseDpopNonce(_)
            | OAuthError::InvalidDpopProof(_)
            | OAuthError::InvalidToken(_) => {
                let description: String = self
                    .description()
                    .chars()
                    .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
                    .collect();
                Some(format!(
                    "DPoP algs=\"ES256\", error=\"{}\", error_description=\"{description}\"",
                    self.code()
                ))
            }
            _ => None,
        }
    }

    /// The response of the authorization server: JSON `{error, error_description}`, not cached,
    /// with the challenge where one is due.
    pub fn into_response(self) -> Response {
        if let OAuthError::Internal(detail) = &self {
            log::error!("oauth: {detail}");
        }
        let status = self.status();
        let challenge = self.www_authenticate();
        let body =
            serde_json::json!({ "error": self.code(), "error_description": self.description() });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        OAuthError::into_response(self)
    }
}

impl From<StorageError> for OAuthError {
    fn from(e: StorageError) -> Self {
        OAuthError::Internal(e.to_string())
    }
}

impl From<crate::auth::AuthError> for OAuthError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError;
        match e {
            AuthError::Storage(s) => OAuthError::Internal(s.to_string()),
            AuthError::Internal(s) => OAuthError::Internal(s),
            other => OAuthError::AccessDenied(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_errors_are_400_at_the_authorization_server_with_a_challenge_for_the_resource_server() {
        let e =
            OAuthError::UseDpopNonce("Authorization server requires nonce in DPoP proof".into());
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.code(), "use_dpop_nonce");
        let challenge = e.www_authenticate().unwrap();
        assert!(challenge.starts_with("DPoP "));
        assert!(challenge.contains("error=\"use_dpop_nonce\""));
    }

    #[test]
    fn challenges_never_carry_quotes_from_descriptions() {
        let e = OAuthError::InvalidDpopProof("bad \"htu\"\r\nInjected: yes".into());
        let challenge = e.www_authenticate().unwrap();
        assert!(HeaderValue::from_str(&challenge).is_ok());
        assert!(!challenge.contains("\"htu\""));
        assert!(!challenge.contains('\n'));
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = OAuthError::Internal("disk on fire".into());
        assert!(!e.description().contains("disk"));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(e.www_authenticate().is_none());
    }
}
