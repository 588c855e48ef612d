//! [`OAuthStore`]: the OAuth authorization server's rows in the shared database — pushed
//! authorization requests and their codes, sessions (one per authorization, holding the current
//! refresh token's hash and access token id), the DPoP / client-assertion replay table, the
//! browsers that stay signed in (devices, the accounts remembered on each, with a rotated secret),
//! the consent each account gave each client, and resolved permission sets (a cache with expiry).
//!
//! Every single-use step is one conditional statement on the primary, so two nodes (or two tasks)
//! racing on the same request, code or refresh token cannot both win: a code is consumed by
//! `DELETE … WHERE code = ? RETURNING`, a refresh token is rotated by `UPDATE … WHERE id = ? AND
//! refresh_hash = ?`, a `jti` is recorded by an insert that only replaces an expired row. Times
//! are whole seconds since the UNIX epoch, given by the caller. The request parameters and client
//! authentication are opaque JSON text here; [`crate::oauth`] gives them meaning.

use libsql::{params, Connection, Row};

use super::StorageError;

/// The SQL of the OAuth migration.
pub(crate) const SCHEMA: &str = "
CREATE TABLE oauth_request (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    client_auth TEXT NOT NULL,
    parameters TEXT NOT NULL,
    dpop_jkt TEXT,
    device_id TEXT,
    did TEXT,
    code TEXT UNIQUE,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oauth_request_expires ON oauth_request (expires_at);

CREATE TABLE oauth_session (
    id TEXT PRIMARY KEY NOT NULL,
    did TEXT NOT NULL REFERENCES account (did) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    client_auth TEXT NOT NULL,
    dpop_jkt TEXT NOT NULL,
    scope TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    refresh_hash BLOB NOT NULL,
    token_id TEXT NOT NULL UNIQUE,
    device_id TEXT,
    user_agent TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    refresh_expires_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oauth_session_did ON oauth_session (did);

CREATE TABLE oauth_replay (
    key TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oauth_replay_expires ON oauth_replay (expires_at);
";

/// The SQL of the OAuth devices migration: the account a pending request was signed in with,
/// remembered devices and accounts, remembered consent, and the permission set cache.
pub(crate) const DEVICE_SCHEMA: &str = "
ALTER TABLE oauth_request ADD COLUMN login_did TEXT;

CREATE TABLE oauth_device (
    id TEXT PRIMARY KEY NOT NULL,
    secret_hash BLOB NOT NULL,
    previous_hash BLOB,
    rotated_at INTEGER NOT NULL,
    rotated_from TEXT,
    user_agent TEXT,
    ip_address TEXT,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oauth_device_expires ON oauth_device (expires_at);

CREATE TABLE oauth_device_account (
    id TEXT PRIMARY KEY NOT NULL,
    device_id TEXT NOT NULL REFERENCES oauth_device (id) ON DELETE CASCADE,
    did TEXT NOT NULL REFERENCES account (did) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    UNIQUE (device_id, did)
) WITHOUT ROWID;
CREATE INDEX oauth_device_account_did ON oauth_device_account (did);
CREATE INDEX oauth_device_account_expires ON oauth_device_account (expires_at);

CREATE TABLE oauth_consent (
    did TEXT NOT NULL REFERENCES account (did) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (did, client_id, scope)
) WITHOUT ROWID;

CREATE TABLE oauth_permission_set (
    nsid TEXT PRIMARY KEY NOT NULL,
    document TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oauth_permission_set_expires ON oauth_permission_set (expires_at);
";

/// A pushed authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRequestRow {
    /// Its id (the tail of its `request_uri`).
    pub id: String,
    /// The client that pushed it.
    pub client_id: String,
    /// How the client authenticated (JSON).
    pub client_auth: String,
    /// The validated parameters (JSON).
    pub parameters: String,
    /// The DPoP key the tokens will be bound to, when known at PAR time.
    pub dpop_jkt: Option<String>,
    /// The browser (device cookie) that opened it, once one did.
    pub device_id: Option<String>,
    /// The account that approved it, once one did.
    pub did: Option<String>,
    /// Its authorization code, once approved.
    pub code: Option<String>,
    /// When it (or its code) expires.
    pub expires_at: i64,
    /// The account signed in (or chosen) for it on its device, before consent.
    pub login_did: Option<String>,
}

impl OAuthRequestRow {
    const COLUMNS: &'static str = "id, client_id, client_auth, parameters, dpop_jkt, device_id, \
        did, code, expires_at, login_did";

    fn from_row(row: &Row) -> Result<OAuthRequestRow, StorageError> {
        Ok(OAuthRequestRow {
            id: row.get(0)?,
            client_id: row.get(1)?,
            client_auth: row.get(2)?,
            parameters: row.get(3)?,
            dpop_jkt: row.get(4)?,
            device_id: row.get(5)?,
            did: row.get(6)?,
            code: row.get(7)?,
            expires_at: row.get(8)?,
            login_did: row.get(9)?,
        })
    }
}

/// An OAuth session: one authorization of one client by one account, and its current tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSessionRow {
    /// Its id.
    pub id: String,
    /// The account.
    pub did: String,
    /// The client.
    pub client_id: String,
    /// How the client authenticated at the start (JSON), which later requests must repeat.
    pub client_auth: String,
    /// The DPoP key thumbprint its tokens are bound to.
    pub dpop_jkt: String,
    /// The granted scope.
    pub scope: String,
    /// The code it was created from (a replay of the code revokes it).
    pub code: String,
    /// SHA-256 of the current refresh token's secret.
    pub refresh_hash: Vec<u8>,
    /// The `jti` of the current access token.
    pub token_id: String,
    /// The browser that approved it.
    pub device_id: Option<String>,
    /// That browser's `User-Agent`.
    pub user_agent: Option<String>,
    /// When it was created.
    pub created_at: i64,
    /// When its tokens were last issued.
    pub updated_at: i64,
    /// When its refresh token stops working if unused.
    pub refresh_expires_at: i64,
    /// When it ends regardless of use.
    pub expires_at: i64,
}

impl OAuthSessionRow {
    const COLUMNS: &'static str = "id, did, client_id, client_auth, dpop_jkt, scope, code, \
        refresh_hash, token_id, device_id, user_agent, created_at, updated_at, \
        refresh_expires_at, expires_at";

    fn from_row(row: &Row) -> Result<OAuthSessionRow, StorageError> {
        Ok(OAuthSessionRow {
            id: row.get(0)?,
            did: row.get(1)?,
            client_id: row.get(2)?,
            client_auth: row.get(3)?,
            dpop_jkt: row.get(4)?,
            scope: row.get(5)?,
            code: row.get(6)?,
            refresh_hash: row.get(7)?,
            token_id: row.get(8)?,
            device_id: row.get(9)?,
            user_agent: row.get(10)?,
            created_at: row.get(11)?,
            updated_at: row.get(12)?,
            refresh_expires_at: row.get(13)?,
            expires_at: row.get(14)?,
        })
    }
}

/// The new tokens of a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRotation<'a> {
    /// The session.
    pub id: &'a str,
    /// The hash of the refresh token presented.
    pub old_refresh_hash: &'a [u8],
    /// The hash of its successor.
    pub new_refresh_hash: &'a [u8],
    /// The `jti` of the new access token.
    pub new_token_id: &'a str,
    /// Now.
    pub now: i64,
    /// When the successor stops working if unused.
    pub refresh_expires_at: i64,
}

/// A browser that opened the authorization page: its cookie carries `<id>.<secret>`, and only the
/// hash of the current secret (and of the one before the last rotation) is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// Its id (`dev-…`).
    pub id: String,
    /// SHA-256 of the cookie's current secret.
    pub secret_hash: Vec<u8>,
    /// SHA-256 of the secret before the last rotation.
    pub previous_hash: Option<Vec<u8>>,
    /// When the secret was last rotated.
    pub rotated_at: i64,
    /// The client address that the last rotation was sent to, when known.
    pub rotated_from: Option<String>,
    /// The browser's `User-Agent`.
    pub user_agent: Option<String>,
    /// Its last client address, when known.
    pub ip_address: Option<String>,
    /// When it was first seen.
    pub created_at: i64,
    /// When it was last seen.
    pub last_seen_at: i64,
    /// When it is forgotten if unused.
    pub expires_at: i64,
}

impl DeviceRow {
    const COLUMNS: &'static str = "id, secret_hash, previous_hash, rotated_at, rotated_from, \
        user_agent, ip_address, created_at, last_seen_at, expires_at";

    fn from_row(row: &Row) -> Result<DeviceRow, StorageError> {
        Ok(DeviceRow {
            id: row.get(0)?,
            secret_hash: row.get(1)?,
            previous_hash: row.get(2)?,
            rotated_at: row.get(3)?,
            rotated_from: row.get(4)?,
            user_agent: row.get(5)?,
            ip_address: row.get(6)?,
            created_at: row.get(7)?,
            last_seen_at: row.get(8)?,
            expires_at: row.get(9)?,
        })
    }
}

/// An account that stays signed in on a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAccountRow {
    /// Its id (`dva-…`), what the owner revokes.
    pub id: String,
    /// The device.
    pub device_id: String,
    /// The account.
    pub did: String,
    /// When it was signed in.
    pub created_at: i64,
    /// When it was last used.
    pub last_used_at: i64,
    /// When it is forgotten if unused.
    pub expires_at: i64,
    /// The device's `User-Agent`.
    pub user_agent: Option<String>,
    /// The device's last client address, when known.
    pub ip_address: Option<String>,
}

