//! The repository write path on a real libSQL file: commits through the record index and the MST,
//! swaps, exports that verify, `#commit` events a consumer can check inductively, rollback of a
//! failed commit, and writers racing on one head (tasks, connections, two handles on one file).
mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ipld_core::ipld::Ipld;
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::repo::car::{export_repo, import_car, read_car, verify_repo, CarLimits};
use pocketpds_core::repo::cbor;
use pocketpds_core::repo::cid::Cid;
use pocketpds_core::repo::commit::Commit;
use pocketpds_core::repo::mst::{verify_key_proof, Mst};
use pocketpds_core::repo::writer::{prepare_commit, Action, Record, WriteError, WriteOp};
use pocketpds_core::repo::{BlockStore, MemoryBlockStore};
use pocketpds_core::storage::events::{self, EventKind};
use pocketpds_core::storage::{Announce, ApplyError, RepoStore, Storage, StorageError};
use pocketpds_core::syntax::{Did, Nsid, RecordKey, Tid};
use tempfile::TempDir;

const ALICE: &str = "did:plc:alice2xq2vsrgwgnqg5dqgfv";
const BOB: &str = "did:plc:bobbb2xq2vsrgwgnqg5dqgfv";
const POST: &str = "app.bsky.feed.post";
const LIKE: &str = "app.bsky.feed.like";

struct Fixture {
    dir: TempDir,
    storage: Storage,
    repos: RepoStore,
    did: Did,
    key: Keypair,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(&dir.path().join("pds.sqlite"))
        .await
        .unwrap();
    let repos = RepoStore::new(storage.connect().await.unwrap());
    let did = Did::parse(ALICE).unwrap();
    let key = Keypair::generate(Algorithm::K256).unwrap();
    repos
        .create_repo(&did, &key, Announce::CommitOnly)
        .await
        .unwrap();
    Fixture {
        dir,
        storage,
        repos,
        did,
        key,
    }
}

fn record(text: &str) -> Record {
    Record::from_json(&serde_json::json!({
        "$type": POST,
        "text": text,
        "createdAt": "2026-01-01T00:00:00.000Z",
    }))
    .unwrap()
}

fn create(collection: &str, rkey: &str, text: &str) -> WriteOp {
    WriteOp::Create {
        collection: Nsid::parse(collection).unwrap(),
        rkey: RecordKey::parse(rkey).unwrap(),
        record: record(text),
    }
}

fn update(rkey: &str, text: &str, swap_record: Option<Cid>) -> WriteOp {
    WriteOp::Update {
        collection: Nsid::parse(POST).unwrap(),
        rkey: RecordKey::parse(rkey).unwrap(),
        record: record(text),
        swap_record,
    }
}

fn delete(rkey: &str, swap_record: Option<Cid>) -> WriteOp {
    WriteOp::Delete {
        collection: Nsid::parse(POST).unwrap(),
        rkey: RecordKey::parse(rkey).unwrap(),
        swap_record,
    }
}

async fn count(storage: &Storage, sql: &str) -> u64 {
    let mut rows = storage.connection().query(sql, ()).await.unwrap();
    rows.next().await.unwrap().unwrap().get::<u64>(0).unwrap()
}

fn field<'a>(value: &'a Ipld, name: &str) -> &'a Ipld {
    match value {
        Ipld::Map(m) => m.get(name).unwrap_or(&Ipld::Null),
        _ => &Ipld::Null,
    }
}

fn link(value: &Ipld) -> Option<Cid> {
    match value {
        Ipld::Link(c) => Some(*c),
        _ => None,
    }
}

fn string(value: &Ipld) -> Option<&str> {
    match value {
        Ipld::String(s) => Some(s),
        _ => None,
    }
}

/// Every record of a collection through the index, paging with the cursor.
async fn all_records(repos: &RepoStore, did: &str, collection: &str) -> BTreeMap<String, Cid> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = repos
            .list_records(did, collection, 7, cursor.as_deref(), true)
            .await
            .unwrap();
        for r in &page {
            assert_eq!(Record::from_cbor(r.bytes.clone()).unwrap().cid(), r.cid);
            out.insert(r.rkey.clone(), r.cid);
        }
        match page.last() {
            Some(last) if page.len() == 7 => cursor = Some(last.rkey.clone()),
            _ => return out,
        }
    }
}

/// The whole repository at its head, exported and verified as an importer would.
async fn export_and_verify(f: &Fixture, repos: &RepoStore, did: &str) -> BTreeMap<String, Cid> {
    export_and_verify_with(f, repos, did, &f.key).await
}

