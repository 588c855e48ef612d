//! The HTTP client of the identity room: GET and JSON POST with a whole-request timeout, a connect
//! timeout, a redirect limit and a hard cap on the size of every response body. For URLs the node
//! did not choose (handles' well-known files, `did:web` documents) it is built with an
//! [`AddressPolicy`] that lets it connect to public addresses only (loopback too in development
//! mode), checked on every resolved address and every redirect hop (see [`crate::net`]).
//!
//! TLS is rustls with the ring provider and the Mozilla root certificates compiled in, so it
//! behaves the same on every platform (no OpenSSL, no system store to initialise on Android). Plain
//! http is refused — for the first request and for every redirect — unless the client is built for
//! development mode.
//!
//! [`HttpFetch`] is the seam the PLC client and the resolver call through, so tests (and, later, a
//! platform HTTP stack) can stand in for [`HttpClient`].

use std::error::Error as _;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Url;

use super::error::{excerpt, IdentityError};
use crate::net::{redirect, AddressPolicy, PublicOnlyResolver};

/// A boxed future that can move between threads, as [`HttpFetch`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Settings of an [`HttpClient`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// The longest a whole request may take, body included.
    pub timeout: Duration,
    /// The longest connecting (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// How many redirects are followed before giving up.
    pub max_redirects: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Development mode: allow plain-http URLs (and redirects to them). Never in production.
    pub allow_plain_http: bool,
    /// The addresses the client may connect to: [`AddressPolicy::Any`] for services the operator
    /// configured (the PLC directory), [`AddressPolicy::untrusted`] for everything else.
    pub addresses: AddressPolicy,
    /// Names answered with fixed addresses instead of DNS (still under `addresses`); a non-zero
    /// port replaces the URL's default one. For tests, or an operator pinning a host.
    pub pinned: Vec<(String, SocketAddr)>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_redirects: 5,
            user_agent: concat!("pocketpds/", env!("CARGO_PKG_VERSION")).to_owned(),
            allow_plain_http: false,
            addresses: AddressPolicy::Any,
            pinned: Vec::new(),
        }
    }
}

/// A response whose body was read in full (within the caller's limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The start of the body as text, for error messages.
    pub fn body_excerpt(&self) -> String {
        excerpt(&String::from_utf8_lossy(
            self.body.get(..512).unwrap_or(&self.body),
        ))
    }
}

/// What the identity room needs from HTTP. Implementations must refuse bodies over `max_bytes`
/// with [`IdentityError::ResponseTooLarge`] without reading much beyond it, and must apply their
/// own timeouts.
pub trait HttpFetch: Send + Sync {
    /// `GET url` with the given `Accept` header.
    fn get<'a>(
        &'a self,
        url: &'a Url,
        accept: &'a str,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<HttpResponse, IdentityError>>;

    /// `POST url` with a JSON body.
    fn post_json<'a>(
        &'a self,
        url: &'a Url,
        body: Vec<u8>,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<HttpResponse, IdentityError>>;
}

/// The TLS settings of the node's outbound clients: rustls with the ring provider and the Mozilla
/// root certificates compiled in.
pub fn tls_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The [`HttpFetch`] of production: a `reqwest` client over rustls. Cheap to clone (one shared
/// connection pool).
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    allow_plain_http: bool,
    addresses: AddressPolicy,
}

impl HttpClient {
    /// Builds a client with `config`. Proxies from the environment are not used.
    pub fn new(config: &HttpConfig) -> Result<HttpClient, IdentityError> {
        let tls = tls_config().map_err(IdentityError::ClientSetup)?;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(!config.allow_plain_http)
            .redirect(redirect::checked(
                config.max_redirects,
                config.addresses,
                config.allow_plain_http,
            ))
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .no_proxy();
        if config.addresses != AddressPolicy::Any || !config.pinned.is_empty() {
            let resolver = config.pinned.iter().fold(
                PublicOnlyResolver::new(config.addresses),
                |r, (name, addr)| r.with_pinned(name, vec![*addr]),
            );
            builder = builder.dns_resolver(resolver);
        }
        let client = builder
            .build()
            .map_err(|e| IdentityError::ClientSetup(describe(&e)))?;
        Ok(HttpClient {
            client,
            allow_plain_http: config.allow_plain_http,
            addresses: config.addresses,
        })
    }

    /// Refuses a URL this client must not fetch.
    fn check_url(&self, url: &Url) -> Result<(), IdentityError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_plain_http => {}
            "http" => return Err(IdentityError::InsecureUrl(excerpt(url.as_str()))),
            _ => {
                return Err(IdentityError::InvalidUrl {
                    url: excerpt(url.as_str()),
                    reason: "not http or https",
                })
            }
        }
        // An IP literal is connected to without resolving, so the resolver cannot check it.
        if !self.addresses.allows_host(url.host()) {
            return Err(IdentityError::InvalidUrl {
                url: excerpt(url.as_str()),
                reason: "not a public address",
            });
        }
        Ok(())
    }

    async fn send(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
        max_bytes: usize,
    ) -> Result<HttpResponse, IdentityError> {
        self.check_url(url)?;
        let failed = |e: reqwest::Error| IdentityError::Http {
            url: excerpt(url.as_str()),
            reason: describe(&e),
        };
        let mut response = request.send().await.map_err(failed)?;
        let too_large = || IdentityError::ResponseTooLarge {
            url: excerpt(url.as_str()),
            max: max_bytes,
        };
        if response
            .content_length()
            .is_some_and(|len| len > max_bytes as u64)
        {
            return Err(too_large());
        }
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if chunk.len() > max_bytes.saturating_sub(body.len()) {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse { status, body })
    }
}

