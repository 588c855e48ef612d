//! Multibase (base58btc, prefix `z`) and multicodec (unsigned varint) encodings of public keys.
//!
//! Two `publicKeyMultibase` forms exist in atproto DID documents:
//! - **Multikey** (current, verification method type `Multikey`, and the body of every `did:key`):
//!   base58btc of the multicodec varint (`0xe7` secp256k1-pub, `0x1200` p256-pub) followed by the
//!   33-byte compressed point. [`PublicKey::to_multibase`] writes this form.
//! - **Legacy** (types `EcdsaSecp256k1VerificationKey2019` / `EcdsaSecp256r1VerificationKey2019`):
//!   base58btc of the bare SEC1 point, with no multicodec prefix; the curve comes from the type name.
//!   [`PublicKey::to_legacy_multibase`] writes it (compressed).
//!
//! Both are told apart by their first decoded byte: SEC1 points start with `0x02`, `0x03` or `0x04`,
//! the two varints with `0xe7` or `0x80`.

use super::{Algorithm, CryptoError, PublicKey};

/// The longest multibase text accepted: an uncompressed 65-byte point plus a varint is under 100
/// base58 characters.
pub(crate) const MAX_MULTIBASE_LEN: usize = 128;

/// Longest accepted varint (multiformats caps unsigned varints at 9 bytes).
const MAX_VARINT_LEN: usize = 9;

/// Length of a compressed SEC1 point on either curve.
const COMPRESSED_LEN: usize = 33;

/// Decodes base58btc multibase text (`z...`), refusing other bases and over-long input.
pub(crate) fn decode_base58btc(text: &str) -> Result<Vec<u8>, CryptoError> {
    if text.len() > MAX_MULTIBASE_LEN {
        return Err(CryptoError::TooLong {
            max: MAX_MULTIBASE_LEN,
            actual: text.len(),
        });
    }
    let body = text
        .strip_prefix('z')
        .ok_or(CryptoError::UnsupportedMultibase)?;
    if body.is_empty() {
        return Err(CryptoError::InvalidBase58);
    }
    bs58::decode(body)
        .into_vec()
        .map_err(|_| CryptoError::InvalidBase58)
}

/// Encodes bytes as base58btc multibase text (`z...`).
pub(crate) fn encode_base58btc(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(1 + bytes.len() * 14 / 10 + 1);
    out.push('z');
    out.push_str(&bs58::encode(bytes).into_string());
    out
}

/// Reads a minimal unsigned varint, returning the value and the bytes it took.
pub(crate) fn read_varint(bytes: &[u8]) -> Result<(u64, usize), CryptoError> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(MAX_VARINT_LEN) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // A final zero byte after continuation bytes is a non-minimal encoding.
            if byte == 0 && i > 0 {
                return Err(CryptoError::InvalidMulticodec);
            }
            return Ok((value, i + 1));
        }
    }
    Err(CryptoError::InvalidMulticodec)
}

/// Appends `value` as an unsigned varint.
pub(crate) fn write_varint(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Whether decoded multibase bytes begin like a SEC1 point rather than a multicodec varint.
fn is_sec1_tag(byte: u8) -> bool {
    matches!(byte, 0x02..=0x04)
}

/// Splits multicodec-prefixed key bytes into the curve and the 33-byte compressed point.
fn split_multikey(bytes: &[u8]) -> Result<(Algorithm, &[u8]), CryptoError> {
    let (code, used) = read_varint(bytes)?;
    let alg = Algorithm::from_multicodec(code).ok_or(CryptoError::UnsupportedKeyType(code))?;
    let key = bytes.get(used..).unwrap_or_default();
    if key.len() != COMPRESSED_LEN {
        return Err(CryptoError::PublicKeyLength(key.len()));
    }
    Ok((alg, key))
}

impl PublicKey {
    /// Parses the Multikey form: base58btc multibase of the multicodec-prefixed compressed point.
    /// The curve comes from the prefix. This is the body of a `did:key` and the `publicKeyMultibase`
    /// of verification methods of type `Multikey`.
    pub fn from_multikey(text: &str) -> Result<PublicKey, CryptoError> {
        let bytes = decode_base58btc(text)?;
        let (alg, key) = split_multikey(&bytes)?;
        PublicKey::from_sec1_bytes(alg, key)
    }

    /// The Multikey form: `z` + base58btc(multicodec varint || 33-byte compressed point).
    pub fn to_multibase(&self) -> String {
        let mut bytes = Vec::with_capacity(2 + COMPRESSED_LEN);
        write_varint(self.algorithm().multicodec(), &mut bytes);
        bytes.extend_from_slice(&self.compressed_bytes());
        encode_base58btc(&bytes)
    }

    /// Parses a `publicKeyMultibase` value of a key expected to be on curve `alg`, in either form:
    /// Multikey (multicodec-prefixed, whose curve must be `alg`) or legacy (bare SEC1 point,
    /// compressed or uncompressed, as the 2019 verification suites use).
    pub fn from_multibase(text: &str, alg: Algorithm) -> Result<PublicKey, CryptoError> {
        let bytes = decode_base58btc(text)?;
        match bytes.first() {
            Some(&tag) if is_sec1_tag(tag) => PublicKey::from_sec1_bytes(alg, &bytes),
            Some(_) => {
                let (found, key) = split_multikey(&bytes)?;
                if found != alg {
                    return Err(CryptoError::AlgorithmMismatch {
                        expected: alg,
                        found,
                    });
                }
                PublicKey::from_sec1_bytes(alg, key)
            }
            None => Err(CryptoError::PublicKeyLength(0)),
        }
    }

    /// The legacy form of the 2019 verification suites: `z` + base58btc of the 33-byte compressed
    /// point, with no multicodec prefix.
    pub fn to_legacy_multibase(&self) -> String {
        encode_base58btc(&self.compressed_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_for_the_key_codes() {
        for (code, wire) in [(0xe7u64, vec![0xe7, 0x01]), (0x1200, vec![0x80, 0x24])] {
            let mut out = Vec::new();
            write_varint(code, &mut out);
            assert_eq!(out, wire);
            assert_eq!(read_varint(&wire), Ok((code, 2)));
        }
        assert_eq!(read_varint(&[0x05, 0xff]), Ok((5, 1)));
        assert_eq!(read_varint(&[0x00]), Ok((0, 1)));
    }

    #[test]
    fn truncated_overlong_and_non_minimal_varints_are_refused() {
        assert_eq!(read_varint(&[]), Err(CryptoError::InvalidMulticodec));
        assert_eq!(read_varint(&[0x80]), Err(CryptoError::InvalidMulticodec));
        assert_eq!(
            read_varint(&[0xe7, 0x00]),
            Err(CryptoError::InvalidMulticodec)
        );
        assert_eq!(
            read_varint(&[0xff; 20]),
            Err(CryptoError::InvalidMulticodec)
        );
    }

    #[test]
    fn non_base58btc_multibase_is_refused() {
        assert_eq!(decode_base58btc(""), Err(CryptoError::UnsupportedMultibase));
        assert_eq!(decode_base58btc("z"), Err(CryptoError::InvalidBase58));
        assert_eq!(
            decode_base58btc("mAAAA"),
            Err(CryptoError::UnsupportedMultibase)
        );
        assert_eq!(decode_base58btc("z0OIl"), Err(CryptoError::InvalidBase58));
        let long = format!("z{}", "1".repeat(MAX_MULTIBASE_LEN));
        assert!(matches!(
            decode_base58btc(&long),
            Err(CryptoError::TooLong { .. })
        ));
    }
}
