//! Read-after-write (the reference PDS's): an app view indexes an account's writes some time after
//! they are made, so the account's own reads through the proxy would not show what it just wrote.
//! The app view answers with `atproto-repo-rev`, the revision of the requester's repository it has
//! indexed; the records the requester wrote after that revision (its posts and its profile) are
//! patched into the four reads that show them — `app.bsky.actor.getProfile`,
//! `app.bsky.feed.getAuthorFeed`, `app.bsky.feed.getTimeline` and `app.bsky.feed.getPostThread` —
//! and the answer says how far the app view is behind in `atproto-upstream-lag` (milliseconds).
//!
//! This room holds the JSON side, pure functions over the upstream's answer and the local records
//! ([`views`] builds views from records, [`patch`] patches each method's answer); the XRPC proxy
//! handler ([`crate::xrpc::proxy`]) reads the records and buffers the answer.

pub mod patch;
pub mod views;

use serde_json::Value;

use crate::repo::cbor;
use crate::storage::RecentRecord;
use crate::syntax::{format_datetime, Tid};

/// The methods whose answers are patched.
pub const METHODS: &[&str] = &[
    "app.bsky.actor.getProfile",
    "app.bsky.feed.getAuthorFeed",
    "app.bsky.feed.getTimeline",
    "app.bsky.feed.getPostThread",
];

/// The response header with the requester's revision the upstream has indexed.
pub const REPO_REV_HEADER: &str = "atproto-repo-rev";

/// The response header with how long ago (milliseconds) the oldest patched-in record was written.
pub const UPSTREAM_LAG_HEADER: &str = "atproto-upstream-lag";

/// The collections whose records are patched in.
pub const PROFILE_COLLECTION: &str = "app.bsky.actor.profile";
/// Posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

/// How many records written after the upstream's revision are read (the reference's 10).
pub const MAX_LOCAL_RECORDS: usize = 10;

/// The largest upstream answer that is buffered to be patched; a larger one passes as it is.
pub const MAX_BUFFERED_BODY: usize = 4 << 20;

/// Whether `method` is one of [`METHODS`].
pub fn is_patched(method: &str) -> bool {
    METHODS.contains(&method)
}

/// The upstream's revision, when it is a valid TID; any other value means no patching.
pub fn upstream_rev(value: Option<&str>) -> Option<Tid> {
    Tid::parse(value?.trim()).ok()
}

/// One record of the requester written after the upstream's revision.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalRecord {
    /// `at://` URI.
    pub uri: String,
    /// CID string.
    pub cid: String,
    /// When it was written (from its commit's revision), `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub indexed_at: String,
    /// Microseconds since the epoch of the same instant.
    pub written_micros: u64,
    /// The record as atproto JSON.
    pub value: Value,
}

/// The requester's records the upstream has not indexed yet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalRecords {
    /// The profile record, when it changed.
    pub profile: Option<LocalRecord>,
    /// New posts, oldest first.
    pub posts: Vec<LocalRecord>,
}

impl LocalRecords {
    /// The records of `did` as the store returns them (oldest first); records that do not decode
    /// are left out.
    pub fn from_stored(did: &str, stored: &[RecentRecord]) -> LocalRecords {
        let mut out = LocalRecords::default();
        for record in stored {
            let Some(local) = local_record(did, record) else {
                continue;
            };
            if record.collection == PROFILE_COLLECTION && record.rkey == "self" {
                out.profile = Some(local);
            } else if record.collection == POST_COLLECTION {
                out.posts.push(local);
            }
        }
        out
    }

    /// Whether there is nothing to patch in.
    pub fn is_empty(&self) -> bool {
        self.profile.is_none() && self.posts.is_empty()
    }

    /// Milliseconds since the oldest of the records was written, at `now_micros`.
    pub fn lag_millis(&self, now_micros: u64) -> Option<u64> {
        let oldest = self
            .profile
            .iter()
            .chain(self.posts.iter())
            .map(|r| r.written_micros)
            .min()?;
        Some(now_micros.saturating_sub(oldest) / 1000)
    }
}

fn local_record(did: &str, record: &RecentRecord) -> Option<LocalRecord> {
    let value = cbor::to_json(&cbor::decode(&record.bytes).ok()?);
    if !value.is_object() {
        return None;
    }
    let written_micros = Tid::parse(&record.rev).ok()?.timestamp_micros();
    let indexed_at = format_datetime(i64::try_from(written_micros).ok()?).ok()?;
    Some(LocalRecord {
        uri: format!("at://{did}/{}/{}", record.collection, record.rkey),
        cid: record.cid.to_string(),
        indexed_at,
        written_micros,
        value,
    })
}
