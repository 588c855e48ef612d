//! [`OAuthStore`]: the OAuth authorization server's rows in the shared database — pushed
//! authorization requests and their codes, sessions (one per authorization, holding the current
//! refresh token's hash and access token id), and the DPoP / client-assertion replay table.
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
}

impl OAuthRequestRow {
    const COLUMNS: &'static str =
        "id, client_id, client_auth, parameters, dpop_jkt, device_id, did, code, expires_at";

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
                 device_id, did, code, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    row.id.as_str(),
                    row.client_id.as_str(),
                    row.client_auth.as_str(),
                    row.parameters.as_str(),
                    row.dpop_jkt.clone(),
                    row.device_id.clone(),
                    row.did.clone(),
                    row.code.clone(),
                    row.expires_at
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
        self.freshness
            .on_miss(|| async {
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
    /// replay records, pushed requests and their codes past their expiry, and sessions that have
    /// ended; returns how many. Fewer than `limit` means none is left. Each statement is one
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
