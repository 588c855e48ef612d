//! The janitor keeps the tables that grow with time bounded: firehose events that left the backfill
//! window go in batches (never the newest, and a relay with a cursor among them is told
//! `OutdatedCursor`), as do expired OAuth rows, refresh tokens and email codes, while live rows
//! stay; two nodes sweeping one database at once delete each row once; stopping the janitor, or the
//! node, ends its task at once even in the middle of a sweep.

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::firehose::{text, Firehose, Received};
use common::node::{local_config, seed_account};
use pocketpds_core::janitor::{self, Janitor, JanitorConfig, Tables};
use pocketpds_core::node::RunningNode;
use pocketpds_core::storage::events::{self, account_event, EventKind};
use pocketpds_core::storage::oauth_store::OAuthRequestRow;
use pocketpds_core::storage::{
    AccountStore, OAuthStore, RefreshTokenRow, SealingKey, Storage, TokenCheck, TokenPurpose,
};

const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const LONG_AGO: &str = "2020-01-01T00:00:00.000Z";

fn settings() -> JanitorConfig {
    JanitorConfig::from_config(&pocketpds_core::config::Config::default()).unwrap()
}

/// A node whose own janitor is off, so that the test decides when a sweep runs.
async fn start_node(dir: &Path) -> RunningNode {
    let mut config = local_config(dir);
    config.janitor_interval_seconds = 0;
    pocketpds_core::node::start(config).await.unwrap()
}

async fn node_tables(node: &RunningNode) -> Tables {
    Tables {
        events: node.state.storage.connect().await.unwrap(),
        accounts: node.state.accounts.clone(),
        oauth: node.state.oauth.store.clone(),
    }
}

async fn storage_tables(storage: &Storage) -> Tables {
    Tables {
        events: storage.connect().await.unwrap(),
        accounts: AccountStore::new(storage.connect().await.unwrap(), SealingKey::generate()),
        oauth: OAuthStore::new(storage.connect().await.unwrap()),
    }
}

