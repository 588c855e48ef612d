//! The error type of the storage layer, [`StorageError`], and its conversion to the repository's
//! [`StoreError`].

use std::path::PathBuf;

use crate::repo::block_store::StoreError;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database file could not be opened or configured.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The file asked for.
        path: PathBuf,
        /// What libSQL reported.
        source: libsql::Error,
    },
    /// A statement failed.
    #[error("database: {0}")]
    Database(#[from] libsql::Error),
    /// The database was migrated by a newer build than this one; running on it could corrupt it.
    #[error("database schema version {found} is newer than this build knows ({known})")]
    SchemaTooNew {
        /// The version recorded in the database.
        found: u32,
        /// The newest version this build can migrate to.
        known: u32,
    },
    /// A list of migrations is not numbered 1, 2, 3, … in order.
    #[error("malformed migration list: {0}")]
    BadMigrations(String),
    /// A row holds something the schema does not allow (for example a CID that does not parse).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The primary database did not answer in time, refused the node, or failed; the message says
    /// which. Nothing was stored by the call that got it.
    #[error("{0}")]
    PrimaryUnavailable(String),
    /// The primary now holds another database than the one this replica follows.
    #[error("{0}")]
    PrimaryReplaced(String),
    /// A sealed secret does not open (another secrets key sealed it) or the key is unusable.
    #[error(transparent)]
    Sealing(super::sealing::SealingError),
}

impl From<StorageError> for StoreError {
    fn from(err: StorageError) -> Self {
        StoreError(err.to_string())
    }
}
