//! Compact JWS with ES256 (ECDSA P-256 over SHA-256), as DPoP proofs, client assertions and this
//! server's access tokens use it.
//!
//! [`parse`] is strict before any claim is believed: at most [`MAX_JWS_LEN`] bytes, exactly three
//! non-empty segments of canonical unpadded base64url, a header and a payload that are JSON
//! objects (each member at most once), a `crit` header refused, and a 64-byte `r || s` signature.
//! The algorithm is checked by the caller against what it allows (only `ES256` here: `none`, `HS*`,
//! `RS*` and `ES256K` never verify). Signatures with a high `S` are accepted, as JOSE does not
//! require low-S and browsers' WebCrypto produces both.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::crypto::{Algorithm, Keypair, PublicKey};

/// The longest compact JWS accepted, in bytes.
pub const MAX_JWS_LEN: usize = 8 * 1024;
/// The only signature algorithm.
pub const ES256: &str = "ES256";

/// Why a compact JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Longer than [`MAX_JWS_LEN`].
    #[error("token too large")]
    TooLarge,
    /// Not three segments of base64url JSON objects.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// A header or claim member appears twice.
    #[error("duplicate member in token")]
    Duplicate,
    /// The algorithm is not ES256 (or the key is not a P-256 key).
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

/// A parsed (not yet verified) compact JWS.
#[derive(Debug, Clone)]
pub struct Jws {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload (claims).
    pub payload: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jws {
    /// The header's `alg`.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// The header's `typ`.
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    /// Checks that `alg` is ES256 and the signature verifies with `key` (a P-256 key). The
    /// verification is ring's (constant-time, several times faster than the pure-Rust curve).
    pub fn verify_es256(&self, key: &PublicKey) -> Result<(), JwsError> {
        if self.alg() != Some(ES256) || key.algorithm() != Algorithm::P256 {
            return Err(JwsError::UnsupportedAlgorithm);
        }
        let point = key.uncompressed_bytes();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &point)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::BadSignature)
    }

    /// Checks that `alg` names `key`'s curve (`ES256K` for secp256k1, `ES256` for P-256) and the
    /// signature verifies with it, low-S as atproto requires (inter-service tokens).
    pub fn verify_with(&self, key: &PublicKey) -> Result<(), JwsError> {
        if self.alg() != Some(key.algorithm().jwt_alg()) {
            return Err(JwsError::UnsupportedAlgorithm);
        }
        key.verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::BadSignature)
    }

    /// The payload read as `T` (after verification).
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        serde_json::from_value(Value::Object(self.payload.clone()))
            .map_err(|_| JwsError::Malformed("claims"))
    }
}

/// Parses a compact JWS (see the module notes for what is refused).
pub fn parse(token: &str) -> Result<Jws, JwsError> {
    if token.len() > MAX_JWS_LEN {
        return Err(JwsError::TooLarge);
    }
    let mut segments = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(JwsError::Malformed("a token has three segments"));
    };
    let header = object(&segment(header_b64, "header")?, "header")?;
    if header.contains_key("crit") {
        return Err(JwsError::Malformed("crit header"));
    }
    let payload = object(&segment(payload_b64, "payload")?, "payload")?;
    let signature = segment(signature_b64, "signature")?;
    if signature.len() != 64 {
        return Err(JwsError::BadSignature);
    }
    let signing_input = token
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or(JwsError::Malformed("segments"))?
        .to_owned();
    Ok(Jws {
        header,
        payload,
        signing_input,
        signature,
    })
}

/// Signs `payload` with `key` (a P-256 key) under `header` (which gets `"alg":"ES256"`).
pub fn sign_es256(
    key: &Keypair,
    header: Map<String, Value>,
    payload: &Value,
) -> Result<String, JwsError> {
    if key.algorithm() != Algorithm::P256 {
        return Err(JwsError::UnsupportedAlgorithm);
    }
    sign(key, header, payload)
}

/// Signs `payload` with `key` under `header`, which gets the key's `alg` (`ES256` for P-256,
/// `ES256K` for secp256k1), as a compact JWS.
pub fn sign(
    key: &Keypair,
    mut header: Map<String, Value>,
    payload: &Value,
) -> Result<String, JwsError> {
    header.insert("alg".into(), Value::from(key.algorithm().jwt_alg()));
    let header = serde_json::to_vec(&header).map_err(|_| JwsError::Malformed("header"))?;
    let payload = serde_json::to_vec(payload).map_err(|_| JwsError::Malformed("payload"))?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    if token.len() > MAX_JWS_LEN {
        return Err(JwsError::TooLarge);
    }
    Ok(token)
}

fn segment(text: &str, what: &'static str) -> Result<Vec<u8>, JwsError> {
    if text.is_empty() {
        return Err(JwsError::Malformed(what));
    }
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JwsError::Malformed(what))
}

