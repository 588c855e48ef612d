//! Signing keys reserved for accounts about to arrive (`reserved_signing_key`,
//! `com.atproto.server.reserveSigningKey`), sealed like `account_key` under their `did:key`. A
//! reservation for a DID is the one key of that DID: reserving again answers the same key, and
//! `createAccount` for that DID makes it the account's signing key (the old host's PLC operation
//! already points at it); creating the account removes the reservation. A reservation without a
//! DID is known by its public key alone.

use libsql::Transaction;

use super::{AccountStore, AccountsError};
use crate::crypto::{Keypair, PublicKey};
use crate::storage::sealing::account_key_context;
use crate::storage::StorageError;

impl AccountStore {
    /// Keeps `key` (sealed) for the account `did` that is about to arrive and answers its
    /// `did:key`; when `did` already has a reservation, keeps nothing and answers that one's.
    pub async fn reserve_signing_key(
        &self,
        did: Option<&str>,
        key: &Keypair,
        now: i64,
    ) -> Result<String, AccountsError> {
        let public = key.did_key();
        let sealed = self
            .sealing
            .seal(&account_key_context(&public), key.private_bytes().as_ref())
            .map_err(StorageError::from)?;
        let _serialised = self.write_lock.lock().await;
        let tx = self.begin().await?;
        let result = async {
            if let Some(did) = did {
                if let Some(existing) = reservation_of(&tx, did).await? {
                    return Ok(existing);
                }
            }
            tx.execute(
                "INSERT INTO reserved_signing_key (public_key, did, private_key, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                (public.as_str(), did, sealed, now),
            )
            .await?;
            Ok(public)
        }
        .await;
        super::finish(tx, result).await
    }

    /// The key reserved for `did`, if any (a replica that has none catches up with the primary
    /// first: the reservation may have been made through another node).
    pub async fn reserved_signing_key(&self, did: &str) -> Result<Option<Keypair>, StorageError> {
        let found = self
            .freshness
            .on_miss(|| async {
                let mut rows = self
                    .conn
                    .query(
                        "SELECT public_key, private_key FROM reserved_signing_key
                         WHERE did = ?1 ORDER BY created_at, public_key LIMIT 1",
                        [did],
                    )
                    .await?;
                match rows.next().await? {
                    Some(row) => Ok(Some((row.get::<String>(0)?, row.get::<Vec<u8>>(1)?))),
                    None => Ok(None),
                }
            })
            .await?;
        let Some((public, sealed)) = found else {
            return Ok(None);
        };
        let corrupt = |e: &dyn std::fmt::Display| {
            StorageError::Corrupt(format!("reserved_signing_key {public}: {e}"))
        };
        let algorithm = PublicKey::from_did_key(&public)
            .map_err(|e| corrupt(&e))?
            .algorithm();
        let bytes = self.sealing.open(&account_key_context(&public), &sealed)?;
        let key = Keypair::from_private_bytes(algorithm, &bytes).map_err(|e| corrupt(&e))?;
        if key.did_key() != public {
            return Err(corrupt(&"the private key does not match"));
        }
        Ok(Some(key))
    }
}

/// The reservation of `did` (its public key), read inside `tx`.
async fn reservation_of(tx: &Transaction, did: &str) -> Result<Option<String>, AccountsError> {
    let mut rows = tx
        .query(
            "SELECT public_key FROM reserved_signing_key
             WHERE did = ?1 ORDER BY created_at, public_key LIMIT 1",
            [did],
        )
        .await?;
    match rows.next().await? {
        Some(row) => Ok(Some(row.get::<String>(0)?)),
        None => Ok(None),
    }
}

/// Removes the reservations of `did` and of its new signing key `public` (an account now holds it).
pub(super) async fn release(
    tx: &Transaction,
    did: &str,
    public: &str,
) -> Result<(), AccountsError> {
    tx.execute(
        "DELETE FROM reserved_signing_key WHERE did = ?1 OR public_key = ?2",
        (did, public),
    )
    .await?;
    Ok(())
}
