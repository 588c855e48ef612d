//! OAuth benchmark: DPoP proofs verified per second (signature, claims, nonce; one thread), and the
//! latency an OAuth (DPoP) access token adds to an authenticated read over a legacy session JWT, at
//! p50 and p99, measured over HTTP on loopback against a running node — once with the node-private
//! replay cache (memory) and once with the shared one (the database table a cluster uses).
//!
//! The authenticated read is `com.atproto.server.getSession`: `com.atproto.repo.getRecord` takes no
//! authentication (in the Lexicon and in the reference PDS), so credentials sent to it would not be
//! checked. Proofs are signed before the clock starts, so only the server's work is measured.
//!
//! Run with `cargo run --release -p pocketpds-core --example oauth_bench` (optionally `-- <requests>`;
//! default 2000). Figures are printed, never asserted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pocketpds_core::auth::{create_account, CreateAccount};
use pocketpds_core::config::Config;
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::node::{self, RunningNode};
use pocketpds_core::oauth::dpop::{verify_proof, ProofContext};
use pocketpds_core::oauth::jws;
use pocketpds_core::oauth::nonce::DpopNonces;
use pocketpds_core::oauth::token::{AccessTokenClaims, Confirmation};
use pocketpds_core::storage::oauth_store::OAuthSessionRow;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

const DID: &str = "did:plc:bench7xq2vsrgwgnqg5dqgfv";
const PATH: &str = "/xrpc/com.atproto.server.getSession";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn proof(key: &Keypair, url: &str, nonce: &str, ath: Option<&str>, i: usize) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), json!("dpop+jwt"));
    header.insert("jwk".into(), key.public_key().to_jwk().to_value());
    let mut claims = json!({
        "jti": format!("bench-{i}-{}", rand::random::<u64>()),
        "htm": "GET",
        "htu": url,
        "iat": now_ms() / 1000,
        "nonce": nonce,
    });
    if let Some(ath) = ath {
        claims["ath"] = Value::from(ath);
    }
    jws::sign_es256(key, header, &claims).expect("sign")
}

fn proofs_per_second(n: usize) {
    let key = Keypair::generate(Algorithm::P256).expect("key");
    let nonces = DpopNonces::new(&[3u8; 32]).expect("nonces");
    let url = "https://pds.example.com/xrpc/com.atproto.repo.createRecord";
    let nonce = nonces.next(now_ms());
    let proofs: Vec<String> = (0..n).map(|i| proof(&key, url, &nonce, None, i)).collect();
    let start = Instant::now();
    for p in &proofs {
        let ctx = ProofContext {
            method: "GET",
            url,
            access_token: None,
            now_ms: now_ms(),
        };
        verify_proof(p, &ctx, &nonces).expect("valid proof");
    }
    let elapsed = start.elapsed();
    println!(
        "DPoP proof verification: {:.0} proofs/s ({:.1} µs each, one thread)",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            reader: BufReader::new(stream),
        }
    }

    fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> u16 {
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.reader
            .get_mut()
            .write_all(req.as_bytes())
            .expect("write");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status");
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let mut len = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                if n.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().expect("length");
                }
            }
        }
        let mut body = vec![0u8; len];
        self.reader.read_exact(&mut body).expect("body");
        status
    }
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99))
}

async fn start_node(dir: &std::path::Path, public_url: Option<&str>) -> RunningNode {
    let mut config =
        Config::from_vars(|k| (k == "PDS_PORT").then(|| "0".to_string())).expect("config");
    config.data_directory = dir.to_path_buf();
    if let Some(url) = public_url {
        config.public_url = url.to_owned();
    }
    node::start(config).await.expect("node")
}

