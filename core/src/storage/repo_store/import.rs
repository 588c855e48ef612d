//! Storing a repository brought from another host (`com.atproto.repo.importRepo`): the verified
//! commit, its MST nodes and records replace whatever the account held, with the record index, the
//! records' blob references and the head, in one transaction. No event is appended: an account
//! moving in is deactivated, and announces itself when it is activated ([`RepoStore::resign`]).

use bytes::Bytes;
use libsql::TransactionBehavior;

use super::super::blocks::insert_blocks;
use super::super::error::StorageError;
use super::super::events::{account_event, identity_event, EventKind};
use super::apply::{Announcements, ApplyError};
use super::{CommitResult, RepoStore};
use crate::crypto::Keypair;
use crate::repo::cid::Cid;
use crate::repo::writer::{event_time, prepare_commit, RepoHead, WriteError};
use crate::syntax::Did;

/// A record of an imported repository, for the record index.
#[derive(Debug, Clone)]
pub struct ImportedRecord {
    /// Its collection.
    pub collection: String,
    /// Its record key.
    pub rkey: String,
    /// Its CID.
    pub cid: Cid,
    /// The blobs it references (each once).
    pub blobs: Vec<Cid>,
}

impl RepoStore {
    /// Replaces the repository of `did` with an imported one whose commit is `head`: `blocks` are
    /// the commit, its nodes and its records; `records` the index. All or nothing.
    pub async fn import(
        &self,
        did: &str,
        head: &RepoHead,
        blocks: &[(Cid, Bytes)],
        records: &[ImportedRecord],
    ) -> Result<(), StorageError> {
        let _signal = self.signal.on_drop();
        let _writer = self.write_lock.lock().await;
        let _connection = self.lock.lock().await;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await?;
        let rev = head.rev.to_string();
        let outcome: Result<(), StorageError> = async {
            for table in ["repo_root", "repo_commit", "record", "repo_block", "record_blob"] {
                tx.execute(&format!("DELETE FROM {table} WHERE did = ?1"), [did])
                    .await?;
            }
            insert_blocks(&tx, did, Some(&rev), blocks).await?;
            for record in records {
                tx.execute(
                    "INSERT INTO record (did, collection, rkey, cid, rev) VALUES (?1, ?2, ?3, ?4, ?5)",
                    (
                        did,
                        record.collection.as_str(),
                        record.rkey.as_str(),
                        record.cid.to_bytes(),
                        rev.as_str(),
                    ),
                )
                .await?;
                for blob in &record.blobs {
                    tx.execute(
                        "INSERT OR IGNORE INTO record_blob (did, cid, collection, rkey)
                         VALUES (?1, ?2, ?3, ?4)",
                        (
                            did,
                            blob.to_bytes(),
                            record.collection.as_str(),
                            record.rkey.as_str(),
                        ),
                    )
                    .await?;
                    tx.execute(
                        "UPDATE blob SET expires_at = NULL
                         WHERE did = ?1 AND cid = ?2 AND expires_at IS NOT NULL",
                        (did, blob.to_bytes()),
                    )
                    .await?;
                }
            }
            tx.execute(
                "INSERT INTO repo_commit (did, commit_cid, prev_commit, rev) VALUES (?1, ?2, ?3, ?4)",
                (did, head.commit.to_bytes(), Vec::<u8>::new(), rev.as_str()),
            )
            .await?;
            tx.execute(
                "INSERT INTO repo_root (did, commit_cid, rev, data_cid, indexed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (
                    did,
                    head.commit.to_bytes(),
                    rev.as_str(),
                    head.data.to_bytes(),
                    event_time(),
                ),
            )
            .await?;
            Ok(())
        }
        .await;
        self.cache.forget_account(did);
        match outcome {
            Ok(()) => {
                tx.commit().await?;
                Ok(())
            }
            Err(err) => {
                if let Err(rollback) = tx.rollback().await {
                    log::warn!("rolling back a failed repository import failed: {rollback}");
                }
                Err(err)
            }
        }
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
