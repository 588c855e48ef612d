//! Collecting temporary blobs: those no record references (and pending uploads abandoned part way)
//! whose expiry has passed are deleted, a bounded batch per transaction.

use libsql::{Connection, TransactionBehavior, Value};

use super::super::error::StorageError;
use super::BlobStore;

/// Blobs deleted per transaction.
const BATCH: usize = 64;

impl BlobStore {
    /// The earliest expiry among the temporary blobs and pending uploads, if there are any.
    pub async fn next_expiry(&self) -> Result<Option<i64>, StorageError> {
        let _turn = self.lock.lock().await;
        let mut rows = self
            .conn
            .query(
                "SELECT MIN(expires_at) FROM blob WHERE expires_at IS NOT NULL",
                (),
            )
            .await?;
        let Some(row) = rows.next().await? else {
            return Ok(None);
        };
        match row.get_value(0)? {
            Value::Integer(at) => Ok(Some(at)),
            Value::Null => Ok(None),
            _ => Err(StorageError::Corrupt(
                "blob.expires_at is not an integer".into(),
            )),
        }
    }

    /// Deletes the temporary blobs and pending uploads that expired at or before `now`, with their
    /// chunks; returns how many. A blob that a record references is kept (and made permanent).
    pub async fn collect_expired(&self, now: i64) -> Result<u64, StorageError> {
        let mut total = 0;
        loop {
            let _turn = self.lock.lock().await;
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .await?;
            match collect_batch(&tx, now).await {
                Ok(deleted) => {
                    tx.commit().await?;
                    total += deleted as u64;
                    if deleted < BATCH {
                        return Ok(total);
                    }
                }
                Err(err) => {
                    if let Err(rollback) = tx.rollback().await {
                        log::warn!("rolling back a failed blob collection failed: {rollback}");
                    }
                    return Err(err);
                }
            }
        }
    }
}

/// One batch: at most [`BATCH`] expired blobs deleted.
async fn collect_batch(conn: &Connection, now: i64) -> Result<usize, StorageError> {
    // An expired blob that a record references (a reference added without clearing the expiry)
    // stays, and stops expiring.
    conn.execute(
        "UPDATE blob SET expires_at = NULL
         WHERE expires_at IS NOT NULL AND expires_at <= ?1 AND cid IS NOT NULL
           AND EXISTS (SELECT 1 FROM record_blob rb WHERE rb.did = blob.did AND rb.cid = blob.cid)",
        [now],
    )
    .await?;
    let mut rows = conn
        .query(
            "SELECT id FROM blob WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2",
            (now, BATCH as i64),
        )
        .await?;
    let mut ids = Vec::with_capacity(BATCH);
    while let Some(row) = rows.next().await? {
        match row.get_value(0)? {
            Value::Integer(id) => ids.push(id),
            _ => return Err(StorageError::Corrupt("blob.id is not an integer".into())),
        }
    }
    drop(rows);
    for id in &ids {
        super::upload::delete_blob_rows(conn, *id).await?;
    }
    Ok(ids.len())
}
