//! `com.atproto.server.createAccount` against a real PLC directory: the new DID resolves to this
//! node with the account's signing key and handle, the repository exists and verifies, the session
//! works, and refused requests leave nothing behind.

mod common;

use std::sync::Arc;

use common::http::{request, request_with_headers};
use common::plc::PlcServer;
use pocketpds_core::config::Config;
use pocketpds_core::identity::{HttpClient, HttpConfig, PlcClient};
use pocketpds_core::syntax::Did;
use serde_json::json;

fn config(dir: &std::path::Path, plc: &str) -> Config {
    let plc = plc.to_owned();
    let mut c = Config::from_vars(move |k| match k {
        "PDS_PORT" => Some("0".into()),
        "PDS_DEV_MODE" => Some("true".into()),
        "PDS_DID_PLC_URL" => Some(plc.clone()),
        _ => None,
    })
    .unwrap();
    c.data_directory = dir.to_path_buf();
    c
}

fn post(
    addr: std::net::SocketAddr,
    method: &str,
    body: serde_json::Value,
) -> common::http::Response {
    let bytes = serde_json::to_vec(&body).unwrap();
    request(
        addr,
        "POST",
        &format!("/xrpc/{method}"),
        Some(("application/json", &bytes)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_account_gets_a_plc_identity_a_repository_and_a_session() {
    let plc = PlcServer::start();
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(config(dir.path(), &plc.url))
        .await
        .unwrap();
    let addr = node.local_addr;
    let public_url = node.state.config.public_url.clone();

    let created = tokio::task::spawn_blocking(move || {
        post(
            addr,
            "com.atproto.server.createAccount",
            json!({"handle": "alice.test", "email": "alice@example.com", "password": "hunter2hunter2"}),
        )
    })
    .await
    .unwrap();
    assert_eq!(created.status, 200, "{}", created.text());
    let body = created.json();
    let did = body["did"].as_str().unwrap().to_owned();
    assert!(did.starts_with("did:plc:"), "{did}");
    assert_eq!(body["handle"], "alice.test");
    let access = body["accessJwt"].as_str().unwrap().to_owned();

    // The directory knows the DID: our endpoint, our handle, the account's signing key.
    let http = HttpClient::new(&HttpConfig {
        allow_plain_http: true,
        ..HttpConfig::default()
    })
    .unwrap();
    let client = PlcClient::new(&plc.url, Arc::new(http)).unwrap();
    let doc = client.resolve(&Did::parse(&did).unwrap()).await.unwrap();
    assert_eq!(doc.pds_endpoint(), Some(public_url.as_str()));
    assert_eq!(
        doc.handle().map(|h| h.as_str().to_owned()).as_deref(),
        Some("alice.test")
    );
    let key = node
        .state
        .accounts
        .signing_key(&did)
        .await
        .unwrap()
        .expect("signing key stored");
    assert_eq!(doc.signing_key(), Some(key.public_key()));

    // The session works and the repository exists.
    let (session, commit, taken) = tokio::task::spawn_blocking({
        let access = access.clone();
        let did = did.clone();
        move || {
            let auth = format!("Bearer {access}");
            (
                request_with_headers(
                    addr,
                    "GET",
                    "/xrpc/com.atproto.server.getSession",
                    &[("Authorization", &auth)],
                    None,
                ),
                request(
                    addr,
                    "GET",
                    &format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}"),
                    None,
                ),
                post(
                    addr,
                    "com.atproto.server.createAccount",
                    json!({"handle": "alice.test", "password": "another-password"}),
                ),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(session.status, 200, "{}", session.text());
    assert_eq!(session.json()["did"], did.as_str());
    assert_eq!(commit.status, 200, "{}", commit.text());
    assert!(commit.json()["rev"].is_string());
    assert_eq!(taken.status, 400);
    assert_eq!(taken.json()["error"], "HandleNotAvailable");
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_handles_and_missing_passwords_are_refused_before_any_identity_is_made() {
    let plc = PlcServer::start();
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(config(dir.path(), &plc.url))
        .await
        .unwrap();
    let addr = node.local_addr;
    let answers = tokio::task::spawn_blocking(move || {
        [
            json!({"handle": "bob.example.com", "password": "pw-pw-pw-pw"}),
            json!({"handle": "b.test", "password": "pw-pw-pw-pw"}),
            json!({"handle": "bob..test", "password": "pw-pw-pw-pw"}),
            json!({"handle": "bob.test"}),
            json!({"password": "pw-pw-pw-pw"}),
        ]
        .into_iter()
        .map(|body| post(addr, "com.atproto.server.createAccount", body))
        .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let errors: Vec<(u16, String)> = answers
        .iter()
        .map(|r| {
            (
                r.status,
                r.json()["error"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (400, "InvalidHandle".to_string()),
            (400, "InvalidHandle".to_string()),
            (400, "InvalidHandle".to_string()),
            (400, "InvalidRequest".to_string()),
            (400, "InvalidRequest".to_string()),
        ]
    );
    let listed = tokio::task::spawn_blocking(move || {
        request(addr, "GET", "/xrpc/com.atproto.sync.listRepos", None)
    })
    .await
    .unwrap();
    assert_eq!(listed.json()["repos"].as_array().map(Vec::len), Some(0));
    node.stop().await.unwrap();
}