/// Appends `n` events dated long ago, in one transaction.
async fn old_events(storage: &Storage, n: usize) {
    let conn = storage.connect().await.unwrap();
    let tx = conn.transaction().await.unwrap();
    let payload = account_event("did:plc:old", true, None, LONG_AGO);
    for _ in 0..n {
        events::append(&tx, "did:plc:old", EventKind::Account, LONG_AGO, &payload)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn count(storage: &Storage, sql: &str) -> u64 {
    let mut rows = storage.connection().query(sql, ()).await.unwrap();
    rows.next().await.unwrap().unwrap().get::<u64>(0).unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_events_leave_in_batches_and_a_relay_with_a_cursor_among_them_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path()).await;
    old_events(&node.state.storage, 2500).await;
    seed_account(&node, ALICE, "alice.test").await;
    let report = janitor::sweep(&node_tables(&node).await, &settings()).await;
    assert_eq!(report.events, 2500, "three batches: 1000, 1000, 500");
    assert_eq!(report.failures, 0);
    assert!(!report.interrupted);
    let storage = &node.state.storage;
    assert_eq!(count(storage, "SELECT COUNT(*) FROM event").await, 4);
    assert_eq!(count(storage, "SELECT MIN(seq) FROM event").await, 2501);
    // A second sweep finds nothing more.
    let again = janitor::sweep(&node_tables(&node).await, &settings()).await;
    assert_eq!(again.total(), 0);

    // A relay whose cursor points at deleted events is told, then gets the oldest event kept.
    for cursor in ["0", "1200", "2499"] {
        let mut relay = Firehose::connect(node.local_addr, &format!("?cursor={cursor}")).await;
        match relay.next().await {
            Received::Message { t, body } => {
                assert_eq!(t, "#info", "cursor {cursor}");
                assert_eq!(text(&body, "name"), Some("OutdatedCursor"));
            }
            other => panic!("{other:?}"),
        }
        let first = relay.next().await;
        assert_eq!(first.seq(), Some(2501));
        assert_eq!(first.kind(), Some("#identity"));
    }
    // One whose cursor is just before the events kept missed nothing.
    let mut relay = Firehose::connect(node.local_addr, "?cursor=2500").await;
    assert_eq!(relay.next().await.seq(), Some(2501));
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_and_oauth_rows_are_swept_and_live_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path()).await;
    seed_account(&node, ALICE, "alice.test").await;
    let state = &node.state;
    let now = now();
    for (jti, expires_at) in [("expired", now - 60), ("live", now + 3600)] {
        state
            .accounts
            .insert_refresh_token(&RefreshTokenRow {
                jti: jti.into(),
                did: ALICE.into(),
                app_password_name: None,
                expires_at,
                next_id: None,
            })
            .await
            .unwrap();
    }
    let purpose = TokenPurpose::DeleteAccount;
    state
        .accounts
        .put_email_token(ALICE, purpose, "OLD-CODE", now - 3600)
        .await
        .unwrap();
    state
        .accounts
        .put_email_token("did:plc:other", purpose, "NEW-CODE", now)
        .await
        .unwrap();
    for (id, expires_at) in [("expired", now - 1), ("live", now + 600)] {
        state
            .oauth
            .store
            .insert_request(&OAuthRequestRow {
                id: id.into(),
                client_id: "http://localhost".into(),
                client_auth: "{}".into(),
                parameters: "{}".into(),
                dpop_jkt: None,
                device_id: None,
                did: None,
                code: None,
                expires_at,
                login_did: None,
            })
            .await
            .unwrap();
        state
            .oauth
            .store
            .record_unique(&format!("jti-{id}"), expires_at, now - 10)
            .await
            .unwrap();
    }
    let report = janitor::sweep(&node_tables(&node).await, &settings()).await;
    assert_eq!(report.refresh_tokens, 1);
    assert_eq!(report.email_tokens, 1);
    assert_eq!(report.oauth, 2);
    assert_eq!(report.events, 0, "every event is inside the window");
    assert_eq!(report.failures, 0);

    let accounts = &state.accounts;
    assert!(accounts.refresh_token("expired").await.unwrap().is_none());
    assert!(accounts.refresh_token("live").await.unwrap().is_some());
    assert!(state
        .oauth
        .store
        .request("expired")
        .await
        .unwrap()
        .is_none());
    assert!(state.oauth.store.request("live").await.unwrap().is_some());
    let oauth = &state.oauth.store;
    assert!(
        !oauth
            .record_unique("jti-live", now + 600, now)
            .await
            .unwrap(),
        "a live replay record still refuses its proof"
    );
    assert!(oauth
        .record_unique("jti-expired", now + 600, now)
        .await
        .unwrap());
    assert_eq!(
        accounts
            .take_email_token(ALICE, purpose, "OLD-CODE", 0)
            .await
            .unwrap(),
        TokenCheck::Invalid,
        "the expired code is gone"
    );
    assert_eq!(
        accounts
            .take_email_token("did:plc:other", purpose, "NEW-CODE", now - 900)
            .await
            .unwrap(),
        TokenCheck::Accepted
    );
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_janitors_on_one_database_delete_each_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let one = Storage::open_local(&path).await.unwrap();
    let two = Storage::open_local(&path).await.unwrap();
    old_events(&one, 5000).await;
    let (a, b) = (storage_tables(&one).await, storage_tables(&two).await);
    let config = JanitorConfig {
        pause: Duration::from_millis(1),
        ..settings()
    };
    let (ra, rb) = tokio::join!(janitor::sweep(&a, &config), janitor::sweep(&b, &config));
    assert_eq!(ra.failures + rb.failures, 0, "{ra:?} {rb:?}");
    assert_eq!(ra.events + rb.events, 4999, "{ra:?} {rb:?}");
    assert_eq!(count(&two, "SELECT COUNT(*) FROM event").await, 1);
    assert_eq!(count(&one, "SELECT MAX(seq) FROM event").await, 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_janitor_ends_its_task_in_a_pause_or_a_sleep() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(&dir.path().join("db")).await.unwrap();
    old_events(&storage, 10).await;
    // One row per batch and an hour between batches: the first sweep stops after one row.
    let slow = JanitorConfig {
        batch: 1,
        pause: Duration::from_secs(3600),
        interval: Duration::from_secs(3600),
        ..settings()
    };
    let janitor = Janitor::start(storage_tables(&storage).await, slow.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&storage, "SELECT COUNT(*) FROM event").await == 10 {
        assert!(Instant::now() < deadline, "the first batch never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(janitor.sweeps(), 0, "it is pausing inside its first sweep");
    tokio::time::timeout(Duration::from_secs(30), janitor.stop())
        .await
        .expect("a stop ends the pause");
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM event").await, 9);

    // Between sweeps it sleeps for the interval; a stop ends that too.
    let idle = Janitor::start(
        storage_tables(&storage).await,
        JanitorConfig {
            pause: Duration::from_millis(1),
            ..slow
        },
    );
    eventually("the first sweep ends", || idle.sweeps() == 1).await;
    tokio::time::timeout(Duration::from_secs(30), idle.stop())
        .await
        .expect("a stop ends the sleep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_sweeps_at_start_and_stopping_it_stops_its_janitor() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(&dir.path().join("pocketpds.db"))
        .await
        .unwrap();
    old_events(&storage, 3).await;
    drop(storage);
    // The default interval (ten minutes): only the sweep at start runs during the test.
    let node = pocketpds_core::node::start(local_config(dir.path()))
        .await
        .unwrap();
    eventually("the sweep at start ends", || {
        node.janitor_sweeps() == Some(1)
    })
    .await;
    assert_eq!(
        count(&node.state.storage, "SELECT COUNT(*) FROM event").await,
        1
    );
    tokio::time::timeout(Duration::from_secs(30), node.stop())
        .await
        .expect("the node stops without waiting for the next sweep")
        .unwrap();
}
