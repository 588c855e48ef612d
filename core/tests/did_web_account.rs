//! A did:web account — a user who owns a domain and serves `/.well-known/did.json` on it — moves
//! here: createAccount with the DID and a service token signed by the key its document names,
//! importRepo of its repository, getRecommendedDidCredentials (no rotation keys: there is no PLC
//! operation), activateAccount refused until the owner's document names this server and the
//! account's key here, then served. The domain is a loopback HTTP server (development mode
//! resolves `did:web:localhost%3A<port>` over plain HTTP).

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use common::http::{call, Response};
use pocketpds_core::auth::service_jwt::create_service_jwt;
use pocketpds_core::config::Config;
use pocketpds_core::crypto::{Algorithm, Keypair, PublicKey};
use pocketpds_core::node::{self, RunningNode};
use pocketpds_core::repo::car::{encode_car, import_car, CarLimits};
use pocketpds_core::repo::cid::{cid_for_cbor, Cid};
use pocketpds_core::repo::commit::Commit;
use pocketpds_core::repo::mst::key::key_height;
use pocketpds_core::repo::mst::{Entry, Node};
use pocketpds_core::repo::MemoryBlockStore;
use serde_json::{json, Value};

const PASSWORD: &str = "hunter2hunter2";

/// The user's domain: serves whatever document the test puts in it.
#[derive(Clone, Default)]
struct Domain {
    document: Arc<Mutex<Value>>,
}

async fn did_json(State(domain): State<Domain>) -> Json<Value> {
    Json(domain.document.lock().unwrap().clone())
}

fn document(did: &str, handle: &str, pds: &str, key: &PublicKey) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "alsoKnownAs": [format!("at://{handle}")],
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.to_multibase(),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": pds,
        }],
    })
}

async fn post(node: &RunningNode, method: &str, auth: Option<&str>, body: Value) -> Response {
    call(
        node.local_addr,
        "POST",
        format!("/xrpc/{method}"),
        auth,
        Some(("application/json", serde_json::to_vec(&body).unwrap())),
    )
    .await
}

async fn get_xrpc(node: &RunningNode, path: &str, auth: Option<&str>) -> Response {
    call(node.local_addr, "GET", format!("/xrpc/{path}"), auth, None).await
}

fn ok(r: &Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    if r.body.is_empty() {
        Value::Null
    } else {
        r.json()
    }
}

fn record_block(text: &str) -> (Cid, Bytes) {
    let bytes = pocketpds_core::repo::cbor::encode(
        &pocketpds_core::repo::cbor::from_json(
            &json!({"$type": "app.bsky.feed.post", "text": text, "createdAt": "2024-01-01T00:00:00.000Z"}),
        )
        .unwrap(),
    )
    .unwrap();
    (cid_for_cbor(&bytes), Bytes::from(bytes))
}

