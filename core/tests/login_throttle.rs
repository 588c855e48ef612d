//! Login throttling: failed passwords are limited per account and per client address, counted in
//! the shared database (two nodes on one database share one allowance), refused with 429
//! `RateLimitExceeded` and the `RateLimit-*` headers, and the window ends.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http::{request_with_headers, Response};
use common::node::{local_config, seed_account, PASSWORD};
use pocketpds_core::config::Config;

const WINDOW_SECS: u64 = 10;
const PER_ACCOUNT: u64 = 10;
const PER_ADDRESS: u64 = 30;
const ALICE: &str = "did:plc:throttlealice000000000000";

fn config(dir: &std::path::Path, trust_loopback_proxy: bool) -> Config {
    let mut c = local_config(dir);
    c.login_window_seconds = WINDOW_SECS;
    c.login_max_failures_per_account = PER_ACCOUNT;
    c.login_max_failures_per_address = PER_ADDRESS;
    if trust_loopback_proxy {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    }
    c
}

/// `createSession` from the address `from` (as a trusted proxy would forward it).
fn login(addr: SocketAddr, identifier: &str, password: &str, from: Option<&str>) -> Response {
    let body = serde_json::json!({ "identifier": identifier, "password": password }).to_string();
    let mut headers = Vec::new();
    if let Some(from) = from {
        headers.push(("X-Forwarded-For", from));
    }
    request_with_headers(
        addr,
        "POST",
        "/xrpc/com.atproto.server.createSession",
        &headers,
        Some(("application/json", body.as_bytes())),
    )
}

