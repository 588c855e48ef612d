//! An account moves from one node to another (each with its own database) through the XRPC methods
//! a migration tool calls, against a real PLC directory: createAccount with the old host's service
//! token, importRepo, listMissingBlobs and uploadBlob, preferences, the PLC operation signed by the
//! old host, activateAccount (a commit of the new key, announced with #identity, #account, #sync),
//! deactivateAccount on the old host. A signing key reserved for the DID (reserveSigningKey) becomes
//! the key of the account moving in. Hostile CARs and service tokens are refused with an XRPC
//! error and store nothing.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use common::firehose::{text, Firehose, Received};
use common::http::{request_with_headers, Response};
use common::mail::Outbox;
use common::plc::PlcServer;
use pocketpds_core::auth::service_jwt::create_service_jwt;
use pocketpds_core::config::Config;
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::identity::{
    create_genesis, AtprotoPlcParams, HttpClient, HttpConfig, PlcClient,
};
use pocketpds_core::node::{self, RunningNode};
use pocketpds_core::repo::car::{encode_car, import_car, read_car, CarLimits};
use pocketpds_core::repo::cid::{cid_for_cbor, Cid};
use pocketpds_core::repo::commit::Commit;
use pocketpds_core::repo::mst::key::key_height;
use pocketpds_core::repo::mst::{Entry, Node};
use pocketpds_core::repo::MemoryBlockStore;
use pocketpds_core::syntax::{Did, Handle};
use serde_json::{json, Value};

const PASSWORD: &str = "hunter2hunter2";
const CREATE_ACCOUNT: &str = "com.atproto.server.createAccount";

fn config(dir: &std::path::Path, plc: &str, host: &str) -> Config {
    let plc = plc.to_owned();
    let host = host.to_owned();
    let mut c = Config::from_vars(move |k| match k {
        "PDS_PORT" => Some("0".into()),
        "PDS_HOSTNAME" => Some(host.clone()),
        "PDS_DEV_MODE" => Some("true".into()),
        "PDS_DID_PLC_URL" => Some(plc.clone()),
        _ => None,
    })
    .unwrap();
    c.data_directory = dir.to_path_buf();
    c
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<(String, Vec<u8>)>,
) -> Response {
    let path = path.to_owned();
    let method = method.to_owned();
    let auth = auth.map(|t| format!("Bearer {t}"));
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        request_with_headers(
            addr,
            &method,
            &path,
            &headers,
            body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice())),
        )
    })
    .await
    .unwrap()
}

async fn post(node: &RunningNode, method: &str, auth: Option<&str>, body: Value) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap();
    call(
        node.local_addr,
        "POST",
        &format!("/xrpc/{method}"),
        auth,
        Some(("application/json".to_owned(), bytes)),
    )
    .await
}

