//! A firehose client for tests: a websocket to `com.atproto.sync.subscribeRepos`, frames split into
//! their header and body (both checked as strict DAG-CBOR), and a Sync 1.1 check of `#commit` bodies.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use ipld_core::ipld::Ipld;
use pocketpds_core::crypto::PublicKey;
use pocketpds_core::repo::car::{read_car, CarLimits};
use pocketpds_core::repo::cbor;
use pocketpds_core::repo::cid::Cid;
use pocketpds_core::repo::commit::Commit;
use pocketpds_core::repo::mst::{verify_key_proof, Mst};
use pocketpds_core::repo::{BlockStore, MemoryBlockStore};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for the next frame before it fails.
pub const FRAME_WAIT: Duration = Duration::from_secs(30);

/// What the stream delivered next.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A message frame: its type (`#commit`, …) and body.
    Message { t: String, body: Ipld },
    /// An error frame.
    Error {
        error: String,
        message: Option<String>,
    },
    /// The server closed the stream (with the close code, if it sent one).
    Closed(Option<u16>),
}

impl Received {
    /// The body's `seq`, for a message frame that has one.
    pub fn seq(&self) -> Option<i128> {
        match self {
            Received::Message { body, .. } => match get(body, "seq") {
                Some(Ipld::Integer(n)) => Some(*n),
                _ => None,
            },
            _ => None,
        }
    }

    /// The message type, for a message frame.
    pub fn kind(&self) -> Option<&str> {
        match self {
            Received::Message { t, .. } => Some(t),
            _ => None,
        }
    }

    /// The body of a message frame.
    pub fn body(&self) -> &Ipld {
        match self {
            Received::Message { body, .. } => body,
            other => panic!("not a message frame: {other:?}"),
        }
    }
}

/// A subscriber.
pub struct Firehose {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

fn url(addr: SocketAddr, query: &str) -> String {
    format!("ws://{addr}/xrpc/com.atproto.sync.subscribeRepos{query}")
}

impl Firehose {
    /// Subscribes to the node at `addr`; `query` is `""` or `"?cursor=…"`.
    pub async fn connect(addr: SocketAddr, query: &str) -> Firehose {
        let (ws, response) = tokio_tungstenite::connect_async(url(addr, query))
            .await
            .expect("websocket handshake");
        assert_eq!(response.status(), 101);
        Firehose { ws }
    }

    /// Subscribes over a socket whose receive buffer is as small as the system allows, so a
    /// subscriber that stops reading stalls the server's writes soon.
    pub async fn connect_with_small_buffer(addr: SocketAddr, query: &str) -> Firehose {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = socket.connect(addr).await.expect("connect");
        let (ws, _) =
            tokio_tungstenite::client_async(url(addr, query), MaybeTlsStream::Plain(stream))
                .await
                .expect("websocket handshake");
        Firehose { ws }
    }

    /// The next frame (or the end of the stream); fails the test after [`FRAME_WAIT`].
    pub async fn next(&mut self) -> Received {
        self.next_within(FRAME_WAIT)
            .await
            .unwrap_or_else(|| panic!("no frame within {FRAME_WAIT:?}"))
    }

    /// The next frame, or `None` when none comes within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Received> {
        loop {
            let message = tokio::time::timeout(wait, self.ws.next()).await.ok()?;
            return Some(match message {
                None | Some(Err(_)) => Received::Closed(None),
                Some(Ok(Message::Close(frame))) => {
                    Received::Closed(frame.map(|f| u16::from(f.code)))
                }
                Some(Ok(Message::Binary(bytes))) => decode_frame(&bytes),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => panic!("unexpected websocket message {other:?}"),
            });
        }
    }

    /// Sends a message to the server (the stream is one-way; the server ignores it or closes).
    pub async fn send(&mut self, message: Message) -> Result<(), String> {
        futures_util::SinkExt::send(&mut self.ws, message)
            .await
            .map_err(|e| e.to_string())
    }

