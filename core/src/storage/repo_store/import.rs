//! Storing a repository brought from another host (`com.atproto.repo.importRepo`): once the
//! staged repository ([`super::super::ImportStaging`]) has verified, its commit, MST nodes and
//! records replace whatever the account held, with the record index, the records' blob references
//! and the head, in one transactional batch — one round trip to a primary — whose statements copy
//! the staged rows inside the database, so the batch stays small however large the repository is.
//! No event is appended: an account moving in is deactivated, and announces itself when it is
//! activated ([`RepoStore::resign`]).

use super::super::batch::SqlBatch;
use super::super::error::StorageError;
use super::super::events::{account_event, identity_event, EventKind};
use super::super::import_staging::discard_statements;
use super::super::replication::NETWORK_TIMEOUT;
use super::apply::{Announcements, ApplyError};
use super::{CommitResult, RepoStore};
use crate::crypto::Keypair;
use crate::repo::writer::{event_time, prepare_commit, RepoHead, WriteError};
use crate::syntax::Did;

/// The imports of a large repository copy many rows in their one batch: more time than a commit's.
const PUBLISH_TIMEOUT_FACTOR: u32 = 10;

impl RepoStore {
    /// Replaces the repository of `did` with the imported one staged for it, whose verified commit
    /// is `head` and which holds `records` records, and drops the staging: all or nothing. The
    /// batch fails (storing nothing) unless the staged index still holds `records` records and
    /// every block it names is staged — another import of the same account that changed the
    /// staging meanwhile is caught here.
    pub async fn publish_import(
        &self,
        did: &str,
        head: &RepoHead,
        records: u64,
    ) -> Result<(), StorageError> {
        let _signal = self.signal.on_drop();
        let _writer = self.write_lock.lock().await;
        let _connection = self.lock.lock().await;
        let d = SqlBatch::text(did);
        let rev = SqlBatch::text(&head.rev.to_string());
        let mut batch = SqlBatch::new();
        batch.push(&format!(
            "INSERT INTO change_guard (changed) SELECT 0 WHERE
               (SELECT count(*) FROM import_entry WHERE did = {d} AND kind = 'r') <> {records}
               OR EXISTS (SELECT 1 FROM import_entry e WHERE e.did = {d} AND e.kind IN ('n', 'r')
                          AND NOT EXISTS (SELECT 1 FROM import_block b
                                          WHERE b.did = {d} AND b.cid = e.cid))"
        ));
        for table in [
            "repo_root",
            "repo_commit",
            "record",
            "repo_block",
            "record_blob",
        ] {
            batch.push(&format!("DELETE FROM {table} WHERE did = {d}"));
        }
        batch.push(&format!(
            "INSERT INTO repo_block (did, cid, bytes, rev)
             SELECT did, cid, bytes, {rev} FROM import_block
             WHERE did = {d} AND cid IN
               (SELECT cid FROM import_entry WHERE did = {d} AND kind IN ('n', 'r'))"
        ));
        batch.push(&format!(
            "INSERT INTO record (did, collection, rkey, cid, rev)
             SELECT did, collection, rkey, cid, {rev} FROM import_entry
             WHERE did = {d} AND kind = 'r'"
        ));
        batch.push(&format!(
            "INSERT OR IGNORE INTO record_blob (did, cid, collection, rkey)
             SELECT did, cid, collection, rkey FROM import_entry WHERE did = {d} AND kind = 'b'"
        ));
        batch.push(&format!(
            "UPDATE blob SET expires_at = NULL
             WHERE did = {d} AND expires_at IS NOT NULL
               AND cid IN (SELECT cid FROM import_entry WHERE did = {d} AND kind = 'b')"
        ));
        let commit = SqlBatch::blob(&head.commit.to_bytes());
        batch.push(&format!(
            "INSERT INTO repo_commit (did, commit_cid, prev_commit, rev)
             VALUES ({d}, {commit}, X'', {rev})"
        ));
        batch.push(&format!(
            "INSERT INTO repo_root (did, commit_cid, rev, data_cid, indexed_at)
             VALUES ({d}, {commit}, {rev}, {}, {})",
            SqlBatch::blob(&head.data.to_bytes()),
            SqlBatch::text(&event_time()),
        ));
        discard_statements(&mut batch, did);
        let outcome = match &self.replication {
            None => batch.run(&self.conn).await,
            Some(replication) => {
                match tokio::time::timeout(
                    NETWORK_TIMEOUT * PUBLISH_TIMEOUT_FACTOR,
                    batch.run(&self.conn),
                )
                .await
                {
                    Ok(result) => result,
                    Err(_) => Err(replication.unavailable("an imported repository was not stored")),
                }
            }
        };
        self.cache.forget_account(did);
        outcome
    }

    /// Signs the account's current tree again with `key` as a new commit, announced as an account
    /// moving in is when it is activated: `#identity` (with `handle`), `#account` (active) and a
    /// `#sync` of the new commit, in the commit's transaction. An imported repository's commit
    /// was signed by the old host's key; after this one, the repository verifies against the DID
    /// document that names `key`.
    pub async fn resign(
        &self,
        did: &Did,
        key: &Keypair,
        handle: Option<&str>,
    ) -> Result<CommitResult, WriteError> {
        let _signal = self.signal.on_drop();
        let _writer = self.write_lock.lock().await;
        let head = self
            .head(did.as_str())
            .await
            .map_err(|e| WriteError::Store(e.into()))?
            .ok_or_else(|| WriteError::RepoNotFound(did.to_string()))?;
        let prepared =
            prepare_commit(&self.blocks(did.as_str()), did, key, Some(&head), &[], None).await?;
        let before = [
            (
                EventKind::Identity,
                identity_event(did.as_str(), handle, &prepared.time),
            ),
            (
                EventKind::Account,
                account_event(did.as_str(), true, None, &prepared.time),
            ),
        ];
        let after = [(EventKind::Sync, prepared.sync_event()?)];
        let announce = Announcements {
            before: &before,
            after: &after,
            commit_event: false,
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
                Err(WriteError::Contention { attempts: 1 })
            }
            Err(ApplyError::Storage(err)) => Err(WriteError::Store(err.into())),
        }
    }
}
