//! Following a primary: the storage modes ([`StorageMode`]), the primary's address
//! ([`Primary`]), and the state of replication ([`Replication`]): the sync loop, the timeouts
//! around every call that crosses the network, and what `status` reports.
//!
//! libSQL's `sync()` hangs while the primary is down, so every sync runs under a timeout; the
//! loop syncs every `PDS_SYNC_INTERVAL_MS` (never faster), not at all while paused (a phone app in
//! the background), and wakes the firehose when the replica advanced. A replica whose replication
//! position moves backwards follows a primary whose database was replaced: it stops serving rather
//! than mixing two databases.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libsql::Database;
use tokio::sync::Notify;

use super::error::StorageError;
use super::event_signal::EventSignal;

/// The longest a call to the primary (a sync, a forwarded write) may take before the node treats
/// the primary as unreachable.
pub const NETWORK_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest the first open of a replica or a remote database may take (it may copy the whole
/// database).
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a node keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageMode {
    /// A local libSQL file is the database.
    Local,
    /// An embedded replica of a remote primary: reads from the local file, writes sent to the
    /// primary, synced periodically and after each write.
    Replica,
    /// Every statement sent to the remote primary; no local file.
    Remote,
}

impl StorageMode {
    /// `local`, `replica` or `remote`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageMode::Local => "local",
            StorageMode::Replica => "replica",
            StorageMode::Remote => "remote",
        }
    }

    /// The mode of a name, as `PDS_DATABASE_MODE` gives it.
    pub fn parse(name: &str) -> Option<StorageMode> {
        match name {
            "local" => Some(StorageMode::Local),
            "replica" => Some(StorageMode::Replica),
            "remote" => Some(StorageMode::Remote),
            _ => None,
        }
    }
}

/// The remote primary database of a cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct Primary {
    /// Its URL: `libsql://…` (TLS), `https://…` or `http://…`.
    pub url: String,
    /// The token it expects (empty for a server without authentication).
    pub auth_token: String,
}

impl std::fmt::Debug for Primary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Primary")
            .field("url", &self.url)
            .field("auth_token", &"…")
            .finish()
    }
}

/// Why the primary could not be used, in words an operator can act on.
pub fn describe_primary_error(url: &str, err: &libsql::Error) -> String {
    let text = err.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("unauthorized")
        || lower.contains("unauthenticated")
        || lower.contains("401")
        || lower.contains("authentication")
    {
        format!("the primary database at {url} rejected PDS_DATABASE_AUTH_TOKEN ({text})")
    } else if lower.contains("logincompatible") || lower.contains("log incompatible") {
        format!(
            "the primary database at {url} now holds another database (its log does not continue \
             this replica's); refusing to mix them"
        )
    } else if lower.contains("connection refused")
        || lower.contains("dns error")
        || lower.contains("connect")
        || lower.contains("timed out")
        || lower.contains("timeout")
        || lower.contains("unavailable")
    {
        format!("the primary database at {url} is unreachable ({text})")
    } else {
        format!("the primary database at {url} failed: {text}")
    }
}

/// A snapshot of the replication state, for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationStatus {
    /// The storage mode.
    pub mode: StorageMode,
    /// The primary's URL (`None` for a local node).
    pub primary: Option<String>,
    /// Whether the last call to the primary succeeded (always true for a local node).
    pub reachable: bool,
    /// Why the last call to the primary failed, if it did.
    pub last_error: Option<String>,
    /// The replica's replication position (the primary's frame number it has applied).
    pub position: Option<u64>,
    /// Milliseconds since the replica last caught up with the primary (`None` before the first
    /// sync, or for a node that does not replicate).
    pub lag_ms: Option<u64>,
    /// Whether periodic syncs are paused (the app is in the background).
    pub paused: bool,
    /// Whether the node stopped serving because the primary now holds another database.
    pub diverged: bool,
}

/// What a store of a replica does when a row it looks for is not in its local copy: another node
/// may have written it a moment ago (a session created through one node, used through the next
/// behind a round-robin balancer). [`Freshness::on_miss`] then syncs once and looks again. A local
/// or remote store looks once.
#[derive(Clone, Default)]
pub struct Freshness(Option<Arc<Replication>>);

