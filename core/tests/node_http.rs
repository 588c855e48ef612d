//! A node started from the library answers the basic endpoints, with XRPC errors as JSON.

mod common;

use common::http::request;

use common::node::local_config as config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_describes_itself_and_answers_health_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(config(dir.path()))
        .await
        .unwrap();
    let addr = node.local_addr;
    assert!(node
        .state
        .config
        .public_url
        .ends_with(&format!(":{}", addr.port())));
    let (describe, health, page) = tokio::task::spawn_blocking(move || {
        (
            request(addr, "GET", "/xrpc/com.atproto.server.describeServer", None),
            request(addr, "GET", "/xrpc/_health", None),
            request(addr, "GET", "/", None),
        )
    })
    .await
    .unwrap();
    assert_eq!(describe.status, 200);
    let d = describe.json();
    assert_eq!(d["did"], "did:web:localhost");
    assert_eq!(d["availableUserDomains"][0], ".test");
    assert_eq!(d["inviteCodeRequired"], false);
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().contains("PocketPDS"));
    node.stop().await.unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_and_paths_get_xrpc_errors() {
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(config(dir.path()))
        .await
        .unwrap();
    let addr = node.local_addr;
    let (method, path) = tokio::task::spawn_blocking(move || {
        (
            request(addr, "GET", "/xrpc/com.example.nothing", None),
            request(addr, "GET", "/nowhere", None),
        )
    })
    .await
    .unwrap();
    assert_eq!(method.status, 501);
    assert_eq!(method.json()["error"], "MethodNotImplemented");
    assert!(method.json()["message"].is_string());
    assert_eq!(path.status, 404);
    assert_eq!(path.json()["error"], "NotFound");
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let first = pocketpds_core::node::start(config(dir.path()))
        .await
        .unwrap();
    let mut c = config(dir.path());
    c.port = first.local_addr.port();
    let err = match pocketpds_core::node::start(c).await {
        Ok(_) => panic!("second node bound the same port"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("cannot listen"), "{err}");
    first.stop().await.unwrap();
}
