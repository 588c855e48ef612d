//! Embedded replicas of a real libSQL primary (`sqld`): commits stored as one batch reach the
//! primary and every replica; replicas racing on one head keep the chain linear and lose no write;
//! a primary that goes away fails writes within the time limit while reads go on, and writes work
//! again once it is back; a rejected token, an unreachable URL and a replaced primary are named.
mod common;

use std::time::{Duration, Instant};

use common::sqld::{free_port, sqld_bin, Sqld};
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::repo::writer::{Record, WriteError, WriteOp};
use pocketpds_core::storage::{Announce, Primary, RepoStore, Storage, StorageError};
use pocketpds_core::syntax::{Did, Nsid, RecordKey, Tid};

const ALICE: &str = "did:plc:alice2xq2vsrgwgnqg5dqgfv";
const POST: &str = "app.bsky.feed.post";

fn primary(sqld: &Sqld) -> Primary {
    Primary {
        url: sqld.url(),
        auth_token: String::new(),
    }
}

async fn replica(dir: &std::path::Path, name: &str, primary: &Primary) -> (Storage, RepoStore) {
    let storage = Storage::open_replica(&dir.join(name), primary)
        .await
        .expect("open replica");
    let repos = RepoStore::new(storage.connect().await.unwrap())
        .with_replication(storage.replication().clone());
    (storage, repos)
}

fn post(text: &str) -> WriteOp {
    WriteOp::Create {
        collection: Nsid::parse(POST).unwrap(),
        rkey: RecordKey::parse(&Tid::next().to_string()).unwrap(),
        record: Record::from_json(&serde_json::json!({
            "$type": POST,
            "text": text,
            "createdAt": "2026-01-01T00:00:00.000Z",
        }))
        .unwrap(),
    }
}

