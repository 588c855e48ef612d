//! POST `/oauth/token`: the `authorization_code` and `refresh_token` grants. Every token request
//! carries a DPoP proof (with the cluster's nonce), and the client authenticates as it did when the
//! session started.
//!
//! - A code is consumed by one conditional DELETE; a code that is not found — never issued, or
//!   already used — revokes the session it created, if any (a replayed code means it leaked).
//!   The PKCE verifier (S256), the redirect URI and the DPoP key (`dpop_jkt` of the request, or the
//!   first proof's key) must match.
//! - A refresh token is `ref-<session id>.<secret>`; the session keeps the secret's hash. It is
//!   rotated by one conditional UPDATE, so two concurrent refreshes cannot both win; presenting a
//!   secret that is no longer current (a reused refresh token, or the loser of a race) revokes the
//!   whole session.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{form, no_store_json};
use crate::http::AppState;
use crate::oauth::client::auth::{authenticate, ClientAuth};
use crate::oauth::client::ClientMetadata;
use crate::oauth::dpop::DpopProof;
use crate::oauth::form::Params;
use crate::oauth::random::{constant_time_eq, is_id, random_id};
use crate::oauth::request::AuthorizationParams;
use crate::oauth::token::{AccessTokenClaims, Confirmation, ACCESS_TOKEN_TTL_SECS};
use crate::oauth::OAuthError;
use crate::storage::oauth_store::{OAuthSessionRow, SessionRotation};

/// How long a public client's session lasts, in seconds (2 weeks).
pub const PUBLIC_SESSION_SECS: i64 = 14 * 24 * 3600;
/// How long a confidential client's session lasts, in seconds (about 2 years).
pub const CONFIDENTIAL_SESSION_SECS: i64 = 730 * 24 * 3600;
/// How long a confidential client's refresh token lasts unused, in seconds (90 days).
pub const CONFIDENTIAL_REFRESH_SECS: i64 = 90 * 24 * 3600;

/// POST handler.
pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match exchange(&state, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn exchange(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let oauth = &state.oauth;
    let params = form(headers, body)?;
    let proof = oauth
        .check_proof(headers, "POST", "/oauth/token", None)
        .await?
        .ok_or_else(OAuthError::missing_dpop_proof)?;
    let client = oauth.clients.resolve(params.required("client_id")?).await?;
    let now = oauth.now();
    let client_auth = authenticate(&client, &params, &oauth.issuer, &oauth.replay, now).await?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect());
    match params.required("grant_type")? {
        "authorization_code" => {
            code_grant(
                state,
                &params,
                &client,
                &client_auth,
                &proof,
                user_agent,
                now,
            )
            .await
        }
        "refresh_token" if client.refresh_token_grant => {
            refresh_grant(state, &params, &client, &client_auth, &proof, now).await
        }
        "refresh_token" => Err(OAuthError::InvalidGrant(
            "\"refresh_token\" grant type is not allowed for this client".into(),
        )),
        other => Err(OAuthError::UnsupportedGrantType(format!(
            "Grant type \"{other}\" is not supported by the server"
        ))),
    }
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Splits `ref-<session id>.<secret>`.
fn parse_refresh(token: &str) -> Option<(&str, &str)> {
    let (sid, secret) = token.strip_prefix("ref-")?.split_once('.')?;
    (is_id::<16>(sid, "ses-") && is_id::<32>(secret, "")).then_some((sid, secret))
}

#[allow(clippy::too_many_arguments)]
async fn code_grant(
    state: &AppState,
    params: &Params,
    client: &ClientMetadata,
    client_auth: &ClientAuth,
    proof: &DpopProof,
    user_agent: Option<String>,
    now: i64,
) -> Result<Response, OAuthError> {
    let oauth = &state.oauth;
    let code = params.required("code")?;
    let Some(request) = oauth.store.consume_code(code).await? else {
        if oauth.store.delete_session_by_code(code).await? {
            log::warn!(
                "oauth: a used authorization code was presented again; its session is revoked"
            );
        }
        return Err(OAuthError::InvalidGrant("Invalid code".into()));
    };
    if request.expires_at <= now {
        return Err(OAuthError::InvalidGrant("This code has expired".into()));
    }
    if request.client_id != client.client_id {
        return Err(OAuthError::InvalidGrant(
            "Code was not issued to this client".into(),
        ));
    }
    client_auth.require_same_as(&ClientAuth::from_json(&request.client_auth)?)?;
    let parameters = AuthorizationParams::from_json(&request.parameters)?;
    let jkt = match &parameters.dpop_jkt {
        Some(jkt) if *jkt != proof.jkt => {
            return Err(OAuthError::InvalidGrant(
                "DPoP proof does not match the expected JKT".into(),
            ))
        }
        Some(jkt) => jkt.clone(),
        None => proof.jkt.clone(),
    };
    if params.get("redirect_uri")? != Some(parameters.redirect_uri.as_str()) {
        return Err(OAuthError::InvalidGrant(
            "The redirect_uri parameter must match the one used in the authorization request"
                .into(),
        ));
    }
    let verifier = params
        .get("code_verifier")?
        .ok_or_else(|| OAuthError::InvalidGrant("code_verifier is required".into()))?;
    if !(43..=128).contains(&verifier.len())
        || !verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return Err(OAuthError::InvalidGrant("Invalid code_verifier".into()));
    }
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !constant_time_eq(challenge.as_bytes(), parameters.code_challenge.as_bytes()) {
        return Err(OAuthError::InvalidGrant("Invalid code_verifier".into()));
    }
    let did = request
        .did
        .ok_or_else(|| OAuthError::Internal("an approved request without an account".into()))?;
    require_active(state, &did).await?;
    let (session_secs, refresh_secs) = lifetimes(client);
    let sid = random_id::<16>("ses-")?;
    let secret = random_id::<32>("")?;
    let token_id = random_id::<16>("tok-")?;
    let session = OAuthSessionRow {
        id: sid.clone(),
        did,
        client_id: client.client_id.clone(),
        client_auth: client_auth.to_json(),
        dpop_jkt: jkt,
        scope: parameters.scope.clone(),
        code: code.to_owned(),
        refresh_hash: hash(&secret),
        token_id,
        device_id: request.device_id,
        user_agent,
        created_at: now,
        updated_at: now,
        refresh_expires_at: now + refresh_secs.min(session_secs),
        expires_at: now + session_secs,
    };
    oauth.store.insert_session(&session).await?;
    let refresh = client
        .refresh_token_grant
        .then(|| format!("ref-{sid}.{secret}"));
    respond(state, &session, refresh, now)
}

