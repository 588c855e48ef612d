//! An owner deactivates and reactivates their account: writes stop and resume, the firehose hears
//! `#account` events, and checkAccountStatus reports the repository.

mod common;

use common::http::request_with_headers;
use common::node::{local_config, seed_account};
use pocketpds_core::repo::cbor;
use pocketpds_core::storage::events;

const DID: &str = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_stops_writes_until_reactivation() {
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(local_config(dir.path()))
        .await
        .unwrap();
    let state = node.state.clone();
    let (_, token) = seed_account(&node, DID, "erin.test").await;
    let auth = format!("Bearer {token}");
    let addr = node.local_addr;
    let call = move |method: &'static str, path: &'static str, body: Option<serde_json::Value>| {
        let auth = auth.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
                request_with_headers(
                    addr,
                    method,
                    path,
                    &[("Authorization", &auth)],
                    bytes.as_deref().map(|b| ("application/json", b)),
                )
            })
            .await
            .unwrap()
        }
    };
    let post = serde_json::json!({"repo": DID, "collection": "app.bsky.feed.post",
        "record": {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-01-01T00:00:00Z"}});

    let status = call("GET", "/xrpc/com.atproto.server.checkAccountStatus", None).await;
    assert_eq!(status.status, 200, "{}", status.text());
    let s = status.json();
    assert_eq!(s["activated"], true);
    assert!(s["repoBlocks"].as_i64().unwrap() >= 2, "{s}");
    assert_eq!(s["indexedRecords"], 0);
    assert!(s["repoRev"].is_string() && s["repoCommit"].is_string());

    let before = events::last_seq(state.storage.connection())
        .await
        .unwrap()
        .unwrap();
    let off = call(
        "POST",
        "/xrpc/com.atproto.server.deactivateAccount",
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.text());
    let evts = events::read_after(state.storage.connection(), before, 10)
        .await
        .unwrap();
    assert_eq!(evts.len(), 1);
    assert_eq!(evts[0].kind, events::EventKind::Account);
    let body = cbor::decode(&evts[0].payload).unwrap();
    assert_eq!(cbor::to_json(&body)["active"], false);
    let status = call("GET", "/xrpc/com.atproto.server.checkAccountStatus", None).await;
    assert_eq!(status.json()["activated"], false);
    let refused = call(
        "POST",
        "/xrpc/com.atproto.repo.createRecord",
        Some(post.clone()),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text());

    let on = call("POST", "/xrpc/com.atproto.server.activateAccount", None).await;
    assert_eq!(on.status, 200, "{}", on.text());
    let written = call("POST", "/xrpc/com.atproto.repo.createRecord", Some(post)).await;
    assert_eq!(written.status, 200, "{}", written.text());
    let status = call("GET", "/xrpc/com.atproto.server.checkAccountStatus", None).await;
    assert_eq!(status.json()["activated"], true);
    assert_eq!(status.json()["indexedRecords"], 1);
    let bad = call(
        "POST",
        "/xrpc/com.atproto.server.deactivateAccount",
        Some(serde_json::json!({"deleteAfter": "tomorrow"})),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"], "InvalidRequest");
    let status = call("GET", "/xrpc/com.atproto.server.checkAccountStatus", None).await;
    assert_eq!(
        status.json()["activated"],
        true,
        "a refused request changed nothing"
    );
    node.stop().await.unwrap();
}
