//! The event sequence: the `event` table that every node's `com.atproto.sync.subscribeRepos` tails,
//! and the wire frames it sends.
//!
//! An event is stored as its DAG-CBOR body without `seq`; the sequence number is the row's
//! `AUTOINCREMENT` key, given by the database inside the transaction that appends the event (the
//! commit's own, for `#commit`), so numbers follow commit order and are never reused. A frame is the
//! header `{op: 1, t: "#commit"}` followed by the body with `seq` added ([`encode_frame`]).

use std::collections::BTreeMap;

use bytes::Bytes;
use ipld_core::ipld::Ipld;
use libsql::Connection;

use super::error::StorageError;
use super::repo_store::columns::{blob, optional_u64, text, u64_column};
use crate::repo::cbor;

/// The most events one [`read_after`] returns.
pub const MAX_READ: usize = 1000;

/// The kinds of firehose event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `#commit`: a repository commit and its ops.
    Commit,
    /// `#sync`: the account's repository state, without history (creation, reset).
    Sync,
    /// `#identity`: the account's DID document or handle may have changed.
    Identity,
    /// `#account`: the account's hosting status changed.
    Account,
}

impl EventKind {
    /// The name stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Commit => "commit",
            EventKind::Sync => "sync",
            EventKind::Identity => "identity",
            EventKind::Account => "account",
        }
    }

    /// The frame header's message type, `#commit` and so on.
    pub fn frame_type(self) -> &'static str {
        match self {
            EventKind::Commit => "#commit",
            EventKind::Sync => "#sync",
            EventKind::Identity => "#identity",
            EventKind::Account => "#account",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<EventKind> {
        match name {
            "commit" => Some(EventKind::Commit),
            "sync" => Some(EventKind::Sync),
            "identity" => Some(EventKind::Identity),
            "account" => Some(EventKind::Account),
            _ => None,
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its sequence number.
    pub seq: u64,
    /// The account it is about.
    pub did: String,
    /// Its kind.
    pub kind: EventKind,
    /// When it was sequenced (an atproto datetime).
    pub time: String,
    /// Its DAG-CBOR body, without `seq`.
    pub payload: Bytes,
}

impl Event {
    /// The wire frame of this event.
    pub fn frame(&self) -> Result<Vec<u8>, StorageError> {
        encode_frame(self.kind, self.seq, &self.payload)
    }
}

/// Appends an event and returns its sequence number. Runs on `conn` as it is: inside the caller's
/// transaction when there is one, so the event lands with the change it announces or not at all.
pub async fn append(
    conn: &Connection,
    did: &str,
    kind: EventKind,
    time: &str,
    payload: &[u8],
) -> Result<u64, StorageError> {
    let mut rows = conn
        .query(
            "INSERT INTO event (did, kind, time, payload) VALUES (?1, ?2, ?3, ?4) RETURNING seq",
            (did, kind.as_str(), time, payload.to_vec()),
        )
        .await?;
    let row = rows
        .next()
        .await?
        .ok_or_else(|| StorageError::Corrupt("event insert returned no seq".into()))?;
    let seq = u64_column(&row, 0, "event.seq")?;
    // Finish the statement before the caller's next one (it has no more rows).
    while rows.next().await?.is_some() {}
    Ok(seq)
}

/// The events after `seq`, oldest first, at most `limit` (and at most [`MAX_READ`]) of them.
pub async fn read_after(
    conn: &Connection,
    seq: u64,
    limit: usize,
) -> Result<Vec<Event>, StorageError> {
    let limit = limit.min(MAX_READ);
    let mut rows = conn
        .query(
            "SELECT seq, did, kind, time, payload FROM event WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            (seq, limit as u64),
        )
        .await?;
    let mut events = Vec::with_capacity(limit.min(64));
    while let Some(row) = rows.next().await? {
        events.push(event_row(&row)?);
    }
    Ok(events)
}

/// A `(seq, did, kind, time, payload)` row.
fn event_row(row: &libsql::Row) -> Result<Event, StorageError> {
    let kind = text(row, 2, "event.kind")?;
    Ok(Event {
        seq: u64_column(row, 0, "event.seq")?,
        did: text(row, 1, "event.did")?,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| StorageError::Corrupt(format!("event kind {kind:?}")))?,
        time: text(row, 3, "event.time")?,
        payload: Bytes::from(blob(row, 4, "event.payload")?),
    })
}

/// A page of the events after `seq`, oldest first: at most `max_events` of them, and no more once
/// their payloads reach `max_bytes` (a page holds at least one event when there is one, so an event
/// larger than the budget still goes out alone). Rows are read one at a time, so a page never holds
/// more than the budget plus one event, however large the table.
pub async fn read_page(
    conn: &Connection,
    seq: u64,
    max_events: usize,
    max_bytes: usize,
) -> Result<Vec<Event>, StorageError> {
    let max_events = max_events.clamp(1, MAX_READ);
    let mut rows = conn
        .query(
            "SELECT seq, did, kind, time, payload FROM event WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            (seq, max_events as u64),
        )
        .await?;
    let mut events = Vec::with_capacity(max_events.min(64));
    let mut bytes = 0usize;
    while let Some(row) = rows.next().await? {
        let event = event_row(&row)?;
        bytes = bytes.saturating_add(event.payload.len());
        events.push(event);
        if bytes >= max_bytes {
            break;
        }
    }
    Ok(events)
}

/// The sequence number and time of the first event after `seq`, if there is one.
pub async fn next_after(
    conn: &Connection,
    seq: u64,
) -> Result<Option<(u64, String)>, StorageError> {
    let mut rows = conn
        .query(
            "SELECT seq, time FROM event WHERE seq > ?1 ORDER BY seq LIMIT 1",
            [seq],
        )
        .await?;
    match rows.next().await? {
        Some(row) => Ok(Some((
            u64_column(&row, 0, "event.seq")?,
            text(&row, 1, "event.time")?,
        ))),
        None => Ok(None),
    }
}

/// The sequence number of the earliest event sequenced at or after `time` (an atproto datetime as
/// events carry it, which sorts as text), or `None` when every event is older.
pub async fn first_since(conn: &Connection, time: &str) -> Result<Option<u64>, StorageError> {
    let mut rows = conn
        .query(
            "SELECT seq FROM event WHERE time >= ?1 ORDER BY time, seq LIMIT 1",
            [time],
        )
        .await?;
    match rows.next().await? {
        Some(row) => Ok(Some(u64_column(&row, 0, "event.seq")?)),
        None => Ok(None),
    }
}

/// Deletes up to `limit` (at most [`super::MAX_DELETE_BATCH`]) events sequenced before `cutoff` (an
/// atproto datetime, as events carry it), oldest first, and returns how many. The newest event is
/// always kept, however old: the table's `MAX(seq)` is where subscribers without a cursor start and
/// what a cursor is checked against, so an emptied table would turn every cursor into a
/// `FutureCursor` (numbers are not reused either way: `AUTOINCREMENT` remembers the largest one
/// ever given). Idempotent: nodes sharing the database may run it at the same time.
pub async fn delete_expired(
    conn: &Connection,
    cutoff: &str,
    limit: usize,
) -> Result<u64, StorageError> {
    let limit = limit.min(super::MAX_DELETE_BATCH) as u64;
    // The inner select walks the `event_time` index from its oldest entry and stops after `limit`
    // rows or at the cutoff, so a batch never reads the events inside the window.
    Ok(conn
        .execute(
            "DELETE FROM event WHERE seq IN (
                 SELECT seq FROM event
                 WHERE time < ?1 AND seq < (SELECT MAX(seq) FROM event)
                 LIMIT ?2
             )",
            (cutoff, limit),
        )
        .await?)
}

