//! When each relay of `PDS_CRAWLERS` was last asked to crawl: the lease that lets exactly one node of
//! a cluster send a `com.atproto.sync.requestCrawl`. A node claims a relay with one conditional
//! UPDATE; the database lets one of several racing nodes change the row, and only that node sends
//! the request. The table (`crawl_request`) is created by migration 10.
//!
//! A row holds the time of the last request (milliseconds since the epoch) and whether a write had
//! happened before it (`after_write`): a start claims a relay when its last request is older than
//! the window; a write claims it when no request has followed a write yet, or when the last one is
//! older than the window. So a cluster asks once after it starts and once more after its first
//! write, then at most once a window while it keeps writing.

use libsql::Connection;

use super::StorageError;

/// What made a node want to ask the relays to crawl.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrawlTrigger {
    /// The node started.
    Start,
    /// The node stored a write (a commit, an account change).
    Write,
}

/// Claims `crawler` for a request at `now_ms` if the cluster's last request does not already cover
/// `trigger` within `window_ms`. Returns whether this caller won (and must send the request).
pub async fn claim(
    conn: &Connection,
    crawler: &str,
    trigger: CrawlTrigger,
    now_ms: i64,
    window_ms: i64,
) -> Result<bool, StorageError> {
    conn.execute(
        "INSERT OR IGNORE INTO crawl_request (crawler, requested_at, after_write) VALUES (?1, 0, 0)",
        [crawler],
    )
    .await?;
    let stale = now_ms.saturating_sub(window_ms);
    let changed = match trigger {
        CrawlTrigger::Start => {
            conn.execute(
                "UPDATE crawl_request SET requested_at = ?2, after_write = 0
                 WHERE crawler = ?1 AND requested_at <= ?3",
                (crawler, now_ms, stale),
            )
            .await?
        }
        CrawlTrigger::Write => {
            conn.execute(
                "UPDATE crawl_request SET requested_at = ?2, after_write = 1
                 WHERE crawler = ?1 AND (after_write = 0 OR requested_at <= ?3)",
                (crawler, now_ms, stale),
            )
            .await?
        }
    };
    Ok(changed == 1)
}

/// Gives back a claim made at `claimed_at_ms` whose request failed, so that the next start or write
/// of any node asks again. Does nothing if another node has claimed the relay since.
pub async fn release(
    conn: &Connection,
    crawler: &str,
    claimed_at_ms: i64,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE crawl_request SET requested_at = 0, after_write = 0
         WHERE crawler = ?1 AND requested_at = ?2",
        (crawler, claimed_at_ms),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    const WINDOW: i64 = 60_000;

    async fn open() -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(&dir.path().join("db")).await.unwrap();
        (dir, storage)
    }

    #[tokio::test]
    async fn a_start_and_the_first_write_each_win_once_then_the_window_holds() {
        let (_dir, storage) = open().await;
        let a = storage.connect().await.unwrap();
        let b = storage.connect().await.unwrap();
        let relay = "https://relay.example";
        assert!(claim(&a, relay, CrawlTrigger::Start, 1_000_000, WINDOW)
            .await
            .unwrap());
        assert!(!claim(&b, relay, CrawlTrigger::Start, 1_000_010, WINDOW)
            .await
            .unwrap());
        assert!(claim(&b, relay, CrawlTrigger::Write, 1_000_020, WINDOW)
            .await
            .unwrap());
        assert!(!claim(&a, relay, CrawlTrigger::Write, 1_000_030, WINDOW)
            .await
            .unwrap());
        // Once the window has passed, the next write asks again.
        assert!(
            claim(&a, relay, CrawlTrigger::Write, 1_000_020 + WINDOW, WINDOW)
                .await
                .unwrap()
        );
        // Another relay has its own row.
        assert!(claim(
            &a,
            "https://other.example",
            CrawlTrigger::Write,
            1_000_040,
            WINDOW
        )
        .await
        .unwrap());
    }

    #[tokio::test]
    async fn a_released_claim_lets_the_next_trigger_ask_again_unless_someone_claimed_since() {
        let (_dir, storage) = open().await;
        let conn = storage.connect().await.unwrap();
        let relay = "https://relay.example";
        assert!(claim(&conn, relay, CrawlTrigger::Start, 5_000_000, WINDOW)
            .await
            .unwrap());
        release(&conn, relay, 5_000_000).await.unwrap();
        assert!(claim(&conn, relay, CrawlTrigger::Start, 5_000_001, WINDOW)
            .await
            .unwrap());
        // A stale release (of a claim that is no longer the current one) changes nothing.
        release(&conn, relay, 5_000_000).await.unwrap();
        assert!(!claim(&conn, relay, CrawlTrigger::Start, 5_000_002, WINDOW)
            .await
            .unwrap());
    }
}
