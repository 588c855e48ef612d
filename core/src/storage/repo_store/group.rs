//! Group commit: writes that arrive while another batch is being stored wait in a queue, and the
//! next writer to get the store's write turn stores all of them in one transaction — one fsync for
//! the whole group instead of one per write.
//!
//! Each write still becomes its own signed commit and `#commit` event. Writes to one repository are
//! chained in arrival order: the second is built on the head the first produces, reading the blocks
//! the first created from memory ([`Overlay`]). A write that fails to build (an invalid swap, a
//! missing record) fails alone; the rest of the chain continues from the last good head. If the
//! transaction finds a head moved by another node, the whole group is rebuilt on the new heads.
//!
//! There is no background task: the writer holding the turn is the group's leader. The batch runs
//! in a spawned task that owns the turn, so a leader whose request is dropped (a client that hangs
//! up) neither abandons the others' writes nor lets a second batch start beside it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::super::error::StorageError;
use super::apply::ApplyError;
use super::{CommitResult, RepoStore, MAX_ATTEMPTS};
use crate::crypto::Keypair;
use crate::repo::block_store::{BlockStore, StoreError};
use crate::repo::cid::Cid;
use crate::repo::writer::{prepare_commit, PreparedCommit, RepoHead, WriteError, WriteOp};
use crate::syntax::Did;

/// The most writes stored in one transaction. Bounds how long a transaction stays open (a remote
/// primary aborts write transactions left open for seconds) and how many blocks wait in memory.
pub const MAX_GROUP: usize = 256;

/// The outcome of one write.
type Outcome = Result<CommitResult, WriteError>;

/// A write waiting for its group.
pub(super) struct Job {
    did: Did,
    key: Keypair,
    ops: Vec<WriteOp>,
    swap_commit: Option<Cid>,
    reply: oneshot::Sender<Outcome>,
}

/// The writes waiting for the next group.
pub(super) type Queue = Arc<std::sync::Mutex<VecDeque<Job>>>;

