//! Fetching client metadata documents (and confidential clients' `jwks_uri`) safely, and caching
//! them.
//!
//! A document URL must be `https://` with a path, no credentials, no fragment and a host name that
//! is not an IP literal (the reference provider's rules). Its name must resolve only to public
//! addresses: the resolver given to the HTTP client ([`crate::net::PublicOnlyResolver`]) drops
//! loopback, private, link-local, shared, multicast and reserved addresses, so a name pointing
//! inside the network (or rebinding to it between checks) is never connected to. No redirects are followed, the whole fetch has
//! [`FETCH_TIMEOUT`], bodies over [`MAX_DOCUMENT_BYTES`] are refused without reading further, and
//! the content type must be JSON. Validated documents are kept for [`CACHE_TTL`] (at most
//! [`MAX_CACHED`] clients); failures are not cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{parse_jwks, ClientMetadata, LOOPBACK_CLIENT_ORIGIN};
use crate::net::{AddressPolicy, PublicOnlyResolver};
use crate::oauth::OAuthError;

/// The longest a document fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document read, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// How long a validated document is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(10 * 60);
/// The most clients cached.
pub const MAX_CACHED: usize = 1000;

/// Resolves client ids to validated metadata.
pub struct ClientResolver {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (Arc<ClientMetadata>, Instant)>>,
}

impl ClientResolver {
    /// A resolver with its own HTTP client (rustls, Mozilla roots, the public-address resolver).
    pub fn new() -> Result<ClientResolver, OAuthError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| OAuthError::Internal(format!("TLS setup: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .user_agent(concat!("pocketpds/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .dns_resolver(PublicOnlyResolver::new(AddressPolicy::PublicOnly))
            .build()
            .map_err(|e| OAuthError::Internal(format!("HTTP client: {e}")))?;
        Ok(ClientResolver {
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The metadata of `client_id`: implied for a loopback id, else fetched (or cached).
    pub async fn resolve(&self, client_id: &str) -> Result<Arc<ClientMetadata>, OAuthError> {
        if let Some(rest) = client_id.strip_prefix(LOOPBACK_CLIENT_ORIGIN) {
            if !rest.starts_with(['.', ':']) {
                return Ok(Arc::new(ClientMetadata::loopback(client_id)?));
            }
        }
        check_document_url(client_id)?;
        if let Some(hit) = self.cached(client_id) {
            return Ok(hit);
        }
        let doc = self.fetch_json(client_id).await?;
        let mut metadata = ClientMetadata::from_document(client_id, &doc)?;
        if metadata.is_confidential() && metadata.keys.is_empty() {
            if let Some(uri) = metadata.jwks_uri.clone() {
                check_document_url(&uri)?;
                metadata.keys = parse_jwks(&self.fetch_json(&uri).await?)?;
            }
        }
        let metadata = Arc::new(metadata);
        self.remember(client_id, metadata.clone());
        Ok(metadata)
    }

    fn cached(&self, client_id: &str) -> Option<Arc<ClientMetadata>> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(client_id)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(m, _)| m.clone())
    }

    fn remember(&self, client_id: &str, metadata: Arc<ClientMetadata>) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
            }
            cache.insert(client_id.to_owned(), (metadata, Instant::now()));
        }
    }

    async fn fetch_json(&self, url: &str) -> Result<serde_json::Value, OAuthError> {
        let bad = |why: String| OAuthError::InvalidClientMetadata(why);
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| bad(format!("Could not fetch {url}: {}", describe(&e))))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(bad(format!(
                "Fetching {url} answered {} (expected 200, redirects are not followed)",
                response.status().as_u16()
            )));
        }
        let mime = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        if mime.as_deref() != Some("application/json") {
            return Err(bad(format!("{url} is not application/json")));
        }
        if response
            .content_length()
            .is_some_and(|l| l > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(bad(format!("{url} is too large")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| bad(format!("Could not read {url}: {}", describe(&e))))?
        {
            if chunk.len() > MAX_DOCUMENT_BYTES.saturating_sub(body.len()) {
                return Err(bad(format!("{url} is too large")));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| bad(format!("{url} is not JSON")))
    }
}

/// Refuses URLs a client document may not live at (see the module notes).
pub fn check_document_url(text: &str) -> Result<(), OAuthError> {
    let bad = |why: &str| OAuthError::InvalidClient(format!("Invalid client_id: {why}"));
    let url = url::Url::parse(text).map_err(|_| bad("not a URL"))?;
    if url.scheme() != "https" {
        return Err(bad("must be https (or a loopback http://localhost id)"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    if url.fragment().is_some() {
        return Err(bad("must not contain a fragment"));
    }
    if url.path() == "/" || url.path().ends_with('/') {
        return Err(bad("must have a path that does not end with /"));
    }
    if url.as_str() != text {
        return Err(bad("must be in canonical form"));
    }
    match url.host() {
        Some(url::Host::Domain(d)) if d.contains('.') || d == "localhost" => Ok(()),
        Some(url::Host::Domain(_)) => Err(bad("host must be a domain name")),
        _ => Err(bad("host must not be an IP address")),
    }
}

fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_urls_must_be_https_names_with_a_path() {
        assert!(check_document_url("https://app.example/client-metadata.json").is_ok());
        for bad in [
            "http://app.example/client-metadata.json",
            "https://app.example/",
            "https://app.example/dir/",
            "https://127.0.0.1/client.json",
            "https://[::1]/client.json",
            "https://user:pw@app.example/client.json",
            "https://app.example/client.json#x",
            "https://APP.example/client.json",
            "https://app.example/a/../client.json",
            "https://intranet/client.json",
        ] {
            assert!(check_document_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_never_fetched() {
        let resolver = ClientResolver::new().unwrap();
        let err = resolver
            .resolve("https://localhost/client-metadata.json")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_client_metadata");
        assert!(err.to_string().contains("public address"), "{err}");
    }
}
