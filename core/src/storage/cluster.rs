//! What the nodes of a cluster know of each other through the shared database: the node registry
//! (each node's id, public URL, storage mode and when it was last seen) and the cluster's identity
//! (a random id created with the database, by which a replica notices that its primary now holds
//! another database).

use libsql::Connection;

use super::error::StorageError;
use super::repo_store::columns::text;

/// Schema of migration 10: the batch guard ([`super::batch`]), the `#commit` sequence number kept
/// with each commit of the chain, and the node registry.
pub(super) const SCHEMA: &str = "CREATE TABLE change_guard (
        changed INTEGER CONSTRAINT expected_one_change CHECK (changed = 1)
    );
    ALTER TABLE repo_commit ADD COLUMN seq INTEGER;
    CREATE TABLE cluster (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        id TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE node (
        id TEXT PRIMARY KEY NOT NULL,
        public_url TEXT NOT NULL,
        mode TEXT NOT NULL,
        version TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    ) WITHOUT ROWID;";

/// The cluster's id, created once with the database (the first node to ask creates it; racing
/// nodes read back the same one).
pub async fn cluster_id(conn: &Connection) -> Result<String, StorageError> {
    conn.execute(
        "INSERT OR IGNORE INTO cluster (one, id, created_at) VALUES (1, ?1, unixepoch())",
        [hex::encode(rand::random::<[u8; 16]>())],
    )
    .await?;
    read_cluster_id(conn)
        .await?
        .ok_or_else(|| StorageError::Corrupt("the cluster id vanished".into()))
}

/// The cluster's id as the database holds it now (`None` for a database without one).
pub async fn read_cluster_id(conn: &Connection) -> Result<Option<String>, StorageError> {
    let mut rows = conn
        .query("SELECT id FROM cluster WHERE one = 1", ())
        .await?;
    match rows.next().await? {
        Some(row) => Ok(Some(text(&row, 0, "cluster.id")?)),
        None => Ok(None),
    }
}

/// One node of the cluster, as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// The node's id (`PDS_NODE_ID`).
    pub id: String,
    /// The public URL it serves.
    pub public_url: String,
    /// Its storage mode (`local`, `replica`, `remote`).
    pub mode: String,
    /// The version of PocketPDS it runs.
    pub version: String,
    /// When it started, in seconds since the epoch.
    pub started_at: i64,
    /// When it last recorded itself, in seconds since the epoch.
    pub last_seen: i64,
}

/// Records (or refreshes) `node` in the registry: one statement.
pub async fn record_node(conn: &Connection, node: &NodeRecord) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO node (id, public_url, mode, version, started_at, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET public_url = excluded.public_url, mode = excluded.mode,
             version = excluded.version, started_at = excluded.started_at,
             last_seen = excluded.last_seen",
        libsql::params![
            node.id.as_str(),
            node.public_url.as_str(),
            node.mode.as_str(),
            node.version.as_str(),
            node.started_at,
            node.last_seen
        ],
    )
    .await?;
    Ok(())
}

/// Every node in the registry, most recently seen first.
pub async fn list_nodes(conn: &Connection) -> Result<Vec<NodeRecord>, StorageError> {
    let mut rows = conn
        .query(
            "SELECT id, public_url, mode, version, started_at, last_seen FROM node
             ORDER BY last_seen DESC, id LIMIT 100",
            (),
        )
        .await?;
    let mut nodes = Vec::new();
    while let Some(row) = rows.next().await? {
        nodes.push(NodeRecord {
            id: text(&row, 0, "node.id")?,
            public_url: text(&row, 1, "node.public_url")?,
            mode: text(&row, 2, "node.mode")?,
            version: text(&row, 3, "node.version")?,
            started_at: row.get::<i64>(4)?,
            last_seen: row.get::<i64>(5)?,
        });
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_node_records_itself_once_and_refreshes_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let storage = super::super::Storage::open_local(&dir.path().join("db"))
            .await
            .unwrap();
        let mut node = NodeRecord {
            id: "phone".into(),
            public_url: "http://127.0.0.1:2583".into(),
            mode: "replica".into(),
            version: "0.1.0".into(),
            started_at: 10,
            last_seen: 10,
        };
        record_node(storage.connection(), &node).await.unwrap();
        node.last_seen = 20;
        record_node(storage.connection(), &node).await.unwrap();
        let other = NodeRecord {
            id: "pi".into(),
            last_seen: 15,
            ..node.clone()
        };
        record_node(storage.connection(), &other).await.unwrap();
        let nodes = list_nodes(storage.connection()).await.unwrap();
        assert_eq!(nodes, vec![node, other]);
    }
}
