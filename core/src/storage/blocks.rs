//! [`LibsqlBlockStore`]: the repository blocks of one account in the `repo_block` table, implementing
//! [`BlockStore`].
//!
//! Rows are keyed by (DID, CID bytes); a block written twice is stored once (`INSERT OR IGNORE`: the
//! bytes of a CID never change). A batch is written in one `BEGIN IMMEDIATE` transaction with multi-row
//! inserts, so it lands whole or not at all.
//!
//! A store issues its statements on the connection it is given. Its own batches are serialised (a
//! transaction belongs to the connection, not to the task), but other users of the same connection are
//! not: give each store its own connection, as [`super::Storage::block_store`] does. libSQL runs local
//! statements on the calling thread, so a large batch occupies its runtime worker while it runs.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use libsql::{Connection, TransactionBehavior, Value};

use super::error::StorageError;
use crate::repo::block_store::{BlockStore, StoreError};
use crate::repo::cid::{cid_from_bytes, Cid};

/// Rows per multi-row `INSERT` (3 values each, the DID shared): well under SQLite's variable limit.
const INSERT_ROWS: usize = 200;
/// CIDs per `IN (…)` lookup of [`LibsqlBlockStore::get_many`].
const LOOKUP_CIDS: usize = 500;

/// The blocks of one account (one DID) in a libSQL database. Cloning shares the connection.
#[derive(Clone)]
pub struct LibsqlBlockStore {
    conn: Connection,
    did: Arc<str>,
    write_lock: Arc<tokio::sync::Mutex<()>>,
}

impl LibsqlBlockStore {
    /// A store of `did`'s blocks over `conn`, whose schema is already migrated.
    pub fn new(conn: Connection, did: &str) -> Self {
        Self {
            conn,
            did: Arc::from(did),
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The account whose blocks this store holds.
    pub fn did(&self) -> &str {
        &self.did
    }

    /// The bytes of one block, or `None` when the account has no such block.
    pub async fn get_block(&self, cid: &Cid) -> Result<Option<Bytes>, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT bytes FROM repo_block WHERE did = ?1 AND cid = ?2",
                (self.did.as_ref(), cid.to_bytes()),
            )
            .await?;
        match rows.next().await? {
            Some(row) => Ok(Some(Bytes::from(row.get::<Vec<u8>>(0)?))),
            None => Ok(None),
        }
    }

    /// Whether the account has the block.
    pub async fn has(&self, cid: &Cid) -> Result<bool, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT 1 FROM repo_block WHERE did = ?1 AND cid = ?2",
                (self.did.as_ref(), cid.to_bytes()),
            )
            .await?;
        Ok(rows.next().await?.is_some())
    }

    /// The blocks among `cids` that the account has; missing ones are simply absent from the map.
    pub async fn get_many(&self, cids: &[Cid]) -> Result<HashMap<Cid, Bytes>, StorageError> {
        let mut found = HashMap::with_capacity(cids.len());
        for chunk in cids.chunks(LOOKUP_CIDS) {
            let sql = format!(
                "SELECT cid, bytes FROM repo_block WHERE did = ?1 AND cid IN ({})",
                placeholders(2, chunk.len())
            );
            let mut params = Vec::with_capacity(chunk.len() + 1);
            params.push(Value::Text(self.did.to_string()));
            params.extend(chunk.iter().map(|cid| Value::Blob(cid.to_bytes())));
            let mut rows = self.conn.query(&sql, params).await?;
            while let Some(row) = rows.next().await? {
                let cid_bytes: Vec<u8> = row.get(0)?;
                let cid = cid_from_bytes(&cid_bytes)
                    .map_err(|e| StorageError::Corrupt(format!("repo_block.cid: {e}")))?;
                found.insert(cid, Bytes::from(row.get::<Vec<u8>>(1)?));
            }
        }
        Ok(found)
    }

    /// Stores a batch of blocks in one transaction: all of them, or none if anything fails.
    /// The caller vouches that each block hashes to its CID.
    pub async fn put_blocks(&self, blocks: &[(Cid, Bytes)]) -> Result<(), StorageError> {
        if blocks.is_empty() {
            return Ok(());
        }
        let _serialised = self.write_lock.lock().await;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await?;
        match self.insert_rows(&tx, blocks).await {
            Ok(()) => Ok(tx.commit().await?),
            Err(err) => {
                if let Err(rollback) = tx.rollback().await {
                    log::warn!("rolling back a failed block batch failed: {rollback}");
                }
                Err(err)
            }
        }
    }

    async fn insert_rows(&self, conn: &Connection, blocks: &[(Cid, Bytes)]) -> Result<(), StorageError> {
        for chunk in blocks.chunks(INSERT_ROWS) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("(?1, ?{}, ?{})", 2 + 2 * i, 3 + 2 * i))
                .collect();
            let sql = format!(
                "INSERT OR IGNORE INTO repo_block (did, cid, bytes) VALUES {}",
                rows.join(", ")
            );
            let mut params = Vec::with_capacity(1 + 2 * chunk.len());
            params.push(Value::Text(self.did.to_string()));
            for (cid, bytes) in chunk {
                params.push(Value::Blob(cid.to_bytes()));
                params.push(Value::Blob(bytes.to_vec()));
            }
            conn.execute(&sql, params).await?;
        }
        Ok(())
    }

    #[doc(hidden)]
    pub async fn put_blocks_prepared(&self, blocks: &[(Cid, Bytes)]) -> Result<(), StorageError> {
        let _serialised = self.write_lock.lock().await;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await?;
        let stmt = tx
            .prepare("INSERT OR IGNORE INTO repo_block (did, cid, bytes) VALUES (?1, ?2, ?3)")
            .await?;
        for (cid, bytes) in blocks {
            stmt.execute((self.did.as_ref(), cid.to_bytes(), bytes.to_vec()))
                .await?;
            stmt.reset();
        }
        drop(stmt);
        tx.commit().await?;
        Ok(())
    }
}

/// `?first, ?first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl BlockStore for LibsqlBlockStore {
    async fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError> {
        Ok(self.get_block(cid).await?)
    }

    async fn put_many(&self, blocks: Vec<(Cid, Bytes)>) -> Result<(), StoreError> {
        Ok(self.put_blocks(&blocks).await?)
    }
}
