//! Service proxying over HTTP: a node forwards the calls it does not answer itself to a local
//! upstream service (an axum server on loopback standing in for the app view and the chat service,
//! which also serves its `did:web` document), which checks every service token against the
//! account's key. Also the hostile cases — a header naming an unknown DID or service, a private
//! address, a protected method, an OAuth token without the `rpc:` permission, a body over the
//! limit — each refused with an XRPC error and nothing forwarded.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::http::{procedure, request_with_headers, Response};
use common::node::{local_config, seed_account, PASSWORD};
use common::oauth::{challenge, send, Browser, DpopClient, REDIRECT_URI, VERIFIER};
use pocketpds_core::crypto::{Keypair, PublicKey};
use pocketpds_core::node::{self, RunningNode};
use serde_json::{json, Value};

const ALICE: &str = "did:plc:alicealicealicealicealic";

/// What the upstream saw of one call.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A content type and the bytes of a body.
type CannedBody = (&'static str, Vec<u8>);

#[derive(Clone, Default)]
struct Upstream {
    seen: Arc<Mutex<Vec<Seen>>>,
    did: Arc<Mutex<String>>,
    origin: Arc<Mutex<String>>,
    /// The `atproto-repo-rev` it answers (none when empty): the requester's revision it has
    /// indexed.
    rev: Arc<Mutex<String>>,
    /// The posts it has indexed (`getPostThread` finds these, and answers `NotFound` otherwise).
    indexed: Arc<Mutex<Vec<String>>>,
    /// A body (content type, bytes) to answer the app view's reads with instead of their output.
    body: Arc<Mutex<Option<CannedBody>>>,
}

const OTHER_POST: &str = "at://did:plc:otherotherotherotherothe/app.bsky.feed.post/3kotherpost22";

/// An indexed post as the app view shows it.
fn indexed_post_view(uri: &str, did: &str) -> Value {
    json!({
        "uri": uri,
        "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
        "author": {"did": did, "handle": "someone.test"},
        "record": {"$type": "app.bsky.feed.post", "text": "indexed", "createdAt": "2020-01-01T00:00:00.000Z"},
        "indexedAt": "2020-01-01T00:00:00.000Z",
    })
}

/// The app view's answer to one of the reads the node patches.
fn app_view_read(up: &Upstream, method: &str, uri: &Uri) -> Option<axum::response::Response> {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (status, body) = match method {
        "app.bsky.actor.getProfile" => (
            StatusCode::OK,
            json!({"did": ALICE, "handle": "alice.test", "displayName": "Indexed name",
                   "banner": "https://cdn.example/banner", "followersCount": 7}),
        ),
        "app.bsky.feed.getTimeline" => (
            StatusCode::OK,
            json!({"method": method, "cursor": "upstream-cursor",
                   "feed": [{"post": indexed_post_view(OTHER_POST, "did:plc:otherotherotherotherothe")}]}),
        ),
        "app.bsky.feed.getAuthorFeed" if param("actor").as_deref() != Some("nobody.test") => {
            (StatusCode::OK, json!({"feed": []}))
        }
        "app.bsky.feed.getPostThread" => {
            let wanted = param("uri").unwrap_or_default();
            if up.indexed.lock().unwrap().contains(&wanted) {
                (
                    StatusCode::OK,
                    json!({"thread": {"$type": "app.bsky.feed.defs#threadViewPost",
                        "post": indexed_post_view(&wanted, ALICE), "replies": []}}),
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    json!({"error": "NotFound", "message": format!("Post not found: {wanted}")}),
                )
            }
        }
        _ => return None,
    };
    let (content_type, bytes) = up
        .body
        .lock()
        .unwrap()
        .clone()
        .unwrap_or(("application/json", body.to_string().into_bytes()));
    let mut response = (status, [("content-type", content_type)], bytes).into_response();
    let rev = up.rev.lock().unwrap().clone();
    if !rev.is_empty() {
        response
            .headers_mut()
            .insert("atproto-repo-rev", rev.parse().unwrap());
    }
    Some(response)
}

async fn did_document(State(up): State<Upstream>) -> Json<Value> {
    let did = up.did.lock().unwrap().clone();
    let origin = up.origin.lock().unwrap().clone();
    Json(json!({
        "id": did,
        "service": [
            {"id": "#bsky_appview", "type": "BskyAppView", "serviceEndpoint": origin},
            {"id": "#bsky_chat", "type": "BskyChatService", "serviceEndpoint": origin},
            {"id": "#private", "type": "Other", "serviceEndpoint": "http://10.0.0.1:9"},
            {"id": "#private_v6", "type": "Other", "serviceEndpoint": "http://[fd00::1]:9"},
            {"id": "#not_a_url", "type": "Other", "serviceEndpoint": "mailto:x@example.com"},
        ]
    }))
}

async fn xrpc(
    State(up): State<Upstream>,
    Path(method): Path<String>,
    http_method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let len = body.len();
    up.seen.lock().unwrap().push(Seen {
        method: http_method.to_string(),
        path_and_query: uri.path_and_query().unwrap().to_string(),
        headers,
        body,
    });
    if let Some(response) = app_view_read(&up, &method, &uri) {
        return response;
    }
    if method == "app.bsky.feed.getAuthorFeed" {
        return (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            json!({"error": "NotFound", "message": "no such actor"}).to_string(),
        )
            .into_response();
    }
    (
        StatusCode::OK,
        [
            ("content-type", "application/json"),
            ("atproto-repo-rev", "3lupstreamrev"),
            ("set-cookie", "tracker=1"),
            ("x-internal", "secret"),
        ],
        json!({"method": method, "bytes": len}).to_string(),
    )
        .into_response()
}

struct Harness {
    _dir: tempfile::TempDir,
    node: RunningNode,
    upstream: Upstream,
    upstream_did: String,
    key: Keypair,
    token: String,
}

async fn start() -> Harness {
    let upstream = Upstream::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream_did = format!("did:web:localhost%3A{port}");
    *upstream.did.lock().unwrap() = upstream_did.clone();
    *upstream.origin.lock().unwrap() = format!("http://localhost:{port}");
    *upstream.rev.lock().unwrap() = "3lupstreamrev".into();
    let app = Router::new()
        .route("/.well-known/did.json", get(did_document))
        .route("/xrpc/{method}", any(xrpc))
        .with_state(upstream.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.dev_mode = true;
    config.bsky_app_view_url = Some(format!("http://127.0.0.1:{port}"));
    config.bsky_app_view_did = Some(upstream_did.clone());
    config.blob_upload_limit = 1 << 20;
    let node = node::start(config).await.unwrap();
    let (key, token) = seed_account(&node, ALICE, "alice.test").await;
    Harness {
        _dir: dir,
        node,
        upstream,
        upstream_did,
        key,
        token,
    }
}

impl Harness {
    fn seen(&self) -> Vec<Seen> {
        self.upstream.seen.lock().unwrap().clone()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
    ) -> Response {
        let addr = self.node.local_addr;
        let (method, path) = (method.to_owned(), path.to_owned());
        tokio::task::spawn_blocking(move || {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            request_with_headers(
                addr,
                &method,
                &path,
                &headers,
                body.as_deref().map(|b| ("application/octet-stream", b)),
            )
        })
        .await
        .unwrap()
    }

    fn bearer(&self) -> (String, String) {
        ("Authorization".into(), format!("Bearer {}", self.token))
    }
}

/// A refused call: method, path, headers, status, error name.
type Case = (
    &'static str,
    String,
    Vec<(String, String)>,
    u16,
    &'static str,
);

fn proxy(value: &str) -> (String, String) {
    ("atproto-proxy".into(), value.to_owned())
}

/// Checks the service token of `seen` against `key` and returns its claims.
fn verified_claims(seen: &Seen, key: &PublicKey) -> Value {
    let auth = seen.headers["authorization"].to_str().unwrap();
    let token = auth.strip_prefix("Bearer ").expect("a bearer token");
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    key.verify(signed.as_bytes(), &signature)
        .expect("the service token is signed with the account's key");
    let payload = signed.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_bsky_calls_reach_the_app_view_with_a_service_token_of_the_account() {
    let h = start().await;
    let r = h
        .call(
            "GET",
            "/xrpc/app.bsky.feed.getTimeline?limit=5&cursor=abc",
            vec![
                h.bearer(),
                ("Accept-Language".into(), "fr".into()),
                ("Cookie".into(), "session=1".into()),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["method"], "app.bsky.feed.getTimeline");
    assert_eq!(r.header("atproto-repo-rev"), Some("3lupstreamrev"));
    assert_eq!(r.header("set-cookie"), None);
    assert_eq!(r.header("x-internal"), None);
    let seen = h.seen();
    assert_eq!(seen.len(), 1);
    let call = &seen[0];
    assert_eq!(call.method, "GET");
    assert_eq!(
        call.path_and_query,
        "/xrpc/app.bsky.feed.getTimeline?limit=5&cursor=abc"
    );
    assert_eq!(call.headers["accept-language"], "fr");
    assert!(call.headers.get("cookie").is_none());
    let claims = verified_claims(call, &h.key.public_key());
    assert_eq!(claims["iss"], ALICE);
    assert_eq!(claims["aud"], h.upstream_did.as_str());
    assert_eq!(claims["lxm"], "app.bsky.feed.getTimeline");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(exp > iat && exp - iat <= 60, "{claims}");
    // The upstream's errors come back as they are.
    let r = h
        .call(
            "GET",
            "/xrpc/app.bsky.feed.getAuthorFeed?actor=nobody.test",
            vec![h.bearer()],
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "NotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_names_a_service_of_a_did_document_and_bodies_pass_whole() {
    let h = start().await;
    let header = format!("{}#bsky_chat", h.upstream_did);
    let body: Vec<u8> = (0..900_000u32).map(|i| (i % 251) as u8).collect();
    let r = h
        .call(
            "POST",
            "/xrpc/chat.bsky.convo.sendMessage",
            vec![h.bearer(), proxy(&header)],
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["bytes"], 900_000);
    let seen = h.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.as_ref(), body.as_slice());
    assert_eq!(seen[0].headers["content-type"], "application/octet-stream");
    let claims = verified_claims(&seen[0], &h.key.public_key());
    assert_eq!(claims["aud"], header.as_str());
    assert_eq!(claims["lxm"], "chat.bsky.convo.sendMessage");
    // Any method may be sent to a named service, com.atproto.* included.
    let r = h
        .call(
            "GET",
            "/xrpc/com.atproto.label.queryLabels?uriPatterns=*",
            vec![
                h.bearer(),
                proxy(&format!("{}#bsky_appview", h.upstream_did)),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(h.seen().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_proxy_requests_are_refused_and_nothing_is_forwarded() {
    let h = start().await;
    let did = h.upstream_did.clone();
    let cases: Vec<Case> = vec![
        // An unknown service of a known DID.
        (
            "GET",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![h.bearer(), proxy(&format!("{did}#nope"))],
            400,
            "InvalidRequest",
        ),
        // Services on private addresses, or not URLs.
        (
            "GET",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![h.bearer(), proxy(&format!("{did}#private"))],
            400,
            "InvalidRequest",
        ),
        (
            "GET",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![h.bearer(), proxy(&format!("{did}#private_v6"))],
            400,
            "InvalidRequest",
        ),
        (
            "GET",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![h.bearer(), proxy(&format!("{did}#not_a_url"))],
            400,
            "InvalidRequest",
        ),
        // DIDs that do not resolve.
        (
            "GET",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![h.bearer(), proxy("did:web:localhost%3A1#bsky_appview")],
            400,
            "InvalidRequest",
        ),
        (
            "GET",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![h.bearer(), proxy("did:web:10.0.0.1#bsky_appview")],
            400,
            "InvalidRequest",
        ),
        (
            "GET",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![
                h.bearer(),
                proxy("did:plc:unknownunknownunknownunk#bsky_appview"),
            ],
            400,
            "InvalidRequest",
        ),
        // Malformed headers; this server itself.
        (
            "GET",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![h.bearer(), proxy(&did)],
            400,
            "InvalidRequest",
        ),
        (
            "GET",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![h.bearer(), proxy(&format!("{did}#a#b"))],
            400,
            "InvalidRequest",
        ),
        (
            "GET",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![h.bearer(), proxy("did:web:localhost#bsky_appview")],
            400,
            "InvalidRequest",
        ),
        // chat.bsky.* needs a header; account management is never proxied.
        (
            "GET",
            "/xrpc/chat.bsky.convo.listConvos".into(),
            vec![h.bearer()],
            400,
            "InvalidRequest",
        ),
        // No credentials, or a method that is not an NSID or not XRPC's.
        (
            "GET",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![],
            401,
            "AuthenticationRequired",
        ),
        (
            "PUT",
            "/xrpc/app.bsky.feed.getTimeline".into(),
            vec![h.bearer()],
            400,
            "InvalidRequest",
        ),
        (
            "GET",
            "/xrpc/com.example.unknown".into(),
            vec![h.bearer()],
            501,
            "MethodNotImplemented",
        ),
        (
            "GET",
            "/xrpc/not..an.nsid".into(),
            vec![h.bearer(), proxy(&format!("{did}#bsky_appview"))],
            501,
            "MethodNotImplemented",
        ),
    ];
    for (method, path, headers, status, error) in cases {
        let r = h.call(method, &path, headers.clone(), None).await;
        assert_eq!(
            r.status,
            status,
            "{method} {path} {headers:?}: {}",
            r.text()
        );
        assert_eq!(r.json()["error"], error, "{path} {headers:?}");
        assert!(r.json()["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // A body over the limit (the blob upload limit, 1 MiB here), declared or streamed.
    let big = vec![7u8; (1 << 20) + 1];
    let r = h
        .call(
            "POST",
            "/xrpc/app.bsky.feed.sendInteractions",
            vec![h.bearer()],
            Some(big),
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json()["error"], "PayloadTooLarge");
    assert!(h.seen().is_empty(), "{:?}", h.seen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_token_proxies_only_the_methods_its_scope_grants() {
    let h = start().await;
    let addr: SocketAddr = h.node.local_addr;
    let scope = "atproto rpc:app.bsky.feed.getTimeline?aud=*";
    let client_id = format!(
        "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&scope={}",
        url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>()
    );
    let mut c = DpopClient::new(&h.node.state.config.public_url);
    let r = c
        .post_form(
            addr,
            "/oauth/par",
            &[
                ("client_id", &client_id),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT_URI),
                ("scope", scope),
                ("code_challenge", &challenge(VERIFIER)),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let request_uri = r.json()["request_uri"].as_str().unwrap().to_owned();
    let mut browser = Browser::default();
    let page = {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &client_id);
        q.append_pair("request_uri", &request_uri);
        send(
            addr,
            "GET",
            &format!("/oauth/authorize?{}", q.finish()),
            vec![],
            None,
        )
        .await
    };
    assert_eq!(page.status, 200, "{}", page.text());
    for (name, value) in &page.headers {
        if name == "set-cookie" {
            let (k, v) = value.split(';').next().unwrap().split_once('=').unwrap();
            browser.cookies.push((k.into(), v.into()));
        }
    }
    let csrf = Browser::csrf(&page);
    let r = browser
        .sign_in_and_allow(
            addr,
            &client_id,
            &request_uri,
            &csrf,
            "alice.test",
            PASSWORD,
        )
        .await;
    let location = url::Url::parse(r.header("location").unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let r = c
        .post_form(
            addr,
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client_id),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let access = r.json()["access_token"].as_str().unwrap().to_owned();

    let r = c
        .xrpc(
            addr,
            "GET",
            "/xrpc/app.bsky.feed.getTimeline",
            &access,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(h.seen().len(), 1);
    let claims = verified_claims(&h.seen()[0], &h.key.public_key());
    assert_eq!(claims["iss"], ALICE);
    for path in [
        "/xrpc/app.bsky.actor.getProfile?actor=alice.test",
        "/xrpc/app.bsky.actor.getPreferences",
    ] {
        let r = c.xrpc(addr, "GET", path, &access, None).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert_eq!(r.json()["error"], "ScopeMissingError");
    }
    assert_eq!(h.seen().len(), 1, "nothing else was forwarded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_are_kept_by_the_node_and_never_forwarded() {
    let h = start().await;
    let put = |prefs: Value| {
        let body = serde_json::to_vec(&json!({ "preferences": prefs })).unwrap();
        let auth = h.bearer();
        let addr = h.node.local_addr;
        async move {
            tokio::task::spawn_blocking(move || {
                request_with_headers(
                    addr,
                    "POST",
                    "/xrpc/app.bsky.actor.putPreferences",
                    &[(auth.0.as_str(), auth.1.as_str())],
                    Some(("application/json", &body)),
                )
            })
            .await
            .unwrap()
        }
    };
    let prefs = json!([
        {"$type": "app.bsky.actor.defs#adultContentPref", "enabled": false},
        {"$type": "app.bsky.actor.defs#savedFeedsPrefV2", "items": [{"id": "1", "type": "timeline", "value": "following", "pinned": true}]},
        {"$type": "app.bsky.actor.defs#personalDetailsPref", "birthDate": "1990-01-01T00:00:00.000Z"},
    ]);
    let r = put(prefs.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = h
        .call(
            "GET",
            "/xrpc/app.bsky.actor.getPreferences",
            vec![h.bearer()],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["preferences"], prefs);
    for bad in [
        json!([{"$type": "com.example.pref", "x": 1}]),
        json!([{"enabled": true}]),
        json!(["not an object"]),
        json!({"not": "a list"}),
    ] {
        let r = put(bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.json()["error"], "InvalidRequest");
    }
    let r = h
        .call(
            "GET",
            "/xrpc/app.bsky.actor.getPreferences",
            vec![h.bearer()],
            None,
        )
        .await;
    assert_eq!(r.json()["preferences"], prefs, "bad input changed nothing");
    let r = h
        .call("GET", "/xrpc/app.bsky.actor.getPreferences", vec![], None)
        .await;
    assert_eq!(r.status, 401);
    assert!(h.seen().is_empty());
}

const POST: &str = "app.bsky.feed.post";

/// A record written through the node: its URI, CID and commit revision.
struct Written {
    uri: String,
    cid: String,
    rev: String,
}

impl Harness {
    async fn write(&self, method: &str, input: Value) -> Written {
        let r = procedure(self.node.local_addr, &self.token, method, input).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let out = r.json();
        Written {
            uri: out["uri"].as_str().unwrap().to_owned(),
            cid: out["cid"].as_str().unwrap().to_owned(),
            rev: out["commit"]["rev"].as_str().unwrap().to_owned(),
        }
    }

    async fn post(&self, text: &str, reply_to: Option<(&Written, &Written)>) -> Written {
        let mut record =
            json!({"$type": POST, "text": text, "createdAt": "2026-01-01T00:00:00.000Z"});
        if let Some((root, parent)) = reply_to {
            record["reply"] = json!({
                "root": {"uri": root.uri, "cid": root.cid},
                "parent": {"uri": parent.uri, "cid": parent.cid},
            });
        }
        self.write(
            "com.atproto.repo.createRecord",
            json!({"repo": ALICE, "collection": POST, "record": record}),
        )
        .await
    }

    async fn get(&self, path: &str) -> Response {
        self.call("GET", path, vec![self.bearer()], None).await
    }

    fn indexed_up_to(&self, rev: &str) {
        *self.upstream.rev.lock().unwrap() = rev.to_owned();
    }
}

fn feed_uris(r: &Response) -> Vec<String> {
    r.json()["feed"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.text()))
        .iter()
        .map(|item| item["post"]["uri"].as_str().unwrap().to_owned())
        .collect()
}

fn lag(r: &Response) -> Option<u64> {
    r.header("atproto-upstream-lag")
        .map(|v| v.parse().expect("the lag is a number of milliseconds"))
}

fn thread_path(uri: &str) -> String {
    format!(
        "/xrpc/app.bsky.feed.getPostThread?uri={}",
        url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accounts_own_reads_show_its_new_writes_until_the_app_view_has_indexed_them() {
    let h = start().await;
    // The app view has indexed everything up to the first post.
    let p0 = h.post("indexed already", None).await;
    h.indexed_up_to(&p0.rev);
    h.upstream.indexed.lock().unwrap().push(p0.uri.clone());
    let before = h.get("/xrpc/app.bsky.feed.getTimeline").await;
    assert_eq!(feed_uris(&before), [OTHER_POST]);
    assert_eq!(
        lag(&before),
        None,
        "nothing newer than the app view's revision"
    );

    // Then the account writes a profile, a post, a reply to it and a reply to the indexed post.
    h.write(
        "com.atproto.repo.putRecord",
        json!({"repo": ALICE, "collection": "app.bsky.actor.profile", "rkey": "self",
               "record": {"$type": "app.bsky.actor.profile", "displayName": "Fresh name",
                          "description": "Just written"}}),
    )
    .await;
    let p1 = h.post("not indexed yet", None).await;
    let p2 = h.post("a reply to it", Some((&p1, &p1))).await;
    let p3 = h.post("a reply to the indexed one", Some((&p0, &p0))).await;

    let r = h
        .get("/xrpc/app.bsky.actor.getProfile?actor=alice.test")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let profile = r.json();
    assert_eq!(profile["displayName"], "Fresh name");
    assert_eq!(profile["description"], "Just written");
    assert_eq!(profile["followersCount"], 7, "the app view's fields stay");
    assert!(
        profile.get("banner").is_none(),
        "the new record has no banner"
    );
    assert!(lag(&r).is_some_and(|ms| ms < 60_000), "{:?}", r.headers);
    assert_eq!(r.header("atproto-repo-rev"), Some(p0.rev.as_str()));

    let r = h.get("/xrpc/app.bsky.feed.getTimeline?limit=30").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(feed_uris(&r), [&p3.uri, &p2.uri, &p1.uri, OTHER_POST]);
    let first = &r.json()["feed"][0]["post"];
    assert_eq!(first["cid"], p3.cid.as_str());
    assert_eq!(first["record"]["text"], "a reply to the indexed one");
    assert_eq!(first["author"]["did"], ALICE);
    assert_eq!(first["author"]["handle"], "alice.test");
    assert_eq!(first["author"]["displayName"], "Fresh name");
    assert_eq!(r.json()["cursor"], "upstream-cursor");
    assert!(lag(&r).is_some());
    // The upstream got the account's service token for the method, as for any proxied call.
    let call = h.seen().last().unwrap().clone();
    let claims = verified_claims(&call, &h.key.public_key());
    assert_eq!(claims["lxm"], "app.bsky.feed.getTimeline");
    // A later page does not repeat the new posts.
    let r = h
        .get("/xrpc/app.bsky.feed.getTimeline?cursor=upstream-cursor")
        .await;
    assert_eq!(feed_uris(&r), [OTHER_POST]);

    for actor in ["alice.test", ALICE] {
        let r = h
            .get(&format!("/xrpc/app.bsky.feed.getAuthorFeed?actor={actor}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(feed_uris(&r), [p3.uri.as_str(), &p2.uri, &p1.uri]);
    }
    let r = h
        .get("/xrpc/app.bsky.feed.getAuthorFeed?actor=bob.test")
        .await;
    assert_eq!(feed_uris(&r), Vec::<String>::new(), "another's feed");

    // The indexed post's thread gets the new reply; a new post's thread is built here.
    let r = h.get(&thread_path(&p0.uri)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["thread"]["post"]["uri"], p0.uri.as_str());
    assert_eq!(
        r.json()["thread"]["replies"][0]["post"]["uri"],
        p3.uri.as_str()
    );
    let r = h.get(&thread_path(&p1.uri)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let thread = &r.json()["thread"];
    assert_eq!(thread["$type"], "app.bsky.feed.defs#threadViewPost");
    assert_eq!(thread["post"]["uri"], p1.uri.as_str());
    assert_eq!(thread["replies"][0]["post"]["uri"], p2.uri.as_str());
    assert!(lag(&r).is_some());
    let by_handle = p2.uri.replace(ALICE, "alice.test");
    let r = h.get(&thread_path(&by_handle)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["thread"]["post"]["uri"], p2.uri.as_str());
    let r = h.get(&thread_path(OTHER_POST)).await;
    assert_eq!(r.status, 400, "another's unknown post stays not found");
    assert_eq!(r.json()["error"], "NotFound");

    // Once the app view has indexed the writes, its answers pass as they are.
    h.indexed_up_to(&p3.rev);
    h.upstream
        .indexed
        .lock()
        .unwrap()
        .extend([p1.uri.clone(), p2.uri.clone(), p3.uri.clone()]);
    let r = h.get("/xrpc/app.bsky.feed.getTimeline").await;
    assert_eq!(feed_uris(&r), [OTHER_POST]);
    assert_eq!(lag(&r), None);
    let r = h
        .get("/xrpc/app.bsky.actor.getProfile?actor=alice.test")
        .await;
    assert_eq!(r.json()["displayName"], "Indexed name");
    let r = h.get(&thread_path(&p1.uri)).await;
    assert_eq!(r.json()["thread"]["post"]["record"]["text"], "indexed");
    assert!(r.json()["thread"]["replies"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_malformed_revision_or_an_unexpected_body_passes_the_answer_unchanged() {
    let h = start().await;
    let p0 = h.post("indexed", None).await;
    h.post("new", None).await;
    let original = |r: &Response| {
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(feed_uris(r), [OTHER_POST]);
        assert_eq!(lag(r), None);
    };
    // No revision, revisions that are not TIDs, and one older than every record here (a
    // repository that moved in: the revision says nothing of what the app view has seen).
    for rev in [
        "",
        "not-a-tid",
        "zzzzzzzzzzzzz",
        "3kupstream",
        "2222222222222",
    ] {
        h.indexed_up_to(rev);
        original(&h.get("/xrpc/app.bsky.feed.getTimeline").await);
    }
    h.indexed_up_to(&p0.rev);
    let patched = h.get("/xrpc/app.bsky.feed.getTimeline").await;
    assert_eq!(feed_uris(&patched).len(), 2, "{}", patched.text());

    // Bodies the node does not patch reach the caller byte for byte: another content type, JSON
    // that does not parse or is not the method's output, and one over the buffering bound.
    let mut big = br#"{"feed": [], "padding": ""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 5 << 20));
    big.extend(br#""}"#);
    let cases: Vec<(&'static str, Vec<u8>)> = vec![
        ("text/plain", b"{\"feed\": []}".to_vec()),
        ("application/json", b"{\"feed\": [".to_vec()),
        ("application/json", b"{\"feed\": \"none\"}".to_vec()),
        ("application/json", b"[1, 2]".to_vec()),
        ("application/json", big),
    ];
    for (content_type, body) in cases {
        *h.upstream.body.lock().unwrap() = Some((content_type, body.clone()));
        let r = h.get("/xrpc/app.bsky.feed.getTimeline").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some(content_type));
        assert_eq!(lag(&r), None);
        assert!(r.body == body, "{content_type}, {} bytes", body.len());
    }
}
