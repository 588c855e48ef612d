//! An owner deletes their account with a one-time code and their password: the account, its
//! credentials and repository are gone and the firehose says so; wrong codes, wrong passwords and a
//! replayed code change nothing.

mod common;

use common::http::{request_with_headers, Response};
use common::mail::Outbox;
use common::node::{local_config, seed_account, PASSWORD};
use pocketpds_core::repo::cbor;
use pocketpds_core::storage::events;
use serde_json::json;

const DID: &str = "did:plc:eeeeeeeeeeeeeeeeeeeeeeee";

async fn call(
    addr: std::net::SocketAddr,
    path: &str,
    auth: Option<&str>,
    body: serde_json::Value,
) -> Response {
    let path = path.to_owned();
    let auth = auth.map(|t| format!("Bearer {t}"));
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let bytes = serde_json::to_vec(&body).unwrap();
        request_with_headers(
            addr,
            "POST",
            &path,
            &headers,
            Some(("application/json", &bytes)),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_deleted_with_its_code_and_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::default();
    let platform = pocketpds_core::node::NodePlatform {
        mailer: Some(std::sync::Arc::new(outbox.clone())),
        ..Default::default()
    };
    let node = pocketpds_core::node::start_with(local_config(dir.path()), platform)
        .await
        .unwrap();
    let (_, token) = seed_account(&node, DID, "leaving.test").await;
    node.state
        .accounts
        .update_email(DID, "leaving@example.com")
        .await
        .unwrap();
    let addr = node.local_addr;

    // Without a session, no code.
    let r = call(
        addr,
        "/xrpc/com.atproto.server.requestAccountDelete",
        None,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = call(
        addr,
        "/xrpc/com.atproto.server.requestAccountDelete",
        Some(&token),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (code, mail) = outbox.code(1).await;
    assert_eq!(mail.to, "leaving@example.com");

    let delete = "/xrpc/com.atproto.server.deleteAccount";
    let cases = [
        (
            json!({"did": DID, "password": PASSWORD, "token": "AAAAA-AAAAA"}),
            400,
            "InvalidToken",
        ),
        (
            json!({"did": DID, "password": "not the password", "token": code}),
            401,
            "AuthenticationRequired",
        ),
        (
            json!({"did": "not a did", "password": PASSWORD, "token": code}),
            400,
            "InvalidRequest",
        ),
        (
            json!({"did": DID, "password": PASSWORD}),
            400,
            "InvalidRequest",
        ),
    ];
    for (body, status, error) in cases {
        let r = call(addr, delete, None, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert_eq!(r.json()["error"], error, "{body}: {}", r.text());
    }
    // Still there: the code was not consumed by the failed attempts with a wrong password.
    assert!(node.state.repos.head(DID).await.unwrap().is_some());

    let r = call(
        addr,
        delete,
        None,
        json!({"did": DID, "password": PASSWORD, "token": code}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(node.state.repos.head(DID).await.unwrap().is_none());
    assert!(node
        .state
        .accounts
        .account_by_did(DID)
        .await
        .unwrap()
        .is_none());
    let r = call(
        addr,
        "/xrpc/com.atproto.server.createSession",
        None,
        json!({"identifier": DID, "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    // The code works once.
    let r = call(
        addr,
        delete,
        None,
        json!({"did": DID, "password": PASSWORD, "token": code}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    // The firehose's last word on the account: deleted.
    let page = events::read_after(node.state.storage.connection(), 0, 1000)
        .await
        .unwrap();
    let last = page.last().unwrap();
    assert_eq!(last.kind, events::EventKind::Account);
    let body = cbor::decode(&last.payload).unwrap();
    let text = format!("{body:?}");
    assert!(text.contains("deleted") && text.contains(DID), "{text}");
}