/// The newest sequence number, or `None` when no event was ever appended.
pub async fn last_seq(conn: &Connection) -> Result<Option<u64>, StorageError> {
    single_seq(conn, "SELECT MAX(seq) FROM event").await
}

/// The oldest sequence number still stored, or `None` when there is none (a subscriber whose
/// cursor is older is told so).
pub async fn first_seq(conn: &Connection) -> Result<Option<u64>, StorageError> {
    single_seq(conn, "SELECT MIN(seq) FROM event").await
}

async fn single_seq(conn: &Connection, sql: &str) -> Result<Option<u64>, StorageError> {
    let mut rows = conn.query(sql, ()).await?;
    match rows.next().await? {
        Some(row) => optional_u64(&row, 0, "event.seq"),
        None => Ok(None),
    }
}

/// The `subscribeRepos` frame of a message: the DAG-CBOR header `{op: 1, t}` followed by the body
/// `payload` with `seq` set. Fails when the payload is not a DAG-CBOR map.
pub fn encode_frame(kind: EventKind, seq: u64, payload: &[u8]) -> Result<Vec<u8>, StorageError> {
    let corrupt = |why: String| StorageError::Corrupt(format!("event {seq}: {why}"));
    let Ipld::Map(mut body) = cbor::decode(payload).map_err(|e| corrupt(e.to_string()))? else {
        return Err(corrupt("the body is not a map".into()));
    };
    body.insert("seq".to_owned(), Ipld::Integer(i128::from(seq)));
    let mut frame = header(1, Some(kind.frame_type()));
    cbor::encode_to(&mut frame, &Ipld::Map(body)).map_err(|e| corrupt(e.to_string()))?;
    Ok(frame)
}

