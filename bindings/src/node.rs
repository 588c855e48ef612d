//! [`PdsNode`]: one node in the app's process. It owns a small tokio runtime of its own
//! ([`WORKER_THREADS`] workers, a bounded blocking pool), on which the very node the daemon runs
//! (`pocketpds_core::node`) serves; every asynchronous method runs as a task there and is awaited by
//! the app's executor (Kotlin coroutines, Swift tasks). Starts and stops are serialised. Dropping the
//! node stops it and shuts its runtime down.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pocketpds_core::admin::{self, NewAccountRequest};
use pocketpds_core::config::Config;
use pocketpds_core::http::AppState;
use pocketpds_core::node::RunningNode;
use tokio::runtime::{Handle, Runtime};

use crate::config::NodeConfig;
use crate::error::PdsError;
use crate::guard;
use crate::listener::{lock, Dispatcher, NodeListener};
use crate::logging;
use crate::secret_store::{self, SecretStore};
use crate::types::{AccountInfo, NodeInfo, NodeReport, NodeStatus, SyncReport};

/// Worker threads of a node's runtime.
pub const WORKER_THREADS: usize = 2;
/// Most threads a node's runtime runs blocking work on (password hashing, the secret store).
pub const MAX_BLOCKING_THREADS: usize = 4;
/// How long dropping a running node waits for it to stop.
const DROP_STOP_TIMEOUT: Duration = Duration::from_secs(5);

type Lifecycle = Arc<tokio::sync::Mutex<Option<RunningNode>>>;

/// The status the app can read at once, and that the listener hears of.
struct StatusCell {
    current: Mutex<NodeStatus>,
    events: Arc<Dispatcher>,
}

impl StatusCell {
    fn set(&self, status: NodeStatus) {
        *lock(&self.current) = status.clone();
        self.events.status(status);
    }
}

/// A PDS node hosted by the app.
#[derive(uniffi::Object)]
pub struct PdsNode {
    config: Config,
    secret_store: Option<Arc<dyn SecretStore>>,
    /// The app's mail transport for the next start.
    mailer: Mutex<Option<Arc<dyn crate::mailer::Mailer>>>,
    runtime: Option<Runtime>,
    handle: Handle,
    lifecycle: Lifecycle,
    status: Arc<StatusCell>,
}

