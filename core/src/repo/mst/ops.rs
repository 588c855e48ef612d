//! The tree algorithms, written over nodes already in memory: insert, update, delete, split, merge
//! and bulk build. They never wait for storage: when a node is not at hand they stop with
//! [`Step::Missing`], and the driver in [`super::tree`] loads it and runs the operation again. Each
//! successful run creates exactly the nodes on the paths it touched, so a write costs O(log n) node
//! encodings.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::node::{Entry, Node};
use super::MstError;
use crate::repo::cid::{cid_for_cbor, Cid};

/// Why an operation stopped early.
#[derive(Debug)]
pub(super) enum Step {
    /// This node must be loaded first.
    Missing(Cid),
    /// A real failure.
    Fail(MstError),
}

impl From<MstError> for Step {
    fn from(e: MstError) -> Self {
        Step::Fail(e)
    }
}

/// A new node: its CID, the decoded form and the encoded bytes.
pub(super) type Created = (Cid, Arc<Node>, Bytes);

/// The view of the tree an operation runs against, and the nodes it creates.
pub(super) struct Ctx<'a> {
    pending: &'a HashMap<Cid, (Arc<Node>, Bytes)>,
    cache: &'a HashMap<Cid, Arc<Node>>,
    pub(super) created: Vec<Created>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(
        pending: &'a HashMap<Cid, (Arc<Node>, Bytes)>,
        cache: &'a HashMap<Cid, Arc<Node>>,
    ) -> Self {
        Ctx {
            pending,
            cache,
            created: Vec::new(),
        }
    }

    pub(super) fn load(&self, cid: &Cid) -> Result<Arc<Node>, Step> {
        if let Some((n, _)) = self.pending.get(cid) {
            return Ok(n.clone());
        }
        if let Some(n) = self.cache.get(cid) {
            return Ok(n.clone());
        }
        // Nodes this run created (a few at most): the wrappers of a growing root are read back.
        self.created
            .iter()
            .rev()
            .find(|(c, _, _)| c == cid)
            .map(|(_, n, _)| n.clone())
            .ok_or(Step::Missing(*cid))
    }

    /// Encodes and records a node; an empty node is no node at all.
    pub(super) fn store(&mut self, node: Node) -> Option<Cid> {
        if node.is_empty() {
            return None;
        }
        let bytes = node.encode();
        let cid = cid_for_cbor(&bytes);
        self.created.push((cid, Arc::new(node), Bytes::from(bytes)));
        Some(cid)
    }
}

fn load_or_empty(ctx: &Ctx<'_>, at: Option<Cid>) -> Result<Node, Step> {
    match at {
        Some(c) => Ok((*ctx.load(&c)?).clone()),
        None => Ok(Node::default()),
    }
}

fn below(layer: u32) -> Result<u32, Step> {
    layer
        .checked_sub(1)
        .ok_or_else(|| Step::Fail(MstError::Corrupt("a subtree below layer 0".into())))
}

/// Sets `key` to `value` in the subtree at `at` (on `layer`), for a key of `height <= layer`.
/// Returns the new subtree root and the value the key had before.
pub(super) fn put(
    ctx: &mut Ctx<'_>,
    at: Option<Cid>,
    layer: u32,
    key: &Arc<str>,
    height: u32,
    value: Cid,
) -> Result<(Option<Cid>, Option<Cid>), Step> {
    let mut node = load_or_empty(ctx, at)?;
    let (i, found) = node.search(key);
    let previous = if found {
        let entry = &mut node.entries[i];
        let old = entry.value;
        if old == value {
            return Ok((at, Some(old)));
        }
        entry.value = value;
        Some(old)
    } else if height == layer {
        let (left, right) = split(ctx, node.gap(i), key)?;
        node.set_gap(i, left);
        node.entries.insert(
            i,
            Entry {
                key: key.clone(),
                value,
                right,
            },
        );
        None
    } else {
        let (child, old) = put(ctx, node.gap(i), below(layer)?, key, height, value)?;
        node.set_gap(i, child);
        old
    };
    Ok((ctx.store(node), previous))
}