impl RepoStore {
    /// Queues one write and returns its outcome once a group containing it has been stored.
    pub(super) async fn write_grouped(
        &self,
        did: &Did,
        key: &Keypair,
        ops: &[WriteOp],
        swap_commit: Option<Cid>,
    ) -> Outcome {
        let (reply, mut outcome) = oneshot::channel();
        self.queue_jobs().push_back(Job {
            did: did.clone(),
            key: key.clone(),
            ops: ops.to_vec(),
            swap_commit,
            reply,
        });
        loop {
            let turn = Arc::clone(&self.write_lock).lock_owned().await;
            match outcome.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => return Err(interrupted()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let group: Vec<Job> = {
                let mut queue = self.queue_jobs();
                let take = queue.len().min(MAX_GROUP);
                queue.drain(..take).collect()
            };
            if group.is_empty() {
                // Not reachable while the turn is held by whoever took our job; wait for the reply.
                drop(turn);
                return outcome.await.unwrap_or_else(|_| Err(interrupted()));
            }
            let store = self.clone();
            let batch = tokio::spawn(async move {
                let _turn = turn;
                store.store_group(group).await;
            });
            if let Err(err) = batch.await {
                log::error!("a group commit task failed: {err}");
            }
        }
    }

    fn queue_jobs(&self) -> std::sync::MutexGuard<'_, VecDeque<Job>> {
        // The queue holds plain data; a panic while it was locked cannot leave it inconsistent.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Builds and stores `group`, rebuilding it when another node moved a head, and replies to each
    /// job.
    async fn store_group(&self, group: Vec<Job>) {
        let mut outcomes: Vec<Option<Outcome>> = Vec::new();
        for attempt in 1..=MAX_ATTEMPTS {
            outcomes = (0..group.len()).map(|_| None).collect();
            let mut built: Vec<(usize, PreparedCommit)> = Vec::with_capacity(group.len());
            let mut chains: HashMap<Did, Chain> = HashMap::new();
            for (index, job) in group.iter().enumerate() {
                match self.build(&mut chains, job).await {
                    Ok(prepared) => built.push((index, prepared)),
                    Err(err) => outcomes[index] = Some(Err(err)),
                }
            }
            if built.is_empty() {
                break;
            }
            match self.apply_group(&built).await {
                Ok(seqs) => {
                    let size = built.len();
                    for ((index, prepared), seq) in built.into_iter().zip(seqs) {
                        outcomes[index] = Some(Ok(CommitResult {
                            head: prepared.head(),
                            seq,
                            ops: prepared.ops,
                            attempts: attempt,
                            group: size,
                        }));
                    }
                    break;
                }
                Err(ApplyError::HeadMoved) => {
                    log::debug!(
                        "a head moved under a group of {} writes (attempt {attempt}); rebuilding",
                        built.len()
                    );
                    outcomes.iter_mut().for_each(|o| *o = None);
                    // A replica reads heads from its local copy: fetch the commit that won first.
                    if let Err(err) = self.catch_up().await {
                        log::warn!("catching up after a moved head: {err}");
                    }
                    // A little jitter keeps racing nodes from meeting again at once.
                    let pause = rand::random::<u64>() % ((1u64 << attempt.min(6)) + 1);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(ApplyError::RepoExists) => {
                    for (index, prepared) in &built {
                        outcomes[*index] =
                            Some(Err(WriteError::RepoExists(prepared.did.to_string())));
                    }
                    break;
                }
                Err(ApplyError::Storage(err)) => {
                    let unavailable = matches!(
                        err,
                        StorageError::PrimaryUnavailable(_) | StorageError::PrimaryReplaced(_)
                    );
                    let message = err.to_string();
                    for (index, _) in &built {
                        outcomes[*index] = Some(Err(if unavailable {
                            WriteError::Unavailable(message.clone())
                        } else {
                            WriteError::Store(StoreError(message.clone()))
                        }));
                    }
                    break;
                }
            }
        }
        for (job, outcome) in group.into_iter().zip(outcomes) {
            let outcome = outcome.unwrap_or(Err(WriteError::Contention {
                attempts: MAX_ATTEMPTS,
            }));
            // A writer that stopped waiting (its request was dropped) no longer needs the answer.
            let _ = job.reply.send(outcome);
        }
    }

    /// Builds `job`'s commit on the latest head of its repository in this group.
    async fn build(
        &self,
        chains: &mut HashMap<Did, Chain>,
        job: &Job,
    ) -> Result<PreparedCommit, WriteError> {
        if !chains.contains_key(&job.did) {
            let mut head = self
                .head(job.did.as_str())
                .await
                .map_err(|e| WriteError::Store(e.into()))?;
            if head.is_none() && self.catch_up().await.is_ok() {
                // A repository another node created a moment ago may not be in a replica's copy.
                head = self
                    .head(job.did.as_str())
                    .await
                    .map_err(|e| WriteError::Store(e.into()))?;
            }
            chains.insert(
                job.did.clone(),
                Chain {
                    head,
                    fresh: HashMap::new(),
                },
            );
        }
        let chain = chains
            .get_mut(&job.did)
            .ok_or_else(|| WriteError::RepoNotFound(job.did.to_string()))?;
        let head = chain
            .head
            .ok_or_else(|| WriteError::RepoNotFound(job.did.to_string()))?;
        let blocks = Overlay {
            base: self.blocks(job.did.as_str()),
            fresh: &chain.fresh,
        };
        let prepared = prepare_commit(
            &blocks,
            &job.did,
            &job.key,
            Some(&head),
            &job.ops,
            job.swap_commit,
        )
        .await?;
        chain.fresh.extend(
            prepared
                .blocks
                .iter()
                .map(|(cid, bytes)| (*cid, bytes.clone())),
        );
        chain.head = Some(prepared.head());
        Ok(prepared)
    }
}

/// One repository's state within a group: its head after the writes built so far, and the blocks
/// they created.
struct Chain {
    head: Option<RepoHead>,
    fresh: HashMap<Cid, Bytes>,
}

/// The stored blocks of a repository with the group's new blocks in front of them.
struct Overlay<'a> {
    base: super::RepoBlocks<'a>,
    fresh: &'a HashMap<Cid, Bytes>,
}

impl BlockStore for Overlay<'_> {
    async fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError> {
        match self.fresh.get(cid) {
            Some(bytes) => Ok(Some(bytes.clone())),
            None => self.base.get(cid).await,
        }
    }

    async fn put_many(&self, _blocks: Vec<(Cid, Bytes)>) -> Result<(), StoreError> {
        Err(StoreError(
            "blocks of a group commit are stored with the group".to_owned(),
        ))
    }
}

fn interrupted() -> WriteError {
    WriteError::Store(StoreError(
        "the write was interrupted before it was stored".to_owned(),
    ))
}
