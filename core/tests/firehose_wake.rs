//! A live relay hears every commit at once, whatever path wrote it: the repository store wakes the
//! firehose after its transaction, so a write made without HTTP (the administration API, the phone
//! bindings, a direct store call) is delivered as promptly as an XRPC one. The tailer's own interval
//! is set to an hour here, so a missing wake-up would leave the relay waiting past the test's limit.

mod common;

use std::time::{Duration, Instant};

use common::firehose::{get, Firehose, Received};
use common::http::procedure;
use common::node::{local_config, seed_account};
use ipld_core::ipld::Ipld;
use pocketpds_core::events::SequencerConfig;
use pocketpds_core::node::RunningNode;
use pocketpds_core::repo::writer::{Record, WriteOp};
use pocketpds_core::syntax::{Did, Nsid, RecordKey};
use serde_json::json;

const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const POST: &str = "app.bsky.feed.post";

/// A node whose tailer polls the table only once an hour.
async fn start_node(dir: &std::path::Path) -> RunningNode {
    let config = local_config(dir);
    let firehose = SequencerConfig {
        poll_interval: Duration::from_secs(3600),
        ..SequencerConfig::from_config(&config)
    };
    let platform = pocketpds_core::node::NodePlatform {
        firehose: Some(firehose),
        ..Default::default()
    };
    pocketpds_core::node::start_with(config, platform)
        .await
        .unwrap()
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The kinds of the next `n` frames.
async fn kinds(relay: &mut Firehose, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        match relay.next().await {
            Received::Message { t, .. } => out.push(t),
            other => panic!("{other:?}"),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_made_without_http_reach_a_live_relay_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path()).await;
    let mut relay = Firehose::connect(node.local_addr, "").await;
    let sequencer = node.state.sequencer.clone();
    eventually("the relay is live", || sequencer.live_count() == 1).await;

    // An account created through the node's stores, as the administration API does it.
    let (key, token) = seed_account(&node, ALICE, "alice.test").await;
    assert_eq!(
        kinds(&mut relay, 4).await,
        ["#identity", "#account", "#commit", "#sync"]
    );

    // A record written straight through the repository store.
    let record = Record::from_json(&json!({
        "$type": POST, "text": "no HTTP here", "createdAt": "2026-01-01T00:00:00.000Z",
    }))
    .unwrap();
    let op = WriteOp::Create {
        collection: Nsid::parse(POST).unwrap(),
        rkey: RecordKey::parse("3jzfcijpj2z2a").unwrap(),
        record,
    };
    let did = Did::parse(ALICE).unwrap();
    let written = node
        .state
        .repos
        .write(&did, &key, &[op], None)
        .await
        .unwrap();
    match relay.next().await {
        frame @ Received::Message { .. } => {
            assert_eq!(frame.kind(), Some("#commit"));
            assert_eq!(frame.seq(), Some(i128::from(written.seq)));
        }
        other => panic!("{other:?}"),
    }

    // XRPC writes still wake it, without any HTTP middleware: a record, then a status change.
    let created = procedure(
        node.local_addr,
        &token,
        "com.atproto.repo.createRecord",
        json!({"repo": ALICE, "collection": POST, "record": {
            "$type": POST, "text": "over HTTP", "createdAt": "2026-01-01T00:00:00.000Z"}}),
    )
    .await;
    assert_eq!(created.status, 200);
    assert_eq!(kinds(&mut relay, 1).await, ["#commit"]);
    let deactivated = procedure(
        node.local_addr,
        &token,
        "com.atproto.server.deactivateAccount",
        json!({}),
    )
    .await;
    assert_eq!(deactivated.status, 200);
    match relay.next().await {
        Received::Message { t, body } => {
            assert_eq!(t, "#account");
            assert_eq!(get(&body, "active"), Some(&Ipld::Bool(false)));
        }
        other => panic!("{other:?}"),
    }
    node.stop().await.unwrap();
}