/// Splits the subtree at `at` into the keys below `key` and the keys above it.
pub(super) fn split(
    ctx: &mut Ctx<'_>,
    at: Option<Cid>,
    key: &str,
) -> Result<(Option<Cid>, Option<Cid>), Step> {
    let Some(cid) = at else {
        return Ok((None, None));
    };
    let node = ctx.load(&cid)?;
    let (i, found) = node.search(key);
    if found {
        return Err(Step::Fail(MstError::Corrupt(format!(
            "key {key} found below its own layer"
        ))));
    }
    let (a, b) = split(ctx, node.gap(i), key)?;
    let mut left = Node {
        left: node.left,
        entries: node.entries[..i].to_vec(),
    };
    left.set_gap(i, a);
    let right = Node {
        left: b,
        entries: node.entries[i..].to_vec(),
    };
    Ok((ctx.store(left), ctx.store(right)))
}

/// Removes `key` from the subtree at `at`. `None` when the key is absent; else the new subtree root
/// and the removed value.
pub(super) fn delete(
    ctx: &mut Ctx<'_>,
    at: Option<Cid>,
    key: &str,
) -> Result<Option<(Option<Cid>, Cid)>, Step> {
    let Some(cid) = at else {
        return Ok(None);
    };
    let mut node = (*ctx.load(&cid)?).clone();
    let (i, found) = node.search(key);
    let removed = if found {
        let entry = node.entries.remove(i);
        let merged = merge(ctx, node.gap(i), entry.right)?;
        node.set_gap(i, merged);
        entry.value
    } else {
        match delete(ctx, node.gap(i), key)? {
            None => return Ok(None),
            Some((child, value)) => {
                node.set_gap(i, child);
                value
            }
        }
    };
    Ok(Some((ctx.store(node), removed)))
}

/// Joins two adjacent subtrees of the same layer, every key of `a` below every key of `b`.
pub(super) fn merge(
    ctx: &mut Ctx<'_>,
    a: Option<Cid>,
    b: Option<Cid>,
) -> Result<Option<Cid>, Step> {
    let (a, b) = match (a, b) {
        (None, x) | (x, None) => return Ok(x),
        (Some(a), Some(b)) => (ctx.load(&a)?, ctx.load(&b)?),
    };
    let last = a.entries.len();
    let middle = merge(ctx, a.gap(last), b.left)?;
    let mut node = (*a).clone();
    node.set_gap(last, middle);
    node.entries.extend(b.entries.iter().cloned());
    Ok(ctx.store(node))
}

/// Removes empty layers above the root: a root with no entries is replaced by its only subtree.
pub(super) fn trim(
    ctx: &Ctx<'_>,
    mut root: Option<Cid>,
    mut layer: u32,
) -> Result<(Option<Cid>, u32), Step> {
    while let Some(cid) = root {
        let node = ctx.load(&cid)?;
        if !node.entries.is_empty() {
            break;
        }
        root = node.left;
        layer = layer.saturating_sub(1);
    }
    if root.is_none() {
        layer = 0;
    }
    Ok((root, layer))
}

/// A key with its value and precomputed height, for [`build`].
pub(super) struct Item {
    pub key: Arc<str>,
    pub value: Cid,
    pub height: u32,
}

/// Builds the canonical subtree of `items` (sorted, unique, every height `<= layer`) on `layer`,
/// creating each node once.
pub(super) fn build(ctx: &mut Ctx<'_>, items: &[Item], layer: u32) -> Option<Cid> {
    if items.is_empty() {
        return None;
    }
    let mut node = Node::default();
    let mut start = 0;
    for (idx, item) in items.iter().enumerate() {
        if item.height == layer {
            let gap = build_below(ctx, &items[start..idx], layer);
            node.set_gap(node.entries.len(), gap);
            node.entries.push(Entry {
                key: item.key.clone(),
                value: item.value,
                right: None,
            });
            start = idx + 1;
        }
    }
    let gap = build_below(ctx, &items[start..], layer);
    node.set_gap(node.entries.len(), gap);
    ctx.store(node)
}

fn build_below(ctx: &mut Ctx<'_>, items: &[Item], layer: u32) -> Option<Cid> {
    match layer.checked_sub(1) {
        Some(lower) => build(ctx, items, lower),
        None => None,
    }
}
