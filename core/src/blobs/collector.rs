//! [`Collector`]: the node's task that deletes temporary blobs once they expire.
//!
//! It sleeps on a timer set to the earliest expiry in the database, and when there is none, on a
//! wake-up alone: an upload wakes it as it starts (so the timer covers the new pending row), and the
//! node starts it once (so blobs left by an earlier run or another node are seen). A node with no
//! temporary blobs never wakes. Temporary blobs of other nodes sharing the database are collected when
//! this node next wakes, or by those nodes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::now_millis;
use crate::storage::BlobStore;

/// How long the task waits before trying again after the database failed.
const RETRY: Duration = Duration::from_secs(30);

/// The collecting task; stopped when dropped.
pub struct Collector {
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Collector {
    /// Starts the task on the current tokio runtime.
    pub fn start(store: BlobStore) -> Collector {
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(run(store, wake.clone()));
        Collector { wake, task }
    }

    /// Tells the task that a temporary blob appeared (it re-reads the earliest expiry).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops the task.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(store: BlobStore, wake: Arc<Notify>) {
    loop {
        let next = match store.next_expiry().await {
            Ok(next) => next,
            Err(e) => {
                log::warn!("reading blob expiries failed: {e}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let Some(at) = next else {
            wake.notified().await;
            continue;
        };
        let now = now_millis();
        if at > now {
            let delay = Duration::from_millis(u64::try_from(at - now).unwrap_or(0));
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = wake.notified() => {}
            }
            continue;
        }
        match store.collect_expired(now).await {
            Ok(0) => {}
            Ok(n) => log::info!("deleted {n} expired temporary blobs"),
            Err(e) => {
                log::warn!("deleting expired blobs failed: {e}");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
