//! Building commits: from a repository head and a batch of [`WriteOp`]s to a [`PreparedCommit`] —
//! the signed commit, the blocks to store, the per-op results and the Sync 1.1 `#commit` event body.
//!
//! This is pure repository logic: it reads the current tree through a [`BlockStore`] and writes
//! nothing. [`crate::storage`] stores a prepared commit in one transaction and moves the head with a
//! compare-and-swap; when another writer moved the head first, it prepares again on the new head.
//!
//! Behaviour follows the reference PDS where the lexicons leave it open: a create of an existing
//! key fails ([`WriteError::RecordExists`]); an update or delete of a missing key fails
//! ([`WriteError::RecordNotFound`]; the reference's `deleteRecord` answers success without a commit
//! when the record is absent, which its handler decides before writing); swaps behave as
//! `applyWrites`/`putRecord`/`deleteRecord` describe ([`WriteError::InvalidSwap`]); a commit holds at
//! most [`MAX_WRITES`] ops and at most [`MAX_EVENT_BLOCKS`] bytes of event blocks. Unlike the
//! reference, two ops on one key in one commit are refused ([`WriteError::DuplicatePath`]): a
//! firehose consumer could not invert them.

mod error;
mod event;
mod op;

use std::collections::HashSet;

use bytes::Bytes;

pub use error::WriteError;
pub use event::{event_time, sync_event};
pub use op::{Action, OpResult, Record, WriteOp};

use crate::crypto::Keypair;
use crate::repo::block_store::BlockStore;
use crate::repo::car::encode_car;
use crate::repo::cid::Cid;
use crate::repo::commit::{Commit, SignedCommit};
use crate::repo::mst::Mst;
use crate::syntax::{Did, Tid};
use event::CommitEvent;

/// The most ops one commit may hold (the reference PDS's `applyWrites` limit).
pub const MAX_WRITES: usize = 200;

/// The largest `blocks` CAR a `#commit` event may carry (the reference PDS's 2 MB limit).
pub const MAX_EVENT_BLOCKS: usize = 2_000_000;

/// Where a repository stands: its current commit, that commit's MST root, and its revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoHead {
    /// The current commit's CID.
    pub commit: Cid,
    /// The MST root the commit points at.
    pub data: Cid,
    /// The commit's revision.
    pub rev: Tid,
}

/// A commit built and signed but not stored yet.
#[derive(Debug, Clone)]
pub struct PreparedCommit {
    /// The account.
    pub did: Did,
    /// The signed commit, its bytes and CID.
    pub commit: SignedCommit,
    /// The commit's revision.
    pub rev: Tid,
    /// The head the commit builds on (`None` for a repository's first commit).
    pub prev: Option<RepoHead>,
    /// The blocks to store: the commit, the new MST nodes and the new records.
    pub blocks: Vec<(Cid, Bytes)>,
    /// One result per op, in the order of the ops.
    pub ops: Vec<OpResult>,
    /// When the commit was built, as the event says.
    pub time: String,
    /// The `#commit` event body (DAG-CBOR, without `seq`).
    pub event: Vec<u8>,
}

impl PreparedCommit {
    /// The head once this commit is stored.
    pub fn head(&self) -> RepoHead {
        RepoHead {
            commit: self.commit.cid,
            data: self.commit.commit.data,
            rev: self.rev,
        }
    }

    /// The `#sync` event body for this commit (used when a repository is created or reset).
    pub fn sync_event(&self) -> Result<Vec<u8>, WriteError> {
        Ok(sync_event(&self.did, &self.commit, &self.time)?)
    }
}

