//! libSQL-backed storage: opening the database, its schema and migrations, and the stores built on it.
//!
//! This room owns every table. It implements [`crate::repo::BlockStore`] with [`LibsqlBlockStore`] so the
//! repository code can read and write blocks without knowing SQL; it calls nothing above it.
//! [`AccountStore`] keeps the accounts and their credentials (passwords arrive hashed from
//! [`crate::auth`], which decides who may do what). [`BlobStore`] keeps the blobs, chunked, with the
//! records that reference them. The node
//! opens one [`Storage`] at start and hands its connections (or stores) to the rooms that need them.
//! Today it opens a local database file; replica and remote modes will open through the same type.
//! The secrets it keeps (cluster secrets, account signing keys) are sealed with a [`SealingKey`] the
//! platform holds ([`sealing`]).

mod accounts;
pub mod blobs;
mod blocks;
pub mod crawl_requests;
mod error;
pub mod event_signal;
pub mod events;
mod migrations;
pub mod oauth_store;
pub mod preferences;
pub mod repo_store;
pub mod sealing;
pub mod secrets;
pub mod stats;

use std::path::Path;
use std::time::Duration;

use libsql::{Builder, Connection, Database};

pub use accounts::{
    Account, AccountStatus, AccountStore, AccountsError, AppPasswordGrant, AppPasswordInfo,
    InviteCode, NewAccount, RefreshRotation, RefreshTokenRow, TokenCheck, TokenPurpose,
};
pub use blobs::{BlobStore, MissingBlob, PendingUpload, StoredBlob};
pub use blocks::LibsqlBlockStore;
pub use error::StorageError;
pub use event_signal::EventSignal;
pub use migrations::{apply_migrations, migrate, schema_version, Migration, MIGRATIONS};
pub use oauth_store::OAuthStore;
pub use repo_store::{Announce, ApplyError, CommitResult, ImportedRecord, RepoStore};
pub use sealing::{SealingError, SealingKey};

/// The most rows one `delete_expired` statement of a store removes, so that it holds the database's
/// write lock only briefly (callers loop, pausing between batches).
pub const MAX_DELETE_BATCH: usize = 1000;

/// How long a statement waits for another connection's write lock before failing with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// An open, migrated database.
pub struct Storage {
    db: Database,
    conn: Connection,
}

impl Storage {
    /// Opens (creating it if needed) the local database file at `path`, switches it to WAL, and brings
    /// its schema to the newest version. Several processes may open the same file.
    pub async fn open_local(path: &Path) -> Result<Storage, StorageError> {
        let open_error = |source| StorageError::Open {
            path: path.to_path_buf(),
            source,
        };
        let db = Builder::new_local(path).build().await.map_err(open_error)?;
        let conn = db.connect().map_err(open_error)?;
        configure(&conn).await?;
        let mode = switch_to_wal(&conn).await?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::Corrupt(format!(
                "journal_mode stayed {mode:?} instead of wal"
            )));
        }
        migrate(&conn).await?;
        Ok(Storage { db, conn })
    }

    /// The connection opened with the database, for short statements that need no transaction of
    /// their own. Cloning it shares it.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// A new connection to the same database, configured like the first: for work that runs
    /// transactions alongside others.
    pub async fn connect(&self) -> Result<Connection, StorageError> {
        let conn = self.db.connect()?;
        configure(&conn).await?;
        Ok(conn)
    }

    /// The blocks of `did`, on a connection of their own.
    pub async fn block_store(&self, did: &str) -> Result<LibsqlBlockStore, StorageError> {
        Ok(LibsqlBlockStore::new(self.connect().await?, did))
    }
}

/// The per-connection settings: durable commits, foreign keys, a busy timeout.
async fn configure(conn: &Connection) -> Result<(), StorageError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute("PRAGMA synchronous = FULL", ()).await?;
    conn.execute("PRAGMA foreign_keys = ON", ()).await?;
    Ok(())
}

/// Switches the database to WAL and returns the journal mode it reports. SQLite does not run the busy
/// handler for this switch, so when another process is creating or switching the same file at that
/// moment (several nodes started at once on a new data directory) it fails at once with
/// `SQLITE_BUSY`; this retries with a short backoff for up to [`BUSY_TIMEOUT`].
async fn switch_to_wal(conn: &Connection) -> Result<String, StorageError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        match pragma_value(conn, "PRAGMA journal_mode = WAL").await {
            Err(StorageError::Database(libsql::Error::SqliteFailure(code, _)))
                if code & 0xff == libsql::ffi::SQLITE_BUSY
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Runs a pragma that answers with one text value.
async fn pragma_value(conn: &Connection, sql: &str) -> Result<String, StorageError> {
    let mut rows = conn.query(sql, ()).await?;
    let row = rows
        .next()
        .await?
        .ok_or_else(|| StorageError::Corrupt(format!("{sql} returned no row")))?;
    Ok(row.get::<String>(0)?)
}
