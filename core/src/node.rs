//! Starting and stopping a node: bind the listener, open the storage and build the node's state
//! ([`open`], which administrative commands also use without serving), serve the router on the tokio
//! runtime the caller provides (the CLI's, or the small runtime the FFI layer owns) with the
//! [`Janitor`] beside it, and stop gracefully on request. What only the host can supply (a DNS
//! resolver) comes in a [`NodePlatform`].

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::{JwtKey, SessionConfig, SessionManager};
use crate::blobs::Blobs;
use crate::config::Config;
use crate::crawlers::{CrawlTask, Crawlers};
use crate::crypto::{Algorithm, Keypair};
use crate::events::{Sequencer, SequencerConfig};
use crate::http::{self, NodeState};
use crate::identity::{
    DnsTxtResolver, HandleCache, HandleCacheConfig, HttpClient, HttpConfig, HttpFetch,
    IdentityResolver, PlcClient,
};
use crate::janitor::{Janitor, JanitorConfig, Tables};
use crate::net::AddressPolicy;
use crate::storage::replication::Freshness;
use crate::storage::sealing::key_file::{self, KeyFileError};
use crate::storage::sealing::{self, SealingKey};
use crate::storage::{
    secrets, AccountStore, BlobStore, EventSignal, RepoStore, Storage, StorageError, StorageMode,
};

/// Why a node could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    DataDirectory {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The listening address is taken or not allowed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A secret or setting is unusable (for example a `PDS_JWT_SECRET` that is too short).
    #[error("{0}")]
    Secret(String),
    /// The secrets key file of the data directory could not be read or created.
    #[error(transparent)]
    SecretsKey(#[from] KeyFileError),
    /// The server failed while running.
    #[error("server: {0}")]
    Serve(std::io::Error),
}

/// The longest a fetch from the open web (a handle's well-known file, a did:web document) may take.
const WEB_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The most redirects followed on the open web (each hop checked, see [`crate::net::redirect`]).
const WEB_MAX_REDIRECTS: usize = 3;

/// What the host of a node supplies beyond its configuration. Everything is optional.
#[derive(Clone, Default)]
pub struct NodePlatform {
    /// DNS TXT lookups for handle resolution (`_atproto.<handle>`). Without one, handles hosted
    /// elsewhere resolve by the HTTPS well-known method only.
    pub dns: Option<Arc<dyn DnsTxtResolver>>,
    /// The HTTP client for URLs the node did not choose (handles' well-known files, did:web).
    /// Default: an [`HttpClient`] that connects to public addresses only (loopback too in
    /// development mode).
    pub web_http: Option<Arc<dyn HttpFetch>>,
    /// The mail transport. Default: [`crate::mail::LogMailer`], which writes messages to the log.
    pub mailer: Option<Arc<dyn crate::mail::Mailer>>,
    /// Firehose settings other than the configuration's (for example a different tailer
    /// interval). Default: [`SequencerConfig::from_config`].
    pub firehose: Option<SequencerConfig>,
}

impl std::fmt::Debug for NodePlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodePlatform")
            .field("dns", &self.dns.is_some())
            .field("web_http", &self.web_http.is_some())
            .field("firehose", &self.firehose)
            .field("mailer", &self.mailer.as_ref().map(|m| m.describe()))
            .finish()
    }
}

/// A node that is serving.
pub struct RunningNode {
    /// The address the listener is bound to (with the real port when 0 was asked for).
    pub local_addr: SocketAddr,
    /// The node's state (configuration and storage).
    pub state: http::AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), std::io::Error>>,
    /// The task deleting expired rows (`None` when `PDS_JANITOR_INTERVAL_SECONDS` is 0).
    janitor: Option<Janitor>,
    /// The task syncing the replica and refreshing the node's row in the registry.
    sync_loop: JoinHandle<()>,
    /// The task asking the relays to crawl (`None` without `PDS_CRAWLERS`).
    crawl: Option<CrawlTask>,
}

impl RunningNode {
    /// The URL this process answers on (loopback form of the bound address).
    pub fn local_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// How many sweeps the janitor has finished (`None` when it is off).
    pub fn janitor_sweeps(&self) -> Option<u64> {
        self.janitor.as_ref().map(Janitor::sweeps)
    }

