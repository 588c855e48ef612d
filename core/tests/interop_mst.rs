//! The MST against the official interop vectors (key heights, common prefixes, commit proofs) and
//! against itself: any order of writes gives the root of a from-scratch build.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use pocketpds_core::repo::cid::{cid_for_cbor, cid_from_str, Cid};
use pocketpds_core::repo::mst::key::{common_prefix_len, key_height};
use pocketpds_core::repo::mst::{verify_key_proof, Mst};
use pocketpds_core::repo::{BlockStore, MemoryBlockStore};
use proptest::prelude::*;
use serde_json::Value;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

/// Writes the pending blocks of a tree into the store.
async fn flush(mst: &mut Mst, store: &MemoryBlockStore) {
    store.put_many(mst.take_blocks()).await.expect("store");
}

#[test]
fn key_heights_match_the_interop_vectors() {
    let Some(text) = common::read_vector("mst/key_heights.json") else {
        return;
    };
    let cases: Vec<Value> = serde_json::from_str(&text).expect("json");
    assert!(!cases.is_empty());
    for case in cases {
        let key = case["key"].as_str().expect("key");
        let height = case["height"].as_u64().expect("height") as u32;
        assert_eq!(key_height(key.as_bytes()), height, "key {key:?}");
    }
}

#[test]
fn common_prefixes_match_the_interop_vectors() {
    let Some(text) = common::read_vector("mst/common_prefix.json") else {
        return;
    };
    let cases: Vec<Value> = serde_json::from_str(&text).expect("json");
    for case in cases {
        let (l, r) = (
            case["left"].as_str().unwrap(),
            case["right"].as_str().unwrap(),
        );
        let len = case["len"].as_u64().unwrap() as usize;
        assert_eq!(
            common_prefix_len(l.as_bytes(), r.as_bytes()),
            len,
            "{l:?} {r:?}"
        );
    }
}

#[test]
fn commit_proofs_match_the_interop_vectors() {
    let Some(text) = common::read_vector("firehose/commit-proof-fixtures.json") else {
        return;
    };
    let cases: Vec<Value> = serde_json::from_str(&text).expect("json");
    assert!(!cases.is_empty());
    let rt = rt();
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
        rt.block_on(async {
            let store = MemoryBlockStore::new();
            // Build by inserts (not the bulk path) so the incremental algorithm is what is checked.
            let mut mst = Mst::empty();
            for k in &keys {
                mst.put(&store, k, leaf).await.unwrap();
            }
            assert_eq!(
                mst.root().to_string(),
                case["rootBeforeCommit"].as_str().unwrap(),
                "{name}: root before"
            );
            let bulk = Mst::from_entries(keys.iter().map(|k| (k.clone(), leaf))).unwrap();
            assert_eq!(bulk.root(), mst.root(), "{name}: bulk build");
            flush(&mut mst, &store).await;
            let before = mst.root();
            for k in &adds {
                mst.put(&store, k, leaf).await.unwrap();
            }
            for k in &dels {
                assert_eq!(
                    mst.delete(&store, k).await.unwrap(),
                    Some(leaf),
                    "{name}: del {k}"
                );
            }
            assert_eq!(
                mst.root().to_string(),
                case["rootAfterCommit"].as_str().unwrap(),
                "{name}: root after"
            );
            let mut proof = BTreeSet::new();
            for k in adds.iter().chain(&dels) {
                proof.extend(mst.covering_proof_cids(&store, k).await.unwrap());
            }
            let got: BTreeSet<String> = proof.iter().map(Cid::to_string).collect();
            let want: BTreeSet<String> = strs("blocksInProof").into_iter().collect();
            assert_eq!(got, want, "{name}: blocks in proof");
            // The diff names the operations and the new nodes.
            let diff = mst.diff_from(&store, Some(before)).await.unwrap();
            let created: BTreeSet<&str> = diff.creates.iter().map(|(k, _)| &**k).collect();
            let deleted: BTreeSet<&str> = diff.deletes.iter().map(|(k, _)| &**k).collect();
            let adds_only: BTreeSet<&str> = adds
                .iter()
                .filter(|k| !dels.contains(k))
                .map(String::as_str)
                .collect();
            let dels_only: BTreeSet<&str> = dels
                .iter()
                .filter(|k| !adds.contains(k) && keys.contains(k))
                .map(String::as_str)
                .collect();
            assert_eq!(created, adds_only, "{name}: diff creates");
            assert_eq!(deleted, dels_only, "{name}: diff deletes");
            // New nodes are the written nodes the store did not hold before (a split may rebuild a
            // node identical to an old one).
            let pending: BTreeSet<Cid> = mst
                .take_blocks()
                .into_iter()
                .map(|(c, _)| c)
                .filter(|c| !store.contains(c))
                .collect();
            let new_nodes: BTreeSet<Cid> = diff.new_nodes.into_iter().collect();
            assert_eq!(new_nodes, pending, "{name}: new nodes");
        });
    }
}

