//! Identity resolution: DID → DID document (did:plc through the PLC directory, did:web through
//! `https://<host>/.well-known/did.json`), handle → DID, and the bidirectional check that makes a
//! handle trustworthy (the handle names the DID, and the DID's document names the handle back).
//!
//! Configuration comes in as parameters (the PLC URL, development mode), never from the
//! environment. A node gives the resolver two HTTP clients: the PLC directory's (a service the
//! operator chose) and one for the open web (handles' well-known files, `did:web`), which connects to
//! public addresses only ([`IdentityResolver::with_plc`]); handle answers may be cached
//! ([`IdentityResolver::with_handle_cache`]). Development mode allows `.test` handles and `did:web:localhost` (with a port, over
//! plain http); the HTTP client decides separately whether plain http is allowed at all.

use std::sync::Arc;

use reqwest::Url;

use super::did_doc::{DidDocument, MAX_DID_DOCUMENT_BYTES};
use super::error::{excerpt, IdentityError};
use super::handle::{check_resolvable, DnsTxtResolver, HandleResolver};
use super::handle_cache::HandleCache;
use super::http::HttpFetch;
use super::plc_client::PlcClient;
use crate::syntax::{Did, Handle};

/// A DID with its document and, when it checked out both ways, its handle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The DID.
    pub did: Did,
    /// The handle, only if the document claims it and the handle resolves back to the DID.
    pub handle: Option<Handle>,
    /// The DID document.
    pub document: DidDocument,
}

/// Resolves DIDs and handles.
#[derive(Clone)]
pub struct IdentityResolver {
    plc: PlcClient,
    handles: HandleResolver,
    http: Arc<dyn HttpFetch>,
    dev_mode: bool,
    cache: Option<Arc<HandleCache>>,
}