    /// Stops accepting connections, ends the firehose streams, stops the janitor, lets requests in
    /// flight finish, and waits for the server.
    pub async fn stop(mut self) -> Result<(), NodeError> {
        self.state.sequencer.shutdown();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.state.blobs.stop();
        self.sync_loop.abort();
        if let Some(crawl) = self.crawl.take() {
            crawl.stop();
        }
        if let Some(janitor) = self.janitor.take() {
            janitor.stop().await;
        }
        match (&mut self.task).await {
            Ok(result) => result.map_err(NodeError::Serve),
            Err(join) => Err(NodeError::Serve(std::io::Error::other(join.to_string()))),
        }
    }
}

/// Binds the listener, opens the storage and starts serving on the current tokio runtime, with the
/// janitor.
pub async fn start(config: Config) -> Result<RunningNode, NodeError> {
    start_with(config, NodePlatform::default()).await
}

/// [`start`], with what the host supplies.
pub async fn start_with(config: Config, platform: NodePlatform) -> Result<RunningNode, NodeError> {
    let addr = SocketAddr::new(config.bind, config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| NodeError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| NodeError::Bind { addr, source })?;
    let state = open_with(config.with_bound_port(local_addr.port()), platform).await?;
    let janitor = match JanitorConfig::from_config(&state.config) {
        Some(settings) => {
            let tables = Tables {
                // Single statements: the shared connection serves, and no page cache is added.
                events: state.storage.connection().clone(),
                accounts: state.accounts.clone(),
                oauth: state.oauth.store.clone(),
            };
            Some(Janitor::start(tables, settings))
        }
        None => None,
    };
    let sync_loop = start_sync_loop(&state).await;
    let app = crate::routes::router(state.clone());
    let limits = http::listener::Limits::from_config(&state.config);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        http::listener::serve(listener, app, limits, async {
            let _ = rx.await;
        })
        .await
    });
    log::info!("node {} listening on {local_addr}", state.config.node_id);
    let crawl = state.crawlers.start();
    Ok(RunningNode {
        local_addr,
        state,
        shutdown: Some(tx),
        task,
        janitor,
        sync_loop,
        crawl,
    })
}

/// How often a node refreshes its row in the registry.
const HEARTBEAT: Duration = Duration::from_secs(60);

/// Records the node in the registry and, on a node that follows a primary, starts the loop that
/// syncs its replica every `PDS_SYNC_INTERVAL_MS` (waking the firehose when other nodes' commits
/// arrive) and refreshes its registry row every minute. A local node runs no loop.
async fn start_sync_loop(state: &http::AppState) -> JoinHandle<()> {
    let record = {
        let state = Arc::clone(state);
        let started_at = state.started_at_micros / 1_000_000;
        move || -> futures_util::future::BoxFuture<'static, ()> {
            let state = Arc::clone(&state);
            Box::pin(async move {
                let node = crate::storage::cluster::NodeRecord {
                    id: state.config.node_id.clone(),
                    public_url: state.config.public_url.clone(),
                    mode: state.config.storage_mode().to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    started_at,
                    last_seen: now_secs(),
                };
                let write = crate::storage::cluster::record_node(state.storage.connection(), &node);
                match tokio::time::timeout(crate::storage::replication::NETWORK_TIMEOUT, write)
                    .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => log::warn!("recording the node in the registry: {err}"),
                    Err(_) => log::warn!("recording the node in the registry: no answer in time"),
                }
            })
        }
    };
    record().await;
    if state.storage.mode() == StorageMode::Local {
        // A node on a local file (a phone on its own, nodes sharing one disk) has nothing to sync,
        // and no timer wakes it: its row says when it started.
        return tokio::spawn(async {});
    }
    state.storage.replication().start_loop(
        Duration::from_millis(state.config.sync_interval_ms),
        state.sequencer.event_signal(),
        HEARTBEAT,
        Arc::new(record),
    )
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Opens (creating and migrating it if needed) the storage and builds the node's state — secrets,
/// stores, PLC client — without listening: what [`start`] serves, and what administrative commands
/// (`pocketpds account …`) work on.
pub async fn open(config: Config) -> Result<http::AppState, NodeError> {
    open_with(config, NodePlatform::default()).await
}