#[uniffi::export]
impl PdsNode {
    /// A stopped node with this configuration. With a `secret_store`, the key sealing the node's
    /// secrets is kept there; without one, in a key file of the data directory. A configuration
    /// that the daemon would refuse is refused here, with the same message.
    #[uniffi::constructor(default(secret_store = None))]
    pub fn new(
        config: NodeConfig,
        secret_store: Option<Arc<dyn SecretStore>>,
    ) -> Result<Arc<PdsNode>, PdsError> {
        guard::catch("PdsNode::new", || {
            let config = config.to_core()?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKER_THREADS)
                .max_blocking_threads(MAX_BLOCKING_THREADS)
                .thread_name("pocketpds")
                .enable_all()
                .build()
                .map_err(|e| PdsError::internal(format!("cannot start the node's runtime: {e}")))?;
            let events = Dispatcher::new();
            logging::register(&events);
            Ok(Arc::new(PdsNode {
                config,
                secret_store,
                mailer: Mutex::new(None),
                handle: runtime.handle().clone(),
                runtime: Some(runtime),
                lifecycle: Arc::new(tokio::sync::Mutex::new(None)),
                status: Arc::new(StatusCell {
                    current: Mutex::new(NodeStatus::Stopped),
                    events,
                }),
            }))
        })
    }

    /// Starts serving: opens (or creates) the database, takes the secrets key from the secret
    /// store, binds the port. Fails with `AlreadyRunning` on a running node. Handles hosted
    /// elsewhere resolve by the HTTPS well-known method only: the phone library has no DNS TXT
    /// resolver yet (the daemon supplies one).
    pub async fn start(&self) -> Result<NodeInfo, PdsError> {
        let lifecycle = self.lifecycle.clone();
        let status = self.status.clone();
        let mut config = self.config.clone();
        let store = self.secret_store.clone();
        let mailer = lock(&self.mailer).clone();
        let handle = self.handle.clone();
        guard::spawn(&self.handle, "start", async move {
            let mut slot = lifecycle.lock().await;
            if slot.is_some() {
                return Err(PdsError::AlreadyRunning {
                    reason: "the node is already running".into(),
                });
            }
            status.set(NodeStatus::Starting);
            let started = async {
                if let Some(store) = store {
                    let key = handle
                        .spawn_blocking(move || secret_store::secrets_key(&store))
                        .await
                        .map_err(|e| PdsError::internal(format!("secret store task: {e}")))??;
                    config.secrets_key = Some(key);
                }
                let platform = pocketpds_core::node::NodePlatform {
                    mailer: mailer.map(|m| {
                        Arc::new(crate::mailer::ForeignMailer(m))
                            as Arc<dyn pocketpds_core::mail::Mailer>
                    }),
                    ..Default::default()
                };
                let node = pocketpds_core::node::start_with(config, platform).await?;
                let info = node_info(&node).await;
                match info {
                    Ok(info) => Ok((node, info)),
                    Err(e) => {
                        if let Err(stop) = node.stop().await {
                            log::warn!("stopping a node that failed to start: {stop}");
                        }
                        Err(e)
                    }
                }
            }
            .await;
            match started {
                Ok((node, info)) => {
                    *slot = Some(node);
                    status.set(NodeStatus::Running {
                        url: info.url.clone(),
                        local_url: info.local_url.clone(),
                        port: info.port,
                    });
                    Ok(info)
                }
                Err(e) => {
                    status.set(NodeStatus::Failed {
                        reason: e.to_string(),
                    });
                    Err(e)
                }
            }
        })
        .await
    }

    /// Stops serving: refuses new connections, lets requests in flight finish. Stopping a stopped
    /// node does nothing.
    pub async fn stop(&self) -> Result<(), PdsError> {
        let lifecycle = self.lifecycle.clone();
        let status = self.status.clone();
        guard::spawn(&self.handle, "stop", async move {
            let mut slot = lifecycle.lock().await;
            let Some(node) = slot.take() else {
                return Ok(());
            };
            status.set(NodeStatus::Stopping);
            let stopped = node.stop().await;
            status.set(NodeStatus::Stopped);
            stopped.map_err(|e| PdsError::internal(format!("the server stopped badly: {e}")))
        })
        .await
    }

    /// The node's status now.
    pub fn status(&self) -> NodeStatus {
        lock(&self.status.current).clone()
    }

    /// Syncs with the cluster's primary database now. A local node has nothing to sync and says
    /// so.
    pub async fn sync_now(&self) -> Result<SyncReport, PdsError> {
        let lifecycle = self.lifecycle.clone();
        guard::spawn(&self.handle, "sync_now", async move {
            let state = running_state(&lifecycle, "sync_now").await?;
            Ok(admin::sync_now(&state).await?.into())
        })
        .await
    }

    /// Creates an account on the running node: a new did:plc identity (submitted to the configured
    /// PLC directory) and an empty repository, as `com.atproto.server.createAccount` does.
    #[uniffi::method(default(email = None, invite_code = None))]
    pub async fn create_account(
        &self,
        handle: String,
        password: String,
        email: Option<String>,
        invite_code: Option<String>,
    ) -> Result<AccountInfo, PdsError> {
        let lifecycle = self.lifecycle.clone();
        guard::spawn(&self.handle, "create_account", async move {
            let state = running_state(&lifecycle, "create_account").await?;
            let request = NewAccountRequest {
                handle,
                password,
                email,
                invite_code,
            };
            Ok(admin::create_account(&state, &request).await?.into())
        })
        .await
    }

    /// The accounts the running node hosts, in DID order.
    pub async fn accounts(&self) -> Result<Vec<AccountInfo>, PdsError> {
        let lifecycle = self.lifecycle.clone();
        guard::spawn(&self.handle, "accounts", async move {
            let state = running_state(&lifecycle, "accounts").await?;
            let all = admin::all_accounts(&state).await?;
            Ok(all.into_iter().map(AccountInfo::from).collect())
        })
        .await
    }

    /// The running node's details (identity, storage, accounts).
    pub async fn report(&self) -> Result<NodeReport, PdsError> {
        let lifecycle = self.lifecycle.clone();
        guard::spawn(&self.handle, "report", async move {
            let state = running_state(&lifecycle, "report").await?;
            Ok(admin::status(&state).await?.into())
        })
        .await
    }

    /// Sets the app's mail transport (`None`: the node's log), used from the next `start`. Without
    /// one, one-time codes are written to the log.
    pub fn set_mailer(&self, mailer: Option<Arc<dyn crate::mailer::Mailer>>) {
        *lock(&self.mailer) = mailer;
    }

    /// Tells the node whether the app is in the background: a replica stops its periodic syncs
    /// while it is (no timer wakes the device) and syncs at once when it comes back. Writes still
    /// reach the primary. Does nothing when the node is not running.
    pub async fn set_background(&self, background: bool) -> Result<(), PdsError> {
        let lifecycle = self.lifecycle.clone();
        guard::spawn(&self.handle, "set_background", async move {
            if let Ok(state) = running_state(&lifecycle, "set_background").await {
                admin::set_background(&state, background);
            }
            Ok(())
        })
        .await
    }

    /// Sets the listener of status changes and log lines (`None` removes it). The new listener
    /// first hears the current status.
    pub fn set_listener(&self, listener: Option<Arc<dyn NodeListener>>) -> Result<(), PdsError> {
        guard::catch("set_listener", || {
            let wanted = listener.is_some();
            self.status.events.set_listener(listener)?;
            if wanted {
                self.status.events.status(self.status());
            }
            Ok(())
        })
    }
}

/// The state of the running node, or `NotRunning`.
async fn running_state(lifecycle: &Lifecycle, what: &str) -> Result<AppState, PdsError> {
    lifecycle
        .lock()
        .await
        .as_ref()
        .map(|node| node.state.clone())
        .ok_or_else(|| PdsError::not_running(what))
}

async fn node_info(node: &RunningNode) -> Result<NodeInfo, PdsError> {
    let accounts = admin::all_accounts(&node.state).await?;
    Ok(NodeInfo {
        url: node.state.config.public_url.clone(),
        local_url: node.local_url(),
        port: node.local_addr.port(),
        did_list: accounts.into_iter().map(|a| a.did).collect(),
    })
}

impl Drop for PdsNode {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if Handle::try_current().is_ok() {
            // Dropped inside an async context (a Rust caller's runtime): no blocking allowed here.
            runtime.shutdown_background();
            return;
        }
        let lifecycle = self.lifecycle.clone();
        let status = self.status.clone();
        let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async move {
                let node = lifecycle.lock().await.take();
                if let Some(node) = node {
                    status.set(NodeStatus::Stopping);
                    match tokio::time::timeout(DROP_STOP_TIMEOUT, node.stop()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => log::warn!("the server stopped badly: {e}"),
                        Err(_) => log::warn!("the server did not stop in time"),
                    }
                    status.set(NodeStatus::Stopped);
                }
            })
        }));
        if stopped.is_err() {
            log::error!("stopping a dropped node panicked");
        }
        runtime.shutdown_timeout(Duration::from_secs(1));
    }
}
