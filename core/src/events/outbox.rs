//! [`Outbox`]: the bounded queue of frames waiting for one live subscriber.
//!
//! The tailer pushes without ever waiting; the subscriber's connection task pops. A push that would
//! take the queue past its bound closes the queue instead (the subscriber is too slow) and drops what
//! it held, so a stalled subscriber costs at most one queue's worth of memory, for a moment.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

/// Why a queue was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Closed {
    /// It overflowed.
    TooSlow,
    /// The node is stopping.
    ShuttingDown,
}

/// One subscriber's queue of `(seq, frame)`.
pub(super) struct Outbox {
    queue: Mutex<Queue>,
    /// A frame was pushed or the queue was closed (one waiter: the subscriber's `pop`).
    ready: Notify,
    /// The queue was closed (one waiter: the subscriber's `closed`).
    closing: Notify,
    max_frames: usize,
    max_bytes: usize,
}

struct Queue {
    frames: VecDeque<(u64, Bytes)>,
    bytes: usize,
    closed: Option<Closed>,
}

impl Outbox {
    /// An empty queue of at most `max_frames` frames and (beyond its first frame) `max_bytes`.
    pub(super) fn new(max_frames: usize, max_bytes: usize) -> Outbox {
        Outbox {
            queue: Mutex::new(Queue {
                frames: VecDeque::new(),
                bytes: 0,
                closed: None,
            }),
            ready: Notify::new(),
            closing: Notify::new(),
            max_frames: max_frames.max(1),
            max_bytes,
        }
    }

    /// Queues a frame without waiting. Returns false when the queue is closed, now (it would overflow)
    /// or before.
    pub(super) fn push(&self, seq: u64, frame: Bytes) -> bool {
        let mut queue = self.lock();
        if queue.closed.is_some() {
            return false;
        }
        let overflow = queue.frames.len() >= self.max_frames
            || (!queue.frames.is_empty()
                && queue.bytes.saturating_add(frame.len()) > self.max_bytes);
        if overflow {
            close_queue(&mut queue, Closed::TooSlow);
            drop(queue);
            self.wake_all();
            return false;
        }
        queue.bytes += frame.len();
        queue.frames.push_back((seq, frame));
        drop(queue);
        self.ready.notify_one();
        true
    }

    /// Closes the queue (if it is still open) and drops what it holds.
    pub(super) fn close(&self, why: Closed) {
        let mut queue = self.lock();
        if queue.closed.is_none() {
            close_queue(&mut queue, why);
        }
        drop(queue);
        self.wake_all();
    }

    /// Whether the queue is closed, and why.
    pub(super) fn closed_reason(&self) -> Option<Closed> {
        self.lock().closed
    }

    /// The next frame, waiting for one; an error once the queue is closed (even with frames left:
    /// a closed queue has nothing more to deliver).
    pub(super) async fn pop(&self) -> Result<(u64, Bytes), Closed> {
        loop {
            {
                let mut queue = self.lock();
                if let Some(why) = queue.closed {
                    return Err(why);
                }
                if let Some((seq, frame)) = queue.frames.pop_front() {
                    queue.bytes -= frame.len();
                    return Ok((seq, frame));
                }
            }
            // A push between the check and here leaves a permit, so no wake-up is lost.
            self.ready.notified().await;
        }
    }

    /// Waits until the queue is closed.
    pub(super) async fn closed(&self) -> Closed {
        loop {
            if let Some(why) = self.closed_reason() {
                return why;
            }
            self.closing.notified().await;
        }
    }

    fn wake_all(&self) {
        self.ready.notify_one();
        self.closing.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is consistent between statements, so a panic elsewhere leaves it usable.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn close_queue(queue: &mut Queue, why: Closed) {
    queue.closed = Some(why);
    queue.frames = VecDeque::new();
    queue.bytes = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Bytes {
        Bytes::from(vec![0u8; len])
    }

    #[tokio::test]
    async fn frames_come_out_in_order() {
        let outbox = Outbox::new(10, 1000);
        for seq in 1..=3 {
            assert!(outbox.push(seq, frame(10)));
        }
        for seq in 1..=3 {
            assert_eq!(outbox.pop().await.unwrap().0, seq);
        }
    }

    #[tokio::test]
    async fn overflowing_the_frame_bound_closes_the_queue_and_drops_its_frames() {
        let outbox = Outbox::new(2, 1000);
        assert!(outbox.push(1, frame(1)));
        assert!(outbox.push(2, frame(1)));
        assert!(!outbox.push(3, frame(1)));
        assert_eq!(outbox.pop().await, Err(Closed::TooSlow));
        assert_eq!(outbox.closed().await, Closed::TooSlow);
        assert!(!outbox.push(4, frame(1)), "a closed queue takes nothing");
        assert_eq!(outbox.lock().frames.len(), 0);
    }

    #[tokio::test]
    async fn the_byte_bound_counts_but_one_large_frame_always_fits() {
        let outbox = Outbox::new(100, 50);
        assert!(
            outbox.push(1, frame(80)),
            "alone, a frame beyond the bound fits"
        );
        assert!(!outbox.push(2, frame(1)));
        let outbox = Outbox::new(100, 50);
        assert!(outbox.push(1, frame(30)));
        assert!(outbox.push(2, frame(20)));
        assert!(!outbox.push(3, frame(1)));
    }

    #[tokio::test]
    async fn a_waiting_pop_wakes_on_push_and_on_close() {
        let outbox = std::sync::Arc::new(Outbox::new(10, 1000));
        let waiter = {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.pop().await })
        };
        tokio::task::yield_now().await;
        outbox.push(7, frame(1));
        assert_eq!(waiter.await.unwrap().unwrap().0, 7);
        let waiter = {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.pop().await })
        };
        tokio::task::yield_now().await;
        outbox.close(Closed::ShuttingDown);
        assert_eq!(waiter.await.unwrap(), Err(Closed::ShuttingDown));
        outbox.close(Closed::TooSlow);
        assert_eq!(
            outbox.closed_reason(),
            Some(Closed::ShuttingDown),
            "the first reason stays"
        );
    }
}
