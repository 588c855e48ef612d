//! The OAuth authorization server and DPoP-bound XRPC calls of running nodes, over HTTP, driven by a
//! Rust client: the whole flow, and the hostile cases of the issue — replayed proofs (on the same
//! node and on another node of the cluster), proofs for another URL or method, stale `iat`, wrong
//! `ath`, `alg: none` and HS256 proofs, a token presented as Bearer or with another DPoP key, a
//! replayed code (which revokes its session), a reused refresh token (which revokes the session),
//! a pushed request reused or expired, a redirect URI mismatch, client metadata on a private
//! address, a PKCE verifier mismatch — each refused with the right error and no state change —
//! and a browser that writes its own `X-Forwarded-For` (its device is listed under its real peer).

mod common;

use common::node::{local_config, seed_account, PASSWORD};
use common::oauth::{
    challenge, form, send, sign_in, Browser, DpopClient, CLIENT_ID, REDIRECT_URI, VERIFIER,
};
use pocketpds_core::node::{self, RunningNode};
use pocketpds_core::storage::oauth_store::OAuthRequestRow;
use serde_json::json;

const ALICE: &str = "did:plc:alicealicealicealicealic";
const GENERIC: &str = "atproto transition:generic";
const POST: &str = "app.bsky.feed.post";

struct One {
    _dir: tempfile::TempDir,
    node: RunningNode,
    legacy: String,
}

async fn one() -> One {
    let dir = tempfile::tempdir().unwrap();
    let node = node::start(local_config(dir.path())).await.unwrap();
    let (_, legacy) = seed_account(&node, ALICE, "alice.test").await;
    One {
        _dir: dir,
        node,
        legacy,
    }
}

fn client(n: &RunningNode) -> DpopClient {
    DpopClient::new(&n.state.config.public_url)
}

fn create_body(text: &str) -> serde_json::Value {
    json!({"repo": ALICE, "collection": POST, "record": {"$type": POST, "text": text, "createdAt": "2024-01-01T00:00:00.000Z"}})
}

const CREATE: &str = "/xrpc/com.atproto.repo.createRecord";
const GET_SESSION: &str = "/xrpc/com.atproto.server.getSession";