async fn post_bytes(
    node: &RunningNode,
    method: &str,
    auth: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Response {
    call(
        node.local_addr,
        "POST",
        &format!("/xrpc/{method}"),
        Some(auth),
        Some((content_type.to_owned(), bytes)),
    )
    .await
}

async fn get(node: &RunningNode, path_and_query: &str, auth: Option<&str>) -> Response {
    call(
        node.local_addr,
        "GET",
        &format!("/xrpc/{path_and_query}"),
        auth,
        None,
    )
    .await
}

fn ok(r: &Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// A success whose body may be empty.
fn done(r: &Response) {
    assert_eq!(r.status, 200, "{}", r.text());
}

fn assert_error(r: &Response, status: u16, error: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.json()["error"], error, "{}", r.text());
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
    let body = ok(&post(
        node,
        CREATE_ACCOUNT,
        None,
        json!({"handle": handle, "email": format!("{handle}@example.com"), "password": PASSWORD}),
    )
    .await);
    (
        body["did"].as_str().unwrap().to_owned(),
        body["accessJwt"].as_str().unwrap().to_owned(),
    )
}

/// A service token of `did` on `node` for `aud` and `lxm`.
async fn service_token(node: &RunningNode, token: &str, aud: &str, lxm: &str) -> String {
    let body = ok(&get(
        node,
        &format!("com.atproto.server.getServiceAuth?aud={aud}&lxm={lxm}"),
        Some(token),
    )
    .await);
    body["token"].as_str().unwrap().to_owned()
}

/// Creates the account `did` on `node` as an account moving in, with `token` from its old host.
async fn create_migrating(
    node: &RunningNode,
    did: &str,
    handle: &str,
    token: Option<&str>,
) -> Response {
    post(
        node,
        CREATE_ACCOUNT,
        token,
        json!({"did": did, "handle": handle, "email": format!("{handle}@example.org"), "password": PASSWORD}),
    )
    .await
}

async fn get_repo(node: &RunningNode, did: &str) -> Vec<u8> {
    let r = get(node, &format!("com.atproto.sync.getRepo?did={did}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.body
}

async fn status(node: &RunningNode, token: &str) -> Value {
    ok(&get(node, "com.atproto.server.checkAccountStatus", Some(token)).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_moves_to_another_node_with_its_records_blobs_and_preferences() {
    let plc = PlcServer::start();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let outbox = Outbox::default();
    let platform = node::NodePlatform {
        mailer: Some(Arc::new(outbox.clone())),
        ..Default::default()
    };
    let old = node::start_with(config(dir_a.path(), &plc.url, "old.localhost"), platform)
        .await
        .unwrap();
    let new = node::start(config(dir_b.path(), &plc.url, "new.localhost"))
        .await
        .unwrap();
    let (did, old_token) = create_account(&old, "mover.test").await;

    // Records, a blob a record references, preferences.
    let image = b"\x89PNG\r\n\x1a\n not really a picture, but bytes to carry".to_vec();
    let blob = ok(&post_bytes(
        &old,
        "com.atproto.repo.uploadBlob",
        &old_token,
        "image/png",
        image.clone(),
    )
    .await)["blob"]
        .clone();
    for i in 0..30 {
        let mut record = json!({"$type": "app.bsky.feed.post", "text": format!("post {i}"), "createdAt": "2024-01-01T00:00:00.000Z"});
        if i == 7 {
            record["embed"] =
                json!({"$type": "app.bsky.embed.images", "images": [{"alt": "", "image": blob}]});
        }
        ok(&post(
            &old,
            "com.atproto.repo.createRecord",
            Some(&old_token),
            json!({"repo": did, "collection": "app.bsky.feed.post", "record": record}),
        )
        .await);
    }
    let preferences = json!([{"$type": "app.bsky.actor.defs#adultContentPref", "enabled": true}]);
    done(
        &post(
            &old,
            "app.bsky.actor.putPreferences",
            Some(&old_token),
            json!({ "preferences": preferences }),
        )
        .await,
    );

    // The new host: an account for the existing DID, created deactivated.
    let token = service_token(&old, &old_token, "did:web:new.localhost", CREATE_ACCOUNT).await;
    let created = ok(&create_migrating(&new, &did, "mover.test", Some(&token)).await);
    assert_eq!(created["did"], did.as_str());
    assert_eq!(created["active"], false);
    assert_eq!(created["status"], "deactivated");
    let new_token = created["accessJwt"].as_str().unwrap().to_owned();

    // The repository, then the blobs it is missing, then the preferences.
    let car = get_repo(&old, &did).await;
    let imported = ok(&post_bytes(
        &new,
        "com.atproto.repo.importRepo",
        &new_token,
        "application/vnd.ipld.car",
        car.clone(),
    )
    .await);
    assert_eq!(imported["records"], 30);
    // A retried import replaces the first.
    ok(&post_bytes(
        &new,
        "com.atproto.repo.importRepo",
        &new_token,
        "application/vnd.ipld.car",
        car,
    )
    .await);
    let missing = ok(&get(&new, "com.atproto.repo.listMissingBlobs", Some(&new_token)).await);
    let blob_cid = blob["ref"]["$link"].as_str().unwrap();
    assert_eq!(missing["blobs"].as_array().unwrap().len(), 1, "{missing}");
    assert_eq!(missing["blobs"][0]["cid"], blob_cid);
    let r = get(
        &old,
        &format!("com.atproto.sync.getBlob?did={did}&cid={blob_cid}"),
        None,
    )
    .await;
    assert_eq!(r.body, image);
    ok(&post_bytes(
        &new,
        "com.atproto.repo.uploadBlob",
        &new_token,
        "image/png",
        r.body,
    )
    .await);
    let missing = ok(&get(&new, "com.atproto.repo.listMissingBlobs", Some(&new_token)).await);
    assert_eq!(missing["blobs"], json!([]));
    let prefs = ok(&get(&old, "app.bsky.actor.getPreferences", Some(&old_token)).await);
    done(
        &post(
            &new,
            "app.bsky.actor.putPreferences",
            Some(&new_token),
            prefs,
        )
        .await,
    );
    let s = status(&new, &new_token).await;
    assert_eq!(s["activated"], false);
    assert_eq!(s["indexedRecords"], 30);

    // The identity: the old host signs the operation the new host recommends.
    let credentials = ok(&get(
        &new,
        "com.atproto.identity.getRecommendedDidCredentials",
        Some(&new_token),
    )
    .await);
    let mailed = outbox.count();
    done(
        &post(
            &old,
            "com.atproto.identity.requestPlcOperationSignature",
            Some(&old_token),
            json!({}),
        )
        .await,
    );
    let mut sign = credentials.clone();
    sign["token"] = Value::from(outbox.code(mailed + 1).await.0);
    let signed = ok(&post(
        &old,
        "com.atproto.identity.signPlcOperation",
        Some(&old_token),
        sign,
    )
    .await);
    done(
        &post(
            &new,
            "com.atproto.identity.submitPlcOperation",
            Some(&new_token),
            json!({ "operation": signed["operation"] }),
        )
        .await,
    );
    let document = plc_client(&plc.url)
        .resolve(&Did::parse(&did).unwrap())
        .await
        .unwrap();
    assert_eq!(
        document.pds_endpoint(),
        Some(new.state.config.public_url.as_str())
    );

    // Activation here, deactivation there.
    let mut firehose = Firehose::connect(new.local_addr, "").await;
    ok(&post(
        &new,
        "com.atproto.server.activateAccount",
        Some(&new_token),
        json!({}),
    )
    .await);
    ok(&post(
        &old,
        "com.atproto.server.deactivateAccount",
        Some(&old_token),
        json!({}),
    )
    .await);
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        match firehose.next().await {
            Received::Message { t, body } => {
                assert_eq!(text(&body, "did"), Some(did.as_str()), "{t}");
                kinds.push(t);
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert_eq!(kinds, ["#identity", "#account", "#sync"]);
    assert_eq!(status(&new, &new_token).await["activated"], true);
    assert_eq!(status(&old, &old_token).await["activated"], false);
    let r = get(&old, &format!("com.atproto.sync.getRepo?did={did}"), None).await;
    assert_error(&r, 400, "RepoDeactivated");

    // The exported repository verifies against the DID document now, with the same records.
    let car = get_repo(&new, &did).await;
    let key = document.signing_key().unwrap();
    let verified = import_car(
        &car[..],
        CarLimits::default(),
        &MemoryBlockStore::new(),
        &did,
        &key,
    )
    .await
    .unwrap();
    assert_eq!(verified.records, 30);
    let path =
        format!("com.atproto.repo.listRecords?repo={did}&collection=app.bsky.feed.post&limit=100");
    let records = get(&new, &path, None).await.json()["records"].clone();
    assert_eq!(records.as_array().unwrap().len(), 30);
    let r = get(
        &new,
        &format!("com.atproto.sync.getBlob?did={did}&cid={blob_cid}"),
        None,
    )
    .await;
    assert_eq!(r.body, image);
    let prefs = ok(&get(&new, "app.bsky.actor.getPreferences", Some(&new_token)).await);
    assert_eq!(prefs["preferences"], preferences);
    // The account writes on with its new key.
    ok(&post(
        &new,
        "com.atproto.repo.createRecord",
        Some(&new_token),
        json!({"repo": did, "collection": "app.bsky.feed.post", "record": {"$type": "app.bsky.feed.post", "text": "here now", "createdAt": "2024-01-02T00:00:00.000Z"}}),
    )
    .await);
    old.stop().await.unwrap();
    new.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reserved_for_a_did_becomes_the_signing_key_of_the_account_moving_in() {
    let plc = PlcServer::start();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let outbox = Outbox::default();
    let platform = node::NodePlatform {
        mailer: Some(Arc::new(outbox.clone())),
        ..Default::default()
    };
    let old = node::start_with(config(dir_a.path(), &plc.url, "old.localhost"), platform)
        .await
        .unwrap();
    let new = node::start(config(dir_b.path(), &plc.url, "new.localhost"))
        .await
        .unwrap();
    let (did, old_token) = create_account(&old, "keeper.test").await;
    for i in 0..3 {
        ok(&post(
            &old,
            "com.atproto.repo.createRecord",
            Some(&old_token),
            json!({"repo": did, "collection": "app.bsky.feed.post", "record": {"$type": "app.bsky.feed.post", "text": format!("post {i}"), "createdAt": "2024-01-01T00:00:00.000Z"}}),
        )
        .await);
    }

    // A reservation for the DID is one key: asking again answers the same one. One without a DID
    // is another key; a malformed DID is refused.
    const RESERVE: &str = "com.atproto.server.reserveSigningKey";
    let reserved = ok(&post(&new, RESERVE, None, json!({ "did": did })).await)["signingKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reserved.starts_with("did:key:z"), "{reserved}");
    let again = ok(&post(&new, RESERVE, None, json!({ "did": did })).await);
    assert_eq!(again["signingKey"], reserved.as_str());
    let unbound = ok(&post(&new, RESERVE, None, json!({})).await);
    assert_ne!(unbound["signingKey"], reserved.as_str());
    assert_error(
        &post(&new, RESERVE, None, json!({ "did": "not a did" })).await,
        400,
        "InvalidRequest",
    );

    // The account moving in gets the reserved key, and the reservation is used up.
    let token = service_token(&old, &old_token, "did:web:new.localhost", CREATE_ACCOUNT).await;
    let created = ok(&create_migrating(&new, &did, "keeper.test", Some(&token)).await);
    let new_token = created["accessJwt"].as_str().unwrap().to_owned();
    let credentials = ok(&get(
        &new,
        "com.atproto.identity.getRecommendedDidCredentials",
        Some(&new_token),
    )
    .await);
    assert_eq!(
        credentials["verificationMethods"]["atproto"],
        reserved.as_str()
    );
    assert!(new
        .state
        .accounts
        .reserved_signing_key(&did)
        .await
        .unwrap()
        .is_none());

    // The old host signs the operation naming it; the account, activated, signs with it.
    let car = get_repo(&old, &did).await;
    ok(&post_bytes(
        &new,
        "com.atproto.repo.importRepo",
        &new_token,
        "application/vnd.ipld.car",
        car,
    )
    .await);
    let mailed = outbox.count();
    done(
        &post(
            &old,
            "com.atproto.identity.requestPlcOperationSignature",
            Some(&old_token),
            json!({}),
        )
        .await,
    );
    let mut sign = credentials.clone();
    sign["token"] = Value::from(outbox.code(mailed + 1).await.0);
    let signed = ok(&post(
        &old,
        "com.atproto.identity.signPlcOperation",
        Some(&old_token),
        sign,
    )
    .await);
    done(
        &post(
            &new,
            "com.atproto.identity.submitPlcOperation",
            Some(&new_token),
            json!({ "operation": signed["operation"] }),
        )
        .await,
    );
    let document = plc_client(&plc.url)
        .resolve(&Did::parse(&did).unwrap())
        .await
        .unwrap();
    let key = document.signing_key().unwrap();
    assert_eq!(key.to_did_key(), reserved);
    ok(&post(
        &new,
        "com.atproto.server.activateAccount",
        Some(&new_token),
        json!({}),
    )
    .await);
    ok(&post(
        &new,
        "com.atproto.repo.createRecord",
        Some(&new_token),
        json!({"repo": did, "collection": "app.bsky.feed.post", "record": {"$type": "app.bsky.feed.post", "text": "here now", "createdAt": "2024-01-02T00:00:00.000Z"}}),
    )
    .await);
    let verified = import_car(
        &get_repo(&new, &did).await[..],
        CarLimits::default(),
        &MemoryBlockStore::new(),
        &did,
        &key,
    )
    .await
    .unwrap();
    assert_eq!(verified.records, 4);
    old.stop().await.unwrap();
    new.stop().await.unwrap();
}

/// A CAR of one commit of `did` over `root`, signed with `key`, holding `blocks` after the commit.
fn signed_car(did: &str, key: &Keypair, root: Cid, blocks: Vec<(Cid, Bytes)>) -> Vec<u8> {
    let commit = Commit::sign(did, root, "3l3qo2vutsw2b", None, key);
    let mut all = vec![(commit.cid, commit.bytes.clone())];
    all.extend(blocks);
    encode_car(&[commit.cid], all)
}

fn node_block(node: &Node) -> (Cid, Bytes) {
    let bytes = node.encode();
    (cid_for_cbor(&bytes), Bytes::from(bytes))
}

fn record_block(text: &str) -> (Cid, Bytes) {
    let bytes = pocketpds_core::repo::cbor::encode(
        &pocketpds_core::repo::cbor::from_json(
            &json!({"$type": "app.bsky.feed.post", "text": text}),
        )
        .unwrap(),
    )
    .unwrap();
    (cid_for_cbor(&bytes), Bytes::from(bytes))
}

/// The first key of the form `app.bsky.feed.post/<n>` on layer `layer`.
fn key_on_layer(layer: u32, after: u32) -> String {
    (after..)
        .map(|n| format!("app.bsky.feed.post/{n:013}"))
        .find(|k| key_height(k.as_bytes()) == layer)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cars_and_service_tokens_are_refused_and_store_nothing() {
    let plc = PlcServer::start();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let old = node::start(config(dir_a.path(), &plc.url, "old.localhost"))
        .await
        .unwrap();
    let new = node::start(config(dir_b.path(), &plc.url, "new.localhost"))
        .await
        .unwrap();
    let (did, old_token) = create_account(&old, "mover.test").await;
    let (other_did, _) = create_account(&old, "other.test").await;
    for i in 0..5 {
        ok(&post(
            &old,
            "com.atproto.repo.createRecord",
            Some(&old_token),
            json!({"repo": did, "collection": "app.bsky.feed.post", "record": {"$type": "app.bsky.feed.post", "text": format!("post {i}"), "createdAt": "2024-01-01T00:00:00.000Z"}}),
        )
        .await);
    }

    // Service tokens: none, wrong audience, wrong method, another account's, expired, forged.
    let r = create_migrating(&new, &did, "mover.test", None).await;
    assert_error(&r, 401, "AuthenticationRequired");
    let wrong_aud = service_token(
        &old,
        &old_token,
        "did:web:elsewhere.localhost",
        CREATE_ACCOUNT,
    )
    .await;
    let wrong_lxm = service_token(
        &old,
        &old_token,
        "did:web:new.localhost",
        "com.atproto.repo.importRepo",
    )
    .await;
    let forger = Keypair::generate(Algorithm::K256).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expired = create_service_jwt(
        &forger,
        &did,
        "did:web:new.localhost",
        Some(CREATE_ACCOUNT),
        now - 120,
        now - 60,
    )
    .unwrap();
    let forged = create_service_jwt(
        &forger,
        &did,
        "did:web:new.localhost",
        Some(CREATE_ACCOUNT),
        now,
        now + 60,
    )
    .unwrap();
    let for_other = service_token(&old, &old_token, "did:web:new.localhost", CREATE_ACCOUNT).await;
    for (token, did, why) in [
        (wrong_aud.as_str(), did.as_str(), "not this service"),
        (wrong_lxm.as_str(), did.as_str(), "not bound"),
        (expired.as_str(), did.as_str(), "expired"),
        (forged.as_str(), did.as_str(), "signature"),
        (for_other.as_str(), other_did.as_str(), "issued by"),
        ("garbage", did.as_str(), "malformed"),
    ] {
        let r = create_migrating(&new, did, "mover.test", Some(token)).await;
        assert_error(&r, 401, "InvalidToken");
        assert!(
            r.json()["message"].as_str().unwrap().contains(why),
            "{}",
            r.text()
        );
    }
    assert_eq!(new.state.accounts.count_accounts().await.unwrap(), 0);

    let token = service_token(&old, &old_token, "did:web:new.localhost", CREATE_ACCOUNT).await;
    let created = ok(&create_migrating(&new, &did, "mover.test", Some(&token)).await);
    let new_token = created["accessJwt"].as_str().unwrap().to_owned();

    // Hostile CARs.
    let real = get_repo(&old, &did).await;
    let (roots, blocks) = read_car(&real, CarLimits::default()).unwrap();
    let commit = Commit::decode(&blocks[0].1).unwrap();
    let mut without_a_block = blocks.clone();
    let last_record = without_a_block
        .iter()
        .rposition(|(_, bytes)| Node::decode(bytes).is_err() && Commit::decode(bytes).is_err())
        .unwrap();
    without_a_block.remove(last_record);
    let missing_blocks = encode_car(&roots, without_a_block);
    let wrong_key = Keypair::generate(Algorithm::K256).unwrap();
    let badly_signed = signed_car(&did, &wrong_key, commit.data, blocks[1..].to_vec());
    // A changed byte: the block no longer hashes to its CID.
    let mut self_linking = real.clone();
    let flip = self_linking.len() - 3;
    self_linking[flip] ^= 0x01;
    let other_repo = get_repo(&old, &other_did).await;
    for (car, why) in [
        (other_repo, "expected"),
        (badly_signed, "signature"),
        (missing_blocks, "missing block"),
        (self_linking, "does not match its CID"),
        (b"not a car at all".to_vec(), "Invalid repository"),
        (Vec::new(), "Invalid repository"),
    ] {
        let r = post_bytes(
            &new,
            "com.atproto.repo.importRepo",
            &new_token,
            "application/vnd.ipld.car",
            car,
        )
        .await;
        assert_error(&r, 400, "InvalidRequest");
        let message = r.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(why), "{why}: {message}");
        let s = status(&new, &new_token).await;
        assert_eq!(s["repoBlocks"], 0, "{why}");
        assert_eq!(s["indexedRecords"], 0, "{why}");
    }
    // An identity whose signing key the test holds, moving in: trees signed by the right key.
    let signing = Keypair::generate(Algorithm::K256).unwrap();
    let rotation = Keypair::generate(Algorithm::K256).unwrap();
    let (mine, genesis) = create_genesis(
        &AtprotoPlcParams {
            signing_key: signing.public_key(),
            handle: Handle::parse("held.test").unwrap(),
            pds_endpoint: old.state.config.public_url.clone(),
            rotation_keys: vec![rotation.public_key()],
        },
        &rotation,
    )
    .unwrap();
    plc_client(&plc.url).submit(&mine, &genesis).await.unwrap();
    let token = create_service_jwt(
        &signing,
        mine.as_str(),
        "did:web:new.localhost",
        Some(CREATE_ACCOUNT),
        now,
        now + 60,
    )
    .unwrap();
    let created = ok(&create_migrating(&new, mine.as_str(), "held.test", Some(&token)).await);
    let held_token = created["accessJwt"].as_str().unwrap().to_owned();
    let (top, low) = (key_on_layer(1, 0), key_on_layer(0, 0));
    assert!(low < top);
    let (rec, rec_bytes) = record_block("x");
    let leaf = |key: &str| {
        node_block(&Node {
            left: None,
            entries: vec![Entry {
                key: key.into(),
                value: rec,
                right: None,
            }],
        })
    };
    let shared = leaf(&low);
    // One subtree linked from both sides of a key: a walk would come back to the same node (the
    // only loop hash links allow).
    let looping = node_block(&Node {
        left: Some(shared.0),
        entries: vec![Entry {
            key: top.as_str().into(),
            value: rec,
            right: Some(shared.0),
        }],
    });
    // A node that links to a node of its own layer, and on down: a chain that never reaches the
    // leaves' layer in the order the keys say.
    let same_layer = leaf(&top);
    let above_top: u32 = top.rsplit('/').next().unwrap().parse().unwrap();
    let upward = node_block(&Node {
        left: Some(same_layer.0),
        entries: vec![Entry {
            key: key_on_layer(1, above_top + 1).as_str().into(),
            value: rec,
            right: None,
        }],
    });
    let sound = node_block(&Node {
        left: Some(shared.0),
        entries: vec![Entry {
            key: top.as_str().into(),
            value: rec,
            right: None,
        }],
    });
    let record = (rec, rec_bytes.clone());
    for (car, why) in [
        (
            signed_car(
                mine.as_str(),
                &signing,
                looping.0,
                vec![looping.clone(), shared.clone(), record.clone()],
            ),
            "out of key order",
        ),
        (
            signed_car(
                mine.as_str(),
                &signing,
                upward.0,
                vec![upward.clone(), same_layer.clone(), record.clone()],
            ),
            "wrong layer",
        ),
        (
            signed_car(
                mine.as_str(),
                &signing,
                sound.0,
                vec![sound.clone(), record.clone()],
            ),
            "missing block",
        ),
    ] {
        let r = post_bytes(
            &new,
            "com.atproto.repo.importRepo",
            &held_token,
            "application/vnd.ipld.car",
            car,
        )
        .await;
        assert_error(&r, 400, "InvalidRequest");
        let message = r.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(why), "{why}: {message}");
        let s = status(&new, &held_token).await;
        assert_eq!(s["repoBlocks"], 0, "{why}");
    }
    // The sound tree, whole, imports: the refusals above were the trees'.
    let r = post_bytes(
        &new,
        "com.atproto.repo.importRepo",
        &held_token,
        "application/vnd.ipld.car",
        signed_car(
            mine.as_str(),
            &signing,
            sound.0,
            vec![sound, shared, record],
        ),
    )
    .await;
    assert_eq!(ok(&r)["records"], 2);

    // An active account does not import.
    let r = post_bytes(
        &old,
        "com.atproto.repo.importRepo",
        &old_token,
        "application/vnd.ipld.car",
        real,
    )
    .await;
    assert_error(&r, 400, "InvalidRequest");
    assert!(r.text().contains("active"), "{}", r.text());
    old.stop().await.unwrap();
    new.stop().await.unwrap();
}