impl Freshness {
    /// The freshness of a store over `replication`'s database.
    pub fn of(replication: &Arc<Replication>) -> Freshness {
        match replication.mode() {
            StorageMode::Replica => Freshness(Some(Arc::clone(replication))),
            StorageMode::Local | StorageMode::Remote => Freshness(None),
        }
    }

    /// Runs `look`; when it finds nothing on a replica, catches up with the primary (sharing a
    /// sync that started after the miss) and runs it again.
    pub async fn on_miss<T, F, Fut>(&self, look: F) -> Result<Option<T>, StorageError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, StorageError>>,
    {
        let found = look().await?;
        let Some(replication) = &self.0 else {
            return Ok(found);
        };
        if found.is_some() {
            return Ok(found);
        }
        match replication.catch_up_after(Instant::now()).await {
            Ok(()) => look().await,
            // Without the primary the local answer stands.
            Err(_) => Ok(None),
        }
    }
}

impl Freshness {
    /// Runs `look` on a replica's copy brought up to the primary first: for rows that change from
    /// one step to the next of a flow whose steps may land on different nodes (an OAuth
    /// authorization). A local or remote store just looks.
    pub async fn latest<T, F, Fut>(&self, look: F) -> Result<T, StorageError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, StorageError>>,
    {
        if let Some(replication) = &self.0 {
            if let Err(err) = replication.catch_up_after(Instant::now()).await {
                log::debug!("reading without catching up: {err}");
            }
        }
        look().await
    }
}

#[derive(Debug, Default)]
struct State {
    reachable: bool,
    last_error: Option<String>,
    position: Option<u64>,
    last_caught_up: Option<Instant>,
    last_sync_started: Option<Instant>,
    diverged: bool,
}

/// The replication state of one node's storage, shared by the storage, the sync loop and status.
pub struct Replication {
    mode: StorageMode,
    primary: Option<Primary>,
    db: Option<Arc<Database>>,
    /// A connection straight to the primary (no replica): after each sync it reads the primary's
    /// cluster id, so a replaced database is noticed even when the replica's log looks current.
    direct: Option<Database>,
    state: Mutex<State>,
    paused: AtomicBool,
    wake: Notify,
    /// One sync at a time: the loop, `sync_now` and the writers' checks share it.
    syncing: tokio::sync::Mutex<()>,
    /// The cluster id of the database this replica follows, checked after every sync.
    cluster_id: Mutex<Option<String>>,
}

impl Replication {
    /// The state of a local node: nothing to follow.
    pub(super) fn local() -> Replication {
        Replication::new(StorageMode::Local, None, None, None)
    }

    pub(super) fn new(
        mode: StorageMode,
        primary: Option<Primary>,
        db: Option<Arc<Database>>,
        direct: Option<Database>,
    ) -> Replication {
        Replication {
            mode,
            primary,
            db,
            direct,
            state: Mutex::new(State {
                reachable: true,
                ..State::default()
            }),
            paused: AtomicBool::new(false),
            wake: Notify::new(),
            syncing: tokio::sync::Mutex::new(()),
            cluster_id: Mutex::new(None),
        }
    }

    /// Makes sure a sync that started after `missed` has finished: waits for one in progress if it
    /// started late enough, else syncs.
    pub async fn catch_up_after(&self, missed: Instant) -> Result<(), StorageError> {
        if self
            .last_sync_started()
            .is_some_and(|started| started >= missed)
        {
            // A sync that started after the miss is done or under way: wait for its turn.
            let _turn = self.syncing.lock().await;
            if self
                .last_sync_started()
                .is_some_and(|started| started >= missed)
            {
                return Ok(());
            }
        }
        self.sync().await.map(drop)
    }

    fn last_sync_started(&self) -> Option<Instant> {
        self.state().last_sync_started
    }

    /// Remembers the cluster id of the database the replica follows (see [`Replication::sync`]).
    pub(super) fn set_cluster_id(&self, id: String) {
        *self.cluster_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(id);
    }

