//! `did:key` identifiers and the verification-method types of atproto DID documents.
//!
//! A `did:key` is `did:key:` followed by the Multikey form of a compressed public key (see
//! [`PublicKey::to_multibase`]); atproto uses them for the signing and rotation keys of accounts.

use super::{Algorithm, CryptoError, Keypair, PublicKey};

/// The prefix of every `did:key` identifier.
pub const DID_KEY_PREFIX: &str = "did:key:";

/// Verification method type whose `publicKeyMultibase` is the Multikey form (current atproto).
pub const VM_TYPE_MULTIKEY: &str = "Multikey";
/// Legacy verification method type of secp256k1 keys; `publicKeyMultibase` has no multicodec prefix.
pub const VM_TYPE_SECP256K1_LEGACY: &str = "EcdsaSecp256k1VerificationKey2019";
/// Legacy verification method type of P-256 keys; `publicKeyMultibase` has no multicodec prefix.
pub const VM_TYPE_P256_LEGACY: &str = "EcdsaSecp256r1VerificationKey2019";

/// Longest verification-method type name quoted back in an error.
const MAX_QUOTED_TYPE: usize = 64;

impl PublicKey {
    /// Parses a `did:key:z...` identifier of a secp256k1 or P-256 key (33-byte compressed point).
    pub fn from_did_key(did: &str) -> Result<PublicKey, CryptoError> {
        let body = did
            .strip_prefix(DID_KEY_PREFIX)
            .ok_or(CryptoError::NotDidKey)?;
        if !body.starts_with('z') {
            return Err(CryptoError::NotDidKey);
        }
        PublicKey::from_multikey(body)
    }

    /// The `did:key` identifier of this key.
    pub fn to_did_key(&self) -> String {
        format!("{DID_KEY_PREFIX}{}", self.to_multibase())
    }

    /// Parses the key of a DID document verification method from its `type` and
    /// `publicKeyMultibase`: `Multikey` takes the Multikey form, the two 2019 suite types take the
    /// legacy form of their curve (a Multikey value is accepted there too if its curve matches).
    pub fn from_verification_method(
        method_type: &str,
        public_key_multibase: &str,
    ) -> Result<PublicKey, CryptoError> {
        match method_type {
            VM_TYPE_MULTIKEY => PublicKey::from_multikey(public_key_multibase),
            VM_TYPE_SECP256K1_LEGACY => {
                PublicKey::from_multibase(public_key_multibase, Algorithm::K256)
            }
            VM_TYPE_P256_LEGACY => PublicKey::from_multibase(public_key_multibase, Algorithm::P256),
            other => Err(CryptoError::UnsupportedVerificationMethod(
                other.chars().take(MAX_QUOTED_TYPE).collect(),
            )),
        }
    }
}

