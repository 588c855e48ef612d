//! Blobs over HTTP: `uploadBlob` (streamed, limited, MIME-checked), records that reference blobs,
//! `getBlob` (streamed, with safe headers), `listBlobs`, `listMissingBlobs`, and the collection of
//! uploads no record came to reference.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::http::{request_with_headers, send_raw, Response};
use common::node::{local_config, seed_account};
use pocketpds_core::node::RunningNode;
use pocketpds_core::repo::cid::{cid_for_raw, cid_from_str};
use serde_json::{json, Value};

const ALICE: &str = "did:plc:alicealicealicealice00";
const BOB: &str = "did:plc:bobbobbobbobbobbobbob000";
const LIMIT: u64 = 512 * 1024;

struct Fixture {
    node: RunningNode,
    _dir: tempfile::TempDir,
    alice: String,
    bob: String,
}

async fn fixture_with(grace_seconds: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.blob_upload_limit = LIMIT;
    config.blob_grace_seconds = grace_seconds;
    let node = pocketpds_core::node::start(config).await.unwrap();
    let (_, alice) = seed_account(&node, ALICE, "alice.test").await;
    let (_, bob) = seed_account(&node, BOB, "bob.test").await;
    Fixture {
        node,
        _dir: dir,
        alice,
        bob,
    }
}

async fn fixture() -> Fixture {
    fixture_with(3600).await
}

/// A PNG signature followed by `len - 8` bytes of a pattern that depends on `seed`.
fn png(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((8..len).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed)));
    bytes
}

impl Fixture {
    fn addr(&self) -> SocketAddr {
        self.node.local_addr
    }

