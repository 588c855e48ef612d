//! The bodies of the firehose events a commit produces (`com.atproto.sync.subscribeRepos`): `#commit`
//! and `#sync`, as canonical DAG-CBOR maps without `seq` (the sequencer adds it when it sends them).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use ipld_core::ipld::Ipld;

use super::op::OpResult;
use crate::repo::car::encode_car;
use crate::repo::cbor::{self, CborError};
use crate::repo::cid::Cid;
use crate::repo::commit::SignedCommit;
use crate::syntax::{format_datetime, Did, Tid};

/// The current time as an atproto datetime (`YYYY-MM-DDTHH:MM:SS.sssZ`), as events carry it.
pub fn event_time() -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    // Only a clock set beyond the year 9999 fails; the epoch is the honest fallback.
    format_datetime(micros).unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// What a `#commit` body holds besides its ops.
pub(super) struct CommitEvent<'a> {
    pub did: &'a Did,
    pub commit: Cid,
    pub rev: Tid,
    pub since: Option<Tid>,
    pub blocks: Vec<u8>,
    pub ops: &'a [OpResult],
    pub prev_data: Option<Cid>,
    pub time: &'a str,
}

impl CommitEvent<'_> {
    /// The Sync 1.1 `#commit` body: `{repo, commit, rev, since, blocks, ops, prevData, blobs: [],
    /// time, rebase: false, tooBig: false}`; `prevData` is left out when there is no previous commit.
    pub(super) fn encode(&self) -> Result<Vec<u8>, CborError> {
        let mut body = BTreeMap::new();
        body.insert("repo".to_owned(), text(self.did.as_str()));
        body.insert("commit".to_owned(), Ipld::Link(self.commit));
        body.insert("rev".to_owned(), text(&self.rev.to_string()));
        body.insert(
            "since".to_owned(),
            self.since.map_or(Ipld::Null, |s| text(&s.to_string())),
        );
        body.insert("blocks".to_owned(), Ipld::Bytes(self.blocks.clone()));
        body.insert(
            "ops".to_owned(),
            Ipld::List(self.ops.iter().map(op_value).collect()),
        );
        if let Some(prev_data) = self.prev_data {
            body.insert("prevData".to_owned(), Ipld::Link(prev_data));
        }
        body.insert("blobs".to_owned(), Ipld::List(Vec::new()));
        body.insert("time".to_owned(), text(self.time));
        body.insert("rebase".to_owned(), Ipld::Bool(false));
        body.insert("tooBig".to_owned(), Ipld::Bool(false));
        cbor::encode(&Ipld::Map(body))
    }
}

/// One `#commit` op: `{action, path, cid, prev}`, `cid` null for a delete, `prev` absent for a create.
fn op_value(op: &OpResult) -> Ipld {
    let mut map = BTreeMap::new();
    map.insert("action".to_owned(), text(op.action.as_str()));
    map.insert("path".to_owned(), text(&op.path()));
    map.insert("cid".to_owned(), op.cid.map_or(Ipld::Null, Ipld::Link));
    if let Some(prev) = op.prev {
        map.insert("prev".to_owned(), Ipld::Link(prev));
    }
    Ipld::Map(map)
}

/// The `#sync` body announcing `commit` as the account's current state: `{did, blocks, rev, time}`,
/// `blocks` a CAR holding only the commit block.
pub fn sync_event(did: &Did, commit: &SignedCommit, time: &str) -> Result<Vec<u8>, CborError> {
    let blocks = encode_car(&[commit.cid], [(commit.cid, commit.bytes.clone())]);
    let mut body = BTreeMap::new();
    body.insert("did".to_owned(), text(did.as_str()));
    body.insert("blocks".to_owned(), Ipld::Bytes(blocks));
    body.insert("rev".to_owned(), text(&commit.commit.rev));
    body.insert("time".to_owned(), text(time));
    cbor::encode(&Ipld::Map(body))
}

fn text(s: &str) -> Ipld {
    Ipld::String(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::is_valid_datetime;

    #[test]
    fn the_event_time_is_a_valid_datetime() {
        assert!(is_valid_datetime(&event_time()));
    }
}