impl Keypair {
    /// The `did:key` identifier of this keypair's public key.
    pub fn did_key(&self) -> String {
        self.public_key().to_did_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K256_DID: &str = "did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc";
    const P256_DID: &str = "did:key:zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo";

    #[test]
    fn did_keys_of_both_curves_round_trip() {
        for (did, alg) in [(K256_DID, Algorithm::K256), (P256_DID, Algorithm::P256)] {
            let key = PublicKey::from_did_key(did).unwrap();
            assert_eq!(key.algorithm(), alg);
            assert_eq!(key.to_did_key(), did);
        }
    }

    #[test]
    fn generated_keys_round_trip_through_did_key() {
        for alg in [Algorithm::K256, Algorithm::P256] {
            let pair = Keypair::generate(alg).unwrap();
            let did = pair.did_key();
            let prefix = if alg == Algorithm::K256 {
                "did:key:zQ3s"
            } else {
                "did:key:zDna"
            };
            assert!(did.starts_with(prefix), "{did}");
            assert_eq!(PublicKey::from_did_key(&did).unwrap(), pair.public_key());
        }
    }

    #[test]
    fn hostile_did_keys_are_errors() {
        let key = PublicKey::from_did_key(K256_DID)
            .unwrap()
            .compressed_bytes();
        let mut short = vec![0xe7, 0x01];
        short.extend_from_slice(&key[..32]);
        let short = format!("did:key:z{}", bs58::encode(&short).into_string());
        let mut long = vec![0xe7, 0x01];
        long.extend_from_slice(&key);
        long.push(0);
        let long = format!("did:key:z{}", bs58::encode(&long).into_string());
        let huge = format!("did:key:z{}", "2".repeat(1 << 20));
        let cases: Vec<(&str, CryptoError)> = vec![
            ("", CryptoError::NotDidKey),
            ("did:key:", CryptoError::NotDidKey),
            ("did:key:z", CryptoError::InvalidBase58),
            ("did:plc:abc", CryptoError::NotDidKey),
            (
                "DID:KEY:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc",
                CryptoError::NotDidKey,
            ),
            (
                "did:key:mQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc",
                CryptoError::NotDidKey,
            ),
            (
                "did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJw0",
                CryptoError::InvalidBase58,
            ),
            // ed25519 (0xed) is a real multicodec, but not an atproto key type.
            (
                "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
                CryptoError::UnsupportedKeyType(0xed),
            ),
            (&short, CryptoError::PublicKeyLength(32)),
            (&long, CryptoError::PublicKeyLength(34)),
            ("did:key:z1111", CryptoError::UnsupportedKeyType(0)),
        ];
        for (input, want) in cases {
            assert_eq!(PublicKey::from_did_key(input), Err(want), "{input:?}");
        }
        assert!(matches!(
            PublicKey::from_did_key(&huge),
            Err(CryptoError::TooLong { .. })
        ));
    }

    #[test]
    fn did_key_with_an_off_curve_point_is_refused() {
        // Multicodec secp256k1-pub, then a compressed "point" whose x has no curve point
        // (x = 5 on secp256k1: 5^3 + 7 = 132 is not a square modulo p).
        let mut bytes = vec![0xe7, 0x01, 0x02];
        let mut x = [0u8; 32];
        x[31] = 5;
        bytes.extend_from_slice(&x);
        let did = format!("did:key:z{}", bs58::encode(&bytes).into_string());
        assert_eq!(
            PublicKey::from_did_key(&did),
            Err(CryptoError::InvalidPublicKey(Algorithm::K256))
        );
        // A bad SEC1 tag byte.
        bytes[2] = 0x05;
        let did = format!("did:key:z{}", bs58::encode(&bytes).into_string());
        assert_eq!(
            PublicKey::from_did_key(&did),
            Err(CryptoError::InvalidPublicKey(Algorithm::K256))
        );
        // An uncompressed point is not a valid did:key body.
        let pair = Keypair::generate(Algorithm::P256).unwrap();
        let mut bytes = vec![0x80, 0x24];
        bytes.extend_from_slice(&pair.public_key().uncompressed_bytes());
        let did = format!("did:key:z{}", bs58::encode(&bytes).into_string());
        assert_eq!(
            PublicKey::from_did_key(&did),
            Err(CryptoError::PublicKeyLength(65))
        );
    }

    #[test]
    fn verification_methods_pick_the_form_by_type() {
        let key = PublicKey::from_did_key(P256_DID).unwrap();
        let legacy = key.to_legacy_multibase();
        let multikey = key.to_multibase();
        assert_ne!(legacy, multikey);
        assert_eq!(
            PublicKey::from_verification_method(VM_TYPE_P256_LEGACY, &legacy),
            Ok(key)
        );
        assert_eq!(
            PublicKey::from_verification_method(VM_TYPE_P256_LEGACY, &multikey),
            Ok(key)
        );
        assert_eq!(
            PublicKey::from_verification_method(VM_TYPE_MULTIKEY, &multikey),
            Ok(key)
        );
        assert_eq!(
            PublicKey::from_verification_method(VM_TYPE_MULTIKEY, &legacy),
            Err(CryptoError::UnsupportedKeyType(3))
        );
        assert_eq!(
            PublicKey::from_verification_method(VM_TYPE_SECP256K1_LEGACY, &multikey),
            Err(CryptoError::AlgorithmMismatch {
                expected: Algorithm::K256,
                found: Algorithm::P256
            })
        );
        let long_type = "X".repeat(10_000);
        match PublicKey::from_verification_method(&long_type, &multikey) {
            Err(CryptoError::UnsupportedVerificationMethod(t)) => assert_eq!(t.len(), 64),
            other => panic!("unexpected {other:?}"),
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_did_key_bodies_never_panic(body in "[1-9A-HJ-NP-Za-km-z]{0,120}") {
            let _ = PublicKey::from_did_key(&format!("did:key:z{body}"));
            let _ = PublicKey::from_multibase(&format!("z{body}"), Algorithm::P256);
        }

        #[test]
        fn arbitrary_multicodec_keys_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let text = format!("z{}", bs58::encode(&bytes).into_string());
            let _ = PublicKey::from_multikey(&text);
            let _ = PublicKey::from_multibase(&text, Algorithm::K256);
            let _ = PublicKey::from_sec1_bytes(Algorithm::K256, &bytes);
            let _ = PublicKey::from_sec1_bytes(Algorithm::P256, &bytes);
        }

        #[test]
        fn arbitrary_strings_never_panic(text in ".{0,200}") {
            let _ = PublicKey::from_did_key(&text);
            let _ = PublicKey::from_verification_method(&text, &text);
        }
    }
}
