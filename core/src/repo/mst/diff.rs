//! The difference between two trees: which keys were created, updated and deleted, and which nodes
//! are new in the later tree. The firehose sends exactly this for each commit. Both trees are walked
//! in key order side by side; a subtree with the same CID on both sides is skipped whole, so the cost
//! follows the size of the change, not of the repository.

use std::collections::HashSet;
use std::sync::Arc;

use super::tree::Mst;
use super::MstError;
use crate::repo::block_store::BlockStore;
use crate::repo::cid::Cid;

/// What changed between two trees.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MstDiff {
    /// Keys only in the later tree, with their values.
    pub creates: Vec<(Arc<str>, Cid)>,
    /// Keys in both trees with different values: (key, earlier value, later value).
    pub updates: Vec<(Arc<str>, Cid, Cid)>,
    /// Keys only in the earlier tree, with their values.
    pub deletes: Vec<(Arc<str>, Cid)>,
    /// MST nodes of the later tree that the earlier one lacks.
    pub new_nodes: Vec<Cid>,
    /// MST nodes of the earlier tree that the later one lacks.
    pub removed_nodes: Vec<Cid>,
}

enum Item {
    Node(Cid, u32),
    Leaf(Arc<str>, Cid),
}

/// One side of the walk: a stack whose top is the next item in key order.
struct Cursor {
    stack: Vec<Item>,
    visited: Vec<Cid>,
}

impl Cursor {
    fn new(root: Option<Cid>, layer: u32) -> Cursor {
        Cursor {
            stack: root.map(|c| Item::Node(c, layer)).into_iter().collect(),
            visited: Vec::new(),
        }
    }

    async fn expand<S: BlockStore>(&mut self, mst: &mut Mst, store: &S) -> Result<(), MstError> {
        let Some(Item::Node(cid, layer)) = self.stack.pop() else {
            return Ok(());
        };
        self.visited.push(cid);
        let node = mst.node(store, &cid).await?;
        let child_layer = layer.saturating_sub(1);
        for i in (0..=node.entries.len()).rev() {
            if let Some(e) = i.checked_sub(1).and_then(|j| node.entries.get(j)) {
                if let Some(right) = e.right {
                    self.stack.push(Item::Node(right, child_layer));
                }
                self.stack.push(Item::Leaf(e.key.clone(), e.value));
            } else if let Some(left) = node.left {
                self.stack.push(Item::Node(left, child_layer));
            }
        }
        Ok(())
    }
}

impl Mst {
    /// The difference from the tree rooted at `earlier` (`None`: the empty tree) to this tree. Nodes of
    /// both trees are read through this tree's memory and `store`.
    pub async fn diff_from<S: BlockStore>(
        &mut self,
        store: &S,
        earlier: Option<Cid>,
    ) -> Result<MstDiff, MstError> {
        let earlier_layer = self.layer_of(store, earlier).await?;
        let later_layer = self.layer(store).await?;
        let later_root = if self.is_empty() {
            None
        } else {
            Some(self.root())
        };
        let mut a = Cursor::new(earlier, earlier_layer);
        let mut b = Cursor::new(later_root, later_layer);
        let mut diff = MstDiff::default();
        loop {
            match (a.stack.last(), b.stack.last()) {
                (None, None) => break,
                (Some(Item::Node(x, _)), Some(Item::Node(y, _))) if x == y => {
                    a.stack.pop();
                    b.stack.pop();
                }
                (Some(Item::Node(_, la)), Some(Item::Node(_, lb))) => {
                    let (la, lb) = (*la, *lb);
                    if la >= lb {
                        a.expand(self, store).await?;
                    }
                    if lb >= la {
                        b.expand(self, store).await?;
                    }
                }
                (Some(Item::Node(..)), _) => a.expand(self, store).await?,
                (_, Some(Item::Node(..))) => b.expand(self, store).await?,
                (Some(Item::Leaf(ka, va)), Some(Item::Leaf(kb, vb))) => match ka.cmp(kb) {
                    std::cmp::Ordering::Less => {
                        diff.deletes.push((ka.clone(), *va));
                        a.stack.pop();
                    }
                    std::cmp::Ordering::Greater => {
                        diff.creates.push((kb.clone(), *vb));
                        b.stack.pop();
                    }
                    std::cmp::Ordering::Equal => {
                        if va != vb {
                            diff.updates.push((ka.clone(), *va, *vb));
                        }
                        a.stack.pop();
                        b.stack.pop();
                    }
                },
                (Some(Item::Leaf(k, v)), None) => {
                    diff.deletes.push((k.clone(), *v));
                    a.stack.pop();
                }
                (None, Some(Item::Leaf(k, v))) => {
                    diff.creates.push((k.clone(), *v));
                    b.stack.pop();
                }
            }
        }
        let earlier_nodes: HashSet<Cid> = a.visited.iter().copied().collect();
        let later_nodes: HashSet<Cid> = b.visited.iter().copied().collect();
        diff.new_nodes = b
            .visited
            .into_iter()
            .filter(|c| !earlier_nodes.contains(c))
            .collect();
        diff.removed_nodes = a
            .visited
            .into_iter()
            .filter(|c| !later_nodes.contains(c))
            .collect();
        Ok(diff)
    }
}
