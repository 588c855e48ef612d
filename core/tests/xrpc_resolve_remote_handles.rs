//! Handles hosted elsewhere resolve through `com.atproto.identity.resolveHandle`: a real HTTP server
//! on loopback plays the handles' web sites (`/.well-known/atproto-did`, told apart by the Host
//! header), and the node, in development mode, reaches it by names pinned to its address. Outside
//! development mode the same loopback site is never connected to.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::http::request;
use common::node::{local_config, seed_account};
use pocketpds_core::identity::{
    HttpClient, HttpConfig, IdentityError, IdentityResolver, PlcClient,
};
use pocketpds_core::net::AddressPolicy;
use pocketpds_core::node::{self, NodePlatform};
use pocketpds_core::syntax::Handle;

const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const BOB: &str = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb";
const CAROL: &str = "did:plc:cccccccccccccccccccccccc";

/// What the site answers for one host.
#[derive(Clone)]
struct Answer {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

fn text(status: u16, body: impl Into<Vec<u8>>) -> Answer {
    Answer {
        status,
        location: None,
        body: body.into(),
    }
}

/// The remote web sites: answers by host, and the hosts asked, in order.
#[derive(Clone, Default)]
struct Site {
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Site {
    fn set(&self, host: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(host.to_owned(), answer);
    }

    fn asked(&self, host: &str) -> usize {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|h| *h == host)
            .count()
    }

    fn asked_total(&self) -> usize {
        self.asked.lock().unwrap().len()
    }

    /// Serves the site on a free loopback port.
    async fn serve(&self) -> SocketAddr {
        let app = Router::new()
            .route("/.well-known/atproto-did", get(well_known))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }
}

async fn well_known(State(site): State<Site>, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split(':').next())
        .unwrap_or_default()
        .to_owned();
    site.asked.lock().unwrap().push(host.clone());
    let Some(answer) = site.answers.lock().unwrap().get(&host).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap(),
        [(header::CONTENT_TYPE, "text/plain")],
        answer.body,
    )
        .into_response();
    if let Some(location) = answer.location {
        response
            .headers_mut()
            .insert(header::LOCATION, location.parse().unwrap());
    }
    response
}

/// An open-web client that reaches `hosts` at `site`, under `addresses`.
fn web_client(addresses: AddressPolicy, site: SocketAddr, hosts: &[&str]) -> HttpClient {
    HttpClient::new(&HttpConfig {
        allow_plain_http: addresses != AddressPolicy::PublicOnly,
        addresses,
        max_redirects: 3,
        pinned: hosts.iter().map(|h| (h.to_string(), site)).collect(),
        ..HttpConfig::default()
    })
    .unwrap()
}

const HOSTS: &[&str] = &[
    "alice.remote.test",
    "liar.remote.test",
    "gone.remote.test",
    "garbage.remote.test",
    "huge.remote.test",
    "broken.remote.test",
    "bounce.remote.test",
    "private.remote.test",
];

fn resolve(addr: SocketAddr, handle: &str) -> common::http::Response {
    request(
        addr,
        "GET",
        &format!("/xrpc/com.atproto.identity.resolveHandle?handle={handle}"),
        None,
    )
}

