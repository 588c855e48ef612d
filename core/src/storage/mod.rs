//! libSQL-backed storage: opening the database, its schema and migrations, and the stores built on it.
//!
//! This room owns every table. It implements [`crate::repo::BlockStore`] with [`LibsqlBlockStore`] so the
//! repository code can read and write blocks without knowing SQL; it calls nothing above it.
//! [`AccountStore`] keeps the accounts and their credentials (passwords arrive hashed from
//! [`crate::auth`], which decides who may do what). [`BlobStore`] keeps the blobs, chunked, with the
//! records that reference them. The node
//! opens one [`Storage`] at start and hands its connections (or stores) to the rooms that need them.
//! It opens a local database file, an embedded replica of a remote primary, or the remote primary
//! itself ([`StorageMode`]), dialled through the [`connector`] room (TLS on the node's rustls); the
//! [`replication`] room follows the primary and reports on it. Commits
//! reach the database as one transactional [`batch`] each group — one round trip to a primary.
//! The secrets it keeps (cluster secrets, account signing keys) are sealed with a [`SealingKey`] the
//! platform holds ([`sealing`]).

mod accounts;
pub mod batch;
pub mod blobs;
mod blocks;
pub mod cluster;
pub mod connector;
pub mod crawl_requests;
mod error;
pub mod event_signal;
pub mod events;
pub mod import_staging;
mod migrations;
pub mod oauth_store;
pub mod preferences;
pub mod replication;
pub mod repo_store;
pub mod sealing;
pub mod secrets;
pub mod stats;

use std::path::Path;
use std::sync::Arc;
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
pub use import_staging::{ImportStaging, StagedCounts, StagedEntry};
pub use migrations::{apply_migrations, migrate, schema_version, Migration, MIGRATIONS};
pub use oauth_store::OAuthStore;
pub use replication::{Primary, Replication, ReplicationStatus, StorageMode};
pub use repo_store::{Announce, ApplyError, CommitResult, RecentRecord, RepoStore};
pub use sealing::{SealingError, SealingKey};

/// The most rows one `delete_expired` statement of a store removes, so that it holds the database's
/// write lock only briefly (callers loop, pausing between batches).
pub const MAX_DELETE_BATCH: usize = 1000;

/// How long a statement waits for another connection's write lock before failing with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// An open, migrated database.
pub struct Storage {
    db: Arc<Database>,
    conn: Connection,
    replication: Arc<Replication>,
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
        configure(&conn, StorageMode::Local).await?;
        let mode = switch_to_wal(&conn).await?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::Corrupt(format!(
                "journal_mode stayed {mode:?} instead of wal"
            )));
        }
        migrate(&conn).await?;
        Ok(Storage {
            db: Arc::new(db),
            conn,
            replication: Arc::new(Replication::local()),
        })
    }

    /// Opens an embedded replica of `primary` in the file at `path` (created if needed), catches
    /// up with the primary and brings the schema to the newest version through it. Every call to
    /// the primary runs under a timeout: an unreachable primary, a rejected token or a primary that
    /// now holds another database fail with an error that says which.
    pub async fn open_replica(path: &Path, primary: &Primary) -> Result<Storage, StorageError> {
        // Straight to the primary first: its answer tells an unreachable server from a rejected
        // token (the replication handshake reports both as a timeout).
        let direct = connect_direct(primary).await?;
        let builder =
            Builder::new_remote_replica(path, primary.url.clone(), primary.auth_token.clone())
                .connector(primary_connector()?)
                .read_your_writes(true);
        let db = match tokio::time::timeout(replication::OPEN_TIMEOUT, builder.build()).await {
            Ok(Ok(db)) => db,
            Ok(Err(err)) => {
                return Err(StorageError::PrimaryUnavailable(
                    replication::describe_primary_error(&primary.url, &err),
                ))
            }
            Err(_) => {
                return Err(StorageError::PrimaryUnavailable(format!(
                    "the primary database at {} did not answer within {} s",
                    primary.url,
                    replication::OPEN_TIMEOUT.as_secs()
                )))
            }
        };
        let db = Arc::new(db);
        let replication = Arc::new(Replication::new(
            StorageMode::Replica,
            Some(primary.clone()),
            Some(Arc::clone(&db)),
            Some(direct),
        ));
        replication.sync_within(replication::OPEN_TIMEOUT).await?;
        let conn = db.connect()?;
        configure(&conn, StorageMode::Replica).await?;
        migrate(&conn)
            .await
            .map_err(|err| primary_error(&primary.url, err))?;
        let id = cluster::cluster_id(&conn)
            .await
            .map_err(|err| primary_error(&primary.url, err))?;
        replication.set_cluster_id(id);
        replication.sync().await?;
        Ok(Storage {
            db,
            conn,
            replication,
        })
    }

    /// Opens the remote database `primary` without a local file: every statement crosses the
    /// network.
    pub async fn open_remote(primary: &Primary) -> Result<Storage, StorageError> {
        let db = Builder::new_remote(primary.url.clone(), primary.auth_token.clone())
            .connector(primary_connector()?)
            .build()
            .await
            .map_err(|err| {
                StorageError::PrimaryUnavailable(replication::describe_primary_error(
                    &primary.url,
                    &err,
                ))
            })?;
        let conn = db.connect()?;
        configure(&conn, StorageMode::Remote).await?;
        match tokio::time::timeout(replication::OPEN_TIMEOUT, migrate(&conn)).await {
            Ok(result) => {
                result.map_err(|err| match err {
                    StorageError::Database(db_err) => StorageError::PrimaryUnavailable(
                        replication::describe_primary_error(&primary.url, &db_err),
                    ),
                    other => other,
                })?;
            }
            Err(_) => {
                return Err(StorageError::PrimaryUnavailable(format!(
                    "the primary database at {} did not answer within {} s",
                    primary.url,
                    replication::OPEN_TIMEOUT.as_secs()
                )))
            }
        }
        let replication = Replication::new(StorageMode::Remote, Some(primary.clone()), None, None);
        replication.set_cluster_id(
            cluster::cluster_id(&conn)
                .await
                .map_err(|err| primary_error(&primary.url, err))?,
        );
        Ok(Storage {
            db: Arc::new(db),
            conn,
            replication: Arc::new(replication),
        })
    }

    /// The replication state: the mode, the primary, the sync loop and its status.
    pub fn replication(&self) -> &Arc<Replication> {
        &self.replication
    }

    /// The storage mode.
    pub fn mode(&self) -> StorageMode {
        self.replication.mode()
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
        configure(&conn, self.mode()).await?;
        Ok(conn)
    }

    /// A new connection whose commits may skip the fsync (`synchronous = NORMAL` on a local file:
    /// a power cut, not a crash, may lose its last commits). For rows that matter briefly or are
    /// made durable by a later commit. A replica's or remote connection is the same as
    /// [`Storage::connect`]'s: durability is the primary's.
    pub async fn connect_relaxed(&self) -> Result<Connection, StorageError> {
        let conn = self.connect().await?;
        set_durable(&conn, self.mode(), false).await?;
        Ok(conn)
    }

    /// The blocks of `did`, on a connection of their own.
    pub async fn block_store(&self, did: &str) -> Result<LibsqlBlockStore, StorageError> {
        Ok(LibsqlBlockStore::new(self.connect().await?, did))
    }
}

