//! The `login_failure` table: failed password attempts per key (an account, or a client address)
//! in fixed windows, shared by every node of a cluster so that a round-robin load balancer does not
//! multiply the allowance. `crate::auth::throttle` decides the keys and the limits.
//!
//! An attempt is counted by one upsert that starts a new window when the key's window has ended,
//! and returns the count, so two nodes counting at once both see the sum. Rows of ended windows are
//! deleted now and then by the counting itself, a few at a time.

use super::AccountStore;
use crate::storage::StorageError;

/// A key's count in its current window, after an attempt was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    /// Attempts counted in the window, this one included.
    pub count: i64,
    /// When the window started, in seconds since the epoch.
    pub window_start: i64,
}

/// How many ended windows one count deletes when it cleans up.
const CLEANUP_BATCH: i64 = 100;

impl AccountStore {
    /// The count of `key` in its current window (the window of `window` seconds that contains
    /// `now`), without counting anything: `None` when the key has no attempt in a current window.
    pub async fn login_attempts(
        &self,
        key: &str,
        now: i64,
        window: i64,
    ) -> Result<Option<FailureCount>, StorageError> {
        let mut rows = self
            .conn
            .query(
                "SELECT count, window_start FROM login_failure
                 WHERE key = ?1 AND window_start > ?2 - ?3",
                (key, now, window),
            )
            .await?;
        match rows.next().await? {
            Some(row) => Ok(Some(FailureCount {
                count: row.get(0)?,
                window_start: row.get(1)?,
            })),
            None => Ok(None),
        }
    }

    /// Counts one attempt for `key` in the window of `window` seconds that contains `now` (a new
    /// window starts at `now` when the key's last one has ended) and returns the count.
    pub async fn count_login_attempt(
        &self,
        key: &str,
        now: i64,
        window: i64,
    ) -> Result<FailureCount, StorageError> {
        let _serialised = self.write_lock.lock().await;
        let mut rows = self
            .conn
            .query(
                "INSERT INTO login_failure (key, window_start, count) VALUES (?1, ?2, 1)
                 ON CONFLICT (key) DO UPDATE SET
                     count = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE count + 1 END,
                     window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2
                                         ELSE window_start END
                 RETURNING count, window_start",
                (key, now, window),
            )
            .await?;
        let row = rows
            .next()
            .await?
            .ok_or_else(|| StorageError::Corrupt("login_failure upsert returned no row".into()))?;
        let counted = FailureCount {
            count: row.get(0)?,
            window_start: row.get(1)?,
        };
        drop(rows);
        if rand::random::<u8>() < 4 {
            self.conn
                .execute(
                    "DELETE FROM login_failure WHERE key IN (
                         SELECT key FROM login_failure WHERE window_start <= ?1 LIMIT ?2)",
                    (now - window, CLEANUP_BATCH),
                )
                .await?;
        }
        Ok(counted)
    }

    /// Takes back one attempt counted for `key` in the window that started at `window_start` (the
    /// password was right). Nothing happens once that window has been replaced.
    pub async fn uncount_login_attempt(
        &self,
        key: &str,
        window_start: i64,
    ) -> Result<(), StorageError> {
        let _serialised = self.write_lock.lock().await;
        self.conn
            .execute(
                "UPDATE login_failure SET count = count - 1
                 WHERE key = ?1 AND window_start = ?2 AND count > 0",
                (key, window_start),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    #[tokio::test]
    async fn attempts_add_up_within_a_window_and_start_again_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(&dir.path().join("db")).await.unwrap();
        let store = AccountStore::new(
            storage.connect().await.unwrap(),
            crate::storage::sealing::SealingKey::generate(),
        );
        // A second store (another node's connection) counts into the same rows.
        let other = AccountStore::new(
            storage.connect().await.unwrap(),
            crate::storage::sealing::SealingKey::generate(),
        );
        let a = store
            .count_login_attempt("ip:1.2.3.4", 1000, 60)
            .await
            .unwrap();
        assert_eq!((a.count, a.window_start), (1, 1000));
        let b = other
            .count_login_attempt("ip:1.2.3.4", 1030, 60)
            .await
            .unwrap();
        assert_eq!((b.count, b.window_start), (2, 1000));
        store
            .uncount_login_attempt("ip:1.2.3.4", 1000)
            .await
            .unwrap();
        let c = store
            .count_login_attempt("ip:1.2.3.4", 1059, 60)
            .await
            .unwrap();
        assert_eq!((c.count, c.window_start), (2, 1000));
        // The window [1000, 1060) has ended: a new one starts.
        let d = store
            .count_login_attempt("ip:1.2.3.4", 1060, 60)
            .await
            .unwrap();
        assert_eq!((d.count, d.window_start), (1, 1060));
        // Taking back in an ended window changes nothing.
        store
            .uncount_login_attempt("ip:1.2.3.4", 1000)
            .await
            .unwrap();
        let e = store
            .count_login_attempt("ip:1.2.3.4", 1061, 60)
            .await
            .unwrap();
        assert_eq!((e.count, e.window_start), (2, 1060));
        let other_key = store
            .count_login_attempt("did:plc:x", 1061, 60)
            .await
            .unwrap();
        assert_eq!(other_key.count, 1);
        let read = store.login_attempts("ip:1.2.3.4", 1119, 60).await.unwrap();
        assert_eq!(
            read,
            Some(FailureCount {
                count: 2,
                window_start: 1060
            })
        );
        assert_eq!(
            store.login_attempts("ip:1.2.3.4", 1120, 60).await.unwrap(),
            None
        );
        assert_eq!(
            store.login_attempts("ip:9.9.9.9", 1100, 60).await.unwrap(),
            None
        );
    }
}
