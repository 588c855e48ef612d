//! [`AccountStore`]: the accounts of this server and their credentials in the shared database —
//! accounts, their repository signing keys, app passwords, refresh tokens and invite codes.
//!
//! This file holds the schema (migration 3), the account rows and the account lifecycle
//! (create, look up, deactivate, activate, take down, delete); its children hold the credential
//! tables: [`refresh_tokens`], [`app_passwords`] and [`invite_codes`]. The store keeps no secrets in
//! the clear: repository signing keys are sealed with the store's [`SealingKey`] (see [`SCHEMA`]),
//! and passwords arrive here already hashed by `crate::auth`, which is the only caller meant to
//! decide who may do what.
//!
//! Times are whole seconds since the UNIX epoch, given by the caller (so a cluster's nodes and the
//! tests agree on "now"). Handles and emails are stored lowercased and compared without regard to
//! ASCII case (`COLLATE NOCASE`). Every write that needs more than one statement runs in a
//! `BEGIN IMMEDIATE` transaction; writes through one store are serialised by a lock, because a
//! transaction belongs to the connection and not to the task. Give each concurrent user its own
//! store (its own connection) when they must not wait on each other.

mod app_passwords;
mod email;
mod email_tokens;
mod invite_codes;
mod login_failures;
mod refresh_tokens;
mod reserved_keys;
mod takedowns;

use std::collections::HashMap;
use std::sync::Arc;

use libsql::{Connection, Row, Transaction, TransactionBehavior};

use super::error::StorageError;
use super::sealing::{account_key_context, SealingKey};
use crate::crypto::{Algorithm, Keypair};

pub use app_passwords::{AppPasswordGrant, AppPasswordInfo};
pub use email_tokens::{TokenCheck, TokenPurpose};
pub use invite_codes::InviteCode;
pub use refresh_tokens::{RefreshRotation, RefreshTokenRow};

/// The SQL of schema migration 3.
///
/// The repository signing key of each account is kept in `account_key`: its 32-byte private scalar,
/// sealed with the node's [`SealingKey`] once the `sealed` column exists (a later migration adds it;
/// keys stored in clear text before are sealed when first read).
pub(crate) const SCHEMA: &str = "
CREATE TABLE account (
    did TEXT PRIMARY KEY NOT NULL,
    handle TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email TEXT UNIQUE COLLATE NOCASE,
    email_confirmed_at INTEGER,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    deactivated_at INTEGER,
    delete_after INTEGER,
    takedown_ref TEXT
);

CREATE TABLE account_key (
    did TEXT PRIMARY KEY NOT NULL REFERENCES account (did) ON DELETE CASCADE,
    algorithm TEXT NOT NULL,
    private_key BLOB NOT NULL
);

CREATE TABLE app_password (
    did TEXT NOT NULL REFERENCES account (did) ON DELETE CASCADE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    privileged INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (did, name)
);

CREATE TABLE refresh_token (
    jti TEXT PRIMARY KEY NOT NULL,
    did TEXT NOT NULL REFERENCES account (did) ON DELETE CASCADE,
    app_password_name TEXT,
    expires_at INTEGER NOT NULL,
    next_id TEXT,
    FOREIGN KEY (did, app_password_name) REFERENCES app_password (did, name) ON DELETE CASCADE
);
CREATE INDEX refresh_token_did_idx ON refresh_token (did);

