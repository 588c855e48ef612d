//! `com.atproto.server.getServiceAuth` issues tokens another service can verify with the account's
//! signing key, bound to the audience and method asked for, within the reference's expiry bounds.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::http::{request_with_headers, Response};
use common::node::{local_config, seed_account};

const DID: &str = "did:plc:cccccccccccccccccccccccc";

fn get(addr: std::net::SocketAddr, path: String, token: &str) -> Response {
    request_with_headers(
        addr,
        "GET",
        &path,
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    )
}

fn claims(token: &str) -> serde_json::Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tokens_are_signed_by_the_account_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(local_config(dir.path()))
        .await
        .unwrap();
    let (key, token) = seed_account(&node, DID, "svc.test").await;
    let addr = node.local_addr;
    let now = node.state.sessions.now();
    let base = "/xrpc/com.atproto.server.getServiceAuth";

    let res = tokio::task::spawn_blocking({
        let token = token.clone();
        move || {
            get(
                addr,
                format!(
                    "{base}?aud=did:web:api.example%23bsky_appview&lxm=app.bsky.feed.getTimeline"
                ),
                &token,
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(res.status, 200, "{}", res.text());
    let jwt = res.json()["token"].as_str().unwrap().to_owned();
    let (signed, signature) = jwt.rsplit_once('.').unwrap();
    key.public_key()
        .verify(
            signed.as_bytes(),
            &URL_SAFE_NO_PAD.decode(signature).unwrap(),
        )
        .expect("the token is signed with the account's repository key");
    let c = claims(&jwt);
    assert_eq!(c["iss"], DID);
    assert_eq!(c["aud"], "did:web:api.example#bsky_appview");
    assert_eq!(c["lxm"], "app.bsky.feed.getTimeline");
    let exp = c["exp"].as_i64().unwrap();
    assert!(
        (now + 59..=now + 62).contains(&exp),
        "default lifetime is a minute"
    );

    let cases = [
        (
            format!("{base}?aud=did:web:api.example&exp={}", now - 10),
            400,
            "BadExpiration",
        ),
        (
            format!(
                "{base}?aud=did:web:api.example&lxm=a.b.c&exp={}",
                now + 7200
            ),
            400,
            "BadExpiration",
        ),
        (
            format!("{base}?aud=did:web:api.example&exp={}", now + 600),
            400,
            "BadExpiration",
        ),
        (format!("{base}?aud=not-a-did"), 400, "InvalidRequest"),
        (
            format!("{base}?aud=did:web:api.example&lxm=not%20an%20nsid"),
            400,
            "InvalidRequest",
        ),
        (base.to_string(), 400, "InvalidRequest"),
    ];
    for (path, status, error) in cases {
        let token = token.clone();
        let res = tokio::task::spawn_blocking(move || get(addr, path, &token))
            .await
            .unwrap();
        assert_eq!(res.status, status, "{}", res.text());
        assert_eq!(res.json()["error"], error, "{}", res.text());
    }
    // A method-bound token may live up to an hour.
    let res = tokio::task::spawn_blocking(move || {
        get(
            addr,
            format!(
                "{base}?aud=did:web:api.example&lxm=a.b.c&exp={}",
                now + 3000
            ),
            &token,
        )
    })
    .await
    .unwrap();
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        claims(res.json()["token"].as_str().unwrap())["exp"],
        now + 3000
    );
    // Without a token: 401.
    let res = tokio::task::spawn_blocking(move || {
        request_with_headers(
            addr,
            "GET",
            &format!("{base}?aud=did:web:api.example"),
            &[],
            None,
        )
    })
    .await
    .unwrap();
    assert_eq!(res.status, 401);
}