/// [`open`], with what the host supplies.
pub async fn open_with(
    config: Config,
    platform: NodePlatform,
) -> Result<http::AppState, NodeError> {
    let dir = &config.data_directory;
    std::fs::create_dir_all(dir).map_err(|source| NodeError::DataDirectory {
        path: dir.display().to_string(),
        source,
    })?;
    let storage = match (config.database_mode, config.primary()) {
        (StorageMode::Replica, Some(primary)) => {
            Storage::open_replica(&config.database_path(), &primary).await?
        }
        (StorageMode::Remote, Some(primary)) => Storage::open_remote(&primary).await?,
        _ => Storage::open_local(&config.database_path()).await?,
    };
    let secrets_key: SealingKey = match &config.secrets_key {
        Some(key) => key.clone(),
        None => key_file::load_or_create(dir)?,
    };
    check_secrets_key(&storage, &secrets_key).await?;
    check_cluster(&storage, dir).await?;
    sealing::reseal_legacy(storage.connection(), &secrets_key).await?;
    let jwt_secret = match &config.jwt_secret {
        Some(s) => s.as_bytes().to_vec(),
        None => {
            secrets::get_or_create(storage.connection(), &secrets_key, "jwt_secret", || {
                rand::random::<[u8; 32]>().to_vec()
            })
            .await?
        }
    };
    let jwt_key =
        JwtKey::new(&jwt_secret).map_err(|e| NodeError::Secret(format!("PDS_JWT_SECRET: {e}")))?;
    let freshness = Freshness::of(storage.replication());
    let accounts = AccountStore::new(storage.connect().await?, secrets_key.clone())
        .with_freshness(freshness.clone());
    let sessions = SessionManager::new(
        jwt_key,
        SessionConfig::new(config.service_did()),
        AccountStore::new(storage.connect().await?, secrets_key.clone()).with_freshness(freshness),
    );
    let firehose = platform
        .firehose
        .clone()
        .unwrap_or_else(|| SequencerConfig::from_config(&config));
    let sequencer = Sequencer::new(storage.connect().await?, firehose);
    let http = Arc::new(
        HttpClient::new(&HttpConfig {
            allow_plain_http: config.dev_mode,
            ..HttpConfig::default()
        })
        .map_err(|e| NodeError::Secret(format!("HTTP client: {e}")))?,
    );
    let crawlers = Crawlers::new(
        &config.crawlers,
        &config.public_url,
        storage.connect().await?,
        http.clone(),
    )
    .map_err(|e| NodeError::Secret(e.to_string()))?;
    // Every commit of the node's repository store wakes the firehose once it is stored, whatever
    // path the write came by, and tells the relays' task that the cluster wrote.
    let wake_firehose = sequencer.event_signal();
    let wrote = crawlers.clone();
    let repos = RepoStore::new(storage.connect().await?)
        .with_event_signal(EventSignal::new(move || {
            wake_firehose.notify();
            wrote.wrote();
        }))
        .with_replication(Arc::clone(storage.replication()));
    let blobs = Blobs::start(
        BlobStore::new(storage.connect().await?),
        config.blob_upload_limit,
        Duration::from_secs(config.blob_grace_seconds),
    );
    let plc_rotation_key = match &config.plc_rotation_key_hex {
        Some(hex) => Keypair::from_private_hex(Algorithm::K256, hex).map_err(|e| {
            NodeError::Secret(format!("PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: {e}"))
        })?,
        None => {
            let fresh = Keypair::generate(Algorithm::K256)
                .map_err(|e| NodeError::Secret(e.to_string()))?
                .private_bytes()
                .to_vec();
            let bytes = secrets::get_or_create(
                storage.connection(),
                &secrets_key,
                "plc_rotation_key",
                || fresh,
            )
            .await?;
            Keypair::from_private_bytes(Algorithm::K256, &bytes)
                .map_err(|e| NodeError::Secret(format!("stored PLC rotation key: {e}")))?
        }
    };
    let plc = PlcClient::new(&config.did_plc_url, http)
        .map_err(|e| NodeError::Secret(format!("PDS_DID_PLC_URL: {e}")))?;
    let mail = postman(&config, platform.mailer.clone());
    let identity = identity_resolver(&config, &plc, platform)?;
    let started_at_micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    let oauth = crate::oauth::OAuthServer::open(&config, &storage, &secrets_key, accounts.clone())
        .await
        .map_err(|e| NodeError::Secret(format!("OAuth: {e}")))?;
    let config_rate_limits = config.rate_limits_enabled;
    let proxy = crate::proxy::Proxy::new(&config)
        .map_err(|e| NodeError::Secret(format!("proxy HTTP client: {e}")))?;
    Ok(Arc::new(NodeState {
        proxy,
        crawlers,
        config,
        storage,
        accounts,
        repos,
        blobs,
        sequencer,
        oauth,
        sessions,
        plc,
        identity,
        plc_rotation_key,
        secrets_key,
        started_at_micros,
        route_limits: crate::auth::RouteLimits::new(config_rate_limits),
        mail,
    }))
}

