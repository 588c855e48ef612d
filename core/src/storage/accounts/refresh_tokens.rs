//! The `refresh_token` table: one row per live refresh token of a legacy (non-OAuth) session, and
//! its single-use rotation.
//!
//! A token is used by [`AccountStore::rotate_refresh_token`], which replaces it with the next one in
//! a `BEGIN IMMEDIATE` transaction whose first statement is a conditional `DELETE … RETURNING` (or,
//! with a grace period, a conditional `UPDATE … RETURNING`): whichever of two concurrent callers —
//! on one node or on two sharing the database — runs it first gets the row, and the other finds
//! nothing.

use libsql::Connection;

use super::{finish, AccountStore, AccountsError, AppPasswordGrant};
use crate::storage::StorageError;

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRow {
    /// The token id (the JWT `jti`).
    pub jti: String,
    /// The account it belongs to.
    pub did: String,
    /// The app password the session was opened with, if any.
    pub app_password_name: Option<String>,
    /// When it expires (the JWT `exp`).
    pub expires_at: i64,
    /// With a grace period: the id of the token that replaced it.
    pub next_id: Option<String>,
}

/// What a successful rotation hands back: whose session it is and the id its next refresh token
/// must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRotation {
    /// The account.
    pub did: String,
    /// The app password the session was opened with, if any, with its current privilege.
    pub app_password: Option<AppPasswordGrant>,
    /// The `jti` of the next refresh token: the one proposed, or — a used token presented again
    /// within its grace period — the one already chosen by its first use.
    pub next_jti: String,
}

impl AccountStore {
    /// Stores a new refresh token. [`AccountsError::AccountNotFound`] when its account does not
    /// exist.
    pub async fn insert_refresh_token(&self, token: &RefreshTokenRow) -> Result<(), AccountsError> {
        let _serialised = self.write_lock.lock().await;
        let inserted = insert_next(
            &self.conn,
            &token.jti,
            &token.did,
            token.app_password_name.as_deref(),
            token.expires_at,
        )
        .await?;
        if inserted {
            Ok(())
        } else {
            Err(AccountsError::AccountNotFound)
        }
    }

    /// The stored refresh token with this id.
    pub async fn refresh_token(&self, jti: &str) -> Result<Option<RefreshTokenRow>, StorageError> {
        self.freshness
            .on_miss(|| async {
                let mut rows = self
                    .conn
                    .query(
                        "SELECT jti, did, app_password_name, expires_at, next_id FROM refresh_token
                         WHERE jti = ?1",
                        [jti],
                    )
                    .await?;
                let Some(row) = rows.next().await? else {
                    return Ok(None);
                };
                Ok(Some(RefreshTokenRow {
                    jti: row.get(0)?,
                    did: row.get(1)?,
                    app_password_name: row.get(2)?,
                    expires_at: row.get(3)?,
                    next_id: row.get(4)?,
                }))
            })
            .await
    }

    /// Uses the refresh token `jti` once and stores its successor, in one transaction; `None` when
    /// the token is unknown, expired, already used (outside a grace period) or revoked.
    ///
    /// With `grace_secs == 0` a token is single-use: the first caller deletes it, and any later
    /// (or concurrent) use fails. With `grace_secs > 0` the reference PDS's behaviour: the used
    /// token stays valid for at most `grace_secs` more, and every use of it yields the same next
    /// token id, so a client that lost the answer to its refresh can retry without the session
    /// forking into two lineages. `proposed_next_jti` is the id to give the successor when none was
    /// chosen yet; `next_expires_at` its expiry. Expired tokens of the same account are removed on
    /// the way.
    pub async fn rotate_refresh_token(
        &self,
        jti: &str,
        proposed_next_jti: &str,
        next_expires_at: i64,
        now: i64,
        grace_secs: i64,
    ) -> Result<Option<RefreshRotation>, AccountsError> {
        let _serialised = self.write_lock.lock().await;
        let tx = self.begin().await?;
        let result = async {
            let used = if grace_secs <= 0 {
                take_token(&tx, jti, now, proposed_next_jti).await?
            } else {
                mark_token_used(&tx, jti, now, proposed_next_jti, grace_secs).await?
            };
            let Some((did, app_password_name, next_jti)) = used else {
                return Ok(None);
            };
            let app_password = match app_password_name {
                Some(name) => match privileged(&tx, &did, &name).await? {
                    Some(privileged) => Some(AppPasswordGrant { name, privileged }),
                    // The app password is gone: its sessions went with it.
                    None => return Ok(None),
                },
                None => None,
            };
            insert_next(
                &tx,
                &next_jti,
                &did,
                app_password.as_ref().map(|grant| grant.name.as_str()),
                next_expires_at,
            )
            .await?;
            tx.execute(
                "DELETE FROM refresh_token WHERE did = ?1 AND expires_at <= ?2",
                (did.as_str(), now),
            )
            .await?;
            Ok(Some(RefreshRotation {
                did,
                app_password,
                next_jti,
            }))
        }
        .await;
        finish(tx, result).await
    }

    /// Revokes one refresh token. Returns whether it existed.
    pub async fn delete_refresh_token(&self, jti: &str) -> Result<bool, StorageError> {
        let _serialised = self.write_lock.lock().await;
        let deleted = self
            .conn
            .execute("DELETE FROM refresh_token WHERE jti = ?1", [jti])
            .await?;
        Ok(deleted > 0)
    }

