//! A small in-memory cache of repository blocks in front of the database, bounded in bytes.
//!
//! Blocks are content-addressed, so a cached block can never be out of date: the only question is
//! whether the account still has it, which the callers settle (a deleted repository's blocks are
//! dropped from the cache with it). The writer reads the path from the root to the keys it changes
//! on every commit; new record keys (TIDs) land on the right edge of the tree, whose nodes the
//! previous commit has just written — so keeping the blocks of each stored commit makes most of the
//! next commit's reads memory reads, on every node that writes. Eviction is first-in first-out: each
//! commit replaces the nodes on its path, so old entries are rarely wanted again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::repo::cid::Cid;

/// The default size of a store's block cache: enough for the hot paths of a few busy repositories.
pub const DEFAULT_CACHE_BYTES: usize = 2 * 1024 * 1024;

/// Blocks larger than this are not cached (MST nodes and commits are far smaller).
const MAX_CACHED_BLOCK: usize = 16 * 1024;

/// Per-entry bookkeeping counted against the budget besides the bytes themselves.
const ENTRY_OVERHEAD: usize = 96;

/// A shared, bounded block cache. Cloning shares it.
#[derive(Clone)]
pub(crate) struct BlockCache {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    budget: usize,
    used: usize,
    entries: HashMap<Cid, (Arc<str>, Bytes)>,
    order: VecDeque<Cid>,
}

impl BlockCache {
    /// A cache holding at most `budget` bytes (0 disables it).
    pub(crate) fn new(budget: usize) -> BlockCache {
        BlockCache {
            inner: Arc::new(Mutex::new(Inner {
                budget,
                used: 0,
                entries: HashMap::new(),
                order: VecDeque::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The cache holds plain data and every update leaves it consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The block `cid` of account `did`, when cached.
    pub(crate) fn get(&self, did: &str, cid: &Cid) -> Option<Bytes> {
        let inner = self.lock();
        match inner.entries.get(cid) {
            Some((owner, bytes)) if &**owner == did => Some(bytes.clone()),
            _ => None,
        }
    }

    /// Remembers blocks of account `did`, evicting the oldest entries beyond the budget.
    pub(crate) fn insert_all<'a>(
        &self,
        did: &str,
        blocks: impl IntoIterator<Item = (&'a Cid, &'a Bytes)>,
    ) {
        let mut inner = self.lock();
        if inner.budget == 0 {
            return;
        }
        let owner: Arc<str> = Arc::from(did);
        for (cid, bytes) in blocks {
            if bytes.len() > MAX_CACHED_BLOCK {
                continue;
            }
            let cost = bytes.len() + ENTRY_OVERHEAD;
            if let Some((_, old)) = inner.entries.insert(*cid, (owner.clone(), bytes.clone())) {
                inner.used -= old.len() + ENTRY_OVERHEAD;
            } else {
                inner.order.push_back(*cid);
            }
            inner.used += cost;
            while inner.used > inner.budget {
                let Some(oldest) = inner.order.pop_front() else {
                    break;
                };
                if let Some((_, old)) = inner.entries.remove(&oldest) {
                    inner.used -= old.len() + ENTRY_OVERHEAD;
                }
            }
        }
    }

    /// Forgets every block of account `did`.
    pub(crate) fn forget_account(&self, did: &str) {
        let mut inner = self.lock();
        let mut freed = 0;
        inner.entries.retain(|_, (owner, bytes)| {
            let keep = &**owner != did;
            if !keep {
                freed += bytes.len() + ENTRY_OVERHEAD;
            }
            keep
        });
        inner.used -= freed;
        let Inner { entries, order, .. } = &mut *inner;
        order.retain(|cid| entries.contains_key(cid));
    }

    /// How many bytes the cache holds (with bookkeeping).
    #[cfg(test)]
    fn used(&self) -> usize {
        self.lock().used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::cid::cid_for_cbor;

    fn block(i: u32) -> (Cid, Bytes) {
        let bytes = format!("block number {i:06}").into_bytes();
        (cid_for_cbor(&bytes), Bytes::from(bytes))
    }

    #[test]
    fn a_block_is_found_only_for_the_account_that_stored_it() {
        let cache = BlockCache::new(DEFAULT_CACHE_BYTES);
        let (cid, bytes) = block(1);
        cache.insert_all("did:plc:a", [(&cid, &bytes)]);
        assert_eq!(cache.get("did:plc:a", &cid), Some(bytes));
        assert_eq!(cache.get("did:plc:b", &cid), None);
        cache.forget_account("did:plc:a");
        assert_eq!(cache.get("did:plc:a", &cid), None);
        assert_eq!(cache.used(), 0);
    }

    #[test]
    fn the_oldest_blocks_leave_first_and_the_budget_holds() {
        let (_, one) = block(0);
        let budget = 10 * (one.len() + ENTRY_OVERHEAD);
        let cache = BlockCache::new(budget);
        let blocks: Vec<_> = (0..25).map(block).collect();
        cache.insert_all("did:plc:a", blocks.iter().map(|(c, b)| (c, b)));
        assert!(cache.used() <= budget);
        assert_eq!(cache.get("did:plc:a", &blocks[0].0), None);
        assert!(cache.get("did:plc:a", &blocks[24].0).is_some());
        assert!(cache.get("did:plc:a", &blocks[15].0).is_some());
        assert_eq!(cache.get("did:plc:a", &blocks[14].0), None);
    }

    #[test]
    fn oversized_blocks_and_a_zero_budget_cache_nothing() {
        let big = Bytes::from(vec![0u8; MAX_CACHED_BLOCK + 1]);
        let big_cid = cid_for_cbor(&big);
        let cache = BlockCache::new(DEFAULT_CACHE_BYTES);
        cache.insert_all("did:plc:a", [(&big_cid, &big)]);
        assert_eq!(cache.get("did:plc:a", &big_cid), None);
        let off = BlockCache::new(0);
        let (cid, bytes) = block(1);
        off.insert_all("did:plc:a", [(&cid, &bytes)]);
        assert_eq!(off.get("did:plc:a", &cid), None);
    }
}
