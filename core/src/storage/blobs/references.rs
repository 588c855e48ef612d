//! Keeping `record_blob` in step with the records, inside the batch of the commit (or the
//! transaction of the account deletion) that changes them.
//!
//! For each op of a commit: an update or delete drops the references of the record it replaces or
//! removes; a create or update adds the references of the new record and makes those blobs
//! permanent. Then every blob whose last reference was dropped is deleted with its chunks — at once,
//! as the reference PDS does, so a deleted post's image stops being served. Ops without blobs on a
//! key that had none cost one indexed `DELETE` (updates and deletes) or nothing (creates).

use std::collections::HashSet;

use libsql::Connection;

use super::super::batch::SqlBatch;
use super::super::error::StorageError;
use super::super::repo_store::columns::cid;
use crate::repo::cid::Cid;
use crate::repo::writer::{Action, OpResult};

/// The blobs referenced by the records that `ops` replace or delete, as stored now (read before a
/// commit is built into a batch: the batch's head compare-and-swap makes sure nothing changed them
/// in between).
pub(crate) async fn blobs_of_replaced_records(
    conn: &Connection,
    did: &str,
    ops: &[OpResult],
) -> Result<Vec<Cid>, StorageError> {
    let mut found = Vec::new();
    for op in ops.iter().filter(|op| op.action != Action::Create) {
        let mut rows = conn
            .query(
                "SELECT cid FROM record_blob WHERE did = ?1 AND collection = ?2 AND rkey = ?3",
                (did, op.collection.as_str(), op.rkey.as_str()),
            )
            .await?;
        while let Some(row) = rows.next().await? {
            found.push(cid(&row, 0, "record_blob.cid")?);
        }
    }
    Ok(found)
}

/// Appends to `batch` the statements that record the blob references of a commit's `ops` for
/// `did`, make those blobs permanent, and delete those of `candidates` (and their chunks) that no
/// record references any more.
pub(crate) fn record_blob_statements(
    batch: &mut SqlBatch,
    did: &str,
    ops: &[OpResult],
    candidates: &[Cid],
) {
    let did_lit = SqlBatch::text(did);
    for op in ops {
        let collection = SqlBatch::text(op.collection.as_str());
        let rkey = SqlBatch::text(op.rkey.as_str());
        if op.action != Action::Create {
            batch.push(&format!(
                "DELETE FROM record_blob WHERE did = {did_lit} AND collection = {collection} \
                 AND rkey = {rkey}"
            ));
        }
        for blob in &op.blobs {
            let blob = SqlBatch::blob(&blob.to_bytes());
            batch.push(&format!(
                "INSERT OR IGNORE INTO record_blob (did, cid, collection, rkey) \
                 VALUES ({did_lit}, {blob}, {collection}, {rkey})"
            ));
            batch.push(&format!(
                "UPDATE blob SET expires_at = NULL \
                 WHERE did = {did_lit} AND cid = {blob} AND expires_at IS NOT NULL"
            ));
        }
    }
    let mut seen = HashSet::with_capacity(candidates.len());
    for blob in candidates.iter().filter(|c| seen.insert(**c)) {
        let blob = SqlBatch::blob(&blob.to_bytes());
        let unreferenced = format!(
            "did = {did_lit} AND cid = {blob} \
             AND NOT EXISTS (SELECT 1 FROM record_blob WHERE did = {did_lit} AND cid = {blob})"
        );
        batch.push(&format!(
            "DELETE FROM blob_chunk WHERE blob_id IN (SELECT id FROM blob WHERE {unreferenced})"
        ));
        batch.push(&format!("DELETE FROM blob WHERE {unreferenced}"));
    }
}

/// Deletes every blob of `did`, its chunks and its record references (the account is being deleted),
/// on `conn` inside the caller's transaction.
pub(crate) async fn delete_account_blobs(conn: &Connection, did: &str) -> Result<(), StorageError> {
    conn.execute(
        "DELETE FROM blob_chunk WHERE blob_id IN (SELECT id FROM blob WHERE did = ?1)",
        [did],
    )
    .await?;
    conn.execute("DELETE FROM blob WHERE did = ?1", [did])
        .await?;
    conn.execute("DELETE FROM record_blob WHERE did = ?1", [did])
        .await?;
    Ok(())
}
