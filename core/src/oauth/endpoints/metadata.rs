//! `/.well-known/oauth-protected-resource` (RFC 9728: this server is its own, single,
//! authorization server), `/.well-known/oauth-authorization-server` (RFC 8414, with the atproto
//! profile's requirements) and `/oauth/jwks`.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::http::AppState;

/// GET `/.well-known/oauth-protected-resource`.
pub async fn protected_resource(State(state): State<AppState>) -> Json<Value> {
    let issuer = &state.oauth.issuer;
    Json(json!({
        "resource": issuer,
        "authorization_servers": [issuer],
        "scopes_supported": [],
        "bearer_methods_supported": ["header"],
        "resource_documentation": "https://atproto.com",
    }))
}

/// GET `/.well-known/oauth-authorization-server`.
pub async fn authorization_server(State(state): State<AppState>) -> Json<Value> {
    let oauth = &state.oauth;
    Json(json!({
        "issuer": oauth.issuer,
        "scopes_supported": ["atproto", "transition:email", "transition:generic", "transition:chat.bsky"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "ui_locales_supported": ["en-US"],
        "display_values_supported": ["page", "popup", "touch"],
        "prompt_values_supported": ["login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": true,
        "require_request_uri_registration": true,
        "jwks_uri": oauth.url("/oauth/jwks"),
        "authorization_endpoint": oauth.url("/oauth/authorize"),
        "token_endpoint": oauth.url("/oauth/token"),
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "revocation_endpoint": oauth.url("/oauth/revoke"),
        "pushed_authorization_request_endpoint": oauth.url("/oauth/par"),
        "require_pushed_authorization_requests": true,
        "dpop_signing_alg_values_supported": ["ES256"],
        "protected_resources": [oauth.issuer],
        "client_id_metadata_document_supported": true,
    }))
}

/// GET `/oauth/jwks`: the public key that signs access tokens.
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.oauth.signer.jwks())
}
