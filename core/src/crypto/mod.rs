//! Keys and signatures as atproto uses them: the two elliptic curves (k256 = secp256k1, JWT `ES256K`;
//! p256 = NIST P-256, JWT `ES256`), ECDSA over SHA-256 with 64-byte compact `r || s` signatures that
//! must be low-S, `did:key` identifiers, the `publicKeyMultibase` forms of DID documents, and public
//! keys as JWKs with RFC 7638 thumbprints (for OAuth and DPoP).
//!
//! This room depends on nothing else in the crate. The repository (commit signatures), identity (DID
//! documents, PLC operations), account and OAuth code call it.
//!
//! - [`Keypair`] holds a private key of either curve and signs.
//! - [`PublicKey`] verifies, and converts to and from `did:key`, multibase, SEC1 and JWK.
//! - [`Jwk`] is the public JWK form of a key.

mod algorithm;
mod did_key;
mod error;
mod jwk;
mod keypair;
mod multibase;
mod public_key;
mod signature;

pub use algorithm::Algorithm;
pub use did_key::{
    DID_KEY_PREFIX, VM_TYPE_MULTIKEY, VM_TYPE_P256_LEGACY, VM_TYPE_SECP256K1_LEGACY,
};
pub use error::CryptoError;
pub use jwk::Jwk;
pub use keypair::Keypair;
pub use public_key::PublicKey;
pub use signature::{is_low_s, SIGNATURE_LEN};
