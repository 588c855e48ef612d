//! The error type of the crypto room.

use super::Algorithm;

/// Why a key, signature or key encoding was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// A private key was not exactly 32 bytes.
    #[error("private key must be 32 bytes, got {0}")]
    PrivateKeyLength(usize),
    /// A private key is zero or not below the curve order.
    #[error("private key is not a valid {0} scalar")]
    InvalidPrivateKey(Algorithm),
    /// Hex text was malformed or of the wrong length.
    #[error("malformed hex")]
    InvalidHex,
    /// Public key bytes are not a point of the curve in SEC1 encoding.
    #[error("public key is not a valid {0} point")]
    InvalidPublicKey(Algorithm),
    /// Public key bytes have a length no accepted encoding has.
    #[error("public key has {0} bytes; expected 33 (compressed) or 65 (uncompressed)")]
    PublicKeyLength(usize),
    /// The text is not a `did:key:z...` identifier.
    #[error("not a did:key (expected the prefix \"did:key:z\")")]
    NotDidKey,
    /// A multibase string does not use base58btc (prefix `z`).
    #[error("multibase must be base58btc (prefix 'z')")]
    UnsupportedMultibase,
    /// Base58btc text was malformed.
    #[error("malformed base58btc")]
    InvalidBase58,
    /// An encoded key is longer than any valid one.
    #[error("encoded key too long: {actual} characters, at most {max}")]
    TooLong {
        /// The largest accepted length.
        max: usize,
        /// The length given.
        actual: usize,
    },
    /// The multicodec varint prefix is truncated or overlong.
    #[error("malformed multicodec prefix")]
    InvalidMulticodec,
    /// The multicodec code is not a key type atproto uses.
    #[error("unsupported key multicodec 0x{0:x}")]
    UnsupportedKeyType(u64),
    /// The key is of one curve where another was expected.
    #[error("expected a {expected} key, found {found}")]
    AlgorithmMismatch {
        /// The curve the caller asked for.
        expected: Algorithm,
        /// The curve the encoding holds.
        found: Algorithm,
    },
    /// A DID document verification method type this crate does not know.
    #[error("unsupported verification method type {0:?}")]
    UnsupportedVerificationMethod(String),
    /// A signature was not 64 bytes (compact `r || s`); DER signatures land here.
    #[error("signature must be 64 bytes (compact r||s), got {0}")]
    SignatureLength(usize),
    /// `r` or `s` is zero or not below the curve order.
    #[error("malformed signature")]
    MalformedSignature,
    /// `s` is in the upper half of the curve order; atproto accepts only low-S signatures.
    #[error("signature is not low-S")]
    HighS,
    /// The signature does not match the message and key.
    #[error("signature does not verify")]
    BadSignature,
    /// A JWK is malformed or not an EC public key of a supported curve.
    #[error("invalid JWK: {0}")]
    InvalidJwk(&'static str),
    /// The operating system's random number generator failed.
    #[error("operating system randomness unavailable")]
    Randomness,
}
