//! The account's email: confirming it, changing it, and the emailed second factor.

use super::{map_unique_violation, AccountStore, AccountsError};
use crate::storage::StorageError;

impl AccountStore {
    /// Marks the account's email confirmed at `now`, if its email is still `email` (compared
    /// without regard to case). Returns whether it was.
    pub async fn confirm_email(
        &self,
        did: &str,
        email: &str,
        now: i64,
    ) -> Result<bool, StorageError> {
        let _serialised = self.write_lock.lock().await;
        let changed = self
            .conn
            .execute(
                "UPDATE account SET email_confirmed_at = ?3 WHERE did = ?1 AND email = ?2",
                (did, email.to_lowercase(), now),
            )
            .await?;
        Ok(changed > 0)
    }

    /// Sets the account's email (stored lowercased); a different address than before is no longer
    /// confirmed, and cannot be a second factor until it is. Another account's address is
    /// [`AccountsError::EmailTaken`]. Returns whether the account exists.
    pub async fn update_email(&self, did: &str, email: &str) -> Result<bool, AccountsError> {
        let _serialised = self.write_lock.lock().await;
        let changed = self
            .conn
            .execute(
                "UPDATE account SET
                     email_confirmed_at = CASE WHEN email IS ?2 THEN email_confirmed_at END,
                     email_auth_factor = CASE WHEN email IS ?2 THEN email_auth_factor ELSE 0 END,
                     email = ?2
                 WHERE did = ?1",
                (did, email.to_lowercase()),
            )
            .await
            .map_err(map_unique_violation)?;
        Ok(changed > 0)
    }

    /// Turns the emailed second factor on or off. Returns whether the account exists.
    pub async fn set_email_auth_factor(&self, did: &str, on: bool) -> Result<bool, StorageError> {
        let _serialised = self.write_lock.lock().await;
        let changed = self
            .conn
            .execute(
                "UPDATE account SET email_auth_factor = ?2 WHERE did = ?1",
                (did, i64::from(on)),
            )
            .await?;
        Ok(changed > 0)
    }
}