/// An `#info` frame (`{name, message}`), such as `OutdatedCursor`.
pub fn encode_info_frame(name: &str, message: Option<&str>) -> Vec<u8> {
    let mut frame = header(1, Some("#info"));
    frame.extend(text_map(&[("name", Some(name)), ("message", message)]));
    frame
}

/// An error frame (`op: -1`, `{error, message}`), such as `FutureCursor` or `ConsumerTooSlow`; the
/// stream ends after it.
pub fn encode_error_frame(error: &str, message: Option<&str>) -> Vec<u8> {
    let mut frame = header(-1, None);
    frame.extend(text_map(&[("error", Some(error)), ("message", message)]));
    frame
}

fn header(op: i64, t: Option<&str>) -> Vec<u8> {
    let mut map = BTreeMap::new();
    map.insert("op".to_owned(), Ipld::Integer(i128::from(op)));
    if let Some(t) = t {
        map.insert("t".to_owned(), Ipld::String(t.to_owned()));
    }
    // A map of a small integer and a string always encodes.
    cbor::encode(&Ipld::Map(map)).unwrap_or_default()
}

fn text_map(fields: &[(&str, Option<&str>)]) -> Vec<u8> {
    let map = fields
        .iter()
        .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), Ipld::String(v.to_owned()))))
        .collect();
    cbor::encode(&Ipld::Map(map)).unwrap_or_default()
}

/// The `#identity` body: `{did, time, handle?}`.
pub fn identity_event(did: &str, handle: Option<&str>, time: &str) -> Vec<u8> {
    text_map(&[("did", Some(did)), ("time", Some(time)), ("handle", handle)])
}

