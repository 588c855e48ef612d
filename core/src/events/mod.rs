//! The firehose: the sequencer behind `com.atproto.sync.subscribeRepos`.
//!
//! Events are written by the storage room into the shared `event` table, in the transaction of the
//! change they announce ([`crate::storage::events`]). This room reads them back and hands them to
//! subscribers as wire frames:
//! - a new subscriber with a cursor replays the table from that cursor, page by page, at the pace it
//!   reads; then it joins the live stream ([`Subscription`]);
//! - one tailer task per node reads new events from the table and pushes each frame, without waiting,
//!   into the bounded queue of every live subscriber ([`Sequencer`]). A subscriber whose queue
//!   overflows is dropped with `ConsumerTooSlow`; a writer never waits on a subscriber.
//!
//! The tailer runs only while a subscriber is live. It is woken after each local commit that
//! appended events — the node hands the repository store a signal ([`Sequencer::event_signal`])
//! that the store calls after its transaction, whatever path the write came by (XRPC, the
//! administration API, the phone bindings) — and it also reads the table on a short interval while
//! it runs, so events written by another process on the same database (another node, the
//! `pocketpds` CLI) are delivered too. With nobody subscribed there is no task and no timer.

mod error;
mod outbox;
mod sequencer;
mod settings;
mod subscription;

pub use error::StreamError;
pub use sequencer::Sequencer;
pub use settings::SequencerConfig;
pub use subscription::Subscription;

#[cfg(test)]
mod tests;
