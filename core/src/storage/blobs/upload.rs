//! [`PendingUpload`]: an upload being written. Its bytes are gathered into chunks of [`CHUNK_SIZE`]
//! (the last one shorter), each stored as soon as it is full in a short transaction of its own (so a
//! slow client never holds the write lock, and memory stays at one chunk; these commits skip the disk
//! sync, which the final one makes for all of them) under a `blob` row that has
//! no CID yet and expires like any temporary blob, so an upload abandoned part way is collected. When
//! the bytes are complete, [`PendingUpload::finish`] names the row in one transaction, or drops it
//! when the account already holds the same bytes.

use bytes::BytesMut;
use libsql::{Connection, TransactionBehavior, Value};

use super::super::error::StorageError;
use super::super::{set_durable, StorageMode};
use super::{stored_blob, StoredBlob, CHUNK_SIZE};
use crate::repo::cid::Cid;

/// An upload in progress, on a connection of its own.
pub struct PendingUpload {
    conn: Connection,
    mode: StorageMode,
    id: i64,
    did: String,
    chunks: i64,
    /// Bytes not yet stored: less than one chunk.
    buffer: BytesMut,
}

impl PendingUpload {
    /// Starts an upload by `did` on `conn` (a connection nothing else uses meanwhile); it expires at
    /// `expires_at` unless finished and referenced.
    pub async fn begin(
        conn: Connection,
        mode: StorageMode,
        did: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<PendingUpload, StorageError> {
        // The chunks need not reach the disk one by one: the commit of `finish`, made with
        // `synchronous = FULL`, syncs the write-ahead log with every chunk before it. A crash before
        // then leaves a pending upload, which expires.
        set_durable(&conn, mode, false).await?;
        let mut rows = conn
            .query(
                "INSERT INTO blob (did, cid, created_at, expires_at) VALUES (?1, NULL, ?2, ?3)
                 RETURNING id",
                (did, now, expires_at),
            )
            .await?;
        let row = rows
            .next()
            .await?
            .ok_or_else(|| StorageError::Corrupt("INSERT … RETURNING gave no row".into()))?;
        let id = match row.get_value(0)? {
            Value::Integer(id) => id,
            _ => return Err(StorageError::Corrupt("blob.id is not an integer".into())),
        };
        drop(rows);
        Ok(PendingUpload {
            mode,
            conn,
            id,
            did: did.to_owned(),
            chunks: 0,
            buffer: BytesMut::new(),
        })
    }

    /// Appends `bytes`, storing every chunk that fills up. Returns `false`, storing nothing more,
    /// when the upload is gone: it took so long that it was collected as abandoned.
    pub async fn append(&mut self, bytes: &[u8]) -> Result<bool, StorageError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = CHUNK_SIZE - self.buffer.len();
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.buffer.extend_from_slice(now);
            rest = later;
            if self.buffer.len() == CHUNK_SIZE && !self.store_buffer().await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Stores the buffered bytes as the next chunk; `false` when the upload is gone.
    async fn store_buffer(&mut self) -> Result<bool, StorageError> {
        let chunk = self.buffer.split().freeze();
        let stored = self
            .conn
            .execute(
                "INSERT INTO blob_chunk (blob_id, seq, bytes)
                 SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM blob WHERE id = ?1 AND cid IS NULL)",
                (self.id, self.chunks, chunk.to_vec()),
            )
            .await?;
        if stored == 0 {
            return Ok(false);
        }
        self.chunks += 1;
        Ok(true)
    }

    /// Completes the upload as the blob `cid` of `size` bytes and type `mime_type`, in one
    /// transaction. When the account already holds `cid`, this copy is dropped and the stored blob
    /// returned (a temporary one takes the new type and, if later, the new expiry). A blob that records
    /// already reference is permanent at once; otherwise it expires at `expires_at`. Returns `None`,
    /// storing nothing, when the upload was collected as abandoned meanwhile.
    pub async fn finish(
        mut self,
        cid: &Cid,
        mime_type: &str,
        size: u64,
        expires_at: i64,
    ) -> Result<Option<StoredBlob>, StorageError> {
        if !self.buffer.is_empty() && !self.store_buffer().await? {
            return Ok(None);
        }
        let size = i64::try_from(size).map_err(|_| StorageError::Corrupt("blob size".into()))?;
        set_durable(&self.conn, self.mode, true).await?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await?;
        let outcome = async {
            let cid_bytes = cid.to_bytes();
            let mut rows = tx
                .query(
                    "SELECT id, cid, mime_type, size, expires_at FROM blob WHERE did = ?1 AND cid = ?2",
                    (self.did.as_str(), cid_bytes.clone()),
                )
                .await?;
            let existing = match rows.next().await? {
                Some(row) => Some(stored_blob(&row)?),
                None => None,
            };
            drop(rows);
            if let Some(mut existing) = existing {
                delete_blob_rows(&tx, self.id).await?;
                if existing.temporary {
                    tx.execute(
                        "UPDATE blob SET mime_type = ?1, expires_at = MAX(expires_at, ?2) WHERE id = ?3",
                        (mime_type, expires_at, existing.id),
                    )
                    .await?;
                    existing.mime_type = mime_type.to_owned();
                }
                return Ok(Some(existing));
            }
            let named = tx
                .execute(
                    "UPDATE blob SET cid = ?1, mime_type = ?2, size = ?3,
                         expires_at = CASE WHEN EXISTS
                             (SELECT 1 FROM record_blob WHERE did = ?4 AND cid = ?1)
                             THEN NULL ELSE ?5 END
                     WHERE id = ?6 AND cid IS NULL",
                    (
                        cid_bytes.clone(),
                        mime_type,
                        size,
                        self.did.as_str(),
                        expires_at,
                        self.id,
                    ),
                )
                .await?;
            if named == 0 {
                return Ok(None);
            }
            let mut rows = tx
                .query(
                    "SELECT id, cid, mime_type, size, expires_at FROM blob WHERE id = ?1",
                    [self.id],
                )
                .await?;
            match rows.next().await? {
                Some(row) => Ok(Some(stored_blob(&row)?)),
                None => Err(StorageError::Corrupt("a named blob vanished".into())),
            }
        }
        .await;
        match outcome {
            Ok(blob) => {
                tx.commit().await?;
                Ok(blob)
            }
            Err(err) => {
                if let Err(rollback) = tx.rollback().await {
                    log::warn!("rolling back a failed blob upload failed: {rollback}");
                }
                Err(err)
            }
        }
    }

    /// Deletes what the upload stored (after a failure: too large, refused, or the client left).
    pub async fn discard(self) -> Result<(), StorageError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await?;
        match delete_blob_rows(&tx, self.id).await {
            Ok(()) => Ok(tx.commit().await?),
            Err(err) => {
                if let Err(rollback) = tx.rollback().await {
                    log::warn!("rolling back a failed upload cleanup failed: {rollback}");
                }
                Err(err)
            }
        }
    }
}

/// Deletes the blob row `id` and its chunks.
pub(super) async fn delete_blob_rows(conn: &Connection, id: i64) -> Result<(), StorageError> {
    conn.execute("DELETE FROM blob_chunk WHERE blob_id = ?1", [id])
        .await?;
    conn.execute("DELETE FROM blob WHERE id = ?1", [id]).await?;
    Ok(())
}
