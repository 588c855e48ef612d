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
use crate::repo::mst::{Mst, MstError, NodeLinks};

async fn block<S: BlockStore>(store: &S, cid: &Cid) -> Result<Bytes, RepoError> {
    store.get(cid).await?.ok_or(RepoError::MissingBlock(*cid))
}

/// How many blocks one read asks the store for.
const FETCH_BATCH: usize = 256;
/// How many blocks ahead of the walk a read may look: bounds the blocks held in memory.
const LOOKAHEAD: usize = 4096;

/// One step of the walk: a node to write and expand, or a record to write.
#[derive(Clone, Copy)]
enum Task {
    Node(Cid),
    Record(Cid),
}

/// Blocks read ahead of the walk, with the links of the nodes among them once decoded.
#[derive(Default)]
struct ReadAhead {
    blocks: HashMap<Cid, Bytes>,
    links: HashMap<Cid, NodeLinks>,
}

impl ReadAhead {
    /// The links of the fetched node `cid`, decoded once.
    fn links(&mut self, cid: &Cid) -> Result<Option<&NodeLinks>, MstError> {
        if !self.links.contains_key(cid) {
            let Some(bytes) = self.blocks.get(cid) else {
                return Ok(None);
            };
            let links = NodeLinks::decode(bytes)?;
            self.links.insert(*cid, links);
        }
        Ok(self.links.get(cid))
    }

    /// Reads, in one [`BlockStore::get_many`], `first` and the blocks the walk will want next: it
    /// follows the walk's order ahead of `pending` (the walk's stack, next task last) through the
    /// nodes already read, and collects the blocks not read yet, up to [`FETCH_BATCH`] of them.
    async fn fill<S: BlockStore>(
        &mut self,
        store: &S,
        first: Cid,
        pending: &[Task],
        seen_records: &HashSet<Cid>,
    ) -> Result<(), RepoError> {
        let mut wanted = vec![first];
        let mut chosen: HashSet<Cid> = HashSet::from([first]);
        let mut ahead: Vec<Task> = pending.to_vec();
        let mut visited = 0;
        while let Some(task) = ahead.pop() {
            if wanted.len() >= FETCH_BATCH || visited >= LOOKAHEAD {
                break;
            }
            visited += 1;
            match task {
                Task::Record(cid) => {
                    if !seen_records.contains(&cid)
                        && !self.blocks.contains_key(&cid)
                        && chosen.insert(cid)
                    {
                        wanted.push(cid);
                    }
                }
                Task::Node(cid) => match self.links(&cid).map_err(RepoError::Mst)? {
                    Some(links) => push_children(&mut ahead, links),
                    None => {
                        if chosen.insert(cid) {
                            wanted.push(cid);
                        }
                    }
                },
            }
        }
        self.blocks.extend(store.get_many(&wanted).await?);
        Ok(())
    }

    /// The bytes of `cid`, read (with what follows it) when not read yet; they leave the read-ahead.
    async fn take<S: BlockStore>(
        &mut self,
        store: &S,
        cid: Cid,
        pending: &[Task],
        seen_records: &HashSet<Cid>,
    ) -> Result<(Bytes, Option<NodeLinks>), RepoError> {
        if !self.blocks.contains_key(&cid) {
            self.fill(store, cid, pending, seen_records).await?;
        }
        let bytes = self
            .blocks
            .remove(&cid)
            .ok_or(RepoError::MissingBlock(cid))?;
        Ok((bytes, self.links.remove(&cid)))
    }
}

/// Pushes a node's subtrees and records so that they pop in key order.
fn push_children(stack: &mut Vec<Task>, links: &NodeLinks) {
    for (value, right) in links.entries.iter().rev() {
        stack.extend(right.map(Task::Node));
        stack.push(Task::Record(*value));
    }
    stack.extend(links.left.map(Task::Node));
}

/// Streams the repository whose commit is `commit_cid` into `out` as a CAR: the commit first, then
/// each MST node followed, in key order, by its subtrees and records (depth-first pre-order, the
/// order a consumer can verify while streaming). Each block appears once. Returns the writer and the
/// number of blocks written.
///
/// Blocks are read ahead of the walk in batches of up to [`FETCH_BATCH`] with one
/// [`BlockStore::get_many`] each — following the nodes already read, so a batch reaches past the
/// current node's children — and at most [`LOOKAHEAD`] blocks ahead, so memory stays bounded
/// whatever the repository's size.
pub async fn export_repo<S: BlockStore, W: AsyncWrite + Unpin>(
    store: &S,
    commit_cid: Cid,
    out: W,
) -> Result<(W, u64), RepoError> {
    let mut car = CarWriter::new(out, &[commit_cid])?;
    let commit_bytes = block(store, &commit_cid).await?;
    let commit = Commit::decode(&commit_bytes)?;
    car.write_block(&commit_cid, &commit_bytes).await?;
    let mut seen_records = HashSet::new();
    let mut read_ahead = ReadAhead::default();
    let mut stack = vec![Task::Node(commit.data)];
    while let Some(task) = stack.pop() {
        match task {
            Task::Record(cid) => {
                if !seen_records.contains(&cid) {
                    let (bytes, _) = read_ahead.take(store, cid, &stack, &seen_records).await?;
                    seen_records.insert(cid);
                    car.write_block(&cid, &bytes).await?;
                }
            }
            Task::Node(cid) => {
                let (bytes, links) = read_ahead.take(store, cid, &stack, &seen_records).await?;
                let links = match links {
                    Some(links) => links,
                    None => NodeLinks::decode(&bytes).map_err(RepoError::Mst)?,
                };
                car.write_block(&cid, &bytes).await?;
                push_children(&mut stack, &links);
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
