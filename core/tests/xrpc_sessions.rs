//! The legacy-session XRPC methods of a running node, over HTTP: createSession (by handle, email and
//! DID; wrong passwords; taken-down and deactivated accounts), getSession, refreshSession with
//! single-use refresh tokens, deleteSession, the app-password methods and their restricted scope,
//! and hostile requests (malformed or oversized bodies, missing or wrong credentials, unsigned and
//! tampered tokens), each refused with the reference PDS's status and error name and without
//! changing anything.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::http::{request_with_headers, send_raw, Response};
use pocketpds_core::auth::{create_account, AuthScope, CreateAccount};
use pocketpds_core::config::Config;
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::node::{self, RunningNode};
use serde_json::{json, Value};

const ALICE: &str = "did:plc:alicealicealicealicealic";
const BOB: &str = "did:plc:bobbobbobbobbobbobbobbobb";
const PASSWORD: &str = "correct horse battery staple";

/// A node on a fresh data directory with two accounts, alice and bob.
struct Harness {
    _dir: tempfile::TempDir,
    node: RunningNode,
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::from_vars(|k| (k == "PDS_PORT").then(|| "0".to_string())).unwrap();
        config.data_directory = dir.path().to_path_buf();
        let node = node::start(config).await.unwrap();
        let harness = Harness { _dir: dir, node };
        harness
            .create(ALICE, "alice.test", Some("Alice@Example.com"))
            .await;
        harness.create(BOB, "bob.test", None).await;
        harness
    }

    async fn create(&self, did: &str, handle: &str, email: Option<&str>) {
        let state = &self.node.state;
        let key = Keypair::generate(Algorithm::K256).unwrap();
        create_account(
            &state.accounts,
            &CreateAccount {
                did,
                handle,
                email,
                password: PASSWORD,
                signing_key: &key,
                invite_code: None,
                invite_required: false,
                deactivated: false,
            },
            state.sessions.now(),
        )
        .await
        .unwrap();
    }

    /// Sends one request on a blocking thread: `token` goes in `Authorization: Bearer`, `body` as JSON.
    async fn call(
        &self,
        method: &str,
        nsid: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let body = body.map(|b| serde_json::to_vec(&b).unwrap());
        let auth = token.map(|t| format!("Bearer {t}"));
        self.send(method, nsid, auth, body.map(|b| ("application/json", b)))
            .await
    }

    /// Sends one request with a raw `Authorization` header value and a raw body.
    async fn send(
        &self,
        method: &str,
        nsid: &str,
        authorization: Option<String>,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Response {
        let addr = self.node.local_addr;
        let method = method.to_owned();
        let path = format!("/xrpc/{nsid}");
        tokio::task::spawn_blocking(move || {
            let headers: Vec<(&str, &str)> = authorization
                .as_deref()
                .map(|value| ("Authorization", value))
                .into_iter()
                .collect();
            let body = body.as_ref().map(|(ct, bytes)| (*ct, bytes.as_slice()));
            request_with_headers(addr, &method, &path, &headers, body)
        })
        .await
        .unwrap()
    }

    async fn login(&self, identifier: &str, password: &str) -> Response {
        self.call(
            "POST",
            "com.atproto.server.createSession",
            None,
            Some(json!({ "identifier": identifier, "password": password })),
        )
        .await
    }

    /// Logs in and returns (accessJwt, refreshJwt).
    async fn session(&self, identifier: &str, password: &str) -> (String, String) {
        let res = self.login(identifier, password).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let body = res.json();
        (
            body["accessJwt"].as_str().unwrap().to_owned(),
            body["refreshJwt"].as_str().unwrap().to_owned(),
        )
    }

    async fn get_session(&self, token: &str) -> Response {
        self.call("GET", "com.atproto.server.getSession", Some(token), None)
            .await
    }

    async fn refresh(&self, token: &str) -> Response {
        self.call(
            "POST",
            "com.atproto.server.refreshSession",
            Some(token),
            None,
        )
        .await
    }

    async fn app_password_names(&self, did: &str) -> Vec<String> {
        self.node
            .state
            .accounts
            .list_app_passwords(did)
            .await
            .unwrap()
            .into_iter()
            .map(|info| info.name)
            .collect()
    }

    async fn stop(self) {
        self.node.stop().await.unwrap();
    }
}

