//! `pocketpds account export|import` against a real PLC directory: an account's repository and
//! blobs go to a folder from one node's database and into a deactivated account (one moving in) of
//! another, verified as importRepo verifies; the progress goes to stderr.

#[path = "../../core/tests/common/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../../core/tests/common/plc.rs"]
mod plc;

use std::path::Path;
use std::process::{Command, Output};

use pocketpds_core::config::Config;
use pocketpds_core::node;
use serde_json::{json, Value};

fn config(dir: &Path, plc: &str) -> Config {
    let plc = plc.to_owned();
    let mut c = Config::from_vars(move |k| match k {
        "PDS_PORT" => Some("0".into()),
        "PDS_DEV_MODE" => Some("true".into()),
        "PDS_DID_PLC_URL" => Some(plc.clone()),
        _ => None,
    })
    .unwrap();
    c.data_directory = dir.to_path_buf();
    c
}

fn pocketpds(dir: &Path, plc_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pocketpds"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PDS_DATA_DIRECTORY", dir)
        .env("PDS_DID_PLC_URL", plc_url)
        .env("PDS_DEV_MODE", "true")
        .env("PDS_LOG_LEVEL", "warn")
        .output()
        .expect("run pocketpds")
}

async fn call(
    addr: std::net::SocketAddr,
    method: &'static str,
    path: String,
    auth: Option<String>,
    body: Option<(&'static str, Vec<u8>)>,
) -> Value {
    tokio::task::spawn_blocking(move || {
        let auth = auth.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let r = http::request_with_headers(
            addr,
            method,
            &path,
            &headers,
            body.as_ref().map(|(t, b)| (*t, b.as_slice())),
        );
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()
    })
    .await
    .unwrap()
}

fn json_body(value: Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", serde_json::to_vec(&value).unwrap()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_exported_to_a_folder_and_imported_into_an_account_moving_in() {
    let plc = plc::PlcServer::start();
    let (dir_a, dir_b, folder) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = node::start(config(dir_a.path(), &plc.url)).await.unwrap();
    let account = call(
        a.local_addr,
        "POST",
        "/xrpc/com.atproto.server.createAccount".into(),
        None,
        json_body(json!({"handle": "alice.test", "password": "hunter2hunter2"})),
    )
    .await;
    let did = account["did"].as_str().unwrap().to_owned();
    let token = account["accessJwt"].as_str().unwrap().to_owned();
    let image = b"GIF89a and then some bytes".to_vec();
    let blob = call(
        a.local_addr,
        "POST",
        "/xrpc/com.atproto.repo.uploadBlob".into(),
        Some(token.clone()),
        Some(("image/gif", image.clone())),
    )
    .await["blob"]
        .clone();
    for i in 0..20 {
        let mut record = json!({"$type": "app.bsky.feed.post", "text": format!("post {i}"), "createdAt": "2024-01-01T00:00:00.000Z"});
        if i == 3 {
            record["embed"] =
                json!({"$type": "app.bsky.embed.images", "images": [{"alt": "", "image": blob}]});
        }
        call(
            a.local_addr,
            "POST",
            "/xrpc/com.atproto.repo.createRecord".into(),
            Some(token.clone()),
            json_body(json!({"repo": did, "collection": "app.bsky.feed.post", "record": record})),
        )
        .await;
    }
    let service_token = call(
        a.local_addr,
        "GET",
        "/xrpc/com.atproto.server.getServiceAuth?aud=did:web:localhost&lxm=com.atproto.server.createAccount".into(),
        Some(token.clone()),
        None,
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    a.stop().await.unwrap();

    let exported = pocketpds(
        dir_a.path(),
        &plc.url,
        &[
            "account",
            "export",
            "--did",
            &did,
            "--out",
            folder.path().to_str().unwrap(),
        ],
    );
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    assert!(
        text(&exported.stderr).contains("blobs: 1/1"),
        "{}",
        text(&exported.stderr)
    );
    let cid = blob["ref"]["$link"].as_str().unwrap();
    assert_eq!(
        std::fs::read(folder.path().join("blobs").join(cid)).unwrap(),
        image
    );

    // The account moves in on another node's database, deactivated.
    let b = node::start(config(dir_b.path(), &plc.url)).await.unwrap();
    let moving = call(
        b.local_addr,
        "POST",
        "/xrpc/com.atproto.server.createAccount".into(),
        Some(service_token),
        json_body(json!({"did": did, "handle": "alice.test", "password": "hunter2hunter2"})),
    )
    .await;
    let new_token = moving["accessJwt"].as_str().unwrap().to_owned();
    b.stop().await.unwrap();

    // A folder with a damaged repository is refused, and nothing is stored.
    let damaged = tempfile::tempdir().unwrap();
    std::fs::write(damaged.path().join("repo.car"), b"not a car").unwrap();
    let refused = pocketpds(
        dir_b.path(),
        &plc.url,
        &[
            "account",
            "import",
            "--did",
            &did,
            "--from",
            damaged.path().to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("Invalid repository"),
        "{}",
        text(&refused.stderr)
    );

    let imported = pocketpds(
        dir_b.path(),
        &plc.url,
        &[
            "account",
            "import",
            "--did",
            &did,
            "--from",
            folder.path().to_str().unwrap(),
        ],
    );
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert!(
        text(&imported.stdout).contains("20 records"),
        "{}",
        text(&imported.stdout)
    );
    assert!(
        text(&imported.stderr).contains("blobs: 1/1"),
        "{}",
        text(&imported.stderr)
    );

    let b = node::start(config(dir_b.path(), &plc.url)).await.unwrap();
    let status = call(
        b.local_addr,
        "GET",
        "/xrpc/com.atproto.server.checkAccountStatus".into(),
        Some(new_token.clone()),
        None,
    )
    .await;
    assert_eq!(status["activated"], false);
    assert_eq!(status["indexedRecords"], 20);
    let missing = call(
        b.local_addr,
        "GET",
        "/xrpc/com.atproto.repo.listMissingBlobs".into(),
        Some(new_token),
        None,
    )
    .await;
    assert_eq!(missing["blobs"], json!([]));
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_mid_transfer_resumes_without_sending_again_what_it_stored() {
    const BLOBS: usize = 40;
    let plc = plc::PlcServer::start();
    let (dir_a, dir_b, folder) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = node::start(config(dir_a.path(), &plc.url)).await.unwrap();
    let account = call(
        a.local_addr,
        "POST",
        "/xrpc/com.atproto.server.createAccount".into(),
        None,
        json_body(json!({"handle": "alice.test", "password": "hunter2hunter2"})),
    )
    .await;
    let did = account["did"].as_str().unwrap().to_owned();
    let token = account["accessJwt"].as_str().unwrap().to_owned();
    for i in 0..BLOBS {
        // A different picture each time, 200 kB, so that each upload takes a moment.
        let mut image = b"\x89PNG\r\n\x1a\n".to_vec();
        image.extend((0..200_000u32).map(|j| (j.wrapping_mul(31) ^ i as u32) as u8));
        let blob = call(
            a.local_addr,
            "POST",
            "/xrpc/com.atproto.repo.uploadBlob".into(),
            Some(token.clone()),
            Some(("image/png", image)),
        )
        .await["blob"]
            .clone();
        let record = json!({"$type": "app.bsky.feed.post", "text": format!("picture {i}"),
            "createdAt": "2024-01-01T00:00:00.000Z",
            "embed": {"$type": "app.bsky.embed.images", "images": [{"alt": "", "image": blob}]}});
        call(
            a.local_addr,
            "POST",
            "/xrpc/com.atproto.repo.createRecord".into(),
            Some(token.clone()),
            json_body(json!({"repo": did, "collection": "app.bsky.feed.post", "record": record})),
        )
        .await;
    }
    let service_token = call(
        a.local_addr,
        "GET",
        "/xrpc/com.atproto.server.getServiceAuth?aud=did:web:localhost&lxm=com.atproto.server.createAccount".into(),
        Some(token),
        None,
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    a.stop().await.unwrap();
    let exported = pocketpds(
        dir_a.path(),
        &plc.url,
        &[
            "account",
            "export",
            "--did",
            &did,
            "--out",
            folder.path().to_str().unwrap(),
        ],
    );
    assert!(exported.status.success(), "{}", text(&exported.stderr));

    let b = node::start(config(dir_b.path(), &plc.url)).await.unwrap();
    let moving = call(
        b.local_addr,
        "POST",
        "/xrpc/com.atproto.server.createAccount".into(),
        Some(service_token),
        json_body(json!({"did": did, "handle": "alice.test", "password": "hunter2hunter2"})),
    )
    .await;
    let new_token = moving["accessJwt"].as_str().unwrap().to_owned();
    b.stop().await.unwrap();

    // The first run is killed (SIGKILL) once its third blob is stored.
    let import_args = [
        "account",
        "import",
        "--did",
        &did,
        "--from",
        folder.path().to_str().unwrap(),
    ];
    let mut first = Command::new(env!("CARGO_BIN_EXE_pocketpds"))
        .args(import_args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PDS_DATA_DIRECTORY", dir_b.path())
        .env("PDS_DID_PLC_URL", &plc.url)
        .env("PDS_DEV_MODE", "true")
        .env("PDS_LOG_LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run pocketpds");
    let stderr = first.stderr.take().unwrap();
    let mut seen = String::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("blobs: 3/") {
            first.kill().unwrap();
            break;
        }
    }
    let status = first.wait().unwrap();
    assert!(
        !status.success(),
        "the first run ended before it was killed:\n{seen}"
    );

    // The second run finds the repository stored and the blobs of the first run present.
    let second = pocketpds(dir_b.path(), &plc.url, &import_args);
    let out = text(&second.stdout);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(out.contains("already holds the repository"), "{out}");
    let counts = out
        .lines()
        .find_map(|l| l.strip_prefix("blobs: "))
        .unwrap_or_else(|| panic!("{out}"));
    let numbers: Vec<usize> = counts
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let (uploaded, present) = (numbers[0], numbers[2]);
    assert!(present >= 3, "{out}");
    assert_eq!(uploaded + present, BLOBS, "{out}");

    let b = node::start(config(dir_b.path(), &plc.url)).await.unwrap();
    let status = call(
        b.local_addr,
        "GET",
        "/xrpc/com.atproto.server.checkAccountStatus".into(),
        Some(new_token.clone()),
        None,
    )
    .await;
    assert_eq!(status["indexedRecords"], BLOBS);
    assert_eq!(status["expectedBlobs"], BLOBS);
    assert_eq!(status["importedBlobs"], BLOBS);
    let missing = call(
        b.local_addr,
        "GET",
        "/xrpc/com.atproto.repo.listMissingBlobs".into(),
        Some(new_token),
        None,
    )
    .await;
    assert_eq!(missing["blobs"], json!([]));
    b.stop().await.unwrap();
}
