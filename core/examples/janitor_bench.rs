//! Janitor benchmark: builds a repository of N commits (one post each, through the repository
//! store, so every commit leaves its `#commit` event with its CAR blocks), prints the event table's
//! size, deletes the events in batches of 1,000 as the janitor does and prints the rate, then the
//! size after, and the cost of a sweep with nothing to delete. Run with
//! `cargo run --release -p pocketpds-core --example janitor_bench` (optionally `-- <commits>`;
//! default 10000). Figures are printed, never asserted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::janitor::{self, JanitorConfig, Tables};
use pocketpds_core::repo::writer::{Record, WriteOp};
use pocketpds_core::storage::{
    events, AccountStore, Announce, OAuthStore, RepoStore, SealingKey, Storage,
};
use pocketpds_core::syntax::{Did, Nsid, RecordKey, Tid};

const DID: &str = "did:plc:bench7xq2vsrgwgnqg5dqgfv";
/// Writers running at once (their commits are grouped into shared transactions).
const WRITERS: usize = 8;
/// A cutoff after every event: everything but the newest is expired.
const FAR_FUTURE: &str = "2999-01-01T00:00:00.000Z";

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(n));
}

/// One query's single integer.
async fn number(storage: &Storage, sql: &str) -> i64 {
    let mut rows = storage.connection().query(sql, ()).await.expect("query");
    let row = rows.next().await.expect("row").expect("a row");
    row.get::<Option<i64>>(0).expect("integer").unwrap_or(0)
}

/// Rows, payload bytes and (when SQLite has the `dbstat` table) pages of the event table and its
/// indexes.
async fn event_size(storage: &Storage) -> String {
    let rows = number(storage, "SELECT COUNT(*) FROM event").await;
    let payload = number(storage, "SELECT SUM(LENGTH(payload)) FROM event").await;
    let stored = match storage
        .connection()
        .query(
            "SELECT SUM(pgsize) FROM dbstat WHERE name IN ('event', 'event_did', 'event_time')",
            (),
        )
        .await
    {
        Ok(mut result) => match result.next().await {
            Ok(Some(row)) => format!(
                "{:.2} MB in pages",
                row.get::<Option<i64>>(0).ok().flatten().unwrap_or(0) as f64 / 1e6
            ),
            _ => "pages unknown".to_owned(),
        },
        Err(_) => "pages unknown (no dbstat)".to_owned(),
    };
    let page_size = number(storage, "PRAGMA page_size").await;
    let in_use =
        number(storage, "PRAGMA page_count").await - number(storage, "PRAGMA freelist_count").await;
    format!(
        "{rows} rows, {:.2} MB of payloads, {stored}; database {:.2} MB in use",
        payload as f64 / 1e6,
        (in_use * page_size) as f64 / 1e6
    )
}

fn post(i: usize) -> WriteOp {
    let record = Record::from_json(&serde_json::json!({
        "$type": "app.bsky.feed.post",
        "text": format!("post number {i}, a few words long like most posts are"),
        "createdAt": "2026-11-23T12:00:00.000Z",
        "langs": ["en"],
    }))
    .expect("record");
    WriteOp::Create {
        collection: Nsid::parse("app.bsky.feed.post").expect("nsid"),
        rkey: RecordKey::parse(
            &Tid::from_parts(1_700_000_000_000_000 + i as u64, 0)
                .expect("tid")
                .to_string(),
        )
        .expect("rkey"),
        record,
    }
}

async fn run(n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Storage::open_local(&dir.path().join("bench.db"))
        .await
        .expect("storage");
    let repos = RepoStore::new(storage.connect().await.expect("connection"));
    let did = Did::parse(DID).expect("did");
    let key = Arc::new(Keypair::generate(Algorithm::K256).expect("key"));
    repos
        .create_repo(&did, &key, Announce::CommitOnly)
        .await
        .expect("repo");

    println!("janitor benchmark: a repository of {n} commits");
    let start = Instant::now();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (repos, did, key) = (repos.clone(), did.clone(), key.clone());
        writers.push(tokio::spawn(async move {
            for i in (w..n).step_by(WRITERS) {
                repos
                    .write(&did, &key, &[post(i)], None)
                    .await
                    .expect("write");
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    println!(
        "writes:                 {:>9.1} s",
        start.elapsed().as_secs_f64()
    );
    println!("event table before:     {}", event_size(&storage).await);

    // The deletes, batch after batch, without the janitor's pauses: the database's own rate.
    let conn = storage.connect().await.expect("connection");
    let start = Instant::now();
    let mut deleted = 0u64;
    let mut batches = 0u32;
    let mut slowest = Duration::ZERO;
    loop {
        let batch_start = Instant::now();
        let n = events::delete_expired(&conn, FAR_FUTURE, 1000)
            .await
            .expect("delete");
        slowest = slowest.max(batch_start.elapsed());
        deleted += n;
        batches += 1;
        if n < 1000 {
            break;
        }
    }
    let took = start.elapsed();
    println!(
        "event deletes:          {deleted} rows in {batches} statements, {:.1} ms, {:.0} rows/s, \
         slowest statement {:.1} ms",
        took.as_secs_f64() * 1e3,
        deleted as f64 / took.as_secs_f64(),
        slowest.as_secs_f64() * 1e3
    );
    println!("event table after:      {}", event_size(&storage).await);

    // A sweep that finds nothing: what a node pays every interval when idle.
    let tables = Tables {
        events: conn,
        accounts: AccountStore::new(
            storage.connect().await.expect("connection"),
            SealingKey::generate(),
        ),
        oauth: OAuthStore::new(storage.connect().await.expect("connection")),
    };
    let config =
        JanitorConfig::from_config(&pocketpds_core::config::Config::default()).expect("janitor on");
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let report = janitor::sweep(&tables, &config).await;
        assert_eq!(report.total(), 0);
        best = best.min(start.elapsed());
    }
    println!(
        "empty sweep:            {:.3} ms (every {} s by default)",
        best.as_secs_f64() * 1e3,
        config.interval.as_secs()
    );
}
