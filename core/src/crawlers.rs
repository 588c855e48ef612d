//! Relays: asking each relay of `PDS_CRAWLERS` to crawl the server (`com.atproto.sync.requestCrawl`
//! with the public URL's host) after the node starts and after the first write, once per cluster,
//! not once per node.
//!
//! Which node asks is decided in the shared database ([`crate::storage::crawl_requests`]): the node
//! whose conditional update wins sends the request; the others stay quiet. A request that fails on
//! the way (no answer, a 5xx) gives its claim back, so the next start or write of any node asks
//! again; a relay's 4xx refusal is logged and kept (asking again would be refused again). While the
//! cluster keeps writing, a relay is asked again at most once a [`CRAWL_WINDOW`], as the reference
//! PDS does.
//!
//! The work runs on one task that sleeps until a write wakes it (no timer, no polling); a write only
//! pokes it, and pokes nothing while this node knows the relays were asked recently. Called by
//! [`crate::node`], which starts the task and hands [`Crawlers::wrote`] to the repository store's
//! event signal; it calls the storage room and the HTTP client of [`crate::identity`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libsql::Connection;
use reqwest::Url;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::identity::HttpFetch;
use crate::storage::crawl_requests::{self, CrawlTrigger};

/// How long one request to a relay covers the cluster's writes (the reference PDS's 20 minutes).
pub const CRAWL_WINDOW: Duration = Duration::from_secs(20 * 60);

/// How long a node whose request failed waits before a write makes it try again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The largest answer read from a relay.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// Why the relays could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("PDS_CRAWLERS: {0}")]
pub struct CrawlersError(String);

/// The relays of a node. Cloning shares them; [`Crawlers::none`] has none and does nothing.
#[derive(Clone, Default)]
pub struct Crawlers {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    /// Each relay as configured, and its `requestCrawl` URL.
    targets: Vec<(String, Url)>,
    /// The request body: `{"hostname": …}`.
    body: Vec<u8>,
    http: Arc<dyn HttpFetch>,
    conn: Connection,
    window: Duration,
    wake: Notify,
    /// Writes before this instant do not wake the task (the relays were asked, or a retry waits).
    quiet_until: Mutex<Option<Instant>>,
    /// Requests this node sent that a relay accepted.
    accepted: AtomicU64,
    /// Requests this node sent (accepted, refused or failed).
    sent: AtomicU64,
}

impl std::fmt::Debug for Crawlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let relays: Vec<&str> = self
            .inner
            .iter()
            .flat_map(|i| i.targets.iter().map(|(name, _)| name.as_str()))
            .collect();
        f.debug_struct("Crawlers").field("relays", &relays).finish()
    }
}

impl Crawlers {
    /// No relays.
    pub fn none() -> Crawlers {
        Crawlers::default()
    }

    /// The relays `crawlers` (base URLs), asked to crawl the host of `public_url`, through `http`,
    /// with the leases on `conn` (a connection of their own). No relays gives [`Crawlers::none`].
    pub fn new(
        crawlers: &[String],
        public_url: &str,
        conn: Connection,
        http: Arc<dyn HttpFetch>,
    ) -> Result<Crawlers, CrawlersError> {
        if crawlers.is_empty() {
            return Ok(Crawlers::none());
        }
        let public = Url::parse(public_url)
            .map_err(|e| CrawlersError(format!("public URL {public_url}: {e}")))?;
        let host = public
            .host_str()
            .ok_or_else(|| CrawlersError(format!("public URL {public_url} has no host")))?;
        let hostname = match public.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let mut targets = Vec::new();
        for crawler in crawlers {
            let base = Url::parse(crawler)
                .ok()
                .filter(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
                .ok_or_else(|| CrawlersError(format!("not an http(s) URL: {crawler}")))?;
            let url = base
                .join("/xrpc/com.atproto.sync.requestCrawl")
                .map_err(|e| CrawlersError(format!("{crawler}: {e}")))?;
            targets.push((crawler.trim_end_matches('/').to_owned(), url));
        }
        let body = serde_json::to_vec(&serde_json::json!({ "hostname": hostname }))
            .map_err(|e| CrawlersError(e.to_string()))?;
        Ok(Crawlers {
            inner: Some(Arc::new(Inner {
                targets,
                body,
                http,
                conn,
                window: CRAWL_WINDOW,
                wake: Notify::new(),
                quiet_until: Mutex::new(None),
                accepted: AtomicU64::new(0),
                sent: AtomicU64::new(0),
            })),
        })
    }

    /// The same relays with another window (tests use a short one). Call before sharing.
    pub fn with_window(mut self, window: Duration) -> Crawlers {
        if let Some(inner) = self.inner.as_mut().and_then(Arc::get_mut) {
            inner.window = window;
        }
        self
    }

    /// Tells the relays' task that a write was stored. Cheap and never waits: it only wakes the
    /// task, and not even that while this node knows the relays were asked recently.
    pub fn wrote(&self) {
        let Some(inner) = &self.inner else { return };
        let quiet = inner
            .quiet_until
            .lock()
            .map(|q| q.is_some_and(|until| Instant::now() < until))
            .unwrap_or(false);
        if !quiet {
            inner.wake.notify_one();
        }
    }

    /// Starts the task on the current tokio runtime: it asks the relays once now (if no node of the
    /// cluster did within the window), then after writes. `None` when there are no relays.
    pub fn start(&self) -> Option<CrawlTask> {
        let inner = self.inner.clone()?;
        Some(CrawlTask(tokio::spawn(async move {
            inner.announce(CrawlTrigger::Start).await;
            loop {
                inner.wake.notified().await;
                inner.announce(CrawlTrigger::Write).await;
            }
        })))
    }

    /// How many requests this node has sent (whatever the relays answered).
    pub fn requests_sent(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |i| i.sent.load(Ordering::Relaxed))
    }

