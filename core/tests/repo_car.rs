//! Whole-repository CARs: what a node exports verifies on import, proof CARs prove what they claim,
//! and every kind of damaged or foreign repository is refused with an error.

use std::collections::HashMap;

use bytes::Bytes;
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::repo::car::{
    encode_car, export_repo, import_car, read_car, record_proof_car, CarError, CarLimits,
};
use pocketpds_core::repo::cbor;
use pocketpds_core::repo::cid::{cid_for_cbor, Cid};
use pocketpds_core::repo::commit::Commit;
use pocketpds_core::repo::mst::{key::key_height, Mst};
use pocketpds_core::repo::mst::{verify_key_proof, Entry, MstError, Node};
use pocketpds_core::repo::{BlockStore, MemoryBlockStore, RepoError};

const DID: &str = "did:plc:testaccount1234567890ab";

struct Repo {
    store: MemoryBlockStore,
    key: Keypair,
    commit: Cid,
    mst: Mst,
    keys: Vec<String>,
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

async fn repo(records: usize) -> Repo {
    let store = MemoryBlockStore::new();
    let key = Keypair::generate(Algorithm::K256).expect("key");
    let mut mst = Mst::empty();
    let mut keys = Vec::new();
    for i in 0..records {
        let json = serde_json::json!({"$type": "app.bsky.feed.post", "text": format!("post {i}"),
            "createdAt": "2026-01-01T00:00:00Z"});
        let bytes = cbor::encode(&cbor::from_json(&json).unwrap()).unwrap();
        let cid = cid_for_cbor(&bytes);
        store.put(cid, Bytes::from(bytes)).await.unwrap();
        let k = format!("app.bsky.feed.post/3kab{i:09}");
        mst.put(&store, &k, cid).await.unwrap();
        keys.push(k);
    }
    store.put_many(mst.take_blocks()).await.unwrap();
    let signed = Commit::sign(DID, mst.root(), "3kabcdefghijk", None, &key);
    store.put(signed.cid, signed.bytes).await.unwrap();
    Repo {
        store,
        key,
        commit: signed.cid,
        mst,
        keys,
    }
}

async fn export(r: &Repo) -> Vec<u8> {
    export_repo(&r.store, r.commit, Vec::new()).await.unwrap().0
}

async fn import(car: &[u8], r: &Repo) -> Result<u64, RepoError> {
    let target = MemoryBlockStore::new();
    import_car(car, CarLimits::default(), &target, DID, &r.key.public_key())
        .await
        .map(|v| v.records)
}

#[test]
fn an_exported_repository_verifies_on_import() {
    rt().block_on(async {
        for n in [0, 1, 7, 300] {
            let r = repo(n).await;
            let car = export(&r).await;
            assert_eq!(import(&car, &r).await.unwrap(), n as u64, "{n} records");
            // Commit + every node + every record, each once.
            let (roots, blocks) = read_car(&car, CarLimits::default()).unwrap();
            assert_eq!(roots, vec![r.commit]);
            assert_eq!(blocks.len(), r.store.len(), "{n} records");
        }
    });
}

#[test]
fn a_repository_signed_by_another_key_or_for_another_did_is_refused() {
    rt().block_on(async {
        let r = repo(20).await;
        let car = export(&r).await;
        let other = Keypair::generate(Algorithm::K256).unwrap();
        let target = MemoryBlockStore::new();
        let wrong_key = import_car(
            &car[..],
            CarLimits::default(),
            &target,
            DID,
            &other.public_key(),
        )
        .await;
        assert!(
            matches!(wrong_key, Err(RepoError::Commit(_))),
            "{wrong_key:?}"
        );
        let wrong_did = import_car(
            &car[..],
            CarLimits::default(),
            &target,
            "did:plc:someoneelse",
            &r.key.public_key(),
        )
        .await;
        assert!(
            matches!(wrong_did, Err(RepoError::Invalid(_))),
            "{wrong_did:?}"
        );
    });
}

#[test]
fn a_tampered_block_is_refused() {
    rt().block_on(async {
        let r = repo(20).await;
        let mut car = export(&r).await;
        // Change one byte of the text of "post 7" inside the CAR.
        let at = car
            .windows(6)
            .position(|w| w == b"post 7")
            .expect("record text");
        car[at + 5] = b'8';
        let err = import(&car, &r).await.unwrap_err();
        assert!(
            matches!(err, RepoError::Car(CarError::HashMismatch { .. })),
            "{err:?}"
        );
    });
}

#[test]
fn a_repository_missing_a_record_or_a_node_is_refused() {
    rt().block_on(async {
        let r = repo(50).await;
        let car = export(&r).await;
        let (roots, blocks) = read_car(&car, CarLimits::default()).unwrap();
        let record = Mst::load(r.mst.root())
            .get(&r.store, &r.keys[3])
            .await
            .unwrap()
            .expect("present");
        let without_record: Vec<_> = blocks
            .iter()
            .filter(|(c, _)| *c != record)
            .cloned()
            .collect();
        let err = import(&encode_car(&roots, without_record), &r)
            .await
            .unwrap_err();
        assert!(
            matches!(err, RepoError::MissingBlock(c) if c == record),
            "{err:?}"
        );
        let without_root: Vec<_> = blocks
            .iter()
            .filter(|(c, _)| *c != r.mst.root())
            .cloned()
            .collect();
        let err = import(&encode_car(&roots, without_root), &r)
            .await
            .unwrap_err();
        assert!(matches!(err, RepoError::MissingBlock(_)), "{err:?}");
        let two_roots = encode_car(&[roots[0], roots[0]], blocks.clone());
        assert!(matches!(
            import(&two_roots, &r).await,
            Err(RepoError::Invalid(_))
        ));
    });
}

#[test]
fn a_tree_with_a_key_on_the_wrong_layer_is_refused() {
    rt().block_on(async {
        let store = MemoryBlockStore::new();
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let record = Bytes::from_static(b"\xa1\x65$type\x61x");
        let record_cid = cid_for_cbor(&record);
        store.put(record_cid, record).await.unwrap();
        // Find two keys of different heights and put them in one node, which the MST forbids.
        let keys: Vec<String> = (0..200).map(|i| format!("a.b.c/k{i}")).collect();
        let low = keys.iter().find(|k| key_height(k.as_bytes()) == 0).unwrap();
        let high = keys.iter().find(|k| key_height(k.as_bytes()) == 1).unwrap();
        let mut pair = [low.clone(), high.clone()];
        pair.sort();
        let node = Node {
            left: None,
            entries: pair
                .iter()
                .map(|k| Entry {
                    key: k.as_str().into(),
                    value: record_cid,
                    right: None,
                })
                .collect(),
        };
        let bytes = node.encode();
        let root = cid_for_cbor(&bytes);
        store.put(root, Bytes::from(bytes)).await.unwrap();
        let signed = Commit::sign(DID, root, "3kabcdefghijk", None, &key);
        store.put(signed.cid, signed.bytes).await.unwrap();
        let car = export_repo(&store, signed.cid, Vec::new()).await.unwrap().0;
        let target = MemoryBlockStore::new();
        let err = import_car(
            &car[..],
            CarLimits::default(),
            &target,
            DID,
            &key.public_key(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, RepoError::Mst(MstError::Corrupt(_))),
            "{err:?}"
        );
    });
}

#[test]
fn a_record_proof_car_proves_presence_and_absence() {
    rt().block_on(async {
        let mut r = repo(200).await;
        for (key, present) in [
            (r.keys[42].clone(), true),
            ("app.bsky.feed.post/zzz".to_string(), false),
        ] {
            let car = record_proof_car(&r.store, r.commit, &mut r.mst, &key)
                .await
                .unwrap();
            let (roots, blocks) = read_car(&car, CarLimits::default()).unwrap();
            assert_eq!(roots, vec![r.commit]);
            let blocks: HashMap<Cid, Bytes> = blocks.into_iter().collect();
            let commit = Commit::decode(&blocks[&r.commit]).unwrap();
            commit.verify(&r.key.public_key()).unwrap();
            let found = verify_key_proof(&commit.data, &key, &blocks).unwrap();
            assert_eq!(found.is_some(), present, "{key}");
            if let Some(cid) = found {
                assert!(blocks.contains_key(&cid), "record block included");
            }
            // Far smaller than the repository.
            assert!(blocks.len() < 20, "{} blocks", blocks.len());
        }
    });
}

/// A memory store that counts the reads asked of it.
struct CountingStore {
    inner: MemoryBlockStore,
    single: std::sync::atomic::AtomicUsize,
    batches: std::sync::atomic::AtomicUsize,
    largest_batch: std::sync::atomic::AtomicUsize,
}

impl BlockStore for CountingStore {
    async fn get(
        &self,
        cid: &Cid,
    ) -> Result<Option<Bytes>, pocketpds_core::repo::block_store::StoreError> {
        self.single
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.get(cid).await
    }