async fn record_count(n: &RunningNode) -> usize {
    let r = send(
        n.local_addr,
        "GET",
        &format!("/xrpc/com.atproto.repo.listRecords?repo={ALICE}&collection={POST}"),
        vec![],
        None,
    )
    .await;
    r.json()["records"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_gives_a_dpop_token_that_writes_and_refreshes() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let t = sign_in(&mut c, addr, "alice.test", PASSWORD, GENERIC).await;
    assert_eq!(t.sub, ALICE);
    assert_eq!(t.scope, GENERIC);
    let r = c
        .xrpc(addr, "POST", CREATE, &t.access, Some(create_body("hello")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("dpop-nonce").is_some());
    let r = c.refresh(addr, &t.refresh).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let next = r.json()["access_token"].as_str().unwrap().to_owned();
    let r = c.xrpc(addr, "GET", GET_SESSION, &next, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["did"], ALICE);
    // The access token of before the refresh is no longer current.
    let r = c.xrpc(addr, "GET", GET_SESSION, &t.access, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_nonce_is_400_at_the_authorization_server_and_401_at_the_resource_server() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let t = sign_in(&mut c, addr, "alice.test", PASSWORD, GENERIC).await;
    c.nonce = None;
    let r = c
        .post_form_once(
            addr,
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("refresh_token", &t.refresh),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "use_dpop_nonce");
    assert!(r.header("dpop-nonce").is_some());
    c.nonce = None;
    let proof = c.proof("GET", GET_SESSION, Some(&t.access));
    let r = c
        .xrpc_with_proof(addr, "GET", GET_SESSION, &t.access, &proof, None)
        .await;
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"use_dpop_nonce\""));
    assert_eq!(r.json()["error"], "use_dpop_nonce");
    // The refresh token was not used by the refused request.
    c.learn(&r);
    assert_eq!(c.refresh(addr, &t.refresh).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_proofs_are_refused_and_write_nothing() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let t = sign_in(&mut c, addr, "alice.test", PASSWORD, GENERIC).await;
    let token = t.access.clone();
    // A first good write, so the nonce is known.
    assert_eq!(
        c.xrpc(addr, "POST", CREATE, &token, Some(create_body("ok")))
            .await
            .status,
        200
    );
    let before = record_count(&h.node).await;

    // Replayed proof.
    let proof = c.proof("POST", CREATE, Some(&token));
    let first = c
        .xrpc_with_proof(addr, "POST", CREATE, &token, &proof, Some(create_body("a")))
        .await;
    assert_eq!(first.status, 200);
    let again = c
        .xrpc_with_proof(addr, "POST", CREATE, &token, &proof, Some(create_body("b")))
        .await;
    assert_eq!(again.status, 401);
    assert_eq!(again.json()["error"], "invalid_dpop_proof");
    assert!(again.json()["message"]
        .as_str()
        .unwrap()
        .contains("replayed"));

    let mut hostile = Vec::new();
    // Another URL, another method.
    let mut claims = c.claims("POST", "/xrpc/com.atproto.repo.deleteRecord", Some(&token));
    hostile.push(("other url", c.proof_with(json!({}), claims.clone())));
    claims = c.claims("GET", CREATE, Some(&token));
    hostile.push(("other method", c.proof_with(json!({}), claims)));
    // The node's own address instead of the public URL.
    let mut claims = c.claims("POST", CREATE, Some(&token));
    claims["htu"] = json!(format!("http://{addr}{CREATE}"));
    hostile.push(("host header url", c.proof_with(json!({}), claims)));
    // Stale and future iat.
    let mut claims = c.claims("POST", CREATE, Some(&token));
    claims["iat"] = json!(common::oauth::now() - 600);
    hostile.push(("stale iat", c.proof_with(json!({}), claims)));
    let mut claims = c.claims("POST", CREATE, Some(&token));
    claims["iat"] = json!(common::oauth::now() + 600);
    hostile.push(("future iat", c.proof_with(json!({}), claims)));
    // Wrong and missing ath.
    let mut claims = c.claims("POST", CREATE, Some(&token));
    claims["ath"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    hostile.push(("wrong ath", c.proof_with(json!({}), claims)));
    let claims = c.claims("POST", CREATE, None);
    hostile.push(("missing ath", c.proof_with(json!({}), claims)));
    // Wrong typ.
    let claims = c.claims("POST", CREATE, Some(&token));
    hostile.push(("typ jwt", c.proof_with(json!({"typ": "jwt"}), claims)));
    // alg none and HS256.
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    for alg in ["none", "HS256"] {
        let claims = c.claims("POST", CREATE, Some(&token));
        let head =
            json!({"typ": "dpop+jwt", "alg": alg, "jwk": c.key.public_key().to_jwk().to_value()});
        let signing = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(head.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = if alg == "none" {
            String::new()
        } else {
            URL_SAFE_NO_PAD.encode([7u8; 32])
        };
        hostile.push((alg, format!("{signing}.{sig}")));
    }
    // A proof signed by another key than the token's.
    let mut other = DpopClient::new(&h.node.state.config.public_url);
    other.nonce = c.nonce.clone();
    hostile.push(("other key", other.proof("POST", CREATE, Some(&token))));

    for (name, proof) in hostile {
        let r = c
            .xrpc_with_proof(
                addr,
                "POST",
                CREATE,
                &token,
                &proof,
                Some(create_body(name)),
            )
            .await;
        assert_eq!(r.status, 401, "{name}: {}", r.text());
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(
            error == "invalid_dpop_proof" || error == "invalid_token",
            "{name}: {error}"
        );
        assert!(
            r.header("www-authenticate").unwrap().starts_with("DPoP "),
            "{name}"
        );
    }
    // No proof at all, and two proofs.
    let r = send(
        addr,
        "POST",
        CREATE,
        vec![("Authorization".into(), format!("DPoP {token}"))],
        Some((
            "application/json".into(),
            create_body("x").to_string().into_bytes(),
        )),
    )
    .await;
    assert_eq!(r.status, 401);
    let p1 = c.proof("POST", CREATE, Some(&token));
    let p2 = c.proof("POST", CREATE, Some(&token));
    let r = send(
        addr,
        "POST",
        CREATE,
        vec![
            ("Authorization".into(), format!("DPoP {token}")),
            ("DPoP".into(), p1),
            ("DPoP".into(), p2),
        ],
        Some((
            "application/json".into(),
            create_body("x").to_string().into_bytes(),
        )),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        record_count(&h.node).await,
        before + 1,
        "only the first good write landed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_token_is_never_a_bearer_token() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let t = sign_in(&mut c, addr, "alice.test", PASSWORD, GENERIC).await;
    let r = send(
        addr,
        "POST",
        CREATE,
        vec![("Authorization".into(), format!("Bearer {}", t.access))],
        Some((
            "application/json".into(),
            create_body("x").to_string().into_bytes(),
        )),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_token");
    // And a legacy session token is not a DPoP token.
    let r = c.xrpc(addr, "GET", GET_SESSION, &h.legacy, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(record_count(&h.node).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_code_is_refused_and_revokes_its_session() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let request_uri = c.par(addr, GENERIC).await;
    let code = Browser::default()
        .approve(addr, &request_uri, "alice.test", PASSWORD)
        .await;
    let r = c.exchange(addr, &code, VERIFIER).await;
    assert_eq!(r.status, 200);
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        c.xrpc(addr, "GET", GET_SESSION, &access, None).await.status,
        200
    );
    let again = c.exchange(addr, &code, VERIFIER).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["error"], "invalid_grant");
    let r = c.xrpc(addr, "GET", GET_SESSION, &access, None).await;
    assert_eq!(r.status, 401, "the session of a replayed code is revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_refresh_token_revokes_the_session() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let t = sign_in(&mut c, addr, "alice.test", PASSWORD, GENERIC).await;
    let r = c.refresh(addr, &t.refresh).await;
    assert_eq!(r.status, 200);
    let next_refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let next_access = r.json()["access_token"].as_str().unwrap().to_owned();
    let reused = c.refresh(addr, &t.refresh).await;
    assert_eq!(reused.status, 400);
    assert_eq!(reused.json()["error"], "invalid_grant");
    // The whole session is gone: its current tokens too.
    assert_eq!(
        c.refresh(addr, &next_refresh).await.json()["error"],
        "invalid_grant"
    );
    assert_eq!(
        c.xrpc(addr, "GET", GET_SESSION, &next_access, None)
            .await
            .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_with_another_dpop_key_is_refused_without_revoking() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let t = sign_in(&mut c, addr, "alice.test", PASSWORD, GENERIC).await;
    let mut thief = DpopClient::new(&h.node.state.config.public_url);
    let r = thief.refresh(addr, &t.refresh).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    assert_eq!(c.refresh(addr, &t.refresh).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_requests_are_single_use_and_expire() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let request_uri = c.par(addr, GENERIC).await;
    let mut browser = Browser::default();
    browser
        .approve(addr, &request_uri, "alice.test", PASSWORD)
        .await;
    // Reused after approval.
    let r = browser.open(addr, &request_uri).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("already authorized"));
    // Opened from another browser.
    let fresh = c.par(addr, GENERIC).await;
    Browser::default().open(addr, &fresh).await;
    let r = Browser::default().open(addr, &fresh).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("another device"));
    // Expired.
    let id = "req-AAAAAAAAAAAAAAAAAAAAAA";
    h.node
        .state
        .oauth
        .store
        .insert_request(&OAuthRequestRow {
            id: id.into(),
            client_id: CLIENT_ID.into(),
            client_auth: "{\"method\":\"none\"}".into(),
            parameters: "{}".into(),
            dpop_jkt: None,
            device_id: None,
            did: None,
            code: None,
            expires_at: common::oauth::now() - 1,
            login_did: None,
        })
        .await
        .unwrap();
    let r = Browser::default()
        .open(addr, &format!("urn:ietf:params:oauth:request_uri:{id}"))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("expired"), "{}", r.text());
    // Unknown.
    let r = Browser::default()
        .open(
            addr,
            "urn:ietf:params:oauth:request_uri:req-BBBBBBBBBBBBBBBBBBBBBB",
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_form_needs_its_csrf_token_and_the_right_password() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let request_uri = c.par(addr, GENERIC).await;
    let mut browser = Browser::default();
    let page = browser.open(addr, &request_uri).await;
    assert!(page.text().contains("id=\"signin\""), "{}", page.text());
    assert!(page.header("content-security-policy").is_some());
    let csrf = Browser::csrf(&page);
    let r = browser
        .submit(
            addr,
            &request_uri,
            "csrf-forged",
            "allow",
            "alice.test",
            PASSWORD,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = browser
        .submit(
            addr,
            &request_uri,
            &csrf,
            "signin",
            "alice.test",
            "wrong password",
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("Invalid identifier or password"));
    // Another browser with the CSRF token but not the cookies.
    let r = Browser::default()
        .submit(addr, &request_uri, &csrf, "allow", "alice.test", PASSWORD)
        .await;
    assert_eq!(r.status, 403);
    // Denying redirects with access_denied and ends the request.
    let r = browser
        .submit(addr, &request_uri, &csrf, "deny", "", "")
        .await;
    assert_eq!(r.status, 303);
    let location = r.header("location").unwrap();
    assert!(
        location.starts_with(REDIRECT_URI)
            && location.contains("error=access_denied")
            && location.contains("iss=")
    );
    assert_eq!(browser.open(addr, &request_uri).await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_pushed_requests_are_refused() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let challenge = challenge(VERIFIER);
    let base = [
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", GENERIC),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let with = |k: &str, v: &str| -> Vec<(String, String)> {
        base.iter()
            .map(|(a, b)| {
                (
                    a.to_string(),
                    if *a == k {
                        v.to_string()
                    } else {
                        b.to_string()
                    },
                )
            })
            .collect()
    };
    for (k, v, error) in [
        (
            "redirect_uri",
            "http://127.0.0.1/elsewhere",
            "invalid_request",
        ),
        ("redirect_uri", "https://evil.example/cb", "invalid_request"),
        ("code_challenge_method", "plain", "invalid_request"),
        ("response_type", "token", "invalid_request"),
        ("scope", "transition:generic", "invalid_scope"),
        ("scope", "atproto repo:*", "invalid_scope"),
        (
            "client_id",
            "https://localhost/client-metadata.json",
            "invalid_client_metadata",
        ),
        (
            "client_id",
            "https://127.0.0.1/client-metadata.json",
            "invalid_client",
        ),
        (
            "client_id",
            "http://evil.example/client.json",
            "invalid_client",
        ),
    ] {
        let pairs = with(k, v);
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let r = c.post_form(addr, "/oauth/par", &pairs).await;
        assert_eq!(r.status, 400, "{k}={v}: {}", r.text());
        assert_eq!(r.json()["error"], error, "{k}={v}");
    }
    // A repeated parameter and a non-form body.
    let mut pairs: Vec<(&str, &str)> = base.to_vec();
    pairs.push(("scope", "atproto"));
    assert_eq!(
        c.post_form(addr, "/oauth/par", &pairs).await.json()["error"],
        "invalid_request"
    );
    let proof = c.proof("POST", "/oauth/par", None);
    let r = send(
        addr,
        "POST",
        "/oauth/par",
        vec![("DPoP".into(), proof)],
        Some(("application/json".into(), b"{}".to_vec())),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pkce_verifier_or_redirect_is_refused() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let request_uri = c.par(addr, GENERIC).await;
    let code = Browser::default()
        .approve(addr, &request_uri, "alice.test", PASSWORD)
        .await;
    let r = c
        .exchange(
            addr,
            &code,
            "another-verifier-that-is-long-enough-for-pkce-000000",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    // The code was consumed by the failed attempt: it cannot be retried.
    assert_eq!(
        c.exchange(addr, &code, VERIFIER).await.json()["error"],
        "invalid_grant"
    );
    let request_uri = c.par(addr, GENERIC).await;
    let code = Browser::default()
        .approve(addr, &request_uri, "alice.test", PASSWORD)
        .await;
    let r = c
        .post_form(
            addr,
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1/other"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
    // A token request without a DPoP proof.
    let r = send(
        addr,
        "POST",
        "/oauth/token",
        vec![],
        Some(form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", "cod-x"),
        ])),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_dpop_proof");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_limit_what_a_token_may_write() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let narrow_client = "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&scope=atproto%20repo%3Aapp.bsky.feed.like";
    let challenge = challenge(VERIFIER);
    let r = c
        .post_form(
            addr,
            "/oauth/par",
            &[
                ("client_id", narrow_client),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "atproto repo:app.bsky.feed.like"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let request_uri = r.json()["request_uri"].as_str().unwrap().to_owned();
    let mut browser = Browser::default();
    let page = {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", narrow_client);
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
            narrow_client,
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
                ("client_id", narrow_client),
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
            "POST",
            CREATE,
            &access,
            Some(create_body("not allowed")),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"], "ScopeMissingError");
    let like = json!({"repo": ALICE, "collection": "app.bsky.feed.like", "record": {"$type": "app.bsky.feed.like", "subject": {"uri": "at://did:plc:x/app.bsky.feed.post/1", "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}, "createdAt": "2024-01-01T00:00:00.000Z"}});
    let r = c.xrpc(addr, "POST", CREATE, &access, Some(like)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // OAuth tokens never reach account management.
    let r = c
        .xrpc(
            addr,
            "POST",
            "/xrpc/com.atproto.server.createAppPassword",
            &access,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(record_count(&h.node).await, 0);
    // No `blob:` permission: uploads are refused before anything is stored.
    let upload = "/xrpc/com.atproto.repo.uploadBlob";
    let proof = c.proof("POST", upload, Some(&access));
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let r = send(
        addr,
        "POST",
        upload,
        vec![
            ("Authorization".into(), format!("DPoP {access}")),
            ("DPoP".into(), proof),
        ],
        Some(("image/png".to_string(), png)),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"], "ScopeMissingError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_lists_and_revokes_sessions_and_revocation_is_immediate() {
    let h = one().await;
    let addr = h.node.local_addr;
    let mut c = client(&h.node);
    let t = sign_in(&mut c, addr, "alice.test", PASSWORD, GENERIC).await;
    let bearer = vec![("Authorization".to_string(), format!("Bearer {}", h.legacy))];
    let r = send(
        addr,
        "GET",
        "/xrpc/dev.pocketpds.oauth.listSessions",
        bearer.clone(),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sessions = r.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["clientId"], CLIENT_ID);
    // An OAuth token may not list or revoke sessions.
    assert_eq!(
        c.xrpc(
            addr,
            "GET",
            "/xrpc/dev.pocketpds.oauth.listSessions",
            &t.access,
            None
        )
        .await
        .status,
        400
    );
    let id = sessions[0]["id"].as_str().unwrap();
    let r = send(
        addr,
        "POST",
        "/xrpc/dev.pocketpds.oauth.revokeSession",
        bearer.clone(),
        Some((
            "application/json".into(),
            json!({"id": id}).to_string().into_bytes(),
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        c.xrpc(addr, "GET", GET_SESSION, &t.access, None)
            .await
            .status,
        401
    );
    assert_eq!(
        c.refresh(addr, &t.refresh).await.json()["error"],
        "invalid_grant"
    );
    let r = send(
        addr,
        "POST",
        "/xrpc/dev.pocketpds.oauth.revokeSession",
        bearer,
        Some((
            "application/json".into(),
            json!({"id": id}).to_string().into_bytes(),
        )),
    )
    .await;
    assert_eq!(r.status, 400);
    // RFC 7009 revocation of an unknown token is 200 and changes nothing.
    let r = c
        .post_form(
            addr,
            "/oauth/revoke",
            &[("client_id", CLIENT_ID), ("token", "ref-nothing")],
        )
        .await;
    assert_eq!(r.status, 200);
}

/// The browsers an account stays signed in on are listed under the client address every other rule
/// counts by: a browser that reaches the node directly and writes its own `X-Forwarded-For` is
/// listed under its socket's peer; behind a trusted proxy, under the address the proxy forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_forwarded_for_does_not_name_the_device_but_a_trusted_proxy_s_does() {
    for (trusted, listed) in [(false, "127.0.0.1"), (true, "203.0.113.9")] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = local_config(dir.path());
        if trusted {
            config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        }
        let node = node::start(config).await.unwrap();
        let (_, legacy) = seed_account(&node, ALICE, "alice.test").await;
        let addr = node.local_addr;
        let request_uri = client(&node).par(addr, GENERIC).await;
        let mut browser = Browser {
            headers: vec![("X-Forwarded-For".into(), "203.0.113.9".into())],
            remember: true,
            ..Browser::default()
        };
        browser
            .approve(addr, &request_uri, "alice.test", PASSWORD)
            .await;
        let r = send(
            addr,
            "GET",
            "/xrpc/dev.pocketpds.oauth.listSessions",
            vec![("Authorization".into(), format!("Bearer {legacy}"))],
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let devices = r.json()["devices"].as_array().unwrap().clone();
        assert_eq!(devices.len(), 1, "{devices:?}");
        assert_eq!(devices[0]["ipAddress"], listed, "trusted proxy: {trusted}");
        node.stop().await.unwrap();
    }
}

/// Two nodes on one database behind one public URL (a load balancer's): the nonce one node hands
/// out works on the other, a proof used on one is refused on the other, and a session revoked
/// through one is refused by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_dpop_proof_is_refused_on_the_other_node() {
    let dir = tempfile::tempdir().unwrap();
    let shared_url = "http://127.0.0.1:9";
    let config = || {
        let mut c = local_config(dir.path());
        c.public_url = shared_url.into();
        c
    };
    let a = node::start(config()).await.unwrap();
    let b = node::start(config()).await.unwrap();
    assert!(!a.state.oauth.replay.is_memory());
    seed_account(&a, ALICE, "alice.test").await;
    let mut c = DpopClient::new(shared_url);
    // Sign in through node A, use the token on node B.
    let t = sign_in(&mut c, a.local_addr, "alice.test", PASSWORD, GENERIC).await;
    let proof = c.proof("POST", CREATE, Some(&t.access));
    let r = c
        .xrpc_with_proof(
            b.local_addr,
            "POST",
            CREATE,
            &t.access,
            &proof,
            Some(create_body("via b")),
        )
        .await;
    assert_eq!(
        r.status,
        200,
        "a nonce from node A works on node B: {}",
        r.text()
    );
    let r = c
        .xrpc_with_proof(
            a.local_addr,
            "POST",
            CREATE,
            &t.access,
            &proof,
            Some(create_body("replay on a")),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_dpop_proof");
    assert_eq!(record_count(&a).await, 1);
    // Refresh on B, then the old refresh token on A revokes the session everywhere.
    c.learn(&r);
    let r = c.refresh(b.local_addr, &t.refresh).await;
    assert_eq!(r.status, 200);
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        c.refresh(a.local_addr, &t.refresh).await.json()["error"],
        "invalid_grant"
    );
    assert_eq!(
        c.xrpc(b.local_addr, "GET", GET_SESSION, &access, None)
            .await
            .status,
        401
    );
}