#[test]
fn example_keys_give_one_root_in_any_order() {
    let Some(keys) = common::vector_lines("mst/example_keys.txt") else {
        return;
    };
    let value = cid_for_cbor(b"\xa0");
    let rt = rt();
    rt.block_on(async {
        let store = MemoryBlockStore::new();
        let mut forward = Mst::empty();
        for k in &keys {
            forward.put(&store, k, value).await.unwrap();
        }
        let mut backward = Mst::empty();
        for k in keys.iter().rev() {
            backward.put(&store, k, value).await.unwrap();
        }
        let bulk = Mst::from_entries(keys.iter().map(|k| (k.clone(), value))).unwrap();
        assert_eq!(forward.root(), backward.root());
        assert_eq!(forward.root(), bulk.root());
        // Removing every key in another order gives the empty tree again.
        flush(&mut forward, &store).await;
        for k in keys.iter().step_by(2).chain(keys.iter().skip(1).step_by(2)) {
            assert!(forward.delete(&store, k).await.unwrap().is_some());
        }
        assert_eq!(forward.root(), Mst::empty().root());
    });
}

#[test]
fn empty_tree_root_is_the_reference_empty_node() {
    // The empty MST's root CID is a constant every implementation shares.
    assert_eq!(
        Mst::empty().root().to_string(),
        "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    );
}

fn arb_key() -> impl Strategy<Value = String> {
    (0usize..4, "[a-z0-9]{1,6}").prop_map(|(c, r)| {
        format!(
            "{}/{r}",
            ["app.bsky.feed.post", "app.bsky.graph.follow", "a.b.c", "z"][c]
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_sequence_of_writes_gives_the_root_of_a_fresh_build(
        ops in prop::collection::vec((any::<bool>(), arb_key(), any::<u8>()), 1..160),
        flush_every in 1usize..40,
    ) {
        rt().block_on(async {
            let store = MemoryBlockStore::new();
            let mut mst = Mst::empty();
            let mut model: BTreeMap<String, Cid> = BTreeMap::new();
            for (n, (insert, key, v)) in ops.iter().enumerate() {
                if *insert {
                    let value = cid_for_cbor(&[*v]);
                    let prev = mst.put(&store, key, value).await.unwrap();
                    prop_assert_eq!(prev, model.insert(key.clone(), value));
                } else {
                    let removed = mst.delete(&store, key).await.unwrap();
                    prop_assert_eq!(removed, model.remove(key));
                }
                if n % flush_every == 0 {
                    flush(&mut mst, &store).await;
                }
            }
            let fresh = Mst::from_entries(model.clone()).unwrap();
            prop_assert_eq!(mst.root(), fresh.root());
            // Reading the tree back from the store alone gives the model, in order and in ranges.
            flush(&mut mst, &store).await;
            let mut reloaded = Mst::load(mst.root());
            let listed = reloaded.entries(&store).await.unwrap();
            let want: Vec<(String, Cid)> = model.clone().into_iter().collect();
            let got: Vec<(String, Cid)> = listed.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            prop_assert_eq!(&got, &want);
            if let Some((mid, _)) = want.get(want.len() / 2) {
                let upper: Vec<String> = reloaded
                    .list(&store, Bound::Excluded(mid.as_str()), Bound::Unbounded, 5, false)
                    .await.unwrap().into_iter().map(|(k, _)| k.to_string()).collect();
                let expect: Vec<String> = model.range::<str, _>((Bound::Excluded(mid.as_str()), Bound::Unbounded))
                    .take(5).map(|(k, _)| k.clone()).collect();
                prop_assert_eq!(upper, expect);
                let lower: Vec<String> = reloaded
                    .list(&store, Bound::Unbounded, Bound::Included(mid.as_str()), 3, true)
                    .await.unwrap().into_iter().map(|(k, _)| k.to_string()).collect();
                let expect: Vec<String> = model.range::<str, _>((Bound::Unbounded, Bound::Included(mid.as_str())))
                    .rev().take(3).map(|(k, _)| k.clone()).collect();
                prop_assert_eq!(lower, expect);
            }
            Ok(())
        })?;
    }

    #[test]
    fn proofs_verify_for_their_key_and_not_for_others(
        keys in prop::collection::btree_set(arb_key(), 1..120),
        probe in arb_key(),
    ) {
        rt().block_on(async {
            let store = MemoryBlockStore::new();
            let value = cid_for_cbor(b"\xa0");
            let mut mst = Mst::from_entries(keys.iter().map(|k| (k.clone(), value))).unwrap();
            flush(&mut mst, &store).await;
            let root = mst.root();
            for key in keys.iter().take(8).chain(std::iter::once(&probe)) {
                let blocks: std::collections::HashMap<Cid, bytes::Bytes> =
                    mst.covering_proof(&store, key).await.unwrap().into_iter().collect();
                let expected = keys.contains(key).then_some(value);
                prop_assert_eq!(verify_key_proof(&root, key, &blocks).unwrap(), expected);
                // A proof claiming another root does not verify.
                let other = cid_for_cbor(b"\xa1\x61a\x01");
                prop_assert!(verify_key_proof(&other, key, &blocks).is_err());
                // Used for another key, a proof either lacks the nodes (an error) or tells the truth:
                // it never proves a wrong value.
                for other_key in keys.iter().rev().take(4).chain(std::iter::once(&probe)) {
                    if let Ok(found) = verify_key_proof(&root, other_key, &blocks) {
                        prop_assert_eq!(found, keys.contains(other_key).then_some(value));
                    }
                }
                // A proof whose blocks were altered fails.
                let mut tampered = blocks.clone();
                if let Some(b) = tampered.get_mut(&root) {
                    let mut bytes = b.to_vec();
                    let last = bytes.len() - 1;
                    bytes[last] ^= 1;
                    *b = bytes::Bytes::from(bytes);
                }
                prop_assert!(verify_key_proof(&root, key, &tampered).is_err());
            }
            Ok(())
        })?;
    }
}
