//! [`BlobStore`]: the blobs of every account in the database, so they replicate with everything
//! else — their metadata, their bytes in chunks, which records reference them, and the uploads not yet
//! referenced.
//!
//! A blob is a row of `blob` (account, CID, MIME type, size) and its bytes are rows of `blob_chunk` of
//! at most [`CHUNK_SIZE`] bytes each, so no blob needs one huge row and a reader holds one chunk at a
//! time. An upload writes its chunks as they arrive under a pending `blob` row without a CID
//! ([`PendingUpload`]), then names it in one transaction; the same bytes uploaded twice by one account
//! are kept once. `record_blob` says which records of an account reference which CIDs; it may name
//! CIDs the account does not hold (`listMissingBlobs` lists them, for accounts moving in).
//!
//! A blob no record references is temporary: its `expires_at` is set, and [`BlobStore::collect_expired`]
//! deletes it once that time passes (pending uploads abandoned part way included). The commit that
//! first references a blob clears `expires_at` ([`references`]), and the commit that drops its last
//! reference deletes it, as the reference PDS does. Times are milliseconds since the UNIX epoch, given
//! by the caller.
//!
//! Blobs are per account: the same bytes uploaded by two accounts are two blobs, and a record can
//! only make permanent a blob of its own account. `blob.id` is `AUTOINCREMENT`, so the id of a deleted
//! blob is never given to another one (a reader streaming chunks by id cannot wander into someone
//! else's blob). Statements on the store's connection take turns ([`BlobStore`]); uploads run on
//! connections of their own.

mod expiry;
pub(crate) mod references;
mod upload;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use libsql::{Connection, Value};

use super::error::StorageError;
use super::repo_store::columns::{blob as blob_column, cid, optional_u64, text, u64_column};
use crate::repo::cid::Cid;

pub use upload::PendingUpload;

/// The largest chunk row, in bytes.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// CIDs per `IN (…)` lookup.
const LOOKUP_CIDS: usize = 500;

/// The SQL of the blob schema: blobs, their chunks, and the record references.
pub(crate) const SCHEMA: &str = "
CREATE TABLE blob (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    did TEXT NOT NULL,
    cid BLOB,
    mime_type TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE UNIQUE INDEX blob_did_cid ON blob (did, cid);
CREATE INDEX blob_expiry ON blob (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE blob_chunk (
    blob_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (blob_id, seq)
);
CREATE TABLE record_blob (
    did TEXT NOT NULL,
    cid BLOB NOT NULL,
    collection TEXT NOT NULL,
    rkey TEXT NOT NULL,
    PRIMARY KEY (did, cid, collection, rkey)
) WITHOUT ROWID;
CREATE INDEX record_blob_record ON record_blob (did, collection, rkey);
";

/// A stored blob (a finished upload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    id: i64,
    /// The blob's CID.
    pub cid: Cid,
    /// Its MIME type, as detected at upload (or declared, when the content was not recognised).
    pub mime_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Whether no record references it yet (it expires unless one does).
    pub temporary: bool,
}

impl StoredBlob {
    /// How many chunks hold its bytes.
    pub fn chunk_count(&self) -> u64 {
        self.size.div_ceil(CHUNK_SIZE as u64)
    }
}

/// A blob that records reference but the account does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingBlob {
    /// The blob's CID.
    pub cid: Cid,
    /// One record that references it (`at://did/collection/rkey`).
    pub record_uri: String,
}