/// Builds the commit that applies `ops`, in order, to the repository at `head` (`None`: a new,
/// empty repository), reading the current tree from `store`. `swap_commit`, when set, must be the
/// head's commit. See the module comment for the rules.
pub async fn prepare_commit<S: BlockStore>(
    store: &S,
    did: &Did,
    key: &Keypair,
    head: Option<&RepoHead>,
    ops: &[WriteOp],
    swap_commit: Option<Cid>,
) -> Result<PreparedCommit, WriteError> {
    if ops.len() > MAX_WRITES {
        return Err(WriteError::TooManyWrites {
            count: ops.len(),
            max: MAX_WRITES,
        });
    }
    let paths: Vec<String> = ops.iter().map(WriteOp::path).collect();
    let mut seen = HashSet::with_capacity(paths.len());
    if let Some(dup) = paths.iter().find(|p| !seen.insert(p.as_str())) {
        return Err(WriteError::DuplicatePath(dup.clone()));
    }
    if let Some(expected) = swap_commit {
        let current = head.map(|h| h.commit);
        if current != Some(expected) {
            return Err(WriteError::InvalidSwap {
                path: None,
                current,
            });
        }
    }

    let mut mst = match head {
        Some(h) => Mst::load(h.data),
        None => Mst::empty(),
    };
    let mut results = Vec::with_capacity(ops.len());
    let mut records: Vec<(Cid, Bytes)> = Vec::with_capacity(ops.len());
    for (op, path) in ops.iter().zip(&paths) {
        let current = mst.get(store, path).await?;
        check_swap(op, path, current)?;
        let (action, cid) = match op {
            WriteOp::Create { record, .. } => {
                if current.is_some() {
                    return Err(WriteError::RecordExists(path.clone()));
                }
                (op::Action::Create, Some(record.cid()))
            }
            WriteOp::Update { record, .. } => {
                if current.is_none() {
                    return Err(WriteError::RecordNotFound(path.clone()));
                }
                (op::Action::Update, Some(record.cid()))
            }
            WriteOp::Put { record, .. } => match current {
                Some(_) => (op::Action::Update, Some(record.cid())),
                None => (op::Action::Create, Some(record.cid())),
            },
            WriteOp::Delete { .. } => {
                if current.is_none() {
                    return Err(WriteError::RecordNotFound(path.clone()));
                }
                (op::Action::Delete, None)
            }
        };
        match (cid, op.record()) {
            (Some(cid), Some(record)) => {
                mst.put(store, path, cid).await?;
                records.push((cid, record.bytes().clone()));
            }
            _ => {
                mst.delete(store, path).await?;
            }
        }
        results.push(OpResult::new(did, op, action, cid, current));
    }

    // Covering proofs come from the new tree while its nodes are still pending (readable with bytes).
    let mut proofs = Vec::new();
    for path in &paths {
        proofs.extend(mst.covering_proof(store, path).await?);
    }
    let nodes = mst.take_blocks();
    let data = mst.root();
    let rev = match head {
        Some(h) => Tid::next_after(&h.rev)?,
        None => Tid::next(),
    };
    let commit = Commit::sign(did.as_str(), data, &rev.to_string(), None, key);

    let mut stored = Blocks::default();
    stored.push(commit.cid, commit.bytes.clone());
    stored.extend(nodes);
    stored.extend(records);
    let mut sent = stored.clone();
    sent.extend(proofs);
    let car = encode_car(&[commit.cid], sent.blocks);
    if car.len() > MAX_EVENT_BLOCKS {
        return Err(WriteError::TooLarge {
            bytes: car.len(),
            max: MAX_EVENT_BLOCKS,
        });
    }
    let time = event_time();
    let event = CommitEvent {
        did,
        commit: commit.cid,
        rev,
        since: head.map(|h| h.rev),
        blocks: car,
        ops: &results,
        prev_data: head.map(|h| h.data),
        time: &time,
    }
    .encode()?;
    Ok(PreparedCommit {
        did: did.clone(),
        commit,
        rev,
        prev: head.copied(),
        blocks: stored.blocks,
        ops: results,
        time,
        event,
    })
}

/// The first commit of a new account: an empty tree, no ops.
pub async fn genesis(did: &Did, key: &Keypair) -> Result<PreparedCommit, WriteError> {
    let nothing = crate::repo::MemoryBlockStore::new();
    prepare_commit(&nothing, did, key, None, &[], None).await
}

/// Checks an op's swap against the record's current CID, as the reference PDS does: a swap of
/// "no record" on an update or delete always fails, since those need a record.
fn check_swap(op: &WriteOp, path: &str, current: Option<Cid>) -> Result<(), WriteError> {
    let holds = match op {
        WriteOp::Create { .. } => true,
        WriteOp::Update { swap_record, .. } | WriteOp::Delete { swap_record, .. } => {
            swap_record.is_none_or(|expected| current == Some(expected))
        }
        WriteOp::Put { swap_record, .. } => swap_record.is_none_or(|expected| current == expected),
    };
    if holds {
        Ok(())
    } else {
        Err(WriteError::InvalidSwap {
            path: Some(path.to_owned()),
            current,
        })
    }
}

/// Blocks in first-seen order, each CID once.
#[derive(Default, Clone)]
struct Blocks {
    blocks: Vec<(Cid, Bytes)>,
    seen: HashSet<Cid>,
}

impl Blocks {
    fn push(&mut self, cid: Cid, bytes: Bytes) {
        if self.seen.insert(cid) {
            self.blocks.push((cid, bytes));
        }
    }

    fn extend(&mut self, blocks: impl IntoIterator<Item = (Cid, Bytes)>) {
        for (cid, bytes) in blocks {
            self.push(cid, bytes);
        }
    }
}

#[cfg(test)]
mod tests;
