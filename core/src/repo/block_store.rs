//! Where repository blocks live: the [`BlockStore`] trait the MST, commits and CAR code read and write
//! through, and [`MemoryBlockStore`], a map in memory for tests, benchmarks and import verification.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use super::cid::Cid;

/// A failure of the storage behind a [`BlockStore`].
#[derive(Debug, thiserror::Error)]
#[error("block store: {0}")]
pub struct StoreError(pub String);

/// Content-addressed block storage. Implementations trust the caller that `bytes` hash to `cid`.
pub trait BlockStore: Send + Sync {
    /// The bytes of one block, or `None` when the store does not hold it.
    fn get(&self, cid: &Cid) -> impl Future<Output = Result<Option<Bytes>, StoreError>> + Send;

    /// The blocks of `cids` the store holds, in any order; missing ones are left out. Stores that
    /// can fetch several blocks in one round trip override this (the default asks for each).
    fn get_many(
        &self,
        cids: &[Cid],
    ) -> impl Future<Output = Result<Vec<(Cid, Bytes)>, StoreError>> + Send {
        async move {
            let mut out = Vec::with_capacity(cids.len());
            for cid in cids {
                if let Some(bytes) = self.get(cid).await? {
                    out.push((*cid, bytes));
                }
            }
            Ok(out)
        }
    }

    /// Stores a batch of blocks at once (one transaction where the store has them).
    fn put_many(
        &self,
        blocks: Vec<(Cid, Bytes)>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores one block.
    fn put(&self, cid: Cid, bytes: Bytes) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.put_many(vec![(cid, bytes)])
    }
}

/// A [`BlockStore`] in memory. Cloning shares the same map.
#[derive(Clone, Default)]
pub struct MemoryBlockStore {
    blocks: Arc<RwLock<HashMap<Cid, Bytes>>>,
}

impl MemoryBlockStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many blocks the store holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the store holds no block.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the store holds `cid`.
    pub fn contains(&self, cid: &Cid) -> bool {
        self.read().contains_key(cid)
    }

    /// Total size of all block bytes.
    pub fn total_bytes(&self) -> usize {
        self.read().values().map(Bytes::len).sum()
    }

    /// Synchronous read, for code that has no runtime at hand.
    pub fn get_sync(&self, cid: &Cid) -> Option<Bytes> {
        self.read().get(cid).cloned()
    }

    /// Synchronous write of one block.
    pub fn put_sync(&self, cid: Cid, bytes: Bytes) {
        self.write().insert(cid, bytes);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Cid, Bytes>> {
        // A poisoned lock only means another thread panicked mid-insert of a whole entry; the map is intact.
        self.blocks.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Cid, Bytes>> {
        self.blocks.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl BlockStore for MemoryBlockStore {
    async fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError> {
        Ok(self.get_sync(cid))
    }

    async fn put_many(&self, blocks: Vec<(Cid, Bytes)>) -> Result<(), StoreError> {
        let mut map = self.write();
        for (cid, bytes) in blocks {
            map.insert(cid, bytes);
        }
        Ok(())
    }
}
