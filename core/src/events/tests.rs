//! The sequencer on a real database file: the seam between replay and live, events deleted under a
//! replaying subscriber, and a damaged event.

use std::time::Duration;

use bytes::Bytes;

use super::{Sequencer, SequencerConfig, StreamError, Subscription};
use crate::repo::cbor;
use crate::storage::events::{self, account_event, EventKind};
use crate::storage::Storage;

const TIME: &str = "2030-01-01T00:00:00.000Z";

struct Fixture {
    _dir: tempfile::TempDir,
    storage: Storage,
    sequencer: Sequencer,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(&dir.path().join("events.db"))
        .await
        .unwrap();
    let config = SequencerConfig {
        // Only wake-ups and the poll move the tailer; a long interval makes the tests depend on
        // wake-ups, which they send.
        poll_interval: Duration::from_secs(3600),
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::new(storage.connect().await.unwrap(), config);
    Fixture {
        _dir: dir,
        storage,
        sequencer,
    }
}

async fn append(f: &Fixture, did: &str) -> u64 {
    let payload = account_event(did, true, None, TIME);
    events::append(
        f.storage.connection(),
        did,
        EventKind::Account,
        TIME,
        &payload,
    )
    .await
    .unwrap()
}

/// The `seq` of a frame.
fn seq(frame: &Bytes) -> u64 {
    let cut = (1..frame.len())
        .find(|&cut| cbor::decode(&frame[..cut]).is_ok())
        .unwrap();
    match cbor::decode(&frame[cut..]).unwrap() {
        ipld_core::ipld::Ipld::Map(body) => match body.get("seq") {
            Some(ipld_core::ipld::Ipld::Integer(n)) => u64::try_from(*n).unwrap(),
            other => panic!("seq {other:?}"),
        },
        other => panic!("body {other:?}"),
    }
}

async fn next(subscription: &mut Subscription) -> u64 {
    let frame = tokio::time::timeout(Duration::from_secs(30), subscription.next())
        .await
        .expect("a frame in time")
        .expect("a frame");
    seq(&frame)
}

/// A live subscriber (which starts the tailer at the head), waiting on another task for its first
/// frame; the task returns that frame's sequence number and the subscription.
async fn live_subscriber(f: &Fixture) -> tokio::task::JoinHandle<(u64, Subscription)> {
    let mut live = f.sequencer.subscribe(None).await.unwrap();
    let waiting = tokio::spawn(async move {
        let first = next(&mut live).await;
        (first, live)
    });
    while f.sequencer.live_count() == 0 {
        tokio::task::yield_now().await;
    }
    waiting
}

#[tokio::test]
async fn replay_hands_over_to_live_without_gaps_or_repeats() {
    let f = fixture().await;
    for _ in 0..5 {
        append(&f, "did:plc:a").await;
    }
    // A live subscriber starts the tailer at the head, 5.
    let waiting = live_subscriber(&f).await;
    // 6 to 8 are written but the tailer is not woken: a subscriber replaying from 2 reads them
    // from the table, then joins the live stream ahead of the tailer.
    for _ in 0..3 {
        append(&f, "did:plc:a").await;
    }
    let mut replaying = f.sequencer.subscribe(Some(2)).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 6 {
        got.push(next(&mut replaying).await);
    }
    assert_eq!(got, [3, 4, 5, 6, 7, 8]);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), replaying.next())
            .await
            .is_err(),
        "nothing more yet"
    );
    assert_eq!(f.sequencer.live_count(), 2);
    // Now the tailer hands out 6 to 8 (the first subscriber's), then 9: the second gets 9 only.
    f.sequencer.wake();
    let (first, _live) = waiting.await.unwrap();
    assert_eq!(first, 6);
    append(&f, "did:plc:a").await;
    f.sequencer.wake();
    assert_eq!(next(&mut replaying).await, 9);
}

