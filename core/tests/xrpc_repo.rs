//! The `com.atproto.repo.*` and `com.atproto.sync.*` endpoints over HTTP: writes by the owner land,
//! reads see them, the repository exports as a CAR that verifies, and bad input changes nothing.

mod common;

use std::net::SocketAddr;

use common::http::{request_with_headers, Response};
use pocketpds_core::crypto::Keypair;
use pocketpds_core::node::RunningNode;
use pocketpds_core::repo::car::{import_car, read_car, CarLimits};
use pocketpds_core::repo::MemoryBlockStore;
use serde_json::{json, Value};

struct Fixture {
    node: RunningNode,
    _dir: tempfile::TempDir,
    did: String,
    key: Keypair,
    token: String,
}

use common::node::{local_config as config, seed_account as account};

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let node = pocketpds_core::node::start(config(dir.path()))
        .await
        .unwrap();
    let did = "did:plc:alicealicealicealice00".to_string();
    let (key, token) = account(&node, &did, "alice.test").await;
    Fixture {
        node,
        _dir: dir,
        did,
        key,
        token,
    }
}

impl Fixture {
    fn addr(&self) -> SocketAddr {
        self.node.local_addr
    }

    async fn get(&self, path: &str) -> Response {
        let (addr, path) = (self.addr(), path.to_owned());
        tokio::task::spawn_blocking(move || request_with_headers(addr, "GET", &path, &[], None))
            .await
            .unwrap()
    }

