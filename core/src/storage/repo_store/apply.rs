//! Storing a prepared commit: one `BEGIN IMMEDIATE` transaction that moves the head with a
//! compare-and-swap, records the commit in the chain guard, writes the blocks (with the commit's
//! revision), updates the record index and the record blob references, and appends the events. Any failure rolls all of it back.

use libsql::{Connection, TransactionBehavior};

use super::super::blobs::references::index_record_blobs;
use super::super::blocks::insert_blocks;
use super::super::error::StorageError;
use super::super::events::{self, EventKind};
use super::RepoStore;
use crate::repo::writer::PreparedCommit;

/// Why a prepared commit was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Another writer moved the head since the commit was prepared: prepare it again.
    #[error("the repository head moved")]
    HeadMoved,
    /// A first commit for an account that already has a repository.
    #[error("the repository already exists")]
    RepoExists,
    /// The database failed; nothing was stored.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<libsql::Error> for ApplyError {
    fn from(err: libsql::Error) -> Self {
        ApplyError::Storage(StorageError::Database(err))
    }
}

/// Extra events stored with a commit, before and after its `#commit`.
pub(super) struct Announcements<'a> {
    pub before: &'a [(EventKind, Vec<u8>)],
    pub after: &'a [(EventKind, Vec<u8>)],
    /// Whether the commit is announced with its `#commit` event (a commit that only re-signs the
    /// tree is announced by a `#sync` among `after` instead).
    pub commit_event: bool,
}

impl RepoStore {
    /// Stores `prepared` in one transaction if the head is still the one it was built on, and
    /// returns the sequence number of its `#commit` event.
    pub async fn apply(&self, prepared: &PreparedCommit) -> Result<u64, ApplyError> {
        let _signal = self.signal.on_drop();
        self.apply_with(
            prepared,
            Announcements {
                before: &[],
                after: &[],
                commit_event: true,
            },
        )
        .await
    }

    pub(super) async fn apply_with(
        &self,
        prepared: &PreparedCommit,
        announce: Announcements<'_>,
    ) -> Result<u64, ApplyError> {
        let _connection = self.lock.lock().await;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await?;
        match write_commit(&tx, prepared, &announce).await {
            Ok(seq) => {
                tx.commit().await?;
                self.remember(prepared);
                Ok(seq)
            }
            Err(err) => {
                if let Err(rollback) = tx.rollback().await {
                    log::warn!("rolling back a failed commit failed: {rollback}");
                }
                Err(err)
            }
        }
    }
}

impl RepoStore {
    /// Keeps a stored commit's blocks in the cache: the next commit reads them.
    fn remember(&self, prepared: &PreparedCommit) {
        self.cache.insert_all(
            prepared.did.as_str(),
            prepared.blocks.iter().map(|(cid, bytes)| (cid, bytes)),
        );
    }

    /// Stores the commits of a group (each built on the one before it in its repository) in one
    /// transaction, and returns the sequence numbers of their `#commit` events in order. Any
    /// failure — a head moved by another node included — stores none of them.
    pub(super) async fn apply_group(
        &self,
        group: &[(usize, PreparedCommit)],
    ) -> Result<Vec<u64>, ApplyError> {
        let none = Announcements {
            before: &[],
            after: &[],
            commit_event: true,
        };
        let _connection = self.lock.lock().await;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await?;
        let mut seqs = Vec::with_capacity(group.len());
        let mut outcome = Ok(());
        for (_, prepared) in group {
            match write_commit(&tx, prepared, &none).await {
                Ok(seq) => seqs.push(seq),
                Err(err) => {
                    outcome = Err(err);
                    break;
                }
            }
        }
        match outcome {
            Ok(()) => {
                tx.commit().await?;
                for (_, prepared) in group {
                    self.remember(prepared);
                }
                Ok(seqs)
            }
            Err(err) => {
                if let Err(rollback) = tx.rollback().await {
                    log::warn!("rolling back a failed group commit failed: {rollback}");
                }
                Err(err)
            }
        }
    }
}

async fn write_commit(
    conn: &Connection,
    prepared: &PreparedCommit,
    announce: &Announcements<'_>,
) -> Result<u64, ApplyError> {
    let did = prepared.did.as_str();
    let head = prepared.head();
    let rev = head.rev.to_string();
    move_head(conn, prepared, &rev).await?;
    // The chain guard: a second child of the same parent is refused by the unique index.
    let parent = prepared
        .prev
        .map(|p| p.commit.to_bytes())
        .unwrap_or_default();
    let guarded = conn
        .execute(
            "INSERT INTO repo_commit (did, commit_cid, prev_commit, rev) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            (did, head.commit.to_bytes(), parent, rev.as_str()),
        )
        .await?;
    if guarded == 0 {
        return Err(ApplyError::HeadMoved);
    }
    insert_blocks(conn, did, Some(&rev), &prepared.blocks).await?;
    for op in &prepared.ops {
        match op.cid {
            Some(cid) => {
                conn.execute(
                    "INSERT INTO record (did, collection, rkey, cid, rev) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (did, collection, rkey) DO UPDATE SET cid = excluded.cid, rev = excluded.rev",
                    (did, op.collection.as_str(), op.rkey.as_str(), cid.to_bytes(), rev.as_str()),
                )
                .await?;
            }
            None => {
                conn.execute(
                    "DELETE FROM record WHERE did = ?1 AND collection = ?2 AND rkey = ?3",
                    (did, op.collection.as_str(), op.rkey.as_str()),
                )
                .await?;
            }
        }
    }
    index_record_blobs(conn, did, &prepared.ops).await?;
    for (kind, payload) in announce.before {
        events::append(conn, did, *kind, &prepared.time, payload).await?;
    }
    let mut seq = 0;
    if announce.commit_event {
        seq = events::append(
            conn,
            did,
            EventKind::Commit,
            &prepared.time,
            &prepared.event,
        )
        .await?;
    }
    for (kind, payload) in announce.after {
        let appended = events::append(conn, did, *kind, &prepared.time, payload).await?;
        if !announce.commit_event {
            seq = appended;
        }
    }
    Ok(seq)
}

/// The compare-and-swap of the head: from the commit `prepared` builds on to `prepared`'s.
async fn move_head(
    conn: &Connection,
    prepared: &PreparedCommit,
    rev: &str,
) -> Result<(), ApplyError> {
    let did = prepared.did.as_str();
    let head = prepared.head();
    match prepared.prev {
        Some(prev) => {
            let moved = conn
                .execute(
                    "UPDATE repo_root SET commit_cid = ?1, rev = ?2, data_cid = ?3, indexed_at = ?4
                     WHERE did = ?5 AND commit_cid = ?6",
                    (
                        head.commit.to_bytes(),
                        rev,
                        head.data.to_bytes(),
                        prepared.time.as_str(),
                        did,
                        prev.commit.to_bytes(),
                    ),
                )
                .await?;
            if moved == 0 {
                return Err(ApplyError::HeadMoved);
            }
        }
        None => {
            let created = conn
                .execute(
                    "INSERT INTO repo_root (did, commit_cid, rev, data_cid, indexed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (did) DO NOTHING",
                    (
                        did,
                        head.commit.to_bytes(),
                        rev,
                        head.data.to_bytes(),
                        prepared.time.as_str(),
                    ),
                )
                .await?;
            if created == 0 {
                return Err(ApplyError::RepoExists);
            }
        }
    }
    Ok(())
}
