//! The operator's takedowns of single records and blobs (`subject_takedown`) and whether an account
//! may make invite codes. (An account's own takedown is its `takedown_ref` column.)

use super::AccountStore;
use crate::storage::StorageError;

impl AccountStore {
    /// The subject key of a blob's takedown.
    pub fn blob_subject(did: &str, cid: &str) -> String {
        format!("blob:{did}:{cid}")
    }

    /// Takes a record (its AT-URI) or a blob ([`blob_subject`]) of `did` down with `reference`, or
    /// lifts its takedown (`None`).
    pub async fn set_subject_takedown(
        &self,
        subject: &str,
        did: &str,
        reference: Option<&str>,
        now: i64,
    ) -> Result<(), StorageError> {
        let _serialised = self.write_lock.lock().await;
        match reference {
            Some(reference) => {
                self.conn
                    .execute(
                        "INSERT INTO subject_takedown (subject, did, takedown_ref, created_at)
                         VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (subject) DO UPDATE SET takedown_ref = excluded.takedown_ref",
                        (subject, did, reference, now),
                    )
                    .await?;
            }
            None => {
                self.conn
                    .execute("DELETE FROM subject_takedown WHERE subject = ?1", [subject])
                    .await?;
            }
        }
        Ok(())
    }

    /// The takedown reference of a record or blob subject, if it is taken down.
    pub async fn subject_takedown(&self, subject: &str) -> Result<Option<String>, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT takedown_ref FROM subject_takedown WHERE subject = ?1",
                [subject],
            )
            .await?;
        match rows.next().await? {
            Some(row) => Ok(Some(row.get(0)?)),
            None => Ok(None),
        }
    }

    /// The taken-down subjects of `did` that start with `prefix` (record AT-URIs of a collection,
    /// say), for filtering a listing.
    pub async fn subject_takedowns_with_prefix(
        &self,
        did: &str,
        prefix: &str,
    ) -> Result<Vec<String>, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT subject FROM subject_takedown WHERE did = ?1 AND substr(subject, 1, ?3) = ?2",
                (did, prefix, prefix.len() as i64),
            )
            .await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(row.get(0)?);
        }
        Ok(out)
    }

    /// Stops (or lets again) the account make invite codes. Returns whether it exists.
    pub async fn set_invites_disabled(
        &self,
        did: &str,
        disabled: bool,
    ) -> Result<bool, StorageError> {
        let _serialised = self.write_lock.lock().await;
        let changed = self
            .conn
            .execute(
                "UPDATE account SET invites_disabled = ?2 WHERE did = ?1",
                (did, i64::from(disabled)),
            )
            .await?;
        Ok(changed > 0)
    }
}
