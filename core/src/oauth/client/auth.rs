//! Client authentication at the PAR, token and revocation endpoints: `none` for public clients,
//! `private_key_jwt` (RFC 7523) for confidential ones — an ES256 assertion whose `kid` names one of
//! the client's keys, `iss` and `sub` the client id, `aud` this issuer, a fresh `iat`, and a `jti`
//! used once (recorded in the replay cache). The method and key a session starts with are kept
//! with it, and every later request of the session must authenticate the same way.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ClientMetadata;
use crate::oauth::form::Params;
use crate::oauth::replay::ReplayCache;
use crate::oauth::{jws, OAuthError};

/// The only client assertion type.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How old a client assertion may be, in seconds.
pub const ASSERTION_MAX_AGE_SECS: i64 = 60;

/// How a client authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum ClientAuth {
    /// A public client.
    None,
    /// A confidential client, with the key it used.
    PrivateKeyJwt {
        /// The key id.
        kid: String,
        /// The key's thumbprint.
        jkt: String,
    },
}

impl ClientAuth {
    /// The JSON kept with requests and sessions.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{\"method\":\"none\"}".into())
    }

    /// Reads what [`ClientAuth::to_json`] wrote.
    pub fn from_json(text: &str) -> Result<ClientAuth, OAuthError> {
        serde_json::from_str(text)
            .map_err(|e| OAuthError::Internal(format!("stored client auth: {e}")))
    }

    /// Checks that a later request authenticated as the session started.
    pub fn require_same_as(&self, initial: &ClientAuth) -> Result<(), OAuthError> {
        if self == initial {
            Ok(())
        } else {
            Err(OAuthError::InvalidGrant(
                "The session was initiated with a different client authentication".into(),
            ))
        }
    }
}

/// Authenticates the client of a request whose form is `params`.
pub async fn authenticate(
    client: &ClientMetadata,
    params: &Params,
    issuer: &str,
    replay: &ReplayCache,
    now: i64,
) -> Result<ClientAuth, OAuthError> {
    let invalid = |m: String| OAuthError::InvalidClient(m);
    if params.get("client_id")? != Some(client.client_id.as_str()) {
        return Err(invalid("client_id mismatch".into()));
    }
    let assertion = params.get("client_assertion")?;
    let assertion_type = params.get("client_assertion_type")?;
    if !client.is_confidential() {
        if assertion.is_some() || assertion_type.is_some() {
            return Err(invalid(
                "This client does not authenticate with assertions".into(),
            ));
        }
        return Ok(ClientAuth::None);
    }
    let (Some(assertion), Some(assertion_type)) = (assertion, assertion_type) else {
        return Err(OAuthError::InvalidRequest(
            "client authentication method \"private_key_jwt\" requires a \"client_assertion\""
                .into(),
        ));
    };
    if assertion_type != JWT_BEARER {
        return Err(invalid(format!(
            "Unsupported client_assertion_type \"{assertion_type}\""
        )));
    }
    let parsed = jws::parse(assertion)
        .map_err(|e| invalid(format!("Validation of \"client_assertion\" failed: {e}")))?;
    let kid = parsed
        .header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("\"kid\" required in client_assertion".into()))?;
    let key = client
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| invalid("Unknown client_assertion key".into()))?;
    parsed
        .verify_es256(&key.key)
        .map_err(|e| invalid(format!("Validation of \"client_assertion\" failed: {e}")))?;
    let claims = &parsed.payload;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client.client_id.as_str())
        || text("sub") != Some(client.client_id.as_str())
    {
        return Err(invalid(
            "client_assertion iss and sub must be the client_id".into(),
        ));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(issuer)),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid("client_assertion aud must be the issuer".into()));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("client_assertion iat required".into()))?;
    if iat < now - ASSERTION_MAX_AGE_SECS || iat > now + 30 {
        return Err(invalid(
            "client_assertion is too old or from the future".into(),
        ));
    }
    if let Some(exp) = claims.get("exp") {
        if exp.as_i64().is_none_or(|exp| exp <= now) {
            return Err(invalid("client_assertion expired".into()));
        }
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid("client_assertion jti required".into()))?;
    let replay_key = format!("assertion|{}|{jti}", client.client_id);
    if !replay
        .unique(&replay_key, now + 2 * ASSERTION_MAX_AGE_SECS, now)
        .await?
    {
        return Err(invalid("client_assertion replayed".into()));
    }
    Ok(ClientAuth::PrivateKeyJwt {
        kid: kid.to_owned(),
        jkt: key.key.jwk_thumbprint(),
    })
}