/// Refuses a secrets key other than the one that sealed the cluster's secrets, before anything is
/// written with it: the first node seals a check value, every later node must open it (else
/// [`crate::storage::SealingError::WrongKey`]).
async fn check_secrets_key(storage: &Storage, key: &SealingKey) -> Result<(), NodeError> {
    secrets::get_or_create(storage.connection(), key, "secrets_key_check", || {
        b"pocketpds".to_vec()
    })
    .await?;
    Ok(())
}

/// Makes sure a replica keeps following the database it joined: the cluster's id (created once
/// in the database) is remembered in the data directory, and a primary that now holds a database
/// with another id is refused rather than mixed with this one.
async fn check_cluster(storage: &Storage, dir: &Path) -> Result<(), NodeError> {
    let Some(id) = storage.replication().cluster_id() else {
        return Ok(());
    };
    let file = dir.join("cluster-id");
    match std::fs::read_to_string(&file) {
        Ok(known) if known.trim() == id => Ok(()),
        Ok(known) => Err(NodeError::Storage(StorageError::PrimaryReplaced(format!(
            "the primary database at {} holds cluster {id}, but this node's data directory \
             follows cluster {}: the primary's database was replaced; move the data directory \
             away to join the new one",
            storage.replication().primary_url().unwrap_or_default(),
            known.trim()
        )))),
        Err(_) => std::fs::write(&file, &id).map_err(|source| NodeError::DataDirectory {
            path: file.display().to_string(),
            source,
        }),
    }
}

/// The node's mail: the host's transport, else the log (said once at start, with a warning when an
/// SMTP server is configured but this build cannot use it).
fn postman(config: &Config, mailer: Option<Arc<dyn crate::mail::Mailer>>) -> crate::mail::Postman {
    let postman = match mailer {
        Some(mailer) => crate::mail::Postman::new(mailer),
        None => {
            if config.email_smtp_url.is_some() {
                log::warn!(
                    "PDS_EMAIL_SMTP_URL is set, but this build has no SMTP transport: mail is \
                     written to the log"
                );
            }
            crate::mail::Postman::default()
        }
    };
    log::info!("mail goes through {}", postman.describe());
    postman
}

/// The node's resolver of identities hosted elsewhere: the PLC directory for did:plc, the open web
/// (public addresses only, loopback too in development mode) for handles and did:web, the host's DNS
/// if it gave one, and a cache of handle answers.
fn identity_resolver(
    config: &Config,
    plc: &PlcClient,
    platform: NodePlatform,
) -> Result<IdentityResolver, NodeError> {
    let web: Arc<dyn HttpFetch> = match platform.web_http {
        Some(web) => web,
        None => Arc::new(
            HttpClient::new(&HttpConfig {
                allow_plain_http: config.dev_mode,
                addresses: AddressPolicy::untrusted(config.dev_mode),
                timeout: WEB_FETCH_TIMEOUT,
                max_redirects: WEB_MAX_REDIRECTS,
                ..HttpConfig::default()
            })
            .map_err(|e| NodeError::Secret(format!("HTTP client: {e}")))?,
        ),
    };
    let resolver = IdentityResolver::with_plc(plc.clone(), config.dev_mode, web)
        .with_handle_cache(HandleCache::new(HandleCacheConfig::default()));
    Ok(match platform.dns {
        Some(dns) => resolver.with_dns(dns),
        None => resolver,
    })
}
