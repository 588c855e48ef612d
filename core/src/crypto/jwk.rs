//! Public keys as JSON Web Keys (RFC 7517 / RFC 7518 EC keys) and their RFC 7638 thumbprints, as
//! OAuth client assertions and DPoP proofs carry them.
//!
//! Only public EC keys of the two atproto curves are handled: `kty` `EC`, `crv` `P-256` or
//! `secp256k1`, `x` and `y` as unpadded base64url of 32 bytes each.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Algorithm, CryptoError, PublicKey};

/// The `kty` of elliptic-curve keys.
const KTY_EC: &str = "EC";
/// Length of a base64url-encoded 32-byte coordinate without padding.
const COORDINATE_B64_LEN: usize = 43;

/// A public EC JSON Web Key: the members that define the key. Other members (`alg`, `use`, `kid`)
/// are not kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Jwk {
    /// Key type; `"EC"` for the keys this crate uses.
    pub kty: String,
    /// Curve name: `"P-256"` or `"secp256k1"`.
    pub crv: String,
    /// The x coordinate, unpadded base64url of 32 big-endian bytes.
    pub x: String,
    /// The y coordinate, unpadded base64url of 32 big-endian bytes.
    pub y: String,
}

impl Jwk {
    /// Reads a public JWK from a JSON object. Refuses non-objects, missing or non-string `kty`,
    /// `crv`, `x`, `y`, and any private-key member (`d`), which must never travel in a public key.
    /// The key itself is checked by [`PublicKey::from_jwk`].
    pub fn from_value(value: &Value) -> Result<Jwk, CryptoError> {
        let object = value
            .as_object()
            .ok_or(CryptoError::InvalidJwk("not a JSON object"))?;
        if object.contains_key("d") {
            return Err(CryptoError::InvalidJwk("contains a private key"));
        }
        let member = |name: &'static str| -> Result<String, CryptoError> {
            object
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(CryptoError::InvalidJwk(
                    "missing or non-string kty, crv, x or y",
                ))
        };
        Ok(Jwk {
            kty: member("kty")?,
            crv: member("crv")?,
            x: member("x")?,
            y: member("y")?,
        })
    }

    /// The JWK as a JSON object with the members `kty`, `crv`, `x`, `y`.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "kty": self.kty,
            "crv": self.crv,
            "x": self.x,
            "y": self.y,
        })
    }

    /// The RFC 7638 thumbprint: unpadded base64url of SHA-256 over the canonical JSON of the required
    /// EC members, `{"crv":…,"kty":…,"x":…,"y":…}` (keys sorted, no whitespace).
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            "{{\"crv\":{},\"kty\":{},\"x\":{},\"y\":{}}}",
            Value::from(self.crv.as_str()),
            Value::from(self.kty.as_str()),
            Value::from(self.x.as_str()),
            Value::from(self.y.as_str()),
        );
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// Decodes one unpadded base64url coordinate of exactly 32 bytes.
fn decode_coordinate(text: &str) -> Result<[u8; 32], CryptoError> {
    if text.len() != COORDINATE_B64_LEN {
        return Err(CryptoError::InvalidJwk("coordinate is not 32 bytes"));
    }
    let mut out = [0u8; 32];
    match URL_SAFE_NO_PAD.decode_slice(text, &mut out) {
        Ok(32) => Ok(out),
        _ => Err(CryptoError::InvalidJwk(
            "coordinate is not unpadded base64url",
        )),
    }
}

impl PublicKey {
    /// The public JWK of this key (`kty` `EC`, `crv` `P-256` or `secp256k1`).
    pub fn to_jwk(&self) -> Jwk {
        let (x, y) = self.coordinates();
        Jwk {
            kty: KTY_EC.to_owned(),
            crv: self.algorithm().jwk_crv().to_owned(),
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
        }
    }

    /// The key of a public EC JWK. Refuses other key types and curves, coordinates that are not
    /// unpadded base64url of 32 bytes, and points not on the curve.
    pub fn from_jwk(jwk: &Jwk) -> Result<PublicKey, CryptoError> {
        if jwk.kty != KTY_EC {
            return Err(CryptoError::InvalidJwk("kty is not EC"));
        }
        let alg = Algorithm::from_jwk_crv(&jwk.crv)
            .ok_or(CryptoError::InvalidJwk("crv is not P-256 or secp256k1"))?;
        let x = decode_coordinate(&jwk.x)?;
        let y = decode_coordinate(&jwk.y)?;
        let mut sec1 = [0u8; 65];
        sec1[0] = 0x04;
        sec1[1..33].copy_from_slice(&x);
        sec1[33..].copy_from_slice(&y);
        PublicKey::from_sec1_bytes(alg, &sec1)
    }

