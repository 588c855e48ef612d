//! The blob store on a database file in a temporary folder: chunked uploads, one copy per account,
//! expiry with explicit times, and the references a commit records and drops.

use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::repo::cid::{cid_for_raw, Cid};
use pocketpds_core::repo::writer::{Record, WriteOp};
use pocketpds_core::storage::blobs::CHUNK_SIZE;
use pocketpds_core::storage::{
    Announce, BlobStore, PendingUpload, RepoStore, Storage, StorageMode, StoredBlob,
};
use pocketpds_core::syntax::{Did, Nsid, RecordKey};
use tempfile::TempDir;

const DID: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const OTHER: &str = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb";

async fn open() -> (TempDir, Storage, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(&dir.path().join("pds.sqlite"))
        .await
        .unwrap();
    let blobs = BlobStore::new(storage.connect().await.unwrap());
    (dir, storage, blobs)
}

async fn count(storage: &Storage, sql: &str) -> u64 {
    let mut rows = storage.connection().query(sql, ()).await.unwrap();
    rows.next().await.unwrap().unwrap().get::<u64>(0).unwrap()
}

/// Uploads `bytes` for `did` in pieces of `piece` bytes, expiring at `expires_at`.
async fn upload(
    storage: &Storage,
    did: &str,
    bytes: &[u8],
    piece: usize,
    expires_at: i64,
) -> StoredBlob {
    let mut pending = PendingUpload::begin(
        storage.connect().await.unwrap(),
        StorageMode::Local,
        did,
        0,
        expires_at,
    )
    .await
    .unwrap();
    for part in bytes.chunks(piece) {
        assert!(pending.append(part).await.unwrap());
    }
    pending
        .finish(
            &cid_for_raw(bytes),
            "image/png",
            bytes.len() as u64,
            expires_at,
        )
        .await
        .unwrap()
        .expect("the upload was not collected")
}

async fn read_all(blobs: &BlobStore, blob: &StoredBlob) -> Vec<u8> {
    let mut out = Vec::new();
    for seq in 0..blob.chunk_count() {
        out.extend_from_slice(&blobs.chunk(blob, seq).await.unwrap().unwrap());
    }
    assert!(blobs
        .chunk(blob, blob.chunk_count())
        .await
        .unwrap()
        .is_none());
    out
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn an_upload_is_stored_in_chunks_and_read_back_whole() {
    let (_dir, storage, blobs) = open().await;
    let bytes = data(2 * CHUNK_SIZE + 1234, 1);
    // Pieces larger than a chunk are split; the store never holds a row over CHUNK_SIZE.
    let stored = upload(&storage, DID, &bytes, CHUNK_SIZE + 100, 10_000).await;
    assert_eq!(stored.cid, cid_for_raw(&bytes));
    assert_eq!(stored.size, bytes.len() as u64);
    assert!(stored.temporary);
    assert_eq!(stored.chunk_count(), 3);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob_chunk").await, 3);
    assert_eq!(
        count(&storage, "SELECT MAX(LENGTH(bytes)) FROM blob_chunk").await,
        CHUNK_SIZE as u64
    );
    assert_eq!(read_all(&blobs, &stored).await, bytes);
    assert_eq!(
        blobs.blob(DID, &stored.cid).await.unwrap(),
        Some(stored.clone())
    );
    // Per account: the other account does not hold it.
    assert_eq!(blobs.blob(OTHER, &stored.cid).await.unwrap(), None);
}

#[tokio::test]
async fn the_same_bytes_uploaded_twice_by_one_account_are_kept_once() {
    let (_dir, storage, blobs) = open().await;
    let bytes = data(CHUNK_SIZE + 1, 2);
    let first = upload(&storage, DID, &bytes, 1000, 10_000).await;
    let second = upload(&storage, DID, &bytes, 7777, 20_000).await;
    assert_eq!(first, second);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob").await, 1);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob_chunk").await, 2);
    // The re-upload pushed the expiry back.
    assert_eq!(blobs.next_expiry().await.unwrap(), Some(20_000));
    // Another account's copy is its own.
    upload(&storage, OTHER, &bytes, 1000, 10_000).await;
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob").await, 2);
    // An empty blob has no chunks.
    let empty = upload(&storage, DID, b"", 10, 10_000).await;
    assert_eq!((empty.size, empty.chunk_count()), (0, 0));
    assert!(read_all(&blobs, &empty).await.is_empty());
}

