//! Cluster secrets: values every node of a cluster must share (the session JWT secret, the DPoP nonce
//! secret, the server's PLC rotation key, the OAuth signing key) when the environment does not give
//! them. The first node to ask creates the value; `INSERT OR IGNORE` on the primary makes that atomic,
//! so racing nodes all read back the same one. (Encryption at rest with a platform-held key arrives
//! with the mobile `SecretStore`.)

use libsql::Connection;

use super::error::StorageError;

/// The secret of `name`, created from `make` if the database has none yet.
pub async fn get_or_create(
    conn: &Connection,
    name: &str,
    make: impl FnOnce() -> Vec<u8>,
) -> Result<Vec<u8>, StorageError> {
    let fresh = make();
    conn.execute(
        "INSERT OR IGNORE INTO cluster_secret (name, value, created_at) VALUES (?1, ?2, unixepoch())",
        libsql::params![name, fresh],
    )
    .await?;
    let mut rows = conn
        .query(
            "SELECT value FROM cluster_secret WHERE name = ?1",
            libsql::params![name],
        )
        .await?;
    let row = rows
        .next()
        .await?
        .ok_or_else(|| StorageError::Corrupt(format!("cluster secret {name} vanished")))?;
    Ok(row.get::<Vec<u8>>(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    #[tokio::test]
    async fn two_handles_on_one_database_agree_on_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let a = Storage::open_local(&path).await.unwrap();
        let b = Storage::open_local(&path).await.unwrap();
        let first = get_or_create(a.connection(), "jwt", || vec![1; 32])
            .await
            .unwrap();
        let second = get_or_create(b.connection(), "jwt", || vec![2; 32])
            .await
            .unwrap();
        assert_eq!(first, vec![1; 32]);
        assert_eq!(second, first);
        let other = get_or_create(b.connection(), "dpop", || vec![3; 32])
            .await
            .unwrap();
        assert_eq!(other, vec![3; 32]);
    }
}
