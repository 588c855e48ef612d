//! Compact JWS with HMAC-SHA256 (`HS256`) and nothing else: the signed tokens of legacy sessions,
//! keyed with the bytes of `PDS_JWT_SECRET` as the reference PDS keys them.
//!
//! Decoding is strict, in this order, before any claim is believed:
//! 1. at most [`MAX_TOKEN_LEN`] bytes;
//! 2. exactly three non-empty segments, each unpadded canonical base64url;
//! 3. a header that is a JSON object with exactly `alg` (which must be `HS256`: `none`, `RS*`,
//!    `ES*` and a missing `alg` are refused) and optionally `typ` — no other member, no duplicates;
//! 4. a 32-byte signature equal, in constant time, to the HMAC of `header.payload`;
//! 5. claims that parse as the caller's type, whose `exp` is after `iat`, which is not expired and
//!    not issued in the future (both with [`CLOCK_LEEWAY_SECS`] of leeway, for clocks of several
//!    nodes).
//!
//! The caller checks `typ`, `scope`, `aud` and the rest: this module knows nothing of sessions.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// How far the clocks of the issuer and the verifier may disagree, in seconds.
pub const CLOCK_LEEWAY_SECS: i64 = 30;
/// The shortest secret accepted, in bytes.
pub const MIN_KEY_LEN: usize = 16;
/// The only algorithm.
const ALG: &str = "HS256";
/// Length of an HMAC-SHA256 tag.
const SIGNATURE_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Why a token was not made or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// The secret is shorter than [`MIN_KEY_LEN`] bytes.
    #[error("JWT secret must be at least {MIN_KEY_LEN} bytes")]
    WeakKey,
    /// The token is longer than [`MAX_TOKEN_LEN`].
    #[error("token too large")]
    TooLarge,
    /// The token is not three base64url segments of the expected JSON.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm other than `HS256` (or none).
    #[error("unsupported token algorithm")]
    UnsupportedAlgorithm,
    /// The signature does not match.
    #[error("bad token signature")]
    BadSignature,
    /// The token is past its `exp`.
    #[error("token expired")]
    Expired,
    /// The token's `iat` is in the future.
    #[error("token issued in the future")]
    IssuedInFuture,
}

/// The times every token carries.
pub trait TimeClaims {
    /// `iat`: when it was issued, in seconds since the UNIX epoch.
    fn issued_at(&self) -> i64;
    /// `exp`: when it expires, in seconds since the UNIX epoch.
    fn expires_at(&self) -> i64;
}

/// An HMAC key. Its bytes never appear in `Debug` output.
#[derive(Clone)]
pub struct JwtKey {
    secret: Vec<u8>,
}

impl JwtKey {
    /// A key of the secret's bytes (for `PDS_JWT_SECRET`, the bytes of the string). Refuses secrets
    /// shorter than [`MIN_KEY_LEN`] bytes.
    pub fn new(secret: &[u8]) -> Result<JwtKey, JwtError> {
        if secret.len() < MIN_KEY_LEN {
            return Err(JwtError::WeakKey);
        }
        Ok(JwtKey {
            secret: secret.to_vec(),
        })
    }

    fn mac(&self) -> Result<HmacSha256, JwtError> {
        // HMAC takes keys of any length, so this does not fail in practice.
        <HmacSha256 as KeyInit>::new_from_slice(&self.secret).map_err(|_| JwtError::WeakKey)
    }
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKey(..)")
    }
}

/// A token that passed every check: its `typ` (for the caller to check) and its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<C> {
    /// The header's `typ`, if it had one.
    pub typ: Option<String>,
    /// The claims.
    pub claims: C,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

/// Signs `claims` as a compact JWS with header `{"alg":"HS256","typ":typ}`.
pub fn encode<C: Serialize>(key: &JwtKey, typ: &str, claims: &C) -> Result<String, JwtError> {
    let header = Header {
        alg: ALG.to_owned(),
        typ: Some(typ.to_owned()),
    };
    let header = serde_json::to_vec(&header).map_err(|_| JwtError::Malformed("header"))?;
    let claims = serde_json::to_vec(claims).map_err(|_| JwtError::Malformed("claims"))?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    let mut mac = key.mac()?;
    mac.update(token.as_bytes());
    let signature = mac.finalize().into_bytes();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::TooLarge);
    }
    Ok(token)
}

