//! Inter-service tokens (`com.atproto.server.getServiceAuth`): short JWTs signed with the account's
//! repository signing key, by which another service (an AppView, a labeler, a video service) can
//! check that a request comes from the account, as the atproto service-auth scheme describes; and
//! the check of such a token another service made for this one ([`ServiceToken`]), as an account
//! moving here brings from its old host to `createAccount`.

use serde::{Deserialize, Serialize};

use super::random::random_bytes;
use super::AuthError;
use crate::crypto::{Keypair, PublicKey};
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

/// Why a service token presented to this server was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ServiceTokenError {
    /// Not a well-formed compact JWS with the claims a service token has.
    #[error("malformed service token: {0}")]
    Malformed(String),
    /// `iss` is not the account the request is about.
    #[error("service token issued by {found}, expected {expected}")]
    WrongIssuer {
        /// The account expected.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// `aud` is not this server.
    #[error("service token is for {found}, not this service ({expected})")]
    WrongAudience {
        /// This server's DID.
        expected: String,
        /// The token's `aud`.
        found: String,
    },
    /// `lxm` is missing or names another method.
    #[error("service token is not bound to {expected} (lxm {found:?})")]
    WrongMethod {
        /// The method called.
        expected: String,
        /// The token's `lxm`.
        found: Option<String>,
    },
    /// `exp` has passed.
    #[error("service token expired")]
    Expired,
    /// The signature does not verify with the issuer's current signing key.
    #[error("service token signature does not verify with the DID document's signing key")]
    BadSignature,
}

/// The claims of a service token presented to this server.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceClaims {
    /// The account (DID) that issued it.
    pub iss: String,
    /// The service it is for.
    pub aud: String,
    /// When it expires (seconds since the epoch).
    pub exp: i64,
    /// The method it is bound to.
    #[serde(default)]
    pub lxm: Option<String>,
}

/// A service token parsed, not yet believed: [`ServiceToken::issuer`] says whose DID document to
/// resolve, [`ServiceToken::verify`] checks everything else.
#[derive(Debug, Clone)]
pub struct ServiceToken {
    jws: jws::Jws,
    claims: ServiceClaims,
}

impl ServiceToken {
    /// Parses a compact JWS and its claims.
    pub fn parse(token: &str) -> Result<ServiceToken, ServiceTokenError> {
        let jws = jws::parse(token).map_err(|e| ServiceTokenError::Malformed(e.to_string()))?;
        let claims: ServiceClaims = jws
            .claims()
            .map_err(|e| ServiceTokenError::Malformed(e.to_string()))?;
        Ok(ServiceToken { jws, claims })
    }

    /// The `iss` claim, unverified.
    pub fn issuer(&self) -> &str {
        &self.claims.iss
    }

    /// Checks that the token was issued by `iss` for `aud`, bound to the method `lxm`, unexpired at
    /// `now`, and signed by `key` (the issuer's current signing key).
    pub fn verify(
        &self,
        iss: &str,
        aud: &str,
        lxm: &str,
        now: i64,
        key: &PublicKey,
    ) -> Result<&ServiceClaims, ServiceTokenError> {
        let c = &self.claims;
        if c.iss != iss {
            return Err(ServiceTokenError::WrongIssuer {
                expected: iss.to_owned(),
                found: c.iss.clone(),
            });
        }
        if c.aud != aud {
            return Err(ServiceTokenError::WrongAudience {
                expected: aud.to_owned(),
                found: c.aud.clone(),
            });
        }
        if c.lxm.as_deref() != Some(lxm) {
            return Err(ServiceTokenError::WrongMethod {
                expected: lxm.to_owned(),
                found: c.lxm.clone(),
            });
        }
        if c.exp <= now {
            return Err(ServiceTokenError::Expired);
        }
        self.jws
            .verify_with(key)
            .map_err(|_| ServiceTokenError::BadSignature)?;
        Ok(c)
    }
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
    fn a_presented_token_verifies_only_with_its_issuer_audience_method_expiry_and_key() {
        let lxm = "com.atproto.server.createAccount";
        for alg in [Algorithm::K256, Algorithm::P256] {
            let key = Keypair::generate(alg).unwrap();
            let public = key.public_key();
            let make = |iss: &str, aud: &str, lxm: Option<&str>, exp: i64| {
                create_service_jwt(&key, iss, aud, lxm, 1000, exp).unwrap()
            };
            let good = make("did:plc:alice", "did:web:here", Some(lxm), 1060);
            let parsed = ServiceToken::parse(&good).unwrap();
            assert_eq!(parsed.issuer(), "did:plc:alice");
            parsed
                .verify("did:plc:alice", "did:web:here", lxm, 1000, &public)
                .unwrap();
            let check = |token: &str, now: i64, key: &PublicKey| {
                ServiceToken::parse(token)
                    .and_then(|t| {
                        t.verify("did:plc:alice", "did:web:here", lxm, now, key)
                            .map(drop)
                    })
                    .unwrap_err()
            };
            assert!(matches!(
                check(
                    &make("did:plc:bob", "did:web:here", Some(lxm), 1060),
                    1000,
                    &public
                ),
                ServiceTokenError::WrongIssuer { .. }
            ));
            assert!(matches!(
                check(
                    &make("did:plc:alice", "did:web:else", Some(lxm), 1060),
                    1000,
                    &public
                ),
                ServiceTokenError::WrongAudience { .. }
            ));
            assert!(matches!(
                check(
                    &make("did:plc:alice", "did:web:here", None, 1060),
                    1000,
                    &public
                ),
                ServiceTokenError::WrongMethod { .. }
            ));
            assert!(matches!(
                check(
                    &make(
                        "did:plc:alice",
                        "did:web:here",
                        Some("com.atproto.repo.importRepo"),
                        1060
                    ),
                    1000,
                    &public
                ),
                ServiceTokenError::WrongMethod { .. }
            ));
            assert_eq!(check(&good, 1060, &public), ServiceTokenError::Expired);
            let other = Keypair::generate(alg).unwrap().public_key();
            assert_eq!(check(&good, 1000, &other), ServiceTokenError::BadSignature);
            let other_curve = match alg {
                Algorithm::K256 => Algorithm::P256,
                Algorithm::P256 => Algorithm::K256,
            };
            let other = Keypair::generate(other_curve).unwrap().public_key();
            assert_eq!(check(&good, 1000, &other), ServiceTokenError::BadSignature);
            assert!(matches!(
                check("not.a.token", 1000, &public),
                ServiceTokenError::Malformed(_)
            ));
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
