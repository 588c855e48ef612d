//! Verifying a repository received from outside (`importRepo`, account migration): the commit is
//! signed by the account's key, every MST node is present, hashes to its CID and obeys the tree's
//! rules (keys ascending across the whole tree, each on the layer its hash says), and every record
//! is present and valid DAG-CBOR. Blocks are checked against their CIDs as the CAR is read.

use tokio::io::AsyncRead;

use super::error::CarError;
use super::reader::{CarLimits, CarReader};
use crate::crypto::PublicKey;
use crate::repo::block_store::BlockStore;
use crate::repo::cbor;
use crate::repo::cid::{Cid, DAG_CBOR};
use crate::repo::commit::Commit;
use crate::repo::error::RepoError;
use crate::repo::mst::key::key_height;
use crate::repo::mst::{MstError, Node};

/// What a verified repository holds.
#[derive(Debug, Clone)]
pub struct VerifiedRepo {
    /// The commit's CID (the CAR root).
    pub commit_cid: Cid,
    /// The signed commit.
    pub commit: Commit,
    /// Number of MST nodes.
    pub nodes: u64,
    /// Number of records (keys).
    pub records: u64,
    /// The CIDs of the MST nodes, root first.
    pub node_cids: Vec<Cid>,
    /// Every key (`collection/rkey`) with its record's CID, in no particular order.
    pub entries: Vec<(std::sync::Arc<str>, Cid)>,
}

/// How many blocks go to the store in one batch while a CAR is read.
const BATCH: usize = 1024;
/// How many bytes of blocks go to the store in one batch at most (a batch closes at whichever of
/// [`BATCH`] blocks or this comes first), so staging holds little of the CAR in memory.
const BATCH_BYTES: usize = 2 * 1024 * 1024;

/// Reads a repository CAR into `store` (every block checked against its CID on the way), then
/// verifies it with [`verify_repo`].
pub async fn import_car<R: AsyncRead + Unpin, S: BlockStore>(
    reader: R,
    limits: CarLimits,
    store: &S,
    did: &str,
    key: &PublicKey,
) -> Result<VerifiedRepo, RepoError> {
    let root = stage_car(reader, limits, store).await?;
    verify_repo(store, root, did, key).await
}

/// Reads a repository CAR into `store` in batches of at most [`BATCH`] blocks and
/// [`BATCH_BYTES`] bytes (every block checked against its CID on the way) and returns its root,
/// the commit's CID. Nothing is verified beyond the blocks' hashes: see [`verify_repo`]. When the
/// input breaks off, the whole blocks read so far are stored before the error is returned.
pub async fn stage_car<R: AsyncRead + Unpin, S: BlockStore>(
    reader: R,
    limits: CarLimits,
    store: &S,
) -> Result<Cid, RepoError> {
    let mut car = CarReader::new(reader, limits).await?;
    let root = match car.roots() {
        [root] => *root,
        roots => {
            return Err(RepoError::Invalid(format!(
                "a repository CAR has one root, this one has {}",
                roots.len()
            )))
        }
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut batch_bytes = 0;
    loop {
        let block = match car.next_block().await {
            Ok(Some(block)) => block,
            Ok(None) => break,
            Err(err @ (CarError::Io(_) | CarError::Truncated)) => {
                // The transfer broke off: what arrived whole is kept, for a retry to build on.
                store.put_many(batch).await?;
                return Err(err.into());
            }
            Err(err) => return Err(err.into()),
        };
        batch_bytes += block.1.len();
        batch.push(block);
        if batch.len() == BATCH || batch_bytes >= BATCH_BYTES {
            store.put_many(std::mem::take(&mut batch)).await?;
            batch_bytes = 0;
        }
    }
    store.put_many(batch).await?;
    Ok(root)
}

/// Verifies the repository whose commit is `commit_cid` in `store`: see the module comment.
pub async fn verify_repo<S: BlockStore>(
    store: &S,
    commit_cid: Cid,
    did: &str,
    key: &PublicKey,
) -> Result<VerifiedRepo, RepoError> {
    let bytes = store
        .get(&commit_cid)
        .await?
        .ok_or(RepoError::MissingBlock(commit_cid))?;
    let commit = Commit::decode(&bytes)?;
    if commit.did != did {
        return Err(RepoError::Invalid(format!(
            "commit is for {}, expected {did}",
            commit.did
        )));
    }
    commit.verify(key)?;

    struct Visit {
        cid: Cid,
        layer: u32,
        lower: Option<std::sync::Arc<str>>,
        upper: Option<std::sync::Arc<str>>,
    }
    let corrupt = |why: String| RepoError::Mst(MstError::Corrupt(why));
    let root_bytes = store
        .get(&commit.data)
        .await?
        .ok_or(RepoError::MissingBlock(commit.data))?;
    let root = Node::decode(&root_bytes)?;
    let root_layer = match (root.entries.first(), root.left) {
        (Some(first), _) => key_height(first.key.as_bytes()),
        (None, None) => 0,
        (None, Some(_)) => return Err(corrupt("root node without entries".into())),
    };
    let (mut nodes, mut records) = (0u64, 0u64);
    let mut node_cids = Vec::new();
    let mut entries = Vec::new();
    let mut stack = vec![Visit {
        cid: commit.data,
        layer: root_layer,
        lower: None,
        upper: None,
    }];
    while let Some(v) = stack.pop() {
        let bytes = store
            .get(&v.cid)
            .await?
            .ok_or(RepoError::MissingBlock(v.cid))?;
        let node = Node::decode(&bytes)?;
        nodes += 1;
        node_cids.push(v.cid);
        if node.is_empty() && v.cid != commit.data {
            return Err(corrupt(format!("empty node {}", v.cid)));
        }
        if let (Some(lo), Some(first)) = (&v.lower, node.entries.first()) {
            if first.key <= *lo {
                return Err(corrupt(format!("node {} out of key order", v.cid)));
            }
        }
        if let (Some(hi), Some(last)) = (&v.upper, node.entries.last()) {
            if last.key >= *hi {
                return Err(corrupt(format!("node {} out of key order", v.cid)));
            }
        }
        for entry in &node.entries {
            if key_height(entry.key.as_bytes()) != v.layer {
                return Err(corrupt(format!("key {} on the wrong layer", entry.key)));
            }
            if entry.value.codec() != DAG_CBOR {
                return Err(corrupt(format!("record {} is not dag-cbor", entry.key)));
            }
            let record = store
                .get(&entry.value)
                .await?
                .ok_or(RepoError::MissingBlock(entry.value))?;
            cbor::validate(&record).map_err(|source| RepoError::Record {
                cid: entry.value,
                source,
            })?;
            records += 1;
            entries.push((entry.key.clone(), entry.value));
        }
        for i in 0..=node.entries.len() {
            let Some(child) = node.gap(i) else { continue };
            let layer = v
                .layer
                .checked_sub(1)
                .ok_or_else(|| corrupt(format!("node {} has a subtree below layer 0", v.cid)))?;
            let lower = match i {
                0 => v.lower.clone(),
                _ => node.entries.get(i - 1).map(|e| e.key.clone()),
            };
            let upper = node
                .entries
                .get(i)
                .map(|e| e.key.clone())
                .or_else(|| v.upper.clone());
            stack.push(Visit {
                cid: child,
                layer,
                lower,
                upper,
            });
        }
    }
    Ok(VerifiedRepo {
        commit_cid,
        commit,
        nodes,
        records,
        node_cids,
        entries,
    })
}
