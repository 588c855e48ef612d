//! The `invite_code` and `invite_code_use` tables: codes that let a new account be created when the
//! server requires invites, each with a number of uses, and the record of who used them.
//!
//! A use is recorded by one conditional `INSERT … SELECT` that counts the uses already recorded in
//! the same statement, so two accounts racing for the last use of a code cannot both get it.

use libsql::Connection;

use super::{finish, AccountStore, AccountsError};
use crate::storage::StorageError;

/// One use of an invite code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteCodeUse {
    /// The account created with it.
    pub used_by: String,
    /// When, in seconds since the epoch.
    pub used_at: i64,
}

/// The columns [`invite_from_row`] reads, from `invite_code c`.
const INVITE_COLUMNS: &str = "code, available, disabled, for_account, created_by, created_at,
     (SELECT COUNT(*) FROM invite_code_use u WHERE u.code = c.code)";

fn invite_from_row(row: &libsql::Row) -> Result<InviteCode, StorageError> {
    Ok(InviteCode {
        code: row.get(0)?,
        available: row.get(1)?,
        disabled: row.get::<i64>(2)? != 0,
        for_account: row.get(3)?,
        created_by: row.get(4)?,
        created_at: row.get(5)?,
        uses: row.get(6)?,
    })
}

/// An invite code with the number of times it was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteCode {
    /// The code.
    pub code: String,
    /// How many accounts it may create in all.
    pub available: i64,
    /// Whether the operator disabled it.
    pub disabled: bool,
    /// The account it was issued to (`admin` for codes the operator made for no account).
    pub for_account: String,
    /// Who made it (`admin`, or the DID of the account that made it).
    pub created_by: String,
    /// When it was made.
    pub created_at: i64,
    /// How many accounts used it.
    pub uses: i64,
}

impl AccountStore {
    /// Up to `limit` codes, newest first, starting after the code `after` in that order (codes made
    /// at the same second are ordered by code): one page of the operator's listing.
    pub async fn list_invite_codes(
        &self,
        after: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<Vec<InviteCode>, StorageError> {
        let (at, code) = after.unwrap_or((i64::MAX, ""));
        let sql = format!(
            "SELECT {INVITE_COLUMNS} FROM invite_code c
             WHERE created_at < ?1 OR (created_at = ?1 AND code > ?2)
             ORDER BY created_at DESC, code LIMIT ?3"
        );
        let mut rows = self.conn.query(&sql, (at, code, i64::from(limit))).await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(invite_from_row(&row)?);
        }
        Ok(out)
    }

    /// The codes issued to `account`, oldest first.
    pub async fn invite_codes_for(&self, account: &str) -> Result<Vec<InviteCode>, StorageError> {
        let sql = format!(
            "SELECT {INVITE_COLUMNS} FROM invite_code c WHERE for_account = ?1
             ORDER BY created_at, code"
        );
        let mut rows = self.conn.query(&sql, [account]).await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(invite_from_row(&row)?);
        }
        Ok(out)
    }

    /// Who used `code`, in order of use.
    pub async fn invite_code_uses(&self, code: &str) -> Result<Vec<InviteCodeUse>, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT used_by, used_at FROM invite_code_use WHERE code = ?1 ORDER BY used_at",
                [code],
            )
            .await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(InviteCodeUse {
                used_by: row.get(0)?,
                used_at: row.get(1)?,
            });
        }
        Ok(out)
    }

    /// The code an account was created with, if any.
    pub async fn invited_by(&self, did: &str) -> Result<Option<String>, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT code FROM invite_code_use WHERE used_by = ?1 LIMIT 1",
                [did],
            )
            .await?;
        match rows.next().await? {
            Some(row) => Ok(Some(row.get(0)?)),
            None => Ok(None),
        }
    }

    /// Disables every code issued to `account`; returns how many.
    pub async fn disable_invite_codes_of(&self, account: &str) -> Result<u64, StorageError> {
        let _serialised = self.write_lock.lock().await;
        Ok(self
            .conn
            .execute(
                "UPDATE invite_code SET disabled = 1 WHERE for_account = ?1",
                [account],
            )
            .await?)
    }

    /// Stores new codes, each usable `available` times, in one transaction.
    pub async fn create_invite_codes(
        &self,
        codes: &[String],
        available: u32,
        for_account: &str,
        created_by: &str,
        now: i64,
    ) -> Result<(), AccountsError> {
        let _serialised = self.write_lock.lock().await;
        let tx = self.begin().await?;
        let result = async {
            for code in codes {
                tx.execute(
                    "INSERT INTO invite_code (code, available, disabled, for_account, created_by,
                                              created_at)
                     VALUES (?1, ?2, 0, ?3, ?4, ?5)",
                    (code.as_str(), available, for_account, created_by, now),
                )
                .await?;
            }
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    /// Records one use of `code` by `used_by`, atomically; [`AccountsError::InviteCodeUnavailable`]
    /// when the code is unknown, disabled, issued to a taken-down account, used up, or already used
    /// by this account.
    pub async fn use_invite_code(
        &self,
        code: &str,
        used_by: &str,
        now: i64,
    ) -> Result<(), AccountsError> {
        let _serialised = self.write_lock.lock().await;
        record_use(&self.conn, code, used_by, now).await
    }

    /// Disables or re-enables a code. Returns whether it exists.
    pub async fn set_invite_code_disabled(
        &self,
        code: &str,
        disabled: bool,
    ) -> Result<bool, StorageError> {
        let _serialised = self.write_lock.lock().await;
        let changed = self
            .conn
            .execute(
                "UPDATE invite_code SET disabled = ?2 WHERE code = ?1",
                (code, disabled),
            )
            .await?;
        Ok(changed > 0)
    }

    /// One invite code with its use count.
    pub async fn invite_code(&self, code: &str) -> Result<Option<InviteCode>, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT code, available, disabled, for_account, created_by, created_at,
                        (SELECT COUNT(*) FROM invite_code_use u WHERE u.code = c.code)
                 FROM invite_code c WHERE code = ?1",
                [code],
            )
            .await?;
        let Some(row) = rows.next().await? else {
            return Ok(None);
        };
        Ok(Some(InviteCode {
            code: row.get(0)?,
            available: row.get(1)?,
            disabled: row.get::<i64>(2)? != 0,
            for_account: row.get(3)?,
            created_by: row.get(4)?,
            created_at: row.get(5)?,
            uses: row.get(6)?,
        }))
    }
}

/// The conditional insert that records a use, on `conn` (a connection, or a transaction that is
/// creating the account).
pub(super) async fn record_use(
    conn: &Connection,
    code: &str,
    used_by: &str,
    now: i64,
) -> Result<(), AccountsError> {
    let recorded = conn
        .execute(
            "INSERT INTO invite_code_use (code, used_by, used_at)
             SELECT c.code, ?2, ?3 FROM invite_code c
             WHERE c.code = ?1
               AND c.disabled = 0
               AND c.available > (SELECT COUNT(*) FROM invite_code_use u WHERE u.code = c.code)
               AND NOT EXISTS (SELECT 1 FROM account a
                               WHERE a.did = c.for_account AND a.takedown_ref IS NOT NULL)
             ON CONFLICT (code, used_by) DO NOTHING",
            (code, used_by, now),
        )
        .await?;
    if recorded == 0 {
        return Err(AccountsError::InviteCodeUnavailable);
    }
    Ok(())
}