impl DeviceAccountRow {
    const COLUMNS: &'static str = "a.id, a.device_id, a.did, a.created_at, a.last_used_at, \
        a.expires_at, d.user_agent, d.ip_address";

    fn from_row(row: &Row) -> Result<DeviceAccountRow, StorageError> {
        Ok(DeviceAccountRow {
            id: row.get(0)?,
            device_id: row.get(1)?,
            did: row.get(2)?,
            created_at: row.get(3)?,
            last_used_at: row.get(4)?,
            expires_at: row.get(5)?,
            user_agent: row.get(6)?,
            ip_address: row.get(7)?,
        })
    }
}

/// A rotation of a device's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRotation<'a> {
    /// The device.
    pub id: &'a str,
    /// The hash of the secret presented (which must still be the current one).
    pub old_hash: &'a [u8],
    /// The hash of its successor.
    pub new_hash: &'a [u8],
    /// Now.
    pub now: i64,
    /// The client address the new secret goes to, when known.
    pub ip_address: Option<&'a str>,
    /// The browser's `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// The device's new expiry.
    pub expires_at: i64,
}

/// OAuth rows in one libSQL database. Cloning shares the connection.
#[derive(Clone)]
pub struct OAuthStore {
    conn: Connection,
    /// On a replica, a request or session another node just stored is looked for again after a
    /// sync.
    freshness: super::replication::Freshness,
}