    /// How many of this node's requests a relay accepted (answered 2xx).
    pub fn requests_accepted(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |i| i.accepted.load(Ordering::Relaxed))
    }
}

/// The running task of [`Crawlers::start`]; stopping (or dropping) it ends the task.
pub struct CrawlTask(JoinHandle<()>);

impl CrawlTask {
    /// Ends the task (a request in flight is abandoned).
    pub fn stop(self) {}
}

impl Drop for CrawlTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What became of one request.
enum Outcome {
    /// The relay accepted it, or it refused it for good (a 4xx): the claim stands.
    Settled,
    /// It did not arrive or the relay failed: the claim is given back.
    Failed,
}

impl Inner {
    /// Claims each relay for `trigger` and asks those this node won.
    async fn announce(&self, trigger: CrawlTrigger) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let window_ms = self.window.as_millis() as i64;
        let mut all_settled = true;
        for (name, url) in &self.targets {
            match crawl_requests::claim(&self.conn, name, trigger, now_ms, window_ms).await {
                Ok(true) => {
                    if let Outcome::Failed = self.request(name, url, trigger).await {
                        all_settled = false;
                        if let Err(e) = crawl_requests::release(&self.conn, name, now_ms).await {
                            log::warn!("relay {name}: giving back the crawl claim failed: {e}");
                        }
                    }
                }
                Ok(false) => {
                    log::debug!("relay {name}: already asked by the cluster ({trigger:?})")
                }
                Err(e) => {
                    all_settled = false;
                    log::warn!("relay {name}: claiming the crawl request failed: {e}");
                }
            }
        }
        // After a start, the first write must still wake the task; after a write, the relays are
        // covered for the window (or a retry waits a little).
        if trigger == CrawlTrigger::Write {
            let pause = if all_settled {
                self.window
            } else {
                RETRY_AFTER
            };
            if let Ok(mut quiet) = self.quiet_until.lock() {
                *quiet = Some(Instant::now() + pause);
            }
        }
    }

    async fn request(&self, name: &str, url: &Url, trigger: CrawlTrigger) -> Outcome {
        self.sent.fetch_add(1, Ordering::Relaxed);
        match self
            .http
            .post_json(url, self.body.clone(), MAX_ANSWER_BYTES)
            .await
        {
            Ok(answer) if answer.is_success() => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
                log::info!("relay {name} asked to crawl ({trigger:?})");
                Outcome::Settled
            }
            Ok(answer) if (400..500).contains(&answer.status) => {
                log::warn!(
                    "relay {name} refused the crawl request ({}): {}",
                    answer.status,
                    answer.body_excerpt()
                );
                Outcome::Settled
            }
            Ok(answer) => {
                log::warn!(
                    "relay {name} failed the crawl request ({}): {}",
                    answer.status,
                    answer.body_excerpt()
                );
                Outcome::Failed
            }
            Err(e) => {
                log::warn!("relay {name}: crawl request not delivered: {e}");
                Outcome::Failed
            }
        }
    }
}
