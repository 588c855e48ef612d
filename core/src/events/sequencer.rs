//! [`Sequencer`]: the node's firehose hub. It keeps the subscribers, and while any of them is live it
//! runs the tailer: a task that reads new events from the `event` table and pushes their frames into
//! every live subscriber's queue without waiting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use libsql::Connection;
use tokio::sync::Notify;

use super::outbox::{Closed, Outbox};
use super::settings::SequencerConfig;
use super::subscription::Subscription;
use super::StreamError;
use crate::storage::events::{self, Event};
use crate::storage::{EventSignal, StorageError};

/// The most events one read of the table returns.
pub(super) const PAGE_EVENTS: usize = 100;

/// A read of the table stops once its events' payloads reach this many bytes.
pub(super) const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// The firehose of one node. Cloning shares it.
#[derive(Clone)]
pub struct Sequencer {
    shared: Arc<Shared>,
}

/// What the sequencer, its tailer and its subscriptions share.
pub(super) struct Shared {
    /// The connection the firehose reads the table on.
    conn: Connection,
    /// Reads on `conn` take turns.
    reads: tokio::sync::Mutex<()>,
    pub(super) config: SequencerConfig,
    state: Mutex<State>,
    /// Wakes the tailer: a local write, a subscriber leaving, the node stopping.
    wake: Notify,
}

struct State {
    members: HashMap<u64, Member>,
    next_id: u64,
    /// The newest sequence number the tailer has handed to the live subscribers.
    tail: u64,
    /// Whether the tailer task runs.
    tailing: bool,
    /// Whether the node is stopping.
    shut: bool,
}

struct Member {
    outbox: Arc<Outbox>,
    /// Whether the tailer feeds it (it has replayed up to the tail).
    live: bool,
}

impl State {
    fn any_live(&self) -> bool {
        self.members.values().any(|m| m.live)
    }
}

impl Sequencer {
    /// A sequencer reading the table on `conn` (a connection of its own, from `Storage::connect`).
    /// It starts no task until a subscriber goes live.
    pub fn new(conn: Connection, config: SequencerConfig) -> Sequencer {
        Sequencer {
            shared: Arc::new(Shared {
                conn,
                reads: tokio::sync::Mutex::new(()),
                config,
                state: Mutex::new(State {
                    members: HashMap::new(),
                    next_id: 0,
                    tail: 0,
                    tailing: false,
                    shut: false,
                }),
                wake: Notify::new(),
            }),
        }
    }

    /// Subscribes from `cursor`: `None` starts with the next event written; `Some(n)` replays the
    /// events after `n` first (a negative cursor counts as 0). A cursor beyond the newest event is
    /// refused with [`StreamError::FutureCursor`]; one older than the backfill window starts at the
    /// window's first event, after an `#info` `OutdatedCursor` frame.
    pub async fn subscribe(&self, cursor: Option<i64>) -> Result<Subscription, StreamError> {
        Subscription::start(self.shared.clone(), cursor).await
    }

    /// Tells the tailer that events may have been written. Cheap and never waits; does nothing when
    /// nobody is subscribed. Call it after a local commit.
    pub fn wake(&self) {
        if self.shared.lock().tailing {
            self.shared.wake.notify_one();
        }
    }

    /// A signal for the stores that append events ([`crate::storage::RepoStore::with_event_signal`]):
    /// it wakes this sequencer after each of their commits, so live subscribers get the events at
    /// once whichever path wrote them (an XRPC call, the administration API, the phone bindings).
    /// It does not keep the sequencer alive.
    pub fn event_signal(&self) -> EventSignal {
        let shared = Arc::downgrade(&self.shared);
        EventSignal::new(move || {
            if let Some(shared) = shared.upgrade() {
                Sequencer { shared }.wake();
            }
        })
    }

    /// Ends every subscription (their streams close) and refuses new ones: for stopping the node.
    pub fn shutdown(&self) {
        let mut state = self.shared.lock();
        state.shut = true;
        for member in state.members.values() {
            member.outbox.close(Closed::ShuttingDown);
        }
        drop(state);
        self.shared.wake.notify_one();
    }

    /// How many subscriptions are open (replaying or live).
    pub fn subscriber_count(&self) -> usize {
        self.shared.lock().members.len()
    }

    /// How many subscriptions receive live events.
    pub fn live_count(&self) -> usize {
        self.shared
            .lock()
            .members
            .values()
            .filter(|m| m.live)
            .count()
    }