CREATE TABLE invite_code (
    code TEXT PRIMARY KEY NOT NULL,
    available INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    for_account TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX invite_code_for_account_idx ON invite_code (for_account);

CREATE TABLE invite_code_use (
    code TEXT NOT NULL REFERENCES invite_code (code) ON DELETE CASCADE,
    used_by TEXT NOT NULL,
    used_at INTEGER NOT NULL,
    PRIMARY KEY (code, used_by)
);
";

/// The SQL of the migration that adds what operators need: `login_failure`, the failed password
/// attempts per account or client address in fixed windows (see [`login_failures`]); the lookup of
/// an email code by its value (the password reset); whether an account signs in with an emailed
/// second factor, and whether it may make invite codes; the operator's takedowns of single records
/// and blobs (`subject_takedown`, keyed by AT-URI or `blob:<did>:<cid>`, see [`takedowns`]); signing
/// keys reserved for accounts about to arrive (`reserved_signing_key`, sealed like `account_key`).
pub(crate) const OPERATOR_SCHEMA: &str = "
CREATE INDEX email_token_code_idx ON email_token (purpose, token);
ALTER TABLE account ADD COLUMN email_auth_factor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account ADD COLUMN invites_disabled INTEGER NOT NULL DEFAULT 0;
CREATE TABLE subject_takedown (
    subject TEXT PRIMARY KEY NOT NULL,
    did TEXT NOT NULL,
    takedown_ref TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX subject_takedown_did_idx ON subject_takedown (did);
CREATE TABLE reserved_signing_key (
    public_key TEXT PRIMARY KEY NOT NULL,
    did TEXT,
    private_key BLOB NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE login_failure (
    key TEXT PRIMARY KEY NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_failure_window_idx ON login_failure (window_start);
";

/// The columns of `account` in the order [`Account::from_row`] reads them.
const ACCOUNT_COLUMNS: &str =
    "did, handle, email, email_confirmed_at, created_at, deactivated_at, \
                               delete_after, takedown_ref, email_auth_factor, invites_disabled";

/// Why an account-store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// Another account already has this handle (compared without regard to case).
    #[error("handle already taken")]
    HandleTaken,
    /// Another account already has this email (compared without regard to case).
    #[error("email already taken")]
    EmailTaken,
    /// An account with this DID already exists.
    #[error("an account with this DID already exists")]
    DidTaken,
    /// No account has this DID.
    #[error("account not found")]
    AccountNotFound,
    /// The invite code does not exist, is disabled, belongs to a taken-down account, or is used up.
    #[error("invite code not available")]
    InviteCodeUnavailable,
    /// The account already has an app password of this name.
    #[error("an app password with this name already exists")]
    AppPasswordNameTaken,
    /// The database failed or holds something it should not.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<libsql::Error> for AccountsError {
    fn from(err: libsql::Error) -> Self {
        AccountsError::Storage(StorageError::Database(err))
    }
}

/// Whether an account may be used, as `com.atproto.server.getSession` and the firehose's `#account`
/// events report it. A takedown outranks a deactivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Neither deactivated nor taken down.
    Active,
    /// Deactivated by its owner (or created deactivated, when migrating in).
    Deactivated,
    /// Taken down by the operator.
    Takendown,
}

impl AccountStatus {
    /// The lexicon name: `active`, `deactivated` or `takendown`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Deactivated => "deactivated",
            AccountStatus::Takendown => "takendown",
        }
    }
}

/// One account row (without its credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's DID.
    pub did: String,
    /// Its handle, lowercased.
    pub handle: String,
    /// Its email, lowercased, when it has one.
    pub email: Option<String>,
    /// When its email was confirmed.
    pub email_confirmed_at: Option<i64>,
    /// When it was created.
    pub created_at: i64,
    /// When it was deactivated, if it is.
    pub deactivated_at: Option<i64>,
    /// When a deactivated account may be deleted, if its owner asked for that.
    pub delete_after: Option<i64>,
    /// The operator's takedown reference, if it is taken down.
    pub takedown_ref: Option<String>,
    /// Whether signing in with the password also needs a code mailed to the confirmed email.
    pub email_auth_factor: bool,
    /// Whether the operator stopped it from making invite codes.
    pub invites_disabled: bool,
}

impl Account {
    /// Its status: taken down, else deactivated, else active.
    pub fn status(&self) -> AccountStatus {
        if self.takedown_ref.is_some() {
            AccountStatus::Takendown
        } else if self.deactivated_at.is_some() {
            AccountStatus::Deactivated
        } else {
            AccountStatus::Active
        }
    }

    /// Whether it is neither deactivated nor taken down.
    pub fn is_active(&self) -> bool {
        self.status() == AccountStatus::Active
    }

    /// Whether the operator took it down.
    pub fn is_taken_down(&self) -> bool {
        self.takedown_ref.is_some()
    }

    fn from_row(row: &Row) -> Result<Account, StorageError> {
        Ok(Account {
            did: row.get(0)?,
            handle: row.get(1)?,
            email: row.get(2)?,
            email_confirmed_at: row.get(3)?,
            created_at: row.get(4)?,
            deactivated_at: row.get(5)?,
            delete_after: row.get(6)?,
            takedown_ref: row.get(7)?,
            email_auth_factor: row.get::<i64>(8)? != 0,
            invites_disabled: row.get::<i64>(9)? != 0,
        })
    }
}

/// What [`AccountStore::create_account`] writes.
pub struct NewAccount<'a> {
    /// The account's DID.
    pub did: &'a str,
    /// Its handle (stored lowercased).
    pub handle: &'a str,
    /// Its email (stored lowercased), if any.
    pub email: Option<&'a str>,
    /// The PHC string of its password, if it has one.
    pub password_hash: Option<&'a str>,
    /// The key that signs its repository commits.
    pub signing_key: &'a Keypair,
    /// An invite code to consume in the same transaction, if invites are required.
    pub invite_code: Option<&'a str>,
    /// Create it deactivated (an account migrating in from another server).
    pub deactivated: bool,
    /// The creation time.
    pub now: i64,
}

