//! Storing prepared commits: one transactional batch ([`SqlBatch`]) per group of commits — a single
//! round trip to the primary through a replica, a single transaction on a local file. For each
//! commit it moves the head with a compare-and-swap (the batch fails unless exactly one row
//! changed), appends the events, records the commit in the chain guard (a unique index on
//! (did, parent commit) with the sequence number of its `#commit` event), writes the blocks (with the
//! commit's revision), updates the record index and the record blob references. Any failure stores
//! nothing; a head moved by another node makes the batch fail as a whole ([`ApplyError::HeadMoved`]).

use std::collections::HashSet;

use libsql::Connection;

use super::super::batch::{is_change_guard_failure, SqlBatch};
use super::super::blobs::references::{blobs_of_replaced_records, record_blob_statements};
use super::super::blocks::block_insert_statements;
use super::super::error::StorageError;
use super::super::events::EventKind;
use super::super::replication::NETWORK_TIMEOUT;
use super::columns::u64_column;
use super::RepoStore;
use crate::repo::cid::Cid;
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

const NO_ANNOUNCEMENTS: Announcements<'static> = Announcements {
    before: &[],
    after: &[],
    commit_event: true,
};

impl RepoStore {
    /// Stores `prepared` if the head is still the one it was built on, and returns the sequence
    /// number of its `#commit` event.
    pub async fn apply(&self, prepared: &PreparedCommit) -> Result<u64, ApplyError> {
        let _signal = self.signal.on_drop();
        self.apply_with(prepared, NO_ANNOUNCEMENTS).await
    }

    pub(super) async fn apply_with(
        &self,
        prepared: &PreparedCommit,
        announce: Announcements<'_>,
    ) -> Result<u64, ApplyError> {
        let seqs = self.apply_all(&[(prepared, announce)]).await?;
        seqs.first().copied().ok_or_else(|| {
            StorageError::Corrupt("a stored commit has no sequence number".into()).into()
        })
    }

