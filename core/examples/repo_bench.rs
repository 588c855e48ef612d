//! Repository engine benchmark: prints MST bulk build speed, the cost of one incremental write at
//! 100k records (MST update, commit build and signature, no database), full CAR export speed and CAR
//! import verification speed. Run with `cargo run --release -p pocketpds-core --example repo_bench`
//! (optionally `-- <records>`; default 100000). Figures are printed, never asserted.

use std::time::{Duration, Instant};

use bytes::Bytes;
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::repo::car::{export_repo, import_car, CarLimits};
use pocketpds_core::repo::cbor;
use pocketpds_core::repo::cid::cid_for_cbor;
use pocketpds_core::repo::commit::Commit;
use pocketpds_core::repo::mst::Mst;
use pocketpds_core::repo::{BlockStore, MemoryBlockStore};
use pocketpds_core::syntax::Tid;
use rand::{RngExt, SeedableRng};

const DID: &str = "did:plc:bench7xq2vsrgwgnqg5dqgfv";

/// A post record of realistic size (about 150-250 bytes) and its key.
fn record(rng: &mut rand::rngs::StdRng) -> (String, Bytes) {
    let tid = Tid::from_parts(
        rng.random_range(1u64 << 50..1u64 << 52),
        rng.random_range(0..1024),
    )
    .expect("tid");
    let words = rng.random_range(8..30);
    let text: String = (0..words).map(|i| format!("word{} ", i * 7 % 13)).collect();
    let json = serde_json::json!({
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": "2026-11-23T12:00:00.000Z",
        "langs": ["en"],
    });
    let value = cbor::from_json(&json).expect("valid record");
    let bytes = cbor::encode(&value).expect("encodes");
    (format!("app.bsky.feed.post/{tid}"), Bytes::from(bytes))
}

fn per_sec(count: f64, d: Duration) -> f64 {
    count / d.as_secs_f64()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(run(n));
}

async fn run(n: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let store = MemoryBlockStore::new();
    let key = Keypair::generate(Algorithm::K256).expect("key");
    println!("repo benchmark: {n} records, 2 figures per line are total and rate");

    // Records (not timed).
    let mut entries = Vec::with_capacity(n);
    let mut blocks = Vec::with_capacity(n);
    for _ in 0..n {
        let (k, bytes) = record(&mut rng);
        let cid = cid_for_cbor(&bytes);
        entries.push((k, cid));
        blocks.push((cid, bytes));
    }
    store.put_many(blocks).await.expect("store");

    // 1. Bulk build.
    let start = Instant::now();
    let mut mst = Mst::from_entries(entries.clone()).expect("build");
    let root = mst.root();
    let built = start.elapsed();
    println!(
        "mst bulk build:        {:>9.1} ms  {:>12.0} keys/s",
        built.as_secs_f64() * 1e3,
        per_sec(n as f64, built)
    );
    store.put_many(mst.take_blocks()).await.expect("store");
    let rev = Tid::next().to_string();
    let signed = Commit::sign(DID, root, &rev, None, &key);
    store
        .put(signed.cid, signed.bytes.clone())
        .await
        .expect("store");

    // 2. Incremental writes on the 100k tree: MST update + commit build + signature.
    let writes = 2_000;
    let mut fresh = Vec::with_capacity(writes);
    for _ in 0..writes {
        let (k, bytes) = record(&mut rng);
        fresh.push((k, cid_for_cbor(&bytes)));
    }
    let mut tree = Mst::load(root);
    // Warm the cache the way a running node would have it.
    tree.get(&store, &entries[0].0).await.expect("get");
    let mut rev = Tid::next();
    let mut sign_time = Duration::ZERO;
    let mut mst_time = Duration::ZERO;
    let start = Instant::now();
    for (k, cid) in &fresh {
        let m = Instant::now();
        tree.put(&store, k, *cid).await.expect("put");
        mst_time += m.elapsed();
        let new_blocks = tree.take_blocks();
        rev = Tid::next_after(&rev).expect("tid");
        let s = Instant::now();
        let commit = Commit::sign(DID, tree.root(), &rev.to_string(), None, &key);
        sign_time += s.elapsed();
        store.put_many(new_blocks).await.expect("store");
        std::hint::black_box(commit);
    }
    let took = start.elapsed();
    println!(
        "incremental write:     {:>9.1} µs/write (MST update {:.1} µs, commit+signature {:.1} µs) at {n} records",
        took.as_secs_f64() * 1e6 / writes as f64,
        mst_time.as_secs_f64() * 1e6 / writes as f64,
        sign_time.as_secs_f64() * 1e6 / writes as f64
    );

    // 3. Full CAR export of the original repository.
    let mut best_export = Duration::MAX;
    let mut car = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let (out, _) = export_repo(&store, signed.cid, Vec::with_capacity(car.capacity()))
            .await
            .expect("export");
        best_export = best_export.min(start.elapsed());
        car = out;
    }
    let mb = car.len() as f64 / 1e6;
    println!(
        "car export:            {:>9.1} ms  {:>9.1} MB/s  ({mb:.1} MB)",
        best_export.as_secs_f64() * 1e3,
        mb / best_export.as_secs_f64()
    );

    // 4. Import verification: read the CAR (hash every block), then check signature, tree and records.
    let public = key.public_key();
    let mut best_verify = Duration::MAX;
    for _ in 0..3 {
        let target = MemoryBlockStore::new();
        let start = Instant::now();
        let verified = import_car(&car[..], CarLimits::default(), &target, DID, &public)
            .await
            .expect("verifies");
        best_verify = best_verify.min(start.elapsed());
        assert_eq!(verified.records, n as u64);
    }
    println!(
        "car import verify:     {:>9.1} ms  {:>9.1} MB/s",
        best_verify.as_secs_f64() * 1e3,
        mb / best_verify.as_secs_f64()
    );
}
