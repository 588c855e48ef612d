//! Secrets are encrypted at rest: the database files never hold an account's signing key or the
//! cluster's session secret in the clear, another secrets key cannot open them, and values stored
//! in the clear before encryption existed are sealed when a node opens the database.

mod common;

use std::path::Path;

use common::node::{local_config, seed_account};
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::node::{self, NodeError};
use pocketpds_core::storage::{
    apply_migrations, AccountStore, SealingError, SealingKey, StorageError, MIGRATIONS,
};

/// Every byte of every file in `dir` (database, WAL, shared memory).
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_and_cluster_secrets_never_reach_the_disk_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let key = SealingKey::generate();
    let mut config = local_config(dir.path());
    config.secrets_key = Some(key.clone());
    let running = node::start(config.clone()).await.unwrap();
    let (signing, _) =
        seed_account(&running, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "alice.test").await;
    let rotation = running.state.plc_rotation_key.private_bytes();
    running.stop().await.unwrap();

    let disk = all_bytes(dir.path());
    assert!(disk.len() > 4096, "the database was written");
    // The control: a value the node stores in the clear (the handle) is found by this scan.
    assert!(contains(&disk, b"alice.test"));
    assert!(!contains(&disk, &signing.private_bytes()));
    assert!(!contains(&disk, &rotation));
    // No key file either: the key came from the configuration.
    assert!(!dir.path().join("secrets.key").exists());

    // Another key cannot open the secrets; the right key still can.
    let mut wrong = config.clone();
    wrong.secrets_key = Some(SealingKey::generate());
    match node::open(wrong).await {
        Err(NodeError::Storage(StorageError::Sealing(SealingError::WrongKey))) => {}
        Err(other) => panic!("expected a wrong-key error, got {other}"),
        Ok(_) => panic!("a node opened the secrets with another key"),
    }
    let state = node::open(config).await.unwrap();
    let stored = state
        .accounts
        .signing_key("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.private_bytes(), signing.private_bytes());
    assert_eq!(state.plc_rotation_key.private_bytes(), rotation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_key_the_node_keeps_one_in_its_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = local_config(dir.path());
    let first = node::open(config.clone()).await.unwrap();
    let rotation = first.plc_rotation_key.private_bytes();
    drop(first);
    let text = std::fs::read_to_string(dir.path().join("secrets.key")).unwrap();
    let key = SealingKey::from_hex(&text).unwrap();
    let second = node::open(config).await.unwrap();
    assert_eq!(second.secrets_key, key);
    assert_eq!(second.plc_rotation_key.private_bytes(), rotation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stored_in_the_clear_by_an_older_build_are_sealed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    let signing = Keypair::generate(Algorithm::K256).unwrap();
    let rotation = Keypair::generate(Algorithm::K256).unwrap();
    {
        // A database as the build before encryption at rest left it.
        let db = libsql::Builder::new_local(config.database_path())
            .build()
            .await
            .unwrap();
        let conn = db.connect().unwrap();
        let before_sealing = MIGRATIONS
            .iter()
            .position(|m| m.name == "sealed secrets")
            .unwrap();
        apply_migrations(&conn, &MIGRATIONS[..before_sealing])
            .await
            .unwrap();
        conn.execute(
            "INSERT INTO account (did, handle, created_at) VALUES ('did:plc:old', 'old.test', 0)",
            (),
        )
        .await
        .unwrap();
        conn.execute(
            "INSERT INTO account_key (did, algorithm, private_key) VALUES ('did:plc:old', 'k256', ?1)",
            [libsql::Value::Blob(signing.private_bytes().to_vec())],
        )
        .await
        .unwrap();
        conn.execute(
            "INSERT INTO cluster_secret (name, value, created_at) VALUES ('plc_rotation_key', ?1, 0)",
            [libsql::Value::Blob(rotation.private_bytes().to_vec())],
        )
        .await
        .unwrap();
    }
    let key = SealingKey::generate();
    config.secrets_key = Some(key.clone());
    let state = node::open(config.clone()).await.unwrap();
    assert_eq!(
        state.plc_rotation_key.private_bytes(),
        rotation.private_bytes()
    );
    let mut rows = state
        .storage
        .connection()
        .query(
            "SELECT (SELECT COUNT(*) FROM account_key WHERE sealed = 0)
                  + (SELECT COUNT(*) FROM cluster_secret WHERE sealed = 0)",
            (),
        )
        .await
        .unwrap();
    let unsealed: i64 = rows.next().await.unwrap().unwrap().get(0).unwrap();
    assert_eq!(unsealed, 0);
    drop(rows);
    let accounts = AccountStore::new(state.storage.connect().await.unwrap(), key);
    let stored = accounts.signing_key("did:plc:old").await.unwrap().unwrap();
    assert_eq!(stored.private_bytes(), signing.private_bytes());
}
