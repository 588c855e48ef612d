//! The administration methods goat does not drive, over HTTP: invite codes (made, listed page by
//! page, disabled per code and per account, the account's own listing), the operator's mail,
//! reserved signing keys and the signup queue; and the admin password's refusals.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use common::http::{request_with_headers, Response};
use common::mail::Outbox;
use common::node::{local_config, seed_account};
use pocketpds_core::node::{NodePlatform, RunningNode};
use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "operator password";
const DID: &str = "did:plc:adminadminadminadminadmi";

fn basic(password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"))
    )
}

async fn call(
    addr: SocketAddr,
    method: &str,
    auth: Option<String>,
    body: Option<Value>,
) -> Response {
    let path = format!("/xrpc/{method}");
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        match body {
            Some(body) => {
                let bytes = serde_json::to_vec(&body).unwrap();
                request_with_headers(
                    addr,
                    "POST",
                    &path,
                    &headers,
                    Some(("application/json", &bytes)),
                )
            }
            None => request_with_headers(addr, "GET", &path, &headers, None),
        }
    })
    .await
    .unwrap()
}

async fn node(admin_password: Option<&str>) -> (tempfile::TempDir, RunningNode, Outbox, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.admin_password = admin_password.map(str::to_owned);
    let outbox = Outbox::default();
    let platform = NodePlatform {
        mailer: Some(Arc::new(outbox.clone())),
        ..Default::default()
    };
    let node = pocketpds_core::node::start_with(config, platform)
        .await
        .unwrap();
    let (_, token) = seed_account(&node, DID, "erin.test").await;
    node.state
        .accounts
        .update_email(DID, "erin@example.com")
        .await
        .unwrap();
    (dir, node, outbox, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_codes_are_made_listed_and_disabled_by_the_operator() {
    let (_dir, node, _, token) = node(Some(ADMIN_PASSWORD)).await;
    let addr = node.local_addr;
    let admin = || Some(basic(ADMIN_PASSWORD));
    let one = call(
        addr,
        "com.atproto.server.createInviteCode",
        admin(),
        Some(json!({"useCount": 2})),
    )
    .await;
    assert_eq!(one.status, 200, "{}", one.text());
    let many = call(
        addr,
        "com.atproto.server.createInviteCodes",
        admin(),
        Some(json!({"codeCount": 3, "useCount": 1, "forAccounts": [DID]})),
    )
    .await
    .json();
    assert_eq!(many["codes"][0]["account"], DID);
    assert_eq!(many["codes"][0]["codes"].as_array().unwrap().len(), 3);

    // The operator's listing, two at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("com.atproto.admin.getInviteCodes?limit=2&cursor={c}"),
            None => "com.atproto.admin.getInviteCodes?limit=2".into(),
        };
        let page = call(addr, &query, admin(), None).await.json();
        for code in page["codes"].as_array().unwrap() {
            seen.push(code["code"].as_str().unwrap().to_owned());
        }
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4);

    // The account sees its own codes, until the operator disables its invites.
    let own = call(
        addr,
        "com.atproto.server.getAccountInviteCodes",
        Some(format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(own.json()["codes"].as_array().unwrap().len(), 3);
    let r = call(
        addr,
        "com.atproto.admin.disableAccountInvites",
        admin(),
        Some(json!({"account": DID})),
    )
    .await;
    assert_eq!(r.status, 200);
    let info = call(
        addr,
        &format!("com.atproto.admin.getAccountInfo?did={DID}"),
        admin(),
        None,
    )
    .await
    .json();
    assert_eq!(info["invitesDisabled"], true);
    assert!(info["invites"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["disabled"] == true));
    let own = call(
        addr,
        "com.atproto.server.getAccountInviteCodes",
        Some(format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(own.status, 400);
    call(
        addr,
        "com.atproto.admin.enableAccountInvites",
        admin(),
        Some(json!({"account": "erin.test"})),
    )
    .await;
    let info = call(
        addr,
        &format!("com.atproto.admin.getAccountInfo?did={DID}"),
        admin(),
        None,
    )
    .await
    .json();
    assert_eq!(info["invitesDisabled"], false);

    let code = one.json()["code"].as_str().unwrap().to_owned();
    let r = call(
        addr,
        "com.atproto.admin.disableInviteCodes",
        admin(),
        Some(json!({"codes": [code]})),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(
        addr,
        "com.atproto.admin.disableInviteCodes",
        admin(),
        Some(json!({"accounts": ["admin"]})),
    )
    .await;
    assert_eq!(r.status, 400);
    let stored = node
        .state
        .accounts
        .invite_code(&code)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.disabled);
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_mails_an_account_and_the_small_methods_answer() {
    let (_dir, node, outbox, token) = node(Some(ADMIN_PASSWORD)).await;
    let addr = node.local_addr;
    let r = call(
        addr,
        "com.atproto.admin.sendEmail",
        Some(basic(ADMIN_PASSWORD)),
        Some(json!({"recipientDid": DID, "senderDid": "did:web:localhost", "subject": "Hello", "content": "<b>hi</b>"})),
    )
    .await;
    assert_eq!(r.json()["sent"], true);
    let mail = outbox.nth(1).await;
    assert_eq!(
        (mail.to.as_str(), mail.subject.as_str()),
        ("erin@example.com", "Hello")
    );
    assert!(mail.html.contains("&lt;b&gt;hi&lt;/b&gt;"));

    let key = call(
        addr,
        "com.atproto.server.reserveSigningKey",
        None,
        Some(json!({"did": "did:plc:arrivingarrivingarriving"})),
    )
    .await;
    assert!(key.json()["signingKey"]
        .as_str()
        .unwrap()
        .starts_with("did:key:z"));
    let bad = call(
        addr,
        "com.atproto.server.reserveSigningKey",
        None,
        Some(json!({"did": "not a did"})),
    )
    .await;
    assert_eq!(bad.status, 400);
    let queue = call(
        addr,
        "com.atproto.temp.checkSignupQueue",
        Some(format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(queue.json()["activated"], true);
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_down_account_cannot_write_with_a_token_issued_before() {
    let (_dir, node, _, token) = node(Some(ADMIN_PASSWORD)).await;
    let addr = node.local_addr;
    let post = || {
        json!({"repo": DID, "collection": "app.bsky.feed.post",
               "record": {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-01-01T00:00:00Z"}})
    };
    let bearer = Some(format!("Bearer {token}"));
    let before = call(
        addr,
        "com.atproto.repo.createRecord",
        bearer.clone(),
        Some(post()),
    )
    .await;
    assert_eq!(before.status, 200, "{}", before.text());
    let r = call(
        addr,
        "com.atproto.admin.updateSubjectStatus",
        Some(basic(ADMIN_PASSWORD)),
        Some(
            json!({"subject": {"$type": "com.atproto.admin.defs#repoRef", "did": DID},
                    "takedown": {"applied": true, "ref": "case-2"}}),
        ),
    )
    .await;
    assert_eq!(r.json()["takedown"]["ref"], "case-2");
    let after = call(addr, "com.atproto.repo.createRecord", bearer, Some(post())).await;
    assert_eq!(after.status, 401);
    assert_eq!(after.json()["error"], "AccountTakedown");
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_admin_password_every_admin_call_is_refused() {
    let (_dir, node, _, _) = node(None).await;
    let addr = node.local_addr;
    for auth in [None, Some(basic("")), Some(basic("anything"))] {
        let r = call(
            addr,
            "com.atproto.admin.deleteAccount",
            auth,
            Some(json!({"did": DID})),
        )
        .await;
        assert_eq!(r.status, 401);
    }
    assert!(node
        .state
        .accounts
        .account_by_did(DID)
        .await
        .unwrap()
        .is_some());
    node.stop().await.unwrap();
}