    /// Stores the commits of a group (each built on the one before it in its repository) in one
    /// batch, and returns the sequence numbers of their `#commit` events in order. Any failure — a
    /// head moved by another node included — stores none of them.
    pub(super) async fn apply_group(
        &self,
        group: &[(usize, PreparedCommit)],
    ) -> Result<Vec<u64>, ApplyError> {
        let commits: Vec<(&PreparedCommit, Announcements<'_>)> = group
            .iter()
            .map(|(_, prepared)| (prepared, NO_ANNOUNCEMENTS))
            .collect();
        self.apply_all(&commits).await
    }

    async fn apply_all(
        &self,
        commits: &[(&PreparedCommit, Announcements<'_>)],
    ) -> Result<Vec<u64>, ApplyError> {
        let _connection = self.lock.lock().await;
        let mut batch = SqlBatch::new();
        let mut fresh_blobs: HashSet<(String, Cid)> = HashSet::new();
        for (prepared, announce) in commits {
            let did = prepared.did.as_str();
            // Blobs the commit may leave without references: those of the records it replaces or
            // deletes (as stored at the head it builds on) and those earlier commits of the group
            // referenced. Deleting them is guarded by "no reference left", so a superset is safe.
            let mut candidates = blobs_of_replaced_records(&self.conn, did, &prepared.ops).await?;
            candidates.extend(
                fresh_blobs
                    .iter()
                    .filter(|(owner, _)| owner == did)
                    .map(|(_, cid)| *cid),
            );
            commit_statements(&mut batch, prepared, announce, &candidates);
            for op in &prepared.ops {
                fresh_blobs.extend(op.blobs.iter().map(|cid| (did.to_owned(), *cid)));
            }
        }
        match &self.replication {
            None => batch.run(&self.conn).await.map_err(classify)?,
            Some(replication) => {
                if let Some(why) = replication.diverged() {
                    return Err(StorageError::PrimaryReplaced(why).into());
                }
                match tokio::time::timeout(NETWORK_TIMEOUT, batch.run(&self.conn)).await {
                    Ok(Err(StorageError::Database(
                        err @ (libsql::Error::WriteDelegation(_) | libsql::Error::Replication(_)),
                    ))) => {
                        let url = replication.primary_url().unwrap_or_default().to_owned();
                        let message = format!(
                            "a commit was not stored: {}",
                            super::super::replication::describe_primary_error(&url, &err)
                        );
                        replication.record_failure(message.clone());
                        return Err(StorageError::PrimaryUnavailable(message).into());
                    }
                    Ok(result) => {
                        result.map_err(classify)?;
                        replication.record_success();
                    }
                    Err(_) => {
                        return Err(replication.unavailable("a commit was not stored").into())
                    }
                }
            }
        }
        let mut seqs = Vec::with_capacity(commits.len());
        for (prepared, _) in commits {
            seqs.push(commit_seq(&self.conn, prepared).await?);
            self.remember(prepared);
        }
        Ok(seqs)
    }

    /// Keeps a stored commit's blocks in the cache: the next commit reads them.
    fn remember(&self, prepared: &PreparedCommit) {
        self.cache.insert_all(
            prepared.did.as_str(),
            prepared.blocks.iter().map(|(cid, bytes)| (cid, bytes)),
        );
    }
}

/// Tells a lost race (the head moved, the repository exists) from other failures of a batch.
fn classify(err: StorageError) -> ApplyError {
    let StorageError::Database(db) = &err else {
        return ApplyError::Storage(err);
    };
    let text = db.to_string();
    if is_change_guard_failure(db)
        || text.contains("UNIQUE constraint failed: repo_commit.did, repo_commit.prev_commit")
    {
        ApplyError::HeadMoved
    } else if text.contains("UNIQUE constraint failed: repo_root.did") {
        ApplyError::RepoExists
    } else {
        ApplyError::Storage(err)
    }
}

/// The sequence number of a stored commit's `#commit` event, recorded beside it in the chain.
async fn commit_seq(conn: &Connection, prepared: &PreparedCommit) -> Result<u64, ApplyError> {
    let mut rows = conn
        .query(
            "SELECT seq FROM repo_commit WHERE did = ?1 AND commit_cid = ?2",
            (prepared.did.as_str(), prepared.commit.cid.to_bytes()),
        )
        .await?;
    let row = rows.next().await?.ok_or_else(|| {
        StorageError::Corrupt(format!(
            "commit {} of {} was stored but is not readable yet",
            prepared.commit.cid, prepared.did
        ))
    })?;
    Ok(u64_column(&row, 0, "repo_commit.seq")?)
}

/// Appends the statements storing `prepared` to `batch`.
fn commit_statements(
    batch: &mut SqlBatch,
    prepared: &PreparedCommit,
    announce: &Announcements<'_>,
    blob_candidates: &[Cid],
) {
    let did = prepared.did.as_str();
    let did_lit = SqlBatch::text(did);
    let head = prepared.head();
    let rev = head.rev.to_string();
    let rev_lit = SqlBatch::text(&rev);
    let time_lit = SqlBatch::text(&prepared.time);
    let commit_lit = SqlBatch::blob(&head.commit.to_bytes());
    let data_lit = SqlBatch::blob(&head.data.to_bytes());
    // The compare-and-swap of the head: from the commit `prepared` builds on to its own.
    match prepared.prev {
        Some(prev) => {
            batch.push(&format!(
                "UPDATE repo_root SET commit_cid = {commit_lit}, rev = {rev_lit}, \
                 data_cid = {data_lit}, indexed_at = {time_lit} \
                 WHERE did = {did_lit} AND commit_cid = {}",
                SqlBatch::blob(&prev.commit.to_bytes())
            ));
            batch.expect_one_change();
        }
        // A second first commit fails on the primary key.
        None => batch.push(&format!(
            "INSERT INTO repo_root (did, commit_cid, rev, data_cid, indexed_at) \
             VALUES ({did_lit}, {commit_lit}, {rev_lit}, {data_lit}, {time_lit})"
        )),
    }
    let event = |batch: &mut SqlBatch, kind: EventKind, payload: &[u8]| {
        batch.push(&format!(
            "INSERT INTO event (did, kind, time, payload) VALUES ({did_lit}, {}, {time_lit}, {})",
            SqlBatch::text(kind.as_str()),
            SqlBatch::blob(payload)
        ));
    };
    for (kind, payload) in announce.before {
        event(batch, *kind, payload);
    }
    if announce.commit_event {
        event(batch, EventKind::Commit, &prepared.event);
    } else {
        // Announced by its last event (a `#sync`): that one's sequence number is kept.
        for (kind, payload) in announce.after {
            event(batch, *kind, payload);
        }
    }
    // The chain guard: a second child of the same parent fails on the unique index. It keeps the
    // sequence number of the event just inserted (the `#commit`) for the writer to read back.
    let parent = prepared
        .prev
        .map(|p| p.commit.to_bytes())
        .unwrap_or_default();
    batch.push(&format!(
        "INSERT INTO repo_commit (did, commit_cid, prev_commit, rev, seq) \
         VALUES ({did_lit}, {commit_lit}, {}, {rev_lit}, last_insert_rowid())",
        SqlBatch::blob(&parent)
    ));
    if announce.commit_event {
        for (kind, payload) in announce.after {
            event(batch, *kind, payload);
        }
    }
    block_insert_statements(batch, did, Some(&rev), &prepared.blocks);
    for op in &prepared.ops {
        let collection = SqlBatch::text(op.collection.as_str());
        let rkey = SqlBatch::text(op.rkey.as_str());
        match op.cid {
            Some(cid) => batch.push(&format!(
                "INSERT INTO record (did, collection, rkey, cid, rev) \
                 VALUES ({did_lit}, {collection}, {rkey}, {}, {rev_lit}) \
                 ON CONFLICT (did, collection, rkey) DO UPDATE SET cid = excluded.cid, rev = excluded.rev",
                SqlBatch::blob(&cid.to_bytes())
            )),
            None => batch.push(&format!(
                "DELETE FROM record WHERE did = {did_lit} AND collection = {collection} AND rkey = {rkey}"
            )),
        }
    }
    record_blob_statements(batch, did, &prepared.ops, blob_candidates);
}
