//! The two signature algorithms of atproto and their names in the neighbouring formats (JWT `alg`,
//! JWK `crv`, multicodec code).

use std::fmt;

/// Multicodec code of a compressed secp256k1 public key (`secp256k1-pub`).
pub(crate) const MULTICODEC_SECP256K1_PUB: u64 = 0xe7;
/// Multicodec code of a compressed P-256 public key (`p256-pub`).
pub(crate) const MULTICODEC_P256_PUB: u64 = 0x1200;

/// An elliptic curve with its signature scheme: ECDSA over SHA-256 with low-S compact signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// secp256k1 ("k256"), JWT algorithm `ES256K`.
    K256,
    /// NIST P-256 ("p256", secp256r1), JWT algorithm `ES256`.
    P256,
}

impl Algorithm {
    /// The JWT / JWS `alg` name: `"ES256K"` for k256, `"ES256"` for p256.
    pub fn jwt_alg(self) -> &'static str {
        match self {
            Algorithm::K256 => "ES256K",
            Algorithm::P256 => "ES256",
        }
    }

    /// The algorithm of a JWT / JWS `alg` name, if it is one of the two.
    pub fn from_jwt_alg(alg: &str) -> Option<Algorithm> {
        match alg {
            "ES256K" => Some(Algorithm::K256),
            "ES256" => Some(Algorithm::P256),
            _ => None,
        }
    }

    /// The JWK `crv` name: `"secp256k1"` for k256, `"P-256"` for p256.
    pub fn jwk_crv(self) -> &'static str {
        match self {
            Algorithm::K256 => "secp256k1",
            Algorithm::P256 => "P-256",
        }
    }

    /// The algorithm of a JWK `crv` name, if it is one of the two.
    pub fn from_jwk_crv(crv: &str) -> Option<Algorithm> {
        match crv {
            "secp256k1" => Some(Algorithm::K256),
            "P-256" => Some(Algorithm::P256),
            _ => None,
        }
    }

    /// The multicodec code of this curve's compressed public key (`0xe7` or `0x1200`).
    pub fn multicodec(self) -> u64 {
        match self {
            Algorithm::K256 => MULTICODEC_SECP256K1_PUB,
            Algorithm::P256 => MULTICODEC_P256_PUB,
        }
    }

    /// The algorithm of a public-key multicodec code, if it is one of the two.
    pub fn from_multicodec(code: u64) -> Option<Algorithm> {
        match code {
            MULTICODEC_SECP256K1_PUB => Some(Algorithm::K256),
            MULTICODEC_P256_PUB => Some(Algorithm::P256),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::K256 => "k256",
            Algorithm::P256 => "p256",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_for_both_curves() {
        for alg in [Algorithm::K256, Algorithm::P256] {
            assert_eq!(Algorithm::from_jwt_alg(alg.jwt_alg()), Some(alg));
            assert_eq!(Algorithm::from_jwk_crv(alg.jwk_crv()), Some(alg));
            assert_eq!(Algorithm::from_multicodec(alg.multicodec()), Some(alg));
        }
        assert_eq!(Algorithm::K256.jwt_alg(), "ES256K");
        assert_eq!(Algorithm::P256.jwt_alg(), "ES256");
    }

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(Algorithm::from_jwt_alg("RS256"), None);
        assert_eq!(Algorithm::from_jwt_alg("es256"), None);
        assert_eq!(Algorithm::from_jwk_crv("P-384"), None);
        assert_eq!(Algorithm::from_multicodec(0xed), None);
    }
}
