//! The `app_password` table: the named, revocable passwords an account hands to apps, stored as
//! PHC hashes, each optionally privileged (allowed into direct messages and other privileged
//! endpoints). Revoking one revokes the sessions opened with it.

use super::{finish, AccountStore, AccountsError};
use crate::storage::StorageError;

/// The app password a session was opened with: its name and whether it is privileged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPasswordGrant {
    /// Its name, unique within the account.
    pub name: String,
    /// Whether it grants the privileged scope.
    pub privileged: bool,
}

/// An app password as `com.atproto.server.listAppPasswords` shows it (never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPasswordInfo {
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: i64,
    /// Whether it is privileged.
    pub privileged: bool,
}

impl AccountStore {
    /// Stores an app password. [`AccountsError::AppPasswordNameTaken`] when the account already
    /// has one of this name; [`AccountsError::AccountNotFound`] when there is no such account.
    pub async fn insert_app_password(
        &self,
        did: &str,
        name: &str,
        password_hash: &str,
        privileged: bool,
        now: i64,
    ) -> Result<(), AccountsError> {
        let _serialised = self.write_lock.lock().await;
        let tx = self.begin().await?;
        let result = async {
            let mut rows = tx
                .query("SELECT 1 FROM account WHERE did = ?1", [did])
                .await?;
            let account_exists = rows.next().await?.is_some();
            drop(rows);
            if !account_exists {
                return Err(AccountsError::AccountNotFound);
            }
            let inserted = tx
                .execute(
                    "INSERT INTO app_password (did, name, password_hash, privileged, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (did, name) DO NOTHING",
                    (did, name, password_hash, privileged, now),
                )
                .await?;
            if inserted == 0 {
                return Err(AccountsError::AppPasswordNameTaken);
            }
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    /// The app password of the account whose hash is exactly `password_hash` (app passwords are
    /// hashed with a salt derived from the DID, so a candidate's hash can be looked up).
    pub async fn find_app_password(
        &self,
        did: &str,
        password_hash: &str,
    ) -> Result<Option<AppPasswordGrant>, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT name, privileged FROM app_password WHERE did = ?1 AND password_hash = ?2",
                (did, password_hash),
            )
            .await?;
        match rows.next().await? {
            Some(row) => Ok(Some(AppPasswordGrant {
                name: row.get(0)?,
                privileged: row.get::<i64>(1)? != 0,
            })),
            None => Ok(None),
        }
    }

    /// The account's app passwords, newest first.
    pub async fn list_app_passwords(
        &self,
        did: &str,
    ) -> Result<Vec<AppPasswordInfo>, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT name, created_at, privileged FROM app_password WHERE did = ?1
                 ORDER BY created_at DESC, name ASC",
                [did],
            )
            .await?;
        let mut found = Vec::new();
        while let Some(row) = rows.next().await? {
            found.push(AppPasswordInfo {
                name: row.get(0)?,
                created_at: row.get(1)?,
                privileged: row.get::<i64>(2)? != 0,
            });
        }
        Ok(found)
    }

    /// Revokes an app password and every refresh token of the sessions opened with it, in one
    /// transaction. Returns whether it existed.
    pub async fn delete_app_password(&self, did: &str, name: &str) -> Result<bool, AccountsError> {
        let _serialised = self.write_lock.lock().await;
        let tx = self.begin().await?;
        let result = async {
            tx.execute(
                "DELETE FROM refresh_token WHERE did = ?1 AND app_password_name = ?2",
                (did, name),
            )
            .await?;
            let deleted = tx
                .execute(
                    "DELETE FROM app_password WHERE did = ?1 AND name = ?2",
                    (did, name),
                )
                .await?;
            Ok(deleted > 0)
        }
        .await;
        finish(tx, result).await
    }
}
