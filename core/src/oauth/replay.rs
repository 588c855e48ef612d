//! The replay cache of DPoP proof and client assertion ids (`jti`), scoped to the hostname proofs
//! are bound to: when the configured public URL is node-private — a loopback host on this node's
//! own port, like a phone serving itself on `127.0.0.1` — ids live in memory and nothing touches
//! the database; when it may be shared by several nodes (a load balancer's URL, a public hostname),
//! ids go to the `oauth_replay` table of the shared database, so a proof replayed to another node
//! is refused too.
//!
//! Both forms keep an id until the proof could no longer be accepted anyway, and stay bounded: the
//! memory form holds at most [`MAX_MEMORY_ENTRIES`] ids and refuses (503) rather than forget a live
//! one; the table is purged of expired rows at most once a minute, by the request that notices.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use super::OAuthError;
use crate::storage::OAuthStore;

/// The most ids the memory form holds.
pub const MAX_MEMORY_ENTRIES: usize = 100_000;
/// How often the shared table is purged of expired rows, in seconds.
const PURGE_EVERY_SECS: i64 = 60;

/// Where a node remembers the ids it has seen.
pub enum ReplayCache {
    /// In this process (a node-private hostname).
    Memory(Mutex<HashMap<String, i64>>),
    /// In the shared database (a hostname several nodes may serve).
    Shared {
        /// The store.
        store: OAuthStore,
        /// When the table was last purged.
        last_purge: AtomicI64,
    },
}

impl ReplayCache {
    /// The memory form.
    pub fn memory() -> ReplayCache {
        ReplayCache::Memory(Mutex::new(HashMap::new()))
    }

    /// The shared form, over `store`.
    pub fn shared(store: OAuthStore) -> ReplayCache {
        ReplayCache::Shared {
            store,
            last_purge: AtomicI64::new(0),
        }
    }

    /// The form for a node whose public URL is `public_url` and which listens on `port`: memory
    /// when the public URL's host is a loopback name or address and its port is this node's.
    pub fn for_public_url(public_url: &str, port: u16, store: OAuthStore) -> ReplayCache {
        if is_node_private(public_url, port) {
            ReplayCache::memory()
        } else {
            ReplayCache::shared(store)
        }
    }

    /// Whether this is the memory form.
    pub fn is_memory(&self) -> bool {
        matches!(self, ReplayCache::Memory(_))
    }

    /// Records `key` until `expires_at` (seconds); true the first time, false for a replay.
    pub async fn unique(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, OAuthError> {
        match self {
            ReplayCache::Memory(map) => {
                let mut map = map
                    .lock()
                    .map_err(|_| OAuthError::Internal("replay cache lock poisoned".into()))?;
                if let Some(until) = map.get(key) {
                    if *until > now {
                        return Ok(false);
                    }
                }
                if map.len() >= MAX_MEMORY_ENTRIES {
                    map.retain(|_, until| *until > now);
                    if map.len() >= MAX_MEMORY_ENTRIES {
                        return Err(OAuthError::TemporarilyUnavailable(
                            "Too many DPoP proofs; retry shortly".into(),
                        ));
                    }
                }
                map.insert(key.to_owned(), expires_at);
                Ok(true)
            }
            ReplayCache::Shared { store, last_purge } => {
                let last = last_purge.load(Ordering::Relaxed);
                if now.saturating_sub(last) >= PURGE_EVERY_SECS
                    && last_purge
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    store.purge_expired(now).await?;
                }
                Ok(store.record_unique(key, expires_at, now).await?)
            }
        }
    }
}

/// Whether `public_url` names only this node: a loopback host (`localhost`, `*.localhost`,
/// `127.0.0.0/8`, `::1`) on `port`.
pub fn is_node_private(public_url: &str, port: u16) -> bool {
    let Ok(url) = url::Url::parse(public_url) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    loopback && url.port_or_known_default() == Some(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_url_on_the_own_port_is_node_private() {
        assert!(is_node_private("http://localhost:2583", 2583));
        assert!(is_node_private("http://127.0.0.1:2583", 2583));
        assert!(is_node_private("http://[::1]:2583", 2583));
        // A load balancer on loopback in front of this node (another port) is shared.
        assert!(!is_node_private("http://127.0.0.1:8080", 2583));
        assert!(!is_node_private("https://pds.example.com", 443));
        assert!(!is_node_private("not a url", 2583));
    }

    #[tokio::test]
    async fn memory_ids_are_unique_until_they_expire() {
        let cache = ReplayCache::memory();
        assert!(cache.unique("a", 100, 10).await.unwrap());
        assert!(!cache.unique("a", 100, 99).await.unwrap());
        assert!(cache.unique("b", 100, 10).await.unwrap());
        assert!(cache.unique("a", 200, 100).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_memory_cache_refuses_instead_of_forgetting() {
        let cache = ReplayCache::memory();
        for i in 0..MAX_MEMORY_ENTRIES {
            assert!(cache.unique(&i.to_string(), 100, 0).await.unwrap());
        }
        let err = cache.unique("new", 100, 1).await.unwrap_err();
        assert_eq!(err.code(), "temporarily_unavailable");
        assert!(!cache.unique("5", 100, 1).await.unwrap());
        // Once the old ids expire there is room again.
        assert!(cache.unique("new", 300, 100).await.unwrap());
    }
}
