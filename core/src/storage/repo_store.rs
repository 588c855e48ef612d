//! [`RepoStore`]: the repositories of all accounts in the database — heads, the record index, the
//! commit chain and the event sequence — and the write path that moves them together.
//!
//! A write reads the head, builds the commit with [`crate::repo::writer::prepare_commit`] and stores
//! it with [`RepoStore::apply`]: one transaction that moves the head with a compare-and-swap
//! (`UPDATE repo_root … WHERE did = ? AND commit_cid = ?`), guards the chain (a unique index on
//! (did, parent commit)), writes the blocks, updates the record index and appends the `#commit`
//! event. If another writer — a task on another connection, or another node on the same database —
//! moved the head first, the commit is rebuilt on the new head, up to [`MAX_ATTEMPTS`] times. A
//! failure rolls everything back; an acknowledged write is durable (WAL, `synchronous = FULL`).
//! Writes that arrive together are stored as a group, several commits in one transaction ([`group`]).
//!
//! A store owns one connection. Its statements and transactions take turns on it (a transaction
//! belongs to the connection, so a read issued in the middle of another task's commit would see that
//! commit before it is decided), and its writes run one at a time (so tasks sharing a store never
//! race each other; stores on other connections or nodes race through the compare-and-swap). Share
//! one store among a node's tasks: its writers then wait on an async lock, whereas writers on
//! separate local connections wait in SQLite's busy handler, which sleeps on the runtime's worker
//! thread.

mod apply;
mod blocks;
mod cache;
pub(super) mod columns;
pub mod group;
mod import;

use std::sync::Arc;

use bytes::Bytes;
use libsql::{Connection, Value};

pub use apply::ApplyError;
pub use blocks::{RepoBlocks, RevBlock, MAX_BLOCKS_PAGE};
pub use cache::DEFAULT_CACHE_BYTES;

use super::error::StorageError;
use super::events::{self, account_event, identity_event, EventKind};
use crate::crypto::Keypair;
use crate::repo::cid::Cid;
use crate::repo::writer::{event_time, genesis, OpResult, RepoHead, WriteError, WriteOp};
use crate::syntax::{Did, Tid};
use apply::Announcements;
use columns::{cid, optional_blob, text};

/// How many times a write is built before it gives up on a head that keeps moving.
pub const MAX_ATTEMPTS: u32 = 16;

/// The most records one [`RepoStore::list_records`] returns.
pub const MAX_LIST: usize = 1000;

/// The repositories in one database, over one connection. Cloning shares the connection and its
/// turn-taking.
#[derive(Clone)]
pub struct RepoStore {
    conn: Connection,
    /// Statements and transactions on `conn` take turns.
    lock: Arc<tokio::sync::Mutex<()>>,
    /// Writes (read head, prepare, apply) through this store run one at a time; the holder of
    /// this turn stores every queued write as one group.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    /// Writes waiting for the next group.
    queue: group::Queue,
    /// Recently stored and read blocks ([`DEFAULT_CACHE_BYTES`]).
    cache: cache::BlockCache,
    /// Told when a write that may have appended events is over (after its transaction).
    signal: super::EventSignal,
    /// The primary this store's writes reach, when the node follows one (their time limit).
    replication: Option<Arc<super::Replication>>,
}

/// A stored commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitResult {
    /// The repository's new head.
    pub head: RepoHead,
    /// The sequence number of the commit's `#commit` event.
    pub seq: u64,
    /// What each op did, in the order of the ops.
    pub ops: Vec<OpResult>,
    /// How many times the commit was built (more than 1 when other writers moved the head).
    pub attempts: u32,
    /// How many commits were stored in the same transaction, this one included (group commit).
    pub group: usize,
}

/// A record as the index and the blocks hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record's key.
    pub rkey: String,
    /// The record's CID.
    pub cid: Cid,
    /// The record's DAG-CBOR bytes.
    pub bytes: Bytes,
}

/// A record written after some revision ([`RepoStore::records_since_rev`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentRecord {
    /// The record's collection.
    pub collection: String,
    /// The record's key.
    pub rkey: String,
    /// The record's CID.
    pub cid: Cid,
    /// The revision of the commit that wrote it.
    pub rev: String,
    /// The record's DAG-CBOR bytes.
    pub bytes: Bytes,
}

