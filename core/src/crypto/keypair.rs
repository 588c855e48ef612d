//! Private keys of either curve, and signing.

use std::fmt;

use k256::ecdsa::signature::Signer;
use k256::elliptic_curve::Generate;

use super::{signature::SIGNATURE_LEN, Algorithm, CryptoError, PublicKey};

/// Length of a private key (a scalar) on either curve.
const PRIVATE_KEY_LEN: usize = 32;

/// A secp256k1 or P-256 private key. Signs with ECDSA over SHA-256, deterministic nonces
/// (RFC 6979) and low-S normalisation. `Debug` shows the curve and the public `did:key` only.
#[derive(Clone)]
pub struct Keypair {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    K256(k256::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

impl Keypair {
    /// A new random key of curve `alg`, drawn from the operating system's random number generator.
    pub fn generate(alg: Algorithm) -> Result<Keypair, CryptoError> {
        let mut rng = rand::rngs::SysRng;
        let inner = match alg {
            Algorithm::K256 => k256::ecdsa::SigningKey::try_generate_from_rng(&mut rng)
                .map(Inner::K256)
                .map_err(|_| CryptoError::Randomness)?,
            Algorithm::P256 => p256::ecdsa::SigningKey::try_generate_from_rng(&mut rng)
                .map(Inner::P256)
                .map_err(|_| CryptoError::Randomness)?,
        };
        Ok(Keypair { inner })
    }

    /// The key of curve `alg` whose secret scalar is the 32 big-endian `bytes`. Refuses other
    /// lengths, zero and values not below the curve order.
    pub fn from_private_bytes(alg: Algorithm, bytes: &[u8]) -> Result<Keypair, CryptoError> {
        if bytes.len() != PRIVATE_KEY_LEN {
            return Err(CryptoError::PrivateKeyLength(bytes.len()));
        }
        let invalid = |_| CryptoError::InvalidPrivateKey(alg);
        let inner = match alg {
            Algorithm::K256 => k256::ecdsa::SigningKey::from_slice(bytes)
                .map(Inner::K256)
                .map_err(invalid)?,
            Algorithm::P256 => p256::ecdsa::SigningKey::from_slice(bytes)
                .map(Inner::P256)
                .map_err(invalid)?,
        };
        Ok(Keypair { inner })
    }

    /// The key of curve `alg` from 64 hex digits (either case).
    pub fn from_private_hex(alg: Algorithm, text: &str) -> Result<Keypair, CryptoError> {
        if text.len() != 2 * PRIVATE_KEY_LEN {
            return Err(if text.len() % 2 == 0 {
                CryptoError::PrivateKeyLength(text.len() / 2)
            } else {
                CryptoError::InvalidHex
            });
        }
        let mut bytes = [0u8; PRIVATE_KEY_LEN];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| CryptoError::InvalidHex)?;
        Keypair::from_private_bytes(alg, &bytes)
    }

    /// The secret scalar as 32 big-endian bytes. Handle with care: this is the private key.
    pub fn private_bytes(&self) -> [u8; PRIVATE_KEY_LEN] {
        match &self.inner {
            Inner::K256(key) => key.to_bytes().into(),
            Inner::P256(key) => key.to_bytes().into(),
        }
    }

    /// The curve of this key.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            Inner::K256(_) => Algorithm::K256,
            Inner::P256(_) => Algorithm::P256,
        }
    }

    /// The public half of this key.
    pub fn public_key(&self) -> PublicKey {
        match &self.inner {
            Inner::K256(key) => PublicKey::from_k256(*key.verifying_key()),
            Inner::P256(key) => PublicKey::from_p256(*key.verifying_key()),
        }
    }

    /// Signs `msg`: ECDSA over SHA-256(`msg`) with an RFC 6979 nonce, returned as the 64-byte compact
    /// `r || s` with `s` always normalised to the low half of the order (P-256 does not do this by
    /// itself; secp256k1 does, and normalising again is harmless).
    pub fn sign(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        // Both curves' ECDSA `Signer` hashes the message with SHA-256.
        match &self.inner {
            Inner::K256(key) => {
                let sig: k256::ecdsa::Signature = key.sign(msg);
                sig.normalize_s().to_bytes().into()
            }
            Inner::P256(key) => {
                let sig: p256::ecdsa::Signature = key.sign(msg);
                sig.normalize_s().to_bytes().into()
            }
        }
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("algorithm", &self.algorithm())
            .field("public", &self.did_key())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::is_low_s;
    use sha2::{Digest, Sha256};

    const ALGS: [Algorithm; 2] = [Algorithm::K256, Algorithm::P256];

    /// The group orders, written out here so the high-S flip does not lean on the curve library.
    fn order(alg: Algorithm) -> [u8; 32] {
        let hex_n = match alg {
            Algorithm::K256 => "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
            Algorithm::P256 => "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
        };
        let mut n = [0u8; 32];
        hex::decode_to_slice(hex_n, &mut n).unwrap();
        n
    }

    /// The same signature with `s` replaced by `n - s`: equally valid in plain ECDSA, high-S.
    fn flip_s(alg: Algorithm, sig: &[u8; 64]) -> [u8; 64] {
        let n = order(alg);
        let mut out = *sig;
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let mut d = i16::from(n[i]) - i16::from(sig[32 + i]) - borrow;
            borrow = i16::from(d < 0);
            if d < 0 {
                d += 256;
            }
            out[32 + i] = d as u8;
        }
        assert_eq!(borrow, 0);
        out
    }

    #[test]
    fn signatures_verify_on_both_curves() {
        for alg in ALGS {
            let pair = Keypair::generate(alg).unwrap();
            assert_eq!(pair.algorithm(), alg);
            let sig = pair.sign(b"hello world");
            assert_eq!(pair.public_key().verify(b"hello world", &sig), Ok(()));
        }
    }

    #[test]
    fn signatures_are_always_low_s() {
        for alg in ALGS {
            let pair = Keypair::generate(alg).unwrap();
            let key = pair.public_key();
            for i in 0u32..300 {
                let msg = i.to_be_bytes();
                let sig = pair.sign(&msg);
                assert!(is_low_s(alg, &sig), "{alg} message {i}");
                assert_eq!(key.verify(&msg, &sig), Ok(()));
            }
        }
    }

    #[test]
    fn signing_is_deterministic_and_over_sha256() {
        let pair = Keypair::from_private_hex(
            Algorithm::P256,
            "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
        )
        .unwrap();
        let sig = pair.sign(b"sample");
        assert_eq!(sig, pair.sign(b"sample"));
        // RFC 6979 A.2.5, P-256 with SHA-256, message "sample"; its s is high, so the expected s is
        // n - s of the RFC value.
        let rfc = "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716\
                   f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";
        let mut rfc_sig = [0u8; 64];
        hex::decode_to_slice(rfc, &mut rfc_sig).unwrap();
        assert!(!is_low_s(Algorithm::P256, &rfc_sig));
        assert_eq!(sig, flip_s(Algorithm::P256, &rfc_sig));
        // The prehash is SHA-256 of the message.
        let digest = Sha256::digest(b"sample");
        let raw = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&pair.public_key().compressed_bytes())
            .unwrap();
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        assert!(vk.verify_prehash(&digest, &raw).is_ok());
    }

    #[test]
    fn tampered_messages_and_signatures_fail() {
        for alg in ALGS {
            let pair = Keypair::generate(alg).unwrap();
            let key = pair.public_key();
            let sig = pair.sign(b"original");
            assert_eq!(
                key.verify(b"originaL", &sig),
                Err(CryptoError::BadSignature)
            );
            assert_eq!(key.verify(b"", &sig), Err(CryptoError::BadSignature));
            for byte in [0usize, 31, 32, 63] {
                let mut bad = sig;
                bad[byte] ^= 0x01;
                assert!(key.verify(b"original", &bad).is_err(), "{alg} byte {byte}");
            }
            let other = Keypair::generate(alg).unwrap().public_key();
            assert_eq!(
                other.verify(b"original", &sig),
                Err(CryptoError::BadSignature)
            );
            assert_eq!(
                key.verify(b"original", &sig[..63]),
                Err(CryptoError::SignatureLength(63))
            );
        }
    }

    #[test]
    fn high_s_twin_of_a_valid_signature_is_rejected() {
        for alg in ALGS {
            let pair = Keypair::generate(alg).unwrap();
            let sig = pair.sign(b"malleable");
            let twin = flip_s(alg, &sig);
            assert_ne!(twin, sig);
            assert_eq!(
                pair.public_key().verify(b"malleable", &twin),
                Err(CryptoError::HighS)
            );
        }
    }

    #[test]
    fn der_signatures_are_rejected() {
        let pair = Keypair::generate(Algorithm::P256).unwrap();
        let sig = pair.sign(b"der");
        let der = p256::ecdsa::Signature::from_slice(&sig).unwrap().to_der();
        let err = pair
            .public_key()
            .verify(b"der", der.as_bytes())
            .unwrap_err();
        assert!(matches!(err, CryptoError::SignatureLength(n) if n != 64));
    }

    #[test]
    fn private_keys_round_trip_and_bad_ones_are_errors() {
        for alg in ALGS {
            let pair = Keypair::generate(alg).unwrap();
            let bytes = pair.private_bytes();
            let again = Keypair::from_private_bytes(alg, &bytes).unwrap();
            assert_eq!(again.public_key(), pair.public_key());
            let again = Keypair::from_private_hex(alg, &hex::encode_upper(bytes)).unwrap();
            assert_eq!(again.private_bytes(), bytes);

            assert_eq!(
                Keypair::from_private_bytes(alg, &[1u8; 31]).unwrap_err(),
                CryptoError::PrivateKeyLength(31)
            );
            assert_eq!(
                Keypair::from_private_bytes(alg, &[]).unwrap_err(),
                CryptoError::PrivateKeyLength(0)
            );
            assert_eq!(
                Keypair::from_private_bytes(alg, &[0u8; 32]).unwrap_err(),
                CryptoError::InvalidPrivateKey(alg)
            );
            assert_eq!(
                Keypair::from_private_bytes(alg, &order(alg)).unwrap_err(),
                CryptoError::InvalidPrivateKey(alg)
            );
            assert_eq!(
                Keypair::from_private_bytes(alg, &[0xff; 32]).unwrap_err(),
                CryptoError::InvalidPrivateKey(alg)
            );
            assert_eq!(
                Keypair::from_private_hex(alg, &"g".repeat(64)).unwrap_err(),
                CryptoError::InvalidHex
            );
            assert_eq!(
                Keypair::from_private_hex(alg, "abc").unwrap_err(),
                CryptoError::InvalidHex
            );
            assert_eq!(
                Keypair::from_private_hex(alg, &"a".repeat(1 << 20)).unwrap_err(),
                CryptoError::PrivateKeyLength(1 << 19)
            );
            // Multi-byte characters must not be split by hex decoding.
            assert_eq!(
                Keypair::from_private_hex(alg, &"é".repeat(32)).unwrap_err(),
                CryptoError::InvalidHex
            );
        }
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        for alg in ALGS {
            let pair = Keypair::generate(alg).unwrap();
            let shown = format!("{pair:?} {pair:#?}");
            let secret = hex::encode(pair.private_bytes());
            assert!(!shown.contains(&secret));
            assert!(!shown.contains(&hex::encode_upper(pair.private_bytes())));
            assert!(!shown.contains(&format!("{:?}", pair.private_bytes())));
            assert!(shown.contains(&pair.did_key()));
        }
    }
}