    /// Whether the tailer task runs.
    pub fn is_tailing(&self) -> bool {
        self.shared.lock().tailing
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the state is a single statement or a loop of them; it stays consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a subscription that is not live yet; returns its id and queue.
    pub(super) fn enroll(&self) -> Result<(u64, Arc<Outbox>), StreamError> {
        let mut state = self.lock();
        if state.shut {
            return Err(StreamError::ShuttingDown);
        }
        let id = state.next_id;
        state.next_id += 1;
        let outbox = Arc::new(Outbox::new(
            self.config.max_queue_frames,
            self.config.max_queue_bytes,
        ));
        state.members.insert(
            id,
            Member {
                outbox: outbox.clone(),
                live: false,
            },
        );
        Ok((id, outbox))
    }

    /// Makes subscription `id`, which has delivered every event up to `position`, live — if the
    /// tailer has not handed out anything newer meanwhile. Starts the tailer (at `position`) when it
    /// does not run. Returns `Err(tail)` with the tailer's position when the subscription must first
    /// replay up to it.
    pub(super) fn go_live(self: &Arc<Self>, id: u64, position: u64) -> Result<(), u64> {
        let mut state = self.lock();
        if !state.tailing {
            state.tail = position;
            state.tailing = true;
            tokio::spawn(tail(self.clone()));
        } else if state.tail > position {
            return Err(state.tail);
        }
        if let Some(member) = state.members.get_mut(&id) {
            member.live = true;
        }
        Ok(())
    }

    /// Removes subscription `id`.
    pub(super) fn leave(&self, id: u64) {
        let mut state = self.lock();
        let was_live = state.members.remove(&id).is_some_and(|m| m.live);
        let last = !state.any_live();
        drop(state);
        if was_live && last {
            // Let the tailer see that nobody is left.
            self.wake.notify_one();
        }
    }

    /// Whether the node is stopping.
    pub(super) fn is_shut(&self) -> bool {
        self.lock().shut
    }

    /// The events after `seq`, one bounded page.
    pub(super) async fn read_page(&self, seq: u64) -> Result<Vec<Event>, StorageError> {
        let _turn = self.reads.lock().await;
        events::read_page(&self.conn, seq, PAGE_EVENTS, PAGE_BYTES).await
    }

    /// The newest sequence number (0 when there is none).
    pub(super) async fn head(&self) -> Result<u64, StorageError> {
        let _turn = self.reads.lock().await;
        Ok(events::last_seq(&self.conn).await?.unwrap_or(0))
    }

    /// The oldest sequence number still stored (0 when there is none).
    pub(super) async fn first_seq(&self) -> Result<u64, StorageError> {
        let _turn = self.reads.lock().await;
        Ok(events::first_seq(&self.conn).await?.unwrap_or(0))
    }

    /// The sequence number and time of the first event after `seq`.
    pub(super) async fn next_after(&self, seq: u64) -> Result<Option<(u64, String)>, StorageError> {
        let _turn = self.reads.lock().await;
        events::next_after(&self.conn, seq).await
    }

    /// The first event at or after `time`.
    pub(super) async fn first_since(&self, time: &str) -> Result<Option<u64>, StorageError> {
        let _turn = self.reads.lock().await;
        events::first_since(&self.conn, time).await
    }
}

/// The frames of a page, oldest first. An event whose stored body is damaged is logged and skipped
/// rather than stopping the stream for everyone.
pub(super) fn frames(page: &[Event]) -> Vec<(u64, Bytes)> {
    page.iter()
        .filter_map(|event| match event.frame() {
            Ok(frame) => Some((event.seq, Bytes::from(frame))),
            Err(err) => {
                log::error!("firehose: event {} is skipped: {err}", event.seq);
                None
            }
        })
        .collect()
}

/// Whether a page read with the bounds of [`Shared::read_page`] may have left events behind.
pub(super) fn page_is_full(page: &[Event]) -> bool {
    page.len() >= PAGE_EVENTS || page.iter().map(|e| e.payload.len()).sum::<usize>() >= PAGE_BYTES
}

/// The tailer: reads the events after the tail and hands them to the live subscribers, then waits for
/// a wake-up or the poll interval. Ends when no subscriber is live.
async fn tail(shared: Arc<Shared>) {
    log::debug!("firehose: tailer started");
    loop {
        loop {
            let after = shared.lock().tail;
            let page = match shared.read_page(after).await {
                Ok(page) => page,
                Err(err) => {
                    // Try again at the next interval; the subscribers wait meanwhile.
                    log::warn!("firehose: reading events after {after} failed: {err}");
                    break;
                }
            };
            let Some(last) = page.last().map(|e| e.seq) else {
                break;
            };
            let frames = frames(&page);
            let more = page_is_full(&page);
            let mut state = shared.lock();
            for (seq, frame) in &frames {
                for member in state.members.values_mut().filter(|m| m.live) {
                    if !member.outbox.push(*seq, frame.clone()) {
                        // Too slow (or stopping): its connection ends it; feed it no more.
                        member.live = false;
                    }
                }
            }
            state.tail = last;
            if !state.any_live() {
                state.tailing = false;
                log::debug!("firehose: tailer stopped");
                return;
            }
            drop(state);
            if !more {
                break;
            }
        }
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(shared.config.poll_interval) => {}
        }
        let mut state = shared.lock();
        if state.shut || !state.any_live() {
            state.tailing = false;
            log::debug!("firehose: tailer stopped");
            return;
        }
    }
}