/// The accounts and credentials stored in one libSQL database. Cloning shares the connection and
/// its write lock.
#[derive(Clone)]
pub struct AccountStore {
    conn: Connection,
    write_lock: Arc<tokio::sync::Mutex<()>>,
    sealing: SealingKey,
    /// Signing keys already opened: opening one (unseal, derive the public key) costs more than
    /// the rest of a small write's preparation. An account's key never changes; a deleted
    /// account's key leaves with it.
    keys: Arc<std::sync::Mutex<HashMap<String, Keypair>>>,
    /// On a replica, a missing account or token is looked for again after a sync.
    freshness: super::replication::Freshness,
}

/// How many opened signing keys an [`AccountStore`] keeps (all are dropped when it fills up).
const MAX_CACHED_KEYS: usize = 256;

impl AccountStore {
    /// A store over `conn`, whose schema is already migrated, sealing signing keys with `sealing`.
    pub fn new(conn: Connection, sealing: SealingKey) -> AccountStore {
        AccountStore {
            conn,
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
            sealing,
            keys: Arc::default(),
            freshness: Default::default(),
        }
    }

    /// This store, looking again after a sync when a replica's copy lacks an account or token
    /// another node may have just written.
    pub fn with_freshness(mut self, freshness: super::replication::Freshness) -> AccountStore {
        self.freshness = freshness;
        self
    }

    fn opened_keys(&self) -> std::sync::MutexGuard<'_, HashMap<String, Keypair>> {
        // A map of immutable keys: a panic while it was locked cannot leave it inconsistent.
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates an account, stores its signing key and consumes its invite code, all in one
    /// transaction. A taken DID, handle or email, or an unavailable invite code, leaves nothing
    /// behind.
    pub async fn create_account(&self, new: &NewAccount<'_>) -> Result<(), AccountsError> {
        let handle = new.handle.to_ascii_lowercase();
        let email = new.email.map(str::to_lowercase);
        let sealed_key = self
            .sealing
            .seal(
                &account_key_context(new.did),
                new.signing_key.private_bytes().as_ref(),
            )
            .map_err(StorageError::from)?;
        let _serialised = self.write_lock.lock().await;
        let tx = self.begin().await?;
        let result = async {
            if exists(&tx, "SELECT 1 FROM account WHERE did = ?1", new.did).await? {
                return Err(AccountsError::DidTaken);
            }
            if exists(&tx, "SELECT 1 FROM account WHERE handle = ?1", &handle).await? {
                return Err(AccountsError::HandleTaken);
            }
            if let Some(email) = &email {
                if exists(&tx, "SELECT 1 FROM account WHERE email = ?1", email).await? {
                    return Err(AccountsError::EmailTaken);
                }
            }
            let deactivated_at = new.deactivated.then_some(new.now);
            tx.execute(
                "INSERT INTO account (did, handle, email, password_hash, created_at, deactivated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                (
                    new.did,
                    handle.as_str(),
                    email.as_deref(),
                    new.password_hash,
                    new.now,
                    deactivated_at,
                ),
            )
            .await
            .map_err(map_unique_violation)?;
            tx.execute(
                "INSERT INTO account_key (did, algorithm, private_key, sealed)
                 VALUES (?1, ?2, ?3, 1)",
                (
                    new.did,
                    algorithm_name(new.signing_key.algorithm()),
                    sealed_key,
                ),
            )
            .await?;
            if let Some(code) = new.invite_code {
                invite_codes::record_use(&tx, code, new.did, new.now).await?;
            }
            reserved_keys::release(&tx, new.did, &new.signing_key.did_key()).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    /// The account with this DID, whatever its status.
    pub async fn account_by_did(&self, did: &str) -> Result<Option<Account>, StorageError> {
        self.account_where("did = ?1", did).await
    }

    /// The account with this handle (compared without regard to case), whatever its status.
    pub async fn account_by_handle(&self, handle: &str) -> Result<Option<Account>, StorageError> {
        self.account_where("handle = ?1", &handle.to_ascii_lowercase())
            .await
    }

    /// The account with this email (compared without regard to case), whatever its status.
    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>, StorageError> {
        self.account_where("email = ?1", &email.to_lowercase())
            .await
    }

    async fn account_where(
        &self,
        condition: &str,
        value: &str,
    ) -> Result<Option<Account>, StorageError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE {condition}");
        self.freshness
            .on_miss(|| async {
                let mut rows = self.conn.query(&sql, [value]).await?;
                match rows.next().await? {
                    Some(row) => Ok(Some(Account::from_row(&row)?)),
                    None => Ok(None),
                }
            })
            .await
    }

