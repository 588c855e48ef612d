//! Cluster secrets: values every node of a cluster must share (the session JWT secret, the DPoP nonce
//! secret, the server's PLC rotation key, the OAuth signing key) when the environment does not give
//! them. The first node to ask creates the value; `INSERT OR IGNORE` on the primary makes that atomic,
//! so racing nodes all read back the same one. Values are sealed with the node's [`SealingKey`]
//! (every node of a cluster needs the same key); one stored in clear text by an older build is
//! sealed in place when it is read.

use libsql::Connection;

use super::error::StorageError;
use super::sealing::{cluster_secret_context, SealingKey};

/// The secret of `name`, created from `make` if the database has none yet.
pub async fn get_or_create(
    conn: &Connection,
    key: &SealingKey,
    name: &str,
    make: impl FnOnce() -> Vec<u8>,
) -> Result<Vec<u8>, StorageError> {
    let context = cluster_secret_context(name);
    let fresh = key.seal(&context, &make())?;
    conn.execute(
        "INSERT OR IGNORE INTO cluster_secret (name, value, sealed, created_at)
         VALUES (?1, ?2, 1, unixepoch())",
        libsql::params![name, fresh],
    )
    .await?;
    let mut rows = conn
        .query(
            "SELECT value, sealed FROM cluster_secret WHERE name = ?1",
            libsql::params![name],
        )
        .await?;
    let row = rows
        .next()
        .await?
        .ok_or_else(|| StorageError::Corrupt(format!("cluster secret {name} vanished")))?;
    let value: Vec<u8> = row.get(0)?;
    let sealed: i64 = row.get(1)?;
    drop(rows);
    if sealed != 0 {
        return Ok(key.open(&context, &value)?);
    }
    conn.execute(
        "UPDATE cluster_secret SET value = ?2, sealed = 1 WHERE name = ?1 AND sealed = 0",
        libsql::params![name, key.seal(&context, &value)?],
    )
    .await?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{SealingError, Storage};

    #[tokio::test]
    async fn two_handles_on_one_database_agree_on_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let key = SealingKey::generate();
        let a = Storage::open_local(&path).await.unwrap();
        let b = Storage::open_local(&path).await.unwrap();
        let first = get_or_create(a.connection(), &key, "jwt", || vec![1; 32])
            .await
            .unwrap();
        let second = get_or_create(b.connection(), &key, "jwt", || vec![2; 32])
            .await
            .unwrap();
        assert_eq!(first, vec![1; 32]);
        assert_eq!(second, first);
        let other = get_or_create(b.connection(), &key, "dpop", || vec![3; 32])
            .await
            .unwrap();
        assert_eq!(other, vec![3; 32]);
    }

    #[tokio::test]
    async fn secrets_are_sealed_and_another_key_cannot_read_them() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(&dir.path().join("db")).await.unwrap();
        let conn = storage.connection();
        let key = SealingKey::generate();
        get_or_create(conn, &key, "jwt", || vec![7; 32])
            .await
            .unwrap();
        let mut rows = conn
            .query("SELECT value, sealed FROM cluster_secret", ())
            .await
            .unwrap();
        let row = rows.next().await.unwrap().unwrap();
        let stored: Vec<u8> = row.get(0).unwrap();
        assert_eq!(row.get::<i64>(1).unwrap(), 1);
        assert!(!stored.windows(32).any(|w| w == [7; 32]));
        drop(rows);
        let wrong = get_or_create(conn, &SealingKey::generate(), "jwt", || vec![8; 32]).await;
        assert!(matches!(
            wrong,
            Err(StorageError::Sealing(SealingError::WrongKey))
        ));
    }

    #[tokio::test]
    async fn a_secret_stored_in_clear_text_is_sealed_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(&dir.path().join("db")).await.unwrap();
        let conn = storage.connection();
        conn.execute(
            "INSERT INTO cluster_secret (name, value, created_at) VALUES ('jwt', ?1, 0)",
            libsql::params![vec![5u8; 32]],
        )
        .await
        .unwrap();
        let key = SealingKey::generate();
        let value = get_or_create(conn, &key, "jwt", || vec![6; 32])
            .await
            .unwrap();
        assert_eq!(value, vec![5; 32]);
        let mut rows = conn
            .query("SELECT value, sealed FROM cluster_secret", ())
            .await
            .unwrap();
        let row = rows.next().await.unwrap().unwrap();
        assert_eq!(row.get::<i64>(1).unwrap(), 1);
        let stored: Vec<u8> = row.get(0).unwrap();
        assert_ne!(stored, vec![5; 32]);
        drop(rows);
        // Read again: it opens from the sealed form.
        let again = get_or_create(conn, &key, "jwt", || vec![6; 32])
            .await
            .unwrap();
        assert_eq!(again, vec![5; 32]);
    }
}