/// Runs `attempts` logins off the runtime and returns their statuses with the last refusal.
async fn attempts(
    addr: SocketAddr,
    each: impl Fn(usize) -> (String, String, Option<String>) + Send + 'static,
    count: usize,
) -> (Vec<u16>, Option<Response>) {
    tokio::task::spawn_blocking(move || {
        let mut statuses = Vec::new();
        let mut refused = None;
        for i in 0..count {
            let (identifier, password, from) = each(i);
            let res = login(addr, &identifier, &password, from.as_deref());
            statuses.push(res.status);
            if res.status == 429 {
                refused = Some(res);
            }
        }
        (statuses, refused)
    })
    .await
    .unwrap()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

async fn wait_for_reset(refused: &Response) {
    let reset: u64 = refused.header("ratelimit-reset").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        reset > now && reset <= now + WINDOW_SECS,
        "reset {reset}, now {now}"
    );
    tokio::time::sleep(Duration::from_secs(reset - now) + Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_wrong_passwords_from_one_address_are_throttled_and_the_window_ends() {
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(config(dir.path(), false))
        .await
        .unwrap();
    seed_account(&node, ALICE, "alice.test").await;
    let addr = node.local_addr;
    let (statuses, refused) = attempts(
        addr,
        |_| ("alice.test".into(), "wrong password".into(), None),
        200,
    )
    .await;
    assert_eq!(count(&statuses, 401), PER_ACCOUNT as usize, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 200 - PER_ACCOUNT as usize);
    let refused = refused.unwrap();
    assert_eq!(refused.json()["error"], "RateLimitExceeded");
    assert_eq!(refused.header("ratelimit-limit"), Some("10"));
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    assert_eq!(refused.header("ratelimit-policy"), Some("10;w=10"));
    // The right password is refused too while the window lasts (else the limit would be an oracle)…
    let (during, _) = attempts(addr, |_| ("alice.test".into(), PASSWORD.into(), None), 1).await;
    assert_eq!(during, vec![429]);
    // …and works once it has ended.
    wait_for_reset(&refused).await;
    let (after, _) = attempts(addr, |_| ("alice.test".into(), PASSWORD.into(), None), 1).await;
    assert_eq!(after, vec![200]);
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_from_many_addresses_are_throttled_per_account() {
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(config(dir.path(), true))
        .await
        .unwrap();
    seed_account(&node, ALICE, "alice.test").await;
    let addr = node.local_addr;
    let (statuses, refused) = attempts(
        addr,
        |i| {
            let from = format!("198.51.{}.{}", i / 250, i % 250 + 1);
            ("alice.test".into(), format!("guess {i}"), Some(from))
        },
        200,
    )
    .await;
    assert_eq!(count(&statuses, 401), PER_ACCOUNT as usize, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 200 - PER_ACCOUNT as usize);
    // Another account is not affected by Alice's window.
    let (other, _) = attempts(
        addr,
        |_| ("nobody.test".into(), "x".into(), Some("192.0.2.1".into())),
        1,
    )
    .await;
    assert_eq!(other, vec![401]);
    wait_for_reset(&refused.unwrap()).await;
    let (after, _) = attempts(
        addr,
        |_| {
            (
                "alice.test".into(),
                PASSWORD.into(),
                Some("192.0.2.9".into()),
            )
        },
        1,
    )
    .await;
    assert_eq!(after, vec![200]);
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_trying_many_accounts_is_throttled_and_a_forged_forwarded_for_does_not_help() {
    let dir = tempfile::tempdir().unwrap();
    // No trusted proxy: the X-Forwarded-For the client writes is ignored.
    let node = pocketpds_core::node::start(config(dir.path(), false))
        .await
        .unwrap();
    let addr = node.local_addr;
    let (statuses, refused) = attempts(
        addr,
        |i| {
            (
                format!("user{i}.test"),
                "guess".into(),
                Some(format!("203.0.113.{}", i + 1)),
            )
        },
        60,
    )
    .await;
    assert_eq!(count(&statuses, 401), PER_ADDRESS as usize, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 60 - PER_ADDRESS as usize);
    assert_eq!(refused.unwrap().header("ratelimit-limit"), Some("30"));
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_share_one_allowance() {
    let dir = tempfile::tempdir().unwrap();
    let first = pocketpds_core::node::start(config(dir.path(), false))
        .await
        .unwrap();
    let second = pocketpds_core::node::start(config(dir.path(), false))
        .await
        .unwrap();
    seed_account(&first, ALICE, "alice.test").await;
    let (a, b) = (first.local_addr, second.local_addr);
    // Round robin, as a load balancer would.
    let statuses = tokio::task::spawn_blocking(move || {
        (0..40)
            .map(|i| login(if i % 2 == 0 { a } else { b }, "alice.test", "wrong", None).status)
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert_eq!(count(&statuses, 401), PER_ACCOUNT as usize, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 40 - PER_ACCOUNT as usize);
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_password_does_not_use_up_the_allowance() {
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(config(dir.path(), false))
        .await
        .unwrap();
    seed_account(&node, ALICE, "alice.test").await;
    let (statuses, _) = attempts(
        node.local_addr,
        |_| ("alice.test".into(), PASSWORD.into(), None),
        (PER_ACCOUNT + 5) as usize,
    )
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_sign_in_page_shares_the_allowance_of_create_session() {
    use common::oauth::{Browser, DpopClient};
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(config(dir.path(), false))
        .await
        .unwrap();
    seed_account(&node, ALICE, "alice.test").await;
    let addr = node.local_addr;
    let (statuses, _) = attempts(
        addr,
        |_| ("alice.test".into(), "wrong password".into(), None),
        PER_ACCOUNT as usize,
    )
    .await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    let mut client = DpopClient::new(&node.state.config.public_url);
    let request_uri = client.par(addr, "atproto transition:generic").await;
    let mut browser = Browser::default();
    let page = browser.open(addr, &request_uri).await;
    let csrf = Browser::csrf(&page);
    let r = browser
        .submit(addr, &request_uri, &csrf, "signin", "alice.test", PASSWORD)
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("Too many failed sign-ins"));
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_sign_in_page_counts_a_direct_client_by_its_peer_whatever_it_forwards() {
    use common::oauth::{Browser, DpopClient};
    let dir = tempfile::tempdir().unwrap();
    // No trusted proxy: every X-Forwarded-For below is the client's own invention.
    let node = pocketpds_core::node::start(config(dir.path(), false))
        .await
        .unwrap();
    seed_account(&node, ALICE, "alice.test").await;
    let addr = node.local_addr;
    let (statuses, _) = attempts(
        addr,
        |i| {
            (
                format!("user{i}.test"),
                "guess".into(),
                Some(format!("203.0.113.{}", i + 1)),
            )
        },
        PER_ADDRESS as usize,
    )
    .await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    // The address's allowance is spent, so the sign-in page refuses even Alice's right password,
    // from a browser that claims yet another address.
    let mut client = DpopClient::new(&node.state.config.public_url);
    let request_uri = client.par(addr, "atproto transition:generic").await;
    let mut browser = Browser {
        headers: vec![("X-Forwarded-For".into(), "198.51.100.77".into())],
        ..Browser::default()
    };
    let page = browser.open(addr, &request_uri).await;
    let csrf = Browser::csrf(&page);
    let r = browser
        .submit(addr, &request_uri, &csrf, "signin", "alice.test", PASSWORD)
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    node.stop().await.unwrap();
}