/// The connector every handle to a primary dials through (TLS for `https://` and `libsql://`).
fn primary_connector() -> Result<connector::PrimaryConnector, StorageError> {
    connector::PrimaryConnector::new().map_err(|err| {
        StorageError::PrimaryUnavailable(format!("the TLS settings cannot be built: {err}"))
    })
}

/// A database handle straight to `primary` (every statement over the network), checked with one
/// query under the network time limit.
async fn connect_direct(primary: &Primary) -> Result<Database, StorageError> {
    let unusable = |err: &libsql::Error| {
        StorageError::PrimaryUnavailable(replication::describe_primary_error(&primary.url, err))
    };
    let db = Builder::new_remote(primary.url.clone(), primary.auth_token.clone())
        .connector(primary_connector()?)
        .build()
        .await
        .map_err(|e| unusable(&e))?;
    let conn = db.connect().map_err(|e| unusable(&e))?;
    let probe = async {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match conn.query("SELECT 1", ()).await {
                // A server that has just started may interrupt its first statements.
                Err(err) if attempt < 5 && err.to_string().contains("SQLITE_INTERRUPT") => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    };
    match tokio::time::timeout(replication::NETWORK_TIMEOUT, probe).await {
        Ok(Ok(_)) => Ok(db),
        Ok(Err(err)) => Err(unusable(&err)),
        Err(_) => Err(StorageError::PrimaryUnavailable(format!(
            "the primary database at {} is unreachable (no answer within {} ms)",
            primary.url,
            replication::NETWORK_TIMEOUT.as_millis()
        ))),
    }
}

/// Switches a local connection between durable commits (`synchronous = FULL`) and relaxed ones
/// (`NORMAL`); nothing for a replica or remote connection, whose primary decides.
pub async fn set_durable(
    conn: &Connection,
    mode: StorageMode,
    durable: bool,
) -> Result<(), StorageError> {
    if mode == StorageMode::Local {
        let level = if durable { "FULL" } else { "NORMAL" };
        conn.execute(&format!("PRAGMA synchronous = {level}"), ())
            .await?;
    }
    Ok(())
}

/// A failure of a statement sent to the primary, named for the operator.
fn primary_error(url: &str, err: StorageError) -> StorageError {
    match err {
        StorageError::Database(db) => {
            StorageError::PrimaryUnavailable(replication::describe_primary_error(url, &db))
        }
        other => other,
    }
}

/// The per-connection settings: durable commits, foreign keys, a busy timeout. A replica's or a
/// remote connection's writes run on the primary, whose server owns durability and its
/// connections' settings (a replica would forward these pragmas, or refuse them).
async fn configure(conn: &Connection, mode: StorageMode) -> Result<(), StorageError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if mode == StorageMode::Local {
        conn.execute("PRAGMA synchronous = FULL", ()).await?;
        conn.execute("PRAGMA foreign_keys = ON", ()).await?;
    }
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
