//! The firehose commit-proof vectors read the way a Sync 1.1 consumer uses them: with only the
//! covering proofs of a commit's keys, on the new tree, undoing its operations — in any order — gives
//! back the root before the commit.

mod common;

use std::collections::BTreeSet;

use pocketpds_core::repo::cid::{cid_from_str, Cid};
use pocketpds_core::repo::mst::Mst;
use pocketpds_core::repo::{BlockStore, MemoryBlockStore};
use serde_json::Value;

/// Every order of `items`.
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            out.push(tail);
        }
    }
    out
}

#[derive(Clone, Debug)]
enum Undo {
    /// Undo an add: delete the key.
    Delete(String),
    /// Undo a delete: put the key back.
    Put(String),
}

#[tokio::test]
async fn the_proof_blocks_alone_undo_a_commit_in_any_order() {
    let Some(text) = common::read_vector("firehose/commit-proof-fixtures.json") else {
        return;
    };
    let cases: Vec<Value> = serde_json::from_str(&text).expect("json");
    assert!(!cases.is_empty());
    for case in cases {
        let name = case["comment"].as_str().unwrap_or("?");
        let leaf = cid_from_str(case["leafValue"].as_str().unwrap()).unwrap();
        let strs = |k: &str| -> Vec<String> {
            case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        let (keys, adds, dels) = (strs("keys"), strs("adds"), strs("dels"));
        let before = cid_from_str(case["rootBeforeCommit"].as_str().unwrap()).unwrap();
        let after = cid_from_str(case["rootAfterCommit"].as_str().unwrap()).unwrap();

        let full = MemoryBlockStore::new();
        let mut mst = Mst::from_entries(keys.iter().map(|k| (k.clone(), leaf))).unwrap();
        assert_eq!(mst.root(), before, "{name}: root before");
        full.put_many(mst.take_blocks()).await.unwrap();
        for k in &adds {
            mst.put(&full, k, leaf).await.unwrap();
        }
        for k in &dels {
            mst.delete(&full, k).await.unwrap();
        }
        assert_eq!(mst.root(), after, "{name}: root after");

        // What a #commit carries for these keys, and nothing else.
        let proof = MemoryBlockStore::new();
        let mut sent = BTreeSet::new();
        for k in adds.iter().chain(&dels) {
            for (cid, bytes) in mst.covering_proof(&full, k).await.unwrap() {
                sent.insert(cid);
                proof.put(cid, bytes).await.unwrap();
            }
        }
        let expected: BTreeSet<Cid> = strs("blocksInProof")
            .iter()
            .map(|c| cid_from_str(c).unwrap())
            .collect();
        assert!(
            expected.is_subset(&sent),
            "{name}: the reference's proof blocks are sent"
        );

        let undo: Vec<Undo> = adds
            .iter()
            .map(|k| Undo::Delete(k.clone()))
            .chain(dels.iter().map(|k| Undo::Put(k.clone())))
            .collect();
        for order in permutations(&undo) {
            let mut tree = Mst::load(after);
            for step in &order {
                match step {
                    Undo::Delete(k) => {
                        assert_eq!(
                            tree.delete(&proof, k).await.unwrap(),
                            Some(leaf),
                            "{name}: undo add {k}"
                        );
                    }
                    Undo::Put(k) => {
                        assert_eq!(tree.put(&proof, k, leaf).await.unwrap(), None, "{name}");
                    }
                }
            }
            assert_eq!(tree.root(), before, "{name}: undone in the order {order:?}");
        }
    }
}
