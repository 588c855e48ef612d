//! Writing repositories out as CAR files: the whole repository (`sync.getRepo`) and the proof of one
//! record (`sync.getRecord`). The export walks the tree depth first with an explicit stack, so memory
//! stays bounded by the tree's height, not its size.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use tokio::io::AsyncWrite;

use super::writer::{encode_car, CarWriter};
use crate::repo::block_store::BlockStore;
use crate::repo::cid::Cid;
use crate::repo::commit::Commit;
use crate::repo::error::RepoError;
use crate::repo::mst::{Mst, NodeLinks};

async fn block<S: BlockStore>(store: &S, cid: &Cid) -> Result<Bytes, RepoError> {
    store.get(cid).await?.ok_or(RepoError::MissingBlock(*cid))
}

/// Streams the repository whose commit is `commit_cid` into `out` as a CAR: the commit first, then
/// each MST node followed, in key order, by its subtrees and records. Each block appears once.
/// Returns the writer and the number of blocks written.
///
/// When a node is read, its records and subtrees are fetched together with one
/// [`BlockStore::get_many`]; they wait in memory until the walk reaches them, so memory stays
/// bounded by the tree's height times its fan-out.
pub async fn export_repo<S: BlockStore, W: AsyncWrite + Unpin>(
    store: &S,
    commit_cid: Cid,
    out: W,
) -> Result<(W, u64), RepoError> {
    enum Task {
        Node(Cid),
        Record(Cid),
    }
    let mut car = CarWriter::new(out, &[commit_cid])?;
    let commit_bytes = block(store, &commit_cid).await?;
    let commit = Commit::decode(&commit_bytes)?;
    car.write_block(&commit_cid, &commit_bytes).await?;
    let mut seen_records = HashSet::new();
    let mut fetched: HashMap<Cid, Bytes> = HashMap::new();
    let mut stack = vec![Task::Node(commit.data)];
    let mut tasks = Vec::new();
    let mut wanted = Vec::new();
    while let Some(task) = stack.pop() {
        match task {
            Task::Record(cid) => {
                if seen_records.insert(cid) {
                    let bytes = match fetched.remove(&cid) {
                        Some(bytes) => bytes,
                        None => block(store, &cid).await?,
                    };
                    car.write_block(&cid, &bytes).await?;
                }
            }
            Task::Node(cid) => {
                let bytes = match fetched.remove(&cid) {
                    Some(bytes) => bytes,
                    None => block(store, &cid).await?,
                };
                let node = NodeLinks::decode(&bytes).map_err(RepoError::Mst)?;
                car.write_block(&cid, &bytes).await?;
                tasks.clear();
                tasks.extend(node.left.map(Task::Node));
                for (value, right) in &node.entries {
                    tasks.push(Task::Record(*value));
                    tasks.extend(right.map(Task::Node));
                }
                wanted.clear();
                for task in &tasks {
                    let (Task::Node(c) | Task::Record(c)) = task;
                    let needed = match task {
                        Task::Record(c) => !seen_records.contains(c),
                        Task::Node(_) => true,
                    };
                    if needed && !fetched.contains_key(c) && !wanted.contains(c) {
                        wanted.push(*c);
                    }
                }
                fetched.extend(store.get_many(&wanted).await?);
                stack.extend(tasks.drain(..).rev());
            }
        }
    }
    let blocks = car.blocks_written();
    Ok((car.finish().await?, blocks))
}

/// The CAR proving the record at `key` (or its absence) under the commit `commit_cid`: the commit,
/// the key's covering proof and, when present, the record block. `mst` is the tree of that commit.
pub async fn record_proof_car<S: BlockStore>(
    store: &S,
    commit_cid: Cid,
    mst: &mut Mst,
    key: &str,
) -> Result<Vec<u8>, RepoError> {
    let mut blocks = vec![(commit_cid, block(store, &commit_cid).await?)];
    blocks.extend(mst.covering_proof(store, key).await?);
    if let Some(record) = mst.get(store, key).await? {
        blocks.push((record, block(store, &record).await?));
    }
    Ok(encode_car(&[commit_cid], blocks))
}
