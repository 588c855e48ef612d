//! The `email_token` table: one-time codes mailed to an account's owner to confirm an action
//! (confirming or changing the email, resetting the password, deleting the account, signing in),
//! one per account and purpose. A new request replaces the previous code; a code is consumed by one
//! conditional `DELETE`, so it works once even when two requests race.
//!
//! Codes are stored as their SHA-256 ([`code_digest`]), never in the clear: someone who reads the
//! database cannot use the codes waiting in it. (A code has 50 bits of chance and lives 15 minutes;
//! a salt would make lookup by code — the password reset has nothing else — impossible.)

use sha2::{Digest, Sha256};

use super::{finish, AccountStore, AccountsError};

/// What a code confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// `com.atproto.server.deleteAccount`.
    DeleteAccount,
    /// `com.atproto.server.confirmEmail`.
    ConfirmEmail,
    /// `com.atproto.server.updateEmail` of a confirmed email.
    UpdateEmail,
    /// `com.atproto.server.resetPassword`.
    ResetPassword,
    /// `com.atproto.server.createSession` of an account using its email as a second factor.
    SignIn,
    /// `com.atproto.identity.signPlcOperation`.
    PlcOperation,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::DeleteAccount => "delete_account",
            TokenPurpose::ConfirmEmail => "confirm_email",
            TokenPurpose::UpdateEmail => "update_email",
            TokenPurpose::ResetPassword => "reset_password",
            TokenPurpose::SignIn => "sign_in",
            TokenPurpose::PlcOperation => "plc_operation",
        }
    }
}

/// What is stored for `code`: the hex SHA-256 of the code as people type it (surrounding space
/// removed, upper case).
pub fn code_digest(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_ascii_uppercase().as_bytes()))
}

/// What became of a code presented for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// It matched and was consumed.
    Accepted,
    /// It matched but was issued longer ago than allowed (and is now gone).
    Expired,
    /// No such code for this account and purpose.
    Invalid,
}

impl AccountStore {
    /// Stores `token` as the account's code for `purpose`, replacing an earlier one.
    pub async fn put_email_token(
        &self,
        did: &str,
        purpose: TokenPurpose,
        token: &str,
        now: i64,
    ) -> Result<(), AccountsError> {
        let _serialised = self.write_lock.lock().await;
        self.conn
            .execute(
                "INSERT INTO email_token (did, purpose, token, requested_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (did, purpose) DO UPDATE SET token = excluded.token,
                     requested_at = excluded.requested_at",
                (did, purpose.as_str(), code_digest(token), now),
            )
            .await?;
        Ok(())
    }

    /// Consumes the account's code for `purpose` if it is `token`: accepted when it was issued at
    /// or after `not_before`, expired otherwise.
    pub async fn take_email_token(
        &self,
        did: &str,
        purpose: TokenPurpose,
        token: &str,
        not_before: i64,
    ) -> Result<TokenCheck, AccountsError> {
        let _serialised = self.write_lock.lock().await;
        let tx = self.begin().await?;
        let result = async {
            let mut rows = tx
                .query(
                    "DELETE FROM email_token WHERE did = ?1 AND purpose = ?2 AND token = ?3
                     RETURNING requested_at",
                    (did, purpose.as_str(), code_digest(token)),
                )
                .await?;
            let check = match rows.next().await? {
                Some(row) if row.get::<i64>(0)? >= not_before => TokenCheck::Accepted,
                Some(_) => TokenCheck::Expired,
                None => TokenCheck::Invalid,
            };
            Ok(check)
        }
        .await;
        finish(tx, result).await
    }

    /// Consumes the code `token` for `purpose`, whoever it was issued to (the password reset knows
    /// only the code): the account's DID with [`TokenCheck::Accepted`] or [`TokenCheck::Expired`],
    /// or `None` when no such code exists.
    pub async fn take_email_token_by_code(
        &self,
        purpose: TokenPurpose,
        token: &str,
        not_before: i64,
    ) -> Result<Option<(String, TokenCheck)>, AccountsError> {
        let _serialised = self.write_lock.lock().await;
        let tx = self.begin().await?;
        let result = async {
            let mut rows = tx
                .query(
                    "DELETE FROM email_token WHERE purpose = ?1 AND token = ?2
                     RETURNING did, requested_at",
                    (purpose.as_str(), code_digest(token)),
                )
                .await?;
            let found = match rows.next().await? {
                Some(row) => {
                    let did: String = row.get(0)?;
                    let check = if row.get::<i64>(1)? >= not_before {
                        TokenCheck::Accepted
                    } else {
                        TokenCheck::Expired
                    };
                    Some((did, check))
                }
                None => None,
            };
            Ok(found)
        }
        .await;
        finish(tx, result).await
    }
}

