//! Asking relays to crawl: two nodes sharing one database ask a relay once after the cluster
//! starts and once after its first write, not once per node, and a request that failed is sent
//! again at the next write. The relay here is a small axum server on loopback that records what it
//! is asked (the real relay, indigo's, is driven by the end-to-end suite, `e2e/tests/relay.test.mjs`).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use common::node::{local_config, seed_account};
use pocketpds_core::node::{self, RunningNode};
use serde_json::Value;

/// A relay that records the bodies of `requestCrawl` and answers the next scripted status (200
/// once the script is used up).
#[derive(Clone, Default)]
struct Relay {
    asked: Arc<Mutex<Vec<Value>>>,
    script: Arc<Mutex<Vec<StatusCode>>>,
}

async fn request_crawl(State(relay): State<Relay>, Json(body): Json<Value>) -> StatusCode {
    relay.asked.lock().unwrap().push(body);
    let mut script = relay.script.lock().unwrap();
    if script.is_empty() {
        StatusCode::OK
    } else {
        script.remove(0)
    }
}

impl Relay {
    async fn start(script: Vec<StatusCode>) -> (Relay, SocketAddr) {
        let relay = Relay {
            script: Arc::new(Mutex::new(script)),
            ..Relay::default()
        };
        let app = Router::new()
            .route("/xrpc/com.atproto.sync.requestCrawl", post(request_crawl))
            .with_state(relay.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (relay, addr)
    }

    fn count(&self) -> usize {
        self.asked.lock().unwrap().len()
    }

    /// Waits (up to 10 s) until the relay has been asked `n` times.
    async fn wait_for(&self, n: usize) {
        for _ in 0..200 {
            if self.count() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the relay was asked {} times, not {n}", self.count());
    }
}

/// A node of the cluster in `dir` (one database file) behind the public URL of a load balancer.
async fn cluster_node(dir: &std::path::Path, relay: SocketAddr) -> RunningNode {
    let mut config = local_config(dir);
    config.dev_mode = true;
    config.public_url = "http://pds.test".into();
    config.crawlers = vec![format!("http://{relay}")];
    node::start(config).await.unwrap()
}

/// Gives the nodes' tasks time to do what they would (for checks that nothing more happens).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

#[tokio::test]
async fn two_nodes_of_a_cluster_ask_a_relay_once_after_start_and_once_after_the_first_write() {
    let (relay, addr) = Relay::start(Vec::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let first = cluster_node(dir.path(), addr).await;
    relay.wait_for(1).await;
    let second = cluster_node(dir.path(), addr).await;
    settle().await;
    assert_eq!(relay.count(), 1, "the second node's start is covered");

    seed_account(&second, "did:plc:crawlcrawlcrawlcrawlcraw", "crawl.test").await;
    relay.wait_for(2).await;
    seed_account(&first, "did:plc:secondsecondsecondsecond", "second.test").await;
    seed_account(&second, "did:plc:thirdthirdthirdthirdthir", "third.test").await;
    settle().await;
    assert_eq!(relay.count(), 2, "later writes are covered for the window");

    for body in relay.asked.lock().unwrap().iter() {
        assert_eq!(body, &serde_json::json!({ "hostname": "pds.test" }));
    }
    let sent = first.state.crawlers.requests_sent() + second.state.crawlers.requests_sent();
    assert_eq!(sent, 2);
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}

#[tokio::test]
async fn a_request_the_relay_failed_is_sent_again_at_the_next_write_and_a_refusal_is_not() {
    let (relay, addr) = Relay::start(vec![
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::BAD_REQUEST,
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let node = cluster_node(dir.path(), addr).await;
    relay.wait_for(1).await;
    settle().await;
    assert_eq!(node.state.crawlers.requests_accepted(), 0);

    // The start's request failed (503): the first write asks again, and is refused (400).
    seed_account(&node, "did:plc:crawlcrawlcrawlcrawlcraw", "crawl.test").await;
    relay.wait_for(2).await;
    settle().await;
    // A refusal stands for the window: the next write asks nothing.
    seed_account(&node, "did:plc:secondsecondsecondsecond", "second.test").await;
    settle().await;
    assert_eq!(relay.count(), 2);
    assert_eq!(node.state.crawlers.requests_accepted(), 0);
    node.stop().await.unwrap();
}

#[tokio::test]
async fn a_request_not_delivered_gives_its_claim_back_so_the_next_start_asks_again() {
    // A port nothing listens on: the start's request is not delivered.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let node = cluster_node(dir.path(), closed).await;
    for _ in 0..100 {
        if node.state.crawlers.requests_sent() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(node.state.crawlers.requests_sent(), 1);
    node.stop().await.unwrap();

    // The relay comes up on that port; the node restarts within the window.
    let relay = Relay::default();
    let app = Router::new()
        .route("/xrpc/com.atproto.sync.requestCrawl", post(request_crawl))
        .with_state(relay.clone());
    let listener = tokio::net::TcpListener::bind(closed).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let node = cluster_node(dir.path(), closed).await;
    relay.wait_for(1).await;
    assert_eq!(node.state.crawlers.requests_accepted(), 1);
    node.stop().await.unwrap();
}