/// The `#account` body: `{did, time, active, status?}`; `status` (`takendown`, `suspended`,
/// `deleted`, `deactivated`, …) says why an inactive account is inactive.
pub fn account_event(did: &str, active: bool, status: Option<&str>, time: &str) -> Vec<u8> {
    let mut map = BTreeMap::new();
    map.insert("did".to_owned(), Ipld::String(did.to_owned()));
    map.insert("time".to_owned(), Ipld::String(time.to_owned()));
    map.insert("active".to_owned(), Ipld::Bool(active));
    if let Some(status) = status {
        map.insert("status".to_owned(), Ipld::String(status.to_owned()));
    }
    cbor::encode(&Ipld::Map(map)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits a frame into its header and body values.
    fn split(frame: &[u8]) -> (Ipld, Ipld) {
        // The header is small; find where its encoding ends by re-encoding the decoded prefix.
        for cut in 1..frame.len() {
            if let Ok(header) = cbor::decode(&frame[..cut]) {
                let body = cbor::decode(&frame[cut..]).unwrap();
                return (header, body);
            }
        }
        panic!("no header in frame");
    }

    fn get<'a>(value: &'a Ipld, key: &str) -> Option<&'a Ipld> {
        match value {
            Ipld::Map(m) => m.get(key),
            _ => None,
        }
    }

    #[test]
    fn a_frame_is_the_header_and_the_body_with_seq() {
        let body = identity_event(
            "did:plc:abc",
            Some("alice.test"),
            "2026-01-01T00:00:00.000Z",
        );
        let frame = encode_frame(EventKind::Identity, 42, &body).unwrap();
        let (header, body) = split(&frame);
        assert_eq!(get(&header, "op"), Some(&Ipld::Integer(1)));
        assert_eq!(
            get(&header, "t"),
            Some(&Ipld::String("#identity".to_owned()))
        );
        assert_eq!(get(&body, "seq"), Some(&Ipld::Integer(42)));
        assert_eq!(
            get(&body, "handle"),
            Some(&Ipld::String("alice.test".to_owned()))
        );
        // Canonical: the exact header bytes of `{t: "#identity", op: 1}`.
        assert!(frame.starts_with(b"\xa2\x61t\x69#identity\x62op\x01"));
    }

    #[test]
    fn error_and_info_frames_have_their_own_headers() {
        let (header, body) = split(&encode_error_frame("FutureCursor", Some("ahead")));
        assert_eq!(get(&header, "op"), Some(&Ipld::Integer(-1)));
        assert_eq!(get(&header, "t"), None);
        assert_eq!(
            get(&body, "error"),
            Some(&Ipld::String("FutureCursor".to_owned()))
        );
        let (header, body) = split(&encode_info_frame("OutdatedCursor", None));
        assert_eq!(get(&header, "t"), Some(&Ipld::String("#info".to_owned())));
        assert_eq!(get(&body, "message"), None);
    }

    #[test]
    fn a_corrupt_payload_is_an_error_not_a_panic() {
        for payload in [&b""[..], b"\x01", b"\xa1", b"\x81\x01", b"\xff\xff"] {
            assert!(matches!(
                encode_frame(EventKind::Commit, 1, payload),
                Err(StorageError::Corrupt(_))
            ));
        }
    }

    async fn table() -> (tempfile::TempDir, crate::storage::Storage) {
        let dir = tempfile::tempdir().unwrap();
        let storage = crate::storage::Storage::open_local(&dir.path().join("db"))
            .await
            .unwrap();
        (dir, storage)
    }

    async fn push(conn: &Connection, time: &str) -> u64 {
        let payload = account_event("did:plc:a", true, None, time);
        append(conn, "did:plc:a", EventKind::Account, time, &payload)
            .await
            .unwrap()
    }

    async fn seqs(conn: &Connection) -> Vec<u64> {
        read_after(conn, 0, MAX_READ)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect()
    }

    const OLD: &str = "2020-01-01T00:00:00.000Z";
    const CUTOFF: &str = "2025-01-01T00:00:00.000Z";
    const NEW: &str = "2025-01-01T00:00:00.001Z";

    #[tokio::test]
    async fn events_before_the_cutoff_go_in_batches_those_after_stay() {
        let (_dir, storage) = table().await;
        let conn = storage.connection();
        // A node with a clock behind the others may sequence an older time after a newer one.
        for time in [OLD, OLD, CUTOFF, OLD, NEW] {
            push(conn, time).await;
        }
        assert_eq!(delete_expired(conn, CUTOFF, 2).await.unwrap(), 2);
        assert_eq!(delete_expired(conn, CUTOFF, 2).await.unwrap(), 1);
        assert_eq!(delete_expired(conn, CUTOFF, 2).await.unwrap(), 0);
        assert_eq!(seqs(conn).await, [3, 5]);
    }

    #[tokio::test]
    async fn the_newest_event_stays_and_the_sequence_goes_on() {
        let (_dir, storage) = table().await;
        let conn = storage.connection();
        for _ in 0..3 {
            push(conn, OLD).await;
        }
        assert_eq!(delete_expired(conn, CUTOFF, 1000).await.unwrap(), 2);
        assert_eq!(delete_expired(conn, CUTOFF, 1000).await.unwrap(), 0);
        assert_eq!(seqs(conn).await, [3]);
        assert_eq!(last_seq(conn).await.unwrap(), Some(3));
        assert_eq!(first_seq(conn).await.unwrap(), Some(3));
        assert_eq!(push(conn, NEW).await, 4);
        // Even with the newest deleted some other way, AUTOINCREMENT never gives a number again.
        conn.execute("DELETE FROM event", ()).await.unwrap();
        assert_eq!(push(conn, NEW).await, 5);
        // An empty table is nothing to delete.
        conn.execute("DELETE FROM event", ()).await.unwrap();
        assert_eq!(delete_expired(conn, CUTOFF, 1000).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_batch_walks_the_time_index_not_the_table() {
        let (_dir, storage) = table().await;
        let mut rows = storage
            .connection()
            .query(
                "EXPLAIN QUERY PLAN SELECT seq FROM event
                 WHERE time < ?1 AND seq < (SELECT MAX(seq) FROM event) LIMIT ?2",
                (CUTOFF, 10),
            )
            .await
            .unwrap();
        let mut plan = String::new();
        while let Some(row) = rows.next().await.unwrap() {
            plan.push_str(&row.get::<String>(3).unwrap());
            plan.push('\n');
        }
        assert!(plan.contains("USING COVERING INDEX event_time"), "{plan}");
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in [
            EventKind::Commit,
            EventKind::Sync,
            EventKind::Identity,
            EventKind::Account,
        ] {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.frame_type(), format!("#{}", kind.as_str()));
        }
        assert_eq!(EventKind::parse("append"), None);
    }
}
