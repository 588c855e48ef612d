//! [`Subscription`]: one subscriber's stream of frames. It replays the table from its cursor at the
//! pace the subscriber reads, one bounded page at a time, then joins the live stream that the tailer
//! feeds into its queue; frames at or below what it already sent are skipped at the seam.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::outbox::{Closed, Outbox};
use super::sequencer::{frames, Shared};
use super::StreamError;
use crate::storage::events::encode_info_frame;
use crate::syntax::format_datetime;

/// A subscriber's stream. Dropping it unsubscribes.
pub struct Subscription {
    shared: Arc<Shared>,
    id: u64,
    outbox: Arc<Outbox>,
    /// The newest sequence number read from the table (delivered, or queued in `pending`).
    read_up_to: u64,
    /// The newest sequence number delivered.
    sent_up_to: u64,
    /// A tail position the tailer reported when joining failed: every event up to it existed
    /// before the next read began.
    known_tail: Option<u64>,
    /// Frames of the current replay page, not delivered yet.
    pending: VecDeque<(u64, Bytes)>,
    /// A frame to deliver before anything else (`#info` `OutdatedCursor`).
    info: Option<Bytes>,
    live: bool,
}

impl Subscription {
    /// Enrolls a subscription and places it according to `cursor` (see
    /// [`super::Sequencer::subscribe`]).
    pub(super) async fn start(
        shared: Arc<Shared>,
        cursor: Option<i64>,
    ) -> Result<Subscription, StreamError> {
        let (id, outbox) = shared.enroll()?;
        // From here on, dropping the subscription (an error below included) unsubscribes it.
        let mut subscription = Subscription {
            shared,
            id,
            outbox,
            read_up_to: 0,
            sent_up_to: 0,
            known_tail: None,
            pending: VecDeque::new(),
            info: None,
            live: false,
        };
        let head = subscription.shared.head().await?;
        let start = match cursor {
            None => head,
            Some(cursor) => {
                let cursor = u64::try_from(cursor).unwrap_or(0);
                if cursor > head {
                    return Err(StreamError::FutureCursor);
                }
                match subscription.outdated(cursor).await? {
                    Some(start) => {
                        subscription.info = Some(outdated_cursor());
                        start.unwrap_or(head)
                    }
                    None => cursor,
                }
            }
        };
        subscription.read_up_to = start;
        subscription.sent_up_to = start;
        Ok(subscription)
    }

    /// When the cursor is outdated: `Some` of where to start instead. That is when the first event
    /// after `cursor` is older than the backfill window (start before the window's first event;
    /// `None` inside when every event is older), or when the events just after `cursor` are no
    /// longer stored — the janitor deleted them once they left the window — and the first one kept
    /// is inside it (start just before that oldest event kept).
    async fn outdated(&self, cursor: u64) -> Result<Option<Option<u64>>, StreamError> {
        let Some(cutoff) = window_start(self.shared.config.backfill_window) else {
            return Ok(None);
        };
        match self.shared.next_after(cursor).await? {
            Some((_, time)) if time < cutoff => {
                let first = self.shared.first_since(&cutoff).await?;
                Ok(Some(first.map(|seq| seq.saturating_sub(1))))
            }
            Some((next, _))
                if next > cursor.saturating_add(1) && self.trimmed_before(next).await? =>
            {
                Ok(Some(Some(next.saturating_sub(1))))
            }
            _ => Ok(None),
        }
    }

    /// Whether `seq`, found after a gap, is the oldest event stored: the events before it were
    /// deleted from the start of the table (by the janitor, or with the oldest accounts), so a
    /// subscriber reading up to the gap may have missed some.
    async fn trimmed_before(&self, seq: u64) -> Result<bool, StreamError> {
        Ok(seq <= self.shared.first_seq().await?)
    }

    /// The next frame: the `#info` frame if there is one, then the replayed events, then the live
    /// ones, waiting for them. An error ends the stream: [`StreamError::ConsumerTooSlow`] when the
    /// queue overflowed, [`StreamError::ShuttingDown`] when the node stops.
    pub async fn next(&mut self) -> Result<Bytes, StreamError> {
        loop {
            if let Some(info) = self.info.take() {
                return Ok(info);
            }
            if self.live {
                let (seq, frame) = self.outbox.pop().await.map_err(closed_error)?;
                if seq <= self.sent_up_to {
                    continue;
                }
                self.sent_up_to = seq;
                return Ok(frame);
            }
            if let Some(why) = self.outbox.closed_reason() {
                return Err(closed_error(why));
            }
            if let Some((seq, frame)) = self.pending.pop_front() {
                self.sent_up_to = seq;
                return Ok(frame);
            }
            self.replay().await?;
        }
    }

    /// Reads the next replay page; when there is none, joins the live stream.
    async fn replay(&mut self) -> Result<(), StreamError> {
        if self.shared.is_shut() {
            return Err(StreamError::ShuttingDown);
        }
        let known_tail = self.known_tail.take();
        let page = self.shared.read_page(self.read_up_to).await?;
        if let (Some(first), Some(last)) = (page.first(), page.last()) {
            // Events this replay was about to read were deleted under it (they left the backfill
            // window): it goes on from the oldest one kept, and says so first, as a subscriber whose
            // cursor was outdated from the start is told.
            if first.seq > self.read_up_to.saturating_add(1)
                && self.trimmed_before(first.seq).await?
            {
                self.info = Some(outdated_cursor());
            }
            self.read_up_to = last.seq;
            self.pending.extend(frames(&page));
            return Ok(());
        }
        // Nothing after `read_up_to`. Events up to a tail seen before this read that it did not
        // find were deleted (a deleted account's events go with it): nothing to wait for.
        if let Some(tail) = known_tail {
            self.read_up_to = self.read_up_to.max(tail);
        }
        self.sent_up_to = self.sent_up_to.max(self.read_up_to);
        match self.shared.go_live(self.id, self.read_up_to) {
            Ok(()) => self.live = true,
            // The tailer moved on meanwhile: read up to it first.
            Err(tail) => self.known_tail = Some(tail),
        }
        Ok(())
    }

    /// Waits until the subscription is ended from outside — its queue overflowed or the node is
    /// stopping — and returns why. For a connection blocked on a write to notice it.
    pub async fn ended(&self) -> StreamError {
        closed_error(self.outbox.closed().await)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared.leave(self.id);
    }
}

/// The `#info` `OutdatedCursor` frame: events the subscriber asked for are gone.
fn outdated_cursor() -> Bytes {
    Bytes::from(encode_info_frame(
        "OutdatedCursor",
        Some("Requested cursor exceeded limit. Possibly missing events"),
    ))
}

fn closed_error(why: Closed) -> StreamError {
    match why {
        Closed::TooSlow => StreamError::ConsumerTooSlow,
        Closed::ShuttingDown => StreamError::ShuttingDown,
    }
}

/// The start of the backfill window as an event time, or `None` when the window reaches back before
/// the epoch (every event is inside).
fn window_start(window: std::time::Duration) -> Option<String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    let start = now.checked_sub(window)?;
    format_datetime(i64::try_from(start.as_micros()).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_window_start_is_an_event_time_in_the_past() {
        let start = window_start(Duration::from_secs(3600)).unwrap();
        assert!(crate::syntax::is_valid_datetime(&start));
        assert!(start < crate::repo::writer::event_time());
        assert_eq!(window_start(Duration::from_secs(u64::MAX)), None);
    }
}