impl std::fmt::Debug for IdentityResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityResolver")
            .field("plc", &self.plc)
            .field("dns", &self.handles.dns.is_some())
            .field("dev_mode", &self.dev_mode)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl IdentityResolver {
    /// A resolver using the PLC directory at `plc_url`, fetching through `http`. `dev_mode` is the
    /// node's development mode (`PDS_DEV_MODE`). Handles resolve over HTTPS only until a DNS
    /// resolver is added with [`IdentityResolver::with_dns`].
    pub fn new(
        plc_url: &str,
        dev_mode: bool,
        http: Arc<dyn HttpFetch>,
    ) -> Result<IdentityResolver, IdentityError> {
        Ok(IdentityResolver::with_plc(
            PlcClient::new(plc_url, http.clone())?,
            dev_mode,
            http,
        ))
    }

    /// A resolver asking `plc` for did:plc documents and fetching everything else — handles'
    /// well-known files, did:web documents — through `web`, which should connect to public
    /// addresses only (an [`super::HttpClient`] built with [`crate::net::AddressPolicy::untrusted`]).
    pub fn with_plc(plc: PlcClient, dev_mode: bool, web: Arc<dyn HttpFetch>) -> IdentityResolver {
        IdentityResolver {
            plc,
            handles: HandleResolver {
                http: web.clone(),
                dns: None,
                dev_mode,
            },
            http: web,
            dev_mode,
            cache: None,
        }
    }

    /// The same resolver, remembering handle answers (and failures) in `cache`.
    pub fn with_handle_cache(mut self, cache: HandleCache) -> IdentityResolver {
        self.cache = Some(Arc::new(cache));
        self
    }

    /// The same resolver, resolving handles by DNS TXT records first.
    pub fn with_dns(mut self, dns: Arc<dyn DnsTxtResolver>) -> IdentityResolver {
        self.handles.dns = Some(dns);
        self
    }

    /// The DNS TXT resolver the host supplied, if any (Lexicon resolution asks it too).
    pub fn dns(&self) -> Option<Arc<dyn DnsTxtResolver>> {
        self.handles.dns.clone()
    }

    /// The client for URLs the node did not choose (public addresses only, loopback too in
    /// development mode).
    pub fn web(&self) -> Arc<dyn HttpFetch> {
        self.http.clone()
    }

    /// The PLC directory client this resolver uses.
    pub fn plc(&self) -> &PlcClient {
        &self.plc
    }

    /// The current DID document of `did`, which must be about `did`.
    pub async fn resolve_did(&self, did: &Did) -> Result<DidDocument, IdentityError> {
        match did.method() {
            "plc" => self.plc.resolve(did).await,
            "web" => {
                let url = did_web_url(did, self.dev_mode)?;
                let response = self
                    .http
                    .get(
                        &url,
                        "application/did+json, application/json",
                        MAX_DID_DOCUMENT_BYTES,
                    )
                    .await?;
                match response.status {
                    200..=299 => DidDocument::from_slice_for(did, &response.body),
                    404 | 410 => Err(IdentityError::NotFound(did.to_string())),
                    status => Err(IdentityError::HttpStatus {
                        url: excerpt(url.as_str()),
                        status,
                        message: response.body_excerpt(),
                    }),
                }
            }
            other => Err(IdentityError::UnsupportedDidMethod(excerpt(other))),
        }
    }

    /// The DID `handle` names (DNS TXT first when configured, then HTTPS well-known). One
    /// direction only: use [`IdentityResolver::resolve_handle_verified`] to trust the handle.
    /// Handles that can never resolve fail at once; other answers come from the cache when one is
    /// set and holds the handle.
    pub async fn resolve_handle(&self, handle: &Handle) -> Result<Did, IdentityError> {
        check_resolvable(handle, self.dev_mode)?;
        let Some(cache) = &self.cache else {
            return self.handles.resolve(handle).await;
        };
        if let Some(answer) = cache.get(handle) {
            return answer;
        }
        let answer = self.handles.resolve(handle).await;
        cache.put(handle, &answer);
        answer
    }

    /// Forgets the cached answer for `handle`, if any (`com.atproto.identity.refreshIdentity`).
    pub fn forget_handle(&self, handle: &Handle) {
        if let Some(cache) = &self.cache {
            cache.forget(handle);
        }
    }

    /// Resolves `handle` to a DID and that DID to its document, and checks that the document claims
    /// `handle`; otherwise [`IdentityError::HandleMismatch`].
    pub async fn resolve_handle_verified(
        &self,
        handle: &Handle,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let did = self.resolve_handle(handle).await?;
        let document = self.resolve_did(&did).await?;
        if document.handle().as_ref() != Some(handle) {
            return Err(IdentityError::HandleMismatch {
                handle: handle.to_string(),
                did: did.to_string(),
            });
        }
        Ok(VerifiedIdentity {
            did,
            handle: Some(handle.clone()),
            document,
        })
    }

    /// Resolves `did` to its document and keeps the handle it claims only if that handle resolves
    /// back to `did`. A handle that fails to resolve, for any reason, leaves `handle` empty (the
    /// account shows as `handle.invalid`); only the DID's own resolution is an error.
    pub async fn resolve_did_verified(&self, did: &Did) -> Result<VerifiedIdentity, IdentityError> {
        let document = self.resolve_did(did).await?;
        let mut handle = None;
        if let Some(claimed) = document.handle() {
            match self.resolve_handle(&claimed).await {
                Ok(back) if back == *did => handle = Some(claimed),
                Ok(back) => log::info!("handle {claimed} of {did} names {back} instead"),
                Err(e) => log::info!("handle {claimed} of {did} does not resolve: {e}"),
            }
        }
        Ok(VerifiedIdentity {
            did: did.clone(),
            handle,
            document,
        })
    }
}