#[tokio::test]
async fn expired_temporary_blobs_and_abandoned_uploads_are_collected_and_nothing_else() {
    let (_dir, storage, blobs) = open().await;
    assert_eq!(blobs.next_expiry().await.unwrap(), None);
    let early = upload(&storage, DID, &data(100, 3), 50, 1_000).await;
    let late = upload(&storage, DID, &data(100, 4), 50, 5_000).await;
    let mut abandoned = PendingUpload::begin(
        storage.connect().await.unwrap(),
        StorageMode::Local,
        DID,
        0,
        1_000,
    )
    .await
    .unwrap();
    assert!(abandoned.append(&data(CHUNK_SIZE * 2, 5)).await.unwrap());

    assert_eq!(blobs.next_expiry().await.unwrap(), Some(1_000));
    assert_eq!(blobs.collect_expired(999).await.unwrap(), 0);
    assert_eq!(blobs.collect_expired(1_000).await.unwrap(), 2);
    assert_eq!(blobs.blob(DID, &early.cid).await.unwrap(), None);
    assert!(blobs.blob(DID, &late.cid).await.unwrap().is_some());
    assert_eq!(blobs.next_expiry().await.unwrap(), Some(5_000));
    // The abandoned upload's rows are gone, and it cannot come back.
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob_chunk").await, 1);
    assert!(!abandoned.append(&data(CHUNK_SIZE, 9)).await.unwrap());
    assert_eq!(
        abandoned
            .finish(&cid_for_raw(b"x"), "image/png", 1, 9_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob").await, 1);
}

#[tokio::test]
async fn many_expired_blobs_are_collected_in_batches() {
    let (_dir, storage, blobs) = open().await;
    for i in 0..150u32 {
        upload(&storage, DID, &i.to_be_bytes(), 4, 100).await;
    }
    assert_eq!(blobs.collect_expired(100).await.unwrap(), 150);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob").await, 0);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob_chunk").await, 0);
    assert_eq!(blobs.next_expiry().await.unwrap(), None);
}

fn post_with(images: &[&StoredBlob]) -> Record {
    let images: Vec<_> = images
        .iter()
        .map(|b| {
            serde_json::json!({"alt": "", "image": {"$type": "blob", "ref": {"$link": b.cid.to_string()},
                               "mimeType": b.mime_type, "size": b.size}})
        })
        .collect();
    Record::from_json(&serde_json::json!({
        "$type": "app.bsky.feed.post", "text": "pictures", "createdAt": "2024-01-01T00:00:00Z",
        "embed": {"$type": "app.bsky.embed.images", "images": images},
    }))
    .unwrap()
}

fn op(kind: &str, rkey: &str, record: Option<Record>) -> WriteOp {
    let collection = Nsid::parse("app.bsky.feed.post").unwrap();
    let rkey = RecordKey::parse(rkey).unwrap();
    match (kind, record) {
        ("create", Some(record)) => WriteOp::Create {
            collection,
            rkey,
            record,
        },
        ("update", Some(record)) => WriteOp::Update {
            collection,
            rkey,
            record,
            swap_record: None,
        },
        _ => WriteOp::Delete {
            collection,
            rkey,
            swap_record: None,
        },
    }
}

