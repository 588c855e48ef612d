//! [`Mst`]: one repository's Merkle Search Tree, read and written through a [`BlockStore`].
//!
//! Nodes are content-addressed and immutable. A write creates new nodes for the path it changes; they
//! stay *pending* in memory until [`Mst::take_blocks`] hands the reachable ones to the caller, who
//! stores them with the commit. Nodes read from the store are kept decoded in a bounded cache.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::key::{is_valid_key, key_height};
use super::node::Node;
use super::ops::{self, Created, Ctx, Item, Step};
use super::MstError;
use crate::repo::block_store::BlockStore;
use crate::repo::cid::{cid_for_cbor, verify_block, Cid};

/// How many decoded nodes the cache keeps before it starts over (about 40 MB at the limit).
pub const DEFAULT_CACHE_NODES: usize = 100_000;

/// A Merkle Search Tree over a block store.
pub struct Mst {
    root: Option<Cid>,
    layer: Option<u32>,
    pending: HashMap<Cid, (Arc<Node>, Bytes)>,
    cache: HashMap<Cid, Arc<Node>>,
    cache_limit: usize,
}

impl Default for Mst {
    fn default() -> Self {
        Self::empty()
    }
}

impl Mst {
    /// An empty tree.
    pub fn empty() -> Mst {
        Mst {
            root: None,
            layer: Some(0),
            pending: HashMap::new(),
            cache: HashMap::new(),
            cache_limit: DEFAULT_CACHE_NODES,
        }
    }

    /// The tree whose root node is `root` (its blocks are read from the store when needed).
    pub fn load(root: Cid) -> Mst {
        Mst {
            root: Some(root),
            layer: None,
            ..Mst::empty()
        }
    }