    /// Deletes up to `limit` (at most [`crate::storage::MAX_DELETE_BATCH`]) refresh tokens that
    /// expired at or before `now` — a used token past its grace period included, since its use
    /// shortened its expiry — and returns how many. Idempotent; fewer than `limit` means none is
    /// left.
    pub async fn delete_expired_refresh_tokens(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<u64, StorageError> {
        let limit = limit.min(crate::storage::MAX_DELETE_BATCH) as u64;
        let _serialised = self.write_lock.lock().await;
        Ok(self
            .conn
            .execute(
                "DELETE FROM refresh_token WHERE jti IN (
                     SELECT jti FROM refresh_token WHERE expires_at <= ?1 LIMIT ?2)",
                (now, limit),
            )
            .await?)
    }

    /// Revokes every refresh token of the account; returns how many there were.
    pub async fn delete_refresh_tokens_of(&self, did: &str) -> Result<u64, StorageError> {
        let _serialised = self.write_lock.lock().await;
        Ok(self
            .conn
            .execute("DELETE FROM refresh_token WHERE did = ?1", [did])
            .await?)
    }
}

/// Single use: deletes the live token and returns (did, app password name, next id).
async fn take_token(
    tx: &Connection,
    jti: &str,
    now: i64,
    proposed_next_jti: &str,
) -> Result<Option<(String, Option<String>, String)>, AccountsError> {
    let mut rows = tx
        .query(
            "DELETE FROM refresh_token WHERE jti = ?1 AND expires_at > ?2
             RETURNING did, app_password_name",
            (jti, now),
        )
        .await?;
    let used = match rows.next().await? {
        Some(row) => Some((row.get(0)?, row.get(1)?, proposed_next_jti.to_owned())),
        None => None,
    };
    drop(rows);
    Ok(used)
}

/// Grace period: marks the live token used (its expiry shortened to `now + grace_secs` at most,
/// its successor's id fixed by the first use) and returns (did, app password name, next id).
async fn mark_token_used(
    tx: &Connection,
    jti: &str,
    now: i64,
    proposed_next_jti: &str,
    grace_secs: i64,
) -> Result<Option<(String, Option<String>, String)>, AccountsError> {
    let grace_end = now.saturating_add(grace_secs);
    let mut rows = tx
        .query(
            "UPDATE refresh_token
             SET next_id = COALESCE(next_id, ?3), expires_at = MIN(expires_at, ?4)
             WHERE jti = ?1 AND expires_at > ?2
             RETURNING did, app_password_name, next_id",
            (jti, now, proposed_next_jti, grace_end),
        )
        .await?;
    let used = match rows.next().await? {
        Some(row) => Some((row.get(0)?, row.get(1)?, row.get(2)?)),
        None => None,
    };
    drop(rows);
    Ok(used)
}

/// Whether the app password is privileged; `None` when it does not exist.
async fn privileged(
    conn: &Connection,
    did: &str,
    name: &str,
) -> Result<Option<bool>, AccountsError> {
    let mut rows = conn
        .query(
            "SELECT privileged FROM app_password WHERE did = ?1 AND name = ?2",
            (did, name),
        )
        .await?;
    match rows.next().await? {
        Some(row) => Ok(Some(row.get::<i64>(0)? != 0)),
        None => Ok(None),
    }
}

/// Inserts a refresh token unless one with its id exists (a successor re-issued within a grace
/// period); returns false when its account does not exist.
async fn insert_next(
    conn: &Connection,
    jti: &str,
    did: &str,
    app_password_name: Option<&str>,
    expires_at: i64,
) -> Result<bool, AccountsError> {
    let mut rows = conn
        .query("SELECT 1 FROM account WHERE did = ?1", [did])
        .await?;
    let account_exists = rows.next().await?.is_some();
    drop(rows);
    if !account_exists {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO refresh_token (jti, did, app_password_name, expires_at)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (jti) DO NOTHING",
        (jti, did, app_password_name, expires_at),
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    fn token(jti: &str, expires_at: i64) -> RefreshTokenRow {
        RefreshTokenRow {
            jti: jti.into(),
            did: "did:plc:a".into(),
            app_password_name: None,
            expires_at,
            next_id: None,
        }
    }

    #[tokio::test]
    async fn expired_and_used_tokens_past_their_grace_are_deleted_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(&dir.path().join("db")).await.unwrap();
        storage
            .connection()
            .execute(
                "INSERT INTO account (did, handle, created_at) VALUES ('did:plc:a', 'a.test', 0)",
                (),
            )
            .await
            .unwrap();
        let store = AccountStore::new(
            storage.connect().await.unwrap(),
            crate::storage::sealing::SealingKey::generate(),
        );
        let now = 1000;
        for (jti, expires_at) in [
            ("old", now - 10),
            ("edge", now),
            ("live", now + 1),
            ("used", 5000),
        ] {
            store
                .insert_refresh_token(&token(jti, expires_at))
                .await
                .unwrap();
        }
        // Used with a 60 s grace at now - 100: it expires at now - 40, its successor lives on.
        let rotated = store
            .rotate_refresh_token("used", "next", now + 500, now - 100, 60)
            .await
            .unwrap();
        assert!(rotated.is_some());
        assert_eq!(
            store.delete_expired_refresh_tokens(now, 2).await.unwrap(),
            2
        );
        assert_eq!(
            store.delete_expired_refresh_tokens(now, 2).await.unwrap(),
            1
        );
        assert_eq!(
            store.delete_expired_refresh_tokens(now, 2).await.unwrap(),
            0
        );
        for (jti, kept) in [
            ("old", false),
            ("edge", false),
            ("used", false),
            ("live", true),
            ("next", true),
        ] {
            assert_eq!(
                store.refresh_token(jti).await.unwrap().is_some(),
                kept,
                "{jti}"
            );
        }
    }
}
