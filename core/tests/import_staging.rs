//! importRepo stages the CAR in the database, not in memory, and makes it visible only once it
//! verifies: a transfer cut off mid-body leaves its whole blocks staged and nothing visible; the
//! retry (the client sends the whole CAR again) writes only the blocks not staged yet; a CAR that
//! does not verify leaves nothing staged; `PDS_MAX_IMPORT_BYTES` bounds an import. Two nodes with
//! their own databases and a real PLC directory; and an import into an embedded replica of a real
//! libSQL server (`sqld`), seen whole by another replica.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::http::{call, Response};
use common::plc::PlcServer;
use common::sqld::{sqld_bin, Sqld};
use pocketpds_core::config::Config;
use pocketpds_core::node::{self, RunningNode};
use pocketpds_core::storage::Storage;
use serde_json::{json, Value};

const PASSWORD: &str = "hunter2hunter2";
const CAR: &str = "application/vnd.ipld.car";

fn config(dir: &std::path::Path, plc: &str, host: &str, import_limit: Option<u64>) -> Config {
    let limit = import_limit.map(|l| ("PDS_MAX_IMPORT_BYTES", l.to_string()));
    config_with(dir, plc, host, limit.into_iter().collect())
}

/// A node whose database is an embedded replica of `primary` (every node of the cluster shares
/// the secrets key).
fn replica_config(dir: &std::path::Path, plc: &str, host: &str, primary: &str) -> Config {
    let vars = vec![
        ("PDS_DATABASE_URL", primary.to_owned()),
        ("PDS_SECRETS_KEY", "5a".repeat(32)),
    ];
    config_with(dir, plc, host, vars)
}

fn config_with(
    dir: &std::path::Path,
    plc: &str,
    host: &str,
    extra: Vec<(&'static str, String)>,
) -> Config {
    let (plc, host) = (plc.to_owned(), host.to_owned());
    let mut c = Config::from_vars(move |k| match k {
        "PDS_PORT" => Some("0".into()),
        "PDS_HOSTNAME" => Some(host.clone()),
        "PDS_DEV_MODE" => Some("true".into()),
        "PDS_DID_PLC_URL" => Some(plc.clone()),
        other => extra
            .iter()
            .find(|(name, _)| *name == other)
            .map(|(_, value)| value.clone()),
    })
    .unwrap();
    c.data_directory = dir.to_path_buf();
    c
}

async fn post(node: &RunningNode, method: &str, auth: Option<&str>, body: Value) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap();
    call(
        node.local_addr,
        "POST",
        format!("/xrpc/{method}"),
        auth,
        Some(("application/json", bytes)),
    )
    .await
}

async fn import(node: &RunningNode, token: &str, car: Vec<u8>) -> Response {
    call(
        node.local_addr,
        "POST",
        "/xrpc/com.atproto.repo.importRepo".into(),
        Some(token),
        Some((CAR, car)),
    )
    .await
}

fn ok(r: &Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Rows of `table` for `did` in the node's database, read through a connection of the test's own.
async fn rows(dir: &std::path::Path, table: &str, did: &str) -> i64 {
    let storage = Storage::open_local(&dir.join("pocketpds.db"))
        .await
        .unwrap();
    let mut rows = storage
        .connection()
        .query(
            &format!("SELECT count(*) FROM {table} WHERE did = ?1"),
            [did],
        )
        .await
        .unwrap();
    rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap()
}

/// Sends the request head of an importRepo with the whole CAR's length, then only `sent` bytes of
/// it, and closes the connection: a transfer cut off mid-body.
fn cut_import(addr: SocketAddr, token: &str, car: &[u8], sent: usize) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /xrpc/com.atproto.repo.importRepo HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {token}\r\nContent-Type: {CAR}\r\nContent-Length: {}\r\n\r\n",
        car.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&car[..sent]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    stream.shutdown(std::net::Shutdown::Both).unwrap();
}

