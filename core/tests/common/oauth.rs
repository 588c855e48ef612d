//! An OAuth client for tests, in Rust: DPoP proofs signed with its own P-256 key (or any claims a
//! hostile test wants), PAR, the consent form posted as a browser would (cookies and CSRF token
//! from the page), the token endpoint, and DPoP-authenticated XRPC calls. Requests go to a node's
//! socket; proofs name the node's configured public URL.

use std::net::SocketAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::oauth::jws;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::http::{request_with_headers, Response};

/// A loopback client id with its redirect URI and scope.
pub const CLIENT_ID: &str = "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&scope=atproto%20transition%3Ageneric";
/// Its redirect URI.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// The PKCE verifier every flow here uses.
pub const VERIFIER: &str = "a-verifier-that-is-long-enough-for-pkce-0123456789";

/// Sends one request from a blocking thread (the server runs on the test's runtime).
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
) -> Response {
    let method = method.to_owned();
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let body = body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice()));
        request_with_headers(addr, &method, &path, &headers, body)
    })
    .await
    .unwrap()
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> (String, Vec<u8>) {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    (
        "application/x-www-form-urlencoded".into(),
        s.finish().into_bytes(),
    )
}

/// The S256 challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A DPoP-holding client of one node's public URL.
pub struct DpopClient {
    /// Its DPoP key.
    pub key: Keypair,
    /// The public URL proofs are made for.
    pub public_url: String,
    /// The last nonce a server gave.
    pub nonce: Option<String>,
    counter: u64,
}

/// Tokens from the token endpoint.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub sub: String,
    pub scope: String,
}

impl DpopClient {
    pub fn new(public_url: &str) -> DpopClient {
        DpopClient {
            key: Keypair::generate(Algorithm::P256).unwrap(),
            public_url: public_url.to_owned(),
            nonce: None,
            counter: 0,
        }
    }

    /// A proof with these claims (and the key's JWK in the header).
    pub fn proof_with(&self, header: Value, claims: Value) -> String {
        let mut h = Map::new();
        h.insert("typ".into(), json!("dpop+jwt"));
        h.insert("jwk".into(), self.key.public_key().to_jwk().to_value());
        if let Value::Object(extra) = header {
            h.extend(extra);
        }
        jws::sign_es256(&self.key, h, &claims).unwrap()
    }

