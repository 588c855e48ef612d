//! A relay subscribes to `com.atproto.sync.subscribeRepos` over a websocket: it replays the event
//! table from its cursor, then follows new commits live, each `#commit` verifiable on its own
//! (Sync 1.1); a cursor beyond the head is refused with `FutureCursor`, one older than the backfill
//! window is told `OutdatedCursor`; a subscriber that stops reading is dropped with
//! `ConsumerTooSlow` without slowing writers; two nodes on one database file deliver each other's
//! events; stopping the node ends the streams.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::firehose::{get, link, text, verify_commit, Firehose, Received};
use common::http::{procedure, request};
use common::node::{local_config, seed_account};
use ipld_core::ipld::Ipld;
use pocketpds_core::events::Sequencer;
use pocketpds_core::node::RunningNode;
use pocketpds_core::repo::car::{read_car, CarLimits};
use pocketpds_core::repo::cid::Cid;
use pocketpds_core::storage::events::{self, account_event, EventKind};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const POST: &str = "app.bsky.feed.post";

fn post(text: &str) -> Value {
    json!({"$type": POST, "text": text, "createdAt": "2026-01-01T00:00:00.000Z"})
}

/// Creates a post; returns its record key.
async fn create_post(addr: SocketAddr, token: &str, text: &str) -> String {
    let res = procedure(
        addr,
        token,
        "com.atproto.repo.createRecord",
        json!({"repo": ALICE, "collection": POST, "record": post(text)}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let uri = res.json()["uri"].as_str().unwrap().to_owned();
    uri.rsplit('/').next().unwrap().to_owned()
}

async fn start_node(dir: &std::path::Path) -> RunningNode {
    pocketpds_core::node::start(local_config(dir))
        .await
        .unwrap()
}

/// Waits (up to a generous deadline, failing the test after it) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `n` message frames, checking that their sequence numbers follow `after` in order.
async fn messages(firehose: &mut Firehose, after: i128, n: usize) -> Vec<Received> {
    let mut out = Vec::with_capacity(n);
    let mut last = after;
    for _ in 0..n {
        let frame = firehose.next().await;
        let seq = frame
            .seq()
            .unwrap_or_else(|| panic!("not an event: {frame:?}"));
        assert!(seq > last, "seq {seq} after {last}");
        last = seq;
        out.push(frame);
    }
    out
}

/// Checks a run of `#commit` frames as one chain from `prev_data`; returns the last root.
async fn verify_chain(
    frames: &[Received],
    key: &pocketpds_core::crypto::PublicKey,
    mut prev_data: Option<Cid>,
) -> Option<Cid> {
    for frame in frames.iter().filter(|f| f.kind() == Some("#commit")) {
        let (data, _) = verify_commit(frame.body(), ALICE, key, prev_data).await;
        prev_data = Some(data);
    }
    prev_data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_replays_the_table_then_new_commits_arrive_live() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path()).await;
    let addr = node.local_addr;
    let (key, token) = seed_account(&node, ALICE, "alice.test").await;
    let key = key.public_key();
    let first = create_post(addr, &token, "one").await;
    create_post(addr, &token, "two").await;
    let res = procedure(
        addr,
        &token,
        "com.atproto.repo.putRecord",
        json!({"repo": ALICE, "collection": POST, "rkey": first, "record": post("one, edited")}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let res = procedure(
        addr,
        &token,
        "com.atproto.repo.deleteRecord",
        json!({"repo": ALICE, "collection": POST, "rkey": first}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());

    // The whole table: the account's announcements, its first commit, then four writes.
    let mut relay = Firehose::connect(addr, "?cursor=0").await;
    let replayed = messages(&mut relay, 0, 8).await;
    let kinds: Vec<&str> = replayed.iter().filter_map(Received::kind).collect();
    assert_eq!(
        kinds,
        [
            "#identity",
            "#account",
            "#commit",
            "#sync",
            "#commit",
            "#commit",
            "#commit",
            "#commit"
        ]
    );
    assert_eq!(text(replayed[0].body(), "handle"), Some("alice.test"));
    assert_eq!(get(replayed[1].body(), "active"), Some(&Ipld::Bool(true)));
    let actions: Vec<String> = replayed[4..]
        .iter()
        .map(|f| match get(f.body(), "ops") {
            Some(Ipld::List(ops)) => text(&ops[0], "action").unwrap().to_owned(),
            other => panic!("ops {other:?}"),
        })
        .collect();
    assert_eq!(actions, ["create", "create", "update", "delete"]);
    // `#sync` carries the commit it announces, as a CAR rooted at it.
    let sync = replayed[3].body();
    let Some(Ipld::Bytes(car)) = get(sync, "blocks") else {
        panic!("#sync without blocks")
    };
    let (roots, _) = read_car(car, CarLimits::default()).unwrap();
    assert_eq!(Some(roots[0]), link(replayed[2].body(), "commit"));
    let root = verify_chain(&replayed, &key, None).await;

    // A second relay from the middle of the table gets the rest.
    let mut late = Firehose::connect(addr, "?cursor=5").await;
    let rest = messages(&mut late, 5, 3).await;
    assert_eq!(rest, replayed[5..]);

    // Live: once both have replayed the table, new commits reach both, in order, continuing the
    // chain.
    let sequencer = node.state.sequencer.clone();
    eventually("both relays are live", || sequencer.live_count() == 2).await;
    create_post(addr, &token, "three").await;
    create_post(addr, &token, "four").await;
    let live = messages(&mut relay, 8, 2).await;
    assert_eq!(
        live.iter().filter_map(Received::kind).collect::<Vec<_>>(),
        ["#commit", "#commit"]
    );
    verify_chain(&live, &key, root).await;
    assert_eq!(messages(&mut late, 8, 2).await, live);
    assert_eq!(sequencer.live_count(), 2);
    assert!(sequencer.is_tailing());

    // When the relays leave, the sequencer forgets them and its tailer stops.
    relay.close().await;
    late.close().await;
    eventually("the subscribers are gone and the tailer stopped", || {
        sequencer.subscriber_count() == 0 && !sequencer.is_tailing()
    })
    .await;
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cursor_the_stream_starts_at_the_next_event() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path()).await;
    let addr = node.local_addr;
    let (key, token) = seed_account(&node, ALICE, "alice.test").await;
    let head = events::last_seq(node.state.storage.connection())
        .await
        .unwrap()
        .unwrap();
    let mut relay = Firehose::connect(addr, "").await;
    let sequencer = node.state.sequencer.clone();
    eventually("the relay is live", || sequencer.live_count() == 1).await;
    assert_eq!(
        relay.next_within(Duration::from_millis(300)).await,
        None,
        "nothing old is replayed"
    );
    create_post(addr, &token, "now").await;
    let frames = messages(&mut relay, head as i128, 1).await;
    assert_eq!(frames[0].seq(), Some(head as i128 + 1));
    verify_commit(frames[0].body(), ALICE, &key.public_key(), None).await;
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_beyond_the_head_gets_future_cursor_and_the_stream_closes() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path()).await;
    seed_account(&node, ALICE, "alice.test").await;
    for cursor in ["5", "9223372036854775807"] {
        let mut relay = Firehose::connect(node.local_addr, &format!("?cursor={cursor}")).await;
        assert_eq!(
            relay.next().await,
            Received::Error {
                error: "FutureCursor".into(),
                message: Some("Cursor in the future.".into())
            }
        );
        assert_eq!(relay.next().await, Received::Closed(Some(1008)));
    }
    // The head itself is a valid cursor: nothing to replay, then live.
    let mut relay = Firehose::connect(node.local_addr, "?cursor=4").await;
    assert_eq!(relay.next_within(Duration::from_millis(300)).await, None);
    let sequencer = node.state.sequencer.clone();
    eventually("the relay at the head is subscribed", || {
        sequencer.subscriber_count() == 1
    })
    .await;
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path()).await;
    let addr = node.local_addr;
    seed_account(&node, ALICE, "alice.test").await;
    for query in [
        "?cursor=abc",
        "?cursor=",
        "?cursor=1.5",
        "?cursor=1&cursor=2",
        "?cursor=%FF",
    ] {
        let mut relay = Firehose::connect(addr, query).await;
        match relay.next().await {
            Received::Error { error, message } => {
                assert_eq!(error, "InvalidRequest", "{query}");
                assert!(message.is_some());
            }
            other => panic!("{query}: {other:?}"),
        }
        assert_eq!(relay.next().await, Received::Closed(Some(1008)), "{query}");
    }
    // A plain GET is not a subscription.
    let plain = tokio::task::spawn_blocking(move || {
        request(addr, "GET", "/xrpc/com.atproto.sync.subscribeRepos", None)
    })
    .await
    .unwrap();
    assert_eq!(plain.status, 400);
    assert_eq!(plain.json()["error"], "InvalidRequest");
    // A subscriber that talks is ignored; one that sends a huge message is cut off.
    let mut chatty = Firehose::connect(addr, "?cursor=0").await;
    chatty.send(Message::text("hello")).await.unwrap();
    assert_eq!(messages(&mut chatty, 0, 4).await.len(), 4);
    let _ = chatty.send(Message::binary(vec![0u8; 1024 * 1024])).await;
    assert!(matches!(chatty.next().await, Received::Closed(_)));
    let sequencer = node.state.sequencer.clone();
    eventually("the cut-off subscriber is gone", || {
        sequencer.subscriber_count() == 0
    })
    .await;
    assert_eq!(
        events::last_seq(node.state.storage.connection())
            .await
            .unwrap(),
        Some(4)
    );
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_older_than_the_backfill_window_is_told_and_starts_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path()).await;
    let conn = node.state.storage.connection();
    // Three events from long ago, then the account's own four.
    for _ in 0..3 {
        let old = "2020-01-01T00:00:00.000Z";
        let payload = account_event("did:plc:old", true, None, old);
        events::append(conn, "did:plc:old", EventKind::Account, old, &payload)
            .await
            .unwrap();
    }
    seed_account(&node, ALICE, "alice.test").await;
    for cursor in ["0", "-3", "2"] {
        let mut relay = Firehose::connect(node.local_addr, &format!("?cursor={cursor}")).await;
        match relay.next().await {
            Received::Message { t, body } => {
                assert_eq!(t, "#info");
                assert_eq!(text(&body, "name"), Some("OutdatedCursor"));
                assert_eq!(get(&body, "seq"), None);
            }
            other => panic!("{other:?}"),
        }
        let frames = messages(&mut relay, 3, 4).await;
        assert_eq!(frames[0].seq(), Some(4), "the window's first event");
        assert_eq!(text(frames[0].body(), "did"), Some(ALICE));
    }
    // A cursor inside the window is not outdated.
    let mut relay = Firehose::connect(node.local_addr, "?cursor=3").await;
    assert_eq!(
        messages(&mut relay, 3, 4).await[0].kind(),
        Some("#identity")
    );
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_does_not_slow_writers_and_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.max_subscription_buffer = 20;
    let node = pocketpds_core::node::start(config).await.unwrap();
    let addr = node.local_addr;
    let (_, token) = seed_account(&node, ALICE, "alice.test").await;
    let sequencer: Sequencer = node.state.sequencer.clone();
    let mut stalled = Firehose::connect_with_small_buffer(addr, "").await;
    eventually("the subscriber is live", || sequencer.live_count() == 1).await;

    // 1000 writes of about 8 kB each, more than socket buffers and the queue can hold, while the
    // subscriber reads nothing.
    let filler = "x".repeat(8000);
    let mut writers = Vec::new();
    for w in 0..4 {
        let (token, filler) = (token.clone(), filler.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..250 {
                let record = json!({"$type": "com.example.firehose.filler", "n": w * 250 + i,
                    "filler": filler});
                let res = procedure(
                    addr,
                    &token,
                    "com.atproto.repo.createRecord",
                    json!({"repo": ALICE, "collection": "com.example.firehose.filler",
                        "record": record}),
                )
                .await;
                assert_eq!(res.status, 200, "{}", res.text());
            }
        }));
    }
    // Its queue overflows while the writes go on, and it is dropped.
    eventually("the stalled subscriber is dropped", || {
        sequencer.live_count() == 0
    })
    .await;

    // What the subscriber reads when it finally reads: some commits in order, then ConsumerTooSlow
    // and a close (the server waits for a reader that far behind to take its error frame).
    let mut last = 4;
    let mut delivered = 0;
    let end = loop {
        match stalled.next().await {
            frame @ Received::Message { .. } => {
                let seq = frame.seq().unwrap();
                assert!(seq > last);
                last = seq;
                delivered += 1;
            }
            other => break other,
        }
    };
    assert_eq!(
        end,
        Received::Error {
            error: "ConsumerTooSlow".into(),
            message: Some("Stream consumer too slow".into())
        }
    );
    assert_eq!(stalled.next().await, Received::Closed(Some(1008)));
    // Every write was acknowledged.
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(
        events::last_seq(node.state.storage.connection())
            .await
            .unwrap(),
        Some(1004)
    );
    eprintln!("the stalled subscriber got {delivered} of 1000 commits before ConsumerTooSlow");
    assert!(
        delivered < 1000,
        "the subscriber was cut off ({delivered} delivered)"
    );
    eventually("the dropped subscriber is forgotten", || {
        sequencer.subscriber_count() == 0
    })
    .await;

    // The node still serves new subscribers.
    let mut relay = Firehose::connect(addr, "?cursor=1003").await;
    assert_eq!(messages(&mut relay, 1003, 1).await[0].seq(), Some(1004));
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_file_deliver_each_others_events() {
    let dir = tempfile::tempdir().unwrap();
    let a = start_node(dir.path()).await;
    let b = start_node(dir.path()).await;
    let mut on_b = Firehose::connect(b.local_addr, "").await;
    let sequencer = b.state.sequencer.clone();
    eventually("the relay on b is live", || sequencer.live_count() == 1).await;
    // The account is created through node a, and written to through node a: node b is never woken,
    // it finds the events in the shared table.
    let (key, token) = seed_account(&a, ALICE, "alice.test").await;
    create_post(a.local_addr, &token, "written on a").await;
    let frames = messages(&mut on_b, 0, 5).await;
    let kinds: Vec<&str> = frames.iter().filter_map(Received::kind).collect();
    assert_eq!(
        kinds,
        ["#identity", "#account", "#commit", "#sync", "#commit"]
    );
    verify_chain(&frames, &key.public_key(), None).await;
    // And the other way round: a relay on a hears a write made through b.
    let mut on_a = Firehose::connect(a.local_addr, "?cursor=5").await;
    create_post(b.local_addr, &token, "written on b").await;
    let from_a = messages(&mut on_a, 5, 1).await;
    assert_eq!(messages(&mut on_b, 5, 1).await, from_a);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_node_ends_every_stream() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path()).await;
    seed_account(&node, ALICE, "alice.test").await;
    let mut live = Firehose::connect(node.local_addr, "").await;
    let sequencer = node.state.sequencer.clone();
    eventually("the first relay is live", || sequencer.live_count() == 1).await;
    let mut replaying = Firehose::connect(node.local_addr, "?cursor=0").await;
    eventually("the second relay is subscribed", || {
        sequencer.subscriber_count() == 2
    })
    .await;
    node.stop().await.unwrap();
    assert_eq!(live.next().await, Received::Closed(Some(1001)));
    // The second relay may get some of the table before its stream closes.
    loop {
        match replaying.next().await {
            Received::Message { .. } => continue,
            end => {
                assert_eq!(end, Received::Closed(Some(1001)));
                break;
            }
        }
    }
    eventually("the streams' tasks have ended", || {
        sequencer.subscriber_count() == 0
    })
    .await;
    assert!(
        sequencer.subscribe(None).await.is_err(),
        "a stopped node takes no subscriber"
    );
}