/// An account with `records` posts on `old`, and the same DID created as an account moving in on
/// `new`: its DID, the new host's token, and the old host's CAR of it.
async fn moving_account(
    old: &RunningNode,
    new: &RunningNode,
    records: usize,
) -> (String, String, Vec<u8>) {
    let created = ok(&post(
        old,
        "com.atproto.server.createAccount",
        None,
        json!({"handle": "mover.test", "email": "mover@example.com", "password": PASSWORD}),
    )
    .await);
    let did = created["did"].as_str().unwrap().to_owned();
    let token = created["accessJwt"].as_str().unwrap().to_owned();
    for start in (0..records).step_by(200) {
        let writes: Vec<Value> = (start..records.min(start + 200))
            .map(|i| json!({"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post",
                "value": {"$type": "app.bsky.feed.post", "text": format!("post {i}"), "createdAt": "2024-01-01T00:00:00.000Z"}}))
            .collect();
        ok(&post(
            old,
            "com.atproto.repo.applyWrites",
            Some(&token),
            json!({"repo": did, "writes": writes}),
        )
        .await);
    }
    let service = ok(&call(
        old.local_addr,
        "GET",
        "/xrpc/com.atproto.server.getServiceAuth?aud=did:web:new.localhost&lxm=com.atproto.server.createAccount".into(),
        Some(&token),
        None,
    )
    .await)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let moving = ok(&post(
        new,
        "com.atproto.server.createAccount",
        Some(&service),
        json!({"did": did, "handle": "mover.test", "email": "mover@example.com", "password": PASSWORD}),
    )
    .await);
    let car = call(
        old.local_addr,
        "GET",
        format!("/xrpc/com.atproto.sync.getRepo?did={did}"),
        None,
        None,
    )
    .await;
    assert_eq!(car.status, 200);
    (
        did,
        moving["accessJwt"].as_str().unwrap().to_owned(),
        car.body,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_import_after_a_cut_transfer_writes_only_the_blocks_not_staged_yet() {
    let plc = PlcServer::start();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let old = node::start(config(dir_a.path(), &plc.url, "old.localhost", None))
        .await
        .unwrap();
    let new = node::start(config(dir_b.path(), &plc.url, "new.localhost", None))
        .await
        .unwrap();
    let (did, token, car) = moving_account(&old, &new, 600).await;

    // The transfer breaks off at 60 %: the whole blocks that arrived are staged, nothing is visible.
    let addr = new.local_addr;
    let (t, c) = (token.clone(), car.clone());
    tokio::task::spawn_blocking(move || cut_import(addr, &t, &c, c.len() * 6 / 10))
        .await
        .unwrap();
    let mut staged = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = rows(dir_b.path(), "import_block", &did).await;
        if now > 0 && now == staged {
            break;
        }
        staged = now;
    }
    assert!(staged > 0, "nothing was staged from the cut transfer");
    assert_eq!(rows(dir_b.path(), "repo_block", &did).await, 0);
    assert_eq!(rows(dir_b.path(), "record", &did).await, 0);

    // The retry sends the whole CAR again; only the blocks not staged yet are written.
    let imported = ok(&import(&new, &token, car.clone()).await);
    assert_eq!(imported["records"], 600);
    assert_eq!(imported["blocksReused"], staged, "{imported}");
    let total = imported["blocksStored"].as_i64().unwrap() + staged;
    assert!(imported["blocksStored"].as_i64().unwrap() < total);
    assert_eq!(rows(dir_b.path(), "record", &did).await, 600);
    assert_eq!(rows(dir_b.path(), "repo_block", &did).await, total);
    // Once stored, nothing stays staged.
    assert_eq!(rows(dir_b.path(), "import_block", &did).await, 0);
    assert_eq!(rows(dir_b.path(), "import_entry", &did).await, 0);

    old.stop().await.unwrap();
    new.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_car_that_does_not_verify_leaves_nothing_staged() {
    let plc = PlcServer::start();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let old = node::start(config(dir_a.path(), &plc.url, "old.localhost", None))
        .await
        .unwrap();
    let new = node::start(config(dir_b.path(), &plc.url, "new.localhost", None))
        .await
        .unwrap();
    let (did, token, car) = moving_account(&old, &new, 50).await;
    // The last block's last byte flipped: its hash no longer matches its CID.
    let mut broken = car.clone();
    let last = broken.len() - 1;
    broken[last] ^= 0x01;
    let r = import(&new, &token, broken).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "InvalidRequest");
    assert_eq!(rows(dir_b.path(), "import_block", &did).await, 0);
    assert_eq!(rows(dir_b.path(), "repo_block", &did).await, 0);
    // The sound CAR still imports, every block written afresh.
    let imported = ok(&import(&new, &token, car).await);
    assert_eq!(imported["blocksReused"], 0);
    assert_eq!(imported["records"], 50);
    old.stop().await.unwrap();
    new.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_over_the_configured_limit_is_refused_with_413_and_stages_nothing() {
    let plc = PlcServer::start();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let old = node::start(config(dir_a.path(), &plc.url, "old.localhost", None))
        .await
        .unwrap();
    let new = node::start(config(dir_b.path(), &plc.url, "new.localhost", Some(4096)))
        .await
        .unwrap();
    let (did, token, car) = moving_account(&old, &new, 200).await;
    assert!(car.len() > 4096);
    let r = import(&new, &token, car).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json()["error"], "PayloadTooLarge");
    assert_eq!(rows(dir_b.path(), "import_block", &did).await, 0);
    assert_eq!(rows(dir_b.path(), "repo_block", &did).await, 0);
    old.stop().await.unwrap();
    new.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_into_a_replica_reaches_the_primary_and_another_replica_sees_it_whole() {
    let Some(bin) =
        sqld_bin("an_import_into_a_replica_reaches_the_primary_and_another_replica_sees_it_whole")
    else {
        return;
    };
    let plc = PlcServer::start();
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let sqld = Sqld::start(&bin, dirs[0].path());
    let old = node::start(config(dirs[1].path(), &plc.url, "old.localhost", None))
        .await
        .unwrap();
    let new = node::start(replica_config(
        dirs[2].path(),
        &plc.url,
        "new.localhost",
        &sqld.url(),
    ))
    .await
    .unwrap();
    let peer = node::start(replica_config(
        dirs[3].path(),
        &plc.url,
        "new.localhost",
        &sqld.url(),
    ))
    .await
    .unwrap();
    let (_did, token, car) = moving_account(&old, &new, 1200).await;

    let imported = ok(&import(&new, &token, car).await);
    assert_eq!(imported["records"], 1200, "{imported}");
    let status = |node: SocketAddr| {
        let token = token.clone();
        async move {
            ok(&call(
                node,
                "GET",
                "/xrpc/com.atproto.server.checkAccountStatus".into(),
                Some(&token),
                None,
            )
            .await)
        }
    };
    let here = status(new.local_addr).await;
    assert_eq!(here["indexedRecords"], 1200, "{here}");
    // The other replica has the whole repository once it catches up (its loop, or a miss).
    let mut there = Value::Null;
    for _ in 0..50 {
        there = status(peer.local_addr).await;
        if there["repoCommit"] == here["repoCommit"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(there["repoCommit"], here["repoCommit"], "{there}");
    assert_eq!(there["repoBlocks"], here["repoBlocks"]);
    assert_eq!(there["indexedRecords"], 1200);

    old.stop().await.unwrap();
    new.stop().await.unwrap();
    peer.stop().await.unwrap();
}
