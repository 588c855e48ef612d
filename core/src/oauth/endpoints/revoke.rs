//! POST `/oauth/revoke` (RFC 7009): a refresh token or an access token of a session ends the whole
//! session, on every node at once (the resource server checks the session of each access token).
//! Unknown or foreign tokens are answered 200 too, as the RFC requires, and change nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{form, no_store_json};
use crate::http::AppState;
use crate::oauth::client::auth::authenticate;
use crate::oauth::OAuthError;

/// POST handler.
pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match revoke(&state, &headers, &body).await {
        Ok(()) => no_store_json(StatusCode::OK, json!({})),
        Err(e) => e.into_response(),
    }
}

async fn revoke(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), OAuthError> {
    let oauth = &state.oauth;
    let params = form(headers, body)?;
    oauth
        .check_proof(headers, "POST", "/oauth/revoke", None)
        .await?;
    let client = oauth.clients.resolve(params.required("client_id")?).await?;
    let now = oauth.now();
    authenticate(&client, &params, &oauth.issuer, &oauth.replay, now).await?;
    let token = params.required("token")?;
    let session = if let Some(rest) = token.strip_prefix("ref-") {
        match rest.split_once('.') {
            Some((sid, _)) => oauth.store.session(sid).await?,
            None => None,
        }
    } else {
        // An access token, even an expired one: find its session by token id.
        match crate::oauth::jws::parse(token) {
            Ok(jws) => match jws.verify_es256(&oauth_key(state)) {
                Ok(()) => match jws.payload.get("jti").and_then(|v| v.as_str()) {
                    Some(jti) => oauth.store.session_by_token_id(jti).await?,
                    None => None,
                },
                Err(_) => None,
            },
            Err(_) => None,
        }
    };
    if let Some(session) = session {
        if session.client_id == client.client_id {
            oauth.store.delete_session(&session.id).await?;
        }
    }
    Ok(())
}

fn oauth_key(state: &AppState) -> crate::crypto::PublicKey {
    state.oauth.signer.public_key()
}
