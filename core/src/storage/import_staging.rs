//! [`ImportStaging`]: a repository being imported (`com.atproto.repo.importRepo`, `pocketpds account
//! import`) waits in the database, invisible, until it is verified whole.
//!
//! The CAR's blocks go to `import_block` as they stream in (each already checked against its CID),
//! a bounded batch at a time, so an import never holds the repository in memory. Blocks are keyed by
//! (DID, CID): staging a block twice stores it once, and a retried import of the same CAR (a cut
//! connection, a killed process) finds the blocks an earlier attempt staged and sends only the
//! others to the database ([`StagedCounts::reused`]). Once the repository verifies, its index — the
//! reachable blocks, the records, the blobs they reference — goes to `import_entry`, again a batch
//! at a time; [`super::RepoStore::publish_import`] then makes it all visible in one transactional
//! batch whose statements copy rows inside the database, so its size does not grow with the
//! repository. Staging is per account: an account has one import under way at a time.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use libsql::{Connection, Value};

use super::batch::SqlBatch;
use super::error::StorageError;
use crate::repo::block_store::{BlockStore, StoreError};
use crate::repo::cid::{cid_from_bytes, Cid};

/// Schema of the import staging tables (a migration of its own).
pub(super) const SCHEMA: &str = "CREATE TABLE import_block (
        did TEXT NOT NULL,
        cid BLOB NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (did, cid)
    ) WITHOUT ROWID;
    CREATE TABLE import_entry (
        did TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('n', 'r', 'b')),
        collection TEXT NOT NULL,
        rkey TEXT NOT NULL,
        cid BLOB NOT NULL,
        PRIMARY KEY (did, kind, collection, rkey, cid)
    ) WITHOUT ROWID;";

/// CIDs per `IN (…)` lookup.
const LOOKUP_CIDS: usize = 500;
/// Rows per multi-row `INSERT` statement of a staging batch.
const INSERT_ROWS: usize = 100;

/// What one import attempt staged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StagedCounts {
    /// Blocks this attempt sent to the database.
    pub stored: u64,
    /// Blocks an earlier attempt had staged already (not sent again).
    pub reused: u64,
    /// Bytes of the blocks this attempt sent.
    pub stored_bytes: u64,
}

/// One entry of a verified repository's index.
#[derive(Debug, Clone)]
pub enum StagedEntry {
    /// The commit or an MST node.
    Node(Cid),
    /// A record.
    Record {
        /// Its collection.
        collection: String,
        /// Its key.
        rkey: String,
        /// Its CID.
        cid: Cid,
    },
    /// A blob a record references.
    BlobRef {
        /// The referencing record's collection.
        collection: String,
        /// Its key.
        rkey: String,
        /// The blob's CID.
        cid: Cid,
    },
}

/// The staged import of one account: a [`BlockStore`] over `import_block`.
#[derive(Clone)]
pub struct ImportStaging {
    conn: Connection,
    did: Arc<str>,
    stored: Arc<AtomicU64>,
    reused: Arc<AtomicU64>,
    stored_bytes: Arc<AtomicU64>,
    progress: Option<Arc<dyn Fn(StagedCounts) + Send + Sync>>,
}

impl ImportStaging {
    /// The staging of `did` on `conn` (a connection of its own).
    pub fn new(conn: Connection, did: &str) -> ImportStaging {
        ImportStaging {
            conn,
            did: Arc::from(did),
            stored: Arc::default(),
            reused: Arc::default(),
            stored_bytes: Arc::default(),
            progress: None,
        }
    }