fn assert_unresolved(r: &common::http::Response, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.text());
    assert_eq!(r.json()["error"], "InvalidRequest", "{what}");
    assert_eq!(r.json()["message"], "Unable to resolve handle", "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_hosted_elsewhere_resolve_through_their_well_known_file_and_are_cached() {
    let site = Site::default();
    site.set("alice.remote.test", text(200, format!("{ALICE}\n")));
    // A site naming someone else's DID: the endpoint returns it as-is, as the reference does (the
    // caller checks the DID document; here the PLC directory is not even reachable).
    site.set("liar.remote.test", text(200, BOB));
    site.set("garbage.remote.test", text(200, "<html>not a DID</html>"));
    site.set("huge.remote.test", text(200, vec![b'd'; 100_000]));
    site.set("broken.remote.test", text(500, "oops"));
    site.set(
        "bounce.remote.test",
        Answer {
            status: 302,
            location: Some("http://[::ffff:a9fe:a9fe]/latest/meta-data".into()),
            body: Vec::new(),
        },
    );
    let site_addr = site.serve().await;

    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.dev_mode = true;
    config.service_handle_domains = vec![".pds.test".into()];
    let mut hosts = HOSTS.to_vec();
    hosts.push("dave.pds.test");
    let platform = NodePlatform {
        web_http: Some(Arc::new(web_client(
            AddressPolicy::untrusted(true),
            site_addr,
            &hosts,
        ))),
        ..NodePlatform::default()
    };
    let node = node::start_with(config, platform).await.unwrap();
    seed_account(&node, CAROL, "carol.pds.test").await;
    let addr = node.local_addr;
    let get =
        move |handle: &'static str| tokio::task::spawn_blocking(move || resolve(addr, handle));

    let found = get("alice.remote.test").await.unwrap();
    assert_eq!(found.status, 200, "{}", found.text());
    assert_eq!(found.json(), serde_json::json!({ "did": ALICE }));
    let upper = get("ALICE.Remote.test").await.unwrap();
    assert_eq!(upper.json()["did"], ALICE);
    let liar = get("liar.remote.test").await.unwrap();
    assert_eq!(liar.status, 200, "{}", liar.text());
    assert_eq!(liar.json()["did"], BOB);

    // Local accounts answer from the database; a missing one under our domains is never looked up.
    let local = get("carol.pds.test").await.unwrap();
    assert_eq!(local.json()["did"], CAROL);
    assert_unresolved(&get("dave.pds.test").await.unwrap(), "unknown local handle");
    assert_eq!(site.asked("dave.pds.test"), 0);
    assert_eq!(site.asked("carol.pds.test"), 0);

    for (handle, what) in [
        ("gone.remote.test", "404"),
        ("garbage.remote.test", "garbage body"),
        ("huge.remote.test", "oversized body"),
        ("broken.remote.test", "server error"),
        ("bounce.remote.test", "redirect to a private address"),
        ("nowhere.remote.test", "name that does not resolve"),
        ("laptop.local", "reserved top-level domain"),
    ] {
        assert_unresolved(&get(handle).await.unwrap(), what);
    }
    assert_eq!(
        site.asked("bounce.remote.test"),
        1,
        "the redirect was not followed"
    );

    // Answers are cached: a changed site is not asked again, positive or negative.
    assert_eq!(
        site.asked("alice.remote.test"),
        1,
        "one fetch for both spellings"
    );
    site.set("alice.remote.test", text(200, BOB));
    site.set("gone.remote.test", text(200, ALICE));
    let asked = site.asked_total();
    assert_eq!(get("alice.remote.test").await.unwrap().json()["did"], ALICE);
    assert_unresolved(&get("gone.remote.test").await.unwrap(), "cached failure");
    assert_eq!(site.asked_total(), asked);

    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_never_connected_to_outside_development_mode() {
    let site = Site::default();
    site.set("alice.example.com", text(200, ALICE));
    site.set("alice.remote.test", text(200, ALICE));
    let site_addr = site.serve().await;
    let plc = |http: Arc<HttpClient>| PlcClient::new("https://plc.example.net", http).unwrap();
    let handle = |s: &str| Handle::parse(s).unwrap();

    // Production: the name points at loopback, so the resolver drops the address.
    let web = Arc::new(web_client(
        AddressPolicy::untrusted(false),
        site_addr,
        &["alice.example.com"],
    ));
    let resolver = IdentityResolver::with_plc(plc(web.clone()), false, web);
    let err = resolver
        .resolve_handle(&handle("alice.example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IdentityError::Http { reason, .. } if reason.contains("public address")),
        "{err}"
    );
    // .test handles do not resolve outside development mode at all.
    assert!(matches!(
        resolver.resolve_handle(&handle("alice.remote.test")).await,
        Err(IdentityError::UnresolvableHandle { .. })
    ));

    // Development mode allows loopback, but a private network stays out of reach.
    let web = Arc::new(
        HttpClient::new(&HttpConfig {
            allow_plain_http: true,
            addresses: AddressPolicy::untrusted(true),
            pinned: vec![("alice.remote.test".into(), "10.0.0.1:80".parse().unwrap())],
            ..HttpConfig::default()
        })
        .unwrap(),
    );
    let resolver = IdentityResolver::with_plc(plc(web.clone()), true, web);
    let err = resolver
        .resolve_handle(&handle("alice.remote.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IdentityError::Http { reason, .. } if reason.contains("public address")),
        "{err}"
    );
    assert_eq!(site.asked_total(), 0, "the site was never reached");

    // The same loopback site, allowed in development mode, answers; its redirect to a link-local
    // address literal (which no resolver sees) is refused by the redirect policy.
    site.set(
        "bounce.remote.test",
        Answer {
            status: 301,
            location: Some("http://169.254.169.254/latest/meta-data".into()),
            body: Vec::new(),
        },
    );
    let web = Arc::new(web_client(
        AddressPolicy::untrusted(true),
        site_addr,
        &["alice.remote.test", "bounce.remote.test"],
    ));
    let resolver = IdentityResolver::with_plc(plc(web.clone()), true, web);
    assert_eq!(
        resolver
            .resolve_handle(&handle("alice.remote.test"))
            .await
            .unwrap()
            .as_str(),
        ALICE
    );
    assert_eq!(site.asked("alice.remote.test"), 1);
    let err = resolver
        .resolve_handle(&handle("bounce.remote.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IdentityError::Http { reason, .. } if reason.contains("non-public address")),
        "{err}"
    );
}
