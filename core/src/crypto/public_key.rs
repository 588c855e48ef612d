//! Public keys of either curve: SEC1 encodings and signature verification.
//!
//! The text encodings live beside: `did:key` in `did_key.rs`, multibase in `multibase.rs`, JWK in
//! `jwk.rs`.

use std::fmt;
use std::hash::{Hash, Hasher};

use k256::ecdsa::signature::Verifier;
use k256::elliptic_curve::point::AffineCoordinates;

use super::{signature, Algorithm, CryptoError};

/// Length of a compressed SEC1 point.
const COMPRESSED_LEN: usize = 33;
/// Length of an uncompressed SEC1 point.
const UNCOMPRESSED_LEN: usize = 65;

/// A secp256k1 or P-256 public key, always a valid point of its curve (never the identity).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    inner: Inner,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Inner {
    K256(k256::ecdsa::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    pub(crate) fn from_k256(key: k256::ecdsa::VerifyingKey) -> PublicKey {
        PublicKey {
            inner: Inner::K256(key),
        }
    }

    pub(crate) fn from_p256(key: p256::ecdsa::VerifyingKey) -> PublicKey {
        PublicKey {
            inner: Inner::P256(key),
        }
    }

    /// The curve of this key.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            Inner::K256(_) => Algorithm::K256,
            Inner::P256(_) => Algorithm::P256,
        }
    }

    /// Parses a SEC1 point of curve `alg`: 33 bytes compressed (`02`/`03` prefix) or 65 bytes
    /// uncompressed (`04` prefix). Refuses other lengths, the identity and points off the curve.
    pub fn from_sec1_bytes(alg: Algorithm, bytes: &[u8]) -> Result<PublicKey, CryptoError> {
        if bytes.len() != COMPRESSED_LEN && bytes.len() != UNCOMPRESSED_LEN {
            return Err(CryptoError::PublicKeyLength(bytes.len()));
        }
        let invalid = |_| CryptoError::InvalidPublicKey(alg);
        match alg {
            Algorithm::K256 => k256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(PublicKey::from_k256)
                .map_err(invalid),
            Algorithm::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(PublicKey::from_p256)
                .map_err(invalid),
        }
    }

    /// The affine coordinates `(x, y)`, 32 big-endian bytes each.
    pub(crate) fn coordinates(&self) -> ([u8; 32], [u8; 32]) {
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        match &self.inner {
            Inner::K256(key) => {
                let point = key.as_affine();
                x.copy_from_slice(&point.x());
                y.copy_from_slice(&point.y());
            }
            Inner::P256(key) => {
                let point = key.as_affine();
                x.copy_from_slice(&point.x());
                y.copy_from_slice(&point.y());
            }
        }
        (x, y)
    }

    /// The 33-byte compressed SEC1 encoding: `02` or `03` (parity of y), then x.
    pub fn compressed_bytes(&self) -> [u8; COMPRESSED_LEN] {
        let (x, y) = self.coordinates();
        let mut out = [0u8; COMPRESSED_LEN];
        out[0] = 0x02 | (y[31] & 1);
        out[1..].copy_from_slice(&x);
        out
    }

    /// The 65-byte uncompressed SEC1 encoding: `04`, then x, then y.
    pub fn uncompressed_bytes(&self) -> [u8; UNCOMPRESSED_LEN] {
        let (x, y) = self.coordinates();
        let mut out = [0u8; UNCOMPRESSED_LEN];
        out[0] = 0x04;
        out[1..33].copy_from_slice(&x);
        out[33..].copy_from_slice(&y);
        out
    }

    /// Verifies a signature as atproto requires: `sig` is the 64-byte compact `r || s` ECDSA
    /// signature of SHA-256(`msg`), with low S. DER encodings, high-S signatures (on both curves)
    /// and any malformed input are refused with an error naming why.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        // Both curves' ECDSA `Verifier` hashes the message with SHA-256.
        match &self.inner {
            Inner::K256(key) => {
                let sig = signature::parse_k256(sig)?;
                key.verify(msg, &sig)
            }
            Inner::P256(key) => {
                let sig = signature::parse_p256(sig)?;
                key.verify(msg, &sig)
            }
        }
        .map_err(|_| CryptoError::BadSignature)
    }
}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.algorithm().hash(state);
        self.compressed_bytes().hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_did_key())
    }
}

/// Shows the key as its `did:key`.
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_did_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Keypair;

    #[test]
    fn sec1_compressed_and_uncompressed_parse_to_the_same_key() {
        for alg in [Algorithm::K256, Algorithm::P256] {
            let key = Keypair::generate(alg).unwrap().public_key();
            let compressed = key.compressed_bytes();
            let uncompressed = key.uncompressed_bytes();
            assert_eq!(PublicKey::from_sec1_bytes(alg, &compressed), Ok(key));
            assert_eq!(PublicKey::from_sec1_bytes(alg, &uncompressed), Ok(key));
        }
    }

    #[test]
    fn compressed_bytes_match_the_curve_library() {
        let pair = Keypair::from_private_hex(
            Algorithm::P256,
            "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
        )
        .unwrap();
        let key = pair.public_key();
        let p256 = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.uncompressed_bytes()).unwrap();
        assert_eq!(
            p256.to_sec1_point(true).as_bytes(),
            key.compressed_bytes().as_slice()
        );
    }

    #[test]
    fn bad_sec1_bytes_are_errors() {
        for alg in [Algorithm::K256, Algorithm::P256] {
            for len in [0usize, 1, 32, 34, 64, 66, 1000] {
                assert_eq!(
                    PublicKey::from_sec1_bytes(alg, &vec![2u8; len]),
                    Err(CryptoError::PublicKeyLength(len))
                );
            }
            assert_eq!(
                PublicKey::from_sec1_bytes(alg, &[0u8; 33]),
                Err(CryptoError::InvalidPublicKey(alg))
            );
            assert_eq!(
                PublicKey::from_sec1_bytes(alg, &[0xffu8; 65]),
                Err(CryptoError::InvalidPublicKey(alg))
            );
            let mut off_curve = [0u8; 65];
            off_curve[0] = 4;
            off_curve[32] = 1;
            off_curve[64] = 1;
            assert_eq!(
                PublicKey::from_sec1_bytes(alg, &off_curve),
                Err(CryptoError::InvalidPublicKey(alg))
            );
        }
    }

    #[test]
    fn keys_of_different_curves_are_not_equal_and_print_as_did_key() {
        let k = Keypair::generate(Algorithm::K256).unwrap().public_key();
        let p = Keypair::generate(Algorithm::P256).unwrap().public_key();
        assert_ne!(k, p);
        assert_eq!(k.to_string(), k.to_did_key());
        assert!(format!("{p:?}").starts_with("PublicKey(did:key:zDna"));
    }
}