    /// The PHC string of the account's password; `None` when the account does not exist or has no
    /// password.
    pub async fn password_hash(&self, did: &str) -> Result<Option<String>, StorageError> {
        let mut rows = self
            .conn
            .query("SELECT password_hash FROM account WHERE did = ?1", [did])
            .await?;
        match rows.next().await? {
            Some(row) => Ok(row.get::<Option<String>>(0)?),
            None => Ok(None),
        }
    }

    /// Replaces the account's password hash and revokes all its refresh tokens, in one
    /// transaction. Returns whether the account exists.
    pub async fn set_password_hash(
        &self,
        did: &str,
        password_hash: &str,
    ) -> Result<bool, AccountsError> {
        let _serialised = self.write_lock.lock().await;
        let tx = self.begin().await?;
        let result = async {
            let changed = tx
                .execute(
                    "UPDATE account SET password_hash = ?2 WHERE did = ?1",
                    (did, password_hash),
                )
                .await?;
            tx.execute("DELETE FROM refresh_token WHERE did = ?1", [did])
                .await?;
            Ok(changed > 0)
        }
        .await;
        finish(tx, result).await
    }

    /// Changes the account's handle. Returns whether the account exists; a handle held by another
    /// account is [`AccountsError::HandleTaken`].
    pub async fn update_handle(&self, did: &str, handle: &str) -> Result<bool, AccountsError> {
        let handle = handle.to_ascii_lowercase();
        let _serialised = self.write_lock.lock().await;
        let changed = self
            .conn
            .execute(
                "UPDATE account SET handle = ?2 WHERE did = ?1",
                (did, handle.as_str()),
            )
            .await
            .map_err(map_unique_violation)?;
        Ok(changed > 0)
    }

    /// The key that signs the account's repository, if the account exists.
    pub async fn signing_key(&self, did: &str) -> Result<Option<Keypair>, StorageError> {
        if let Some(key) = self.opened_keys().get(did) {
            return Ok(Some(key.clone()));
        }
        let mut rows = self
            .conn
            .query(
                "SELECT algorithm, private_key, sealed FROM account_key WHERE did = ?1",
                [did],
            )
            .await?;
        let Some(row) = rows.next().await? else {
            return Ok(None);
        };
        let name: String = row.get(0)?;
        let stored: Vec<u8> = row.get(1)?;
        let sealed: i64 = row.get(2)?;
        drop(rows);
        let context = account_key_context(did);
        let bytes = if sealed != 0 {
            self.sealing.open(&context, &stored)?
        } else {
            // Stored before encryption at rest: seal it now (unless another node just did).
            self.conn
                .execute(
                    "UPDATE account_key SET private_key = ?2, sealed = 1
                     WHERE did = ?1 AND sealed = 0",
                    (did, self.sealing.seal(&context, &stored)?),
                )
                .await?;
            stored
        };
        let algorithm = algorithm_from_name(&name)
            .ok_or_else(|| StorageError::Corrupt(format!("account_key.algorithm {name:?}")))?;
        let key = Keypair::from_private_bytes(algorithm, &bytes)
            .map_err(|e| StorageError::Corrupt(format!("account_key.private_key: {e}")))?;
        let mut opened = self.opened_keys();
        if opened.len() >= MAX_CACHED_KEYS {
            opened.clear();
        }
        opened.insert(did.to_owned(), key.clone());
        Ok(Some(key))
    }