    async fn get_many(
        &self,
        cids: &[Cid],
    ) -> Result<Vec<(Cid, Bytes)>, pocketpds_core::repo::block_store::StoreError> {
        self.batches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.largest_batch
            .fetch_max(cids.len(), std::sync::atomic::Ordering::Relaxed);
        self.inner.get_many(cids).await
    }

    async fn put_many(
        &self,
        blocks: Vec<(Cid, Bytes)>,
    ) -> Result<(), pocketpds_core::repo::block_store::StoreError> {
        self.inner.put_many(blocks).await
    }
}

/// The depth-first pre-order of a tree's blocks, computed the plain way: one read per block.
async fn preorder(store: &MemoryBlockStore, node: Cid, out: &mut Vec<Cid>, seen: &mut Vec<Cid>) {
    out.push(node);
    let bytes = store.get(&node).await.unwrap().unwrap();
    let node = Node::decode(&bytes).unwrap();
    if let Some(left) = node.left {
        Box::pin(preorder(store, left, out, seen)).await;
    }
    for entry in &node.entries {
        if !seen.contains(&entry.value) {
            seen.push(entry.value);
            out.push(entry.value);
        }
        if let Some(right) = entry.right {
            Box::pin(preorder(store, right, out, seen)).await;
        }
    }
}

#[test]
fn a_large_export_is_in_pre_order_and_read_in_few_large_batches() {
    rt().block_on(async {
        let r = repo(6_000).await;
        let store = CountingStore {
            inner: r.store.clone(),
            single: Default::default(),
            batches: Default::default(),
            largest_batch: Default::default(),
        };
        let car = export_repo(&store, r.commit, Vec::new()).await.unwrap().0;
        let (_, blocks) = read_car(&car, CarLimits::default()).unwrap();
        let order: Vec<Cid> = blocks.iter().map(|(cid, _)| *cid).collect();
        let mut expected = vec![r.commit];
        preorder(&r.store, r.mst.root(), &mut expected, &mut Vec::new()).await;
        assert_eq!(order.len(), expected.len());
        assert!(order == expected, "blocks are not in depth-first pre-order");
        assert_eq!(import(&car, &r).await.unwrap(), 6_000);

        let nodes = expected.len() - 6_000 - 1;
        let batches = store.batches.load(std::sync::atomic::Ordering::Relaxed);
        let single = store.single.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "export of {} blocks ({nodes} nodes): {batches} batched reads, {single} single",
            expected.len()
        );
        // One read per node would be `nodes` reads; batches reaching past a node's children need
        // far fewer, none larger than a batch.
        assert!(
            batches + single < nodes / 20,
            "{batches} batched and {single} single reads for {nodes} nodes"
        );
        assert!(
            store
                .largest_batch
                .load(std::sync::atomic::Ordering::Relaxed)
                <= 256
        );
    });
}