/// A request body as sent: content type and bytes.
type RawBody = Option<(&'static str, Vec<u8>)>;

/// Asserts an XRPC error response.
fn assert_error(res: &Response, status: u16, name: &str) {
    assert_eq!(res.status, status, "{}", res.text());
    let body = res.json();
    assert_eq!(body["error"], name, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_by_handle_email_and_did_open_full_sessions() {
    let h = Harness::start().await;
    for identifier in ["alice.test", "ALICE.test", "alice@example.com", ALICE] {
        let res = h.login(identifier, PASSWORD).await;
        assert_eq!(res.status, 200, "{identifier}: {}", res.text());
        let body = res.json();
        assert_eq!(body["did"], ALICE);
        assert_eq!(body["handle"], "alice.test");
        assert_eq!(body["email"], "alice@example.com");
        assert_eq!(body["emailConfirmed"], false);
        assert_eq!(body["active"], true);
        assert!(body.get("status").is_none());
        let ctx = h
            .node
            .state
            .sessions
            .verify_access(body["accessJwt"].as_str().unwrap())
            .unwrap();
        assert_eq!(ctx.did, ALICE);
        assert_eq!(ctx.scope, AuthScope::Access);
    }
    let bob = h.login("bob.test", PASSWORD).await.json();
    assert_eq!(bob["did"], BOB);
    assert!(bob.get("email").is_none());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_unknown_identifiers_are_authentication_required() {
    let h = Harness::start().await;
    for (identifier, password) in [
        ("alice.test", "not the password"),
        ("alice@example.com", ""),
        ("nobody.test", PASSWORD),
        ("", PASSWORD),
        ("did:plc:nobodynobodynobodynobody", PASSWORD),
    ] {
        let res = h.login(identifier, password).await;
        assert_error(&res, 401, "AuthenticationRequired");
        assert!(res.json().get("accessJwt").is_none());
    }
    // Nothing changed: the right password still works.
    h.session("alice.test", PASSWORD).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_session_reports_the_account_of_the_access_token() {
    let h = Harness::start().await;
    let (access, _) = h.session("bob.test", PASSWORD).await;
    let res = h.get_session(&access).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["did"], BOB);
    assert_eq!(body["handle"], "bob.test");
    assert_eq!(body["active"], true);
    assert!(body.get("accessJwt").is_none());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_rotates_the_pair_and_the_old_refresh_token_is_refused() {
    let h = Harness::start().await;
    let (_, refresh) = h.session("alice.test", PASSWORD).await;
    let res = h.refresh(&refresh).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["did"], ALICE);
    assert_eq!(body["handle"], "alice.test");
    let new_access = body["accessJwt"].as_str().unwrap().to_owned();
    let new_refresh = body["refreshJwt"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, refresh);

    assert_error(&h.refresh(&refresh).await, 400, "ExpiredToken");
    // The refusal used nothing up: the new pair works.
    assert_eq!(h.get_session(&new_access).await.status, 200);
    assert_eq!(h.refresh(&new_refresh).await.status, 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_and_access_tokens_are_not_interchangeable() {
    let h = Harness::start().await;
    let (access, refresh) = h.session("alice.test", PASSWORD).await;
    assert_error(&h.get_session(&refresh).await, 400, "InvalidToken");
    assert_error(
        &h.call(
            "GET",
            "com.atproto.server.listAppPasswords",
            Some(&refresh),
            None,
        )
        .await,
        400,
        "InvalidToken",
    );
    assert_error(&h.refresh(&access).await, 400, "InvalidToken");
    assert_error(
        &h.call(
            "POST",
            "com.atproto.server.deleteSession",
            Some(&access),
            None,
        )
        .await,
        400,
        "InvalidToken",
    );
    // Neither refusal touched the session.
    assert_eq!(h.refresh(&refresh).await.status, 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_session_revokes_the_refresh_token() {
    let h = Harness::start().await;
    let (_, refresh) = h.session("alice.test", PASSWORD).await;
    let (_, other) = h.session("alice.test", PASSWORD).await;
    let res = h
        .call(
            "POST",
            "com.atproto.server.deleteSession",
            Some(&refresh),
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_error(&h.refresh(&refresh).await, 400, "ExpiredToken");
    // Logging out twice is not an error; the account's other session lives on.
    let again = h
        .call(
            "POST",
            "com.atproto.server.deleteSession",
            Some(&refresh),
            None,
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(h.refresh(&other).await.status, 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_passwords_are_created_listed_used_with_a_restricted_scope_and_revoked() {
    let h = Harness::start().await;
    let (access, _) = h.session("alice.test", PASSWORD).await;
    let create = |name: &'static str, privileged: bool| {
        let access = access.clone();
        let h = &h;
        async move {
            h.call(
                "POST",
                "com.atproto.server.createAppPassword",
                Some(&access),
                Some(json!({ "name": name, "privileged": privileged })),
            )
            .await
        }
    };
    let res = create("phone", false).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let created = res.json();
    assert_eq!(created["name"], "phone");
    assert_eq!(created["privileged"], false);
    let app_password = created["password"].as_str().unwrap().to_owned();
    assert_eq!(app_password.len(), 19);
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_error(&create("phone", true).await, 400, "InvalidRequest");
    assert_eq!(create("dms", true).await.status, 200);

    let list = h
        .call(
            "GET",
            "com.atproto.server.listAppPasswords",
            Some(&access),
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text());
    let passwords = list.json()["passwords"].as_array().unwrap().clone();
    assert_eq!(passwords.len(), 2);
    assert!(passwords.iter().all(|p| p.get("password").is_none()));
    let phone = passwords.iter().find(|p| p["name"] == "phone").unwrap();
    assert_eq!(phone["privileged"], false);
    assert_eq!(phone["createdAt"], created["createdAt"]);

    // An app-password session gets the restricted scope and cannot manage app passwords.
    let (app_access, app_refresh) = h.session("alice.test", &app_password).await;
    let scope = h
        .node
        .state
        .sessions
        .verify_access(&app_access)
        .unwrap()
        .scope;
    assert_eq!(scope, AuthScope::AppPass);
    assert_eq!(h.get_session(&app_access).await.status, 200);
    let refused = [
        h.call(
            "POST",
            "com.atproto.server.createAppPassword",
            Some(&app_access),
            Some(json!({ "name": "sneaky" })),
        )
        .await,
        h.call(
            "GET",
            "com.atproto.server.listAppPasswords",
            Some(&app_access),
            None,
        )
        .await,
        h.call(
            "POST",
            "com.atproto.server.revokeAppPassword",
            Some(&app_access),
            Some(json!({ "name": "dms" })),
        )
        .await,
    ];
    for res in &refused {
        assert_error(res, 400, "InvalidToken");
    }
    assert_eq!(h.app_password_names(ALICE).await.len(), 2);

    // Revoking ends the password and the sessions opened with it.
    let revoke = h
        .call(
            "POST",
            "com.atproto.server.revokeAppPassword",
            Some(&access),
            Some(json!({ "name": "phone" })),
        )
        .await;
    assert_eq!(revoke.status, 200, "{}", revoke.text());
    assert_eq!(h.app_password_names(ALICE).await, vec!["dms".to_owned()]);
    assert_error(
        &h.login("alice.test", &app_password).await,
        401,
        "AuthenticationRequired",
    );
    assert_error(&h.refresh(&app_refresh).await, 400, "ExpiredToken");
    // Revoking an unknown name is not an error.
    let unknown = h
        .call(
            "POST",
            "com.atproto.server.revokeAppPassword",
            Some(&access),
            Some(json!({ "name": "phone" })),
        )
        .await;
    assert_eq!(unknown.status, 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_app_passwords_get_the_privileged_scope() {
    let h = Harness::start().await;
    let (access, _) = h.session("bob.test", PASSWORD).await;
    let res = h
        .call(
            "POST",
            "com.atproto.server.createAppPassword",
            Some(&access),
            Some(json!({ "name": "chat", "privileged": true })),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let password = res.json()["password"].as_str().unwrap().to_owned();
    let (app_access, app_refresh) = h.session("bob.test", &password).await;
    let sessions = &h.node.state.sessions;
    assert_eq!(
        sessions.verify_access(&app_access).unwrap().scope,
        AuthScope::AppPassPrivileged
    );
    // A refresh keeps the scope.
    let refreshed = h.refresh(&app_refresh).await.json();
    let scope = sessions
        .verify_access(refreshed["accessJwt"].as_str().unwrap())
        .unwrap()
        .scope;
    assert_eq!(scope, AuthScope::AppPassPrivileged);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taken_down_and_deactivated_accounts_report_their_status() {
    let h = Harness::start().await;
    let state = &h.node.state;
    state
        .accounts
        .deactivate(BOB, state.sessions.now(), None)
        .await
        .unwrap();
    let bob = h.login("bob.test", PASSWORD).await;
    assert_eq!(bob.status, 200, "{}", bob.text());
    assert_eq!(bob.json()["active"], false);
    assert_eq!(bob.json()["status"], "deactivated");

    let (access, _) = h.session("alice.test", PASSWORD).await;
    state
        .accounts
        .set_takedown(ALICE, Some("ticket-1"))
        .await
        .unwrap();
    assert_error(
        &h.login("alice.test", PASSWORD).await,
        401,
        "AccountTakedown",
    );
    // A session opened before the takedown can no longer manage credentials.
    assert_error(
        &h.call(
            "POST",
            "com.atproto.server.createAppPassword",
            Some(&access),
            Some(json!({ "name": "late" })),
        )
        .await,
        401,
        "AccountTakedown",
    );
    assert!(h.app_password_names(ALICE).await.is_empty());

    let allowed = h
        .call(
            "POST",
            "com.atproto.server.createSession",
            None,
            Some(json!({
                "identifier": "alice.test", "password": PASSWORD, "allowTakendown": true,
            })),
        )
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    let body = allowed.json();
    assert_eq!(body["status"], "takendown");
    assert_eq!(body["active"], false);
    let access = body["accessJwt"].as_str().unwrap();
    let info = h.get_session(access).await;
    assert_eq!(info.status, 200, "{}", info.text());
    assert_eq!(info.json()["status"], "takendown");
    assert_error(
        &h.refresh(body["refreshJwt"].as_str().unwrap()).await,
        401,
        "AccountTakedown",
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_invalid_requests() {
    let h = Harness::start().await;
    let login = "com.atproto.server.createSession";
    let cases: Vec<(RawBody, &str)> = vec![
        (
            Some(("application/json", b"{\"identifier\":".to_vec())),
            "Malformed",
        ),
        (
            Some(("application/json", b"not json".to_vec())),
            "Malformed",
        ),
        (
            Some((
                "text/plain",
                b"{\"identifier\":\"a\",\"password\":\"b\"}".to_vec(),
            )),
            "Content-Type",
        ),
        (
            Some((
                "application/json",
                b"{\"identifier\":\"alice.test\"}".to_vec(),
            )),
            "password",
        ),
        (
            Some((
                "application/json",
                b"{\"identifier\":7,\"password\":\"x\"}".to_vec(),
            )),
            "Invalid input",
        ),
        (Some(("application/json", b"[]".to_vec())), "Invalid input"),
        (Some(("application/json", Vec::new())), "body"),
        (None, "body"),
    ];
    for (body, says) in cases {
        let res = h.send("POST", login, None, body).await;
        assert_error(&res, 400, "InvalidRequest");
        let message = res.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(says), "{message} should mention {says}");
    }
    // Fields the Lexicon does not name are ignored.
    let extra = h
        .call(
            "POST",
            login,
            None,
            Some(json!({ "identifier": "bob.test", "password": PASSWORD, "future": {"x": 1} })),
        )
        .await;
    assert_eq!(extra.status, 200, "{}", extra.text());

    // With valid credentials, a bad body still changes nothing.
    let (access, _) = h.session("alice.test", PASSWORD).await;
    let res = h
        .send(
            "POST",
            "com.atproto.server.createAppPassword",
            Some(format!("Bearer {access}")),
            Some(("application/json", b"{\"name\": [".to_vec())),
        )
        .await;
    assert_error(&res, 400, "InvalidRequest");
    assert!(h.app_password_names(ALICE).await.is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_one_mebibyte_are_refused() {
    let h = Harness::start().await;
    let mut big = b"{\"identifier\":\"alice.test\",\"password\":\"".to_vec();
    big.resize(1024 * 1024 + 10, b'a');
    big.extend_from_slice(b"\"}");
    let res = h
        .send(
            "POST",
            "com.atproto.server.createSession",
            None,
            Some(("application/json", big.clone())),
        )
        .await;
    assert_error(&res, 413, "PayloadTooLarge");

    // The same without a declared length (chunked): refused while streaming.
    let addr = h.node.local_addr;
    let res = tokio::task::spawn_blocking(move || {
        let mut raw = format!(
            "POST /xrpc/com.atproto.server.createSession HTTP/1.1\r\nHost: {addr}\r\n\
             Connection: close\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        )
        .into_bytes();
        for chunk in big.chunks(64 * 1024) {
            raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            raw.extend_from_slice(chunk);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"0\r\n\r\n");
        send_raw(addr, &raw)
    })
    .await
    .unwrap();
    assert_error(&res, 413, "PayloadTooLarge");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_malformed_authorization_is_refused() {
    let h = Harness::start().await;
    let (access, _) = h.session("alice.test", PASSWORD).await;
    for nsid in [
        "com.atproto.server.getSession",
        "com.atproto.server.listAppPasswords",
    ] {
        assert_error(
            &h.send("GET", nsid, None, None).await,
            401,
            "AuthenticationRequired",
        );
    }
    for nsid in [
        "com.atproto.server.refreshSession",
        "com.atproto.server.deleteSession",
    ] {
        assert_error(
            &h.send("POST", nsid, None, None).await,
            401,
            "AuthenticationRequired",
        );
    }
    let get = "com.atproto.server.getSession";
    assert_error(
        &h.send("GET", get, Some(format!("Basic {access}")), None)
            .await,
        401,
        "AuthenticationRequired",
    );
    assert_error(
        &h.send("GET", get, Some("Bearer".into()), None).await,
        400,
        "InvalidToken",
    );
    assert_error(
        &h.send("GET", get, Some("Bearer not.a.jwt".into()), None)
            .await,
        400,
        "InvalidToken",
    );
    let create = h
        .send(
            "POST",
            "com.atproto.server.createAppPassword",
            None,
            Some(("application/json", b"{\"name\":\"x\"}".to_vec())),
        )
        .await;
    assert_error(&create, 401, "AuthenticationRequired");
    assert!(h.app_password_names(ALICE).await.is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_http_methods_are_invalid_requests() {
    let h = Harness::start().await;
    let res = h
        .send("GET", "com.atproto.server.createSession", None, None)
        .await;
    assert_error(&res, 400, "InvalidRequest");
    assert!(res.json()["message"].as_str().unwrap().contains("POST"));
    let res = h
        .call(
            "POST",
            "com.atproto.server.getSession",
            None,
            Some(json!({})),
        )
        .await;
    assert_error(&res, 400, "InvalidRequest");
    assert!(res.json()["message"].as_str().unwrap().contains("GET"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_and_tampered_tokens_are_refused() {
    let h = Harness::start().await;
    let (access, refresh) = h.session("alice.test", PASSWORD).await;
    let header = decode_part(&access, 0);
    let mut claims = decode_part(&access, 1);
    let signature = access.split('.').nth(2).unwrap();

    // alg "none", with and without a signature part.
    let mut none_header = header.clone();
    none_header["alg"] = json!("none");
    let unsigned = format!("{}.{}.", b64(&none_header), b64(&claims));
    let unsigned_with_sig = format!("{}.{}.{signature}", b64(&none_header), b64(&claims));
    // The same claims for bob under alice's signature.
    claims["sub"] = json!(BOB);
    let tampered = format!("{}.{}.{signature}", b64(&header), b64(&claims));
    // A longer lifetime under the original signature.
    let mut longer = decode_part(&access, 1);
    longer["exp"] = json!(longer["exp"].as_i64().unwrap() + 1_000_000);
    let extended = format!("{}.{}.{signature}", b64(&header), b64(&longer));
    // A flipped signature byte.
    let mut bad_sig = access.clone().into_bytes();
    let last = bad_sig.len() - 2;
    bad_sig[last] = if bad_sig[last] == b'A' { b'B' } else { b'A' };
    let bad_sig = String::from_utf8(bad_sig).unwrap();

    for token in [
        &unsigned,
        &unsigned_with_sig,
        &tampered,
        &extended,
        &bad_sig,
    ] {
        assert_error(&h.get_session(token).await, 400, "InvalidToken");
        assert_error(
            &h.call(
                "POST",
                "com.atproto.server.createAppPassword",
                Some(token),
                Some(json!({ "name": "forged" })),
            )
            .await,
            400,
            "InvalidToken",
        );
    }
    assert!(h.app_password_names(ALICE).await.is_empty());
    assert!(h.app_password_names(BOB).await.is_empty());

    // A tampered refresh token neither refreshes nor logs out, and the real one still works.
    let refresh_header = decode_part(&refresh, 0);
    let mut refresh_claims = decode_part(&refresh, 1);
    refresh_claims["sub"] = json!(BOB);
    let forged_refresh = format!(
        "{}.{}.{}",
        b64(&refresh_header),
        b64(&refresh_claims),
        refresh.split('.').nth(2).unwrap()
    );
    assert_error(&h.refresh(&forged_refresh).await, 400, "InvalidToken");
    assert_error(
        &h.call(
            "POST",
            "com.atproto.server.deleteSession",
            Some(&forged_refresh),
            None,
        )
        .await,
        400,
        "InvalidToken",
    );
    assert_eq!(h.refresh(&refresh).await.status, 200);
    h.stop().await;
}