/// The commit chain of `did` as the primary holds it, read through a replica: each commit's
/// parent, in sequence order.
async fn chain(storage: &Storage, did: &str) -> Vec<(Vec<u8>, Vec<u8>, u64)> {
    storage.replication().sync().await.unwrap();
    let mut rows = storage
        .connection()
        .query(
            "SELECT commit_cid, prev_commit, seq FROM repo_commit WHERE did = ?1 ORDER BY seq",
            [did],
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.unwrap() {
        out.push((
            row.get::<Vec<u8>>(0).unwrap(),
            row.get::<Vec<u8>>(1).unwrap(),
            row.get::<i64>(2).unwrap() as u64,
        ));
    }
    out
}

fn assert_linear(chain: &[(Vec<u8>, Vec<u8>, u64)]) {
    for pair in chain.windows(2) {
        assert_eq!(
            pair[1].1, pair[0].0,
            "a commit does not build on the one before it"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_commits_and_racing_writers_keep_the_chain_linear() {
    let Some(bin) = sqld_bin("replicas_share_commits_and_racing_writers_keep_the_chain_linear")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqld = Sqld::start(&bin, &dir.path().join("sqld"));
    let primary = primary(&sqld);
    let (a, repos_a) = replica(dir.path(), "a.db", &primary).await;
    let (b, repos_b) = replica(dir.path(), "b.db", &primary).await;
    let did = Did::parse(ALICE).unwrap();
    let key = Keypair::generate(Algorithm::K256).unwrap();
    repos_a
        .create_repo(&did, &key, Announce::CommitOnly)
        .await
        .unwrap();

    // A commit on A is readable on A at once (read-your-writes) and on B after its sync.
    let first = repos_a
        .write(&did, &key, &[post("from a")], None)
        .await
        .unwrap();
    assert_eq!(repos_a.head(ALICE).await.unwrap(), Some(first.head));
    b.replication().sync().await.unwrap();
    assert_eq!(repos_b.head(ALICE).await.unwrap(), Some(first.head));

    // Both replicas write at once, 20 writes each: every write is stored, no two commits share a
    // parent, and the sequence numbers of the commits are those the primary gave.
    let write_all = |repos: RepoStore, label: &'static str| {
        let did = did.clone();
        let key = key.clone();
        tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..20 {
                let result = repos
                    .write(&did, &key, &[post(&format!("{label} {i}"))], None)
                    .await
                    .expect("an acknowledged write");
                seqs.push(result.seq);
            }
            seqs
        })
    };
    let (seqs_a, seqs_b) = tokio::join!(
        write_all(repos_a.clone(), "a"),
        write_all(repos_b.clone(), "b")
    );
    let mut acknowledged: Vec<u64> = seqs_a.unwrap().into_iter().chain(seqs_b.unwrap()).collect();
    acknowledged.sort_unstable();
    let chain_a = chain(&a, ALICE).await;
    let chain_b = chain(&b, ALICE).await;
    assert_eq!(chain_a, chain_b, "the replicas disagree");
    assert_eq!(
        chain_a.len(),
        1 + 1 + 40,
        "genesis, the first write and 40 racing writes"
    );
    assert_linear(&chain_a);
    let stored: Vec<u64> = chain_a.iter().map(|c| c.2).collect();
    for seq in &acknowledged {
        assert!(
            stored.contains(seq),
            "acknowledged seq {seq} is not in the chain"
        );
    }
    let records = repos_b
        .list_records(ALICE, POST, 100, None, false)
        .await
        .unwrap();
    assert_eq!(records.len(), 41);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_without_its_primary_reads_refuses_writes_in_time_and_recovers() {
    let Some(bin) =
        sqld_bin("a_replica_without_its_primary_reads_refuses_writes_in_time_and_recovers")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut sqld = Sqld::start(&bin, &dir.path().join("sqld"));
    let (storage, repos) = replica(dir.path(), "a.db", &primary(&sqld)).await;
    let did = Did::parse(ALICE).unwrap();
    let key = Keypair::generate(Algorithm::K256).unwrap();
    repos
        .create_repo(&did, &key, Announce::CommitOnly)
        .await
        .unwrap();
    let before = repos
        .write(&did, &key, &[post("before")], None)
        .await
        .unwrap();

    sqld.kill();
    let started = Instant::now();
    let err = repos
        .write(&did, &key, &[post("while away")], None)
        .await
        .expect_err("a write without the primary");
    let took = started.elapsed();
    assert!(matches!(err, WriteError::Unavailable(_)), "{err:?}");
    assert!(
        err.to_string().contains(&sqld.url()),
        "the error names the primary: {err}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "the write failed after {took:?}"
    );
    // Reads go on from the replica.
    assert_eq!(repos.head(ALICE).await.unwrap(), Some(before.head));
    let sync = storage.replication().sync().await.expect_err("no primary");
    assert!(
        matches!(sync, StorageError::PrimaryUnavailable(_)),
        "{sync:?}"
    );
    assert!(!storage.replication().status().reachable);

    sqld.restart();
    let mut after = None;
    for _ in 0..50 {
        match repos.write(&did, &key, &[post("after")], None).await {
            Ok(done) => {
                after = Some(done);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let after = after.expect("writes work again once the primary is back");
    assert!(after.seq > before.seq);
    assert!(storage.replication().status().reachable);
    let chain = chain(&storage, ALICE).await;
    assert_linear(&chain);
    assert_eq!(
        chain.len(),
        3,
        "genesis, before, after: the refused write left nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_primary_is_named_for_what_it_is() {
    let Some(bin) = sqld_bin("a_bad_primary_is_named_for_what_it_is") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // Nothing listens there.
    let nowhere = Primary {
        url: format!("http://127.0.0.1:{}", free_port()),
        auth_token: String::new(),
    };
    let started = Instant::now();
    let err = Storage::open_replica(&dir.path().join("x.db"), &nowhere)
        .await
        .err()
        .expect("no primary");
    assert!(started.elapsed() < Duration::from_secs(31));
    assert!(err.to_string().contains("unreachable"), "{err}");

    // A server that checks tokens refuses a token it did not sign.
    let key_file = dir.path().join("jwt.key");
    // An Ed25519 public key (32 bytes, URL-safe base64): any key will do, the token is garbage.
    std::fs::write(&key_file, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
    let guarded = Sqld::start_with(
        &bin,
        &dir.path().join("guarded"),
        &["--auth-jwt-key-file", key_file.to_str().unwrap()],
    );
    let rejected = Primary {
        url: guarded.url(),
        auth_token: "not-a-token".into(),
    };
    let err = Storage::open_replica(&dir.path().join("y.db"), &rejected)
        .await
        .err()
        .expect("a rejected token");
    assert!(err.to_string().contains("PDS_DATABASE_AUTH_TOKEN"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_refuses_a_primary_whose_database_was_replaced() {
    let Some(bin) = sqld_bin("a_replica_refuses_a_primary_whose_database_was_replaced") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut sqld = Sqld::start(&bin, &dir.path().join("sqld"));
    let (storage, repos) = replica(dir.path(), "a.db", &primary(&sqld)).await;
    let did = Did::parse(ALICE).unwrap();
    let key = Keypair::generate(Algorithm::K256).unwrap();
    repos
        .create_repo(&did, &key, Announce::CommitOnly)
        .await
        .unwrap();
    for i in 0..5 {
        repos
            .write(&did, &key, &[post(&format!("{i}"))], None)
            .await
            .unwrap();
    }
    sqld.replace_database();
    let err = storage
        .replication()
        .sync()
        .await
        .expect_err("another database");
    assert!(
        matches!(err, StorageError::PrimaryReplaced(_)),
        "the replica must notice the replaced database: {err:?}"
    );
    assert!(storage.replication().status().diverged);
    let write = repos
        .write(&did, &key, &[post("mixed")], None)
        .await
        .expect_err("refused");
    assert!(matches!(write, WriteError::Unavailable(_)), "{write:?}");
}
