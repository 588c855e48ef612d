//! Compact ECDSA signatures: parsing the 64-byte `r || s` form strictly and the low-S rule.
//!
//! atproto signatures are exactly 64 bytes, big-endian `r` then `s`, with `s` in the lower half of the
//! curve order. DER encodings, other lengths, zero or out-of-range scalars and high-S values are all
//! refused before any curve arithmetic is done.

use k256::elliptic_curve::scalar::IsHigh;

use super::{Algorithm, CryptoError};

/// The length of a compact `r || s` signature on either curve.
pub const SIGNATURE_LEN: usize = 64;

/// Parses a compact secp256k1 signature, refusing high-S.
pub(crate) fn parse_k256(sig: &[u8]) -> Result<k256::ecdsa::Signature, CryptoError> {
    check_len(sig)?;
    let parsed =
        k256::ecdsa::Signature::from_slice(sig).map_err(|_| CryptoError::MalformedSignature)?;
    if bool::from(parsed.s().is_high()) {
        return Err(CryptoError::HighS);
    }
    Ok(parsed)
}

/// Parses a compact P-256 signature, refusing high-S.
pub(crate) fn parse_p256(sig: &[u8]) -> Result<p256::ecdsa::Signature, CryptoError> {
    check_len(sig)?;
    let parsed =
        p256::ecdsa::Signature::from_slice(sig).map_err(|_| CryptoError::MalformedSignature)?;
    if bool::from(parsed.s().is_high()) {
        return Err(CryptoError::HighS);
    }
    Ok(parsed)
}

fn check_len(sig: &[u8]) -> Result<(), CryptoError> {
    if sig.len() == SIGNATURE_LEN {
        Ok(())
    } else {
        Err(CryptoError::SignatureLength(sig.len()))
    }
}

/// Whether `sig` is a well-formed 64-byte compact signature of `alg` whose `s` is low (at most half
/// the curve order). Says nothing about whether it verifies.
pub fn is_low_s(alg: Algorithm, sig: &[u8]) -> bool {
    match alg {
        Algorithm::K256 => parse_k256(sig).is_ok(),
        Algorithm::P256 => parse_p256(sig).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_lengths_are_refused_before_parsing() {
        for len in [0, 1, 63, 65, 70, 72, 128] {
            let sig = vec![1u8; len];
            assert_eq!(parse_k256(&sig), Err(CryptoError::SignatureLength(len)));
            assert_eq!(parse_p256(&sig), Err(CryptoError::SignatureLength(len)));
        }
    }

    #[test]
    fn zero_and_out_of_range_scalars_are_malformed() {
        let zero = [0u8; 64];
        assert_eq!(parse_k256(&zero), Err(CryptoError::MalformedSignature));
        assert_eq!(parse_p256(&zero), Err(CryptoError::MalformedSignature));
        let mut r_max = [0u8; 64];
        r_max[..32].fill(0xff);
        r_max[63] = 1;
        assert_eq!(parse_k256(&r_max), Err(CryptoError::MalformedSignature));
        assert_eq!(parse_p256(&r_max), Err(CryptoError::MalformedSignature));
    }

    #[test]
    fn s_just_above_half_the_order_is_high() {
        // r = 1, s = 0x7fff..ff + (most of the order above it): s = n - 1 is always high.
        let n_minus_1_k256 =
            hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140")
                .unwrap();
        let n_minus_1_p256 =
            hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550")
                .unwrap();
        let mut sig = [0u8; 64];
        sig[31] = 1;
        sig[32..].copy_from_slice(&n_minus_1_k256);
        assert_eq!(parse_k256(&sig), Err(CryptoError::HighS));
        assert!(!is_low_s(Algorithm::K256, &sig));
        sig[32..].copy_from_slice(&n_minus_1_p256);
        assert_eq!(parse_p256(&sig), Err(CryptoError::HighS));
        sig[32..].fill(0);
        sig[63] = 1;
        assert!(is_low_s(Algorithm::K256, &sig));
        assert!(is_low_s(Algorithm::P256, &sig));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_signatures_never_panic_and_never_verify(
            sig in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100),
        ) {
            for alg in [Algorithm::K256, Algorithm::P256] {
                let key = crate::crypto::Keypair::from_private_bytes(alg, &[7u8; 32]).unwrap().public_key();
                proptest::prop_assert!(key.verify(b"message", &sig).is_err());
                let _ = is_low_s(alg, &sig);
            }
        }
    }
}
