//! Reading an account's blocks through a [`RepoStore`]: [`RepoBlocks`], the [`BlockStore`] the writer
//! builds commits over, and the blocks written since a revision (`sync.getRepo?since=`).

use bytes::Bytes;
use libsql::{TransactionBehavior, Value};

use super::super::error::StorageError;
use super::columns::{blob, cid, text};
use super::RepoStore;
use crate::repo::block_store::{BlockStore, StoreError};
use crate::repo::cid::Cid;

/// The most blocks one query of [`BlockStore::get_many`] asks for.
pub const MAX_BATCH_GET: usize = 256;

/// The most blocks one [`RepoStore::blocks_since`] page returns.
pub const MAX_BLOCKS_PAGE: usize = 10_000;

/// One account's blocks, read (and written) on its [`RepoStore`]'s connection, in turn with the
/// store's transactions, so a read never sees a commit that is still being written.
pub struct RepoBlocks<'a> {
    store: &'a RepoStore,
    did: &'a str,
}

/// A block together with the revision of the latest commit that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevBlock {
    /// The revision (a TID string).
    pub rev: String,
    /// The block's CID.
    pub cid: Cid,
    /// The block's bytes.
    pub bytes: Bytes,
}

impl RepoStore {
    /// The blocks of `did`, as a [`BlockStore`].
    pub fn blocks<'a>(&'a self, did: &'a str) -> RepoBlocks<'a> {
        RepoBlocks { store: self, did }
    }

    /// One page of the blocks that commits after revision `since` wrote, ordered by (revision, CID):
    /// what a client holding the repository at `since` lacks. Pass the last block of a page as
    /// `after` to get the next one; a page shorter than `limit` (at most [`MAX_BLOCKS_PAGE`]) is the
    /// last. Blocks stored outside a commit carry no revision and are never listed.
    pub async fn blocks_since(
        &self,
        did: &str,
        since: &str,
        after: Option<&RevBlock>,
        limit: usize,
    ) -> Result<Vec<RevBlock>, StorageError> {
        let limit = limit.min(MAX_BLOCKS_PAGE);
        let (after_rev, after_cid) = match after {
            Some(b) => (b.rev.clone(), b.cid.to_bytes()),
            None => (since.to_owned(), Vec::new()),
        };
        let _connection = self.lock.lock().await;
        let mut rows = self
            .conn
            .query(
                "SELECT rev, cid, bytes FROM repo_block
                 WHERE did = ?1 AND rev > ?2 AND (rev, cid) > (?3, ?4)
                 ORDER BY rev, cid LIMIT ?5",
                vec![
                    Value::Text(did.to_owned()),
                    Value::Text(since.to_owned()),
                    Value::Text(after_rev),
                    Value::Blob(after_cid),
                    Value::Integer(limit as i64),
                ],
            )
            .await?;
        let mut out = Vec::with_capacity(limit.min(256));
        while let Some(row) = rows.next().await? {
            out.push(RevBlock {
                rev: text(&row, 0, "repo_block.rev")?,
                cid: cid(&row, 1, "repo_block.cid")?,
                bytes: Bytes::from(blob(&row, 2, "repo_block.bytes")?),
            });
        }
        Ok(out)
    }

    /// The blocks of `cids` that `did` has, fetched [`MAX_BATCH_GET`] at a time with one query each.
    pub(super) async fn get_blocks(
        &self,
        did: &str,
        cids: &[Cid],
    ) -> Result<Vec<(Cid, Bytes)>, StorageError> {
        let mut out = Vec::with_capacity(cids.len());
        let mut missing = Vec::with_capacity(cids.len());
        for cid in cids {
            match self.cache.get(did, cid) {
                Some(bytes) => out.push((*cid, bytes)),
                None => missing.push(*cid),
            }
        }
        for batch in missing.chunks(MAX_BATCH_GET) {
            let marks: Vec<String> = (0..batch.len()).map(|i| format!("?{}", i + 2)).collect();
            let sql = format!(
                "SELECT cid, bytes FROM repo_block WHERE did = ?1 AND cid IN ({})",
                marks.join(", ")
            );
            let mut params = Vec::with_capacity(batch.len() + 1);
            params.push(Value::Text(did.to_owned()));
            params.extend(batch.iter().map(|c| Value::Blob(c.to_bytes())));
            let _connection = self.lock.lock().await;
            let mut rows = self.conn.query(&sql, params).await?;
            while let Some(row) = rows.next().await? {
                out.push((
                    cid(&row, 0, "repo_block.cid")?,
                    Bytes::from(blob(&row, 1, "repo_block.bytes")?),
                ));
            }
        }
        Ok(out)
    }

    pub(super) async fn get_block(
        &self,
        did: &str,
        cid: &Cid,
    ) -> Result<Option<Bytes>, StorageError> {
        if let Some(bytes) = self.cache.get(did, cid) {
            return Ok(Some(bytes));
        }
        let _connection = self.lock.lock().await;
        let mut rows = self
            .conn
            .query(
                "SELECT bytes FROM repo_block WHERE did = ?1 AND cid = ?2",
                (did, cid.to_bytes()),
            )
            .await?;
        match rows.next().await? {
            Some(row) => {
                let bytes = Bytes::from(blob(&row, 0, "repo_block.bytes")?);
                self.cache.insert_all(did, [(cid, &bytes)]);
                Ok(Some(bytes))
            }
            None => Ok(None),
        }
    }
}

impl BlockStore for RepoBlocks<'_> {
    async fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError> {
        Ok(self.store.get_block(self.did, cid).await?)
    }

    async fn get_many(&self, cids: &[Cid]) -> Result<Vec<(Cid, Bytes)>, StoreError> {
        Ok(self.store.get_blocks(self.did, cids).await?)
    }

    /// Stores blocks outside any commit (no revision), each once, in one transaction; the writer
    /// never calls this.
    async fn put_many(&self, blocks: Vec<(Cid, Bytes)>) -> Result<(), StoreError> {
        if blocks.is_empty() {
            return Ok(());
        }
        let _connection = self.store.lock.lock().await;
        let tx = self
            .store
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await
            .map_err(StorageError::from)?;
        let mut outcome = Ok(());
        for (cid, bytes) in blocks {
            outcome = tx
                .execute(
                    "INSERT OR IGNORE INTO repo_block (did, cid, bytes) VALUES (?1, ?2, ?3)",
                    (self.did, cid.to_bytes(), bytes.to_vec()),
                )
                .await
                .map(drop);
            if outcome.is_err() {
                break;
            }
        }
        match outcome {
            Ok(()) => tx.commit().await.map_err(StorageError::from)?,
            Err(err) => {
                if let Err(rollback) = tx.rollback().await {
                    log::warn!("rolling back a failed block batch failed: {rollback}");
                }
                return Err(StorageError::from(err).into());
            }
        }
        Ok(())
    }
}
