//! A node killed with SIGKILL during sustained writes loses no acknowledged write: after a restart
//! on the same data directory every acknowledged record is there with its CID, and the exported
//! repository verifies against the account's key.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pocketpds_core::auth::{create_account, CreateAccount};
use pocketpds_core::config::Config;
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::repo::car::{import_car, CarLimits};
use pocketpds_core::repo::MemoryBlockStore;
use pocketpds_core::storage::sealing::key_file;
use pocketpds_core::storage::{AccountStore, Announce, RepoStore, Storage};
use pocketpds_core::syntax::Did;

const DID: &str = "did:plc:dddddddddddddddddddddddd";
const PASSWORD: &str = "durable password";

/// The node process; killed when dropped.
struct Node(Child, String);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pocketpds"))
        .args(["serve", "--port", "0"])
        .env("PDS_DATA_DIRECTORY", dir)
        .env("PDS_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn pocketpds");
    let mut lines = BufReader::new(child.stdout.take().expect("piped"));
    let mut banner = String::new();
    lines.read_line(&mut banner).expect("banner");
    let addr = banner
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected banner: {banner}"))
        .to_owned();
    Node(child, addr)
}

/// One request on a fresh connection; `None` when the node is gone.
fn call(
    addr: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(auth) = auth {
        req.push_str(&format!("Authorization: Bearer {auth}\r\n"));
    }
    let body = body.unwrap_or("");
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    // The account is made through the library on the node's database before the node starts.
    let config = Config {
        data_directory: dir.path().to_path_buf(),
        ..Config::from_vars(|_| None).unwrap()
    };
    let key = Keypair::generate(Algorithm::K256).unwrap();
    {
        let storage = Storage::open_local(&config.database_path()).await.unwrap();
        let sealing = key_file::load_or_create(dir.path()).unwrap();
        let accounts = AccountStore::new(storage.connect().await.unwrap(), sealing);
        create_account(
            &accounts,
            &CreateAccount {
                did: DID,
                handle: "durable.test",
                email: None,
                password: PASSWORD,
                signing_key: &key,
                invite_code: None,
                invite_required: false,
                deactivated: false,
            },
            0,
        )
        .await
        .unwrap();
        RepoStore::new(storage.connect().await.unwrap())
            .create_repo(
                &Did::parse(DID).unwrap(),
                &key,
                Announce::NewAccount {
                    handle: Some("durable.test"),
                },
            )
            .await
            .unwrap();
    }

    let node = start(dir.path());
    let addr = node.1.clone();
    let login = format!(r#"{{"identifier":"{DID}","password":"{PASSWORD}"}}"#);
    let (status, body) = call(
        &addr,
        "POST",
        "/xrpc/com.atproto.server.createSession",
        None,
        Some(&login),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let token = json(&body)["accessJwt"].as_str().unwrap().to_owned();

    // Eight writers until the node dies; each remembers what was acknowledged.
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let dead = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (addr, token) = (addr.clone(), token.clone());
        let (acknowledged, dead) = (acknowledged.clone(), dead.clone());
        writers.push(std::thread::spawn(move || {
            let mut n = 0;
            while !dead.load(Ordering::SeqCst) {
                n += 1;
                let body = format!(
                    r#"{{"repo":"{DID}","collection":"app.bsky.feed.post","record":{{"$type":"app.bsky.feed.post","text":"writer {w} post {n}","createdAt":"2026-11-24T00:00:00.000Z"}}}}"#
                );
                match call(&addr, "POST", "/xrpc/com.atproto.repo.createRecord", Some(&token), Some(&body)) {
                    Some((200, body)) => {
                        let v = json(&body);
                        let uri = v["uri"].as_str().unwrap().to_owned();
                        let cid = v["cid"].as_str().unwrap().to_owned();
                        acknowledged.lock().unwrap().push((uri, cid));
                    }
                    Some((status, body)) => panic!("write refused: {status} {body}"),
                    None => {}
                }
            }
        }));
    }
    // Let writes run, then kill the node without warning.
    while acknowledged.lock().unwrap().len() < 300 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut node = node;
    node.0.kill().unwrap();
    node.0.wait().unwrap();
    dead.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    drop(node);
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!("{} writes acknowledged before SIGKILL", acknowledged.len());

    let node = start(dir.path());
    let addr = node.1.clone();
    for (uri, cid) in &acknowledged {
        let rkey = uri.rsplit('/').next().unwrap();
        let path = format!(
            "/xrpc/com.atproto.repo.getRecord?repo={DID}&collection=app.bsky.feed.post&rkey={rkey}"
        );
        let (status, body) = call(&addr, "GET", &path, None, None).unwrap();
        assert_eq!(status, 200, "acknowledged record {uri} lost: {body}");
        assert_eq!(json(&body)["cid"].as_str(), Some(cid.as_str()));
    }
    // The whole repository exports and verifies, and holds at least the acknowledged records.
    let car = {
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET /xrpc/com.atproto.sync.getRepo?did={DID} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&out[..split]).to_lowercase();
        let body = out[split + 4..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            dechunk(&body)
        } else {
            body
        }
    };
    let store = MemoryBlockStore::new();
    let verified = import_car(
        &car[..],
        CarLimits::default(),
        &store,
        DID,
        &key.public_key(),
    )
    .await
    .expect("the repository verifies after the crash");
    assert!(
        verified.records >= acknowledged.len() as u64,
        "{} records < {}",
        verified.records,
        acknowledged.len()
    );
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap().trim(), 16)
                .unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}
