//! The libSQL block store and schema migrations, on a database file in a temporary folder.
mod common;

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use pocketpds_core::repo::cid::{cid_for_cbor, cid_for_raw, Cid};
use pocketpds_core::repo::BlockStore;
use pocketpds_core::storage::{
    apply_migrations, migrate, schema_version, Migration, Storage, StorageError, MIGRATIONS,
};
use tempfile::TempDir;

const DID_A: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const DID_B: &str = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb";

async fn open() -> (TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(&dir.path().join("pds.sqlite"))
        .await
        .unwrap();
    (dir, storage)
}

/// `count` distinct DAG-CBOR-ish blocks of about 300 bytes, distinct per `seed`.
fn blocks(seed: u32, count: u32) -> Vec<(Cid, Bytes)> {
    (0..count)
        .map(|i| {
            let mut bytes = vec![(i % 251) as u8; 300];
            bytes[..4].copy_from_slice(&i.to_be_bytes());
            bytes[4..8].copy_from_slice(&seed.to_be_bytes());
            (cid_for_cbor(&bytes), Bytes::from(bytes))
        })
        .collect()
}

async fn count_rows(storage: &Storage, sql: &str) -> u64 {
    let mut rows = storage.connection().query(sql, ()).await.unwrap();
    rows.next().await.unwrap().unwrap().get::<u64>(0).unwrap()
}

#[tokio::test]
async fn a_block_put_is_read_back_through_the_block_store_trait() {
    let (_dir, storage) = open().await;
    let store = storage.block_store(DID_A).await.unwrap();
    let bytes = Bytes::from_static(b"\xa1aa\x01");
    let cid = cid_for_cbor(&bytes);
    store.put(cid, bytes.clone()).await.unwrap();
    assert_eq!(store.get(&cid).await.unwrap(), Some(bytes.clone()));
    assert!(store.has(&cid).await.unwrap());
    // Putting it again changes nothing.
    store.put(cid, bytes).await.unwrap();
    assert_eq!(
        count_rows(&storage, "SELECT COUNT(*) FROM repo_block").await,
        1
    );
}

#[tokio::test]
async fn a_missing_block_is_none() {
    let (_dir, storage) = open().await;
    let store = storage.block_store(DID_A).await.unwrap();
    let cid = cid_for_raw(b"never stored");
    assert_eq!(store.get(&cid).await.unwrap(), None);
    assert!(!store.has(&cid).await.unwrap());
    assert!(store.get_many(&[cid]).await.unwrap().is_empty());
}