async fn refresh_grant(
    state: &AppState,
    params: &Params,
    client: &ClientMetadata,
    client_auth: &ClientAuth,
    proof: &DpopProof,
    now: i64,
) -> Result<Response, OAuthError> {
    let oauth = &state.oauth;
    let invalid = || OAuthError::InvalidGrant("Invalid refresh token".into());
    let (sid, secret) = parse_refresh(params.required("refresh_token")?).ok_or_else(invalid)?;
    let mut session = oauth.store.session(sid).await?.ok_or_else(invalid)?;
    if session.client_id != client.client_id {
        return Err(OAuthError::InvalidGrant(
            "Token was not issued to this client".into(),
        ));
    }
    client_auth.require_same_as(&ClientAuth::from_json(&session.client_auth)?)?;
    if session.dpop_jkt != proof.jkt {
        return Err(OAuthError::InvalidGrant(
            "DPoP proof does not match the expected JKT".into(),
        ));
    }
    let old_hash = hash(secret);
    if !constant_time_eq(&old_hash, &session.refresh_hash) {
        oauth.store.delete_session(sid).await?;
        log::warn!("oauth: a used refresh token was presented again; its session is revoked");
        return Err(OAuthError::InvalidGrant("Refresh token replayed".into()));
    }
    if session.expires_at <= now || session.refresh_expires_at <= now {
        oauth.store.delete_session(sid).await?;
        return Err(OAuthError::InvalidGrant("Refresh token expired".into()));
    }
    require_active(state, &session.did).await?;
    let (_, refresh_secs) = lifetimes(client);
    let next_secret = random_id::<32>("")?;
    let next_hash = hash(&next_secret);
    let token_id = random_id::<16>("tok-")?;
    let rotated = oauth
        .store
        .rotate_session(&SessionRotation {
            id: sid,
            old_refresh_hash: &old_hash,
            new_refresh_hash: &next_hash,
            new_token_id: &token_id,
            now,
            refresh_expires_at: now + refresh_secs,
        })
        .await?;
    if !rotated {
        oauth.store.delete_session(sid).await?;
        return Err(OAuthError::InvalidGrant("Refresh token replayed".into()));
    }
    session.token_id = token_id;
    session.updated_at = now;
    respond(
        state,
        &session,
        Some(format!("ref-{sid}.{next_secret}")),
        now,
    )
}

fn lifetimes(client: &ClientMetadata) -> (i64, i64) {
    if client.is_confidential() {
        (CONFIDENTIAL_SESSION_SECS, CONFIDENTIAL_REFRESH_SECS)
    } else {
        (PUBLIC_SESSION_SECS, PUBLIC_SESSION_SECS)
    }
}

async fn require_active(state: &AppState, did: &str) -> Result<(), OAuthError> {
    match state.oauth.accounts.account_by_did(did).await? {
        Some(account) if account.is_active() => Ok(()),
        _ => Err(OAuthError::InvalidGrant("Account is not active".into())),
    }
}

fn respond(
    state: &AppState,
    session: &OAuthSessionRow,
    refresh_token: Option<String>,
    now: i64,
) -> Result<Response, OAuthError> {
    let oauth = &state.oauth;
    let exp = (now + ACCESS_TOKEN_TTL_SECS).min(session.expires_at);
    let access = oauth.signer.sign(&AccessTokenClaims {
        iss: oauth.issuer.clone(),
        aud: oauth.signer.audience().to_owned(),
        sub: session.did.clone(),
        client_id: session.client_id.clone(),
        scope: session.scope.clone(),
        jti: session.token_id.clone(),
        iat: now,
        exp,
        cnf: Confirmation {
            jkt: session.dpop_jkt.clone(),
        },
    })?;
    let mut body = json!({
        "access_token": access,
        "token_type": "DPoP",
        "expires_in": exp - now,
        "scope": session.scope,
        "sub": session.did,
    });
    if let Some(refresh) = refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    Ok(no_store_json(StatusCode::OK, body))
}