#[tokio::test]
async fn events_deleted_under_a_replaying_subscriber_do_not_stall_it() {
    let f = fixture().await;
    for _ in 0..3 {
        append(&f, "did:plc:a").await;
    }
    let waiting = live_subscriber(&f).await;
    // The tailer hands out 4 and 5 (by did:plc:b); then b's events are deleted, as deleting an
    // account does, while a subscriber is about to replay from 3.
    let mut replaying = f.sequencer.subscribe(Some(3)).await.unwrap();
    append(&f, "did:plc:b").await;
    append(&f, "did:plc:b").await;
    f.sequencer.wake();
    let (first, _live) = waiting.await.unwrap();
    assert_eq!(first, 4);
    f.storage
        .connection()
        .execute("DELETE FROM event WHERE did = 'did:plc:b'", ())
        .await
        .unwrap();
    // Replaying finds nothing after 3, yet the tailer is at 5: the subscriber must see that 4 and
    // 5 are gone and join the live stream rather than wait for them.
    let sequencer = f.sequencer.clone();
    let reader = tokio::spawn(async move { next(&mut replaying).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sequencer.live_count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the subscriber never went live"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sixth = append(&f, "did:plc:a").await;
    f.sequencer.wake();
    assert_eq!(reader.await.unwrap(), sixth);
}

#[tokio::test]
async fn a_damaged_event_is_skipped_not_fatal() {
    let f = fixture().await;
    append(&f, "did:plc:a").await;
    events::append(
        f.storage.connection(),
        "did:plc:a",
        EventKind::Commit,
        TIME,
        b"\xff",
    )
    .await
    .unwrap();
    append(&f, "did:plc:a").await;
    let mut replaying = f.sequencer.subscribe(Some(0)).await.unwrap();
    assert_eq!(next(&mut replaying).await, 1);
    assert_eq!(next(&mut replaying).await, 3);
}

#[tokio::test]
async fn a_future_cursor_and_a_stopped_sequencer_are_refused() {
    let f = fixture().await;
    append(&f, "did:plc:a").await;
    assert!(matches!(
        f.sequencer.subscribe(Some(2)).await,
        Err(StreamError::FutureCursor)
    ));
    assert_eq!(
        f.sequencer.subscriber_count(),
        0,
        "a refused subscriber leaves"
    );
    let mut open = f.sequencer.subscribe(Some(1)).await.unwrap();
    f.sequencer.shutdown();
    assert!(matches!(open.next().await, Err(StreamError::ShuttingDown)));
    assert!(matches!(
        f.sequencer.subscribe(None).await,
        Err(StreamError::ShuttingDown)
    ));
}

/// Whether a frame is the `#info` `OutdatedCursor` message.
fn is_outdated_cursor(frame: &Bytes) -> bool {
    let cut = (1..frame.len())
        .find(|&cut| cbor::decode(&frame[..cut]).is_ok())
        .unwrap();
    let header = cbor::decode(&frame[..cut]).unwrap();
    let body = cbor::decode(&frame[cut..]).unwrap();
    let field = |value: &ipld_core::ipld::Ipld, key: &str| match value {
        ipld_core::ipld::Ipld::Map(map) => map.get(key).cloned(),
        _ => None,
    };
    field(&header, "t") == Some(ipld_core::ipld::Ipld::String("#info".into()))
        && field(&body, "name") == Some(ipld_core::ipld::Ipld::String("OutdatedCursor".into()))
}

async fn next_frame(subscription: &mut Subscription) -> Bytes {
    tokio::time::timeout(Duration::from_secs(30), subscription.next())
        .await
        .expect("a frame in time")
        .expect("a frame")
}

#[tokio::test]
async fn events_expired_under_a_replaying_subscriber_are_announced_then_it_goes_on() {
    let f = fixture().await;
    for _ in 0..250 {
        append(&f, "did:plc:a").await;
    }
    // Inside the window (the events are dated in the future): no #info at the start.
    let mut replaying = f.sequencer.subscribe(Some(0)).await.unwrap();
    let first = next_frame(&mut replaying).await;
    assert!(!is_outdated_cursor(&first));
    assert_eq!(seq(&first), 1, "the first page is read: 1 to 100");
    // The janitor deletes every event but the newest (a cutoff after them all).
    let deleted = events::delete_expired(f.storage.connection(), "2031-01-01T00:00:00.000Z", 1000)
        .await
        .unwrap();
    assert_eq!(deleted, 249);
    // The page already read is delivered; then the subscriber is told events are gone, and goes
    // on with the oldest event kept.
    for expected in 2..=100 {
        assert_eq!(next(&mut replaying).await, expected);
    }
    assert!(is_outdated_cursor(&next_frame(&mut replaying).await));
    assert_eq!(next(&mut replaying).await, 250);
    // It is live now: the next event arrives once written.
    let more = append(&f, "did:plc:a").await;
    f.sequencer.wake();
    assert_eq!(next(&mut replaying).await, more);
}

#[tokio::test]
async fn a_cursor_before_the_events_kept_is_told_outdated_even_inside_the_window() {
    let f = fixture().await;
    for _ in 0..5 {
        append(&f, "did:plc:a").await;
    }
    f.storage
        .connection()
        .execute("DELETE FROM event WHERE seq <= 3", ())
        .await
        .unwrap();
    for cursor in [0, 1, 2] {
        let mut s = f.sequencer.subscribe(Some(cursor)).await.unwrap();
        assert!(is_outdated_cursor(&next_frame(&mut s).await), "{cursor}");
        assert_eq!(next(&mut s).await, 4);
    }
    // A cursor at the edge of what is kept, or inside it, missed nothing.
    let mut s = f.sequencer.subscribe(Some(3)).await.unwrap();
    assert_eq!(next(&mut s).await, 4);
    let mut s = f.sequencer.subscribe(Some(4)).await.unwrap();
    assert_eq!(next(&mut s).await, 5);
}