#[tokio::test]
async fn ten_thousand_blocks_are_stored_in_one_batch() {
    let (_dir, storage) = open().await;
    let store = storage.block_store(DID_A).await.unwrap();
    let batch = blocks(1, 10_000);
    let started = Instant::now();
    store.put_many(batch.clone()).await.unwrap();
    eprintln!("put_many of 10,000 blocks took {:?}", started.elapsed());
    assert_eq!(
        count_rows(&storage, "SELECT COUNT(*) FROM repo_block").await,
        10_000
    );
    let mut wanted: Vec<Cid> = batch.iter().map(|(cid, _)| *cid).collect();
    wanted.push(cid_for_raw(b"absent"));
    let started = Instant::now();
    let found = store.get_many(&wanted).await.unwrap();
    eprintln!("get_many of 10,001 CIDs took {:?}", started.elapsed());
    let expected: HashMap<Cid, Bytes> = batch.into_iter().collect();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn blocks_of_two_accounts_are_kept_apart() {
    let (_dir, storage) = open().await;
    let a = storage.block_store(DID_A).await.unwrap();
    let b = storage.block_store(DID_B).await.unwrap();
    let only_a = blocks(1, 3);
    let shared = blocks(2, 1);
    a.put_many([only_a.clone(), shared.clone()].concat())
        .await
        .unwrap();
    b.put_many(shared.clone()).await.unwrap();
    for (cid, bytes) in &only_a {
        assert_eq!(a.get(cid).await.unwrap().as_ref(), Some(bytes));
        assert_eq!(b.get(cid).await.unwrap(), None);
    }
    let shared_cid = shared[0].0;
    assert!(a.has(&shared_cid).await.unwrap() && b.has(&shared_cid).await.unwrap());
    let only_a_cids: Vec<Cid> = only_a.iter().map(|(cid, _)| *cid).collect();
    assert!(b.get_many(&only_a_cids).await.unwrap().is_empty());
    assert_eq!(a.did(), DID_A);
}

#[tokio::test]
async fn a_batch_failing_midway_leaves_nothing_written() {
    let (_dir, storage) = open().await;
    // Force a failure deep into the batch: a trigger refuses one particular block.
    storage
        .connection()
        .execute_batch(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON repo_block
             WHEN NEW.bytes = x'dead' BEGIN SELECT RAISE(ABORT, 'poison block'); END;",
        )
        .await
        .unwrap();
    let store = storage.block_store(DID_A).await.unwrap();
    let mut batch = blocks(1, 10_000);
    let poison = Bytes::from_static(b"\xde\xad");
    batch.insert(9_000, (cid_for_raw(&poison), poison));
    let err = store.put_blocks(&batch).await.unwrap_err();
    assert!(err.to_string().contains("poison"), "{err}");
    assert_eq!(
        count_rows(&storage, "SELECT COUNT(*) FROM repo_block").await,
        0
    );

    // The store's connection is usable again afterwards.
    let good = blocks(2, 10);
    store.put_blocks(&good).await.unwrap();
    assert_eq!(
        count_rows(&storage, "SELECT COUNT(*) FROM repo_block").await,
        10
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_from_several_tasks_on_one_store_do_not_interleave() {
    let (_dir, storage) = open().await;
    let store = storage.block_store(DID_A).await.unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|seed| {
            let store = store.clone();
            // Spawning proves the store's futures are Send.
            tokio::spawn(async move { store.put_many(blocks(seed, 1_000)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        count_rows(&storage, "SELECT COUNT(*) FROM repo_block").await,
        4_000
    );
}

#[tokio::test]
async fn opening_a_database_twice_migrates_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pds.sqlite");
    let first = Storage::open_local(&path).await.unwrap();
    let second = Storage::open_local(&path).await.unwrap();
    let store = first.block_store(DID_A).await.unwrap();
    store.put_many(blocks(1, 5)).await.unwrap();
    drop(first);
    let third = Storage::open_local(&path).await.unwrap();
    for storage in [&second, &third] {
        assert_eq!(
            schema_version(storage.connection()).await.unwrap(),
            MIGRATIONS.len() as u32
        );
        assert_eq!(
            count_rows(storage, "SELECT COUNT(*) FROM schema_version").await,
            MIGRATIONS.len() as u64
        );
        assert_eq!(
            count_rows(storage, "SELECT COUNT(*) FROM repo_block").await,
            5
        );
    }
    assert_eq!(
        migrate(third.connection()).await.unwrap(),
        MIGRATIONS.len() as u32
    );
}

#[tokio::test]
async fn an_older_database_is_upgraded_and_a_newer_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pds.sqlite");
    // A database left at version 0: only the version table exists.
    {
        let db = libsql::Builder::new_local(&path).build().await.unwrap();
        let conn = db.connect().unwrap();
        assert_eq!(apply_migrations(&conn, &[]).await.unwrap(), 0);
    }
    let known = MIGRATIONS.len() as u32;
    let storage = Storage::open_local(&path).await.unwrap();
    assert_eq!(schema_version(storage.connection()).await.unwrap(), known);
    let store = storage.block_store(DID_A).await.unwrap();
    store.put_many(blocks(1, 3)).await.unwrap();

    // A later build adds a migration; the existing data stays and the known ones do not run again.
    let later: Vec<Migration> = [
        MIGRATIONS,
        &[Migration {
            version: known + 1,
            name: "test table",
            sql: "CREATE TABLE later_table (x INTEGER);",
        }],
    ]
    .concat();
    let conn = storage.connection();
    assert_eq!(apply_migrations(conn, &later).await.unwrap(), known + 1);
    assert_eq!(apply_migrations(conn, &later).await.unwrap(), known + 1);
    conn.execute("INSERT INTO later_table (x) VALUES (1)", ())
        .await
        .unwrap();
    assert_eq!(
        count_rows(&storage, "SELECT COUNT(*) FROM repo_block").await,
        3
    );
    assert_eq!(
        count_rows(&storage, "SELECT COUNT(*) FROM schema_version").await,
        u64::from(known + 1)
    );

    // This build does not know the newest version and must not run on that database.
    drop(storage);
    match Storage::open_local(&path).await {
        Err(StorageError::SchemaTooNew { found, known: k }) => {
            assert_eq!((found, k), (known + 1, known))
        }
        Err(other) => panic!("expected SchemaTooNew, got {other}"),
        Ok(_) => panic!("expected SchemaTooNew, the database opened"),
    }
}

#[tokio::test]
async fn a_failing_migration_is_rolled_back_whole() {
    let (_dir, storage) = open().await;
    let known = MIGRATIONS.len() as u32;
    let broken: Vec<Migration> = [
        MIGRATIONS,
        &[Migration {
            version: known + 1,
            name: "half broken",
            sql: "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;",
        }],
    ]
    .concat();
    let conn = storage.connection();
    assert!(apply_migrations(conn, &broken).await.is_err());
    assert_eq!(schema_version(conn).await.unwrap(), known);
    assert_eq!(
        count_rows(
            &storage,
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn opening_a_database_in_a_missing_folder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/folder/pds.sqlite");
    assert!(matches!(
        Storage::open_local(&path).await,
        Err(StorageError::Open { .. })
    ));
}

#[tokio::test]
async fn the_database_is_in_wal_mode_with_durable_commits() {
    let (_dir, storage) = open().await;
    let conn = storage.connect().await.unwrap();
    let mut rows = conn.query("PRAGMA journal_mode", ()).await.unwrap();
    let mode: String = rows.next().await.unwrap().unwrap().get(0).unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    let mut rows = conn.query("PRAGMA synchronous", ()).await.unwrap();
    // 2 is FULL.
    assert_eq!(
        rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap(),
        2
    );
    let mut rows = conn.query("PRAGMA foreign_keys", ()).await.unwrap();
    assert_eq!(
        rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap(),
        1
    );
}
