//! POST `/oauth/par`: a pushed authorization request (RFC 9126). The client authenticates, the
//! parameters are validated against its metadata, and the request is stored for
//! [`super::super::request::PAR_EXPIRES_IN_SECS`] under a `request_uri` it may use once. Permission
//! sets (`include:`) are resolved and expanded here ([`crate::oauth::permission_set`]), so a set
//! that cannot be resolved fails the push with `invalid_scope`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{form, no_store_json};
use crate::http::AppState;
use crate::oauth::client::auth::authenticate;
use crate::oauth::permission_set::expand_scope;
use crate::oauth::random::random_id;
use crate::oauth::request::{AuthorizationParams, PAR_EXPIRES_IN_SECS, REQUEST_URI_PREFIX};
use crate::oauth::OAuthError;
use crate::storage::oauth_store::OAuthRequestRow;

/// POST handler.
pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match push(&state, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn push(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let oauth = &state.oauth;
    let params = form(headers, body)?;
    let proof = oauth
        .check_proof(headers, "POST", "/oauth/par", None)
        .await?;
    let client = oauth.clients.resolve(params.required("client_id")?).await?;
    let now = oauth.now();
    let client_auth = authenticate(&client, &params, &oauth.issuer, &oauth.replay, now).await?;
    let mut parameters =
        AuthorizationParams::from_par(&params, &client, proof.as_ref().map(|p| p.jkt.as_str()))?;
    let (scope, sets) = expand_scope(state, &parameters.scope).await?;
    parameters.scope = scope;
    parameters.permission_sets = sets;
    let id = random_id::<16>("req-")?;
    oauth
        .store
        .insert_request(&OAuthRequestRow {
            id: id.clone(),
            client_id: client.client_id.clone(),
            client_auth: client_auth.to_json(),
            parameters: parameters.to_json()?,
            dpop_jkt: parameters.dpop_jkt.clone(),
            device_id: None,
            did: None,
            code: None,
            expires_at: now + PAR_EXPIRES_IN_SECS,
            login_did: None,
        })
        .await?;
    Ok(no_store_json(
        StatusCode::CREATED,
        json!({
            "request_uri": format!("{REQUEST_URI_PREFIX}{id}"),
            "expires_in": PAR_EXPIRES_IN_SECS,
        }),
    ))
}