/// A JSON object whose members each appear once (serde_json keeps the last of duplicates, which
/// would let two parsers of one token disagree).
fn object(bytes: &[u8], what: &'static str) -> Result<Map<String, Value>, JwsError> {
    struct Unique(Map<String, Value>);
    impl<'de> serde::Deserialize<'de> for Unique {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Unique;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut access: A,
                ) -> Result<Unique, A::Error> {
                    let mut map = Map::new();
                    while let Some((k, v)) = access.next_entry::<String, Value>()? {
                        if map.insert(k, v).is_some() {
                            return Err(serde::de::Error::custom("duplicate member"));
                        }
                    }
                    Ok(Unique(map))
                }
            }
            d.deserialize_map(V)
        }
    }
    let parsed: Result<Unique, _> = serde_json::from_slice(bytes);
    match parsed {
        Ok(Unique(map)) => Ok(map),
        Err(e) if e.to_string().contains("duplicate member") => Err(JwsError::Duplicate),
        Err(_) => Err(JwsError::Malformed(what)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn header() -> Map<String, Value> {
        let mut h = Map::new();
        h.insert("typ".into(), json!("x+jwt"));
        h
    }

    #[test]
    fn a_signed_token_parses_and_verifies() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let token = sign_es256(&key, header(), &json!({"a": 1})).unwrap();
        let jws = parse(&token).unwrap();
        assert_eq!(jws.alg(), Some("ES256"));
        assert_eq!(jws.typ(), Some("x+jwt"));
        jws.verify_es256(&key.public_key()).unwrap();
        let other = Keypair::generate(Algorithm::P256).unwrap();
        assert_eq!(
            jws.verify_es256(&other.public_key()),
            Err(JwsError::BadSignature)
        );
        let k256 = Keypair::generate(Algorithm::K256).unwrap();
        assert_eq!(
            jws.verify_es256(&k256.public_key()),
            Err(JwsError::UnsupportedAlgorithm)
        );
        assert!(sign_es256(&k256, header(), &json!({})).is_err());
    }

    #[test]
    fn high_s_signatures_verify_as_jose_allows_them() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let token = sign_es256(&key, header(), &json!({"b": 2})).unwrap();
        let (rest, sig) = token.rsplit_once('.').unwrap();
        let sig =
            p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
        // n - s: the same signature with the other S.
        let (r, s) = sig.split_scalars();
        let flipped = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
        let twin = format!("{rest}.{}", b64(&flipped.to_bytes()));
        parse(&twin)
            .unwrap()
            .verify_es256(&key.public_key())
            .unwrap();
    }

    #[test]
    fn other_algorithms_never_verify() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let payload = b64(br#"{"a":1}"#);
        for alg in ["none", "HS256", "RS256", "ES256K", "es256", "ES384"] {
            let head = b64(format!(r#"{{"alg":"{alg}"}}"#).as_bytes());
            let signing = format!("{head}.{payload}");
            let token = format!("{signing}.{}", b64(&key.sign(signing.as_bytes())));
            let jws = parse(&token).unwrap();
            assert_eq!(
                jws.verify_es256(&key.public_key()),
                Err(JwsError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
        // `alg: none` with an empty signature does not even parse.
        let unsigned = format!("{}.{payload}.", b64(br#"{"alg":"none"}"#));
        assert!(parse(&unsigned).is_err());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let good = sign_es256(&key, header(), &json!({"a": 1})).unwrap();
        let sig = good.rsplit_once('.').unwrap().1.to_owned();
        let many = ".".repeat(100_000);
        for token in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            &format!("{good}.{sig}"),
            &format!("{good}="),
            &many,
            &format!("{}.{}.{sig}", b64(b"[]"), b64(b"{}")),
            &format!("{}.{}.{sig}", b64(b"{}"), b64(b"null")),
            &format!(
                "{}.{}.{sig}",
                b64(br#"{"alg":"ES256","crit":["x"]}"#),
                b64(b"{}")
            ),
            &format!("{}.{}.{sig}", b64(b"{}"), b64(br#"{"a":1,"a":2}"#)),
            &format!("{}.{}.{}", b64(b"{}"), b64(b"{}"), b64(&[0u8; 63])),
        ] {
            assert!(parse(token).is_err(), "accepted {token:.60}");
        }
        assert_eq!(
            parse(&format!(
                "{}.{}.{sig}",
                b64(b"{}"),
                b64(br#"{"a":1,"a":2}"#)
            ))
            .unwrap_err(),
            JwsError::Duplicate
        );
        assert_eq!(
            parse(&"a".repeat(MAX_JWS_LEN + 1)).unwrap_err(),
            JwsError::TooLarge
        );
    }
}