/// Verifies `token` at time `now` (seconds since the UNIX epoch) and returns its claims. With
/// `allow_expired`, a token past its `exp` is still accepted (for revoking a session with a stale
/// refresh token); every other check still applies.
pub fn decode<C: DeserializeOwned + TimeClaims>(
    key: &JwtKey,
    token: &str,
    now: i64,
    allow_expired: bool,
) -> Result<Verified<C>, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::TooLarge);
    }
    let mut segments = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(JwtError::Malformed("a token has three segments"));
    };

    let header: Header = json_object(&segment(header_b64, "header")?, "header")?;
    if header.alg != ALG {
        return Err(JwtError::UnsupportedAlgorithm);
    }

    let signature = segment(signature_b64, "signature")?;
    if signature.len() != SIGNATURE_LEN {
        return Err(JwtError::BadSignature);
    }
    let signed_len = header_b64.len() + 1 + payload_b64.len();
    let signed = token
        .get(..signed_len)
        .ok_or(JwtError::Malformed("segments"))?;
    let mut mac = key.mac()?;
    mac.update(signed.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| JwtError::BadSignature)?;

    let claims: C = json_object(&segment(payload_b64, "payload")?, "claims")?;
    let (iat, exp) = (claims.issued_at(), claims.expires_at());
    if exp <= iat {
        return Err(JwtError::Malformed("exp is not after iat"));
    }
    if iat > now.saturating_add(CLOCK_LEEWAY_SECS) {
        return Err(JwtError::IssuedInFuture);
    }
    if !allow_expired && now >= exp.saturating_add(CLOCK_LEEWAY_SECS) {
        return Err(JwtError::Expired);
    }
    Ok(Verified {
        typ: header.typ,
        claims,
    })
}

/// Parses a JSON object into `T`. Serde would also fill a struct from a JSON array; a JWS header
/// and a claims set are objects, so anything else is refused first.
fn json_object<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, JwtError> {
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return Err(JwtError::Malformed(what));
    }
    serde_json::from_slice(bytes).map_err(|_| JwtError::Malformed(what))
}

