//! Unit tests of commit building over a memory block store.

use std::collections::HashMap;

use ipld_core::ipld::Ipld;

use super::*;
use crate::crypto::Algorithm;
use crate::repo::car::{read_car, CarLimits};
use crate::repo::cbor;
use crate::repo::mst::verify_key_proof;
use crate::repo::MemoryBlockStore;
use crate::syntax::{Nsid, RecordKey};

const DID: &str = "did:plc:writertestaccount00000000";

fn did() -> Did {
    Did::parse(DID).unwrap()
}

fn key() -> Keypair {
    Keypair::generate(Algorithm::K256).unwrap()
}

fn record(text: &str) -> Record {
    Record::from_json(&serde_json::json!({"$type": "app.bsky.feed.post", "text": text})).unwrap()
}

fn nsid() -> Nsid {
    Nsid::parse("app.bsky.feed.post").unwrap()
}

fn rkey(k: &str) -> RecordKey {
    RecordKey::parse(k).unwrap()
}

fn create(k: &str, text: &str) -> WriteOp {
    WriteOp::Create {
        collection: nsid(),
        rkey: rkey(k),
        record: record(text),
    }
}

fn update(k: &str, text: &str, swap_record: Option<Cid>) -> WriteOp {
    WriteOp::Update {
        collection: nsid(),
        rkey: rkey(k),
        record: record(text),
        swap_record,
    }
}

fn put(k: &str, text: &str, swap_record: Option<Option<Cid>>) -> WriteOp {
    WriteOp::Put {
        collection: nsid(),
        rkey: rkey(k),
        record: record(text),
        swap_record,
    }
}

fn delete(k: &str, swap_record: Option<Cid>) -> WriteOp {
    WriteOp::Delete {
        collection: nsid(),
        rkey: rkey(k),
        swap_record,
    }
}

/// A repository in memory: prepares commits and stores them, as the storage layer would.
struct Repo {
    store: MemoryBlockStore,
    key: Keypair,
    head: Option<RepoHead>,
}

impl Repo {
    async fn new() -> Repo {
        let mut repo = Repo {
            store: MemoryBlockStore::new(),
            key: key(),
            head: None,
        };
        repo.write(&[], None).await.unwrap();
        repo
    }

    async fn write(
        &mut self,
        ops: &[WriteOp],
        swap: Option<Cid>,
    ) -> Result<PreparedCommit, WriteError> {
        let prepared = prepare_commit(
            &self.store,
            &did(),
            &self.key,
            self.head.as_ref(),
            ops,
            swap,
        )
        .await?;
        self.store.put_many(prepared.blocks.clone()).await.unwrap();
        self.head = Some(prepared.head());
        Ok(prepared)
    }

    async fn get(&self, k: &str) -> Option<Cid> {
        let head = self.head.unwrap();
        Mst::load(head.data)
            .get(&self.store, &format!("app.bsky.feed.post/{k}"))
            .await
            .unwrap()
    }
}

fn field<'a>(map: &'a Ipld, name: &str) -> Option<&'a Ipld> {
    match map {
        Ipld::Map(m) => m.get(name),
        _ => None,
    }
}

#[tokio::test]
async fn genesis_is_an_empty_signed_tree_with_an_event_without_history() {
    let key = key();
    let prepared = genesis(&did(), &key).await.unwrap();
    assert_eq!(prepared.commit.commit.data, Mst::empty().root());
    assert!(prepared.prev.is_none());
    assert!(prepared.ops.is_empty());
    prepared.commit.commit.verify(&key.public_key()).unwrap();
    // The commit and the empty root node.
    assert_eq!(prepared.blocks.len(), 2);
    let event = cbor::decode(&prepared.event).unwrap();
    assert_eq!(field(&event, "since"), Some(&Ipld::Null));
    assert_eq!(field(&event, "prevData"), None);
    assert_eq!(field(&event, "ops"), Some(&Ipld::List(vec![])));
    assert_eq!(
        field(&event, "commit"),
        Some(&Ipld::Link(prepared.commit.cid))
    );
    assert_eq!(field(&event, "seq"), None);
}

