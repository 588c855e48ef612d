//! Inter-service tokens (`com.atproto.server.getServiceAuth`): short JWTs signed with the account's
//! repository signing key, by which another service (an AppView, a labeler, a video service) can
//! check that a request comes from the account, as the atproto service-auth scheme describes.

use serde::Serialize;

use super::random::random_bytes;
use super::AuthError;
use crate::crypto::Keypair;
use crate::oauth::jws;

/// The lifetime of a token whose caller did not ask for one, in seconds.
pub const DEFAULT_LIFETIME_SECS: i64 = 60;
/// The longest lifetime of a token bound to one method, in seconds.
pub const MAX_LIFETIME_SECS: i64 = 60 * 60;
/// The longest lifetime of a token bound to no method, in seconds.
pub const MAX_UNBOUND_LIFETIME_SECS: i64 = 60;

/// Methods an app password may not obtain a token for: they act on the account itself.
pub const PROTECTED_METHODS: &[&str] = &[
    "com.atproto.admin.sendEmail",
    "com.atproto.identity.requestPlcOperationSignature",
    "com.atproto.identity.signPlcOperation",
    "com.atproto.identity.updateHandle",
    "com.atproto.server.activateAccount",
    "com.atproto.server.confirmEmail",
    "com.atproto.server.createAppPassword",
    "com.atproto.server.deactivateAccount",
    "com.atproto.server.getAccountInviteCodes",
    "com.atproto.server.getSession",
    "com.atproto.server.listAppPasswords",
    "com.atproto.server.requestAccountDelete",
    "com.atproto.server.requestEmailConfirmation",
    "com.atproto.server.requestEmailUpdate",
    "com.atproto.server.revokeAppPassword",
    "com.atproto.server.updateEmail",
];

/// Why a service token was not issued.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ServiceAuthError {
    /// The requested expiry is in the past.
    #[error("expiration is in past")]
    ExpiryInPast,
    /// The requested expiry is further away than allowed.
    #[error("cannot request a token with an expiration more than {0} seconds in the future")]
    ExpiryTooFar(i64),
    /// A method-less token was asked to live longer than a minute.
    #[error(
        "cannot request a method-less token with an expiration more than a minute in the future"
    )]
    UnboundTooLong,
}

/// What a service token says.
#[derive(Debug, Serialize)]
struct Claims<'a> {
    iat: i64,
    iss: &'a str,
    aud: &'a str,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    lxm: Option<&'a str>,
    jti: String,
}

/// The expiry a token asked for at `now` gets: `requested` if it is allowed, else why not.
pub fn check_expiry(
    now: i64,
    requested: Option<i64>,
    lxm: Option<&str>,
) -> Result<i64, ServiceAuthError> {
    let Some(exp) = requested else {
        return Ok(now + DEFAULT_LIFETIME_SECS);
    };
    let lifetime = exp - now;
    if lifetime < 0 {
        Err(ServiceAuthError::ExpiryInPast)
    } else if lifetime > MAX_LIFETIME_SECS {
        Err(ServiceAuthError::ExpiryTooFar(MAX_LIFETIME_SECS))
    } else if lxm.is_none() && lifetime > MAX_UNBOUND_LIFETIME_SECS {
        Err(ServiceAuthError::UnboundTooLong)
    } else {
        Ok(exp)
    }
}

/// A compact JWS `{"typ":"JWT","alg":ES256K|ES256}` by `iss` for `aud`, valid from `now` until
/// `exp`, bound to the method `lxm` when given, with a random `jti`, signed with `key`.
pub fn create_service_jwt(
    key: &Keypair,
    iss: &str,
    aud: &str,
    lxm: Option<&str>,
    now: i64,
    exp: i64,
) -> Result<String, AuthError> {
    let mut header = serde_json::Map::new();
    header.insert("typ".into(), "JWT".into());
    let claims = Claims {
        iat: now,
        iss,
        aud,
        exp,
        lxm,
        jti: hex::encode(random_bytes::<16>()?),
    };
    let claims =
        serde_json::to_value(&claims).map_err(|e| AuthError::Internal(format!("claims: {e}")))?;
    jws::sign(key, header, &claims).map_err(|e| AuthError::Internal(format!("service token: {e}")))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;
    use crate::crypto::Algorithm;

    fn part(token: &str, index: usize) -> serde_json::Value {
        let text = token.split('.').nth(index).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).unwrap()).unwrap()
    }

    #[test]
    fn tokens_verify_with_the_signing_key_and_carry_the_claims() {
        for alg in [Algorithm::K256, Algorithm::P256] {
            let key = Keypair::generate(alg).unwrap();
            let token = create_service_jwt(
                &key,
                "did:plc:alice",
                "did:web:api.example",
                Some("app.bsky.feed.getTimeline"),
                1000,
                1060,
            )
            .unwrap();
            let (signed, signature) = token.rsplit_once('.').unwrap();
            let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
            key.public_key()
                .verify(signed.as_bytes(), &signature)
                .unwrap();
            assert_eq!(part(&token, 0)["alg"], alg.jwt_alg());
            let claims = part(&token, 1);
            assert_eq!(claims["iss"], "did:plc:alice");
            assert_eq!(claims["aud"], "did:web:api.example");
            assert_eq!(claims["lxm"], "app.bsky.feed.getTimeline");
            assert_eq!(claims["exp"], 1060);
            assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
            let other = Keypair::generate(alg).unwrap();
            assert!(other
                .public_key()
                .verify(signed.as_bytes(), &signature)
                .is_err());
        }
    }

    #[test]
    fn expiry_bounds_follow_the_method_binding() {
        assert_eq!(check_expiry(1000, None, None), Ok(1060));
        assert_eq!(
            check_expiry(1000, Some(999), Some("a.b.c")),
            Err(ServiceAuthError::ExpiryInPast)
        );
        assert_eq!(check_expiry(1000, Some(4600), Some("a.b.c")), Ok(4600));
        assert_eq!(
            check_expiry(1000, Some(4601), Some("a.b.c")),
            Err(ServiceAuthError::ExpiryTooFar(3600))
        );
        assert_eq!(check_expiry(1000, Some(1060), None), Ok(1060));
        assert_eq!(
            check_expiry(1000, Some(1061), None),
            Err(ServiceAuthError::UnboundTooLong)
        );
    }
}