/// Which events announce a new repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce<'a> {
    /// A new account, as the reference PDS sequences it: `#identity` (with the handle, if any),
    /// `#account` (active), the first `#commit`, and a `#sync`.
    NewAccount {
        /// The account's handle.
        handle: Option<&'a str>,
    },
    /// Only the first `#commit` (an account that is not active yet, such as one migrating in,
    /// announces itself when it is activated).
    CommitOnly,
}

impl RepoStore {
    /// A store over `conn`, whose schema is already migrated. Give it a connection of its own
    /// (`Storage::connect`), and clone the store rather than making another.
    pub fn new(conn: Connection) -> RepoStore {
        RepoStore {
            conn,
            lock: Arc::new(tokio::sync::Mutex::new(())),
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
            queue: group::Queue::default(),
            cache: cache::BlockCache::new(DEFAULT_CACHE_BYTES),
            signal: super::EventSignal::default(),
            replication: None,
        }
    }

    /// This store, whose writes reach `replication`'s primary: each batch gets
    /// [`super::replication::NETWORK_TIMEOUT`] and fails with
    /// [`StorageError::PrimaryUnavailable`] past it.
    pub fn with_replication(mut self, replication: Arc<super::Replication>) -> RepoStore {
        if replication.mode() != super::StorageMode::Local {
            self.replication = Some(replication);
        }
        self
    }

    /// This store, telling `signal` after each of its writes (its events are committed then).
    pub fn with_event_signal(mut self, signal: super::EventSignal) -> RepoStore {
        self.signal = signal;
        self
    }

    /// Brings a replica's local copy up to the primary (after another node moved a head); nothing
    /// for a local database.
    pub(crate) async fn catch_up(&self) -> Result<(), StorageError> {
        match &self.replication {
            Some(replication) => replication.sync().await.map(drop),
            None => Ok(()),
        }
    }

    /// The account's current head, or `None` when it has no repository.
    pub async fn head(&self, did: &str) -> Result<Option<RepoHead>, StorageError> {
        let _connection = self.lock.lock().await;
        let mut rows = self
            .conn
            .query(
                "SELECT commit_cid, data_cid, rev FROM repo_root WHERE did = ?1",
                [did],
            )
            .await?;
        let Some(row) = rows.next().await? else {
            return Ok(None);
        };
        let rev = text(&row, 2, "repo_root.rev")?;
        Ok(Some(RepoHead {
            commit: cid(&row, 0, "repo_root.commit_cid")?,
            data: cid(&row, 1, "repo_root.data_cid")?,
            rev: Tid::parse(&rev)
                .map_err(|e| StorageError::Corrupt(format!("repo_root.rev: {e}")))?,
        }))
    }

    /// Creates the repository of a new account with its first, empty commit, and the events
    /// `announce` asks for, all in one transaction. Fails with [`WriteError::RepoExists`] if the
    /// account has one.
    pub async fn create_repo(
        &self,
        did: &Did,
        key: &Keypair,
        announce: Announce<'_>,
    ) -> Result<CommitResult, WriteError> {
        let _signal = self.signal.on_drop();
        let _writer = self.write_lock.lock().await;
        let prepared = genesis(did, key).await?;
        let (before, after) = match announce {
            Announce::NewAccount { handle } => (
                vec![
                    (
                        EventKind::Identity,
                        identity_event(did.as_str(), handle, &prepared.time),
                    ),
                    (
                        EventKind::Account,
                        account_event(did.as_str(), true, None, &prepared.time),
                    ),
                ],
                vec![(EventKind::Sync, prepared.sync_event()?)],
            ),
            Announce::CommitOnly => (Vec::new(), Vec::new()),
        };
        let announce = Announcements {
            before: &before,
            after: &after,
            commit_event: true,
        };
        match self.apply_with(&prepared, announce).await {
            Ok(seq) => Ok(CommitResult {
                head: prepared.head(),
                seq,
                ops: prepared.ops,
                attempts: 1,
                group: 1,
            }),
            Err(ApplyError::RepoExists | ApplyError::HeadMoved) => {
                Err(WriteError::RepoExists(did.to_string()))
            }
            Err(ApplyError::Storage(
                err @ (StorageError::PrimaryUnavailable(_) | StorageError::PrimaryReplaced(_)),
            )) => Err(WriteError::Unavailable(err.to_string())),
            Err(ApplyError::Storage(err)) => Err(WriteError::Store(err.into())),
        }
    }

