//! `com.atproto.sync.getBlocks` returns exactly the asked blocks, each checked against its CID, and
//! refuses unknown blocks, repositories and malformed CIDs.

mod common;

use common::http::request;
use pocketpds_core::auth::{create_account, CreateAccount};
use pocketpds_core::config::Config;
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::repo::car::{read_car, CarLimits};
use pocketpds_core::repo::cid::cid_for_cbor;
use pocketpds_core::storage::Announce;
use pocketpds_core::syntax::Did;

const DID: &str = "did:plc:cccccccccccccccccccccccc";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asked_blocks_come_back_and_unknown_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::from_vars(|k| (k == "PDS_PORT").then(|| "0".into())).unwrap();
    config.data_directory = dir.path().to_path_buf();
    let node = pocketpds_core::node::start(config).await.unwrap();
    let state = node.state.clone();
    let key = Keypair::generate(Algorithm::K256).unwrap();
    create_account(
        &state.accounts,
        &CreateAccount {
            did: DID,
            handle: "fay.test",
            email: None,
            password: "a-long-password",
            signing_key: &key,
            invite_code: None,
            invite_required: false,
            deactivated: false,
        },
        state.sessions.now(),
    )
    .await
    .unwrap();
    let created = state
        .repos
        .create_repo(
            &Did::parse(DID).unwrap(),
            &key,
            Announce::NewAccount {
                handle: Some("fay.test"),
            },
        )
        .await
        .unwrap();
    let (commit, data) = (created.head.commit, created.head.data);
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
