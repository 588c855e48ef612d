//! Encryption at rest of the secrets the database holds (cluster secrets, account signing keys).
//!
//! A [`SealingKey`] is 32 bytes the platform keeps outside the database: the phone's `SecretStore`
//! (Android Keystore, iOS Keychain), `PDS_SECRETS_KEY`, or the daemon's key file
//! ([`key_file`]). Values are sealed with XChaCha20-Poly1305 under a fresh random 192-bit nonce, and
//! the place a value belongs to (its table and row) is authenticated as associated data, so a sealed
//! value moved to another row does not open.
//!
//! Sealed format, version 1 (all lengths in bytes):
//!
//! | field | length | value |
//! | --- | --- | --- |
//! | magic | 3 | `PPS` |
//! | version | 1 | `1` |
//! | nonce | 24 | random |
//! | ciphertext and tag | plaintext + 16 | XChaCha20-Poly1305 |
//!
//! Rows record whether their value is sealed (a `sealed` column); values written before sealing
//! existed are sealed in place when a node first reads them, or by [`reseal_legacy`] when it starts.

pub mod key_file;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use libsql::Connection;
use zeroize::Zeroize;

use super::error::StorageError;

/// Length of a sealing key.
pub const KEY_LEN: usize = 32;
const MAGIC: &[u8; 3] = b"PPS";
const VERSION_1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + 1;

/// Why a key or a sealed value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealingError {
    /// The key does not have [`KEY_LEN`] bytes (or [`KEY_LEN`] × 2 hex digits).
    #[error("a secrets key must be {KEY_LEN} bytes (64 hex characters)")]
    InvalidKey,
    /// The value is not in the sealed format.
    #[error("sealed value is malformed")]
    Malformed,
    /// The value was sealed by a newer format than this build knows.
    #[error("sealed value has unknown format version {0}")]
    UnknownVersion(u8),
    /// Authentication failed: another key sealed it, or it was altered or moved.
    #[error("a secret in the database does not open with this secrets key (another key sealed it, or it was altered)")]
    WrongKey,
}

impl From<SealingError> for StorageError {
    fn from(e: SealingError) -> Self {
        StorageError::Sealing(e)
    }
}

/// The key that seals the database's secrets. Its `Debug` form does not show it.
#[derive(Clone)]
pub struct SealingKey {
    bytes: [u8; KEY_LEN],
}

impl SealingKey {
    /// A key of exactly [`KEY_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<SealingKey, SealingError> {
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| SealingError::InvalidKey)?;
        Ok(SealingKey { bytes })
    }

    /// A key written as 64 hex digits (surrounding whitespace is ignored).
    pub fn from_hex(text: &str) -> Result<SealingKey, SealingError> {
        let raw = hex::decode(text.trim()).map_err(|_| SealingError::InvalidKey)?;
        SealingKey::from_bytes(&raw)
    }

    /// A new random key.
    pub fn generate() -> SealingKey {
        SealingKey {
            bytes: rand::random(),
        }
    }

    /// The key's bytes, for handing to the platform's secret store.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// The key as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.bytes.into())
    }

    /// Seals `plaintext` for the place named `context` (for example `account_key/did:plc:…`).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealingError> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let sealed = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealingError::Malformed)?;
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION_1);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a value sealed by [`SealingKey::seal`] for the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SealingError> {
        let (header, rest) = sealed
            .split_at_checked(HEADER_LEN)
            .ok_or(SealingError::Malformed)?;
        let (magic, version) = header.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(SealingError::Malformed);
        }
        match version {
            [VERSION_1] => {}
            [other] => return Err(SealingError::UnknownVersion(*other)),
            _ => return Err(SealingError::Malformed),
        }
        let (nonce, ciphertext) = rest
            .split_at_checked(NONCE_LEN)
            .ok_or(SealingError::Malformed)?;
        if ciphertext.len() < TAG_LEN {
            return Err(SealingError::Malformed);
        }
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealingError::Malformed)?;
        self.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealingError::WrongKey)
    }
}

