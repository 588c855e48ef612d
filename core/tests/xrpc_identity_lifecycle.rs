//! The identity lifecycle against a real PLC directory: a new handle reaches the directory and,
//! through the shared database, every node at once; PLC operations are signed only with the
//! one-time code and submitted only when they verify. Hostile input — bad handles, wrong codes,
//! operations that do not verify or would move the account away — is refused with an XRPC error and
//! changes nothing, here or in the directory. The operator's `com.atproto.admin.updateAccountHandle`
//! goes the same way as the account's own `updateHandle`.

mod common;

use std::sync::Arc;

use base64::Engine;
use common::firehose::{text, Firehose, Received};
use common::http::{request_with_headers, Response};
use common::mail::Outbox;
use common::plc::PlcServer;
use pocketpds_core::config::Config;
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::identity::{create_operation, HttpClient, HttpConfig, PlcClient};
use pocketpds_core::node::{self, RunningNode};
use pocketpds_core::syntax::Did;
use serde_json::{json, Value};

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

async fn call(
    node: &RunningNode,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Response {
    let auth = auth.map(|t| format!("Bearer {t}"));
    call_with(node, method, path, auth, body).await
}

/// A request with `authorization` as the whole `Authorization` header.
async fn call_with(
    node: &RunningNode,
    method: &str,
    path: &str,
    auth: Option<String>,
    body: Option<Value>,
) -> Response {
    let addr = node.local_addr;
    let path = path.to_owned();
    let method = method.to_owned();
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        request_with_headers(
            addr,
            &method,
            &path,
            &headers,
            bytes.as_deref().map(|b| ("application/json", b)),
        )
    })
    .await
    .unwrap()
}

async fn post(node: &RunningNode, method: &str, auth: Option<&str>, body: Value) -> Response {
    call(node, "POST", &format!("/xrpc/{method}"), auth, Some(body)).await
}

/// `com.atproto.admin.updateAccountHandle` with the admin password `password`.
async fn admin_update_handle(
    node: &RunningNode,
    password: &str,
    did: &str,
    handle: &str,
) -> Response {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"))
    );
    call_with(
        node,
        "POST",
        "/xrpc/com.atproto.admin.updateAccountHandle",
        Some(basic),
        Some(json!({ "did": did, "handle": handle })),
    )
    .await
}

async fn get(node: &RunningNode, path_and_query: &str, auth: Option<&str>) -> Response {
    call(node, "GET", &format!("/xrpc/{path_and_query}"), auth, None).await
}

fn plc_client(url: &str) -> PlcClient {
    let http = HttpClient::new(&HttpConfig {
        allow_plain_http: true,
        ..HttpConfig::default()
    })
    .unwrap();
    PlcClient::new(url, Arc::new(http)).unwrap()
}