    /// Closes the connection from this side.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Splits a frame into its header and body, both strict DAG-CBOR, and reads the header.
pub fn decode_frame(frame: &[u8]) -> Received {
    let cut = (1..=frame.len().min(64))
        .find(|&cut| cbor::decode(&frame[..cut]).is_ok())
        .expect("a DAG-CBOR header at the start of the frame");
    let header = cbor::decode(&frame[..cut]).expect("header");
    let body = cbor::decode(&frame[cut..]).expect("the body is one strict DAG-CBOR value");
    match get(&header, "op") {
        Some(Ipld::Integer(1)) => {
            let Some(Ipld::String(t)) = get(&header, "t") else {
                panic!("a message header without t: {header:?}")
            };
            Received::Message { t: t.clone(), body }
        }
        Some(Ipld::Integer(-1)) => {
            assert_eq!(get(&header, "t"), None, "an error header has no t");
            let Some(Ipld::String(error)) = get(&body, "error") else {
                panic!("an error body without error: {body:?}")
            };
            let message = match get(&body, "message") {
                Some(Ipld::String(m)) => Some(m.clone()),
                None => None,
                Some(other) => panic!("message is not text: {other:?}"),
            };
            Received::Error {
                error: error.clone(),
                message,
            }
        }
        other => panic!("unknown op {other:?}"),
    }
}

/// A field of a map.
pub fn get<'a>(value: &'a Ipld, key: &str) -> Option<&'a Ipld> {
    match value {
        Ipld::Map(map) => map.get(key),
        _ => None,
    }
}

/// A text field of a map.
pub fn text<'a>(value: &'a Ipld, key: &str) -> Option<&'a str> {
    match get(value, key) {
        Some(Ipld::String(s)) => Some(s),
        _ => None,
    }
}

/// A link field of a map.
pub fn link(value: &Ipld, key: &str) -> Option<Cid> {
    match get(value, key) {
        Some(Ipld::Link(cid)) => Some(*cid),
        _ => None,
    }
}

/// Checks a `#commit` body as a Sync 1.1 consumer does, and returns the new tree root (`data`) and
/// revision: the CAR's root is the commit, signed by `key`, for `did`; each op is proven against the
/// new root with the CAR's blocks; inverting the ops on the new tree with only those blocks gives
/// `prevData`, which must be `prev_data` (the previous commit's root, when known).
pub async fn verify_commit(
    body: &Ipld,
    did: &str,
    key: &PublicKey,
    prev_data: Option<Cid>,
) -> (Cid, String) {
    assert_eq!(text(body, "repo"), Some(did));
    let Some(Ipld::Bytes(car)) = get(body, "blocks") else {
        panic!("#commit without blocks")
    };
    let (roots, blocks) = read_car(car, CarLimits::default()).expect("blocks is a CAR");
    let commit_cid = link(body, "commit").expect("commit");
    assert_eq!(roots, vec![commit_cid], "the CAR's root is the commit");
    let blocks: HashMap<Cid, Bytes> = blocks.into_iter().collect();
    let commit = Commit::decode(&blocks[&commit_cid]).expect("commit block");
    commit
        .verify(key)
        .expect("the commit is signed by the account's key");
    assert_eq!(commit.did, did);
    assert_eq!(text(body, "rev"), Some(commit.rev.as_str()));
    assert_eq!(get(body, "tooBig"), Some(&Ipld::Bool(false)));
    assert_eq!(get(body, "rebase"), Some(&Ipld::Bool(false)));
    assert!(text(body, "time").is_some());
    let Some(Ipld::List(ops)) = get(body, "ops") else {
        panic!("#commit without ops")
    };
    let store = MemoryBlockStore::new();
    store
        .put_many(blocks.iter().map(|(c, b)| (*c, b.clone())).collect())
        .await
        .expect("store");
    let mut tree = Mst::load(commit.data);
    for op in ops {
        let path = text(op, "path").expect("op path");
        let cid = link(op, "cid");
        let prev = link(op, "prev");
        assert_eq!(
            verify_key_proof(&commit.data, path, &blocks).expect("the op is proven"),
            cid
        );
        match text(op, "action") {
            Some("create") => {
                assert!(prev.is_none());
                assert!(
                    blocks.contains_key(&cid.expect("cid")),
                    "the record is sent"
                );
                tree.delete(&store, path).await.expect("invert a create");
            }
            Some("update") => {
                assert!(
                    blocks.contains_key(&cid.expect("cid")),
                    "the record is sent"
                );
                tree.put(&store, path, prev.expect("update prev"))
                    .await
                    .expect("invert an update");
            }
            Some("delete") => {
                assert_eq!(get(op, "cid"), Some(&Ipld::Null));
                tree.put(&store, path, prev.expect("delete prev"))
                    .await
                    .expect("invert a delete");
            }
            other => panic!("unknown action {other:?}"),
        }
    }
    match link(body, "prevData") {
        Some(prev) => {
            assert_eq!(tree.root(), prev, "inverting the ops gives prevData");
            if let Some(expected) = prev_data {
                assert_eq!(prev, expected, "prevData is the previous commit's root");
            }
        }
        None => assert!(ops.is_empty(), "only a first commit has no prevData"),
    }
    (commit.data, commit.rev)
}