    /// The claims of a fresh, correct proof for `method` `path`.
    pub fn claims(&mut self, method: &str, path: &str, access_token: Option<&str>) -> Value {
        self.counter += 1;
        let mut c = json!({
            "jti": format!("jti-{}-{}", self.counter, rand::random::<u64>()),
            "htm": method,
            "htu": format!("{}{path}", self.public_url),
            "iat": now(),
        });
        if let Some(n) = &self.nonce {
            c["nonce"] = json!(n);
        }
        if let Some(t) = access_token {
            c["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes())));
        }
        c
    }

    /// A fresh, correct proof.
    pub fn proof(&mut self, method: &str, path: &str, access_token: Option<&str>) -> String {
        let claims = self.claims(method, path, access_token);
        self.proof_with(json!({}), claims)
    }

    /// Keeps the nonce a response carries.
    pub fn learn(&mut self, response: &Response) {
        if let Some(n) = response.header("dpop-nonce") {
            self.nonce = Some(n.to_owned());
        }
    }

    /// POSTs a form to an OAuth endpoint with a fresh proof, once (no retry).
    pub async fn post_form_once(
        &mut self,
        addr: SocketAddr,
        path: &str,
        pairs: &[(&str, &str)],
    ) -> Response {
        let proof = self.proof("POST", path, None);
        let r = send(
            addr,
            "POST",
            path,
            vec![("DPoP".into(), proof)],
            Some(form(pairs)),
        )
        .await;
        self.learn(&r);
        r
    }

    /// POSTs a form, retrying once on `use_dpop_nonce` as clients do.
    pub async fn post_form(
        &mut self,
        addr: SocketAddr,
        path: &str,
        pairs: &[(&str, &str)],
    ) -> Response {
        let r = self.post_form_once(addr, path, pairs).await;
        if r.status == 400 && r.json()["error"] == "use_dpop_nonce" {
            return self.post_form_once(addr, path, pairs).await;
        }
        r
    }

    /// Pushes an authorization request; returns the `request_uri`.
    pub async fn par(&mut self, addr: SocketAddr, scope: &str) -> String {
        let challenge = challenge(VERIFIER);
        let r = self
            .post_form(
                addr,
                "/oauth/par",
                &[
                    ("client_id", CLIENT_ID),
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT_URI),
                    ("scope", scope),
                    ("state", "st4te"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["request_uri"].as_str().unwrap().to_owned()
    }

    /// Exchanges a code.
    pub async fn exchange(&mut self, addr: SocketAddr, code: &str, verifier: &str) -> Response {
        self.post_form(
            addr,
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    /// Uses a refresh token.
    pub async fn refresh(&mut self, addr: SocketAddr, refresh: &str) -> Response {
        self.post_form(
            addr,
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("refresh_token", refresh),
            ],
        )
        .await
    }

    /// An XRPC call with `Authorization: DPoP` and a fresh proof, retrying once on a nonce challenge.
    pub async fn xrpc(
        &mut self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        for _ in 0..2 {
            let bare = path.split('?').next().unwrap();
            let proof = self.proof(method, bare, Some(token));
            let r = self
                .xrpc_with_proof(addr, method, path, token, &proof, body.clone())
                .await;
            self.learn(&r);
            if !(r.status == 401
                && r.header("www-authenticate")
                    .is_some_and(|w| w.contains("use_dpop_nonce")))
            {
                return r;
            }
        }
        panic!("still asked for a nonce");
    }

    /// An XRPC call with a given proof.
    pub async fn xrpc_with_proof(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        token: &str,
        proof: &str,
        body: Option<Value>,
    ) -> Response {
        send(
            addr,
            method,
            path,
            vec![
                ("Authorization".into(), format!("DPoP {token}")),
                ("DPoP".into(), proof.to_owned()),
            ],
            body.map(|b| ("application/json".to_string(), b.to_string().into_bytes())),
        )
        .await
    }
}

/// A browser on the consent page: its cookies.
#[derive(Default)]
pub struct Browser {
    pub cookies: Vec<(String, String)>,
    /// Headers every request of this browser carries (an `X-Forwarded-For` it writes itself).
    pub headers: Vec<(String, String)>,
    /// Whether its sign-ins tick "stay signed in".
    pub remember: bool,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn request_headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![("Cookie".to_string(), self.cookie_header())];
        headers.extend(self.headers.iter().cloned());
        headers
    }

    fn keep_cookies(&mut self, r: &Response) {
        for (name, value) in &r.headers {
            if name == "set-cookie" {
                let pair = value.split(';').next().unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                self.cookies.retain(|(n, _)| n != k);
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    /// Opens the authorization page of `request_uri`.
    pub async fn open(&mut self, addr: SocketAddr, request_uri: &str) -> Response {
        self.open_for(addr, CLIENT_ID, request_uri).await
    }

    /// Opens the authorization page of `request_uri` pushed by `client_id`.
    pub async fn open_for(
        &mut self,
        addr: SocketAddr,
        client_id: &str,
        request_uri: &str,
    ) -> Response {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", client_id);
        q.append_pair("request_uri", request_uri);
        let r = send(
            addr,
            "GET",
            &format!("/oauth/authorize?{}", q.finish()),
            self.request_headers(),
            None,
        )
        .await;
        self.keep_cookies(&r);
        r
    }

    /// The CSRF token in a page.
    pub fn csrf(page: &Response) -> String {
        let html = page.text();
        let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        html[at..].split('"').next().unwrap().to_owned()
    }

    /// Signs in on the page whose token is `csrf` (expecting the redirect back to the page), opens
    /// the consent step and allows; returns the answer to "allow" (or the page's own redirect with
    /// a code, when the account consented before).
    pub async fn sign_in_and_allow(
        &mut self,
        addr: SocketAddr,
        client_id: &str,
        request_uri: &str,
        csrf: &str,
        identifier: &str,
        password: &str,
    ) -> Response {
        let r = self
            .submit(addr, request_uri, csrf, "signin", identifier, password)
            .await;
        assert_eq!(r.status, 303, "{}", r.text());
        self.keep_cookies(&r);
        let page = self.open_for(addr, client_id, request_uri).await;
        if page.status == 303 {
            // Consent given before: the code comes at once.
            return page;
        }
        assert_eq!(page.status, 200, "{}", page.text());
        assert!(page.text().contains("id=\"allow\""), "{}", page.text());
        let csrf = Browser::csrf(&page);
        self.submit(addr, request_uri, &csrf, "allow", "", "").await
    }

    /// Submits a form of the page.
    pub async fn submit(
        &mut self,
        addr: SocketAddr,
        request_uri: &str,
        csrf: &str,
        action: &str,
        identifier: &str,
        password: &str,
    ) -> Response {
        send(
            addr,
            "POST",
            "/oauth/authorize",
            self.request_headers(),
            Some(form(&[
                ("request_uri", request_uri),
                ("csrf", csrf),
                ("action", action),
                ("identifier", identifier),
                ("password", password),
                ("remember", if self.remember { "1" } else { "0" }),
            ])),
        )
        .await
    }

    /// Opens the page and allows; returns the code from the redirect.
    pub async fn approve(
        &mut self,
        addr: SocketAddr,
        request_uri: &str,
        identifier: &str,
        password: &str,
    ) -> String {
        let page = self.open(addr, request_uri).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let csrf = Browser::csrf(&page);
        let r = self
            .sign_in_and_allow(addr, CLIENT_ID, request_uri, &csrf, identifier, password)
            .await;
        assert_eq!(r.status, 303, "{}", r.text());
        let location = url::Url::parse(r.header("location").unwrap()).unwrap();
        location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned()
    }
}

/// The whole flow: PAR, consent, code exchange. Returns the tokens.
pub async fn sign_in(
    client: &mut DpopClient,
    addr: SocketAddr,
    identifier: &str,
    password: &str,
    scope: &str,
) -> Tokens {
    let request_uri = client.par(addr, scope).await;
    let code = Browser::default()
        .approve(addr, &request_uri, identifier, password)
        .await;
    let r = client.exchange(addr, &code, VERIFIER).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    Tokens {
        access: j["access_token"].as_str().unwrap().to_owned(),
        refresh: j["refresh_token"].as_str().unwrap().to_owned(),
        sub: j["sub"].as_str().unwrap().to_owned(),
        scope: j["scope"].as_str().unwrap().to_owned(),
    }
}
