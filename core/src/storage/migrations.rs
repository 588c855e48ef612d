//! Versioned schema migrations.
//!
//! The applied versions are rows of the `schema_version` table (a table rather than `PRAGMA user_version`
//! because remote libSQL servers do not let every client set pragmas). Each [`Migration`] is an SQL batch
//! applied in its own `BEGIN IMMEDIATE` transaction together with its `schema_version` row, so a migration
//! is applied entirely or not at all, and several processes opening one database at once serialise on the
//! write lock: the second finds the version already recorded and skips it. A database whose version is
//! newer than this build's newest migration is refused ([`StorageError::SchemaTooNew`]).

use libsql::{Connection, TransactionBehavior};

use super::error::StorageError;

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number: migrations are numbered 1, 2, 3, … and applied in that order.
    pub version: u32,
    /// A short description, recorded beside the version.
    pub name: &'static str,
    /// The SQL batch it runs.
    pub sql: &'static str,
}

/// The schema of this build, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "repo blocks",
        sql: "CREATE TABLE repo_block (
              did TEXT NOT NULL,
              cid BLOB NOT NULL,
              bytes BLOB NOT NULL,
              PRIMARY KEY (did, cid)
          ) WITHOUT ROWID;",
    },
    // Repository heads, the record index, the commit chain guard and the event sequence (firehose).
    // `repo_block.rev` is the revision of the latest commit that wrote the block (NULL for blocks
    // stored outside a commit), for `sync.getRepo?since=`. `repo_commit` holds one row per commit; its
    // unique (did, prev_commit) index refuses two commits with the same parent, the first commit of a
    // repository having the empty blob as parent. The record primary key serves listing a collection
    // in record key order, both ways.
    Migration {
        version: 2,
        name: "repo heads, record index, commit chain, events",
        sql: "ALTER TABLE repo_block ADD COLUMN rev TEXT;
          CREATE INDEX repo_block_rev ON repo_block (did, rev, cid);
          CREATE TABLE repo_root (
              did TEXT PRIMARY KEY NOT NULL,
              commit_cid BLOB NOT NULL,
              rev TEXT NOT NULL,
              data_cid BLOB NOT NULL,
              indexed_at TEXT NOT NULL
          ) WITHOUT ROWID;
          CREATE TABLE repo_commit (
              did TEXT NOT NULL,
              commit_cid BLOB NOT NULL,
              prev_commit BLOB NOT NULL,
              rev TEXT NOT NULL,
              PRIMARY KEY (did, commit_cid)
          ) WITHOUT ROWID;
          CREATE UNIQUE INDEX repo_commit_prev ON repo_commit (did, prev_commit);
          CREATE TABLE record (
              did TEXT NOT NULL,
              collection TEXT NOT NULL,
              rkey TEXT NOT NULL,
              cid BLOB NOT NULL,
              rev TEXT NOT NULL,
              PRIMARY KEY (did, collection, rkey)
          ) WITHOUT ROWID;
          CREATE TABLE event (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              did TEXT NOT NULL,
              kind TEXT NOT NULL CHECK (kind IN ('commit', 'sync', 'identity', 'account')),
              time TEXT NOT NULL,
              payload BLOB NOT NULL
          );
          CREATE INDEX event_did ON event (did, seq);",
    },
    Migration {
        version: 3,
        name: "accounts, credentials and invite codes",
        sql: super::accounts::SCHEMA,
    },
    // Secrets every node of a cluster shares when the environment does not give them.
    Migration {
        version: 4,
        name: "cluster secrets",
        sql: "CREATE TABLE cluster_secret (
              name TEXT PRIMARY KEY NOT NULL,
              value BLOB NOT NULL,
              created_at INTEGER NOT NULL
          ) WITHOUT ROWID;",
    },
    Migration {
        version: 5,
        name: "blobs, blob chunks and record blob references",
        sql: super::blobs::SCHEMA,
    },
    // The firehose's backfill window: a subscriber whose cursor is older than the window starts at
    // the first event inside it, found through this index rather than by scanning the older events.
    Migration {
        version: 6,
        name: "event time index",
        sql: "CREATE INDEX event_time ON event (time);",
    },
    // One-time codes that confirm a sensitive action (deleting the account), one per account and
    // purpose.
    Migration {
        version: 7,
        name: "email tokens",
        sql: "CREATE TABLE email_token (
              did TEXT NOT NULL,
              purpose TEXT NOT NULL,
              token TEXT NOT NULL,
              requested_at INTEGER NOT NULL,
              PRIMARY KEY (did, purpose)
          ) WITHOUT ROWID;",
    },
    // The OAuth authorization server: pushed requests and codes, sessions, the replay table.
    Migration {
        version: 8,
        name: "oauth requests, sessions and replay records",
        sql: super::oauth_store::SCHEMA,
    },
    // Which secrets are sealed (encrypted at rest); older rows are sealed by the next node to open
    // them.
    Migration {
        version: 9,
        name: "sealed secrets",
        sql: super::sealing::SCHEMA,
    },
    // Commits stored as one transactional batch (one round trip to a primary): the guard table that
    // fails a batch whose head compare-and-swap changed nothing, and the `#commit` event's sequence
    // number beside each commit of the chain, for the writer to read back. The node registry: every
    // node of a cluster records itself and when it was last seen.
    Migration {
        version: 10,
        name: "batched commits and the node registry",
        sql: super::cluster::SCHEMA,
    },
    // OAuth: remembered browsers (devices) and the accounts signed in on them, remembered consent,
    // the account a pending request was signed in with, and resolved permission sets.
    Migration {
        version: 11,
        name: "oauth devices, consents and permission sets",
        sql: super::oauth_store::DEVICE_SCHEMA,
    },
    // What operators need to run accounts for people: failed logins counted cluster-wide, email
    // codes found by value, the emailed second factor, invite switches, takedowns of records and
    // blobs, reserved signing keys.
    Migration {
        version: 12,
        name: "login throttling, email codes, takedowns and reserved keys",
        sql: super::accounts::OPERATOR_SCHEMA,
    },
    // Account preferences (app.bsky.actor.getPreferences / putPreferences, in order, one row
    // each), and when each relay of PDS_CRAWLERS was last asked to crawl (the lease that lets one
    // node of a cluster ask, the one whose conditional update wins).
    Migration {
        version: 13,
        name: "account preferences and relay crawl requests",
        sql: "CREATE TABLE account_pref (
              did TEXT NOT NULL REFERENCES account (did) ON DELETE CASCADE,
              position INTEGER NOT NULL,
              pref_type TEXT NOT NULL,
              value_json TEXT NOT NULL,
              PRIMARY KEY (did, position)
          ) WITHOUT ROWID;
          CREATE TABLE crawl_request (
              crawler TEXT PRIMARY KEY NOT NULL,
              requested_at INTEGER NOT NULL,
              after_write INTEGER NOT NULL
          ) WITHOUT ROWID;",
    },
    // Read-after-write through the proxy: an account's records written after the revision an app
    // view reports having indexed, found by revision instead of by scanning all its records.
    Migration {
        version: 14,
        name: "record revision index",
        sql: "CREATE INDEX record_rev ON record (did, rev);",
    },
    // A repository being imported waits here, invisible, until it verifies: its blocks, then the
    // index of what it holds (reachable blocks, records, blob references).
    Migration {
        version: 15,
        name: "import staging",
        sql: super::import_staging::SCHEMA,
    },
];

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
)";