async fn export_and_verify_with(
    f: &Fixture,
    repos: &RepoStore,
    did: &str,
    key: &Keypair,
) -> BTreeMap<String, Cid> {
    let head = repos.head(did).await.unwrap().unwrap();
    let blocks = f.storage.block_store(did).await.unwrap();
    let (car, _) = export_repo(&blocks, head.commit, Vec::new()).await.unwrap();
    let imported = MemoryBlockStore::new();
    let verified = import_car(
        &car[..],
        CarLimits::default(),
        &imported,
        did,
        &key.public_key(),
    )
    .await
    .unwrap();
    assert_eq!(verified.commit_cid, head.commit);
    assert_eq!(verified.commit.rev, head.rev.to_string());
    let mut mst = Mst::load(head.data);
    mst.entries(&imported)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// The index's view of every record, keyed like the MST.
async fn index_view(repos: &RepoStore, did: &str) -> BTreeMap<String, Cid> {
    let mut out = BTreeMap::new();
    for collection in repos.list_collections(did).await.unwrap() {
        for (rkey, cid) in all_records(repos, did, &collection).await {
            out.insert(format!("{collection}/{rkey}"), cid);
        }
    }
    out
}

/// Checks every `#commit` event of `did` as a Sync 1.1 consumer would, and that they form one
/// chain ending at the head; returns how many there are.
async fn check_commit_events(f: &Fixture, repos: &RepoStore, did: &str) -> usize {
    let conn = f.storage.connect().await.unwrap();
    let mut after = 0;
    let mut previous: Option<(String, Cid, Cid)> = None; // (rev, commit, data)
    let mut checked = 0;
    loop {
        let page = events::read_after(&conn, after, 100).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for event in page
            .iter()
            .filter(|e| e.did == did && e.kind == EventKind::Commit)
        {
            let body = cbor::decode(&event.payload).unwrap();
            let (rev, commit, data) = check_commit_event(f, &body).await;
            match &previous {
                None => {
                    assert_eq!(field(&body, "since"), &Ipld::Null);
                    assert_eq!(field(&body, "prevData"), &Ipld::Null);
                }
                Some((prev_rev, _, prev_data)) => {
                    assert_eq!(string(field(&body, "since")), Some(prev_rev.as_str()));
                    assert_eq!(link(field(&body, "prevData")), Some(*prev_data));
                    assert!(rev.as_str() > prev_rev.as_str());
                }
            }
            previous = Some((rev, commit, data));
            checked += 1;
        }
    }
    let head = repos.head(did).await.unwrap().unwrap();
    let (rev, commit, _) = previous.expect("at least one commit event");
    assert_eq!(commit, head.commit);
    assert_eq!(rev, head.rev.to_string());
    checked
}

/// One `#commit` body: its CAR holds the signed commit, proves each op against the new root, and
/// inverting the ops with only those blocks gives back `prevData`.
async fn check_commit_event(f: &Fixture, body: &Ipld) -> (String, Cid, Cid) {
    let Ipld::Bytes(car) = field(body, "blocks") else {
        panic!("no blocks")
    };
    let (roots, blocks) = read_car(car, CarLimits::default()).unwrap();
    let commit_cid = link(field(body, "commit")).unwrap();
    assert_eq!(roots, vec![commit_cid]);
    let blocks: HashMap<Cid, Bytes> = blocks.into_iter().collect();
    let commit = Commit::decode(&blocks[&commit_cid]).unwrap();
    commit.verify(&f.key.public_key()).unwrap();
    assert_eq!(string(field(body, "rev")), Some(commit.rev.as_str()));
    assert_eq!(field(body, "rebase"), &Ipld::Bool(false));
    assert_eq!(field(body, "tooBig"), &Ipld::Bool(false));
    assert_eq!(field(body, "blobs"), &Ipld::List(vec![]));
    assert!(string(field(body, "time")).is_some());

    let Ipld::List(ops) = field(body, "ops") else {
        panic!("no ops")
    };
    let store = MemoryBlockStore::new();
    store
        .put_many(blocks.iter().map(|(c, b)| (*c, b.clone())).collect())
        .await
        .unwrap();
    let mut tree = Mst::load(commit.data);
    for op in ops {
        let path = string(field(op, "path")).unwrap();
        let cid = link(field(op, "cid"));
        let prev = link(field(op, "prev"));
        assert_eq!(verify_key_proof(&commit.data, path, &blocks).unwrap(), cid);
        match string(field(op, "action")).unwrap() {
            "create" => {
                assert!(cid.is_some() && prev.is_none());
                assert!(blocks.contains_key(&cid.unwrap()), "record block sent");
                tree.delete(&store, path).await.unwrap();
            }
            "update" => {
                assert!(blocks.contains_key(&cid.unwrap()), "record block sent");
                tree.put(&store, path, prev.unwrap()).await.unwrap();
            }
            "delete" => {
                assert!(cid.is_none());
                tree.put(&store, path, prev.unwrap()).await.unwrap();
            }
            other => panic!("unknown action {other}"),
        }
    }
    match link(field(body, "prevData")) {
        Some(prev_data) => assert_eq!(tree.root(), prev_data, "inverted ops give prevData"),
        None => assert!(ops.is_empty()),
    }
    (commit.rev, commit_cid, commit.data)
}

/// The commit chain guard's rows, from the first commit to the last, checked to link up.
async fn check_commit_chain(f: &Fixture, did: &str) -> usize {
    let mut rows = f
        .storage
        .connection()
        .query(
            "SELECT commit_cid, prev_commit FROM repo_commit WHERE did = ?1 ORDER BY rev",
            [did],
        )
        .await
        .unwrap();
    let mut previous = Vec::new();
    let mut n = 0;
    while let Some(row) = rows.next().await.unwrap() {
        let commit: Vec<u8> = row.get(0).unwrap();
        let prev: Vec<u8> = row.get(1).unwrap();
        assert_eq!(prev, previous, "commit {n} links to the one before");
        previous = commit;
        n += 1;
    }
    n
}

#[tokio::test]
async fn a_new_account_gets_an_empty_commit_and_the_reference_announcements() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(&dir.path().join("pds.sqlite"))
        .await
        .unwrap();
    let repos = RepoStore::new(storage.connect().await.unwrap());
    let did = Did::parse(BOB).unwrap();
    let key = Keypair::generate(Algorithm::P256).unwrap();
    let created = repos
        .create_repo(
            &did,
            &key,
            Announce::NewAccount {
                handle: Some("bob.test"),
            },
        )
        .await
        .unwrap();
    let head = repos.head(BOB).await.unwrap().unwrap();
    assert_eq!(created.head, head);
    assert_eq!(head.data, Mst::empty().root());

    let conn = storage.connection();
    let stored = events::read_after(conn, 0, 10).await.unwrap();
    let kinds: Vec<EventKind> = stored.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Identity,
            EventKind::Account,
            EventKind::Commit,
            EventKind::Sync
        ]
    );
    assert_eq!(stored[2].seq, created.seq);
    assert_eq!(events::last_seq(conn).await.unwrap(), Some(stored[3].seq));
    assert_eq!(events::first_seq(conn).await.unwrap(), Some(stored[0].seq));
    let identity = cbor::decode(&stored[0].payload).unwrap();
    assert_eq!(string(field(&identity, "handle")), Some("bob.test"));
    let account = cbor::decode(&stored[1].payload).unwrap();
    assert_eq!(field(&account, "active"), &Ipld::Bool(true));
    let sync = cbor::decode(&stored[3].payload).unwrap();
    let Ipld::Bytes(car) = field(&sync, "blocks") else {
        panic!("no blocks")
    };
    let (roots, blocks) = read_car(car, CarLimits::default()).unwrap();
    assert_eq!(roots, vec![head.commit]);
    assert_eq!(blocks.len(), 1);
    assert_eq!(
        string(field(&sync, "rev")),
        Some(head.rev.to_string().as_str())
    );

    // Each stored event becomes a frame whose body carries its seq.
    for event in &stored {
        let frame = event.frame().unwrap();
        let expected_header = cbor::encode(&Ipld::Map(BTreeMap::from([
            ("op".to_owned(), Ipld::Integer(1)),
            (
                "t".to_owned(),
                Ipld::String(event.kind.frame_type().to_owned()),
            ),
        ])))
        .unwrap();
        assert!(frame.starts_with(&expected_header));
        let body = cbor::decode(&frame[expected_header.len()..]).unwrap();
        assert_eq!(field(&body, "seq"), &Ipld::Integer(i128::from(event.seq)));
    }

    assert!(matches!(
        repos
            .create_repo(&did, &key, Announce::NewAccount { handle: None })
            .await,
        Err(WriteError::RepoExists(_))
    ));
    assert_eq!(events::read_after(conn, 0, 10).await.unwrap().len(), 4);
}