    async fn post_as(&self, token: Option<&str>, method: &str, body: Vec<u8>) -> Response {
        let addr = self.addr();
        let path = format!("/xrpc/{method}");
        let auth = token.map(|t| format!("Bearer {t}"));
        tokio::task::spawn_blocking(move || {
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| vec![("Authorization", a)])
                .unwrap_or_default();
            request_with_headers(
                addr,
                "POST",
                &path,
                &headers,
                Some(("application/json", &body)),
            )
        })
        .await
        .unwrap()
    }

    async fn post(&self, method: &str, body: Value) -> Response {
        let token = self.token.clone();
        self.post_as(Some(&token), method, body.to_string().into_bytes())
            .await
    }

    async fn head(&self) -> Value {
        let r = self
            .get(&format!(
                "/xrpc/com.atproto.sync.getLatestCommit?did={}",
                self.did
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_records_can_be_read_back() {
    let f = fixture().await;
    let created = f
        .post(
            "com.atproto.repo.createRecord",
            json!({"repo": f.did, "collection": "app.bsky.feed.post",
                   "record": {"$type": "app.bsky.feed.post", "text": "hello", "createdAt": "2024-01-01T00:00:00Z"}}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let c = created.json();
    let uri = c["uri"].as_str().unwrap();
    assert!(uri.starts_with(&format!("at://{}/app.bsky.feed.post/", f.did)));
    assert_eq!(c["validationStatus"], "valid");
    assert!(c["commit"]["cid"].is_string() && c["commit"]["rev"].is_string());
    let rkey = uri.rsplit('/').next().unwrap();

    // By handle, with an explicit rkey and no $type (filled in from the collection).
    let by_handle = f
        .post(
            "com.atproto.repo.createRecord",
            json!({"repo": "alice.test", "collection": "app.bsky.feed.post", "rkey": "3kabcdefghij2",
                   "record": {"text": "second", "createdAt": "2024-01-01T00:00:01Z"}}),
        )
        .await;
    assert_eq!(by_handle.status, 200, "{}", by_handle.text());

    let got = f
        .get(&format!(
            "/xrpc/com.atproto.repo.getRecord?repo={}&collection=app.bsky.feed.post&rkey={rkey}",
            f.did
        ))
        .await;
    assert_eq!(got.status, 200, "{}", got.text());
    let g = got.json();
    assert_eq!(g["uri"], uri);
    assert_eq!(g["cid"], c["cid"]);
    assert_eq!(g["value"]["text"], "hello");
    let second = f
        .get("/xrpc/com.atproto.repo.getRecord?repo=alice.test&collection=app.bsky.feed.post&rkey=3kabcdefghij2")
        .await
        .json();
    assert_eq!(second["value"]["$type"], "app.bsky.feed.post");

    let missing = f
        .get(&format!(
            "/xrpc/com.atproto.repo.getRecord?repo={}&collection=app.bsky.feed.post&rkey=nothere",
            f.did
        ))
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["error"], "RecordNotFound");
    assert_eq!(f.head().await["cid"], by_handle.json()["commit"]["cid"]);
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_writes_are_refused_and_change_nothing() {
    let f = fixture().await;
    let before = f.head().await;
    let post = |record: Value| json!({"repo": f.did, "collection": "app.bsky.feed.post", "record": record});
    let valid = json!({"text": "x", "createdAt": "2024-01-01T00:00:00Z"});
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (post(json!({"$type": "app.bsky.feed.like"})).to_string().into_bytes(), 400, "InvalidRequest"),
        (post(json!([1, 2])).to_string().into_bytes(), 400, "InvalidRequest"),
        (post(json!({"n": 1.5})).to_string().into_bytes(), 400, "InvalidRequest"),
        (
            json!({"repo": f.did, "collection": "not an nsid", "record": {}}).to_string().into_bytes(),
            400,
            "InvalidRequest",
        ),
        (
            json!({"repo": f.did, "collection": "app.bsky.feed.post", "rkey": "..", "record": valid})
                .to_string()
                .into_bytes(),
            400,
            "InvalidRequest",
        ),
        (
            json!({"repo": "did:plc:nobodynobodynobody0000", "collection": "app.bsky.feed.post", "record": valid})
                .to_string()
                .into_bytes(),
            400,
            "InvalidRequest",
        ),
        (
            json!({"repo": "did:nope", "collection": "app.bsky.feed.post", "record": valid})
                .to_string()
                .into_bytes(),
            400,
            "InvalidRequest",
        ),
        (b"{not json".to_vec(), 400, "InvalidRequest"),
        (b"{}".to_vec(), 400, "InvalidRequest"),
        (
            post(json!({"text": "x".repeat(2 << 20)})).to_string().into_bytes(),
            413,
            "PayloadTooLarge",
        ),
        (
            json!({"repo": f.did, "collection": "app.bsky.feed.post", "record": valid,
                   "swapCommit": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"})
            .to_string()
            .into_bytes(),
            400,
            "InvalidSwap",
        ),
    ];
    for (body, status, error) in cases {
        let r = f
            .post_as(Some(&f.token), "com.atproto.repo.createRecord", body)
            .await;
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(r.json()["error"], error, "{}", r.text());
    }
    let anonymous = f
        .post_as(
            None,
            "com.atproto.repo.createRecord",
            post(json!({})).to_string().into_bytes(),
        )
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(f.head().await, before);
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_writes_to_another_accounts_repository() {
    let f = fixture().await;
    let (_, bob_token) = account(&f.node, "did:plc:bobbobbobbobbobbobbob000", "bob.test").await;
    let before = f.head().await;
    let r = f
        .post_as(
            Some(&bob_token),
            "com.atproto.repo.createRecord",
            json!({"repo": f.did, "collection": "app.bsky.feed.post", "record": {"text": "mine now"}})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["error"], "AuthenticationRequired");
    assert_eq!(f.head().await, before);
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exported_repository_verifies_against_the_account_key() {
    let f = fixture().await;
    for i in 0..5 {
        let r = f
            .post(
                "com.atproto.repo.createRecord",
                json!({"repo": f.did, "collection": "app.bsky.feed.post", "record": {"text": format!("post {i}"), "createdAt": "2024-01-01T00:00:00Z"}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // Enough bytes that the streamed body spans many chunks.
    let writes: Vec<Value> = (0..200)
        .map(|i| {
            json!({"$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.big",
                   "rkey": format!("r{i}"), "value": {"text": format!("{i}{}", "x".repeat(1500))}})
        })
        .collect();
    let batch = f
        .post(
            "com.atproto.repo.applyWrites",
            json!({"repo": f.did, "writes": writes}),
        )
        .await;
    assert_eq!(batch.status, 200, "{}", batch.text());
    let head = f.head().await;
    let car = f
        .get(&format!("/xrpc/com.atproto.sync.getRepo?did={}", f.did))
        .await;
    assert_eq!(car.status, 200, "{}", car.text());
    assert_eq!(car.header("content-type"), Some("application/vnd.ipld.car"));
    let store = MemoryBlockStore::new();
    let verified = import_car(
        &car.body[..],
        CarLimits::default(),
        &store,
        &f.did,
        &f.key.public_key(),
    )
    .await
    .unwrap();
    assert_eq!(verified.records, 205);
    assert!(car.body.len() > 300_000);
    assert_eq!(verified.commit_cid.to_string(), head["cid"]);
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_list_in_pages_both_ways() {
    let f = fixture().await;
    for rkey in ["a", "b", "c", "d", "e"] {
        let r = f
            .post(
                "com.atproto.repo.putRecord",
                json!({"repo": f.did, "collection": "com.example.thing", "rkey": rkey, "record": {"k": rkey}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let list = |query: String| {
        let f = &f;
        async move {
            let r = f
                .get(&format!(
                    "/xrpc/com.atproto.repo.listRecords?repo={}&collection=com.example.thing{query}",
                    f.did
                ))
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()
        }
    };
    let keys = |page: &Value| -> Vec<String> {
        page["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["value"]["k"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = list("&limit=2".into()).await;
    assert_eq!(keys(&first), ["e", "d"]);
    assert_eq!(first["cursor"], "d");
    let second = list("&limit=2&cursor=d".into()).await;
    assert_eq!(keys(&second), ["c", "b"]);
    let reversed = list("&reverse=true&limit=3&cursor=a".into()).await;
    assert_eq!(keys(&reversed), ["b", "c", "d"]);
    let all = list(String::new()).await;
    assert_eq!(keys(&all).len(), 5);
    assert_eq!(
        all["records"][0]["uri"],
        format!("at://{}/com.example.thing/e", f.did)
    );
    for bad in ["&limit=0", "&limit=101", "&limit=x", "&reverse=maybe"] {
        let r = f
            .get(&format!(
                "/xrpc/com.atproto.repo.listRecords?repo={}&collection=com.example.thing{bad}",
                f.did
            ))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.json()["error"], "InvalidRequest");
    }
    let bad_collection = f
        .get(&format!(
            "/xrpc/com.atproto.repo.listRecords?repo={}&collection=nope",
            f.did
        ))
        .await;
    assert_eq!(bad_collection.status, 400);
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_record_swaps_and_delete_record_of_nothing_is_a_no_op() {
    let f = fixture().await;
    let put = |record: Value, swap: Option<Value>| {
        let mut body = json!({"repo": f.did, "collection": "app.bsky.actor.profile", "rkey": "self", "record": record});
        if let Some(swap) = swap {
            body["swapRecord"] = swap;
        }
        body
    };
    let first = f
        .post(
            "com.atproto.repo.putRecord",
            put(json!({"displayName": "A"}), Some(Value::Null)),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text());
    let first_cid = first.json()["cid"].clone();
    // swapRecord null: the record must not exist any more.
    let again = f
        .post(
            "com.atproto.repo.putRecord",
            put(json!({"displayName": "B"}), Some(Value::Null)),
        )
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["error"], "InvalidSwap");
    let wrong = f
        .post(
            "com.atproto.repo.putRecord",
            put(
                json!({"displayName": "B"}),
                Some(json!(
                    "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
                )),
            ),
        )
        .await;
    assert_eq!(wrong.json()["error"], "InvalidSwap");
    let second = f
        .post(
            "com.atproto.repo.putRecord",
            put(json!({"displayName": "B"}), Some(first_cid)),
        )
        .await;
    assert_eq!(second.status, 200, "{}", second.text());
    let got = f
        .get("/xrpc/com.atproto.repo.getRecord?repo=alice.test&collection=app.bsky.actor.profile&rkey=self")
        .await
        .json();
    assert_eq!(got["value"]["displayName"], "B");

    let before = f.head().await;
    let nothing = f
        .post(
            "com.atproto.repo.deleteRecord",
            json!({"repo": f.did, "collection": "app.bsky.feed.post", "rkey": "nothere"}),
        )
        .await;
    assert_eq!(nothing.status, 200, "{}", nothing.text());
    assert!(nothing.json().get("commit").is_none());
    assert_eq!(f.head().await, before);

    let wrong_swap = f
        .post(
            "com.atproto.repo.deleteRecord",
            json!({"repo": f.did, "collection": "app.bsky.actor.profile", "rkey": "self",
                   "swapRecord": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}),
        )
        .await;
    assert_eq!(wrong_swap.json()["error"], "InvalidSwap");
    let deleted = f
        .post(
            "com.atproto.repo.deleteRecord",
            json!({"repo": f.did, "collection": "app.bsky.actor.profile", "rkey": "self"}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(deleted.json()["commit"]["cid"], f.head().await["cid"]);
    let gone = f
        .get("/xrpc/com.atproto.repo.getRecord?repo=alice.test&collection=app.bsky.actor.profile&rkey=self")
        .await;
    assert_eq!(gone.json()["error"], "RecordNotFound");
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_writes_commits_a_batch_or_nothing() {
    let f = fixture().await;
    let create = |rkey: &str| {
        json!({"$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.thing",
               "rkey": rkey, "value": {"k": rkey}})
    };
    let batch = f
        .post(
            "com.atproto.repo.applyWrites",
            json!({"repo": f.did, "writes": [
                create("a"),
                create("b"),
                {"$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.other", "value": {}},
            ]}),
        )
        .await;
    assert_eq!(batch.status, 200, "{}", batch.text());
    let b = batch.json();
    assert_eq!(b["results"].as_array().unwrap().len(), 3);
    assert_eq!(
        b["results"][0]["$type"],
        "com.atproto.repo.applyWrites#createResult"
    );
    assert_eq!(
        b["results"][0]["uri"],
        format!("at://{}/com.example.thing/a", f.did)
    );
    assert_eq!(b["commit"]["cid"], f.head().await["cid"]);

    let mixed = f
        .post(
            "com.atproto.repo.applyWrites",
            json!({"repo": f.did, "writes": [
                {"$type": "com.atproto.repo.applyWrites#update", "collection": "com.example.thing", "rkey": "a", "value": {"k": "A"}},
                {"$type": "com.atproto.repo.applyWrites#delete", "collection": "com.example.thing", "rkey": "b"},
            ]}),
        )
        .await;
    assert_eq!(mixed.status, 200, "{}", mixed.text());
    let m = mixed.json();
    assert_eq!(
        m["results"][0]["$type"],
        "com.atproto.repo.applyWrites#updateResult"
    );
    assert_eq!(
        m["results"][1],
        json!({"$type": "com.atproto.repo.applyWrites#deleteResult"})
    );

    let before = f.head().await;
    let too_many: Vec<Value> = (0..201).map(|i| create(&format!("k{i}"))).collect();
    let failing = [
        json!({"repo": f.did, "writes": too_many}),
        // The second write fails: the first must not land either.
        json!({"repo": f.did, "writes": [create("c"), create("a")]}),
        json!({"repo": f.did, "writes": [{"$type": "com.atproto.repo.applyWrites#explode"}]}),
        json!({"repo": f.did, "writes": [create("c"), {"$type": "com.atproto.repo.applyWrites#create",
               "collection": "com.example.thing", "value": {"f": 0.5}}]}),
    ];
    for body in failing {
        let r = f.post("com.atproto.repo.applyWrites", body).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["error"], "InvalidRequest", "{}", r.text());
    }
    assert_eq!(f.head().await, before);
    let c = f
        .get(&format!(
            "/xrpc/com.atproto.repo.getRecord?repo={}&collection=com.example.thing&rkey=c",
            f.did
        ))
        .await;
    assert_eq!(c.json()["error"], "RecordNotFound");

    let described = f
        .get("/xrpc/com.atproto.repo.describeRepo?repo=alice.test")
        .await;
    assert_eq!(described.status, 200, "{}", described.text());
    let d = described.json();
    assert_eq!(d["did"], f.did);
    assert_eq!(d["handle"], "alice.test");
    assert_eq!(
        d["collections"],
        json!(["com.example.other", "com.example.thing"])
    );
    assert_eq!(d["didDoc"]["id"], f.did);
    assert_eq!(
        d["didDoc"]["verificationMethod"][0]["publicKeyMultibase"],
        f.key.public_key().to_multibase()
    );
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_serves_record_proofs_partial_repos_and_status() {
    let f = fixture().await;
    let first = f
        .post(
            "com.atproto.repo.createRecord",
            json!({"repo": f.did, "collection": "com.example.thing", "rkey": "one", "record": {"n": 1}}),
        )
        .await
        .json();
    let since = first["commit"]["rev"].as_str().unwrap().to_owned();
    let second = f
        .post(
            "com.atproto.repo.createRecord",
            json!({"repo": f.did, "collection": "com.example.thing", "rkey": "two", "record": {"n": 2}}),
        )
        .await
        .json();
    let head = f.head().await;
    assert_eq!(head["rev"], second["commit"]["rev"]);

    let proof = f
        .get(&format!(
            "/xrpc/com.atproto.sync.getRecord?did={}&collection=com.example.thing&rkey=two",
            f.did
        ))
        .await;
    assert_eq!(proof.status, 200, "{}", proof.text());
    assert_eq!(
        proof.header("content-type"),
        Some("application/vnd.ipld.car")
    );
    let (roots, blocks) = read_car(&proof.body, CarLimits::default()).unwrap();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0].to_string(), head["cid"]);
    assert!(blocks.iter().any(|(c, _)| c.to_string() == second["cid"]));
    assert!(!blocks.iter().any(|(c, _)| c.to_string() == first["cid"]));

    let partial = f
        .get(&format!(
            "/xrpc/com.atproto.sync.getRepo?did={}&since={since}",
            f.did
        ))
        .await;
    assert_eq!(partial.status, 200, "{}", partial.text());
    let (roots, blocks) = read_car(&partial.body, CarLimits::default()).unwrap();
    assert_eq!(roots[0].to_string(), head["cid"]);
    let cids: Vec<String> = blocks.iter().map(|(c, _)| c.to_string()).collect();
    assert!(cids.contains(&second["cid"].as_str().unwrap().to_owned()));
    assert!(cids.contains(&head["cid"].as_str().unwrap().to_owned()));
    assert!(!cids.contains(&first["cid"].as_str().unwrap().to_owned()));

    let status = f
        .get(&format!(
            "/xrpc/com.atproto.sync.getRepoStatus?did={}",
            f.did
        ))
        .await
        .json();
    assert_eq!(
        status,
        json!({"did": f.did, "active": true, "rev": head["rev"]})
    );

    let nobody = "did:plc:nobodynobodynobody0000";
    for path in [
        format!("/xrpc/com.atproto.sync.getLatestCommit?did={nobody}"),
        format!("/xrpc/com.atproto.sync.getRepo?did={nobody}"),
        format!("/xrpc/com.atproto.sync.getRepoStatus?did={nobody}"),
        format!("/xrpc/com.atproto.sync.getRecord?did={nobody}&collection=a.b.c&rkey=x"),
    ] {
        let r = f.get(&path).await;
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.json()["error"], "RepoNotFound", "{path}");
    }
    for path in [
        "/xrpc/com.atproto.sync.getLatestCommit?did=not-a-did".to_owned(),
        "/xrpc/com.atproto.sync.getLatestCommit".to_owned(),
        format!("/xrpc/com.atproto.sync.getRepo?did={}&since=notatid", f.did),
        format!(
            "/xrpc/com.atproto.sync.getRecord?did={}&collection=bad&rkey=x",
            f.did
        ),
        format!(
            "/xrpc/com.atproto.sync.getRecord?did={}&collection=a.b.c&rkey=..",
            f.did
        ),
    ] {
        let r = f.get(&path).await;
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.json()["error"], "InvalidRequest", "{path}");
    }
    f.node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosted_repositories_list_in_pages() {
    let f = fixture().await;
    account(&f.node, "did:plc:bobbobbobbobbobbobbob000", "bob.test").await;
    account(&f.node, "did:plc:carolcarolcarolcarol000", "carol.test").await;
    let first = f.get("/xrpc/com.atproto.sync.listRepos?limit=2").await;
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    let dids: Vec<&str> = first["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["did"].as_str().unwrap())
        .collect();
    assert_eq!(dids, [f.did.as_str(), "did:plc:bobbobbobbobbobbobbob000"]);
    assert_eq!(first["repos"][0]["head"], f.head().await["cid"]);
    assert_eq!(first["repos"][0]["active"], true);
    let cursor = first["cursor"].as_str().unwrap();
    let second = f
        .get(&format!(
            "/xrpc/com.atproto.sync.listRepos?limit=2&cursor={cursor}"
        ))
        .await
        .json();
    assert_eq!(second["repos"].as_array().unwrap().len(), 1);
    assert_eq!(second["repos"][0]["did"], "did:plc:carolcarolcarolcarol000");
    let cursor = second["cursor"].as_str().unwrap();
    let last = f
        .get(&format!("/xrpc/com.atproto.sync.listRepos?cursor={cursor}"))
        .await
        .json();
    assert_eq!(last, json!({"repos": []}));
    for bad in ["limit=0", "limit=1001", "limit=many"] {
        let r = f
            .get(&format!("/xrpc/com.atproto.sync.listRepos?{bad}"))
            .await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["error"], "InvalidRequest");
    }
    f.node.stop().await.unwrap();
}