/// The repository the account brings: two posts in one MST leaf, signed by the old key.
fn old_repository(did: &str, key: &Keypair) -> Vec<u8> {
    let keys: Vec<String> = (0..)
        .map(|n| format!("app.bsky.feed.post/{n:013}"))
        .filter(|k| key_height(k.as_bytes()) == 0)
        .take(2)
        .collect();
    let (first, first_bytes) = record_block("hello from my own domain");
    let (second, second_bytes) = record_block("and again");
    let leaf = Node {
        left: None,
        entries: vec![
            Entry {
                key: keys[0].as_str().into(),
                value: first,
                right: None,
            },
            Entry {
                key: keys[1].as_str().into(),
                value: second,
                right: None,
            },
        ],
    };
    let leaf_bytes = leaf.encode();
    let root = cid_for_cbor(&leaf_bytes);
    let commit = Commit::sign(did, root, "3l3qo2vutsw2b", None, key);
    encode_car(
        &[commit.cid],
        vec![
            (commit.cid, commit.bytes.clone()),
            (root, Bytes::from(leaf_bytes)),
            (first, first_bytes),
            (second, second_bytes),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_did_web_account_moves_in_and_is_served_once_its_document_names_this_server() {
    // The user's domain.
    let domain = Domain::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let did = format!("did:web:localhost%3A{port}");
    let app = Router::new()
        .route("/.well-known/did.json", get(did_json))
        .with_state(domain.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let old_key = Keypair::generate(Algorithm::K256).unwrap();
    *domain.document.lock().unwrap() = document(
        &did,
        "web.test",
        "https://old-host.example",
        &old_key.public_key(),
    );

    // This server.
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::from_vars(|k| match k {
        "PDS_PORT" => Some("0".into()),
        "PDS_HOSTNAME" => Some("new.localhost".into()),
        "PDS_DEV_MODE" => Some("true".into()),
        _ => None,
    })
    .unwrap();
    config.data_directory = dir.path().to_path_buf();
    let new = node::start(config).await.unwrap();
    let public_url = new.state.config.public_url.clone();

    // A token from anything but the document's key is refused; the old host's is accepted.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token_of = |key: &Keypair| {
        create_service_jwt(
            key,
            &did,
            "did:web:new.localhost",
            Some("com.atproto.server.createAccount"),
            now,
            now + 60,
        )
        .unwrap()
    };
    let input =
        json!({"did": did, "handle": "web.test", "email": "web@example.com", "password": PASSWORD});
    let forger = Keypair::generate(Algorithm::K256).unwrap();
    let r = post(
        &new,
        "com.atproto.server.createAccount",
        Some(&token_of(&forger)),
        input.clone(),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    let created = ok(&post(
        &new,
        "com.atproto.server.createAccount",
        Some(&token_of(&old_key)),
        input,
    )
    .await);
    assert_eq!(created["did"], did.as_str());
    assert_eq!(created["active"], false);
    let token = created["accessJwt"].as_str().unwrap().to_owned();

    // The repository, signed by the old key the document names.
    let imported = ok(&call(
        new.local_addr,
        "POST",
        "/xrpc/com.atproto.repo.importRepo".into(),
        Some(&token),
        Some(("application/vnd.ipld.car", old_repository(&did, &old_key))),
    )
    .await);
    assert_eq!(imported["records"], 2);

    // What the document should say: no rotation keys, this server, the account's key here.
    let credentials = ok(&get_xrpc(
        &new,
        "com.atproto.identity.getRecommendedDidCredentials",
        Some(&token),
    )
    .await);
    assert!(credentials.get("rotationKeys").is_none(), "{credentials}");
    assert_eq!(
        credentials["services"]["atproto_pds"]["endpoint"],
        public_url.as_str()
    );
    let new_key = credentials["verificationMethods"]["atproto"]
        .as_str()
        .unwrap()
        .to_owned();
    // There is no PLC operation to sign for a did:web.
    let r = post(
        &new,
        "com.atproto.identity.signPlcOperation",
        Some(&token),
        json!({"token": "whatever"}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());

    // Activation waits for the owner to edit their document: still the old host, then our URL
    // with the old key, are both refused, and the account stays deactivated.
    let r = post(
        &new,
        "com.atproto.server.activateAccount",
        Some(&token),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("old-host.example"), "{}", r.text());
    *domain.document.lock().unwrap() =
        document(&did, "web.test", &public_url, &old_key.public_key());
    let r = post(
        &new,
        "com.atproto.server.activateAccount",
        Some(&token),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("signing key"), "{}", r.text());
    let status = ok(&get_xrpc(&new, "com.atproto.server.checkAccountStatus", Some(&token)).await);
    assert_eq!(status["activated"], false);

    // The owner publishes what getRecommendedDidCredentials said.
    let new_public = PublicKey::from_did_key(&new_key).unwrap();
    *domain.document.lock().unwrap() = document(&did, "web.test", &public_url, &new_public);
    ok(&post(
        &new,
        "com.atproto.server.activateAccount",
        Some(&token),
        json!({}),
    )
    .await);
    let status = ok(&get_xrpc(&new, "com.atproto.server.checkAccountStatus", Some(&token)).await);
    assert_eq!(status["activated"], true);
    assert_eq!(status["indexedRecords"], 2);

    // Served: the repository verifies against the key the document names now. (In a query, the
    // DID's own `%3A` is escaped as a client's URLSearchParams would.)
    let did_param = did.replace('%', "%25");
    let car = get_xrpc(
        &new,
        &format!("com.atproto.sync.getRepo?did={did_param}"),
        None,
    )
    .await;
    assert_eq!(car.status, 200, "{}", car.text());
    let verified = import_car(
        &car.body[..],
        CarLimits::default(),
        &MemoryBlockStore::new(),
        &did,
        &new_public,
    )
    .await
    .unwrap();
    assert_eq!(verified.records, 2);
    let records = ok(&get_xrpc(
        &new,
        &format!("com.atproto.repo.listRecords?repo={did_param}&collection=app.bsky.feed.post"),
        None,
    )
    .await);
    assert_eq!(records["records"].as_array().unwrap().len(), 2);
    let resolved = ok(&get_xrpc(
        &new,
        "com.atproto.identity.resolveHandle?handle=web.test",
        None,
    )
    .await);
    assert_eq!(resolved["did"], did.as_str());

    // A handle the document does not name is refused for a did:web; one it names is taken.
    let r = post(
        &new,
        "com.atproto.identity.updateHandle",
        Some(&token),
        json!({"handle": "other.test"}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    *domain.document.lock().unwrap() = document(&did, "other.test", &public_url, &new_public);
    ok(&post(
        &new,
        "com.atproto.identity.updateHandle",
        Some(&token),
        json!({"handle": "other.test"}),
    )
    .await);
    new.stop().await.unwrap();
}
