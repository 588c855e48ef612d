//! The janitor: one background task per node that keeps the tables which grow with time bounded.
//!
//! At start and then every `PDS_JANITOR_INTERVAL_SECONDS` (ten minutes by default) it sweeps: it
//! asks each store to delete its expired rows — firehose events older than the backfill window
//! (never the newest), expired OAuth requests and codes, ended OAuth sessions and expired replay
//! records, expired refresh tokens, expired email codes — in batches of at most
//! [`crate::storage::MAX_DELETE_BATCH`] rows, with a short pause between batches so that writers
//! never wait long for the database's write lock. The stores own the `delete_expired` statements;
//! this room only schedules them and logs what they did. Temporary blobs have their own timer
//! ([`crate::blobs`]).
//!
//! Between sweeps the task sleeps on one timer, so an idle node spends nothing on it. Every delete
//! is idempotent and bounded, so several nodes sharing a database may sweep at the same time. The
//! node starts the janitor ([`crate::node::start`]) and stops it with itself: a stop interrupts
//! the sleep and the pauses at once, and waits at most for the statement running.

mod settings;
mod sweep;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use settings::{JanitorConfig, DEFAULT_PAUSE};
pub use sweep::{sweep, SweepReport, Tables};

/// The running janitor task. Dropping it stops the task too, without waiting.
pub struct Janitor {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    sweeps: Arc<AtomicU64>,
}

impl Janitor {
    /// Starts the task on the current tokio runtime; its first sweep begins at once.
    pub fn start(tables: Tables, config: JanitorConfig) -> Janitor {
        let (stop, stopped) = watch::channel(false);
        let sweeps = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(run(tables, config, stopped, sweeps.clone()));
        Janitor {
            stop,
            task: Some(task),
            sweeps,
        }
    }

    /// How many sweeps have finished (interrupted ones included).
    pub fn sweeps(&self) -> u64 {
        self.sweeps.load(Ordering::Relaxed)
    }

    /// Stops the task and waits until it has ended: at once when it sleeps or pauses, after the
    /// running statement when it deletes.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            if let Err(err) = task.await {
                if err.is_panic() {
                    log::error!("janitor: the task panicked: {err}");
                }
            }
        }
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn run(
    tables: Tables,
    config: JanitorConfig,
    mut stop: watch::Receiver<bool>,
    sweeps: Arc<AtomicU64>,
) {
    log::debug!("janitor: started, sweeping every {:?}", config.interval);
    loop {
        let report = sweep::sweep_until_stopped(&tables, &config, &mut stop).await;
        sweeps.fetch_add(1, Ordering::Relaxed);
        if report.total() > 0 {
            log::info!(
                "janitor: deleted {} events, {} OAuth rows, {} refresh tokens, {} email codes",
                report.events,
                report.oauth,
                report.refresh_tokens,
                report.email_tokens
            );
        }
        if report.interrupted || *stop.borrow() {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(config.interval) => {}
            // A stop, or the janitor dropped: either way the task ends.
            _ = stop.changed() => break,
        }
    }
    log::debug!("janitor: stopped");
}
