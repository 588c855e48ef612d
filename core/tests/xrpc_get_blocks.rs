//! `com.atproto.sync.getBlocks` returns exactly the asked blocks, each checked against its CID, and
//! refuses unknown blocks, repositories and malformed CIDs.

mod common;

use common::http::request;
use common::node::{local_config, seed_account};
use pocketpds_core::repo::car::{read_car, CarLimits};
use pocketpds_core::repo::cid::cid_for_cbor;

const DID: &str = "did:plc:cccccccccccccccccccccccc";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asked_blocks_come_back_and_unknown_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(local_config(dir.path()))
        .await
        .unwrap();
    seed_account(&node, DID, "fay.test").await;
    let head = node
        .state
        .repos
        .head(DID)
        .await
        .unwrap()
        .expect("a repository");
    let (commit, data) = (head.commit, head.data);
    let absent = cid_for_cbor(b"\xa1\x61x\x01");
    let addr = node.local_addr;
    let (found, missing, unknown_repo, malformed) = tokio::task::spawn_blocking(move || {
        let did = DID.replace(':', "%3A");
        (
            request(
                addr,
                "GET",
                &format!("/xrpc/com.atproto.sync.getBlocks?did={did}&cids={commit}&cids={data}"),
                None,
            ),
            request(
                addr,
                "GET",
                &format!("/xrpc/com.atproto.sync.getBlocks?did={did}&cids={commit}&cids={absent}"),
                None,
            ),
            request(
                addr,
                "GET",
                &format!("/xrpc/com.atproto.sync.getBlocks?did=did:plc:dddddddddddddddddddddddd&cids={commit}"),
                None,
            ),
            request(
                addr,
                "GET",
                &format!("/xrpc/com.atproto.sync.getBlocks?did={did}&cids=notacid"),
                None,
            ),
        )
    })
    .await
    .unwrap();
    assert_eq!(found.status, 200, "{}", found.text());
    assert_eq!(
        found.header("content-type"),
        Some("application/vnd.ipld.car")
    );
    let (roots, blocks) = read_car(&found.body, CarLimits::default()).unwrap();
    assert!(roots.is_empty());
    let got: Vec<_> = blocks.iter().map(|(c, _)| *c).collect();
    assert_eq!(got, vec![commit, data]);
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["error"], "BlockNotFound");
    assert!(missing.json()["message"]
        .as_str()
        .unwrap()
        .contains(&absent.to_string()));
    assert_eq!(unknown_repo.status, 400);
    assert_eq!(unknown_repo.json()["error"], "RepoNotFound");
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["error"], "InvalidRequest");
    node.stop().await.unwrap();
}