impl PartialEq for SealingKey {
    /// Compares in constant time.
    fn eq(&self, other: &SealingKey) -> bool {
        self.bytes
            .iter()
            .zip(other.bytes.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for SealingKey {}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl Drop for SealingKey {
    fn drop(&mut self) {
        // Do not leave the key in freed memory.
        self.bytes.zeroize();
    }
}

/// The associated data of a cluster secret.
pub(crate) fn cluster_secret_context(name: &str) -> String {
    format!("pocketpds/cluster_secret/{name}")
}

/// The associated data of an account's signing key.
pub(crate) fn account_key_context(did: &str) -> String {
    format!("pocketpds/account_key/{did}")
}

/// The SQL of the schema step that marks which values are sealed: every row written before it is
/// clear text (`sealed = 0`) until a node seals it.
pub(crate) const SCHEMA: &str = "
ALTER TABLE cluster_secret ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_key ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
";

/// Seals, in place, every cluster secret and account key still stored in clear text. Each row is
/// updated only while it is still unsealed, so nodes doing this at once on one database do not seal
/// a value twice. Returns how many rows it sealed.
pub async fn reseal_legacy(conn: &Connection, key: &SealingKey) -> Result<u64, StorageError> {
    let mut sealed = 0;
    for (table, id, value, context) in [
        (
            "cluster_secret",
            "name",
            "value",
            cluster_secret_context as fn(&str) -> String,
        ),
        ("account_key", "did", "private_key", account_key_context),
    ] {
        let mut rows = conn
            .query(
                &format!("SELECT {id}, {value} FROM {table} WHERE sealed = 0"),
                (),
            )
            .await?;
        let mut legacy = Vec::new();
        while let Some(row) = rows.next().await? {
            legacy.push((row.get::<String>(0)?, row.get::<Vec<u8>>(1)?));
        }
        drop(rows);
        for (row_id, clear) in legacy {
            let value_sealed = key.seal(&context(&row_id), &clear)?;
            sealed += conn
                .execute(
                    &format!(
                        "UPDATE {table} SET {value} = ?2, sealed = 1 WHERE {id} = ?1 AND sealed = 0"
                    ),
                    libsql::params![row_id, value_sealed],
                )
                .await?;
        }
    }
    if sealed > 0 {
        log::info!("sealed {sealed} secrets stored before encryption at rest");
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_key_and_context_only() {
        let key = SealingKey::generate();
        let sealed = key.seal("a", b"secret bytes").unwrap();
        assert_eq!(&sealed[..4], b"PPS\x01");
        assert_eq!(sealed.len(), 4 + 24 + 12 + 16);
        assert!(!sealed.windows(12).any(|w| w == b"secret bytes"));
        assert_eq!(key.open("a", &sealed).unwrap(), b"secret bytes");
        assert_eq!(key.open("b", &sealed), Err(SealingError::WrongKey));
        let other = SealingKey::generate();
        assert_eq!(other.open("a", &sealed), Err(SealingError::WrongKey));
        // Two seals of one value differ (fresh nonces).
        assert_ne!(key.seal("a", b"secret bytes").unwrap(), sealed);
    }

    #[test]
    fn damaged_or_foreign_values_are_errors_not_panics() {
        let key = SealingKey::generate();
        let sealed = key.seal("a", b"x").unwrap();
        for len in 0..sealed.len() {
            assert!(key.open("a", &sealed[..len]).is_err(), "{len}");
        }
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert_eq!(key.open("a", &flipped), Err(SealingError::WrongKey));
        let mut future = sealed.clone();
        future[3] = 2;
        assert_eq!(key.open("a", &future), Err(SealingError::UnknownVersion(2)));
        assert_eq!(key.open("a", &[0u8; 32]), Err(SealingError::Malformed));
    }

    #[test]
    fn keys_parse_from_32_bytes_or_64_hex_digits() {
        let key = SealingKey::generate();
        assert_eq!(SealingKey::from_hex(&key.to_hex()).unwrap(), key);
        assert_eq!(SealingKey::from_bytes(key.as_bytes()).unwrap(), key);
        assert_ne!(SealingKey::generate(), key);
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(62)] {
            assert_eq!(SealingKey::from_hex(bad), Err(SealingError::InvalidKey));
        }
        assert_eq!(
            SealingKey::from_bytes(&[0; 31]),
            Err(SealingError::InvalidKey)
        );
        assert_eq!(format!("{key:?}"), "SealingKey(..)");
    }
}