    /// The cluster id of the database this node follows, once known.
    pub fn cluster_id(&self) -> Option<String> {
        self.cluster_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Marks the replica as following a primary that holds another database.
    fn diverge(&self, message: String) -> StorageError {
        let mut state = self.state();
        state.diverged = true;
        state.reachable = false;
        state.last_error = Some(message.clone());
        StorageError::PrimaryReplaced(message)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain data: a panic while it was locked cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The storage mode.
    pub fn mode(&self) -> StorageMode {
        self.mode
    }

    /// The primary's URL, if the node follows one.
    pub fn primary_url(&self) -> Option<&str> {
        self.primary.as_ref().map(|p| p.url.as_str())
    }

    /// The current state.
    pub fn status(&self) -> ReplicationStatus {
        let state = self.state();
        ReplicationStatus {
            mode: self.mode,
            primary: self.primary.as_ref().map(|p| p.url.clone()),
            reachable: state.reachable,
            last_error: state.last_error.clone(),
            position: state.position,
            lag_ms: state
                .last_caught_up
                .map(|at| u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX)),
            paused: self.paused.load(Ordering::Relaxed),
            diverged: state.diverged,
        }
    }

    /// Whether the node must refuse to serve: its primary now holds another database.
    pub fn diverged(&self) -> Option<String> {
        let state = self.state();
        state
            .diverged
            .then(|| state.last_error.clone().unwrap_or_default())
    }

    /// Pauses (or resumes) the periodic syncs. Writes still reach the primary, and still sync
    /// after themselves.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
        if !paused {
            self.wake.notify_one();
        }
    }

    /// Records that a call to the primary succeeded (a write that reached it).
    pub fn record_success(&self) {
        let mut state = self.state();
        if !state.diverged {
            state.reachable = true;
            state.last_error = None;
        }
    }

    /// Records that a call to the primary failed (a write that timed out, say).
    pub fn record_failure(&self, message: String) {
        let mut state = self.state();
        state.reachable = false;
        state.last_error = Some(message);
    }

    /// The error a write gets when the primary did not answer within [`NETWORK_TIMEOUT`].
    pub fn unavailable(&self, what: &str) -> StorageError {
        let url = self.primary_url().unwrap_or("(none)");
        let message = format!(
            "{what}: the primary database at {url} did not answer within {} ms",
            NETWORK_TIMEOUT.as_millis()
        );
        self.record_failure(message.clone());
        StorageError::PrimaryUnavailable(message)
    }

    /// Syncs the replica with the primary now, under [`NETWORK_TIMEOUT`]; returns the replication
    /// position reached. A local or remote node has nothing to sync and returns `None`.
    pub async fn sync(&self) -> Result<Option<u64>, StorageError> {
        self.sync_within(NETWORK_TIMEOUT).await
    }

    /// [`Replication::sync`] with another time limit (the first sync of a new replica may copy
    /// the whole database).
    pub async fn sync_within(&self, limit: Duration) -> Result<Option<u64>, StorageError> {
        let (Some(db), Some(primary)) = (&self.db, &self.primary) else {
            return Ok(None);
        };
        if let Some(why) = self.diverged() {
            return Err(StorageError::PrimaryReplaced(why));
        }
        let _one = self.syncing.lock().await;
        let before = self.state().position;
        self.state().last_sync_started = Some(Instant::now());
        let outcome = tokio::time::timeout(limit, db.sync()).await;
        let result = match outcome {
            Err(_) => {
                let message = format!(
                    "the primary database at {} is unreachable (no answer within {} ms)",
                    primary.url,
                    limit.as_millis()
                );
                self.record_failure(message.clone());
                return Err(StorageError::PrimaryUnavailable(message));
            }
            Ok(Err(err)) => {
                let message = describe_primary_error(&primary.url, &err);
                let replaced = message.contains("another database");
                let mut state = self.state();
                state.reachable = false;
                state.last_error = Some(message.clone());
                if replaced {
                    state.diverged = true;
                    return Err(StorageError::PrimaryReplaced(message));
                }
                return Err(StorageError::PrimaryUnavailable(message));
            }
            Ok(Ok(replicated)) => replicated.frame_no(),
        };
        if let (Some(expected), Some(direct)) = (self.cluster_id(), &self.direct) {
            // A new stream each time: the server forgets idle streams, and all of them when it
            // restarts.
            let read = async {
                let conn = direct.connect()?;
                super::cluster::read_cluster_id(&conn).await
            };
            let found = match tokio::time::timeout(limit, read).await {
                Err(_) => {
                    let message = format!(
                        "the primary database at {} is unreachable (no answer within {} ms)",
                        primary.url,
                        limit.as_millis()
                    );
                    self.record_failure(message.clone());
                    return Err(StorageError::PrimaryUnavailable(message));
                }
                // A database without the cluster table is not ours either.
                Ok(Err(StorageError::Database(err)))
                    if err.to_string().contains("no such table") =>
                {
                    None
                }
                Ok(Err(err)) => {
                    let message = match &err {
                        StorageError::Database(db_err) => {
                            describe_primary_error(&primary.url, db_err)
                        }
                        other => other.to_string(),
                    };
                    self.record_failure(message.clone());
                    return Err(StorageError::PrimaryUnavailable(message));
                }
                Ok(Ok(found)) => found,
            };
            if found.as_deref() != Some(expected.as_str()) {
                return Err(self.diverge(format!(
                    "the primary database at {} now holds another database (cluster {} instead \
                     of {expected}); refusing to mix them",
                    primary.url,
                    found.as_deref().unwrap_or("none")
                )));
            }
        }
        let mut state = self.state();
        state.reachable = true;
        state.last_error = None;
        state.position = result.or(before);
        state.last_caught_up = Some(Instant::now());
        Ok(state.position)
    }