    /// Up to `limit` accounts whose DID sorts after `after` (all from the start when `None`), in
    /// DID order: one page of an administrative listing.
    pub async fn list_accounts(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Account>, StorageError> {
        let sql =
            format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE did > ?1 ORDER BY did LIMIT ?2");
        let mut rows = self
            .conn
            .query(&sql, (after.unwrap_or(""), i64::from(limit)))
            .await?;
        let mut accounts = Vec::new();
        while let Some(row) = rows.next().await? {
            accounts.push(Account::from_row(&row)?);
        }
        Ok(accounts)
    }

    /// How many accounts the server hosts, whatever their status.
    pub async fn count_accounts(&self) -> Result<u64, StorageError> {
        let mut rows = self.conn.query("SELECT COUNT(*) FROM account", ()).await?;
        let row = rows
            .next()
            .await?
            .ok_or_else(|| StorageError::Corrupt("COUNT(*) returned no row".into()))?;
        Ok(row.get::<u64>(0)?)
    }

    /// Deactivates the account (again, if it already is: the time moves). Returns whether the
    /// account exists.
    pub async fn deactivate(
        &self,
        did: &str,
        now: i64,
        delete_after: Option<i64>,
    ) -> Result<bool, StorageError> {
        let _serialised = self.write_lock.lock().await;
        let changed = self
            .conn
            .execute(
                "UPDATE account SET deactivated_at = ?2, delete_after = ?3 WHERE did = ?1",
                (did, now, delete_after),
            )
            .await?;
        Ok(changed > 0)
    }

    /// Reactivates a deactivated account. A taken-down account stays as it is. Returns whether an
    /// account that is not taken down exists.
    pub async fn activate(&self, did: &str) -> Result<bool, StorageError> {
        let _serialised = self.write_lock.lock().await;
        let changed = self
            .conn
            .execute(
                "UPDATE account SET deactivated_at = NULL, delete_after = NULL
                 WHERE did = ?1 AND takedown_ref IS NULL",
                [did],
            )
            .await?;
        Ok(changed > 0)
    }

    /// Takes the account down (`Some(reference)`) or lifts the takedown (`None`). Taking it down
    /// also revokes all its refresh tokens, in the same transaction. Returns whether the account
    /// exists.
    pub async fn set_takedown(
        &self,
        did: &str,
        takedown_ref: Option<&str>,
    ) -> Result<bool, AccountsError> {
        let _serialised = self.write_lock.lock().await;
        let tx = self.begin().await?;
        let result = async {
            let changed = tx
                .execute(
                    "UPDATE account SET takedown_ref = ?2 WHERE did = ?1",
                    (did, takedown_ref),
                )
                .await?;
            if takedown_ref.is_some() {
                tx.execute("DELETE FROM refresh_token WHERE did = ?1", [did])
                    .await?;
            }
            Ok(changed > 0)
        }
        .await;
        finish(tx, result).await
    }

    /// Deletes the account with its signing key, app passwords and refresh tokens, in one
    /// transaction. Returns whether it existed. (Its repository lives in other tables.)
    pub async fn delete_account(&self, did: &str) -> Result<bool, AccountsError> {
        let _serialised = self.write_lock.lock().await;
        let tx = self.begin().await?;
        let result = async {
            for table in ["refresh_token", "app_password", "account_key"] {
                tx.execute(&format!("DELETE FROM {table} WHERE did = ?1"), [did])
                    .await?;
            }
            let deleted = tx
                .execute("DELETE FROM account WHERE did = ?1", [did])
                .await?;
            Ok(deleted > 0)
        }
        .await;
        let outcome = finish(tx, result).await;
        // After the transaction: a key opened meanwhile (before the delete was decided) goes too.
        self.opened_keys().remove(did);
        outcome
    }

    /// Starts a `BEGIN IMMEDIATE` transaction: it takes the write lock at once, so its reads and
    /// writes see no other writer in between.
    async fn begin(&self) -> Result<Transaction, AccountsError> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await?)
    }
}

/// Commits `tx` when `result` is a success, else rolls it back; returns `result`.
async fn finish<T>(tx: Transaction, result: Result<T, AccountsError>) -> Result<T, AccountsError> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) = tx.rollback().await {
                log::warn!("rolling back an account transaction failed: {rollback}");
            }
            Err(err)
        }
    }
}

/// Whether the one-parameter query `sql` returns a row.
async fn exists(conn: &Connection, sql: &str, value: &str) -> Result<bool, AccountsError> {
    let mut rows = conn.query(sql, [value]).await?;
    Ok(rows.next().await?.is_some())
}

/// Turns a unique-constraint failure on `account` into the matching variant; the checks made
/// before each insert make it rare (another process may still win between check and insert on a
/// database without `BEGIN IMMEDIATE`).
fn map_unique_violation(err: libsql::Error) -> AccountsError {
    let text = err.to_string();
    if text.contains("UNIQUE constraint failed: account.handle") {
        AccountsError::HandleTaken
    } else if text.contains("UNIQUE constraint failed: account.email") {
        AccountsError::EmailTaken
    } else if text.contains("UNIQUE constraint failed: account.did") {
        AccountsError::DidTaken
    } else {
        AccountsError::from(err)
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::K256 => "k256",
        Algorithm::P256 => "p256",
    }
}

fn algorithm_from_name(name: &str) -> Option<Algorithm> {
    match name {
        "k256" => Some(Algorithm::K256),
        "p256" => Some(Algorithm::P256),
        _ => None,
    }
}
