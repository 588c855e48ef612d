//! The deprecated `com.atproto.sync.getHead` and `getCheckout` over HTTP: the head is the current
//! commit, the checkout is that commit's repository — verified by the repository engine against the
//! account's key, with no block of an earlier commit — and both refuse what the other sync methods
//! refuse (an unknown, taken-down or deactivated account; `HeadNotFound` for an account without a
//! repository).

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use base64::Engine;
use common::http::{request_with_headers, Response};
use common::node::{local_config, seed_account, PASSWORD};
use pocketpds_core::auth::{create_account, CreateAccount};
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::node::{self, RunningNode};
use pocketpds_core::repo::car::{import_car, read_car, CarLimits};
use pocketpds_core::repo::MemoryBlockStore;
use serde_json::{json, Value};

const ALICE: &str = "did:plc:checkoutalicealicealice0";
const ADMIN_PASSWORD: &str = "operator password";
const THING: &str = "com.example.thing";

/// A GET of `path`, or a POST of `body` as JSON, with an optional `Authorization`.
async fn call(addr: SocketAddr, path: &str, auth: Option<String>, body: Option<Value>) -> Response {
    let path = path.to_owned();
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

async fn write(addr: SocketAddr, token: &str, method: &str, body: Value) -> Value {
    let r = call(
        addr,
        &format!("/xrpc/{method}"),
        Some(format!("Bearer {token}")),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 200, "{method}: {}", r.text());
    r.json()
}

async fn start(dir: &std::path::Path) -> RunningNode {
    let mut config = local_config(dir);
    config.admin_password = Some(ADMIN_PASSWORD.into());
    node::start(config).await.unwrap()
}

fn assert_error(r: &Response, status: u16, name: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
    assert_eq!(r.json()["error"], name, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkout_is_the_head_commit_verified_against_the_account_key_and_nothing_older() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let addr = node.local_addr;
    let (key, token) = seed_account(&node, ALICE, "alice.test").await;
    let first = write(
        addr,
        &token,
        "com.atproto.repo.createRecord",
        json!({"repo": ALICE, "collection": THING, "rkey": "one", "record": {"n": 1}}),
    )
    .await;
    for (rkey, n) in [("two", 2), ("three", 3)] {
        write(
            addr,
            &token,
            "com.atproto.repo.createRecord",
            json!({"repo": ALICE, "collection": THING, "rkey": rkey, "record": {"n": n}}),
        )
        .await;
    }
    // History the checkout must leave out: a replaced version and a deleted record.
    write(
        addr,
        &token,
        "com.atproto.repo.putRecord",
        json!({"repo": ALICE, "collection": THING, "rkey": "one", "record": {"n": 10}}),
    )
    .await;
    write(
        addr,
        &token,
        "com.atproto.repo.deleteRecord",
        json!({"repo": ALICE, "collection": THING, "rkey": "two"}),
    )
    .await;

    let head = call(
        addr,
        &format!("/xrpc/com.atproto.sync.getHead?did={ALICE}"),
        None,
        None,
    )
    .await;
    assert_eq!(head.status, 200, "{}", head.text());
    let latest = call(
        addr,
        &format!("/xrpc/com.atproto.sync.getLatestCommit?did={ALICE}"),
        None,
        None,
    )
    .await
    .json();
    assert_eq!(head.json(), json!({"root": latest["cid"]}));

    let car = call(
        addr,
        &format!("/xrpc/com.atproto.sync.getCheckout?did={ALICE}"),
        None,
        None,
    )
    .await;
    assert_eq!(car.status, 200, "{}", car.text());
    assert_eq!(car.header("content-type"), Some("application/vnd.ipld.car"));
    let verified = import_car(
        &car.body[..],
        CarLimits::default(),
        &MemoryBlockStore::new(),
        ALICE,
        &key.public_key(),
    )
    .await
    .unwrap();
    assert_eq!(verified.commit_cid.to_string(), latest["cid"]);
    assert_eq!(verified.commit.rev.to_string(), latest["rev"]);
    let mut keys: Vec<String> = verified
        .entries
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    keys.sort();
    assert_eq!(keys, [format!("{THING}/one"), format!("{THING}/three")]);
    // The same bytes under another key do not verify: the check above is able to fail.
    let stranger = Keypair::generate(Algorithm::K256).unwrap();
    assert!(import_car(
        &car.body[..],
        CarLimits::default(),
        &MemoryBlockStore::new(),
        ALICE,
        &stranger.public_key(),
    )
    .await
    .is_err());

    // Exactly the commit, its tree and its records: nothing of the earlier commits.
    let (roots, blocks) = read_car(&car.body, CarLimits::default()).unwrap();
    assert_eq!(roots, vec![verified.commit_cid]);
    let carried: BTreeSet<String> = blocks.iter().map(|(c, _)| c.to_string()).collect();
    let expected: BTreeSet<String> = std::iter::once(verified.commit_cid)
        .chain(verified.node_cids.iter().copied())
        .chain(verified.entries.iter().map(|(_, c)| *c))
        .map(|c| c.to_string())
        .collect();
    assert_eq!(carried, expected);
    assert_eq!(blocks.len(), expected.len(), "no block twice");
    assert!(!carried.contains(first["commit"]["cid"].as_str().unwrap()));
    assert!(!carried.contains(first["cid"].as_str().unwrap()));

    // getRepo without `since` is the same checkout.
    let repo = call(
        addr,
        &format!("/xrpc/com.atproto.sync.getRepo?did={ALICE}"),
        None,
        None,
    )
    .await;
    assert_eq!(repo.body, car.body);
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_and_checkout_refuse_what_the_other_sync_methods_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let addr = node.local_addr;
    let (_, token) = seed_account(&node, ALICE, "alice.test").await;
    let both = |did: &str| {
        [
            format!("/xrpc/com.atproto.sync.getHead?did={did}"),
            format!("/xrpc/com.atproto.sync.getCheckout?did={did}"),
        ]
    };

    for path in both("did:plc:nobodynobodynobody0000") {
        assert_error(
            &call(addr, &path, None, None).await,
            400,
            "RepoNotFound",
            &path,
        );
    }
    for path in both("not-a-did").into_iter().chain([
        "/xrpc/com.atproto.sync.getHead".to_owned(),
        "/xrpc/com.atproto.sync.getCheckout?did=".to_owned(),
    ]) {
        assert_error(
            &call(addr, &path, None, None).await,
            400,
            "InvalidRequest",
            &path,
        );
    }
    for path in both(ALICE) {
        let r = call(addr, &path, None, Some(json!({}))).await;
        assert_error(&r, 400, "InvalidRequest", &format!("POST {path}"));
    }

    // An account whose repository does not exist (yet): no head.
    let bare = "did:plc:barebarebarebarebarebare";
    create_account(
        &node.state.accounts,
        &CreateAccount {
            did: bare,
            handle: "bare.test",
            email: None,
            password: PASSWORD,
            signing_key: &Keypair::generate(Algorithm::K256).unwrap(),
            invite_code: None,
            invite_required: false,
            deactivated: false,
        },
        node.state.sessions.now(),
    )
    .await
    .unwrap();
    let [head, checkout] = both(bare);
    assert_error(
        &call(addr, &head, None, None).await,
        400,
        "HeadNotFound",
        &head,
    );
    assert_error(
        &call(addr, &checkout, None, None).await,
        400,
        "RepoNotFound",
        &checkout,
    );

    // Deactivated by its owner, then taken down by the operator.
    write(
        addr,
        &token,
        "com.atproto.server.deactivateAccount",
        json!({}),
    )
    .await;
    for path in both(ALICE) {
        assert_error(
            &call(addr, &path, None, None).await,
            400,
            "RepoDeactivated",
            &path,
        );
    }
    write(
        addr,
        &token,
        "com.atproto.server.activateAccount",
        json!({}),
    )
    .await;
    for path in both(ALICE) {
        assert_eq!(call(addr, &path, None, None).await.status, 200, "{path}");
    }
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"))
    );
    let r = call(
        addr,
        "/xrpc/com.atproto.admin.updateSubjectStatus",
        Some(basic),
        Some(
            json!({"subject": {"$type": "com.atproto.admin.defs#repoRef", "did": ALICE},
                    "takedown": {"applied": true, "ref": "case-1"}}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for path in both(ALICE) {
        assert_error(
            &call(addr, &path, None, None).await,
            400,
            "RepoTakendown",
            &path,
        );
    }
    node.stop().await.unwrap();
}