    /// Builds the tree of `entries` at once (they need not be sorted; a repeated key keeps its last
    /// value). Every node is created exactly once, so this is the fast way to make a large tree.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, Cid)>) -> Result<Mst, MstError> {
        let mut map = std::collections::BTreeMap::new();
        for (key, value) in entries {
            if !is_valid_key(&key) {
                return Err(MstError::InvalidKey(key));
            }
            map.insert(key, value);
        }
        let items: Vec<Item> = map
            .into_iter()
            .map(|(key, value)| Item {
                height: key_height(key.as_bytes()),
                key: Arc::from(key),
                value,
            })
            .collect();
        let layer = items.iter().map(|i| i.height).max().unwrap_or(0);
        let mut mst = Mst::empty();
        let (no_pending, no_cache) = (HashMap::new(), HashMap::new());
        let mut ctx = Ctx::new(&no_pending, &no_cache);
        let root = ops::build(&mut ctx, &items, layer);
        let created = std::mem::take(&mut ctx.created);
        mst.absorb(created);
        mst.root = root;
        mst.layer = Some(if root.is_some() { layer } else { 0 });
        Ok(mst)
    }

    /// Sets the most decoded nodes the cache holds (pending nodes are not counted).
    pub fn set_cache_limit(&mut self, nodes: usize) {
        self.cache_limit = nodes.max(64);
    }

    /// The CID of the root node (the empty node's CID for an empty tree).
    pub fn root(&self) -> Cid {
        self.root
            .unwrap_or_else(|| cid_for_cbor(&Node::default().encode()))
    }

    /// Whether the tree holds no key.
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    /// The value stored under `key`.
    pub async fn get<S: BlockStore>(
        &mut self,
        store: &S,
        key: &str,
    ) -> Result<Option<Cid>, MstError> {
        let mut at = self.root;
        while let Some(cid) = at {
            let node = self.node(store, &cid).await?;
            let (i, found) = node.search(key);
            if found {
                return Ok(Some(node.entries[i].value));
            }
            at = node.gap(i);
        }
        Ok(None)
    }

    /// Sets `key` to `value`, returning the previous value.
    pub async fn put<S: BlockStore>(
        &mut self,
        store: &S,
        key: &str,
        value: Cid,
    ) -> Result<Option<Cid>, MstError> {
        if !is_valid_key(key) {
            return Err(MstError::InvalidKey(key.to_owned()));
        }
        let layer = self.layer(store).await?;
        let height = key_height(key.as_bytes());
        let key: Arc<str> = Arc::from(key);
        let root = self.root;
        let (root, layer, previous) = self
            .run(store, |ctx| {
                let (mut root, mut layer) = (root, layer);
                while layer < height {
                    root = ctx.store(Node {
                        left: root,
                        entries: Vec::new(),
                    });
                    layer += 1;
                }
                let (root, previous) = ops::put(ctx, root, layer, &key, height, value)?;
                Ok((root, layer, previous))
            })
            .await?;
        self.root = root;
        self.layer = Some(layer);
        Ok(previous)
    }

    /// Adds a key that must not exist yet.
    pub async fn add<S: BlockStore>(
        &mut self,
        store: &S,
        key: &str,
        value: Cid,
    ) -> Result<(), MstError> {
        if self.get(store, key).await?.is_some() {
            return Err(MstError::KeyExists(key.to_owned()));
        }
        self.put(store, key, value).await.map(|_| ())
    }

    /// Changes the value of a key that must exist, returning the previous value.
    pub async fn update<S: BlockStore>(
        &mut self,
        store: &S,
        key: &str,
        value: Cid,
    ) -> Result<Cid, MstError> {
        if self.get(store, key).await?.is_none() {
            return Err(MstError::KeyNotFound(key.to_owned()));
        }
        self.put(store, key, value)
            .await?
            .ok_or_else(|| MstError::KeyNotFound(key.to_owned()))
    }

    /// Removes `key`, returning its value, or `None` (and no change) when it is absent.
    pub async fn delete<S: BlockStore>(
        &mut self,
        store: &S,
        key: &str,
    ) -> Result<Option<Cid>, MstError> {
        let layer = self.layer(store).await?;
        let root = self.root;
        let outcome = self
            .run(store, |ctx| match ops::delete(ctx, root, key)? {
                None => Ok(None),
                Some((root, removed)) => {
                    let (root, layer) = ops::trim(ctx, root, layer)?;
                    Ok(Some((root, layer, removed)))
                }
            })
            .await?;
        Ok(outcome.map(|(root, layer, removed)| {
            self.root = root;
            self.layer = Some(layer);
            removed
        }))
    }

    /// Keys and values in key order (or reverse order) within the bounds, at most `limit` of them.
    pub async fn list<S: BlockStore>(
        &mut self,
        store: &S,
        lower: Bound<&str>,
        upper: Bound<&str>,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<(Arc<str>, Cid)>, MstError> {
        enum Task {
            Visit(Cid),
            Emit(Arc<str>, Cid),
        }
        let above_lower = |k: &str| match lower {
            Bound::Included(l) => k >= l,
            Bound::Excluded(l) => k > l,
            Bound::Unbounded => true,
        };
        let below_upper = |k: &str| match upper {
            Bound::Included(u) => k <= u,
            Bound::Excluded(u) => k < u,
            Bound::Unbounded => true,
        };
        let mut out = Vec::new();
        let mut stack: Vec<Task> = self.root.map(Task::Visit).into_iter().collect();
        while let Some(task) = stack.pop() {
            if out.len() >= limit {
                break;
            }
            let cid = match task {
                Task::Emit(key, value) => {
                    out.push((key, value));
                    continue;
                }
                Task::Visit(cid) => cid,
            };
            let node = self.node(store, &cid).await?;
            // Tasks in key order; a gap is visited only if its key range can meet the bounds.
            let mut tasks = Vec::with_capacity(node.entries.len() * 2 + 1);
            for i in 0..=node.entries.len() {
                if let Some(child) = node.gap(i) {
                    let gap_above = i == 0 || below_upper(&node.entries[i - 1].key);
                    let gap_below = node.entries.get(i).is_none_or(|e| above_lower(&e.key));
                    if gap_above && gap_below {
                        tasks.push(Task::Visit(child));
                    }
                }
                if let Some(e) = node.entries.get(i) {
                    if above_lower(&e.key) && below_upper(&e.key) {
                        tasks.push(Task::Emit(e.key.clone(), e.value));
                    }
                }
            }
            if !reverse {
                tasks.reverse();
            }
            stack.extend(tasks);
        }
        Ok(out)
    }

    /// Every key and value in order.
    pub async fn entries<S: BlockStore>(
        &mut self,
        store: &S,
    ) -> Result<Vec<(Arc<str>, Cid)>, MstError> {
        self.list(store, Bound::Unbounded, Bound::Unbounded, usize::MAX, false)
            .await
    }

    /// Hands over the nodes created since the last call that the current root reaches (nodes made
    /// and then replaced within a batch of writes are dropped). For an empty tree this is the empty
    /// root node. The nodes stay readable from the cache.
    pub fn take_blocks(&mut self) -> Vec<(Cid, Bytes)> {
        let Some(root) = self.root else {
            self.pending.clear();
            let bytes = Node::default().encode();
            return vec![(cid_for_cbor(&bytes), Bytes::from(bytes))];
        };
        let mut out = Vec::new();
        let mut stack = vec![root];
        let mut seen = HashSet::new();
        while let Some(cid) = stack.pop() {
            if !seen.insert(cid) {
                continue;
            }
            let Some((node, bytes)) = self.pending.get(&cid) else {
                continue; // an older node: already stored
            };
            stack.extend(node.left);
            stack.extend(node.entries.iter().filter_map(|e| e.right));
            out.push((cid, bytes.clone()));
        }
        for (cid, (node, _)) in std::mem::take(&mut self.pending) {
            if seen.contains(&cid) {
                self.cache.insert(cid, node);
            }
        }
        out
    }

    /// The decoded node `cid`, from memory or the store (whose bytes are checked against the CID).
    pub async fn node<S: BlockStore>(
        &mut self,
        store: &S,
        cid: &Cid,
    ) -> Result<Arc<Node>, MstError> {
        if let Some((n, _)) = self.pending.get(cid) {
            return Ok(n.clone());
        }
        if let Some(n) = self.cache.get(cid) {
            return Ok(n.clone());
        }
        let bytes = store.get(cid).await?.ok_or(MstError::MissingBlock(*cid))?;
        if !verify_block(cid, &bytes) {
            return Err(MstError::HashMismatch(*cid));
        }
        let node = Arc::new(Node::decode(&bytes)?);
        self.cache.insert(*cid, node.clone());
        Ok(node)
    }

    /// The encoded bytes of node `cid` (pending, or from the store).
    pub async fn node_bytes<S: BlockStore>(&self, store: &S, cid: &Cid) -> Result<Bytes, MstError> {
        if let Some((_, b)) = self.pending.get(cid) {
            return Ok(b.clone());
        }
        if self.root.is_none() && *cid == self.root() {
            return Ok(Bytes::from(Node::default().encode()));
        }
        store.get(cid).await?.ok_or(MstError::MissingBlock(*cid))
    }

    /// The layer of the root node, found by walking down empty nodes to the first entry.
    pub async fn layer<S: BlockStore>(&mut self, store: &S) -> Result<u32, MstError> {
        if let Some(l) = self.layer {
            return Ok(l);
        }
        let layer = self.layer_of(store, self.root).await?;
        self.layer = Some(layer);
        Ok(layer)
    }

    /// The layer of the tree rooted at `root`, reading its nodes through this tree's memory.
    pub(super) async fn layer_of<S: BlockStore>(
        &mut self,
        store: &S,
        root: Option<Cid>,
    ) -> Result<u32, MstError> {
        let mut depth = 0u32;
        let mut at = root;
        while let Some(cid) = at {
            let node = self.node(store, &cid).await?;
            if let Some(first) = node.entries.first() {
                return Ok(key_height(first.key.as_bytes()) + depth);
            }
            at = node.left;
            depth += 1;
        }
        Ok(0)
    }

    /// Runs a pure tree operation, loading each node it misses and trying again.
    async fn run<S: BlockStore, T>(
        &mut self,
        store: &S,
        op: impl Fn(&mut Ctx<'_>) -> Result<T, Step>,
    ) -> Result<T, MstError> {
        if self.cache.len() > self.cache_limit {
            self.cache.clear();
        }
        loop {
            let mut ctx = Ctx::new(&self.pending, &self.cache);
            match op(&mut ctx) {
                Ok(value) => {
                    let created = std::mem::take(&mut ctx.created);
                    self.absorb(created);
                    return Ok(value);
                }
                Err(Step::Missing(cid)) => {
                    self.node(store, &cid).await?;
                }
                Err(Step::Fail(e)) => return Err(e),
            }
        }
    }

    fn absorb(&mut self, created: Vec<Created>) {
        for (cid, node, bytes) in created {
            self.pending.insert(cid, (node, bytes));
        }
    }
}
