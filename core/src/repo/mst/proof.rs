//! Proofs about keys. A *covering proof* of a key is the set of MST nodes on the paths to the key and
//! to its neighbours on both sides: with it, anyone holding only the root CID can check that the key
//! has a given value (inclusion) or none (absence), and can undo a commit's operation on the tree
//! (Sync 1.1 inductive firehose). `sync.getRecord` serves it as a CAR; each `#commit` carries the
//! union over its operations.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;

use super::node::Node;
use super::tree::Mst;
use super::MstError;
use crate::repo::block_store::BlockStore;
use crate::repo::cid::{verify_block, Cid};

impl Mst {
    /// The CIDs of the nodes in the covering proof of `key` (present or not) in this tree.
    pub async fn covering_proof_cids<S: BlockStore>(
        &mut self,
        store: &S,
        key: &str,
    ) -> Result<BTreeSet<Cid>, MstError> {
        let mut out = BTreeSet::new();
        if self.is_empty() {
            out.insert(self.root());
            return Ok(out);
        }
        let root = self.root();
        // The path to the key itself: a node joins only if the key or a subtree that may hold it is
        // there.
        let mut path = Vec::new();
        let mut at = Some(root);
        while let Some(cid) = at {
            let node = self.node(store, &cid).await?;
            let (i, found) = node.search(key);
            if found {
                path.push(cid);
                break;
            }
            match node.gap(i) {
                Some(child) => {
                    path.push(cid);
                    at = Some(child);
                }
                None => break,
            }
        }
        out.extend(path);
        // Towards the left neighbour: always down the gap before the key's position.
        let mut at = Some(root);
        while let Some(cid) = at {
            out.insert(cid);
            let node = self.node(store, &cid).await?;
            at = node.gap(node.search(key).0);
        }
        // Towards the right neighbour.
        let mut at = Some(root);
        while let Some(cid) = at {
            out.insert(cid);
            let node = self.node(store, &cid).await?;
            at = right_step(&node, key);
        }
        Ok(out)
    }

    /// The covering proof of `key` as blocks, ready for a CAR.
    pub async fn covering_proof<S: BlockStore>(
        &mut self,
        store: &S,
        key: &str,
    ) -> Result<Vec<(Cid, Bytes)>, MstError> {
        let cids = self.covering_proof_cids(store, key).await?;
        let mut out = Vec::with_capacity(cids.len());
        for cid in cids {
            out.push((cid, self.node_bytes(store, &cid).await?));
        }
        Ok(out)
    }
}

/// Which subtree the walk towards the right neighbour of `key` enters from `node`.
fn right_step(node: &Node, key: &str) -> Option<Cid> {
    let (i, found) = node.search(key);
    match node.entries.get(i) {
        Some(entry) if found => entry.right,
        Some(_) => node.gap(i),
        None => node.gap(node.entries.len()),
    }
}

/// Checks a proof: walks from `root` to `key` using only `blocks` (each checked against its CID)
/// and returns the key's value, or `None` when the proof shows the key is absent. A proof that lacks
/// a node on the path, or holds a block that does not hash to its CID, is an error.
pub fn verify_key_proof(
    root: &Cid,
    key: &str,
    blocks: &HashMap<Cid, Bytes>,
) -> Result<Option<Cid>, MstError> {
    let mut at = Some(*root);
    while let Some(cid) = at {
        let bytes = blocks.get(&cid).ok_or(MstError::MissingBlock(cid))?;
        if !verify_block(&cid, bytes) {
            return Err(MstError::HashMismatch(cid));
        }
        let node = Node::decode(bytes)?;
        let (i, found) = node.search(key);
        if found {
            return Ok(Some(node.entries[i].value));
        }
        at = node.gap(i);
    }
    Ok(None)
}