/// The blobs in one database, over one connection. Cloning shares the connection and its
/// turn-taking.
#[derive(Clone)]
pub struct BlobStore {
    conn: Connection,
    /// Statements and transactions on `conn` take turns.
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl BlobStore {
    /// A store over `conn`, whose schema is already migrated. Give it a connection of its own.
    pub fn new(conn: Connection) -> BlobStore {
        BlobStore {
            conn,
            lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The account's blob `cid`, if it holds it (finished uploads only).
    pub async fn blob(&self, did: &str, cid: &Cid) -> Result<Option<StoredBlob>, StorageError> {
        Ok(self
            .blobs(did, std::slice::from_ref(cid))
            .await?
            .remove(cid))
    }

    /// Those of `cids` the account holds.
    pub async fn blobs(
        &self,
        did: &str,
        cids: &[Cid],
    ) -> Result<HashMap<Cid, StoredBlob>, StorageError> {
        let mut found = HashMap::with_capacity(cids.len());
        for chunk in cids.chunks(LOOKUP_CIDS) {
            let sql = format!(
                "SELECT id, cid, mime_type, size, expires_at FROM blob
                 WHERE did = ?1 AND cid IN ({})",
                placeholders(2, chunk.len())
            );
            let mut params = Vec::with_capacity(chunk.len() + 1);
            params.push(Value::Text(did.to_owned()));
            params.extend(chunk.iter().map(|c| Value::Blob(c.to_bytes())));
            let _turn = self.lock.lock().await;
            let mut rows = self.conn.query(&sql, params).await?;
            while let Some(row) = rows.next().await? {
                let blob = stored_blob(&row)?;
                found.insert(blob.cid, blob);
            }
        }
        Ok(found)
    }

    /// Chunk `seq` (from 0) of `blob`, or `None` when it is not there (the blob was deleted).
    pub async fn chunk(&self, blob: &StoredBlob, seq: u64) -> Result<Option<Bytes>, StorageError> {
        let seq = i64::try_from(seq).map_err(|_| StorageError::Corrupt("chunk index".into()))?;
        let _turn = self.lock.lock().await;
        let mut rows = self
            .conn
            .query(
                "SELECT bytes FROM blob_chunk WHERE blob_id = ?1 AND seq = ?2",
                (blob.id, seq),
            )
            .await?;
        match rows.next().await? {
            Some(row) => Ok(Some(Bytes::from(blob_column(&row, 0, "blob_chunk.bytes")?))),
            None => Ok(None),
        }
    }

    /// A page of the CIDs the account's records reference (held or not), in CID byte order, after
    /// `after`; with `since`, only those referenced by records written in revisions after it.
    pub async fn list_referenced(
        &self,
        did: &str,
        since: Option<&str>,
        after: Option<&Cid>,
        limit: usize,
    ) -> Result<Vec<Cid>, StorageError> {
        let mut params = vec![
            Value::Text(did.to_owned()),
            Value::Blob(after.map(Cid::to_bytes).unwrap_or_default()),
            Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)),
        ];
        let sql = match since {
            None => "SELECT DISTINCT cid FROM record_blob WHERE did = ?1 AND cid > ?2
                     ORDER BY cid LIMIT ?3"
                .to_owned(),
            Some(since) => {
                params.push(Value::Text(since.to_owned()));
                "SELECT DISTINCT rb.cid FROM record_blob rb
                 JOIN record r ON r.did = rb.did AND r.collection = rb.collection AND r.rkey = rb.rkey
                 WHERE rb.did = ?1 AND rb.cid > ?2 AND r.rev > ?4
                 ORDER BY rb.cid LIMIT ?3"
                    .to_owned()
            }
        };
        let _turn = self.lock.lock().await;
        let mut rows = self.conn.query(&sql, params).await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(cid(&row, 0, "record_blob.cid")?);
        }
        Ok(out)
    }

    /// A page of the CIDs the account's records reference but the account does not hold, in CID
    /// byte order after `after`, each with one record that references it.
    pub async fn list_missing(
        &self,
        did: &str,
        after: Option<&Cid>,
        limit: usize,
    ) -> Result<Vec<MissingBlob>, StorageError> {
        let _turn = self.lock.lock().await;
        let mut rows = self
            .conn
            .query(
                "SELECT rb.cid, MIN(rb.collection || '/' || rb.rkey) FROM record_blob rb
                 WHERE rb.did = ?1 AND rb.cid > ?2
                   AND NOT EXISTS (SELECT 1 FROM blob b WHERE b.did = rb.did AND b.cid = rb.cid)
                 GROUP BY rb.cid ORDER BY rb.cid LIMIT ?3",
                (
                    did,
                    after.map(Cid::to_bytes).unwrap_or_default(),
                    i64::try_from(limit).unwrap_or(i64::MAX),
                ),
            )
            .await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(MissingBlob {
                cid: cid(&row, 0, "record_blob.cid")?,
                record_uri: format!("at://{did}/{}", text(&row, 1, "record_blob path")?),
            });
        }
        Ok(out)
    }

    /// The records of the account that reference `cid`, as `collection/rkey` paths in order.
    pub async fn referencing_records(
        &self,
        did: &str,
        cid: &Cid,
    ) -> Result<Vec<String>, StorageError> {
        let _turn = self.lock.lock().await;
        let mut rows = self
            .conn
            .query(
                "SELECT collection || '/' || rkey FROM record_blob WHERE did = ?1 AND cid = ?2
                 ORDER BY 1",
                (did, cid.to_bytes()),
            )
            .await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(text(&row, 0, "record_blob path")?);
        }
        Ok(out)
    }
}

/// An `(id, cid, mime_type, size, expires_at)` row of a finished blob.
fn stored_blob(row: &libsql::Row) -> Result<StoredBlob, StorageError> {
    let id = match row.get_value(0)? {
        Value::Integer(id) => id,
        _ => return Err(StorageError::Corrupt("blob.id is not an integer".into())),
    };
    Ok(StoredBlob {
        id,
        cid: cid(row, 1, "blob.cid")?,
        mime_type: text(row, 2, "blob.mime_type")?,
        size: u64_column(row, 3, "blob.size")?,
        temporary: optional_u64(row, 4, "blob.expires_at")?.is_some(),
    })
}

/// `?first, ?first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