impl OAuthStore {
    /// A store over `conn`, whose schema is already migrated.
    pub fn new(conn: Connection) -> OAuthStore {
        OAuthStore {
            conn,
            freshness: Default::default(),
        }
    }

    /// This store, looking again after a sync when a replica's copy lacks a row.
    pub fn with_freshness(mut self, freshness: super::replication::Freshness) -> OAuthStore {
        self.freshness = freshness;
        self
    }

    /// Stores a new pushed request.
    pub async fn insert_request(&self, row: &OAuthRequestRow) -> Result<(), StorageError> {
        self.conn
            .execute(
                "INSERT INTO oauth_request (id, client_id, client_auth, parameters, dpop_jkt,
                 device_id, did, code, expires_at, login_did)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    row.id.as_str(),
                    row.client_id.as_str(),
                    row.client_auth.as_str(),
                    row.parameters.as_str(),
                    row.dpop_jkt.clone(),
                    row.device_id.clone(),
                    row.did.clone(),
                    row.code.clone(),
                    row.expires_at,
                    row.login_did.clone()
                ],
            )
            .await?;
        Ok(())
    }

    /// The request with this id (expired or not).
    pub async fn request(&self, id: &str) -> Result<Option<OAuthRequestRow>, StorageError> {
        let sql = format!(
            "SELECT {} FROM oauth_request WHERE id = ?1",
            OAuthRequestRow::COLUMNS
        );
        // A request changes at each step of the authorization, and the steps may land on
        // different nodes: read it as the primary has it.
        self.freshness
            .latest(|| async {
                let mut rows = self.conn.query(&sql, [id]).await?;
                match rows.next().await? {
                    Some(row) => Ok(Some(OAuthRequestRow::from_row(&row)?)),
                    None => Ok(None),
                }
            })
            .await
    }

    /// Binds a live, unapproved request to the browser `device_id` (or confirms it is bound to it)
    /// and extends its life to `expires_at`. False when it is expired, approved, or another
    /// browser's.
    pub async fn bind_request_device(
        &self,
        id: &str,
        device_id: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StorageError> {
        let changed = self
            .conn
            .execute(
                "UPDATE oauth_request SET device_id = ?2, expires_at = MAX(expires_at, ?3)
                 WHERE id = ?1 AND (device_id IS NULL OR device_id = ?2) AND code IS NULL
                 AND expires_at > ?4",
                params![id, device_id, expires_at, now],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Approves a live request opened by `device_id`: records the account and its code, which
    /// expires at `code_expires_at`. False when it was already approved, expired, or another
    /// browser's.
    pub async fn approve_request(
        &self,
        id: &str,
        device_id: &str,
        did: &str,
        code: &str,
        code_expires_at: i64,
        now: i64,
    ) -> Result<bool, StorageError> {
        let changed = self
            .conn
            .execute(
                "UPDATE oauth_request SET did = ?3, code = ?4, expires_at = ?5
                 WHERE id = ?1 AND device_id = ?2 AND code IS NULL AND did IS NULL
                 AND expires_at > ?6",
                params![id, device_id, did, code, code_expires_at, now],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Records `did` as the account signed in (or chosen) for a live, unapproved request opened by
    /// `device_id`. False when it is expired, approved, or another browser's.
    pub async fn set_request_login(
        &self,
        id: &str,
        device_id: &str,
        did: &str,
        now: i64,
    ) -> Result<bool, StorageError> {
        let changed = self
            .conn
            .execute(
                "UPDATE oauth_request SET login_did = ?3
                 WHERE id = ?1 AND device_id = ?2 AND code IS NULL AND did IS NULL
                 AND expires_at > ?4",
                params![id, device_id, did, now],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Stores a new device.
    pub async fn insert_device(&self, row: &DeviceRow) -> Result<(), StorageError> {
        self.conn
            .execute(
                "INSERT INTO oauth_device (id, secret_hash, previous_hash, rotated_at, rotated_from,
                 user_agent, ip_address, created_at, last_seen_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    row.id.as_str(),
                    row.secret_hash.clone(),
                    row.previous_hash.clone(),
                    row.rotated_at,
                    row.rotated_from.clone(),
                    row.user_agent.clone(),
                    row.ip_address.clone(),
                    row.created_at,
                    row.last_seen_at,
                    row.expires_at
                ],
            )
            .await?;
        Ok(())
    }

    /// The device with this id that has not expired at `now`.
    pub async fn device(&self, id: &str, now: i64) -> Result<Option<DeviceRow>, StorageError> {
        let sql = format!(
            "SELECT {} FROM oauth_device WHERE id = ?1 AND expires_at > ?2",
            DeviceRow::COLUMNS
        );
        let mut rows = self.conn.query(&sql, params![id, now]).await?;
        match rows.next().await? {
            Some(row) => Ok(Some(DeviceRow::from_row(&row)?)),
            None => Ok(None),
        }
    }

    /// Rotates a device's secret: one conditional UPDATE that succeeds only while the presented
    /// secret is the current one. The replaced secret's hash is kept as the previous one.
    pub async fn rotate_device(&self, r: &DeviceRotation<'_>) -> Result<bool, StorageError> {
        let changed = self
            .conn
            .execute(
                "UPDATE oauth_device SET previous_hash = secret_hash, secret_hash = ?3,
                 rotated_at = ?4, rotated_from = ?5, ip_address = COALESCE(?5, ip_address),
                 user_agent = COALESCE(?6, user_agent), last_seen_at = ?4,
                 expires_at = MAX(expires_at, ?7)
                 WHERE id = ?1 AND secret_hash = ?2",
                params![
                    r.id,
                    r.old_hash.to_vec(),
                    r.new_hash.to_vec(),
                    r.now,
                    r.ip_address,
                    r.user_agent,
                    r.expires_at
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Notes a visit of a device and extends its life to at least `expires_at`.
    pub async fn touch_device(
        &self,
        id: &str,
        now: i64,
        ip_address: Option<&str>,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        self.conn
            .execute(
                "UPDATE oauth_device SET last_seen_at = ?2, ip_address = COALESCE(?3, ip_address),
                 expires_at = MAX(expires_at, ?4) WHERE id = ?1",
                params![id, now, ip_address, expires_at],
            )
            .await?;
        Ok(())
    }

    /// Forgets a device and every account remembered on it. Returns whether it existed.
    pub async fn delete_device(&self, id: &str) -> Result<bool, StorageError> {
        Ok(self
            .conn
            .execute("DELETE FROM oauth_device WHERE id = ?1", [id])
            .await?
            == 1)
    }

    /// Keeps `did` signed in on `device_id` until `expires_at` (a new row gets `id`).
    pub async fn remember_account(
        &self,
        id: &str,
        device_id: &str,
        did: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        self.conn
            .execute(
                "INSERT INTO oauth_device_account (id, device_id, did, created_at, last_used_at,
                 expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5)
                 ON CONFLICT (device_id, did) DO UPDATE SET last_used_at = excluded.last_used_at,
                 expires_at = excluded.expires_at",
                params![id, device_id, did, now, expires_at],
            )
            .await?;
        Ok(())
    }

    /// Notes that a remembered account was used; false when it is no longer remembered.
    pub async fn touch_device_account(
        &self,
        device_id: &str,
        did: &str,
        now: i64,
    ) -> Result<bool, StorageError> {
        Ok(self
            .conn
            .execute(
                "UPDATE oauth_device_account SET last_used_at = ?3
                 WHERE device_id = ?1 AND did = ?2 AND expires_at > ?3",
                params![device_id, did, now],
            )
            .await?
            == 1)
    }

    /// Forgets `did` on `device_id`.
    pub async fn forget_device_account(
        &self,
        device_id: &str,
        did: &str,
    ) -> Result<(), StorageError> {
        self.conn
            .execute(
                "DELETE FROM oauth_device_account WHERE device_id = ?1 AND did = ?2",
                params![device_id, did],
            )
            .await?;
        Ok(())
    }

    /// The accounts remembered on a device at `now`, most recently used first.
    pub async fn device_accounts(
        &self,
        device_id: &str,
        now: i64,
    ) -> Result<Vec<DeviceAccountRow>, StorageError> {
        self.device_account_rows("a.device_id = ?1", device_id, now)
            .await
    }

    /// The devices an account stays signed in on at `now`, most recently used first.
    pub async fn account_devices(
        &self,
        did: &str,
        now: i64,
    ) -> Result<Vec<DeviceAccountRow>, StorageError> {
        self.device_account_rows("a.did = ?1", did, now).await
    }

    async fn device_account_rows(
        &self,
        filter: &str,
        value: &str,
        now: i64,
    ) -> Result<Vec<DeviceAccountRow>, StorageError> {
        let sql = format!(
            "SELECT {} FROM oauth_device_account a JOIN oauth_device d ON d.id = a.device_id
             WHERE {filter} AND a.expires_at > ?2 AND d.expires_at > ?2
             ORDER BY a.last_used_at DESC, a.id LIMIT 100",
            DeviceAccountRow::COLUMNS
        );
        let mut rows = self.conn.query(&sql, params![value, now]).await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(DeviceAccountRow::from_row(&row)?);
        }
        Ok(out)
    }

    /// Signs an account out of one device (`id` is the remembered account's id). Returns whether it
    /// was the account's.
    pub async fn delete_account_device(&self, did: &str, id: &str) -> Result<bool, StorageError> {
        Ok(self
            .conn
            .execute(
                "DELETE FROM oauth_device_account WHERE id = ?1 AND did = ?2",
                params![id, did],
            )
            .await?
            == 1)
    }

    /// Remembers that `did` consented to each of `scopes` for `client_id`.
    pub async fn record_consent(
        &self,
        did: &str,
        client_id: &str,
        scopes: &[&str],
        now: i64,
    ) -> Result<(), StorageError> {
        for scope in scopes {
            self.conn
                .execute(
                    "INSERT INTO oauth_consent (did, client_id, scope, created_at)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    params![did, client_id, *scope, now],
                )
                .await?;
        }
        Ok(())
    }

    /// The scope values `did` has consented to for `client_id`.
    pub async fn consented_scopes(
        &self,
        did: &str,
        client_id: &str,
    ) -> Result<Vec<String>, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT scope FROM oauth_consent WHERE did = ?1 AND client_id = ?2
                 ORDER BY scope LIMIT 1000",
                params![did, client_id],
            )
            .await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(row.get(0)?);
        }
        Ok(out)
    }

    /// Forgets every consent `did` gave `client_id`.
    pub async fn delete_consent(&self, did: &str, client_id: &str) -> Result<(), StorageError> {
        self.conn
            .execute(
                "DELETE FROM oauth_consent WHERE did = ?1 AND client_id = ?2",
                params![did, client_id],
            )
            .await?;
        Ok(())
    }

    /// A cached permission set document that is still fresh at `now`.
    pub async fn permission_set(
        &self,
        nsid: &str,
        now: i64,
    ) -> Result<Option<String>, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT document FROM oauth_permission_set WHERE nsid = ?1 AND expires_at > ?2",
                params![nsid, now],
            )
            .await?;
        match rows.next().await? {
            Some(row) => Ok(Some(row.get(0)?)),
            None => Ok(None),
        }
    }

    /// Caches a resolved permission set document until `expires_at`.
    pub async fn put_permission_set(
        &self,
        nsid: &str,
        document: &str,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        self.conn
            .execute(
                "INSERT INTO oauth_permission_set (nsid, document, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (nsid) DO UPDATE SET document = excluded.document,
                 expires_at = excluded.expires_at",
                params![nsid, document, expires_at],
            )
            .await?;
        Ok(())
    }

    /// Deletes a request (denied, failed, or aborted). Returns whether it existed.
    pub async fn delete_request(&self, id: &str) -> Result<bool, StorageError> {
        Ok(self
            .conn
            .execute("DELETE FROM oauth_request WHERE id = ?1", [id])
            .await?
            == 1)
    }

    /// Uses a code once: deletes its request and returns it. `None` when no request has this code
    /// (never issued, or already used).
    pub async fn consume_code(&self, code: &str) -> Result<Option<OAuthRequestRow>, StorageError> {
        let sql = format!(
            "DELETE FROM oauth_request WHERE code = ?1 RETURNING {}",
            OAuthRequestRow::COLUMNS
        );
        let mut rows = self.conn.query(&sql, [code]).await?;
        let found = match rows.next().await? {
            Some(row) => Some(OAuthRequestRow::from_row(&row)?),
            None => None,
        };
        // Drain so the statement completes before the connection is reused.
        while rows.next().await?.is_some() {}
        Ok(found)
    }

    /// Stores a new session. Fails if its code, token id or id is already used.
    pub async fn insert_session(&self, row: &OAuthSessionRow) -> Result<(), StorageError> {
        self.conn
            .execute(
                "INSERT INTO oauth_session (id, did, client_id, client_auth, dpop_jkt, scope, code,
                 refresh_hash, token_id, device_id, user_agent, created_at, updated_at,
                 refresh_expires_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    row.id.as_str(),
                    row.did.as_str(),
                    row.client_id.as_str(),
                    row.client_auth.as_str(),
                    row.dpop_jkt.as_str(),
                    row.scope.as_str(),
                    row.code.as_str(),
                    row.refresh_hash.clone(),
                    row.token_id.as_str(),
                    row.device_id.clone(),
                    row.user_agent.clone(),
                    row.created_at,
                    row.updated_at,
                    row.refresh_expires_at,
                    row.expires_at
                ],
            )
            .await?;
        Ok(())
    }

    /// The session with this id.
    pub async fn session(&self, id: &str) -> Result<Option<OAuthSessionRow>, StorageError> {
        self.one_session("id", id).await
    }

    /// The live session whose current access token has this `jti`: what the resource server asks
    /// to honour a revocation.
    pub async fn session_by_token_id(
        &self,
        token_id: &str,
    ) -> Result<Option<OAuthSessionRow>, StorageError> {
        self.one_session("token_id", token_id).await
    }

    async fn one_session(
        &self,
        column: &str,
        value: &str,
    ) -> Result<Option<OAuthSessionRow>, StorageError> {
        let sql = format!(
            "SELECT {} FROM oauth_session WHERE {column} = ?1",
            OAuthSessionRow::COLUMNS
        );
        self.freshness
            .on_miss(|| async {
                let mut rows = self.conn.query(&sql, [value]).await?;
                match rows.next().await? {
                    Some(row) => Ok(Some(OAuthSessionRow::from_row(&row)?)),
                    None => Ok(None),
                }
            })
            .await
    }

    /// Rotates a session's refresh token: one conditional UPDATE that succeeds only if the
    /// presented token is still the current one and the session has not ended. False otherwise.
    pub async fn rotate_session(&self, r: &SessionRotation<'_>) -> Result<bool, StorageError> {
        let changed = self
            .conn
            .execute(
                "UPDATE oauth_session SET refresh_hash = ?3, token_id = ?4, updated_at = ?5,
                 refresh_expires_at = MIN(?6, expires_at)
                 WHERE id = ?1 AND refresh_hash = ?2 AND expires_at > ?5
                 AND refresh_expires_at > ?5",
                params![
                    r.id,
                    r.old_refresh_hash.to_vec(),
                    r.new_refresh_hash.to_vec(),
                    r.new_token_id,
                    r.now,
                    r.refresh_expires_at
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Revokes a session. Returns whether it existed.
    pub async fn delete_session(&self, id: &str) -> Result<bool, StorageError> {
        Ok(self
            .conn
            .execute("DELETE FROM oauth_session WHERE id = ?1", [id])
            .await?
            == 1)
    }

    /// Revokes the session created from `code` (a replayed code). Returns whether there was one.
    pub async fn delete_session_by_code(&self, code: &str) -> Result<bool, StorageError> {
        Ok(self
            .conn
            .execute("DELETE FROM oauth_session WHERE code = ?1", [code])
            .await?
            == 1)
    }

    /// Revokes one of an account's sessions. Returns whether it was the account's.
    pub async fn delete_account_session(&self, did: &str, id: &str) -> Result<bool, StorageError> {
        Ok(self
            .conn
            .execute(
                "DELETE FROM oauth_session WHERE id = ?1 AND did = ?2",
                params![id, did],
            )
            .await?
            == 1)
    }

    /// An account's sessions that have not ended at `now`, newest first.
    pub async fn account_sessions(
        &self,
        did: &str,
        now: i64,
    ) -> Result<Vec<OAuthSessionRow>, StorageError> {
        let sql = format!(
            "SELECT {} FROM oauth_session WHERE did = ?1 AND expires_at > ?2
             AND refresh_expires_at > ?2 ORDER BY created_at DESC, id LIMIT 1000",
            OAuthSessionRow::COLUMNS
        );
        let mut rows = self.conn.query(&sql, params![did, now]).await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(OAuthSessionRow::from_row(&row)?);
        }
        Ok(out)
    }

    /// Records `key` as seen until `expires_at`. True the first time (or once an earlier record
    /// expired), false for a replay.
    pub async fn record_unique(
        &self,
        key: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StorageError> {
        let changed = self
            .conn
            .execute(
                "INSERT INTO oauth_replay (key, expires_at) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
                 WHERE oauth_replay.expires_at <= ?3",
                params![key, expires_at, now],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Deletes up to `limit` rows (at most [`super::MAX_DELETE_BATCH`]) that are over at `now`:
    /// replay records, pushed requests and their codes past their expiry, sessions that have
    /// ended, devices and remembered accounts unused too long, stale permission sets; returns how
    /// many. Fewer than `limit` means none is left. Each statement is one
    /// bounded `DELETE`, so several nodes may run it at once.
    pub async fn delete_expired(&self, now: i64, limit: usize) -> Result<u64, StorageError> {
        let limit = limit.min(super::MAX_DELETE_BATCH) as u64;
        let mut deleted = 0u64;
        for sql in [
            "DELETE FROM oauth_replay WHERE key IN (
                 SELECT key FROM oauth_replay WHERE expires_at <= ?1 LIMIT ?2)",
            "DELETE FROM oauth_request WHERE id IN (
                 SELECT id FROM oauth_request WHERE expires_at <= ?1 LIMIT ?2)",
            "DELETE FROM oauth_session WHERE id IN (
                 SELECT id FROM oauth_session
                 WHERE expires_at <= ?1 OR refresh_expires_at <= ?1 LIMIT ?2)",
            "DELETE FROM oauth_device_account WHERE id IN (
                 SELECT id FROM oauth_device_account WHERE expires_at <= ?1 LIMIT ?2)",
            "DELETE FROM oauth_device WHERE id IN (
                 SELECT id FROM oauth_device WHERE expires_at <= ?1 LIMIT ?2)",
            "DELETE FROM oauth_permission_set WHERE nsid IN (
                 SELECT nsid FROM oauth_permission_set WHERE expires_at <= ?1 LIMIT ?2)",
        ] {
            let room = limit - deleted;
            if room == 0 {
                break;
            }
            deleted += self.conn.execute(sql, params![now, room]).await?;
        }
        Ok(deleted)
    }

    /// Deletes expired replay records, requests, and ended sessions.
    pub async fn purge_expired(&self, now: i64) -> Result<(), StorageError> {
        self.conn
            .execute("DELETE FROM oauth_replay WHERE expires_at <= ?1", [now])
            .await?;
        self.conn
            .execute("DELETE FROM oauth_request WHERE expires_at <= ?1", [now])
            .await?;
        self.conn
            .execute(
                "DELETE FROM oauth_session WHERE expires_at <= ?1 OR refresh_expires_at <= ?1",
                [now],
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    async fn store() -> (tempfile::TempDir, Storage, OAuthStore) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(&dir.path().join("db")).await.unwrap();
        let store = OAuthStore::new(storage.connect().await.unwrap());
        (dir, storage, store)
    }

    fn request(id: &str) -> OAuthRequestRow {
        OAuthRequestRow {
            id: id.into(),
            client_id: "http://localhost".into(),
            client_auth: "{}".into(),
            parameters: "{}".into(),
            dpop_jkt: None,
            device_id: None,
            did: None,
            code: None,
            expires_at: 1000,
            login_did: None,
        }
    }

    #[tokio::test]
    async fn a_code_is_consumed_once() {
        let (_d, _s, store) = store().await;
        store.insert_request(&request("r1")).await.unwrap();
        assert!(store
            .bind_request_device("r1", "dev", 1000, 10)
            .await
            .unwrap());
        assert!(!store
            .bind_request_device("r1", "other", 1000, 10)
            .await
            .unwrap());
        assert!(!store
            .approve_request("r1", "other", "did:plc:a", "c1", 500, 10)
            .await
            .unwrap());
        assert!(store
            .approve_request("r1", "dev", "did:plc:a", "c1", 500, 10)
            .await
            .unwrap());
        assert!(!store
            .approve_request("r1", "dev", "did:plc:a", "c2", 500, 10)
            .await
            .unwrap());
        let used = store.consume_code("c1").await.unwrap().unwrap();
        assert_eq!(used.did.as_deref(), Some("did:plc:a"));
        assert!(store.consume_code("c1").await.unwrap().is_none());
        assert!(store.request("r1").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn expired_requests_cannot_be_opened_or_approved() {
        let (_d, _s, store) = store().await;
        store.insert_request(&request("r2")).await.unwrap();
        assert!(!store
            .bind_request_device("r2", "dev", 2000, 1000)
            .await
            .unwrap());
        assert!(!store
            .approve_request("r2", "dev", "did:plc:a", "c", 3000, 1000)
            .await
            .unwrap());
    }

    fn session(id: &str, expires_at: i64, refresh_expires_at: i64) -> OAuthSessionRow {
        OAuthSessionRow {
            id: id.into(),
            did: "did:plc:a".into(),
            client_id: "http://localhost".into(),
            client_auth: "{}".into(),
            dpop_jkt: "jkt".into(),
            scope: "atproto".into(),
            code: format!("code-{id}"),
            refresh_hash: id.as_bytes().to_vec(),
            token_id: format!("token-{id}"),
            device_id: None,
            user_agent: None,
            created_at: 0,
            updated_at: 0,
            refresh_expires_at,
            expires_at,
        }
    }

    async fn ids(store: &OAuthStore, table: &str, column: &str) -> Vec<String> {
        let sql = format!("SELECT {column} FROM {table} ORDER BY {column}");
        let mut rows = store.conn.query(&sql, ()).await.unwrap();
        let mut out = Vec::new();
        while let Some(row) = rows.next().await.unwrap() {
            out.push(row.get::<String>(0).unwrap());
        }
        out
    }

    #[tokio::test]
    async fn delete_expired_takes_what_is_over_and_leaves_the_rest() {
        let (_d, storage, store) = store().await;
        storage
            .connection()
            .execute(
                "INSERT INTO account (did, handle, created_at) VALUES ('did:plc:a', 'a.test', 0)",
                (),
            )
            .await
            .unwrap();
        let now = 1000;
        for (id, expires_at) in [("gone", now), ("older", now - 1), ("kept", now + 1)] {
            store
                .insert_request(&OAuthRequestRow {
                    expires_at,
                    ..request(id)
                })
                .await
                .unwrap();
            store.record_unique(id, expires_at, 0).await.unwrap();
        }
        for (id, expires_at, refresh_expires_at) in [
            ("ended", now, now + 100),
            ("idle", now + 100, now - 5),
            ("live", now + 100, now + 1),
        ] {
            store
                .insert_session(&session(id, expires_at, refresh_expires_at))
                .await
                .unwrap();
        }
        // Six rows are over; a limit of 4 takes four, the next call the other two.
        assert_eq!(store.delete_expired(now, 4).await.unwrap(), 4);
        assert_eq!(store.delete_expired(now, 4).await.unwrap(), 2);
        assert_eq!(store.delete_expired(now, 4).await.unwrap(), 0);
        assert_eq!(ids(&store, "oauth_request", "id").await, ["kept"]);
        assert_eq!(ids(&store, "oauth_replay", "key").await, ["kept"]);
        assert_eq!(ids(&store, "oauth_session", "id").await, ["live"]);
        // A code that is still live is still usable; a deleted one is not.
        assert!(!store.record_unique("kept", now + 10, now).await.unwrap());
    }

    #[tokio::test]
    async fn a_jti_is_unique_until_it_expires() {
        let (_d, _s, store) = store().await;
        assert!(store.record_unique("k", 100, 10).await.unwrap());
        assert!(!store.record_unique("k", 100, 50).await.unwrap());
        assert!(store.record_unique("k", 300, 100).await.unwrap());
        assert!(!store.record_unique("k", 300, 150).await.unwrap());
        store.purge_expired(400).await.unwrap();
        assert!(store.record_unique("k", 500, 400).await.unwrap());
    }
}
