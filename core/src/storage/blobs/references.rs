//! Keeping `record_blob` in step with the records, inside the transaction of the commit (or of the
//! account deletion) that changes them.
//!
//! For each op of a commit: an update or delete drops the references of the record it replaces or
//! removes; a create or update adds the references of the new record and makes those blobs
//! permanent. Then every blob whose last reference was dropped is deleted with its chunks — at once,
//! as the reference PDS does, so a deleted post's image stops being served. Ops without blobs on a
//! key that had none cost one indexed `DELETE` (updates and deletes) or nothing (creates).

use std::collections::HashSet;

use libsql::Connection;

use super::super::error::StorageError;
use super::super::repo_store::columns::cid;
use crate::repo::cid::Cid;
use crate::repo::writer::{Action, OpResult};

/// Records the blob references of a commit's `ops` for `did`, on `conn` inside the commit's
/// transaction, and deletes the blobs left without references.
pub(crate) async fn index_record_blobs(
    conn: &Connection,
    did: &str,
    ops: &[OpResult],
) -> Result<(), StorageError> {
    let mut dropped: Vec<Cid> = Vec::new();
    for op in ops {
        if op.action != Action::Create {
            let mut rows = conn
                .query(
                    "DELETE FROM record_blob WHERE did = ?1 AND collection = ?2 AND rkey = ?3
                     RETURNING cid",
                    (did, op.collection.as_str(), op.rkey.as_str()),
                )
                .await?;
            while let Some(row) = rows.next().await? {
                dropped.push(cid(&row, 0, "record_blob.cid")?);
            }
        }
        for blob in &op.blobs {
            conn.execute(
                "INSERT OR IGNORE INTO record_blob (did, cid, collection, rkey) VALUES (?1, ?2, ?3, ?4)",
                (did, blob.to_bytes(), op.collection.as_str(), op.rkey.as_str()),
            )
            .await?;
            conn.execute(
                "UPDATE blob SET expires_at = NULL
                 WHERE did = ?1 AND cid = ?2 AND expires_at IS NOT NULL",
                (did, blob.to_bytes()),
            )
            .await?;
        }
    }
    let mut seen = HashSet::with_capacity(dropped.len());
    for blob in dropped.into_iter().filter(|c| seen.insert(*c)) {
        delete_if_unreferenced(conn, did, &blob).await?;
    }
    Ok(())
}

/// Deletes the blob `cid` of `did` and its chunks if no record references it.
async fn delete_if_unreferenced(
    conn: &Connection,
    did: &str,
    cid: &Cid,
) -> Result<(), StorageError> {
    let unreferenced = "did = ?1 AND cid = ?2
        AND NOT EXISTS (SELECT 1 FROM record_blob WHERE did = ?1 AND cid = ?2)";
    conn.execute(
        &format!(
            "DELETE FROM blob_chunk WHERE blob_id IN (SELECT id FROM blob WHERE {unreferenced})"
        ),
        (did, cid.to_bytes()),
    )
    .await?;
    conn.execute(
        &format!("DELETE FROM blob WHERE {unreferenced}"),
        (did, cid.to_bytes()),
    )
    .await?;
    Ok(())
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