/// Decodes one segment: non-empty, unpadded, canonical base64url.
fn segment(text: &str, what: &'static str) -> Result<Vec<u8>, JwtError> {
    if text.is_empty() {
        return Err(JwtError::Malformed(what));
    }
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JwtError::Malformed(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Claims {
        sub: String,
        iat: i64,
        exp: i64,
    }

    impl TimeClaims for Claims {
        fn issued_at(&self) -> i64 {
            self.iat
        }
        fn expires_at(&self) -> i64 {
            self.exp
        }
    }

    const NOW: i64 = 1_700_000_000;

    fn key() -> JwtKey {
        JwtKey::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    fn claims() -> Claims {
        Claims {
            sub: "did:plc:alice".into(),
            iat: NOW,
            exp: NOW + 3600,
        }
    }

    fn check(token: &str) -> Result<Verified<Claims>, JwtError> {
        decode::<Claims>(&key(), token, NOW + 10, false)
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A token whose header is `header` and whose payload is `payload`, correctly signed.
    fn signed_with_header(header: &str, payload: &str) -> String {
        let mut token = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let mut mac = key().mac().unwrap();
        mac.update(token.as_bytes());
        token.push('.');
        token.push_str(&b64(&mac.finalize().into_bytes()));
        token
    }

    fn payload() -> String {
        serde_json::to_string(&claims()).unwrap()
    }

    #[test]
    fn a_token_round_trips() {
        let token = encode(&key(), "at+jwt", &claims()).unwrap();
        let verified = check(&token).unwrap();
        assert_eq!(verified.typ.as_deref(), Some("at+jwt"));
        assert_eq!(verified.claims, claims());
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        assert_eq!(header, br#"{"alg":"HS256","typ":"at+jwt"}"#);
    }

    #[test]
    fn short_secrets_are_refused_and_keys_do_not_print() {
        assert_eq!(JwtKey::new(b"short").unwrap_err(), JwtError::WeakKey);
        assert!(!format!("{:?}", key()).contains("0123"));
    }

    #[test]
    fn another_key_does_not_verify() {
        let token = encode(&key(), "at+jwt", &claims()).unwrap();
        let other = JwtKey::new(b"another secret of enough length").unwrap();
        assert_eq!(
            decode::<Claims>(&other, &token, NOW, false).unwrap_err(),
            JwtError::BadSignature
        );
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let token = encode(&key(), "at+jwt", &claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let forged = serde_json::to_string(&Claims {
            sub: "did:plc:mallory".into(),
            ..claims()
        })
        .unwrap();
        let tampered = format!("{}.{}.{}", parts[0], b64(forged.as_bytes()), parts[2]);
        assert_eq!(check(&tampered).unwrap_err(), JwtError::BadSignature);
    }

    #[test]
    fn a_tampered_signature_is_refused() {
        let token = encode(&key(), "at+jwt", &claims()).unwrap();
        let (rest, sig) = token.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        sig[0] ^= 1;
        assert_eq!(
            check(&format!("{rest}.{}", b64(&sig))).unwrap_err(),
            JwtError::BadSignature
        );
        assert_eq!(
            check(&format!("{rest}.{}", b64(&sig[..31]))).unwrap_err(),
            JwtError::BadSignature
        );
    }

    #[test]
    fn algorithms_other_than_hs256_are_refused() {
        let p = payload();
        for header in [
            r#"{"alg":"none","typ":"at+jwt"}"#,
            r#"{"alg":"None"}"#,
            r#"{"alg":"RS256"}"#,
            r#"{"alg":"ES256K"}"#,
            r#"{"alg":"hs256"}"#,
            r#"{"alg":"HS512"}"#,
        ] {
            assert_eq!(
                check(&signed_with_header(header, &p)).unwrap_err(),
                JwtError::UnsupportedAlgorithm,
                "{header}"
            );
        }
        // `alg: none` with an empty signature, the classic forgery.
        let unsigned = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(payload().as_bytes())
        );
        assert!(check(&unsigned).is_err());
    }

    #[test]
    fn odd_headers_are_refused() {
        let p = payload();
        for header in [
            r#"{"typ":"at+jwt"}"#,
            r#"{"alg":null}"#,
            r#"{"alg":"HS256","alg":"HS256"}"#,
            r#"{"alg":"HS256","crit":["exp"]}"#,
            r#"{"alg":"HS256","kid":"x"}"#,
            r#"{"alg":"HS256","typ":7}"#,
            r#"["HS256"]"#,
            "not json",
        ] {
            assert_eq!(
                check(&signed_with_header(header, &p)).unwrap_err(),
                JwtError::Malformed("header"),
                "{header}"
            );
        }
    }

    #[test]
    fn expired_tokens_are_refused_unless_allowed() {
        let token = encode(&key(), "at+jwt", &claims()).unwrap();
        let late = NOW + 3600 + CLOCK_LEEWAY_SECS;
        assert_eq!(
            decode::<Claims>(&key(), &token, late, false).unwrap_err(),
            JwtError::Expired
        );
        assert!(decode::<Claims>(&key(), &token, late, true).is_ok());
        // Within the leeway it still passes.
        assert!(decode::<Claims>(&key(), &token, late - 1, false).is_ok());
    }

    #[test]
    fn tokens_from_the_future_or_backwards_in_time_are_refused() {
        let early = Claims {
            iat: NOW + 3600,
            exp: NOW + 7200,
            ..claims()
        };
        let token = encode(&key(), "at+jwt", &early).unwrap();
        assert_eq!(check(&token).unwrap_err(), JwtError::IssuedInFuture);
        let backwards = Claims {
            exp: NOW - 1,
            ..claims()
        };
        let token = encode(&key(), "at+jwt", &backwards).unwrap();
        assert!(matches!(check(&token), Err(JwtError::Malformed(_))));
    }

    #[test]
    fn garbage_and_wrongly_shaped_tokens_are_refused() {
        let good = encode(&key(), "at+jwt", &claims()).unwrap();
        let padded = {
            let (rest, sig) = good.rsplit_once('.').unwrap();
            format!("{rest}.{sig}=")
        };
        for token in [
            String::new(),
            ".".into(),
            "..".into(),
            "...".into(),
            "a.b".into(),
            "a.b.c".into(),
            "!!!.???.###".into(),
            format!("{good}.{}", good.split('.').nth(2).unwrap()),
            format!("{good}."),
            format!(".{good}"),
            good.replacen('.', "..", 1),
            padded,
            good.replace('-', "+").replace('_', "/") + "+",
            "\u{0}\u{0}.\u{0}.\u{0}".into(),
            "é.é.é".into(),
        ] {
            assert!(check(&token).is_err(), "accepted {token:?}");
        }
    }

    #[test]
    fn claims_of_the_wrong_shape_are_refused() {
        for payload in [
            r#"{"sub":"did:plc:alice","iat":1700000000}"#,
            r#"{"sub":"did:plc:alice","iat":"1700000000","exp":1700003600}"#,
            r#"{"sub":"did:plc:alice","iat":1700000000,"exp":1700003600,"extra":1}"#,
            "[]",
            "null",
            r#"["did:plc:alice",1700000000,1700003600]"#,
        ] {
            assert_eq!(
                check(&signed_with_header(r#"{"alg":"HS256"}"#, payload)).unwrap_err(),
                JwtError::Malformed("claims"),
                "{payload}"
            );
        }
    }

    #[test]
    fn huge_tokens_are_refused_before_decoding() {
        let huge = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(check(&huge).unwrap_err(), JwtError::TooLarge);
        let many_dots = ".".repeat(1_000_000);
        assert_eq!(check(&many_dots).unwrap_err(), JwtError::TooLarge);
        let big = Claims {
            sub: "x".repeat(MAX_TOKEN_LEN),
            ..claims()
        };
        assert_eq!(
            encode(&key(), "at+jwt", &big).unwrap_err(),
            JwtError::TooLarge
        );
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        let token = encode(&key(), "at+jwt", &claims()).unwrap();
        let (rest, sig) = token.rsplit_once('.').unwrap();
        // The last character of a 32-byte tag carries 2 unused bits; setting them changes the text
        // but not the bytes a lenient decoder would produce.
        let last = sig.chars().last().unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = alphabet.find(last).unwrap();
        let tweaked = alphabet.chars().nth(index ^ 1).unwrap();
        let forged = format!("{rest}.{}{tweaked}", &sig[..sig.len() - 1]);
        assert_eq!(
            check(&forged).unwrap_err(),
            JwtError::Malformed("signature")
        );
    }
}
