//! OAuth access tokens (RFC 9068 `at+jwt`), signed ES256 with the cluster's OAuth key, which every
//! node reads from the shared database, so any node verifies any token with no round trip. Claims:
//! `iss` (the issuer), `aud` (this server's DID), `sub` (the account), `client_id`, `scope`,
//! `cnf.jkt` (the DPoP key the token is bound to), `jti`, `iat`, `exp` (at most
//! [`ACCESS_TOKEN_TTL_SECS`] later).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{jws, OAuthError};
use crate::crypto::{Algorithm, Keypair};
use crate::syntax::is_valid_did;

/// The `typ` of access tokens.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// How long an access token lives, in seconds (15 minutes).
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;
/// How far the clocks of two nodes may disagree, in seconds.
pub const CLOCK_LEEWAY_SECS: i64 = 30;

/// The `cnf` claim: the key the token is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 thumbprint of the DPoP key.
    pub jkt: String,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The issuer (the authorization server's URL).
    pub iss: String,
    /// The audience (this server's DID).
    pub aud: String,
    /// The account.
    pub sub: String,
    /// The client.
    pub client_id: String,
    /// The granted scope.
    pub scope: String,
    /// The token id.
    pub jti: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// The DPoP key binding.
    pub cnf: Confirmation,
}

/// Signs and verifies access tokens with the cluster's key.
#[derive(Clone, Debug)]
pub struct TokenSigner {
    key: Keypair,
    kid: String,
    issuer: String,
    audience: String,
}

impl TokenSigner {
    /// A signer with `key` (P-256), for tokens issued by `issuer` to the audience `audience`.
    pub fn new(key: Keypair, issuer: &str, audience: &str) -> Result<TokenSigner, OAuthError> {
        if key.algorithm() != Algorithm::P256 {
            return Err(OAuthError::Internal("the OAuth key must be P-256".into()));
        }
        Ok(TokenSigner {
            kid: key.public_key().jwk_thumbprint(),
            key,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// The public key that verifies tokens.
    pub fn public_key(&self) -> crate::crypto::PublicKey {
        self.key.public_key()
    }

    /// The issuer tokens carry.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience tokens carry.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The public key set, for `/oauth/jwks`.
    pub fn jwks(&self) -> Value {
        let mut jwk = self.key.public_key().to_jwk().to_value();
        if let Value::Object(m) = &mut jwk {
            m.insert("kid".into(), Value::from(self.kid.as_str()));
            m.insert("alg".into(), Value::from(jws::ES256));
            m.insert("use".into(), Value::from("sig"));
        }
        serde_json::json!({ "keys": [jwk] })
    }

    /// Signs an access token.
    pub fn sign(&self, claims: &AccessTokenClaims) -> Result<String, OAuthError> {
        let mut header = Map::new();
        header.insert("typ".into(), Value::from(ACCESS_TOKEN_TYP));
        header.insert("kid".into(), Value::from(self.kid.as_str()));
        let payload = serde_json::to_value(claims)
            .map_err(|e| OAuthError::Internal(format!("access token claims: {e}")))?;
        jws::sign_es256(&self.key, header, &payload)
            .map_err(|e| OAuthError::Internal(format!("signing an access token: {e}")))
    }

    /// Verifies an access token at `now`: signature by the cluster key, `typ`, `alg`, `kid`,
    /// issuer, audience, subject, times. Revocation is the caller's next check.
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessTokenClaims, OAuthError> {
        let invalid = |m: &str| OAuthError::InvalidToken(m.to_owned());
        let parsed = jws::parse(token).map_err(|_| invalid("Malformed token"))?;
        if parsed.typ() != Some(ACCESS_TOKEN_TYP)
            || parsed.header.get("kid").and_then(Value::as_str) != Some(self.kid.as_str())
        {
            return Err(invalid("Invalid token"));
        }
        parsed
            .verify_es256(&self.key.public_key())
            .map_err(|_| invalid("Invalid token"))?;
        let claims: AccessTokenClaims = parsed.claims().map_err(|_| invalid("Malformed token"))?;
        if claims.iss != self.issuer || claims.aud != self.audience {
            return Err(invalid("Invalid token audience"));
        }
        if !is_valid_did(&claims.sub) || claims.exp <= claims.iat {
            return Err(invalid("Malformed token"));
        }
        if claims.iat > now.saturating_add(CLOCK_LEEWAY_SECS) {
            return Err(invalid("Token issued in the future"));
        }
        if now >= claims.exp {
            return Err(invalid("Token expired"));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn signer() -> TokenSigner {
        TokenSigner::new(
            Keypair::generate(Algorithm::P256).unwrap(),
            "https://pds.example.com",
            "did:web:pds.example.com",
        )
        .unwrap()
    }

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://pds.example.com".into(),
            aud: "did:web:pds.example.com".into(),
            sub: "did:plc:alice".into(),
            client_id: "http://localhost".into(),
            scope: "atproto transition:generic".into(),
            jti: "tok-1".into(),
            iat: NOW,
            exp: NOW + ACCESS_TOKEN_TTL_SECS,
            cnf: Confirmation { jkt: "abc".into() },
        }
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let s = signer();
        let token = s.sign(&claims()).unwrap();
        assert_eq!(s.verify(&token, NOW + 10).unwrap(), claims());
        assert_eq!(
            s.verify(&token, NOW + ACCESS_TOKEN_TTL_SECS)
                .unwrap_err()
                .code(),
            "invalid_token"
        );
        assert!(s.verify(&token, NOW - 3600).is_err());
        let jwks = s.jwks();
        assert_eq!(jwks["keys"][0]["crv"], "P-256");
        assert!(jwks["keys"][0].get("d").is_none());
    }

    #[test]
    fn foreign_keys_issuers_and_audiences_are_refused() {
        let s = signer();
        let other = signer();
        assert!(other.verify(&s.sign(&claims()).unwrap(), NOW).is_err());
        for bad in [
            AccessTokenClaims {
                iss: "https://evil.example".into(),
                ..claims()
            },
            AccessTokenClaims {
                aud: "did:web:other".into(),
                ..claims()
            },
            AccessTokenClaims {
                sub: "alice".into(),
                ..claims()
            },
            AccessTokenClaims {
                exp: NOW - 1,
                ..claims()
            },
        ] {
            assert!(s.verify(&s.sign(&bad).unwrap(), NOW).is_err());
        }
        assert!(TokenSigner::new(
            Keypair::generate(Algorithm::K256).unwrap(),
            "https://x",
            "did:web:x"
        )
        .is_err());
        // A legacy HS256 session token is not an OAuth token.
        let legacy = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(s.verify(legacy, NOW).is_err());
    }
}