/// A legacy access token and an OAuth access token (with its DPoP key) for the account.
async fn credentials(node: &RunningNode) -> (String, String, Keypair) {
    let state = &node.state;
    let account = match state.accounts.account_by_did(DID).await.expect("db") {
        Some(a) => a,
        None => create_account(
            &state.accounts,
            &CreateAccount {
                did: DID,
                handle: "bench.test",
                email: None,
                password: "correct horse battery staple",
                signing_key: &Keypair::generate(Algorithm::K256).expect("key"),
                invite_code: None,
                invite_required: false,
                deactivated: false,
            },
            state.sessions.now(),
        )
        .await
        .expect("account"),
    };
    let legacy = state
        .sessions
        .create_session(&account, None)
        .await
        .expect("session")
        .access_jwt;
    let key = Keypair::generate(Algorithm::P256).expect("key");
    let jkt = key.public_key().jwk_thumbprint();
    let now = state.oauth.now();
    let token_id = format!("tok-bench-{}", rand::random::<u64>());
    state
        .oauth
        .store
        .insert_session(&OAuthSessionRow {
            id: format!("ses-bench-{}", rand::random::<u64>()),
            did: DID.into(),
            client_id: "http://localhost".into(),
            client_auth: "{\"method\":\"none\"}".into(),
            dpop_jkt: jkt.clone(),
            scope: "atproto transition:generic".into(),
            code: format!("cod-bench-{}", rand::random::<u64>()),
            refresh_hash: vec![0; 32],
            token_id: token_id.clone(),
            device_id: None,
            user_agent: None,
            created_at: now,
            updated_at: now,
            refresh_expires_at: now + 3600,
            expires_at: now + 3600,
        })
        .await
        .expect("oauth session");
    let access = state
        .oauth
        .signer
        .sign(&AccessTokenClaims {
            iss: state.oauth.issuer.clone(),
            aud: state.oauth.signer.audience().to_owned(),
            sub: DID.into(),
            client_id: "http://localhost".into(),
            scope: "atproto transition:generic".into(),
            jti: token_id,
            iat: now,
            exp: now + 900,
            cnf: Confirmation { jkt },
        })
        .expect("token");
    (legacy, access, key)
}

fn measure(
    node: &RunningNode,
    legacy: &str,
    access: &str,
    key: &Keypair,
    n: usize,
) -> [(Duration, Duration); 2] {
    let addr = node.local_addr;
    let url = format!("{}{PATH}", node.state.oauth.issuer);
    let nonce = node.state.oauth.next_nonce();
    let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(access.as_bytes()));
    let proofs: Vec<String> = (0..n + 100)
        .map(|i| proof(key, &url, &nonce, Some(&ath), i))
        .collect();
    let bearer = format!("Bearer {legacy}");
    let dpop = format!("DPoP {access}");
    let mut conn = Conn::open(addr);
    for p in proofs.iter().take(100) {
        assert_eq!(conn.get(PATH, &[("Authorization", &bearer)]), 200);
        assert_eq!(
            conn.get(PATH, &[("Authorization", &dpop), ("DPoP", p)]),
            200
        );
    }
    let mut jwt = Vec::with_capacity(n);
    let mut oauth = Vec::with_capacity(n);
    for p in proofs.iter().skip(100) {
        let t = Instant::now();
        assert_eq!(conn.get(PATH, &[("Authorization", &bearer)]), 200);
        jwt.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(
            conn.get(PATH, &[("Authorization", &dpop), ("DPoP", p)]),
            200
        );
        oauth.push(t.elapsed());
    }
    [percentiles(jwt), percentiles(oauth)]
}

fn report(label: &str, [(jp50, jp99), (dp50, dp99)]: [(Duration, Duration); 2]) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("{label}:");
    println!(
        "  session JWT (Bearer): p50 {:.0} µs, p99 {:.0} µs",
        us(jp50),
        us(jp99)
    );
    println!(
        "  OAuth DPoP:           p50 {:.0} µs, p99 {:.0} µs",
        us(dp50),
        us(dp99)
    );
    println!(
        "  added by DPoP:        p50 {:+.0} µs, p99 {:+.0} µs",
        us(dp50) - us(jp50),
        us(dp99) - us(jp99)
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    proofs_per_second(n.max(1000));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    // Node-private public URL: the replay cache is in memory.
    let node = runtime.block_on(start_node(dir.path(), None));
    let (legacy, access, key) = runtime.block_on(credentials(&node));
    let figures = measure(&node, &legacy, &access, &key, n);
    report(
        &format!("authenticated getSession, {n} requests each, replay cache in memory (node-private URL)"),
        figures,
    );
    runtime.block_on(node.stop()).expect("stop");
    // A shared public URL: the replay cache is the database table.
    let node = runtime.block_on(start_node(dir.path(), Some("http://127.0.0.1:9")));
    let (legacy, access, key) = runtime.block_on(credentials(&node));
    let figures = measure(&node, &legacy, &access, &key, n);
    report(
        &format!(
            "authenticated getSession, {n} requests each, replay cache in the shared database"
        ),
        figures,
    );
    runtime.block_on(node.stop()).expect("stop");
}
