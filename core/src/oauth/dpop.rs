//! DPoP proofs (RFC 9449) checked as §4.3 lists, in the reference provider's order:
//!
//! 1. one compact JWS of at most [`crate::oauth::jws::MAX_JWS_LEN`] bytes, header `typ`
//!    `dpop+jwt`, `alg` `ES256`, an embedded public `jwk` (P-256; private members refused) that
//!    verifies the signature;
//! 2. `iat` within [`MAX_AGE_SECS`] in the past and [`MAX_FUTURE_SECS`] in the future;
//! 3. a `jti` of at most [`MAX_JTI_LEN`] bytes;
//! 4. `htm` equal to the request method (case-sensitive) and `htu` equal, after syntax-based
//!    normalisation, to the request URL built from the **configured public URL** and the request
//!    path — never from the `Host` header — without query or fragment;
//! 5. a `nonce` that is one of the cluster's current nonces ([`DpopNonces`]), else
//!    `use_dpop_nonce`;
//! 6. at the resource server, `ath` equal to the base64url SHA-256 of the access token; elsewhere
//!    no `ath`.
//!
//! The result carries the key's RFC 7638 thumbprint (`jkt`). Replay (a `jti` seen before) is the
//! caller's next check ([`crate::oauth::replay`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::jws;
use super::nonce::DpopNonces;
use super::OAuthError;
use crate::crypto::{Jwk, PublicKey};

/// The `typ` of DPoP proofs.
pub const DPOP_TYP: &str = "dpop+jwt";
/// How old a proof's `iat` may be, in seconds.
pub const MAX_AGE_SECS: i64 = 60;
/// How far in the future a proof's `iat` may be (clock skew), in seconds.
pub const MAX_FUTURE_SECS: i64 = 60;
/// The longest `jti` accepted, in bytes.
pub const MAX_JTI_LEN: usize = 256;

/// A proof that passed every check but replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    /// Its unique id.
    pub jti: String,
    /// The thumbprint of the key that signed it.
    pub jkt: String,
    /// The method it was made for.
    pub htm: String,
    /// The normalised URL it was made for.
    pub htu: String,
    /// When it was made (seconds since the epoch).
    pub iat: i64,
}

/// What a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct ProofContext<'a> {
    /// The request method.
    pub method: &'a str,
    /// The request URL as the configured public URL plus the request path (query ignored).
    pub url: &'a str,
    /// The access token the request carries (resource server), for `ath`.
    pub access_token: Option<&'a str>,
    /// The current time, in milliseconds since the epoch.
    pub now_ms: u64,
}

/// The base64url SHA-256 of an access token: the `ath` a proof carrying it must have.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Normalises a URL for `htu` comparison: scheme and host lowercased, default port and dot segments
/// removed (syntax- and scheme-based normalisation, RFC 3986 §6.2.2–6.2.3), query and fragment
/// dropped. Refuses URLs that are not http(s) or that carry credentials.
pub fn normalize_htu(text: &str) -> Result<String, OAuthError> {
    let url = url::Url::parse(text)
        .map_err(|_| OAuthError::InvalidDpopProof("DPoP \"htu\" is not a valid URL".into()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OAuthError::InvalidDpopProof(
            "DPoP \"htu\" must not contain credentials".into(),
        ));
    }
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(OAuthError::InvalidDpopProof(
            "DPoP \"htu\" must be http or https".into(),
        ));
    }
    Ok(format!(
        "{}{}",
        url.origin().ascii_serialization(),
        url.path()
    ))
}