    async fn send(
        &self,
        method: &'static str,
        path: String,
        token: Option<&str>,
        headers: Vec<(&'static str, String)>,
        body: Option<(String, Vec<u8>)>,
    ) -> Response {
        let addr = self.addr();
        let auth = token.map(|t| format!("Bearer {t}"));
        tokio::task::spawn_blocking(move || {
            let mut all: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            if let Some(a) = &auth {
                all.push(("Authorization", a));
            }
            let body = body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice()));
            request_with_headers(addr, method, &path, &all, body)
        })
        .await
        .unwrap()
    }

    async fn upload(&self, token: &str, content_type: &str, bytes: &[u8]) -> Response {
        self.send(
            "POST",
            "/xrpc/com.atproto.repo.uploadBlob".into(),
            Some(token),
            vec![],
            Some((content_type.to_owned(), bytes.to_vec())),
        )
        .await
    }

    /// Uploads and returns the `blob` object of the answer.
    async fn uploaded(&self, token: &str, content_type: &str, bytes: &[u8]) -> Value {
        let r = self.upload(token, content_type, bytes).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["blob"].clone()
    }

    async fn post(&self, token: &str, method: &str, body: Value) -> Response {
        self.send(
            "POST",
            format!("/xrpc/{method}"),
            Some(token),
            vec![],
            Some(("application/json".into(), body.to_string().into_bytes())),
        )
        .await
    }

    async fn get(&self, path: &str) -> Response {
        self.send("GET", path.to_owned(), None, vec![], None).await
    }

    async fn get_blob(&self, did: &str, cid: &str) -> Response {
        self.get(&format!(
            "/xrpc/com.atproto.sync.getBlob?did={did}&cid={cid}"
        ))
        .await
    }

    async fn head(&self, did: &str) -> Value {
        let r = self
            .get(&format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    async fn count(&self, sql: &str) -> u64 {
        let conn = self.node.state.storage.connection();
        let mut rows = conn.query(sql, ()).await.unwrap();
        rows.next().await.unwrap().unwrap().get::<u64>(0).unwrap()
    }
}

/// A post whose embed shows `images` (blob objects as `uploadBlob` answers them).
fn post_with(images: &[&Value]) -> Value {
    let images: Vec<Value> = images
        .iter()
        .map(|b| json!({"alt": "", "image": b}))
        .collect();
    json!({"$type": "app.bsky.feed.post", "text": "look", "createdAt": "2024-01-01T00:00:00Z",
           "embed": {"$type": "app.bsky.embed.images", "images": images}})
}

fn create(repo: &str, rkey: &str, record: Value) -> Value {
    json!({"repo": repo, "collection": "app.bsky.feed.post", "rkey": rkey, "record": record})
}

fn assert_error(r: &Response, status: u16, error: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.json()["error"], error, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_image_is_served_once_a_record_references_it() {
    let f = fixture().await;
    // Five chunks and a bit: the body streams in and out a chunk at a time.
    let bytes = png(5 * 64 * 1024 + 999, 1);
    let blob = f.uploaded(&f.alice, "image/png", &bytes).await;
    let cid = cid_for_raw(&bytes).to_string();
    assert_eq!(
        blob,
        json!({"$type": "blob", "ref": {"$link": cid}, "mimeType": "image/png", "size": bytes.len()})
    );
    assert_eq!(cid_from_str(&cid).unwrap().codec(), 0x55);

    // Not served, nor listed, until a record references it.
    assert_error(&f.get_blob(ALICE, &cid).await, 400, "InvalidRequest");
    let list = |query: String| {
        let f = &f;
        async move {
            let r = f
                .get(&format!(
                    "/xrpc/com.atproto.sync.listBlobs?did={ALICE}{query}"
                ))
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()
        }
    };
    assert_eq!(list(String::new()).await, json!({"cids": []}));

    let before = f.head(ALICE).await;
    let created = f
        .post(
            &f.alice,
            "com.atproto.repo.createRecord",
            create(ALICE, "3kaaaaaaaapic", post_with(&[&blob])),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text());

    let got = f.get_blob(ALICE, &cid).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(got.body == bytes, "the served bytes differ");
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        got.header("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );
    assert_eq!(
        got.header("content-disposition"),
        Some(format!("attachment; filename=\"{cid}\"").as_str())
    );
    if let Some(length) = got.header("content-length") {
        assert_eq!(length, bytes.len().to_string());
    }

    assert_eq!(
        list(String::new()).await,
        json!({"cids": [cid], "cursor": cid})
    );
    assert_eq!(list(format!("&cursor={cid}")).await, json!({"cids": []}));
    let since_before = before["rev"].as_str().unwrap();
    assert_eq!(
        list(format!("&since={since_before}")).await["cids"],
        json!([cid])
    );
    let rev_after = created.json()["commit"]["rev"].as_str().unwrap().to_owned();
    assert_eq!(
        list(format!("&since={rev_after}")).await,
        json!({"cids": []})
    );
    // Another account does not hold it.
    assert_error(&f.get_blob(BOB, &cid).await, 400, "InvalidRequest");
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_limit_are_refused_with_413_and_leave_nothing() {
    let f = fixture().await;
    let big = png(LIMIT as usize + 1, 2);
    let announced = f.upload(&f.alice, "image/png", &big).await;
    assert_error(&announced, 413, "PayloadTooLarge");

    // The same body without a length, chunked: refused once the limit is passed while reading.
    let mut raw = format!(
        "POST /xrpc/com.atproto.repo.uploadBlob HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: Bearer {}\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n",
        f.alice
    )
    .into_bytes();
    for piece in big.chunks(50_000) {
        raw.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        raw.extend_from_slice(piece);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let addr = f.addr();
    let streamed = tokio::task::spawn_blocking(move || send_raw(addr, &raw))
        .await
        .unwrap();
    assert_error(&streamed, 413, "PayloadTooLarge");
    assert_eq!(f.count("SELECT COUNT(*) FROM blob").await, 0);
    assert_eq!(f.count("SELECT COUNT(*) FROM blob_chunk").await, 0);

    // Exactly at the limit is fine.
    let at_limit = png(LIMIT as usize, 3);
    let blob = f.uploaded(&f.alice, "image/png", &at_limit).await;
    assert_eq!(blob["size"], LIMIT);
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_content_decides_the_type_and_records_must_repeat_it() {
    let f = fixture().await;
    // HTML that claims to be a PNG is refused, and nothing is kept.
    let html = b"<!doctype html><script>alert(document.cookie)</script>";
    assert_error(
        &f.upload(&f.alice, "image/png", html).await,
        400,
        "InvalidRequest",
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM blob").await, 0);
    assert_eq!(f.count("SELECT COUNT(*) FROM blob_chunk").await, 0);
    // A PDF declared as a video is refused too.
    assert_error(
        &f.upload(&f.alice, "video/mp4", b"%PDF-1.7\n...").await,
        400,
        "InvalidRequest",
    );
    // Text declared as text stays text; content nobody recognises keeps its declared type.
    let text = f
        .uploaded(&f.alice, "text/plain; charset=utf-8", b"just words")
        .await;
    assert_eq!(text["mimeType"], "text/plain");

    // A PNG declared as JPEG is a PNG.
    let bytes = png(1000, 4);
    let blob = f.uploaded(&f.alice, "image/jpeg", &bytes).await;
    assert_eq!(blob["mimeType"], "image/png");

    let before = f.head(ALICE).await;
    let mut wrong_type = blob.clone();
    wrong_type["mimeType"] = json!("image/jpeg");
    let refused = f
        .post(
            &f.alice,
            "com.atproto.repo.createRecord",
            create(ALICE, "3kaaaaaaaaaaa", post_with(&[&wrong_type])),
        )
        .await;
    assert_error(&refused, 400, "InvalidMimeType");
    let mut wrong_size = blob.clone();
    wrong_size["size"] = json!(999);
    let refused = f
        .post(
            &f.alice,
            "com.atproto.repo.createRecord",
            create(ALICE, "3kaaaaaaaaaaa", post_with(&[&wrong_size])),
        )
        .await;
    assert_error(&refused, 400, "InvalidSize");
    assert_eq!(
        f.head(ALICE).await,
        before,
        "a refused write changed the repo"
    );

    let accepted = f
        .post(
            &f.alice,
            "com.atproto.repo.createRecord",
            create(ALICE, "3kaaaaaaaaaaa", post_with(&[&blob])),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    let cid = blob["ref"]["$link"].as_str().unwrap();
    let got = f.get_blob(ALICE, cid).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("image/png"));
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_may_only_reference_blobs_their_own_account_uploaded() {
    let f = fixture().await;
    let bobs = f.uploaded(&f.bob, "image/png", &png(2000, 5)).await;
    let before = f.head(ALICE).await;
    let refused = f
        .post(
            &f.alice,
            "com.atproto.repo.createRecord",
            create(ALICE, "3kaaaaastolen", post_with(&[&bobs])),
        )
        .await;
    assert_error(&refused, 400, "BlobNotFound");
    let never_uploaded = json!({"$type": "blob", "ref": {"$link": cid_for_raw(b"nope").to_string()},
                                "mimeType": "image/png", "size": 4});
    let refused = f
        .post(
            &f.alice,
            "com.atproto.repo.applyWrites",
            json!({"repo": ALICE, "writes": [
                {"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post",
                 "rkey": "3kaaaaaaafine", "value": {"$type": "app.bsky.feed.post", "text": "no blob", "createdAt": "2024-01-01T00:00:00Z"}},
                {"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post",
                 "rkey": "3kaaaaaaghost", "value": post_with(&[&never_uploaded])},
            ]}),
        )
        .await;
    assert_error(&refused, 400, "BlobNotFound");
    let legacy = f
        .post(
            &f.alice,
            "com.atproto.repo.putRecord",
            json!({"repo": ALICE, "collection": "app.bsky.actor.profile", "rkey": "self",
                   "record": {"avatar": {"cid": cid_for_raw(b"old").to_string(), "mimeType": "image/jpeg"}}}),
        )
        .await;
    assert_error(&legacy, 400, "InvalidRequest");
    assert_eq!(
        f.head(ALICE).await,
        before,
        "a refused write changed the repo"
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM record_blob").await, 0);
    // Bob's blob is still his, still temporary.
    let cid = bobs["ref"]["$link"].as_str().unwrap();
    assert_error(&f.get_blob(BOB, cid).await, 400, "InvalidRequest");
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_goes_with_the_last_record_that_references_it() {
    let f = fixture().await;
    let bytes = png(70_000, 6);
    let blob = f.uploaded(&f.alice, "image/png", &bytes).await;
    let cid = blob["ref"]["$link"].as_str().unwrap().to_owned();
    let written = f
        .post(
            &f.alice,
            "com.atproto.repo.applyWrites",
            json!({"repo": ALICE, "writes": [
                {"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post",
                 "rkey": "3kaaaaaaaaone", "value": post_with(&[&blob])},
                {"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post",
                 "rkey": "3kaaaaaaaatwo", "value": post_with(&[&blob, &blob])},
            ]}),
        )
        .await;
    assert_eq!(written.status, 200, "{}", written.text());
    assert_eq!(f.get_blob(ALICE, &cid).await.status, 200);

    let deleted = f
        .post(
            &f.alice,
            "com.atproto.repo.deleteRecord",
            json!({"repo": ALICE, "collection": "app.bsky.feed.post", "rkey": "3kaaaaaaaaone"}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(
        f.get_blob(ALICE, &cid).await.status,
        200,
        "still referenced by two"
    );

    // Replacing "two" with a post without the image drops the last reference.
    let replaced = f
        .post(
            &f.alice,
            "com.atproto.repo.putRecord",
            json!({"repo": ALICE, "collection": "app.bsky.feed.post", "rkey": "3kaaaaaaaatwo",
                   "record": {"text": "no picture", "createdAt": "2024-01-01T00:00:00Z"}}),
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    assert_error(&f.get_blob(ALICE, &cid).await, 400, "InvalidRequest");
    assert_eq!(f.count("SELECT COUNT(*) FROM blob").await, 0);
    assert_eq!(f.count("SELECT COUNT(*) FROM blob_chunk").await, 0);
    let listed = f
        .get(&format!("/xrpc/com.atproto.sync.listBlobs?did={ALICE}"))
        .await;
    assert_eq!(listed.json(), json!({"cids": []}));
    // Referencing it again needs a new upload.
    let again = f
        .post(
            &f.alice,
            "com.atproto.repo.createRecord",
            create(ALICE, "3kaaaaaathree", post_with(&[&blob])),
        )
        .await;
    assert_error(&again, 400, "BlobNotFound");
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_no_record_references_are_deleted_after_the_grace_period() {
    let f = fixture_with(1).await;
    let kept = f.uploaded(&f.alice, "image/png", &png(100_000, 7)).await;
    let dropped = f.uploaded(&f.alice, "image/png", &png(100_000, 8)).await;
    let created = f
        .post(
            &f.alice,
            "com.atproto.repo.createRecord",
            create(ALICE, "3kaaaaaaakept", post_with(&[&kept])),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let store = f.node.state.blobs.store();
    let dropped_cid = cid_from_str(dropped["ref"]["$link"].as_str().unwrap()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.blob(ALICE, &dropped_cid).await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the unreferenced upload was never collected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Collected with its chunks; the referenced one stays and is served.
    assert_eq!(f.count("SELECT COUNT(*) FROM blob").await, 1);
    assert_eq!(f.count("SELECT COUNT(*) FROM blob_chunk").await, 2);
    let got = f
        .get_blob(ALICE, kept["ref"]["$link"].as_str().unwrap())
        .await;
    assert_eq!(got.status, 200);
    assert!(got.body == png(100_000, 7));
    // Too late to reference the collected one.
    let late = f
        .post(
            &f.alice,
            "com.atproto.repo.createRecord",
            create(ALICE, "3kaaaaaaalate", post_with(&[&dropped])),
        )
        .await;
    assert_error(&late, 400, "BlobNotFound");
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_blobs_are_listed_for_their_account() {
    let f = fixture().await;
    let path = "/xrpc/com.atproto.repo.listMissingBlobs";
    let r = f
        .send("GET", path.into(), Some(&f.alice), vec![], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"blobs": []}));
    // A reference to a blob the account lacks, as an imported repository leaves them.
    let absent = png(500, 9);
    let cid = cid_for_raw(&absent);
    f.node
        .state
        .storage
        .connection()
        .execute(
            "INSERT INTO record_blob (did, cid, collection, rkey) VALUES (?1, ?2, 'app.bsky.feed.post', 'old')",
            (ALICE, cid.to_bytes()),
        )
        .await
        .unwrap();
    let r = f
        .send("GET", path.into(), Some(&f.alice), vec![], None)
        .await;
    assert_eq!(
        r.json(),
        json!({"blobs": [{"cid": cid.to_string(), "recordUri": format!("at://{ALICE}/app.bsky.feed.post/old")}],
               "cursor": cid.to_string()})
    );
    // Bob sees only his own.
    let r = f.send("GET", path.into(), Some(&f.bob), vec![], None).await;
    assert_eq!(r.json(), json!({"blobs": []}));
    // Uploading it fills the gap, and being referenced it is served at once.
    f.uploaded(&f.alice, "image/png", &absent).await;
    let r = f
        .send("GET", path.into(), Some(&f.alice), vec![], None)
        .await;
    assert_eq!(r.json(), json!({"blobs": []}));
    assert_eq!(f.get_blob(ALICE, &cid.to_string()).await.status, 200);
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_blob_requests_get_the_reference_errors() {
    let f = fixture().await;
    let upload = "/xrpc/com.atproto.repo.uploadBlob".to_owned();
    let png_body = Some(("image/png".to_owned(), png(100, 10)));
    let r = f
        .send("POST", upload.clone(), None, vec![], png_body.clone())
        .await;
    assert_error(&r, 401, "AuthenticationRequired");
    let r = f
        .send(
            "POST",
            upload.clone(),
            Some("not.a.jwt"),
            vec![],
            png_body.clone(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = f
        .send(
            "POST",
            upload.clone(),
            Some(&f.alice),
            vec![("Content-Encoding", "gzip".into())],
            png_body.clone(),
        )
        .await;
    assert_error(&r, 415, "UnsupportedMediaType");
    // No Content-Type at all.
    let r = f
        .send(
            "POST",
            upload.clone(),
            Some(&f.alice),
            vec![("Content-Length", "3".into())],
            None,
        )
        .await;
    assert_error(&r, 400, "InvalidRequest");
    let r = f
        .send("GET", upload.clone(), Some(&f.alice), vec![], None)
        .await;
    assert_error(&r, 400, "InvalidRequest");
    assert_eq!(f.count("SELECT COUNT(*) FROM blob").await, 0);
    // An empty body is an empty blob.
    let empty = f.uploaded(&f.alice, "application/octet-stream", b"").await;
    assert_eq!(empty["size"], 0);

    for (path, status, error) in [
        (
            "/xrpc/com.atproto.sync.getBlob?did=did:plc:alicealicealicealice00&cid=nope".to_owned(),
            400,
            "InvalidRequest",
        ),
        (
            format!(
                "/xrpc/com.atproto.sync.getBlob?did=nope&cid={}",
                cid_for_raw(b"x")
            ),
            400,
            "InvalidRequest",
        ),
        (
            format!("/xrpc/com.atproto.sync.getBlob?did={ALICE}"),
            400,
            "InvalidRequest",
        ),
        (
            format!(
                "/xrpc/com.atproto.sync.getBlob?did=did:plc:nobodynobodynobody0000&cid={}",
                cid_for_raw(b"x")
            ),
            400,
            "RepoNotFound",
        ),
        (
            format!("/xrpc/com.atproto.sync.listBlobs?did={ALICE}&cursor=nope"),
            400,
            "InvalidRequest",
        ),
        (
            format!("/xrpc/com.atproto.sync.listBlobs?did={ALICE}&since=nope"),
            400,
            "InvalidRequest",
        ),
        (
            format!("/xrpc/com.atproto.sync.listBlobs?did={ALICE}&limit=0"),
            400,
            "InvalidRequest",
        ),
        (
            format!("/xrpc/com.atproto.sync.listBlobs?did={ALICE}&limit=1001"),
            400,
            "InvalidRequest",
        ),
        (
            "/xrpc/com.atproto.sync.listBlobs?did=did:plc:nobodynobodynobody0000".to_owned(),
            400,
            "RepoNotFound",
        ),
        (
            "/xrpc/com.atproto.repo.listMissingBlobs".to_owned(),
            401,
            "AuthenticationRequired",
        ),
    ] {
        assert_error(&f.get(&path).await, status, error);
    }
    let r = f
        .send(
            "GET",
            "/xrpc/com.atproto.repo.listMissingBlobs?cursor=nope".into(),
            Some(&f.alice),
            vec![],
            None,
        )
        .await;
    assert_error(&r, 400, "InvalidRequest");
    f.node.stop().await.unwrap();
}