    /// The RFC 7638 thumbprint of this key's JWK (see [`Jwk::thumbprint`]).
    pub fn jwk_thumbprint(&self) -> String {
        self.to_jwk().thumbprint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Keypair;
    use serde_json::json;

    /// RFC 6979 A.2.5's P-256 key, whose public point the RFC lists.
    const P256_PRIVATE: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

    #[test]
    fn p256_jwk_has_the_published_coordinates_and_thumbprint() {
        let key = Keypair::from_private_hex(Algorithm::P256, P256_PRIVATE)
            .unwrap()
            .public_key();
        let jwk = key.to_jwk();
        assert_eq!(
            jwk.to_value(),
            json!({
                "kty": "EC",
                "crv": "P-256",
                "x": "YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y",
                "y": "eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk",
            })
        );
        // Computed with Python's hashlib and base64 over the canonical member JSON.
        assert_eq!(
            key.jwk_thumbprint(),
            "DOvxvJiAdIqVWIkFt5hDtCunXLF0BV4-JGv4f-ALSm0"
        );
        assert_eq!(PublicKey::from_jwk(&jwk), Ok(key));
    }

    #[test]
    fn rfc7517_example_key_parses_and_has_the_expected_thumbprint() {
        let value = json!({
            "kty": "EC", "crv": "P-256", "use": "enc", "kid": "1",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        });
        let jwk = Jwk::from_value(&value).unwrap();
        let key = PublicKey::from_jwk(&jwk).unwrap();
        assert_eq!(key.algorithm(), Algorithm::P256);
        assert_eq!(
            jwk.thumbprint(),
            "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"
        );
        assert_eq!(key.jwk_thumbprint(), jwk.thumbprint());
    }

    #[test]
    fn secp256k1_generator_point_has_the_expected_thumbprint() {
        let mut one = [0u8; 32];
        one[31] = 1;
        let key = Keypair::from_private_bytes(Algorithm::K256, &one)
            .unwrap()
            .public_key();
        let jwk = key.to_jwk();
        assert_eq!(jwk.crv, "secp256k1");
        assert_eq!(jwk.x, "eb5mfvncu6xVoGKVzocLBwKb_NstzijZWfKBWxb4F5g");
        assert_eq!(jwk.y, "SDradyajxGVdpPv8DhEIqP0XtEimhVQZnEfQj_sQ1Lg");
        assert_eq!(
            key.jwk_thumbprint(),
            "2JF8vg9etJzjFwZwmkvhBLLZ0bfMVVOPivYR5lFtcec"
        );
        assert_eq!(PublicKey::from_jwk(&jwk), Ok(key));
    }

    #[test]
    fn malformed_jwks_are_errors() {
        let good = Keypair::generate(Algorithm::P256)
            .unwrap()
            .public_key()
            .to_jwk();
        let with = |f: &dyn Fn(&mut Jwk)| {
            let mut jwk = good.clone();
            f(&mut jwk);
            PublicKey::from_jwk(&jwk)
        };
        assert!(with(&|j| j.kty = "RSA".into()).is_err());
        assert!(with(&|j| j.crv = "P-384".into()).is_err());
        assert!(with(&|j| j.crv = "p-256".into()).is_err());
        assert!(with(&|j| j.x.push('=')).is_err());
        assert!(with(&|j| j.x = format!("{}=", &good.x[..42])).is_err());
        assert!(with(&|j| j.y = format!("+{}", &good.y[1..])).is_err());
        assert!(with(&|j| j.y = format!("/{}", &good.y[1..])).is_err());
        assert!(with(&|j| j.y = "A".repeat(1_000_000)).is_err());
        assert!(with(&|j| j.y = String::new()).is_err());
        assert!(
            with(&|j| j.y = "A".repeat(43)).is_err(),
            "point off the curve"
        );
        // The right curve name on the other curve's point is off that curve.
        assert!(with(&|j| j.crv = "secp256k1".into()).is_err());
    }

    #[test]
    fn jwk_objects_with_private_or_missing_members_are_refused() {
        let mut value = Keypair::generate(Algorithm::P256)
            .unwrap()
            .public_key()
            .to_jwk()
            .to_value();
        assert!(Jwk::from_value(&value).is_ok());
        value["d"] = json!("AAAA");
        assert!(Jwk::from_value(&value).is_err());
        for bad in [
            json!(null),
            json!("EC"),
            json!([]),
            json!({"kty": "EC", "crv": "P-256", "x": "AA"}),
            json!({"kty": "EC", "crv": "P-256", "x": 1, "y": 2}),
        ] {
            assert!(Jwk::from_value(&bad).is_err(), "{bad}");
        }
    }
}
