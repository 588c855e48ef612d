//! A bounded in-memory cache of handle resolutions: a resolved DID is reused for
//! [`HandleCacheConfig::positive_ttl`] (ten minutes by default), a failure for
//! [`HandleCacheConfig::negative_ttl`] (one minute), so that repeated lookups of one handle — or a
//! client hammering a handle that does not resolve — cost one network round per period. At most
//! [`HandleCacheConfig::max_entries`] handles are kept: when full, expired entries go first, then
//! the ones closest to expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::IdentityError;
use crate::syntax::{Did, Handle};

/// Limits of a [`HandleCache`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleCacheConfig {
    /// How long a resolved DID is reused.
    pub positive_ttl: Duration,
    /// How long a failed resolution is remembered.
    pub negative_ttl: Duration,
    /// The most handles kept.
    pub max_entries: usize,
}

impl Default for HandleCacheConfig {
    fn default() -> Self {
        HandleCacheConfig {
            positive_ttl: Duration::from_secs(10 * 60),
            negative_ttl: Duration::from_secs(60),
            max_entries: 10_000,
        }
    }
}

/// Handle → DID answers (and failures) with an expiry.
#[derive(Debug)]
pub struct HandleCache {
    config: HandleCacheConfig,
    entries: Mutex<HashMap<Handle, Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    answer: Result<Did, IdentityError>,
    expires: Instant,
}

impl HandleCache {
    /// An empty cache with `config`'s limits.
    pub fn new(config: HandleCacheConfig) -> HandleCache {
        HandleCache {
            config,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The remembered answer for `handle`, if it has not expired.
    pub fn get(&self, handle: &Handle) -> Option<Result<Did, IdentityError>> {
        self.get_at(handle, Instant::now())
    }

    /// Remembers `answer` for `handle` (for the positive or negative time to live).
    pub fn put(&self, handle: &Handle, answer: &Result<Did, IdentityError>) {
        self.put_at(handle, answer, Instant::now())
    }

    /// Forgets what was remembered for `handle` (the next resolution asks the network).
    pub fn forget(&self, handle: &Handle) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(handle);
        }
    }

    /// How many handles are held (expired ones included until they are dropped).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether no handle is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get_at(&self, handle: &Handle, now: Instant) -> Option<Result<Did, IdentityError>> {
        let mut entries = self.entries.lock().ok()?;
        match entries.get(handle) {
            Some(entry) if entry.expires > now => Some(entry.answer.clone()),
            Some(_) => {
                entries.remove(handle);
                None
            }
            None => None,
        }
    }

    fn put_at(&self, handle: &Handle, answer: &Result<Did, IdentityError>, now: Instant) {
        if self.config.max_entries == 0 {
            return;
        }
        let ttl = match answer {
            Ok(_) => self.config.positive_ttl,
            Err(_) => self.config.negative_ttl,
        };
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.config.max_entries && !entries.contains_key(handle) {
            entries.retain(|_, e| e.expires > now);
            while entries.len() >= self.config.max_entries {
                let Some(soonest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(h, _)| h.clone())
                else {
                    break;
                };
                entries.remove(&soonest);
            }
        }
        entries.insert(
            handle.clone(),
            Entry {
                answer: answer.clone(),
                expires: now.checked_add(ttl).unwrap_or(now),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(s: &str) -> Handle {
        Handle::parse(s).unwrap()
    }

    fn did() -> Did {
        Did::parse("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").unwrap()
    }

    #[test]
    fn answers_expire_after_their_time_to_live() {
        let cache = HandleCache::new(HandleCacheConfig::default());
        let t0 = Instant::now();
        let found = handle("alice.example.com");
        let missing = handle("nobody.example.com");
        cache.put_at(&found, &Ok(did()), t0);
        let failure = Err(IdentityError::NotFound("nobody.example.com".into()));
        cache.put_at(&missing, &failure, t0);
        let later = |secs| t0 + Duration::from_secs(secs);
        assert_eq!(cache.get_at(&found, later(59)), Some(Ok(did())));
        assert_eq!(cache.get_at(&missing, later(59)), Some(failure));
        assert_eq!(cache.get_at(&missing, later(60)), None);
        assert_eq!(cache.get_at(&found, later(599)), Some(Ok(did())));
        assert_eq!(cache.get_at(&found, later(600)), None);
        assert!(cache.is_empty(), "expired entries are dropped when read");
    }

    #[test]
    fn the_cache_never_holds_more_than_its_limit() {
        let cache = HandleCache::new(HandleCacheConfig {
            max_entries: 3,
            ..HandleCacheConfig::default()
        });
        let t0 = Instant::now();
        for i in 0..10u64 {
            let h = handle(&format!("user{i}.example.com"));
            cache.put_at(&h, &Ok(did()), t0 + Duration::from_secs(i));
            assert!(cache.len() <= 3);
        }
        // The newest stay; the ones closest to expiry went first.
        let at = t0 + Duration::from_secs(10);
        assert!(cache.get_at(&handle("user9.example.com"), at).is_some());
        assert!(cache.get_at(&handle("user7.example.com"), at).is_some());
        assert!(cache.get_at(&handle("user6.example.com"), at).is_none());
        // Replacing a held handle evicts nothing.
        cache.put_at(&handle("user8.example.com"), &Ok(did()), at);
        assert!(cache.get_at(&handle("user9.example.com"), at).is_some());
        let off = HandleCache::new(HandleCacheConfig {
            max_entries: 0,
            ..HandleCacheConfig::default()
        });
        off.put(&handle("a.example.com"), &Ok(did()));
        assert!(off.is_empty());
    }
}