    /// Deletes the account's repository — head, commit chain, record index, blocks, blobs — and its earlier
    /// events, and appends `#account` (inactive, `deleted`), all in one transaction, as the reference
    /// PDS does when an account is deleted. Returns that event's sequence number.
    pub async fn delete_repo(&self, did: &Did) -> Result<u64, StorageError> {
        let _signal = self.signal.on_drop();
        let _writer = self.write_lock.lock().await;
        let _connection = self.lock.lock().await;
        let tx = self
            .conn
            .transaction_with_behavior(libsql::TransactionBehavior::Immediate)
            .await?;
        let outcome = async {
            for table in [
                "repo_root",
                "repo_commit",
                "record",
                "repo_block",
                "event",
                "import_entry",
                "import_block",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE did = ?1"),
                    [did.as_str()],
                )
                .await?;
            }
            super::blobs::references::delete_account_blobs(&tx, did.as_str()).await?;
            let time = event_time();
            let payload = account_event(did.as_str(), false, Some("deleted"), &time);
            events::append(&tx, did.as_str(), EventKind::Account, &time, &payload).await
        }
        .await;
        match outcome {
            Ok(seq) => {
                tx.commit().await?;
                self.cache.forget_account(did.as_str());
                Ok(seq)
            }
            Err(err) => {
                if let Err(rollback) = tx.rollback().await {
                    log::warn!("rolling back a failed repository deletion failed: {rollback}");
                }
                Err(err)
            }
        }
    }

    /// Applies `ops` to the account's repository as one commit: reads the head, builds the commit
    /// and stores it, building it again on the new head when another writer moved it meanwhile.
    /// `swap_commit`, when set, must be the head's commit (so a moved head fails with
    /// [`WriteError::InvalidSwap`] rather than being retried). Concurrent writes through the same
    /// store are grouped into one transaction (see [`group`]); each is still its own commit.
    pub async fn write(
        &self,
        did: &Did,
        key: &Keypair,
        ops: &[WriteOp],
        swap_commit: Option<Cid>,
    ) -> Result<CommitResult, WriteError> {
        let _signal = self.signal.on_drop();
        self.write_grouped(did, key, ops, swap_commit).await
    }

    /// The record `collection/rkey` of `did` from the index, with its bytes.
    pub async fn get_record(
        &self,
        did: &str,
        collection: &str,
        rkey: &str,
    ) -> Result<Option<(Cid, Bytes)>, StorageError> {
        let _connection = self.lock.lock().await;
        let mut rows = self
            .conn
            .query(
                "SELECT r.rkey, r.cid, b.bytes FROM record r
                 LEFT JOIN repo_block b ON b.did = r.did AND b.cid = r.cid
                 WHERE r.did = ?1 AND r.collection = ?2 AND r.rkey = ?3",
                (did, collection, rkey),
            )
            .await?;
        match rows.next().await? {
            Some(row) => {
                let record = stored_record(&row)?;
                Ok(Some((record.cid, record.bytes)))
            }
            None => Ok(None),
        }
    }

    /// A page of a collection's records in record-key order: descending by default, ascending
    /// when `reverse` (as `com.atproto.repo.listRecords`). `cursor` is the last record key of the
    /// previous page; at most `limit` (and at most [`MAX_LIST`]) records are returned.
    pub async fn list_records(
        &self,
        did: &str,
        collection: &str,
        limit: usize,
        cursor: Option<&str>,
        reverse: bool,
    ) -> Result<Vec<StoredRecord>, StorageError> {
        let limit = limit.min(MAX_LIST);
        let (compare, order) = if reverse { (">", "ASC") } else { ("<", "DESC") };
        let cursor_clause = if cursor.is_some() {
            format!("AND r.rkey {compare} ?4")
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT r.rkey, r.cid, b.bytes FROM record r
             LEFT JOIN repo_block b ON b.did = r.did AND b.cid = r.cid
             WHERE r.did = ?1 AND r.collection = ?2 {cursor_clause}
             ORDER BY r.rkey {order} LIMIT ?3"
        );
        let mut params = vec![
            Value::Text(did.to_owned()),
            Value::Text(collection.to_owned()),
            Value::Integer(limit as i64),
        ];
        if let Some(cursor) = cursor {
            params.push(Value::Text(cursor.to_owned()));
        }
        let _connection = self.lock.lock().await;
        let mut rows = self.conn.query(&sql, params).await?;
        let mut out = Vec::with_capacity(limit.min(128));
        while let Some(row) = rows.next().await? {
            out.push(stored_record(&row)?);
        }
        Ok(out)
    }

    /// The records of `collections` that `did`'s commits after revision `rev` wrote and that are
    /// still there, oldest first, at most `limit`. Empty when nothing of the repository stored
    /// here is as old as `rev` (no block was written by a commit at or before it): a revision from
    /// before the repository's history here, such as one of a repository before it moved in, says
    /// nothing about what the asker has seen.
    pub async fn records_since_rev(
        &self,
        did: &str,
        rev: &str,
        collections: &[&str],
        limit: usize,
    ) -> Result<Vec<RecentRecord>, StorageError> {
        if collections.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..collections.len())
            .map(|i| format!("?{}", i + 4))
            .collect();
        let sql = format!(
            "SELECT r.collection, r.rkey, r.cid, r.rev, b.bytes FROM record r
             LEFT JOIN repo_block b ON b.did = r.did AND b.cid = r.cid
             WHERE r.did = ?1 AND r.rev > ?2 AND r.collection IN ({})
             ORDER BY r.rev ASC LIMIT ?3",
            placeholders.join(", ")
        );
        let mut params = vec![
            Value::Text(did.to_owned()),
            Value::Text(rev.to_owned()),
            Value::Integer(limit.min(MAX_LIST) as i64),
        ];
        params.extend(collections.iter().map(|c| Value::Text((*c).to_owned())));
        let _connection = self.lock.lock().await;
        let mut rows = self.conn.query(&sql, params).await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            let collection = text(&row, 0, "record.collection")?;
            let rkey = text(&row, 1, "record.rkey")?;
            let cid = cid(&row, 2, "record.cid")?;
            let bytes = optional_blob(&row, 4, "repo_block.bytes")?.ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "record {collection}/{rkey}: block {cid} is missing"
                ))
            })?;
            out.push(RecentRecord {
                collection,
                rkey,
                cid,
                rev: text(&row, 3, "record.rev")?,
                bytes: Bytes::from(bytes),
            });
        }
        drop(rows);
        if out.is_empty() {
            return Ok(out);
        }
        let mut older = self
            .conn
            .query(
                "SELECT 1 FROM repo_block WHERE did = ?1 AND rev <= ?2 LIMIT 1",
                (did, rev),
            )
            .await?;
        if older.next().await?.is_none() {
            return Ok(Vec::new());
        }
        Ok(out)
    }

    /// The collections that hold at least one record of `did`, in order. Each step is one index
    /// seek, so the cost follows the number of collections, not of records.
    pub async fn list_collections(&self, did: &str) -> Result<Vec<String>, StorageError> {
        let _connection = self.lock.lock().await;
        let mut rows = self
            .conn
            .query(
                "WITH RECURSIVE c(name) AS (
                     SELECT MIN(collection) FROM record WHERE did = ?1
                     UNION ALL
                     SELECT (SELECT MIN(collection) FROM record WHERE did = ?1 AND collection > c.name)
                     FROM c WHERE c.name IS NOT NULL
                 )
                 SELECT name FROM c WHERE name IS NOT NULL",
                [did],
            )
            .await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(text(&row, 0, "record.collection")?);
        }
        Ok(out)
    }
}

/// A `(rkey, cid, bytes)` row; a record whose block is missing is corruption.
fn stored_record(row: &libsql::Row) -> Result<StoredRecord, StorageError> {
    let rkey = text(row, 0, "record.rkey")?;
    let cid = cid(row, 1, "record.cid")?;
    let bytes = optional_blob(row, 2, "repo_block.bytes")?
        .ok_or_else(|| StorageError::Corrupt(format!("record {rkey}: block {cid} is missing")))?;
    Ok(StoredRecord {
        rkey,
        cid,
        bytes: Bytes::from(bytes),
    })
}