    /// This staging, calling `progress` after each batch of blocks.
    pub fn with_progress(mut self, progress: Arc<dyn Fn(StagedCounts) + Send + Sync>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// What this attempt staged so far.
    pub fn counts(&self) -> StagedCounts {
        StagedCounts {
            stored: self.stored.load(Ordering::Relaxed),
            reused: self.reused.load(Ordering::Relaxed),
            stored_bytes: self.stored_bytes.load(Ordering::Relaxed),
        }
    }

    /// The bytes of every block staged for the account (this attempt's and earlier ones').
    pub async fn staged_bytes(&self) -> Result<u64, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT COALESCE(SUM(length(bytes)), 0) FROM import_block WHERE did = ?1",
                [self.did.as_ref()],
            )
            .await?;
        let row = rows
            .next()
            .await?
            .ok_or_else(|| StorageError::Corrupt("SUM returned no row".into()))?;
        Ok(u64::try_from(row.get::<i64>(0)?).unwrap_or(0))
    }

    /// Which of `cids` are staged already.
    async fn staged_among(&self, cids: &[Cid]) -> Result<HashSet<Cid>, StorageError> {
        let mut found = HashSet::new();
        for chunk in cids.chunks(LOOKUP_CIDS) {
            let sql = format!(
                "SELECT cid FROM import_block WHERE did = ?1 AND cid IN ({})",
                placeholders(2, chunk.len())
            );
            let mut rows = self.conn.query(&sql, params(&self.did, chunk)).await?;
            while let Some(row) = rows.next().await? {
                let bytes: Vec<u8> = row.get(0)?;
                found.insert(
                    cid_from_bytes(&bytes)
                        .map_err(|e| StorageError::Corrupt(format!("import_block.cid: {e}")))?,
                );
            }
        }
        Ok(found)
    }

    /// Stages `blocks` (each already checked against its CID) in one transactional batch, leaving
    /// out those staged already.
    pub async fn stage(&self, blocks: &[(Cid, Bytes)]) -> Result<(), StorageError> {
        let cids: Vec<Cid> = blocks.iter().map(|(cid, _)| *cid).collect();
        let present = self.staged_among(&cids).await?;
        let mut seen = HashSet::with_capacity(blocks.len());
        let fresh: Vec<&(Cid, Bytes)> = blocks
            .iter()
            .filter(|(cid, _)| !present.contains(cid) && seen.insert(*cid))
            .collect();
        let mut batch = SqlBatch::new();
        let did = SqlBatch::text(&self.did);
        for chunk in fresh.chunks(INSERT_ROWS) {
            let values: Vec<String> = chunk
                .iter()
                .map(|(cid, bytes)| {
                    format!(
                        "({did}, {}, {})",
                        SqlBatch::blob(&cid.to_bytes()),
                        SqlBatch::blob(bytes)
                    )
                })
                .collect();
            batch.push(&format!(
                "INSERT OR IGNORE INTO import_block (did, cid, bytes) VALUES {}",
                values.join(", ")
            ));
        }
        batch.run(&self.conn).await?;
        let bytes: u64 = fresh.iter().map(|(_, b)| b.len() as u64).sum();
        self.stored.fetch_add(fresh.len() as u64, Ordering::Relaxed);
        self.stored_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.reused
            .fetch_add((blocks.len() - fresh.len()) as u64, Ordering::Relaxed);
        if let Some(progress) = &self.progress {
            progress(self.counts());
        }
        Ok(())
    }

    /// Forgets the index of an earlier attempt (the blocks stay, for this one to reuse).
    pub async fn clear_entries(&self) -> Result<(), StorageError> {
        self.conn
            .execute(
                "DELETE FROM import_entry WHERE did = ?1",
                [self.did.as_ref()],
            )
            .await?;
        Ok(())
    }

    /// Adds entries of the verified repository's index, in one transactional batch.
    pub async fn add_entries(&self, entries: &[StagedEntry]) -> Result<(), StorageError> {
        let did = SqlBatch::text(&self.did);
        let mut batch = SqlBatch::new();
        for chunk in entries.chunks(INSERT_ROWS) {
            let values: Vec<String> = chunk
                .iter()
                .map(|entry| {
                    let (kind, collection, rkey, cid) = match entry {
                        StagedEntry::Node(cid) => ("n", "", "", cid),
                        StagedEntry::Record {
                            collection,
                            rkey,
                            cid,
                        } => ("r", collection.as_str(), rkey.as_str(), cid),
                        StagedEntry::BlobRef {
                            collection,
                            rkey,
                            cid,
                        } => ("b", collection.as_str(), rkey.as_str(), cid),
                    };
                    format!(
                        "({did}, '{kind}', {}, {}, {})",
                        SqlBatch::text(collection),
                        SqlBatch::text(rkey),
                        SqlBatch::blob(&cid.to_bytes())
                    )
                })
                .collect();
            batch.push(&format!(
                "INSERT OR IGNORE INTO import_entry (did, kind, collection, rkey, cid) VALUES {}",
                values.join(", ")
            ));
        }
        batch.run(&self.conn).await
    }

    /// Drops everything staged for the account.
    pub async fn discard(&self) -> Result<(), StorageError> {
        let mut batch = SqlBatch::new();
        discard_statements(&mut batch, &self.did);
        batch.run(&self.conn).await
    }
}

/// Appends to `batch` the statements that drop everything staged for `did`.
pub(crate) fn discard_statements(batch: &mut SqlBatch, did: &str) {
    let did = SqlBatch::text(did);
    batch.push(&format!("DELETE FROM import_entry WHERE did = {did}"));
    batch.push(&format!("DELETE FROM import_block WHERE did = {did}"));
}

fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn params(did: &str, cids: &[Cid]) -> Vec<Value> {
    let mut params = Vec::with_capacity(cids.len() + 1);
    params.push(Value::Text(did.to_owned()));
    params.extend(cids.iter().map(|cid| Value::Blob(cid.to_bytes())));
    params
}

impl BlockStore for ImportStaging {
    async fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError> {
        let mut rows = self
            .conn
            .query(
                "SELECT bytes FROM import_block WHERE did = ?1 AND cid = ?2",
                (self.did.as_ref(), cid.to_bytes()),
            )
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        match rows.next().await.map_err(|e| StoreError(e.to_string()))? {
            Some(row) => Ok(Some(Bytes::from(
                row.get::<Vec<u8>>(0)
                    .map_err(|e| StoreError(e.to_string()))?,
            ))),
            None => Ok(None),
        }
    }

    async fn get_many(&self, cids: &[Cid]) -> Result<Vec<(Cid, Bytes)>, StoreError> {
        let mut out = Vec::with_capacity(cids.len());
        for chunk in cids.chunks(LOOKUP_CIDS) {
            let sql = format!(
                "SELECT cid, bytes FROM import_block WHERE did = ?1 AND cid IN ({})",
                placeholders(2, chunk.len())
            );
            let mut rows = self
                .conn
                .query(&sql, params(&self.did, chunk))
                .await
                .map_err(|e| StoreError(e.to_string()))?;
            while let Some(row) = rows.next().await.map_err(|e| StoreError(e.to_string()))? {
                let cid: Vec<u8> = row.get(0).map_err(|e| StoreError(e.to_string()))?;
                let cid = cid_from_bytes(&cid).map_err(|e| StoreError(e.to_string()))?;
                let bytes: Vec<u8> = row.get(1).map_err(|e| StoreError(e.to_string()))?;
                out.push((cid, Bytes::from(bytes)));
            }
        }
        Ok(out)
    }

    async fn put_many(&self, blocks: Vec<(Cid, Bytes)>) -> Result<(), StoreError> {
        Ok(self.stage(&blocks).await?)
    }
}