#[tokio::test]
async fn writing_to_an_account_without_a_repository_fails() {
    let f = fixture().await;
    let bob = Did::parse(BOB).unwrap();
    assert!(matches!(
        f.repos
            .write(&bob, &f.key, &[create(POST, "a", "a")], None)
            .await,
        Err(WriteError::RepoNotFound(_))
    ));
}

#[tokio::test]
async fn records_round_trip_through_the_index_and_the_tree() {
    let f = fixture().await;
    let result = f
        .repos
        .write(
            &f.did,
            &f.key,
            &[
                create(POST, "p1", "one"),
                create(POST, "p2", "two"),
                create(LIKE, "l1", "like"),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(result.ops.len(), 3);
    assert_eq!(result.ops[0].action, Action::Create);
    assert_eq!(
        result.ops[0].uri.as_str(),
        format!("at://{ALICE}/{POST}/p1")
    );
    let (cid, bytes) = f
        .repos
        .get_record(ALICE, POST, "p1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cid, record("one").cid());
    assert_eq!(&bytes, record("one").bytes());
    assert_eq!(
        f.repos.list_collections(ALICE).await.unwrap(),
        vec![LIKE.to_owned(), POST.to_owned()]
    );

    f.repos
        .write(&f.did, &f.key, &[update("p1", "changed", None)], None)
        .await
        .unwrap();
    f.repos
        .write(&f.did, &f.key, &[delete("p2", None)], None)
        .await
        .unwrap();
    assert_eq!(
        f.repos
            .get_record(ALICE, POST, "p1")
            .await
            .unwrap()
            .map(|r| r.0),
        Some(record("changed").cid())
    );
    assert_eq!(f.repos.get_record(ALICE, POST, "p2").await.unwrap(), None);
    assert_eq!(
        index_view(&f.repos, ALICE).await,
        export_and_verify(&f, &f.repos, ALICE).await
    );

    // Listing: newest key first by default, oldest first when reversed, and the cursor pages.
    let ops: Vec<WriteOp> = (0..5)
        .map(|i| create(LIKE, &format!("k{i}"), &format!("like {i}")))
        .collect();
    f.repos.write(&f.did, &f.key, &ops, None).await.unwrap();
    let keys = |records: Vec<pocketpds_core::storage::repo_store::StoredRecord>| {
        records.into_iter().map(|r| r.rkey).collect::<Vec<_>>()
    };
    let down = f
        .repos
        .list_records(ALICE, LIKE, 3, None, false)
        .await
        .unwrap();
    assert_eq!(keys(down), ["l1", "k4", "k3"]);
    let next = f
        .repos
        .list_records(ALICE, LIKE, 3, Some("k3"), false)
        .await
        .unwrap();
    assert_eq!(keys(next), ["k2", "k1", "k0"]);
    let up = f
        .repos
        .list_records(ALICE, LIKE, 2, Some("k1"), true)
        .await
        .unwrap();
    assert_eq!(keys(up), ["k2", "k3"]);
    assert!(f
        .repos
        .list_records(ALICE, "app.bsky.graph.follow", 10, None, false)
        .await
        .unwrap()
        .is_empty());
    // The other account sees none of it.
    assert!(f.repos.list_collections(BOB).await.unwrap().is_empty());
}

#[tokio::test]
async fn swaps_are_checked_against_the_stored_head_and_records() {
    let f = fixture().await;
    let first = f
        .repos
        .write(&f.did, &f.key, &[create(POST, "s", "one")], None)
        .await
        .unwrap();
    let stale = f.repos.head(ALICE).await.unwrap().unwrap().commit;
    assert_eq!(stale, first.head.commit);
    f.repos
        .write(&f.did, &f.key, &[create(POST, "t", "two")], Some(stale))
        .await
        .unwrap();
    let refused = f
        .repos
        .write(&f.did, &f.key, &[create(POST, "u", "three")], Some(stale))
        .await;
    assert!(matches!(
        refused,
        Err(WriteError::InvalidSwap { path: None, .. })
    ));
    let refused = f
        .repos
        .write(
            &f.did,
            &f.key,
            &[delete("s", Some(record("nope").cid()))],
            None,
        )
        .await;
    assert!(matches!(
        refused,
        Err(WriteError::InvalidSwap { path: Some(_), current: Some(c) }) if c == record("one").cid()
    ));
    assert!(f
        .repos
        .get_record(ALICE, POST, "s")
        .await
        .unwrap()
        .is_some());
    assert_eq!(f.repos.get_record(ALICE, POST, "u").await.unwrap(), None);
}

#[tokio::test]
async fn the_exported_repository_verifies_after_many_writes() {
    let f = fixture().await;
    let mut live: Vec<String> = Vec::new();
    let mut next = 0u32;
    for round in 0..60u32 {
        let mut ops = Vec::new();
        for _ in 0..(round % 5 + 1) {
            let rkey = Tid::from_parts(1_700_000_000_000_000 + u64::from(next) * 7919, 0)
                .unwrap()
                .to_string();
            ops.push(create(POST, &rkey, &format!("post {next}")));
            live.push(rkey);
            next += 1;
        }
        if round % 3 == 2 {
            let victim = live.remove((round as usize * 7) % live.len());
            if !ops.iter().any(|op| op.rkey().as_str() == victim.as_str()) {
                ops.push(delete(&victim, None));
            }
        }
        if round % 4 == 3 && live.len() > 3 {
            let target = live[(round as usize * 5) % live.len()].clone();
            if !ops.iter().any(|op| op.rkey().as_str() == target.as_str()) {
                ops.push(update(&target, &format!("edited in {round}"), None));
            }
        }
        f.repos.write(&f.did, &f.key, &ops, None).await.unwrap();
    }
    let exported = export_and_verify(&f, &f.repos, ALICE).await;
    assert_eq!(exported.len(), live.len());
    assert_eq!(exported, index_view(&f.repos, ALICE).await);
    assert_eq!(check_commit_events(&f, &f.repos, ALICE).await, 61);
    assert_eq!(check_commit_chain(&f, ALICE).await, 61);
}

#[tokio::test]
async fn blocks_since_a_revision_complete_a_copy_taken_at_that_revision() {
    let f = fixture().await;
    let ops: Vec<WriteOp> = (0..40)
        .map(|i| create(POST, &format!("a{i:02}"), &format!("first {i}")))
        .collect();
    f.repos.write(&f.did, &f.key, &ops, None).await.unwrap();
    let then = f.repos.head(ALICE).await.unwrap().unwrap();
    let blocks = f.storage.block_store(ALICE).await.unwrap();
    let (old_car, _) = export_repo(&blocks, then.commit, Vec::new()).await.unwrap();

    f.repos
        .write(&f.did, &f.key, &[create(POST, "b1", "later")], None)
        .await
        .unwrap();
    f.repos
        .write(
            &f.did,
            &f.key,
            &[update("a05", "edited", None), delete("a06", None)],
            None,
        )
        .await
        .unwrap();
    // A record deleted and created again with the same content comes back as the same block.
    f.repos
        .write(&f.did, &f.key, &[delete("a07", None)], None)
        .await
        .unwrap();
    f.repos
        .write(&f.did, &f.key, &[create(POST, "a07", "first 7")], None)
        .await
        .unwrap();
    let now = f.repos.head(ALICE).await.unwrap().unwrap();

    let copy = MemoryBlockStore::new();
    let (_, old_blocks) = read_car(&old_car, CarLimits::default()).unwrap();
    copy.put_many(old_blocks).await.unwrap();
    let since = then.rev.to_string();
    let mut after = None;
    let mut fetched = Vec::new();
    loop {
        let page = f
            .repos
            .blocks_since(ALICE, &since, after.as_ref(), 3)
            .await
            .unwrap();
        fetched.extend(page.iter().cloned());
        match page.last() {
            Some(last) if page.len() == 3 => after = Some(last.clone()),
            _ => break,
        }
    }
    assert!(fetched.iter().all(|b| b.rev > since));
    let one_page = f
        .repos
        .blocks_since(ALICE, &since, None, 1000)
        .await
        .unwrap();
    assert_eq!(fetched, one_page);
    assert!(fetched.iter().any(|b| b.cid == now.commit));
    copy.put_many(fetched.into_iter().map(|b| (b.cid, b.bytes)).collect())
        .await
        .unwrap();
    verify_repo(&copy, now.commit, ALICE, &f.key.public_key())
        .await
        .unwrap();
    // Nothing is newer than the head.
    assert!(f
        .repos
        .blocks_since(ALICE, &now.rev.to_string(), None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// The row counts and head that a failed commit must leave alone.
async fn snapshot(f: &Fixture) -> (Vec<u64>, Option<pocketpds_core::repo::writer::RepoHead>) {
    let mut counts = Vec::new();
    for table in ["repo_block", "record", "event", "repo_commit"] {
        counts.push(count(&f.storage, &format!("SELECT COUNT(*) FROM {table}")).await);
    }
    (counts, f.repos.head(ALICE).await.unwrap())
}

#[tokio::test]
async fn a_failure_in_the_middle_of_a_commit_leaves_nothing_behind() {
    let f = fixture().await;
    f.repos
        .write(&f.did, &f.key, &[create(POST, "kept", "kept")], None)
        .await
        .unwrap();
    let before = snapshot(&f).await;
    let conn = f.storage.connection();
    // The event is appended after the head, the chain guard, the blocks and the index are written.
    for trigger in [
        "CREATE TRIGGER fail BEFORE INSERT ON event BEGIN SELECT RAISE(ABORT, 'injected'); END",
        "CREATE TRIGGER fail BEFORE INSERT ON record BEGIN SELECT RAISE(ABORT, 'injected'); END",
        "CREATE TRIGGER fail BEFORE DELETE ON record BEGIN SELECT RAISE(ABORT, 'injected'); END",
    ] {
        conn.execute(trigger, ()).await.unwrap();
        let failed = f
            .repos
            .write(
                &f.did,
                &f.key,
                &[create(POST, "lost", "lost"), delete("kept", None)],
                None,
            )
            .await;
        assert!(
            matches!(&failed, Err(WriteError::Store(e)) if e.to_string().contains("injected")),
            "{failed:?}"
        );
        assert_eq!(snapshot(&f).await, before);
        assert_eq!(f.repos.get_record(ALICE, POST, "lost").await.unwrap(), None);
        conn.execute("DROP TRIGGER fail", ()).await.unwrap();
    }
    // The store's connection is usable again, and the write now lands.
    f.repos
        .write(&f.did, &f.key, &[create(POST, "lost", "lost")], None)
        .await
        .unwrap();
    assert_eq!(check_commit_events(&f, &f.repos, ALICE).await, 3);
}

#[tokio::test]
async fn a_commit_prepared_on_a_stale_head_is_refused_and_changes_nothing() {
    let f = fixture().await;
    let did = f.did.clone();
    let head = f.repos.head(ALICE).await.unwrap().unwrap();
    let blocks = f.repos.blocks(ALICE);
    let one = prepare_commit(
        &blocks,
        &did,
        &f.key,
        Some(&head),
        &[create(POST, "one", "one")],
        None,
    )
    .await
    .unwrap();
    let two = prepare_commit(
        &blocks,
        &did,
        &f.key,
        Some(&head),
        &[create(POST, "two", "two")],
        None,
    )
    .await
    .unwrap();
    f.repos.apply(&one).await.unwrap();
    let before = snapshot(&f).await;
    assert!(matches!(
        f.repos.apply(&two).await,
        Err(ApplyError::HeadMoved)
    ));
    assert_eq!(snapshot(&f).await, before);

    // Even if the head were put back (a restored backup, a buggy tool), the chain guard refuses a
    // second child of the same parent.
    f.storage
        .connection()
        .execute(
            "UPDATE repo_root SET commit_cid = ?1, data_cid = ?2, rev = ?3 WHERE did = ?4",
            (
                head.commit.to_bytes(),
                head.data.to_bytes(),
                head.rev.to_string(),
                ALICE,
            ),
        )
        .await
        .unwrap();
    let before = snapshot(&f).await;
    assert!(matches!(
        f.repos.apply(&two).await,
        Err(ApplyError::HeadMoved)
    ));
    assert_eq!(snapshot(&f).await, before);
}

#[tokio::test]
async fn a_damaged_head_row_is_reported_as_corruption() {
    let f = fixture().await;
    let conn = f.storage.connection();
    let head = f.repos.head(ALICE).await.unwrap().unwrap();
    for damage in [
        "UPDATE repo_root SET commit_cid = x'0171'",
        "UPDATE repo_root SET commit_cid = 'text, not a blob'",
        "UPDATE repo_root SET rev = 'not-a-tid'",
        "UPDATE repo_root SET rev = 42",
    ] {
        conn.execute(damage, ()).await.unwrap();
        assert!(
            matches!(f.repos.head(ALICE).await, Err(StorageError::Corrupt(_))),
            "{damage}"
        );
        assert!(matches!(
            f.repos
                .write(&f.did, &f.key, &[create(POST, "x", "x")], None)
                .await,
            Err(WriteError::Store(_))
        ));
        conn.execute(
            "UPDATE repo_root SET commit_cid = ?1, rev = ?2",
            (head.commit.to_bytes(), head.rev.to_string()),
        )
        .await
        .unwrap();
    }
    assert!(f.repos.head(ALICE).await.unwrap().is_some());
}

/// Checks a repository after concurrent writers: each acknowledged record is in the tree and the
/// index, nothing else is, and the commits form one chain.
async fn check_after_race(f: &Fixture, acknowledged: &BTreeMap<String, Cid>, commits: usize) {
    let exported = export_and_verify(f, &f.repos, ALICE).await;
    assert_eq!(&exported, acknowledged);
    assert_eq!(&index_view(&f.repos, ALICE).await, acknowledged);
    assert_eq!(check_commit_chain(f, ALICE).await, commits + 1);
    assert_eq!(check_commit_events(f, &f.repos, ALICE).await, commits + 1);
}

/// Runs one task of `each` single-record writes per store; returns the acknowledged records, their
/// number and the number of writes that gave up (only contention may refuse a write).
async fn race(
    f: &Fixture,
    stores: Vec<RepoStore>,
    each: usize,
) -> (BTreeMap<String, Cid>, usize, usize) {
    let key = Arc::new(f.key.clone());
    let mut tasks = Vec::new();
    for (writer, store) in stores.into_iter().enumerate() {
        let (did, key) = (f.did.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let (mut refused, mut rebuilt) = (0, 0);
            for i in 0..each {
                let rkey = format!("w{writer}-{i:03}");
                let op = create(POST, &rkey, &rkey);
                match store.write(&did, &key, &[op], None).await {
                    Ok(result) => {
                        rebuilt += result.attempts - 1;
                        acked.push((format!("{POST}/{rkey}"), result.ops[0].cid.unwrap()));
                    }
                    Err(WriteError::Contention { .. }) => refused += 1,
                    Err(other) => panic!("write failed: {other}"),
                }
            }
            (acked, refused, rebuilt)
        }));
    }
    let mut acknowledged = BTreeMap::new();
    let (mut commits, mut refused, mut rebuilt) = (0, 0, 0);
    for task in tasks {
        let (acked, r, b) = task.await.unwrap();
        commits += acked.len();
        refused += r;
        rebuilt += b;
        acknowledged.extend(acked);
    }
    eprintln!("{commits} writes acknowledged after {rebuilt} rebuilds, {refused} gave up");
    (acknowledged, commits, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_sharing_one_store_write_concurrently_and_lose_nothing() {
    let f = fixture().await;
    let stores = vec![f.repos.clone(); 6];
    let (acknowledged, commits, refused) = race(&f, stores, 8).await;
    // Writes through one store take turns: none has to give up.
    assert_eq!(refused, 0);
    assert_eq!(commits, 48);
    check_after_race(&f, &acknowledged, commits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_on_their_own_connections_race_on_one_head_and_every_acknowledged_write_survives() {
    let f = fixture().await;
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(RepoStore::new(f.storage.connect().await.unwrap()));
    }
    let (acknowledged, commits, refused) = race(&f, stores, 10).await;
    assert_eq!(commits + refused, 40);
    assert!(commits >= 20, "most writes get through");
    check_after_race(&f, &acknowledged, commits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_race_like_two_nodes_and_keep_one_chain() {
    let f = fixture().await;
    let second = Storage::open_local(&f.dir.path().join("pds.sqlite"))
        .await
        .unwrap();
    let mut stores = Vec::new();
    for i in 0..4 {
        let storage = if i % 2 == 0 { &f.storage } else { &second };
        stores.push(RepoStore::new(storage.connect().await.unwrap()));
    }
    let (acknowledged, commits, refused) = race(&f, stores, 10).await;
    assert_eq!(commits + refused, 40);
    assert!(commits >= 20, "most writes get through");
    check_after_race(&f, &acknowledged, commits).await;
    // The second node sees the same head.
    assert_eq!(
        RepoStore::new(second.connect().await.unwrap())
            .head(ALICE)
            .await
            .unwrap(),
        f.repos.head(ALICE).await.unwrap()
    );
}

#[tokio::test]
#[ignore = "prints a timing; run with --ignored --nocapture"]
async fn sequential_single_record_writes_per_second() {
    let f = fixture().await;
    let n = 500;
    let started = Instant::now();
    for i in 0..n {
        let rkey = Tid::next().to_string();
        f.repos
            .write(
                &f.did,
                &f.key,
                &[create(POST, &rkey, &format!("post {i}"))],
                None,
            )
            .await
            .unwrap();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{n} sequential single-record writes in {elapsed:?}: {:.0} writes/s",
        f64::from(n) / elapsed.as_secs_f64()
    );
}

#[tokio::test]
async fn a_version_1_database_is_upgraded_and_its_old_blocks_carry_no_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pds.sqlite");
    let old = Bytes::from_static(b"\xa1aa\x01");
    let old_cid = pocketpds_core::repo::cid::cid_for_cbor(&old);
    {
        let db = libsql::Builder::new_local(&path).build().await.unwrap();
        let conn = db.connect().unwrap();
        let v1 = &pocketpds_core::storage::MIGRATIONS[..1];
        assert_eq!(
            pocketpds_core::storage::apply_migrations(&conn, v1)
                .await
                .unwrap(),
            1
        );
        conn.execute(
            "INSERT INTO repo_block (did, cid, bytes) VALUES (?1, ?2, ?3)",
            (ALICE, old_cid.to_bytes(), old.to_vec()),
        )
        .await
        .unwrap();
    }
    let storage = Storage::open_local(&path).await.unwrap();
    let repos = RepoStore::new(storage.connect().await.unwrap());
    assert_eq!(repos.blocks(ALICE).get(&old_cid).await.unwrap(), Some(old));
    let did = Did::parse(ALICE).unwrap();
    let key = Keypair::generate(Algorithm::K256).unwrap();
    let created = repos
        .create_repo(&did, &key, Announce::CommitOnly)
        .await
        .unwrap();
    // Every block the first commit wrote is listed since the smallest revision; the old one is not.
    let since = repos
        .blocks_since(ALICE, "2222222222222", None, 100)
        .await
        .unwrap();
    assert_eq!(since.len(), 2);
    assert!(since.iter().all(|b| b.rev == created.head.rev.to_string()));
    assert!(since.iter().all(|b| b.cid != old_cid));
}

#[tokio::test]
async fn a_deleted_repository_leaves_only_its_deletion_event_and_can_be_created_again() {
    let f = fixture().await;
    f.repos
        .write(&f.did, &f.key, &[create(POST, "p", "p")], None)
        .await
        .unwrap();
    // Another account's data stays.
    let bob = Did::parse(BOB).unwrap();
    f.repos
        .create_repo(&bob, &f.key, Announce::CommitOnly)
        .await
        .unwrap();
    let seq = f.repos.delete_repo(&f.did).await.unwrap();
    assert_eq!(f.repos.head(ALICE).await.unwrap(), None);
    for table in ["repo_root", "repo_commit", "record", "repo_block"] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE did = '{ALICE}'");
        assert_eq!(count(&f.storage, &sql).await, 0, "{table}");
    }
    let conn = f.storage.connection();
    let left: Vec<_> = events::read_after(conn, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.did == ALICE)
        .collect();
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].seq, left[0].kind), (seq, EventKind::Account));
    let body = cbor::decode(&left[0].payload).unwrap();
    assert_eq!(field(&body, "active"), &Ipld::Bool(false));
    assert_eq!(string(field(&body, "status")), Some("deleted"));
    assert!(f.repos.head(BOB).await.unwrap().is_some());

    f.repos
        .create_repo(&f.did, &f.key, Announce::CommitOnly)
        .await
        .unwrap();
    assert_eq!(f.repos.get_record(ALICE, POST, "p").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_stored_in_groups_and_a_failing_write_fails_alone() {
    let f = fixture().await;
    let bob = Did::parse(BOB).unwrap();
    let bob_key = Keypair::generate(Algorithm::P256).unwrap();
    f.repos
        .create_repo(&bob, &bob_key, Announce::CommitOnly)
        .await
        .unwrap();
    let (key, bob_key) = (Arc::new(f.key.clone()), Arc::new(bob_key));
    let mut tasks = Vec::new();
    for i in 0..96usize {
        let store = f.repos.clone();
        let (alice, bob) = (f.did.clone(), bob.clone());
        let (key, bob_key) = (key.clone(), bob_key.clone());
        tasks.push(tokio::spawn(async move {
            let rkey = format!("g{i:03}");
            let outcome = match i % 8 {
                // Deleting a record that was never written fails to build.
                3 => {
                    store
                        .write(&alice, &key, &[delete("never-written", None)], None)
                        .await
                }
                5 => {
                    store
                        .write(&bob, &bob_key, &[create(POST, &rkey, &rkey)], None)
                        .await
                }
                _ => {
                    store
                        .write(&alice, &key, &[create(POST, &rkey, &rkey)], None)
                        .await
                }
            };
            (i, rkey, outcome)
        }));
    }
    let (mut alice_acked, mut bob_acked) = (BTreeMap::new(), BTreeMap::new());
    let mut largest_group = 0;
    let mut seqs = Vec::new();
    for task in tasks {
        let (i, rkey, outcome) = task.await.unwrap();
        match (i % 8, outcome) {
            (3, Err(WriteError::RecordNotFound(_))) => {}
            (3, other) => panic!("write {i} should fail alone, got {other:?}"),
            (kind, Ok(result)) => {
                largest_group = largest_group.max(result.group);
                seqs.push(result.seq);
                let acked = if kind == 5 {
                    &mut bob_acked
                } else {
                    &mut alice_acked
                };
                acked.insert(format!("{POST}/{rkey}"), result.ops[0].cid.unwrap());
            }
            (_, Err(err)) => panic!("write {i} failed: {err}"),
        }
    }
    assert_eq!(alice_acked.len(), 72);
    assert_eq!(bob_acked.len(), 12);
    assert!(
        largest_group > 1,
        "96 writes issued at once were stored one transaction each"
    );
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 84, "every commit has its own event");
    check_after_race(&f, &alice_acked, 72).await;
    assert_eq!(
        export_and_verify_with(&f, &f.repos, BOB, &bob_key).await,
        bob_acked
    );
    eprintln!("largest group: {largest_group} commits in one transaction");
}

#[tokio::test]
async fn blocks_are_fetched_many_at_a_time_and_missing_ones_are_left_out() {
    let f = fixture().await;
    let ops: Vec<WriteOp> = (0..150)
        .map(|i| create(POST, &format!("m{i:03}"), &format!("record {i}")))
        .collect();
    let first = f.repos.write(&f.did, &f.key, &ops, None).await.unwrap();
    let ops: Vec<WriteOp> = (150..300)
        .map(|i| create(POST, &format!("m{i:03}"), &format!("record {i}")))
        .collect();
    let second = f.repos.write(&f.did, &f.key, &ops, None).await.unwrap();
    let mut wanted: Vec<Cid> = first
        .ops
        .iter()
        .chain(&second.ops)
        .map(|op| op.cid.unwrap())
        .collect();
    let absent = pocketpds_core::repo::cid::cid_for_raw(b"never stored");
    wanted.push(absent);
    let blocks = f.repos.blocks(ALICE);
    // More than one query's worth: 300 present, one absent.
    let got = blocks.get_many(&wanted).await.unwrap();
    assert_eq!(got.len(), 300);
    for (cid, bytes) in &got {
        assert_ne!(*cid, absent);
        assert_eq!(blocks.get(cid).await.unwrap().as_ref(), Some(bytes));
    }
    // Another account's blocks are not this one's.
    assert!(f
        .repos
        .blocks(BOB)
        .get_many(&wanted)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_stored_commit_s_blocks_are_served_from_memory_until_the_repository_is_deleted() {
    let f = fixture().await;
    let result = f
        .repos
        .write(&f.did, &f.key, &[create(POST, "cached", "hello")], None)
        .await
        .unwrap();
    let root = result.head.commit;
    // Take the block away behind the store's back: only its cache can still answer.
    f.storage
        .connection()
        .execute(
            "DELETE FROM repo_block WHERE did = ?1 AND cid = ?2",
            (ALICE, root.to_bytes()),
        )
        .await
        .unwrap();
    let cached = f.repos.blocks(ALICE).get(&root).await.unwrap();
    assert!(cached.is_some(), "the new commit was not kept in memory");
    let fresh = RepoStore::new(f.storage.connect().await.unwrap());
    assert_eq!(fresh.blocks(ALICE).get(&root).await.unwrap(), None);
    // Another account does not see it.
    assert_eq!(f.repos.blocks(BOB).get(&root).await.unwrap(), None);
    f.repos.delete_repo(&f.did).await.unwrap();
    assert_eq!(f.repos.blocks(ALICE).get(&root).await.unwrap(), None);
}