impl HttpFetch for HttpClient {
    fn get<'a>(
        &'a self,
        url: &'a Url,
        accept: &'a str,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<HttpResponse, IdentityError>> {
        let request = self.client.get(url.clone()).header(ACCEPT, accept);
        Box::pin(self.send(url, request, max_bytes))
    }

    fn post_json<'a>(
        &'a self,
        url: &'a Url,
        body: Vec<u8>,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<HttpResponse, IdentityError>> {
        let request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body);
        Box::pin(self.send(url, request, max_bytes))
    }
}

/// A reqwest error with its causes, which carry the useful part (refused, timed out, TLS...).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_timeout() {
        text.push_str(" (timed out)");
    }
    excerpt(&text)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;

    /// A one-shot HTTP server on 127.0.0.1: answers each of `responses` (raw bytes) to one
    /// connection, in order, and returns its base URL. The request lines it saw come back through
    /// the returned handle.
    pub(crate) fn serve(responses: Vec<Vec<u8>>) -> (String, thread::JoinHandle<Vec<String>>) {
        serve_fn(|_| responses)
    }

    /// [`serve`], with the responses built from the server's base URL.
    pub(crate) fn serve_fn(
        responses: impl FnOnce(&str) -> Vec<Vec<u8>>,
    ) -> (String, thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let responses = responses(&url);
        let handle = thread::spawn(move || {
            let mut seen = Vec::new();
            for response in responses {
                let Ok((mut stream, _)) = listener.accept() else {
                    break;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                seen.push(text.lines().next().unwrap_or_default().to_owned());
                let _ = stream.write_all(&response);
            }
            seen
        });
        (url, handle)
    }

    pub(crate) fn ok(content_type: &str, body: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn dev() -> HttpClient {
        HttpClient::new(&HttpConfig {
            allow_plain_http: true,
            timeout: Duration::from_secs(5),
            ..HttpConfig::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn bodies_are_read_within_the_limit() {
        let (base, server) = serve(vec![ok("text/plain", b"hello")]);
        let url = Url::parse(&format!("{base}/x")).unwrap();
        let response = dev().get(&url, "*/*", 5).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"hello");
        assert_eq!(server.join().unwrap(), ["GET /x HTTP/1.1"]);
    }

    #[tokio::test]
    async fn oversized_bodies_are_refused_with_or_without_a_length() {
        let declared = ok("text/plain", &[b'a'; 100]);
        let mut chunked =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
        for _ in 0..64 {
            chunked.extend_from_slice(b"10\r\naaaaaaaaaaaaaaaa\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let mut unframed = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec();
        unframed.extend_from_slice(&[b'a'; 5000]);
        let (base, server) = serve(vec![declared, chunked, unframed]);
        let url = Url::parse(&base).unwrap();
        let client = dev();
        for _ in 0..3 {
            let err = client.get(&url, "*/*", 99).await.unwrap_err();
            assert!(
                matches!(err, IdentityError::ResponseTooLarge { max: 99, .. }),
                "{err}"
            );
        }
        server.join().unwrap();
    }

    #[tokio::test]
    async fn plain_http_is_refused_outside_development_mode() {
        let client = HttpClient::new(&HttpConfig::default()).unwrap();
        let url = Url::parse("http://127.0.0.1:9/x").unwrap();
        assert!(matches!(
            client.get(&url, "*/*", 10).await,
            Err(IdentityError::InsecureUrl(_))
        ));
        let url = Url::parse("ftp://example.com/x").unwrap();
        assert!(matches!(
            dev().get(&url, "*/*", 10).await,
            Err(IdentityError::InvalidUrl { .. })
        ));
    }

    #[tokio::test]
    async fn redirects_beyond_the_limit_are_errors() {
        let redirect = |to: &str| {
            format!("HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .into_bytes()
        };
        let (base, server) = serve(vec![redirect("/a"), redirect("/b")]);
        let client = HttpClient::new(&HttpConfig {
            allow_plain_http: true,
            max_redirects: 1,
            ..HttpConfig::default()
        })
        .unwrap();
        let url = Url::parse(&base).unwrap();
        let err = client.get(&url, "*/*", 10).await.unwrap_err();
        assert!(matches!(err, IdentityError::Http { .. }), "{err}");
        drop(client);
        let seen = server.join().unwrap();
        assert_eq!(seen, ["GET / HTTP/1.1", "GET /a HTTP/1.1"]);
    }

    #[tokio::test]
    async fn unreachable_servers_are_errors() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        assert!(matches!(
            dev().get(&url, "*/*", 10).await,
            Err(IdentityError::Http { .. })
        ));
    }
}