impl AccountStore {
    /// Deletes up to `limit` (at most [`crate::storage::MAX_DELETE_BATCH`]) codes issued before
    /// `not_before` — codes [`AccountStore::take_email_token`] would only answer `Expired` to — and
    /// returns how many. (A used code is deleted as it is used.) Idempotent; fewer than `limit`
    /// means none is left.
    pub async fn delete_expired_email_tokens(
        &self,
        not_before: i64,
        limit: usize,
    ) -> Result<u64, crate::storage::StorageError> {
        let limit = limit.min(crate::storage::MAX_DELETE_BATCH) as u64;
        let _serialised = self.write_lock.lock().await;
        Ok(self
            .conn
            .execute(
                "DELETE FROM email_token WHERE (did, purpose) IN (
                     SELECT did, purpose FROM email_token WHERE requested_at < ?1 LIMIT ?2)",
                (not_before, limit),
            )
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    #[tokio::test]
    async fn a_code_works_once_within_its_lifetime_and_a_new_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(&dir.path().join("db")).await.unwrap();
        let store = AccountStore::new(
            storage.connect().await.unwrap(),
            crate::storage::sealing::SealingKey::generate(),
        );
        let did = "did:plc:alice";
        let purpose = TokenPurpose::DeleteAccount;
        store
            .put_email_token(did, purpose, "AAAAA-BBBBB", 100)
            .await
            .unwrap();
        store
            .put_email_token(did, purpose, "CCCCC-DDDDD", 200)
            .await
            .unwrap();
        let take = |t: &'static str, nb| {
            let store = store.clone();
            async move { store.take_email_token(did, purpose, t, nb).await.unwrap() }
        };
        assert_eq!(take("AAAAA-BBBBB", 0).await, TokenCheck::Invalid);
        assert_eq!(take("CCCCC-DDDDD", 150).await, TokenCheck::Accepted);
        assert_eq!(take("CCCCC-DDDDD", 150).await, TokenCheck::Invalid);
        store
            .put_email_token(did, purpose, "EEEEE-FFFFF", 300)
            .await
            .unwrap();
        assert_eq!(take("EEEEE-FFFFF", 301).await, TokenCheck::Expired);
        assert_eq!(take("EEEEE-FFFFF", 0).await, TokenCheck::Invalid);
    }

    #[tokio::test]
    async fn codes_are_stored_hashed_and_found_by_code_once() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(&dir.path().join("db")).await.unwrap();
        let store = AccountStore::new(
            storage.connect().await.unwrap(),
            crate::storage::sealing::SealingKey::generate(),
        );
        let purpose = TokenPurpose::ResetPassword;
        store
            .put_email_token("did:plc:bob", purpose, "GGGGG-HHHHH", 100)
            .await
            .unwrap();
        let mut rows = store
            .conn
            .query("SELECT token FROM email_token", ())
            .await
            .unwrap();
        let stored: String = rows.next().await.unwrap().unwrap().get(0).unwrap();
        assert!(!stored.contains("GGGGG"));
        assert_eq!(stored, code_digest(" ggggg-hhhhh "));
        drop(rows);
        // Another purpose's code of the same value does not match.
        let other = store
            .take_email_token_by_code(TokenPurpose::ConfirmEmail, "GGGGG-HHHHH", 0)
            .await
            .unwrap();
        assert_eq!(other, None);
        let found = store
            .take_email_token_by_code(purpose, "ggggg-hhhhh", 50)
            .await
            .unwrap();
        assert_eq!(found, Some(("did:plc:bob".into(), TokenCheck::Accepted)));
        let again = store
            .take_email_token_by_code(purpose, "GGGGG-HHHHH", 50)
            .await
            .unwrap();
        assert_eq!(again, None);
    }

    #[tokio::test]
    async fn only_codes_issued_before_the_line_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(&dir.path().join("db")).await.unwrap();
        let store = AccountStore::new(
            storage.connect().await.unwrap(),
            crate::storage::sealing::SealingKey::generate(),
        );
        let purpose = TokenPurpose::DeleteAccount;
        for (did, issued) in [("did:plc:a", 99), ("did:plc:b", 50), ("did:plc:c", 100)] {
            store
                .put_email_token(did, purpose, "CODE", issued)
                .await
                .unwrap();
        }
        assert_eq!(store.delete_expired_email_tokens(100, 1).await.unwrap(), 1);
        assert_eq!(store.delete_expired_email_tokens(100, 10).await.unwrap(), 1);
        assert_eq!(store.delete_expired_email_tokens(100, 10).await.unwrap(), 0);
        // The code issued at the line still works; the others are gone.
        let take = |did: &'static str| store.take_email_token(did, purpose, "CODE", 0);
        assert_eq!(take("did:plc:c").await.unwrap(), TokenCheck::Accepted);
        assert_eq!(take("did:plc:a").await.unwrap(), TokenCheck::Invalid);
        assert_eq!(take("did:plc:b").await.unwrap(), TokenCheck::Invalid);
    }
}