/// Checks `proof` against `ctx` and the cluster's nonces (see the module notes).
pub fn verify_proof(
    proof: &str,
    ctx: &ProofContext<'_>,
    nonces: &DpopNonces,
) -> Result<DpopProof, OAuthError> {
    let invalid = |msg: &str| OAuthError::InvalidDpopProof(msg.to_owned());
    let jws =
        jws::parse(proof).map_err(|e| invalid(&format!("Failed to verify DPoP proof: {e}")))?;
    if jws.typ() != Some(DPOP_TYP) {
        return Err(invalid("Failed to verify DPoP proof: unexpected \"typ\""));
    }
    if jws.alg() != Some(jws::ES256) {
        return Err(invalid("Failed to verify DPoP proof: unsupported \"alg\""));
    }
    let jwk_value = jws
        .header
        .get("jwk")
        .ok_or_else(|| invalid("Failed to verify DPoP proof: missing \"jwk\""))?;
    let jwk = Jwk::from_value(jwk_value)
        .map_err(|e| invalid(&format!("Failed to verify DPoP proof: {e}")))?;
    let key = PublicKey::from_jwk(&jwk)
        .map_err(|e| invalid(&format!("Failed to verify DPoP proof: {e}")))?;
    jws.verify_es256(&key)
        .map_err(|e| invalid(&format!("Failed to verify DPoP proof: {e}")))?;

    let claims = &jws.payload;
    let now = i64::try_from(ctx.now_ms / 1000).unwrap_or(i64::MAX);
    let iat = claims
        .get("iat")
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite())
        .ok_or_else(|| invalid("DPoP \"iat\" missing"))? as i64;
    if iat < now.saturating_sub(MAX_AGE_SECS) {
        return Err(invalid("DPoP proof too old (\"iat\")"));
    }
    if iat > now.saturating_add(MAX_FUTURE_SECS) {
        return Err(invalid("DPoP proof issued in the future (\"iat\")"));
    }
    let text = |name: &str| claims.get(name).map(|v| v.as_str().ok_or(()));
    let jti = match text("jti") {
        Some(Ok(jti)) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti.to_owned(),
        _ => return Err(invalid("DPoP \"jti\" missing")),
    };
    let htm = match text("htm") {
        Some(Ok(htm)) if htm == ctx.method => htm.to_owned(),
        _ => return Err(invalid("DPoP \"htm\" mismatch")),
    };
    let htu = match text("htu") {
        Some(Ok(htu)) => normalize_htu(htu)?,
        _ => return Err(invalid("Invalid DPoP \"htu\" type")),
    };
    if htu != normalize_htu(ctx.url)? {
        return Err(invalid("DPoP \"htu\" mismatch"));
    }
    match text("nonce") {
        None => {
            return Err(OAuthError::UseDpopNonce(
                "Authorization server requires nonce in DPoP proof".into(),
            ))
        }
        Some(Err(())) => return Err(invalid("Invalid DPoP \"nonce\" type")),
        Some(Ok(nonce)) if !nonces.check(nonce, ctx.now_ms) => {
            return Err(OAuthError::UseDpopNonce("DPoP \"nonce\" mismatch".into()))
        }
        Some(Ok(_)) => {}
    }
    match (ctx.access_token, text("ath")) {
        (Some(token), Some(Ok(ath))) if ath == access_token_hash(token) => {}
        (Some(_), _) => return Err(invalid("DPoP \"ath\" mismatch")),
        (None, None) => {}
        (None, Some(_)) => return Err(invalid("DPoP \"ath\" claim not allowed")),
    }
    Ok(DpopProof {
        jti,
        jkt: jwk.thumbprint(),
        htm,
        htu,
        iat,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::{Algorithm, Keypair};
    use serde_json::{json, Map};

    pub(crate) const NOW_MS: u64 = 1_700_000_000_000;
    pub(crate) const URL: &str = "https://pds.example.com/xrpc/com.atproto.repo.createRecord";

    pub(crate) fn nonces() -> DpopNonces {
        DpopNonces::new(&[5u8; 32]).unwrap()
    }

    /// A proof signed by `key` with `claims` and the header's members overridden by `header`.
    pub(crate) fn proof_with(key: &Keypair, header: Value, claims: Value) -> String {
        let mut h = Map::new();
        h.insert("typ".into(), json!(DPOP_TYP));
        h.insert("jwk".into(), key.public_key().to_jwk().to_value());
        if let Value::Object(extra) = header {
            h.extend(extra);
        }
        jws::sign_es256(key, h, &claims).unwrap()
    }

    pub(crate) fn good_claims(nonce: &str) -> Value {
        json!({
            "jti": "abc123",
            "htm": "POST",
            "htu": URL,
            "iat": NOW_MS / 1000,
            "nonce": nonce,
        })
    }

    fn ctx() -> ProofContext<'static> {
        ProofContext {
            method: "POST",
            url: URL,
            access_token: None,
            now_ms: NOW_MS,
        }
    }

    fn with(claims: Value, f: impl FnOnce(&mut Map<String, Value>)) -> Value {
        let Value::Object(mut m) = claims else {
            unreachable!()
        };
        f(&mut m);
        Value::Object(m)
    }

    #[test]
    fn a_good_proof_is_accepted_with_its_key_thumbprint() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let n = nonces().next(NOW_MS);
        let proof = proof_with(&key, json!({}), good_claims(&n));
        let checked = verify_proof(&proof, &ctx(), &nonces()).unwrap();
        assert_eq!(checked.jkt, key.public_key().jwk_thumbprint());
        assert_eq!(checked.jti, "abc123");
        assert_eq!(checked.htu, URL);
    }

    #[test]
    fn alg_none_hs256_and_wrong_typ_are_refused() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let n = nonces().next(NOW_MS);
        let payload = jws::tests::b64(good_claims(&n).to_string().as_bytes());
        let jwk = key.public_key().to_jwk().to_value();
        for alg in ["none", "HS256", "ES256K", "RS256"] {
            let head = json!({"typ": DPOP_TYP, "alg": alg, "jwk": jwk});
            let head = jws::tests::b64(head.to_string().as_bytes());
            let signing = format!("{head}.{payload}");
            let proof = format!(
                "{signing}.{}",
                jws::tests::b64(&key.sign(signing.as_bytes()))
            );
            let err = verify_proof(&proof, &ctx(), &nonces()).unwrap_err();
            assert_eq!(err.code(), "invalid_dpop_proof", "{alg}");
        }
        // An HMAC "signature" keyed with the public key's bytes (the classic confusion) is refused.
        let head = jws::tests::b64(
            json!({"typ": DPOP_TYP, "alg": "HS256", "jwk": jwk})
                .to_string()
                .as_bytes(),
        );
        let forged = format!("{head}.{payload}.{}", jws::tests::b64(&[1u8; 32]));
        assert_eq!(
            verify_proof(&forged, &ctx(), &nonces()).unwrap_err().code(),
            "invalid_dpop_proof"
        );
        for typ in ["jwt", "JWT", "at+jwt", "DPOP+JWT"] {
            let proof = proof_with(&key, json!({"typ": typ}), good_claims(&n));
            assert!(verify_proof(&proof, &ctx(), &nonces()).is_err(), "{typ}");
        }
    }

    #[test]
    fn keys_that_are_private_missing_or_not_p256_are_refused() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let n = nonces().next(NOW_MS);
        let mut private = key.public_key().to_jwk().to_value();
        private["d"] = json!(jws::tests::b64(&key.private_bytes()));
        let k256 = Keypair::generate(Algorithm::K256).unwrap();
        let other = Keypair::generate(Algorithm::P256).unwrap();
        for header in [
            json!({"jwk": private}),
            json!({"jwk": null}),
            json!({"jwk": k256.public_key().to_jwk().to_value()}),
            json!({"jwk": other.public_key().to_jwk().to_value()}),
        ] {
            let proof = proof_with(&key, header.clone(), good_claims(&n));
            assert!(verify_proof(&proof, &ctx(), &nonces()).is_err(), "{header}");
        }
    }

    #[test]
    fn htu_and_htm_must_match_the_public_url_and_method() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let n = nonces().next(NOW_MS);
        // Normalisation: case of scheme and host, default port, dot segments, query, fragment.
        for same in [
            "HTTPS://PDS.Example.com/xrpc/com.atproto.repo.createRecord",
            "https://pds.example.com:443/xrpc/com.atproto.repo.createRecord",
            "https://pds.example.com/xrpc/./x/../com.atproto.repo.createRecord",
            "https://pds.example.com/xrpc/com.atproto.repo.createRecord?x=1#y",
        ] {
            let proof = proof_with(
                &key,
                json!({}),
                with(good_claims(&n), |m| {
                    m.insert("htu".into(), json!(same));
                }),
            );
            assert!(verify_proof(&proof, &ctx(), &nonces()).is_ok(), "{same}");
        }
        for other in [
            json!("https://pds.example.com/xrpc/com.atproto.repo.deleteRecord"),
            json!("http://pds.example.com/xrpc/com.atproto.repo.createRecord"),
            json!("https://node1.internal:2583/xrpc/com.atproto.repo.createRecord"),
            json!("https://user:pw@pds.example.com/xrpc/com.atproto.repo.createRecord"),
            json!("ftp://pds.example.com/xrpc/com.atproto.repo.createRecord"),
            json!("not a url"),
            json!(7),
        ] {
            let proof = proof_with(
                &key,
                json!({}),
                with(good_claims(&n), |m| {
                    m.insert("htu".into(), other.clone());
                }),
            );
            let err = verify_proof(&proof, &ctx(), &nonces()).unwrap_err();
            assert_eq!(err.code(), "invalid_dpop_proof", "{other}");
        }
        for method in ["GET", "post", ""] {
            let proof = proof_with(
                &key,
                json!({}),
                with(good_claims(&n), |m| {
                    m.insert("htm".into(), json!(method));
                }),
            );
            assert!(verify_proof(&proof, &ctx(), &nonces()).is_err(), "{method}");
        }
    }

    #[test]
    fn stale_future_or_missing_iat_is_refused() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let n = nonces().next(NOW_MS);
        let now = (NOW_MS / 1000) as i64;
        for iat in [
            json!(now - MAX_AGE_SECS - 1),
            json!(now + MAX_FUTURE_SECS + 1),
            json!(null),
            json!("1700000000"),
            json!(-1),
        ] {
            let proof = proof_with(
                &key,
                json!({}),
                with(good_claims(&n), |m| {
                    m.insert("iat".into(), iat.clone());
                }),
            );
            assert!(verify_proof(&proof, &ctx(), &nonces()).is_err(), "{iat}");
        }
        for iat in [now - MAX_AGE_SECS, now + MAX_FUTURE_SECS] {
            let proof = proof_with(
                &key,
                json!({}),
                with(good_claims(&n), |m| {
                    m.insert("iat".into(), json!(iat));
                }),
            );
            assert!(verify_proof(&proof, &ctx(), &nonces()).is_ok(), "{iat}");
        }
    }

    #[test]
    fn missing_or_foreign_nonces_ask_for_a_nonce() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let missing = proof_with(
            &key,
            json!({}),
            with(good_claims(""), |m| {
                m.remove("nonce");
            }),
        );
        assert_eq!(
            verify_proof(&missing, &ctx(), &nonces())
                .unwrap_err()
                .code(),
            "use_dpop_nonce"
        );
        let foreign = DpopNonces::new(&[6u8; 32]).unwrap().next(NOW_MS);
        let proof = proof_with(&key, json!({}), good_claims(&foreign));
        assert_eq!(
            verify_proof(&proof, &ctx(), &nonces()).unwrap_err().code(),
            "use_dpop_nonce"
        );
        let old = nonces().nonce_for(NOW_MS / 60_000 - 3);
        let proof = proof_with(&key, json!({}), good_claims(&old));
        assert_eq!(
            verify_proof(&proof, &ctx(), &nonces()).unwrap_err().code(),
            "use_dpop_nonce"
        );
    }

    #[test]
    fn ath_must_hash_the_presented_token_and_only_there() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let n = nonces().next(NOW_MS);
        let token = "header.payload.signature";
        let rs = ProofContext {
            access_token: Some(token),
            ..ctx()
        };
        let bound = proof_with(
            &key,
            json!({}),
            with(good_claims(&n), |m| {
                m.insert("ath".into(), json!(access_token_hash(token)));
            }),
        );
        assert!(verify_proof(&bound, &rs, &nonces()).is_ok());
        // At the authorization server, `ath` is not allowed.
        assert!(verify_proof(&bound, &ctx(), &nonces()).is_err());
        let other = proof_with(
            &key,
            json!({}),
            with(good_claims(&n), |m| {
                m.insert("ath".into(), json!(access_token_hash("another.token.x")));
            }),
        );
        assert!(verify_proof(&other, &rs, &nonces()).is_err());
        let none = proof_with(&key, json!({}), good_claims(&n));
        assert!(verify_proof(&none, &rs, &nonces()).is_err());
    }

    #[test]
    fn jti_must_be_a_short_string() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let n = nonces().next(NOW_MS);
        for jti in [
            json!(null),
            json!(""),
            json!(5),
            json!("x".repeat(MAX_JTI_LEN + 1)),
        ] {
            let proof = proof_with(
                &key,
                json!({}),
                with(good_claims(&n), |m| {
                    m.insert("jti".into(), jti.clone());
                }),
            );
            assert!(verify_proof(&proof, &ctx(), &nonces()).is_err());
        }
    }
}
