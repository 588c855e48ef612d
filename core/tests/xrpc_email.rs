//! The email and password methods: confirmation, change, reset and the emailed sign-in code, each
//! with the code the node mails; codes work once and expire; a reset for an unknown address answers
//! the same and mails nothing.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::http::{request_with_headers, Response};
use common::mail::Outbox;
use common::node::{local_config, seed_account, PASSWORD};
use pocketpds_core::node::{NodePlatform, RunningNode};
use pocketpds_core::storage::TokenPurpose;
use serde_json::{json, Value};

const DID: &str = "did:plc:mailmailmailmailmailmail";
const EMAIL: &str = "alice@example.com";

async fn call(addr: SocketAddr, method: &str, auth: Option<&str>, body: Option<Value>) -> Response {
    let path = format!("/xrpc/{method}");
    let auth = auth.map(|t| format!("Bearer {t}"));
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

async fn node_with_outbox() -> (tempfile::TempDir, RunningNode, Outbox, String) {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::default();
    let platform = NodePlatform {
        mailer: Some(Arc::new(outbox.clone())),
        ..Default::default()
    };
    let node = pocketpds_core::node::start_with(local_config(dir.path()), platform)
        .await
        .unwrap();
    let (_, token) = seed_account(&node, DID, "alice.test").await;
    node.state.accounts.update_email(DID, EMAIL).await.unwrap();
    (dir, node, outbox, token)
}

fn error(r: &Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_is_confirmed_then_changed_with_mailed_codes_that_work_once() {
    let (_dir, node, outbox, token) = node_with_outbox().await;
    let addr = node.local_addr;
    let session = call(addr, "com.atproto.server.getSession", Some(&token), None).await;
    assert_eq!(session.json()["emailConfirmed"], false);
    assert_eq!(session.json()["emailAuthFactor"], false);

    let r = call(
        addr,
        "com.atproto.server.requestEmailConfirmation",
        Some(&token),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (code, mail) = outbox.code(1).await;
    assert_eq!(mail.to, EMAIL);
    assert!(mail.html.contains(&code));
    let confirm = |email: &str, code: &str| json!({"email": email, "token": code});
    let r = call(
        addr,
        "com.atproto.server.confirmEmail",
        Some(&token),
        Some(confirm("bob@example.com", &code)),
    )
    .await;
    assert_eq!((r.status, error(&r)), (400, "InvalidEmail".into()));
    let r = call(
        addr,
        "com.atproto.server.confirmEmail",
        Some(&token),
        Some(confirm(EMAIL, "AAAAA-AAAAA")),
    )
    .await;
    assert_eq!((r.status, error(&r)), (400, "InvalidToken".into()));
    let r = call(
        addr,
        "com.atproto.server.confirmEmail",
        Some(&token),
        Some(confirm("ALICE@example.com", &code)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = call(
        addr,
        "com.atproto.server.confirmEmail",
        Some(&token),
        Some(confirm(EMAIL, &code)),
    )
    .await;
    assert_eq!(
        (r.status, error(&r)),
        (400, "InvalidToken".into()),
        "a code works once"
    );
    let session = call(addr, "com.atproto.server.getSession", Some(&token), None).await;
    assert_eq!(session.json()["emailConfirmed"], true);

    // A confirmed address changes only with a code mailed to it.
    let r = call(
        addr,
        "com.atproto.server.requestEmailUpdate",
        Some(&token),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.json()["tokenRequired"], true);
    let (update_code, mail) = outbox.code(2).await;
    assert_eq!(mail.to, EMAIL);
    let r = call(
        addr,
        "com.atproto.server.updateEmail",
        Some(&token),
        Some(json!({"email": "new@example.com"})),
    )
    .await;
    assert_eq!((r.status, error(&r)), (400, "TokenRequired".into()));
    let r = call(
        addr,
        "com.atproto.server.updateEmail",
        Some(&token),
        Some(json!({"email": "not an address"})),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        addr,
        "com.atproto.server.updateEmail",
        Some(&token),
        Some(json!({"email": "new@example.com", "token": update_code})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let session = call(addr, "com.atproto.server.getSession", Some(&token), None)
        .await
        .json();
    assert_eq!(session["email"], "new@example.com");
    assert_eq!(session["emailConfirmed"], false);
    // The new address is unconfirmed: the next change needs no code.
    let r = call(
        addr,
        "com.atproto.server.requestEmailUpdate",
        Some(&token),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.json()["tokenRequired"], false);
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_reset_with_the_mailed_code_and_an_unknown_address_gets_the_same_answer() {
    let (_dir, node, outbox, _) = node_with_outbox().await;
    let addr = node.local_addr;
    let unknown = call(
        addr,
        "com.atproto.server.requestPasswordReset",
        None,
        Some(json!({"email": "nobody@example.com"})),
    )
    .await;
    let known = call(
        addr,
        "com.atproto.server.requestPasswordReset",
        None,
        Some(json!({"email": EMAIL})),
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.body.clone()),
        (known.status, known.body.clone())
    );
    let (code, mail) = outbox.code(1).await;
    assert_eq!(mail.to, EMAIL);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(outbox.count(), 1, "no mail for the unknown address");

    let reset = |code: &str, password: &str| json!({"token": code, "password": password});
    let r = call(
        addr,
        "com.atproto.server.resetPassword",
        None,
        Some(reset("AAAAA-AAAAA", "new password")),
    )
    .await;
    assert_eq!((r.status, error(&r)), (400, "InvalidToken".into()));
    let r = call(
        addr,
        "com.atproto.server.resetPassword",
        None,
        Some(reset(&code, "")),
    )
    .await;
    assert_eq!((r.status, error(&r)), (400, "InvalidPassword".into()));
    let r = call(
        addr,
        "com.atproto.server.resetPassword",
        None,
        Some(reset(&code, "new password")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = call(
        addr,
        "com.atproto.server.resetPassword",
        None,
        Some(reset(&code, "third password")),
    )
    .await;
    assert_eq!(
        (r.status, error(&r)),
        (400, "InvalidToken".into()),
        "a code works once"
    );
    let login = |password: &str| json!({"identifier": EMAIL, "password": password});
    let old = call(
        addr,
        "com.atproto.server.createSession",
        None,
        Some(login(PASSWORD)),
    )
    .await;
    assert_eq!(old.status, 401);
    let new = call(
        addr,
        "com.atproto.server.createSession",
        None,
        Some(login("new password")),
    )
    .await;
    assert_eq!(new.status, 200, "{}", new.text());

    // A code older than its lifetime is refused as expired, and is gone after.
    let long_ago = node.state.sessions.now() - 3600;
    node.state
        .accounts
        .put_email_token(DID, TokenPurpose::ResetPassword, "OLDOL-DCODE", long_ago)
        .await
        .unwrap();
    let r = call(
        addr,
        "com.atproto.server.resetPassword",
        None,
        Some(reset("OLDOL-DCODE", "x")),
    )
    .await;
    assert_eq!((r.status, error(&r)), (400, "ExpiredToken".into()));
    let r = call(
        addr,
        "com.atproto.server.resetPassword",
        None,
        Some(reset("OLDOL-DCODE", "x")),
    )
    .await;
    assert_eq!(error(&r), "InvalidToken");
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_using_its_email_as_second_factor_signs_in_with_the_mailed_code() {
    let (_dir, node, outbox, token) = node_with_outbox().await;
    let addr = node.local_addr;
    // Not before the address is confirmed.
    let r = call(
        addr,
        "com.atproto.server.updateEmail",
        Some(&token),
        Some(json!({"email": EMAIL, "emailAuthFactor": true})),
    )
    .await;
    assert_eq!(r.status, 400);
    node.state
        .accounts
        .confirm_email(DID, EMAIL, 1)
        .await
        .unwrap();
    call(
        addr,
        "com.atproto.server.requestEmailUpdate",
        Some(&token),
        Some(json!({})),
    )
    .await;
    let (update_code, _) = outbox.code(1).await;
    let r = call(
        addr,
        "com.atproto.server.updateEmail",
        Some(&token),
        Some(json!({"email": EMAIL, "emailAuthFactor": true, "token": update_code})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let session = call(addr, "com.atproto.server.getSession", Some(&token), None)
        .await
        .json();
    assert_eq!(session["emailAuthFactor"], true);

    let login = |code: Option<&str>| json!({"identifier": "alice.test", "password": PASSWORD, "authFactorToken": code});
    let r = call(
        addr,
        "com.atproto.server.createSession",
        None,
        Some(login(None)),
    )
    .await;
    assert_eq!(
        (r.status, error(&r)),
        (401, "AuthFactorTokenRequired".into())
    );
    let (code, mail) = outbox.code(2).await;
    assert!(mail.subject.starts_with("Your sign-in code"));
    let r = call(
        addr,
        "com.atproto.server.createSession",
        None,
        Some(login(Some("AAAAA-AAAAA"))),
    )
    .await;
    assert_eq!((r.status, error(&r)), (400, "InvalidToken".into()));
    // A wrong code used up the mailed one? No: each account has one code per purpose, taken only
    // when it matches.
    let r = call(
        addr,
        "com.atproto.server.createSession",
        None,
        Some(login(Some(&code))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    node.stop().await.unwrap();
}
