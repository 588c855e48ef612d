//! Handles hosted here resolve to their DIDs, through XRPC and through `/.well-known/atproto-did`.

mod common;

use common::http::{request, request_with_headers};
use common::node::{local_config, seed_account};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_handles_resolve_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(local_config(dir.path()))
        .await
        .unwrap();
    let did = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
    seed_account(&node, did, "carol.test").await;
    let addr = node.local_addr;
    let (found, upper, unknown, missing, bad, well_known, well_known_other) =
        tokio::task::spawn_blocking(move || {
            let get = |path: &str| request(addr, "GET", path, None);
            (
                get("/xrpc/com.atproto.identity.resolveHandle?handle=carol.test"),
                get("/xrpc/com.atproto.identity.resolveHandle?handle=CAROL.test"),
                get("/xrpc/com.atproto.identity.resolveHandle?handle=dave.test"),
                get("/xrpc/com.atproto.identity.resolveHandle"),
                get("/xrpc/com.atproto.identity.resolveHandle?handle=not%20a%20handle"),
                request_with_headers(
                    addr,
                    "GET",
                    "/.well-known/atproto-did",
                    &[("Host", "carol.test")],
                    None,
                ),
                request_with_headers(
                    addr,
                    "GET",
                    "/.well-known/atproto-did",
                    &[("Host", "dave.test:2583")],
                    None,
                ),
            )
        })
        .await
        .unwrap();
    assert_eq!(found.status, 200, "{}", found.text());
    assert_eq!(found.json()["did"], did);
    assert_eq!(upper.json()["did"], did);
    for r in [&unknown, &missing, &bad] {
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["error"], "InvalidRequest");
    }
    assert_eq!(well_known.status, 200, "{}", well_known.text());
    assert_eq!(well_known.text(), did);
    assert_eq!(well_known_other.status, 404);
    node.stop().await.unwrap();
}
