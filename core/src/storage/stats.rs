//! A few figures about the whole database for the node's status page: how many accounts it hosts,
//! the latest commit, and the firehose's sequence number.

use libsql::Connection;

use super::error::StorageError;
use super::events::last_seq;
use super::repo_store::columns::text;

/// The latest commit of any repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCommit {
    /// The repository's account.
    pub did: String,
    /// The commit's revision.
    pub rev: String,
    /// When it was stored (an atproto datetime).
    pub time: String,
}

/// Figures about the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// The number of accounts.
    pub accounts: u64,
    /// The latest commit, if any repository exists.
    pub last_commit: Option<LastCommit>,
    /// The sequence number of the newest firehose event.
    pub last_seq: Option<u64>,
}

/// Reads the figures (three small indexed queries).
pub async fn stats(conn: &Connection) -> Result<Stats, StorageError> {
    let mut rows = conn.query("SELECT COUNT(*) FROM account", ()).await?;
    let accounts = match rows.next().await? {
        Some(row) => u64::try_from(row.get::<i64>(0)?).unwrap_or(0),
        None => 0,
    };
    drop(rows);
    let mut rows = conn
        .query(
            "SELECT did, rev, indexed_at FROM repo_root ORDER BY indexed_at DESC LIMIT 1",
            (),
        )
        .await?;
    let last_commit = match rows.next().await? {
        Some(row) => Some(LastCommit {
            did: text(&row, 0, "repo_root.did")?,
            rev: text(&row, 1, "repo_root.rev")?,
            time: text(&row, 2, "repo_root.indexed_at")?,
        }),
        None => None,
    };
    drop(rows);
    Ok(Stats {
        accounts,
        last_commit,
        last_seq: last_seq(conn).await?,
    })
}