/// Creates an account on `node`; returns its DID and access token.
async fn create_account(node: &RunningNode, handle: &str) -> (String, String) {
    let r = post(
        node,
        "com.atproto.server.createAccount",
        None,
        json!({"handle": handle, "email": format!("{handle}@example.com"), "password": "hunter2hunter2"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    (
        body["did"].as_str().unwrap().to_owned(),
        body["accessJwt"].as_str().unwrap().to_owned(),
    )
}

fn assert_error(r: &Response, status: u16, error: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.json()["error"], error, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_handle_reaches_the_directory_and_every_node_at_once_and_bad_ones_change_nothing() {
    let plc = PlcServer::start();
    let dir = tempfile::tempdir().unwrap();
    let first = node::start(config(dir.path(), &plc.url)).await.unwrap();
    let second = node::start(config(dir.path(), &plc.url)).await.unwrap();
    let (did, token) = create_account(&first, "before.test").await;
    let client = plc_client(&plc.url);
    let did_parsed = Did::parse(&did).unwrap();
    let ops_before = client.op_log(&did_parsed).await.unwrap().len();

    for (handle, error) in [
        ("not a handle", "InvalidHandle"),
        ("ab.test", "InvalidHandle"),
        ("way-too-long-for-a-service-handle.test", "InvalidHandle"),
        ("a.b.test", "InvalidHandle"),
        // A domain that does not name the account (nothing answers for it here).
        ("somewhere.example.com", "InvalidHandle"),
    ] {
        let r = post(
            &first,
            "com.atproto.identity.updateHandle",
            Some(&token),
            json!({ "handle": handle }),
        )
        .await;
        assert_error(&r, 400, error);
    }
    // Another account's handle.
    create_account(&first, "taken.test").await;
    let r = post(
        &first,
        "com.atproto.identity.updateHandle",
        Some(&token),
        json!({ "handle": "taken.test" }),
    )
    .await;
    assert_error(&r, 400, "HandleNotAvailable");
    // No session.
    let r = post(
        &first,
        "com.atproto.identity.updateHandle",
        None,
        json!({ "handle": "after.test" }),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(client.op_log(&did_parsed).await.unwrap().len(), ops_before);

    let r = post(
        &first,
        "com.atproto.identity.updateHandle",
        Some(&token),
        json!({ "handle": "After.test" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The other node serves the new handle at once; the old one is gone.
    let r = get(
        &second,
        "com.atproto.identity.resolveHandle?handle=after.test",
        None,
    )
    .await;
    assert_eq!(r.json()["did"], did.as_str(), "{}", r.text());
    let r = get(
        &second,
        "com.atproto.identity.resolveHandle?handle=before.test",
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    // The directory has one more operation, naming the new handle.
    let doc = client.resolve(&did_parsed).await.unwrap();
    assert_eq!(doc.handle().unwrap().as_str(), "after.test");
    assert_eq!(
        client.op_log(&did_parsed).await.unwrap().len(),
        ops_before + 1
    );
    // resolveIdentity checks both ways, on either node.
    let r = get(
        &second,
        "com.atproto.identity.resolveIdentity?identifier=after.test",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["did"], did.as_str());
    assert_eq!(r.json()["handle"], "after.test");
    assert_eq!(r.json()["didDoc"]["id"], did.as_str());
    let r = get(
        &first,
        "com.atproto.identity.resolveDid?did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
        None,
    )
    .await;
    assert_error(&r, 400, "DidNotFound");
    let r = get(&first, "com.atproto.identity.resolveDid?did=nope", None).await;
    assert_error(&r, 400, "InvalidRequest");
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_changes_a_handle_in_the_directory_as_the_account_would() {
    const PASSWORD: &str = "operator password";
    let plc = PlcServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut with_admin = config(dir.path(), &plc.url);
    with_admin.admin_password = Some(PASSWORD.into());
    let first = node::start(with_admin).await.unwrap();
    let second = node::start(config(dir.path(), &plc.url)).await.unwrap();
    let (did, _) = create_account(&first, "managed.test").await;
    create_account(&first, "holder.test").await;
    let client = plc_client(&plc.url);
    let did_parsed = Did::parse(&did).unwrap();
    let ops_before = client.op_log(&did_parsed).await.unwrap().len();

    for (handle, status, error) in [
        ("not a handle", 400, "InvalidHandle"),
        ("ab.test", 400, "InvalidHandle"),
        ("a.b.test", 400, "InvalidHandle"),
        (
            "way-too-long-for-a-service-handle.test",
            400,
            "InvalidHandle",
        ),
        // A domain that does not name the account (nothing answers for it here).
        ("somewhere.example.com", 400, "InvalidHandle"),
        ("holder.test", 400, "HandleNotAvailable"),
    ] {
        let r = admin_update_handle(&first, PASSWORD, &did, handle).await;
        assert_error(&r, status, error);
    }
    let r = admin_update_handle(&first, "wrong password", &did, "renamed.test").await;
    assert_error(&r, 401, "AuthenticationRequired");
    // The other node has no admin password: every admin call is refused there.
    let r = admin_update_handle(&second, PASSWORD, &did, "renamed.test").await;
    assert_error(&r, 401, "AuthenticationRequired");
    let r = admin_update_handle(
        &first,
        PASSWORD,
        "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
        "renamed.test",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(client.op_log(&did_parsed).await.unwrap().len(), ops_before);
    let r = get(
        &first,
        "com.atproto.identity.resolveHandle?handle=managed.test",
        None,
    )
    .await;
    assert_eq!(r.json()["did"], did.as_str(), "{}", r.text());

    let mut firehose = Firehose::connect(second.local_addr, "").await;
    let r = admin_update_handle(&first, PASSWORD, &did, "Renamed.test").await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The directory has one more operation, naming the new handle, signed with the server's key.
    let doc = client.resolve(&did_parsed).await.unwrap();
    assert_eq!(doc.handle().unwrap().as_str(), "renamed.test");
    assert_eq!(
        client.op_log(&did_parsed).await.unwrap().len(),
        ops_before + 1
    );
    // `#identity` with the new handle, seen through the other node's firehose.
    match firehose.next().await {
        Received::Message { t, body } => {
            assert_eq!(t, "#identity");
            assert_eq!(text(&body, "did"), Some(did.as_str()));
            assert_eq!(text(&body, "handle"), Some("renamed.test"));
        }
        other => panic!("unexpected frame {other:?}"),
    }
    // Both ways, on the other node.
    let r = get(
        &second,
        "com.atproto.identity.resolveIdentity?identifier=renamed.test",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["handle"], "renamed.test");
    let r = get(
        &second,
        "com.atproto.identity.resolveHandle?handle=managed.test",
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plc_operations_are_signed_with_the_code_only_and_submitted_only_when_they_verify() {
    let plc = PlcServer::start();
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::default();
    let platform = node::NodePlatform {
        mailer: Some(Arc::new(outbox.clone())),
        ..Default::default()
    };
    let node = node::start_with(config(dir.path(), &plc.url), platform)
        .await
        .unwrap();
    let (did, token) = create_account(&node, "mover.test").await;
    let client = plc_client(&plc.url);
    let did_parsed = Did::parse(&did).unwrap();

    // Signing needs a code.
    let r = post(
        &node,
        "com.atproto.identity.signPlcOperation",
        Some(&token),
        json!({}),
    )
    .await;
    assert_error(&r, 400, "InvalidRequest");
    let mailed = outbox.count();
    let r = post(
        &node,
        "com.atproto.identity.requestPlcOperationSignature",
        Some(&token),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (code, mail) = outbox.code(mailed + 1).await;
    assert!(mail.subject.contains("identity"), "{}", mail.subject);
    let r = post(
        &node,
        "com.atproto.identity.signPlcOperation",
        Some(&token),
        json!({ "token": "AAAAA-BBBBB" }),
    )
    .await;
    assert_error(&r, 400, "InvalidToken");

    // With the code: an operation adding a rotation key the user holds.
    let user_key = Keypair::generate(Algorithm::K256).unwrap();
    let recommended = get(
        &node,
        "com.atproto.identity.getRecommendedDidCredentials",
        Some(&token),
    )
    .await
    .json();
    let server_key = recommended["rotationKeys"][0].as_str().unwrap().to_owned();
    assert_eq!(
        recommended["services"]["atproto_pds"]["endpoint"],
        node.state.config.public_url.as_str()
    );
    let r = post(
        &node,
        "com.atproto.identity.signPlcOperation",
        Some(&token),
        json!({ "token": code, "rotationKeys": [user_key.public_key().to_did_key(), server_key] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let signed = r.json()["operation"].clone();
    // The code worked once.
    let r = post(
        &node,
        "com.atproto.identity.signPlcOperation",
        Some(&token),
        json!({ "token": code }),
    )
    .await;
    assert_error(&r, 400, "InvalidToken");

    // Hostile submissions change nothing in the directory.
    let ops_before = client.op_log(&did_parsed).await.unwrap().len();
    let prev = client.last_op(&did_parsed).await.unwrap();
    // Signed by a key that may not sign for the DID: refused locally, before the directory.
    let stranger = Keypair::generate(Algorithm::K256).unwrap();
    let unsigned_by_rotation_key = {
        // The library refuses to sign with it, so the signature is replaced by hand.
        assert!(create_operation(&prev, prev.data().unwrap(), &stranger).is_err());
        let mut op = signed.clone();
        op["sig"] = json!(bad_signature(&stranger));
        op
    };
    let mut wrong_endpoint = signed.clone();
    wrong_endpoint["services"]["atproto_pds"]["endpoint"] = json!("https://elsewhere.example.com");
    let mut tampered = signed.clone();
    tampered["rotationKeys"] = json!([
        stranger.public_key().to_did_key(),
        server_key_of(&recommended)
    ]);
    let mut wrong_prev = signed.clone();
    wrong_prev["prev"] = json!("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm");
    for (what, operation, status) in [
        (
            "a signature by no rotation key",
            unsigned_by_rotation_key,
            400,
        ),
        ("a changed operation", tampered, 400),
        ("another endpoint", wrong_endpoint, 400),
        ("a prev that is not the last operation", wrong_prev, 400),
        ("not an operation", json!({"type": "plc_operation"}), 400),
        ("not an object", json!("op"), 400),
    ] {
        let r = post(
            &node,
            "com.atproto.identity.submitPlcOperation",
            Some(&token),
            json!({ "operation": operation }),
        )
        .await;
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert_eq!(r.json()["error"], "InvalidRequest", "{what}");
    }
    assert_eq!(client.op_log(&did_parsed).await.unwrap().len(), ops_before);

    // The real one goes through.
    let r = post(
        &node,
        "com.atproto.identity.submitPlcOperation",
        Some(&token),
        json!({ "operation": signed }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let last = client.last_op(&did_parsed).await.unwrap();
    assert_eq!(
        last.data().unwrap().rotation_keys,
        vec![
            user_key.public_key().to_did_key(),
            server_key_of(&recommended)
        ]
    );
    node.stop().await.unwrap();
}

fn server_key_of(recommended: &Value) -> String {
    recommended["rotationKeys"][0].as_str().unwrap().to_owned()
}

/// A well-formed signature that no rotation key of the DID made.
fn bad_signature(key: &Keypair) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.sign(b"something else entirely"))
}