#[tokio::test]
async fn create_update_and_delete_change_the_tree_and_report_prev() {
    let mut repo = Repo::new().await;
    let created = repo.write(&[create("a1", "one")], None).await.unwrap();
    let first = record("one").cid();
    assert_eq!(created.ops[0].action, Action::Create);
    assert_eq!(created.ops[0].cid, Some(first));
    assert_eq!(created.ops[0].prev, None);
    assert_eq!(
        created.ops[0].uri.as_str(),
        format!("at://{DID}/app.bsky.feed.post/a1")
    );
    assert_eq!(repo.get("a1").await, Some(first));

    let updated = repo
        .write(&[update("a1", "two", None)], None)
        .await
        .unwrap();
    assert_eq!(updated.ops[0].action, Action::Update);
    assert_eq!(updated.ops[0].prev, Some(first));
    assert_eq!(repo.get("a1").await, Some(record("two").cid()));
    assert!(updated.rev > created.rev);

    let deleted = repo.write(&[delete("a1", None)], None).await.unwrap();
    assert_eq!(deleted.ops[0].action, Action::Delete);
    assert_eq!(deleted.ops[0].cid, None);
    assert_eq!(deleted.ops[0].prev, Some(record("two").cid()));
    assert_eq!(repo.get("a1").await, None);
    assert_eq!(deleted.commit.commit.data, Mst::empty().root());
}

#[tokio::test]
async fn put_creates_or_updates_as_the_tree_requires() {
    let mut repo = Repo::new().await;
    let first = repo.write(&[put("p", "one", None)], None).await.unwrap();
    assert_eq!(first.ops[0].action, Action::Create);
    let second = repo.write(&[put("p", "two", None)], None).await.unwrap();
    assert_eq!(second.ops[0].action, Action::Update);
    assert_eq!(second.ops[0].prev, Some(record("one").cid()));
}

#[tokio::test]
async fn creating_a_taken_key_or_changing_a_missing_one_fails() {
    let mut repo = Repo::new().await;
    repo.write(&[create("k", "one")], None).await.unwrap();
    assert!(matches!(
        repo.write(&[create("k", "again")], None).await,
        Err(WriteError::RecordExists(p)) if p == "app.bsky.feed.post/k"
    ));
    assert!(matches!(
        repo.write(&[update("missing", "x", None)], None).await,
        Err(WriteError::RecordNotFound(_))
    ));
    assert!(matches!(
        repo.write(&[delete("missing", None)], None).await,
        Err(WriteError::RecordNotFound(_))
    ));
    // A failing op fails the whole batch: the create before it did not happen.
    let head = repo.head;
    assert!(repo
        .write(&[create("fresh", "x"), create("k", "again")], None)
        .await
        .is_err());
    assert_eq!(repo.head, head);
    assert_eq!(repo.get("fresh").await, None);
}

#[tokio::test]
async fn record_swaps_follow_the_reference_rules() {
    let mut repo = Repo::new().await;
    repo.write(&[create("k", "one")], None).await.unwrap();
    let one = record("one").cid();
    let other = record("other").cid();
    let bad_swap = |r: Result<PreparedCommit, WriteError>| matches!(r, Err(WriteError::InvalidSwap { path: Some(_), current: Some(c) }) if c == one);
    assert!(bad_swap(
        repo.write(&[update("k", "x", Some(other))], None).await
    ));
    assert!(bad_swap(
        repo.write(&[delete("k", Some(other))], None).await
    ));
    assert!(bad_swap(
        repo.write(&[put("k", "x", Some(Some(other)))], None).await
    ));
    // "No record" while there is one.
    assert!(bad_swap(
        repo.write(&[put("k", "x", Some(None))], None).await
    ));
    // Put with "no record" on a free key creates it; with a CID on a free key it fails.
    repo.write(&[put("free", "x", Some(None))], None)
        .await
        .unwrap();
    assert!(matches!(
        repo.write(&[put("free2", "x", Some(Some(one)))], None)
            .await,
        Err(WriteError::InvalidSwap { current: None, .. })
    ));
    // Matching swaps pass.
    repo.write(&[update("k", "two", Some(one))], None)
        .await
        .unwrap();
    let two = record("two").cid();
    repo.write(&[put("k", "three", Some(Some(two)))], None)
        .await
        .unwrap();
    repo.write(&[delete("k", Some(record("three").cid()))], None)
        .await
        .unwrap();
    assert_eq!(repo.get("k").await, None);
}