    /// Runs the periodic sync until the returned handle is dropped or aborted: every `interval`
    /// (never faster), skipped while paused, waking `firehose` whenever the replica advanced and
    /// calling `heartbeat` every `heartbeat_every`. A local node runs only the heartbeat.
    pub fn start_loop(
        self: &Arc<Self>,
        interval: Duration,
        firehose: EventSignal,
        heartbeat_every: Duration,
        heartbeat: Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>,
    ) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        let interval = interval.max(Duration::from_millis(10));
        tokio::spawn(async move {
            let mut last_heartbeat = Instant::now();
            let tick = if this.db.is_some() {
                interval
            } else {
                heartbeat_every
            };
            // Fixed rate: a sync starts `tick` after the previous one started, not after it (and
            // the heartbeat) ended, so a write elsewhere waits at most one interval plus one sync.
            let mut next = tokio::time::Instant::now() + tick;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(next) => {}
                    _ = this.wake.notified() => {}
                }
                if this.paused.load(Ordering::Relaxed) {
                    // Sleep until resumed: no timer wakes a phone in the background.
                    this.wake.notified().await;
                    next = tokio::time::Instant::now();
                    continue;
                }
                next = tokio::time::Instant::now() + tick;
                if this.db.is_some() {
                    let before = this.state().position;
                    match this.sync().await {
                        Ok(after) if after != before => firehose.notify(),
                        Ok(_) => {}
                        Err(err) => log::warn!("replica sync: {err}"),
                    }
                }
                if last_heartbeat.elapsed() >= heartbeat_every {
                    last_heartbeat = Instant::now();
                    heartbeat().await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_cause() {
        let url = "http://127.0.0.1:1";
        let refused = libsql::Error::Replication(
            "error trying to connect: tcp connect error: Connection refused (os error 111)".into(),
        );
        assert!(describe_primary_error(url, &refused).contains("unreachable"));
        let rejected = libsql::Error::Replication("status: Unauthenticated".into());
        assert!(describe_primary_error(url, &rejected).contains("PDS_DATABASE_AUTH_TOKEN"));
    }

    #[test]
    fn modes_round_trip_through_their_names() {
        for mode in [
            StorageMode::Local,
            StorageMode::Replica,
            StorageMode::Remote,
        ] {
            assert_eq!(StorageMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(StorageMode::parse("cloud"), None);
    }

    #[tokio::test]
    async fn a_local_node_has_nothing_to_sync_and_is_always_reachable() {
        let replication = Replication::local();
        assert_eq!(replication.sync().await.unwrap(), None);
        let status = replication.status();
        assert!(status.reachable);
        assert_eq!(status.mode, StorageMode::Local);
        replication.set_paused(true);
        assert!(replication.status().paused);
    }
}
