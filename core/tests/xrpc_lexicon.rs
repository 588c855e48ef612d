//! Lexicon validation of the record writes over HTTP: createRecord, putRecord and applyWrites report
//! `validationStatus` (`valid` for a known type, `unknown` for another, none with `validate: false`),
//! refuse an invalid record or key with 400 `InvalidRequest` naming the path, honour `validate: true`
//! for unknown types, and change nothing when they refuse. Hostile records (huge arrays, deep
//! nesting) get an answer, never a crash.

mod common;

use common::http::{request_with_headers, Response};
use common::node::{local_config, seed_account};
use pocketpds_core::node::RunningNode;
use serde_json::{json, Value};

const DID: &str = "did:plc:lexiconlexiconlexicon0";
const POST: &str = "app.bsky.feed.post";
const AT: &str = "2024-05-01T12:00:00.000Z";
const CID: &str = "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq";

struct Fixture {
    node: RunningNode,
    _dir: tempfile::TempDir,
    token: String,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(local_config(dir.path()))
        .await
        .unwrap();
    let (_, token) = seed_account(&node, DID, "lex.test").await;
    Fixture {
        node,
        _dir: dir,
        token,
    }
}

impl Fixture {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        let addr = self.node.local_addr;
        let (method, path) = (method.to_owned(), path.to_owned());
        let auth = format!("Bearer {}", self.token);
        tokio::task::spawn_blocking(move || {
            let bytes = body.map(|b| b.to_string().into_bytes());
            request_with_headers(
                addr,
                &method,
                &path,
                &[("Authorization", &auth)],
                bytes.as_deref().map(|b| ("application/json", b)),
            )
        })
        .await
        .unwrap()
    }

    async fn post(&self, method: &str, body: Value) -> Response {
        self.call("POST", &format!("/xrpc/{method}"), Some(body))
            .await
    }

    async fn create(&self, collection: &str, record: Value, validate: Option<bool>) -> Response {
        let mut body = json!({"repo": DID, "collection": collection, "record": record});
        if let Some(v) = validate {
            body["validate"] = json!(v);
        }
        self.post("com.atproto.repo.createRecord", body).await
    }

    async fn head(&self) -> Value {
        let r = self
            .call(
                "GET",
                &format!("/xrpc/com.atproto.sync.getLatestCommit?did={DID}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Asserts a 400 `InvalidRequest` whose message contains `needle`, and that nothing changed.
    async fn refused(&self, r: Response, needle: &str, before: &Value) {
        assert_eq!(r.status, 400, "{}", r.text());
        let body = r.json();
        assert_eq!(body["error"], "InvalidRequest", "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        assert_eq!(&self.head().await, before);
    }
}

fn post(text: &str) -> Value {
    json!({"$type": POST, "text": text, "createdAt": AT})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_record_types_are_validated_and_unknown_ones_reported() {
    let f = fixture().await;
    let valid = f.create(POST, post("hello"), None).await;
    assert_eq!(valid.status, 200, "{}", valid.text());
    assert_eq!(valid.json()["validationStatus"], "valid");

    let other = f
        .create("com.example.note", json!({"anything": [1, 2]}), None)
        .await;
    assert_eq!(other.status, 200, "{}", other.text());
    assert_eq!(other.json()["validationStatus"], "unknown");

    let unchecked = f
        .create("com.example.note", json!({"n": 1}), Some(false))
        .await;
    assert_eq!(unchecked.status, 200, "{}", unchecked.text());
    assert!(unchecked.json().get("validationStatus").is_none());

    // validate: false stores even a record its Lexicon would refuse.
    let loose = f.create(POST, json!({"text": 5}), Some(false)).await;
    assert_eq!(loose.status, 200, "{}", loose.text());
    assert!(loose.json().get("validationStatus").is_none());

    let before = f.head().await;
    let strict = f
        .create("com.example.note", json!({"n": 1}), Some(true))
        .await;
    f.refused(strict, "Unknown lexicon type: com.example.note", &before)
        .await;
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_records_are_refused_with_the_path_and_change_nothing() {
    let f = fixture().await;
    let before = f.head().await;
    let cases = [
        (
            post(&"é".repeat(301)),
            "Record/text must not be longer than 300 graphemes",
        ),
        (
            json!({"$type": POST, "text": "x"}),
            "Record must have the property \"createdAt\"",
        ),
        (
            json!({"$type": POST, "text": "x", "createdAt": "yesterday"}),
            "Record/createdAt must be a valid atproto datetime",
        ),
        (
            json!({"$type": POST, "text": "x", "createdAt": AT, "langs": ["en", "fr", "de", "pt"]}),
            "Record/langs must not have more than 3 elements",
        ),
        (
            json!({"$type": POST, "text": "x", "createdAt": AT,
                   "embed": {"images": []}}),
            "Record/embed must be an object which includes the \"$type\" property",
        ),
        (
            json!({"$type": POST, "text": "x", "createdAt": AT,
                   "embed": {"$type": "app.bsky.embed.images", "images": [{"alt": "a",
                     "image": {"$type": "blob", "ref": {"$link": "bafkreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"},
                               "mimeType": "text/plain", "size": 10}}]}}),
            "Record/embed/images/0/image has MIME type \"text/plain\"",
        ),
        (
            json!({"$type": POST, "text": "x", "createdAt": AT,
                   "reply": {"root": {"uri": "at://did:plc:abc/app.bsky.feed.post/3k", "cid": CID},
                             "parent": {"uri": "https://example.com", "cid": CID}}}),
            "Record/reply/parent/uri must be a valid at-uri",
        ),
        (
            json!({"$type": "app.bsky.feed.like", "createdAt": AT, "subject": {"uri": "at://did:plc:abc/app.bsky.feed.post/3k"}}),
            "Record/subject must have the property \"cid\"",
        ),
    ];
    for (record, needle) in cases {
        let collection = record["$type"].as_str().unwrap().to_owned();
        let r = f.create(&collection, record, None).await;
        f.refused(r, needle, &before).await;
    }
    // A profile lives at `self` only: createRecord's generated TID key is refused.
    let profile = json!({"$type": "app.bsky.actor.profile", "displayName": "Lex"});
    let r = f
        .create("app.bsky.actor.profile", profile.clone(), None)
        .await;
    f.refused(r, "Invalid record key for app.bsky.actor.profile", &before)
        .await;
    let put = f
        .post(
            "com.atproto.repo.putRecord",
            json!({"repo": DID, "collection": "app.bsky.actor.profile", "rkey": "self", "record": profile}),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["validationStatus"], "valid");
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_writes_reports_a_status_per_write_and_refuses_the_batch_for_one_bad_record() {
    let f = fixture().await;
    let create = |collection: &str, value: Value| json!({"$type": "com.atproto.repo.applyWrites#create", "collection": collection, "value": value});
    let ok = f
        .post(
            "com.atproto.repo.applyWrites",
            json!({"repo": DID, "writes": [
                create(POST, post("one")),
                create("com.example.note", json!({"a": 1})),
            ]}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let results = ok.json()["results"].clone();
    assert_eq!(results[0]["validationStatus"], "valid");
    assert_eq!(results[1]["validationStatus"], "unknown");

    let before = f.head().await;
    let bad = f
        .post(
            "com.atproto.repo.applyWrites",
            json!({"repo": DID, "writes": [
                create(POST, post("fine")),
                create(POST, json!({"$type": POST, "text": "x", "createdAt": AT, "tags": vec!["t"; 9]})),
            ]}),
        )
        .await;
    f.refused(
        bad,
        "Record/tags must not have more than 8 elements",
        &before,
    )
    .await;
    let strict = f
        .post(
            "com.atproto.repo.applyWrites",
            json!({"repo": DID, "validate": true, "writes": [create("com.example.note", json!({}))]}),
        )
        .await;
    f.refused(strict, "Unknown lexicon type", &before).await;
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_records_get_an_answer() {
    let f = fixture().await;
    let before = f.head().await;
    // 8,000 facets (under the 1 MiB body limit), the last one broken: found and named.
    let facet = json!({"index": {"byteStart": 0, "byteEnd": 1},
                       "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "t"}]});
    let mut facets = vec![facet; 8_000];
    facets[7_999]["index"]["byteEnd"] = json!(-1);
    let many = json!({"$type": POST, "text": "x", "createdAt": AT, "facets": facets});
    let r = f.create(POST, many, None).await;
    f.refused(
        r,
        "Record/facets/7999/index/byteEnd can not be less than 0",
        &before,
    )
    .await;

    // An open union lets an unknown type through unchecked, however deep it nests within the depth
    // limit; past the limit the body is refused (by the JSON reader or the data model).
    let nest = |depth: usize| {
        let mut v = json!({"$type": "com.example.deep", "leaf": true});
        for _ in 0..depth {
            v = json!({"$type": "com.example.deep", "inner": v});
        }
        v
    };
    let deep = json!({"$type": POST, "text": "x", "createdAt": AT, "embed": nest(120)});
    let r = f.create(POST, deep, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["validationStatus"], "valid");
    let before = f.head().await;
    let too_deep = json!({"$type": POST, "text": "x", "createdAt": AT, "embed": nest(200)});
    let r = f.create(POST, too_deep, None).await;
    f.refused(r, "", &before).await;

    // Half a megabyte of combining marks on one letter: one grapheme, many bytes.
    let zalgo = format!("a{}", "\u{301}".repeat(200_000));
    let r = f.create(POST, post(&zalgo), None).await;
    f.refused(r, "Record/text must not be longer than 3000 bytes", &before)
        .await;
    f.node.stop().await.unwrap();
}