/// Brings the database to the newest schema of this build; returns the version reached.
pub async fn migrate(conn: &Connection) -> Result<u32, StorageError> {
    apply_migrations(conn, MIGRATIONS).await
}

/// Applies those of `migrations` the database has not recorded yet, in order; returns the version
/// reached. [`migrate`] passes [`MIGRATIONS`]; tests pass a prefix of it to build an older database.
pub async fn apply_migrations(
    conn: &Connection,
    migrations: &[Migration],
) -> Result<u32, StorageError> {
    check_numbering(migrations)?;
    let known = migrations.len() as u32;
    conn.execute(CREATE_VERSION_TABLE, ()).await?;
    let mut current = schema_version(conn).await?;
    if current > known {
        return Err(StorageError::SchemaTooNew {
            found: current,
            known,
        });
    }
    let start = current;
    for migration in migrations.iter().filter(|m| m.version > start) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .await?;
        match apply_one(&tx, migration, known).await {
            Ok(()) => tx.commit().await?,
            Err(err) => {
                if let Err(rollback) = tx.rollback().await {
                    log::warn!(
                        "rolling back migration {} failed: {rollback}",
                        migration.version
                    );
                }
                return Err(err);
            }
        }
        current = migration.version;
    }
    Ok(current)
}

/// The newest schema version the database records (0 for a new database).
pub async fn schema_version(conn: &Connection) -> Result<u32, StorageError> {
    let mut rows = conn
        .query("SELECT COALESCE(MAX(version), 0) FROM schema_version", ())
        .await?;
    let row = rows
        .next()
        .await?
        .ok_or_else(|| StorageError::Corrupt("schema_version query returned no row".into()))?;
    Ok(row.get::<u32>(0)?)
}

/// Inside the migration's transaction: re-reads the version (another process may have migrated
/// meanwhile), then runs the batch and records it.
async fn apply_one(tx: &Connection, migration: &Migration, known: u32) -> Result<(), StorageError> {
    let current = schema_version(tx).await?;
    if current > known {
        return Err(StorageError::SchemaTooNew {
            found: current,
            known,
        });
    }
    if current >= migration.version {
        return Ok(());
    }
    tx.execute_batch(migration.sql).await?;
    tx.execute(
        "INSERT INTO schema_version (version, name, applied_at)
         VALUES (?1, ?2, CAST(strftime('%s', 'now') AS INTEGER))",
        (migration.version, migration.name),
    )
    .await?;
    log::info!(
        "applied schema migration {} ({})",
        migration.version,
        migration.name
    );
    Ok(())
}

fn check_numbering(migrations: &[Migration]) -> Result<(), StorageError> {
    for (index, migration) in migrations.iter().enumerate() {
        if migration.version as usize != index + 1 {
            return Err(StorageError::BadMigrations(format!(
                "migration {:?} is at position {}, expected version {}",
                migration.name,
                index + 1,
                index + 1
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_migrations_are_numbered_in_order() {
        check_numbering(MIGRATIONS).unwrap();
    }

    #[test]
    fn gaps_in_the_numbering_are_refused() {
        let gap = [
            Migration {
                version: 1,
                name: "a",
                sql: "",
            },
            Migration {
                version: 3,
                name: "c",
                sql: "",
            },
        ];
        assert!(matches!(
            check_numbering(&gap),
            Err(StorageError::BadMigrations(_))
        ));
    }
}