#[tokio::test]
async fn commits_make_referenced_blobs_permanent_and_delete_them_with_their_last_reference() {
    let (_dir, storage, blobs) = open().await;
    let repos = RepoStore::new(storage.connect().await.unwrap());
    let did = Did::parse(DID).unwrap();
    let key = Keypair::generate(Algorithm::K256).unwrap();
    repos
        .create_repo(&did, &key, Announce::CommitOnly)
        .await
        .unwrap();
    let a = upload(&storage, DID, &data(CHUNK_SIZE + 5, 6), 4096, 1_000).await;
    let b = upload(&storage, DID, &data(10, 7), 10, 1_000).await;

    let first = repos
        .write(
            &did,
            &key,
            &[op("create", "one", Some(post_with(&[&a, &b])))],
            None,
        )
        .await
        .unwrap();
    repos
        .write(
            &did,
            &key,
            &[op("create", "two", Some(post_with(&[&a])))],
            None,
        )
        .await
        .unwrap();
    for blob in [&a, &b] {
        assert!(!blobs.blob(DID, &blob.cid).await.unwrap().unwrap().temporary);
    }
    // Permanent blobs outlive any expiry.
    assert_eq!(blobs.collect_expired(i64::MAX).await.unwrap(), 0);
    let mut referenced = blobs.list_referenced(DID, None, None, 10).await.unwrap();
    referenced.sort_by_key(Cid::to_bytes);
    let mut expected = vec![a.cid, b.cid];
    expected.sort_by_key(Cid::to_bytes);
    assert_eq!(referenced, expected);
    // `since` the first commit: only what the second commit's record references.
    let since = first.head.rev.to_string();
    assert_eq!(
        blobs
            .list_referenced(DID, Some(&since), None, 10)
            .await
            .unwrap(),
        vec![a.cid]
    );
    assert_eq!(
        blobs.referencing_records(DID, &a.cid).await.unwrap(),
        vec!["app.bsky.feed.post/one", "app.bsky.feed.post/two"]
    );

    // Updating "one" to drop both: b loses its last reference and goes; a stays for "two".
    repos
        .write(
            &did,
            &key,
            &[op("update", "one", Some(post_with(&[])))],
            None,
        )
        .await
        .unwrap();
    assert_eq!(blobs.blob(DID, &b.cid).await.unwrap(), None);
    assert!(blobs.blob(DID, &a.cid).await.unwrap().is_some());
    // Deleting "two" drops a's last reference: its rows and chunks go in the same commit.
    repos
        .write(&did, &key, &[op("delete", "two", None)], None)
        .await
        .unwrap();
    assert_eq!(blobs.blob(DID, &a.cid).await.unwrap(), None);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob").await, 0);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob_chunk").await, 0);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM record_blob").await, 0);
}

#[tokio::test]
async fn a_blob_uploaded_after_the_record_that_references_it_is_missing_until_then() {
    let (_dir, storage, blobs) = open().await;
    let repos = RepoStore::new(storage.connect().await.unwrap());
    let did = Did::parse(DID).unwrap();
    let key = Keypair::generate(Algorithm::K256).unwrap();
    repos
        .create_repo(&did, &key, Announce::CommitOnly)
        .await
        .unwrap();
    // A record that references a blob the account does not hold (as an account moving in has).
    let bytes = data(300, 8);
    let absent = cid_for_raw(&bytes);
    let record = Record::from_json(&serde_json::json!({
        "$type": "app.bsky.actor.profile",
        "avatar": {"$type": "blob", "ref": {"$link": absent.to_string()}, "mimeType": "image/png", "size": 300},
    }))
    .unwrap();
    let collection = Nsid::parse("app.bsky.actor.profile").unwrap();
    let rkey = RecordKey::parse("self").unwrap();
    repos
        .write(
            &did,
            &key,
            &[WriteOp::Create {
                collection,
                rkey,
                record,
            }],
            None,
        )
        .await
        .unwrap();
    let missing = blobs.list_missing(DID, None, 10).await.unwrap();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].cid, absent);
    assert_eq!(
        missing[0].record_uri,
        format!("at://{DID}/app.bsky.actor.profile/self")
    );
    assert!(blobs
        .list_missing(DID, Some(&absent), 10)
        .await
        .unwrap()
        .is_empty());
    // Uploaded now, it is permanent at once and no longer missing.
    let stored = upload(&storage, DID, &bytes, 100, 1_000).await;
    assert!(!stored.temporary);
    assert!(blobs.list_missing(DID, None, 10).await.unwrap().is_empty());
    assert_eq!(blobs.collect_expired(i64::MAX).await.unwrap(), 0);
    // The account's deletion takes its blobs and references with it.
    repos.delete_repo(&did).await.unwrap();
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob").await, 0);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM blob_chunk").await, 0);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM record_blob").await, 0);
}