#[tokio::test]
async fn a_commit_swap_must_name_the_head() {
    let mut repo = Repo::new().await;
    let head = repo.head.unwrap().commit;
    let stale = repo.write(&[create("a", "a")], Some(head)).await.unwrap();
    assert_ne!(stale.commit.cid, head);
    assert!(matches!(
        repo.write(&[create("b", "b")], Some(head)).await,
        Err(WriteError::InvalidSwap { path: None, current: Some(c) }) if c == stale.commit.cid
    ));
    // A swap against a repository that does not exist yet fails too.
    let store = MemoryBlockStore::new();
    assert!(matches!(
        prepare_commit(&store, &did(), &key(), None, &[], Some(head)).await,
        Err(WriteError::InvalidSwap { current: None, .. })
    ));
}

#[tokio::test]
async fn batches_with_a_repeated_key_or_too_many_ops_are_refused() {
    let mut repo = Repo::new().await;
    assert!(matches!(
        repo.write(&[create("k", "a"), delete("k", None)], None)
            .await,
        Err(WriteError::DuplicatePath(_))
    ));
    let many: Vec<WriteOp> = (0..=MAX_WRITES)
        .map(|i| create(&format!("k{i}"), "x"))
        .collect();
    assert!(matches!(
        repo.write(&many, None).await,
        Err(WriteError::TooManyWrites { count, .. }) if count == MAX_WRITES + 1
    ));
    assert!(repo.write(&many[..MAX_WRITES], None).await.is_ok());
}

#[tokio::test]
async fn a_commit_whose_event_would_be_too_large_is_refused() {
    let mut repo = Repo::new().await;
    let big = "x".repeat(100_000);
    // Distinct records: equal ones would share one block.
    let ops: Vec<WriteOp> = (0..25)
        .map(|i| create(&format!("big{i}"), &format!("{i}{big}")))
        .collect();
    assert!(matches!(
        repo.write(&ops, None).await,
        Err(WriteError::TooLarge { .. })
    ));
}

#[tokio::test]
async fn event_blocks_prove_every_op_against_the_new_root() {
    let mut repo = Repo::new().await;
    let seed: Vec<WriteOp> = (0..60)
        .map(|i| create(&format!("s{i:03}"), &format!("seed {i}")))
        .collect();
    repo.write(&seed, None).await.unwrap();
    let prev = repo.head.unwrap();
    let ops = vec![
        create("new1", "n"),
        update("s010", "changed", None),
        delete("s020", None),
        put("s030", "put", None),
    ];
    let prepared = repo.write(&ops, None).await.unwrap();
    let event = cbor::decode(&prepared.event).unwrap();
    assert_eq!(field(&event, "prevData"), Some(&Ipld::Link(prev.data)));
    assert_eq!(
        field(&event, "since"),
        Some(&Ipld::String(prev.rev.to_string()))
    );
    let Some(Ipld::Bytes(car)) = field(&event, "blocks") else {
        panic!("blocks missing")
    };
    let (roots, blocks) = read_car(car, CarLimits::default()).unwrap();
    assert_eq!(roots, vec![prepared.commit.cid]);
    let blocks: HashMap<Cid, Bytes> = blocks.into_iter().collect();
    let data = prepared.commit.commit.data;
    for op in &prepared.ops {
        assert_eq!(
            verify_key_proof(&data, &op.path(), &blocks).unwrap(),
            op.cid
        );
    }
}