/// Where the document of a `did:web` lives: `https://<host>/.well-known/did.json`. Only
/// hostname-level DIDs are supported (no paths). `localhost`, with an optional percent-encoded port
/// (`did:web:localhost%3A2583`), is allowed in development mode only and fetched over plain http.
pub(crate) fn did_web_url(did: &Did, dev_mode: bool) -> Result<Url, IdentityError> {
    let refuse = |reason| IdentityError::UnsupportedDidWeb {
        did: excerpt(did.as_str()),
        reason,
    };
    if did.method() != "web" {
        return Err(refuse("not a did:web"));
    }
    let id = did.identifier();
    if id.contains(':') {
        return Err(refuse("path-based did:web is not supported"));
    }
    let (host, port) = match id.find("%3A").or_else(|| id.find("%3a")) {
        Some(at) => (
            id.get(..at).unwrap_or_default(),
            Some(id.get(at + 3..).unwrap_or_default()),
        ),
        None => (id, None),
    };
    if host.contains('%') {
        return Err(refuse("percent-encoding other than a port separator"));
    }
    let text = if host == "localhost" {
        if !dev_mode {
            return Err(refuse("localhost is allowed in development mode only"));
        }
        match port {
            None => "http://localhost/.well-known/did.json".to_owned(),
            Some(port) => {
                let valid = port.len() <= 5
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && port.parse::<u16>().is_ok_and(|p| p != 0);
                if !valid {
                    return Err(refuse("invalid port"));
                }
                format!("http://localhost:{port}/.well-known/did.json")
            }
        }
    } else {
        if port.is_some() {
            return Err(refuse("a port is allowed for localhost only"));
        }
        let hostname = Handle::parse(host).map_err(|_| refuse("not a valid hostname"))?;
        check_resolvable(&hostname, dev_mode)
            .map_err(|_| refuse("its top-level domain is reserved"))?;
        format!("https://{}/.well-known/did.json", hostname.as_str())
    };
    Url::parse(&text).map_err(|_| refuse("not a valid hostname"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Algorithm, Keypair};
    use crate::identity::http::tests::{ok, serve_fn};
    use crate::identity::http::{BoxFuture, HttpClient, HttpConfig, HttpResponse};
    use serde_json::json;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Canned answers by URL; everything else is a 404. Records the URLs asked.
    #[derive(Default)]
    struct Fake {
        answers: HashMap<String, (u16, Vec<u8>)>,
        asked: Mutex<Vec<String>>,
    }

    impl Fake {
        fn with(mut self, url: &str, status: u16, body: impl Into<Vec<u8>>) -> Fake {
            self.answers.insert(url.to_owned(), (status, body.into()));
            self
        }
    }

    impl HttpFetch for Fake {
        fn get<'a>(
            &'a self,
            url: &'a Url,
            _accept: &'a str,
            max_bytes: usize,
        ) -> BoxFuture<'a, Result<HttpResponse, IdentityError>> {
            self.asked.lock().unwrap().push(url.to_string());
            let (status, body) = self
                .answers
                .get(url.as_str())
                .cloned()
                .unwrap_or((404, Vec::new()));
            Box::pin(async move {
                if body.len() > max_bytes {
                    return Err(IdentityError::ResponseTooLarge {
                        url: url.to_string(),
                        max: max_bytes,
                    });
                }
                Ok(HttpResponse { status, body })
            })
        }

        fn post_json<'a>(
            &'a self,
            _url: &'a Url,
            _body: Vec<u8>,
            _max_bytes: usize,
        ) -> BoxFuture<'a, Result<HttpResponse, IdentityError>> {
            Box::pin(async {
                Ok(HttpResponse {
                    status: 500,
                    body: Vec::new(),
                })
            })
        }
    }

    struct Dns(Vec<String>);

    impl DnsTxtResolver for Dns {
        fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>> {
            let answer = if name == "_atproto.alice.example.com" {
                Ok(self.0.clone())
            } else {
                Err("SERVFAIL".to_owned())
            };
            Box::pin(async move { answer })
        }
    }

    const PLC: &str = "https://plc.example.net";
    const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";

    fn document(did: &str, handle: &str) -> Vec<u8> {
        let key = Keypair::generate(Algorithm::K256).unwrap().public_key();
        json!({
            "id": did,
            "alsoKnownAs": [format!("at://{handle}")],
            "verificationMethod": [{
                "id": format!("{did}#atproto"), "type": "Multikey", "controller": did,
                "publicKeyMultibase": key.to_multibase()
            }],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example.com"}]
        })
        .to_string()
        .into_bytes()
    }

    fn build(fake: Fake) -> (IdentityResolver, Arc<Fake>) {
        let fake = Arc::new(fake);
        let resolver = IdentityResolver::new(PLC, false, fake.clone()).unwrap();
        (resolver, fake)
    }

    fn did(s: &str) -> Did {
        Did::parse(s).unwrap()
    }

    fn handle(s: &str) -> Handle {
        Handle::parse(s).unwrap()
    }

    #[tokio::test]
    async fn handles_verify_both_ways() {
        let fake = Fake::default()
            .with(
                "https://alice.example.com/.well-known/atproto-did",
                200,
                format!("{ALICE}\n"),
            )
            .with(
                &format!("{PLC}/{ALICE}"),
                200,
                document(ALICE, "alice.example.com"),
            );
        let (resolver, _) = build(fake);
        let verified = resolver
            .resolve_handle_verified(&handle("Alice.Example.com"))
            .await
            .unwrap();
        assert_eq!(verified.did.as_str(), ALICE);
        assert_eq!(verified.handle, Some(handle("alice.example.com")));
        let back = resolver.resolve_did_verified(&did(ALICE)).await.unwrap();
        assert_eq!(back.handle, Some(handle("alice.example.com")));
        assert!(back.document.signing_key().is_some());
    }

    #[tokio::test]
    async fn a_handle_the_document_does_not_claim_is_refused() {
        // mallory.example.com points at Alice's DID, whose document names alice.example.com.
        let fake = Fake::default()
            .with(
                "https://mallory.example.com/.well-known/atproto-did",
                200,
                ALICE,
            )
            .with(
                &format!("{PLC}/{ALICE}"),
                200,
                document(ALICE, "alice.example.com"),
            );
        let (resolver, _) = build(fake);
        assert_eq!(
            resolver
                .resolve_handle_verified(&handle("mallory.example.com"))
                .await,
            Err(IdentityError::HandleMismatch {
                handle: "mallory.example.com".into(),
                did: ALICE.into()
            })
        );
        // And a document claiming a handle that does not point back keeps no handle.
        let fake = Fake::default()
            .with(
                &format!("{PLC}/{ALICE}"),
                200,
                document(ALICE, "bob.example.com"),
            )
            .with(
                "https://bob.example.com/.well-known/atproto-did",
                200,
                "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb",
            );
        let (resolver, _) = build(fake);
        let identity = resolver.resolve_did_verified(&did(ALICE)).await.unwrap();
        assert_eq!(identity.handle, None);
    }

    #[tokio::test]
    async fn dns_records_win_over_https() {
        let other = "did:plc:cccccccccccccccccccccccc";
        let fake = Fake::default().with(
            "https://alice.example.com/.well-known/atproto-did",
            200,
            other,
        );
        let (plain, fake) = build(fake);
        let with_dns = plain.with_dns(Arc::new(Dns(vec![format!("did={ALICE}")])));
        assert_eq!(
            with_dns
                .resolve_handle(&handle("alice.example.com"))
                .await
                .unwrap()
                .as_str(),
            ALICE
        );
        assert!(fake.asked.lock().unwrap().is_empty());
        // No record: HTTPS decides. A failed lookup with nothing over HTTPS reports the DNS failure.
        let (resolver, _) = build(Fake::default().with(
            "https://alice.example.com/.well-known/atproto-did",
            200,
            other,
        ));
        let resolver = resolver.with_dns(Arc::new(Dns(vec!["unrelated".into()])));
        assert_eq!(
            resolver
                .resolve_handle(&handle("alice.example.com"))
                .await
                .unwrap()
                .as_str(),
            other
        );
        assert!(matches!(
            resolver.resolve_handle(&handle("bob.example.com")).await,
            Err(IdentityError::Dns { .. })
        ));
    }

    #[tokio::test]
    async fn hostile_answers_are_errors() {
        let fake = Fake::default()
            .with(
                "https://alice.example.com/.well-known/atproto-did",
                200,
                "<html>hello</html>",
            )
            .with(
                "https://big.example.com/.well-known/atproto-did",
                200,
                vec![b'd'; 10_000],
            )
            .with(
                "https://down.example.com/.well-known/atproto-did",
                503,
                "busy",
            )
            .with(
                &format!("{PLC}/{ALICE}"),
                200,
                document("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", "x.example.com"),
            )
            .with(
                "https://example.com/.well-known/did.json",
                200,
                vec![b' '; 100_000],
            );
        let (resolver, _) = build(fake);
        assert!(matches!(
            resolver.resolve_handle(&handle("alice.example.com")).await,
            Err(IdentityError::Syntax(_))
        ));
        assert!(matches!(
            resolver.resolve_handle(&handle("big.example.com")).await,
            Err(IdentityError::ResponseTooLarge { .. })
        ));
        assert!(matches!(
            resolver.resolve_handle(&handle("down.example.com")).await,
            Err(IdentityError::HttpStatus { status: 503, .. })
        ));
        assert_eq!(
            resolver.resolve_handle(&handle("nobody.example.com")).await,
            Err(IdentityError::NotFound("nobody.example.com".into()))
        );
        assert!(matches!(
            resolver.resolve_did(&did(ALICE)).await,
            Err(IdentityError::DocumentDidMismatch { .. })
        ));
        assert!(matches!(
            resolver.resolve_did(&did("did:web:example.com")).await,
            Err(IdentityError::ResponseTooLarge { .. })
        ));
        assert_eq!(
            resolver
                .resolve_did(&did(
                    "did:key:zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"
                ))
                .await,
            Err(IdentityError::UnsupportedDidMethod("key".into()))
        );
        assert!(matches!(
            resolver.resolve_handle(&handle("alice.test")).await,
            Err(IdentityError::UnresolvableHandle { .. })
        ));
    }

    #[test]
    fn did_web_urls_follow_the_atproto_rules() {
        let url = |s: &str, dev| did_web_url(&did(s), dev).map(|u| u.to_string());
        assert_eq!(
            url("did:web:example.com", false).unwrap(),
            "https://example.com/.well-known/did.json"
        );
        assert_eq!(
            url("did:web:localhost%3A2583", true).unwrap(),
            "http://localhost:2583/.well-known/did.json"
        );
        assert_eq!(
            url("did:web:localhost", true).unwrap(),
            "http://localhost/.well-known/did.json"
        );
        for (bad, dev) in [
            ("did:web:localhost%3A2583", false),
            ("did:web:localhost", false),
            ("did:web:example.com:user:alice", true),
            ("did:web:example.com%3A443", true),
            ("did:web:localhost%3A0", true),
            ("did:web:localhost%3A99999", true),
            ("did:web:localhost%3A12ab", true),
            ("did:web:ex%41mple.com", true),
            ("did:web:com", true),
            ("did:web:laptop.local", true),
            ("did:web:alice.test", false),
            ("did:web:-bad-.com", true),
            ("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", true),
        ] {
            assert!(
                matches!(url(bad, dev), Err(IdentityError::UnsupportedDidWeb { .. })),
                "{bad} {dev}"
            );
        }
    }

    #[tokio::test]
    async fn did_web_documents_are_fetched_over_http_from_localhost_in_development_mode() {
        let did_for =
            |base: &str| format!("did:web:localhost%3A{}", base.rsplit(':').next().unwrap());
        let (base, server) = serve_fn(|base| {
            let body = document(&did_for(base), "alice.example.com");
            vec![ok("application/did+json", &body)]
        });
        let http = HttpClient::new(&HttpConfig {
            allow_plain_http: true,
            ..HttpConfig::default()
        })
        .unwrap();
        let resolver = IdentityResolver::new(PLC, true, Arc::new(http)).unwrap();
        let web = did(&did_for(&base));
        let doc = resolver.resolve_did(&web).await.unwrap();
        assert_eq!(doc.id(), &web);
        assert_eq!(doc.pds_endpoint(), Some("https://pds.example.com"));
        assert_eq!(
            server.join().unwrap(),
            ["GET /.well-known/did.json HTTP/1.1"]
        );
    }
}
