//! Where a proxied call goes: the service an `atproto-proxy: <did>#<service_id>` header names (its
//! endpoint in the DID's document), or the service configured for the method (the app view for
//! `app.bsky.*`, the report service for `com.atproto.moderation.createReport`). `chat.bsky.*` has
//! no default, as in the reference PDS: the caller names the chat service.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Url;

use super::ProxyError;
use crate::config::Config;
use crate::identity::IdentityResolver;
use crate::net::AddressPolicy;
use crate::syntax::Did;

/// The longest `atproto-proxy` header accepted.
pub const MAX_HEADER_LEN: usize = 2048;
/// How long a resolved service endpoint is remembered.
const CACHE_TTL: Duration = Duration::from_secs(300);
/// The most endpoints remembered.
const CACHE_CAPACITY: usize = 1000;

/// A service a call is forwarded to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyTarget {
    /// The service's DID.
    pub did: String,
    /// The service id (`#bsky_appview`) when an `atproto-proxy` header named it.
    pub service_id: Option<String>,
    /// The service id its OAuth `rpc:` audience carries when configured (not named in a header).
    pub scope_service_id: Option<&'static str>,
    /// The service's endpoint.
    pub url: Url,
    /// Whether the operator configured this endpoint (any address), rather than a DID document
    /// (public addresses only).
    pub configured: bool,
}

impl ProxyTarget {
    /// The `aud` of the service token: `<did>#<service_id>` for a header, the DID for a
    /// configured service (as the reference PDS).
    pub fn aud(&self) -> String {
        match &self.service_id {
            Some(id) => format!("{}{id}", self.did),
            None => self.did.clone(),
        }
    }

    /// The audiences an OAuth `rpc:` permission may name for this target.
    pub fn scope_auds(&self) -> Vec<String> {
        let mut auds = vec![self.aud()];
        if let Some(id) = self.scope_service_id {
            auds.push(format!("{}{id}", self.did));
        }
        auds
    }
}

/// A configured service: the app view or the report service.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Configured {
    did: String,
    url: Url,
    scope_service_id: &'static str,
}

impl Configured {
    fn from(url: &Option<String>, did: &Option<String>, id: &'static str) -> Option<Configured> {
        let url = Url::parse(url.as_deref()?).ok()?;
        Some(Configured {
            did: did.clone()?,
            url,
            scope_service_id: id,
        })
    }

    fn target(&self) -> ProxyTarget {
        ProxyTarget {
            did: self.did.clone(),
            service_id: None,
            scope_service_id: Some(self.scope_service_id),
            url: self.url.clone(),
            configured: true,
        }
    }
}

/// Finds targets: configured services, and DID documents through the node's identity resolver
/// (endpoints remembered for five minutes).
pub struct Targets {
    app_view: Option<Configured>,
    report: Option<Configured>,
    own_did: String,
    dev_mode: bool,
    cache: Mutex<HashMap<String, (Instant, Url)>>,
}

impl Targets {
    /// The targets of a node configured by `config`.
    pub fn new(config: &Config) -> Targets {
        Targets {
            app_view: Configured::from(
                &config.bsky_app_view_url,
                &config.bsky_app_view_did,
                "#bsky_appview",
            ),
            report: Configured::from(
                &config.report_service_url,
                &config.report_service_did,
                "#atproto_labeler",
            ),
            own_did: config.service_did(),
            dev_mode: config.dev_mode,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The service configured for `lxm` when no header names one: the report service (else the app
    /// view) for `com.atproto.moderation.createReport`, the app view for `app.bsky.*`.
    pub fn default_for(&self, lxm: &str) -> Result<ProxyTarget, ProxyError> {
        let configured = if lxm == "com.atproto.moderation.createReport" {
            self.report.as_ref().or(self.app_view.as_ref())
        } else if lxm.starts_with("app.bsky.") {
            self.app_view.as_ref()
        } else {
            None
        };
        configured
            .map(Configured::target)
            .ok_or_else(|| ProxyError::NoService(lxm.to_owned()))
    }

    /// The target an `atproto-proxy` header names, its DID resolved through `resolver`.
    pub async fn from_header(
        &self,
        header: &str,
        resolver: &IdentityResolver,
    ) -> Result<ProxyTarget, ProxyError> {
        let (did, service_id) = parse_header(header)?;
        if did.as_str() == self.own_did {
            return Err(ProxyError::RefusedEndpoint(
                "the header names this server".into(),
            ));
        }
        let url =
            match self.cached(header) {
                Some(url) => url,
                None => {
                    let document = resolver.resolve_did(&did).await.map_err(|e| {
                        ProxyError::UnresolvedDid {
                            did: did.to_string(),
                            reason: e.to_string(),
                        }
                    })?;
                    let name = service_id.trim_start_matches('#');
                    let endpoint = document
                        .service_endpoint(name)
                        .ok_or_else(|| ProxyError::NoServiceEndpoint(header.to_owned()))?;
                    let url = Url::parse(endpoint)
                        .map_err(|_| ProxyError::NoServiceEndpoint(header.to_owned()))?;
                    self.remember(header, &url);
                    url
                }
            };
        check_endpoint(&url, self.dev_mode)?;
        Ok(ProxyTarget {
            did: did.to_string(),
            service_id: Some(service_id),
            scope_service_id: None,
            url,
            configured: false,
        })
    }

    fn cached(&self, key: &str) -> Option<Url> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, url)| url.clone())
    }

    fn remember(&self, key: &str, url: &Url) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(key.to_owned(), (Instant::now(), url.clone()));
        }
    }
}

/// Splits `did#service_id` (the service id keeps its `#`), refusing what the reference refuses: no
/// DID, no service id, a second `#`, spaces; and a DID or service id that is not valid.
pub fn parse_header(header: &str) -> Result<(Did, String), ProxyError> {
    let bad = |why: &str| ProxyError::BadHeader(why.to_owned());
    if header.len() > MAX_HEADER_LEN {
        return Err(bad("too long"));
    }
    let Some(at) = header.find('#') else {
        return Err(bad("no service id specified in proxy header"));
    };
    let (did, service_id) = header.split_at(at);
    if did.is_empty() {
        return Err(bad("no did specified in proxy header"));
    }
    let id = &service_id[1..];
    if id.is_empty() {
        return Err(bad("no service id specified in proxy header"));
    }
    if id.contains('#') {
        return Err(bad("invalid proxy header format"));
    }
    if header.contains(' ') {
        return Err(bad("proxy header cannot contain spaces"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'~'))
    {
        return Err(bad("invalid service id"));
    }
    let did = Did::parse(did).map_err(|e| bad(&format!("invalid did: {e}")))?;
    Ok((did, service_id.to_owned()))
}

/// Refuses an endpoint from a DID document that this node must not connect to: not http(s), plain
/// http outside development mode, credentials in the URL, or an IP literal that is not public
/// (loopback too in development mode). Names are checked when the client resolves them.
pub fn check_endpoint(url: &Url, dev_mode: bool) -> Result<(), ProxyError> {
    let refuse = |why: &str| ProxyError::RefusedEndpoint(format!("{why}: {url}"));
    match url.scheme() {
        "https" => {}
        "http" if dev_mode => {}
        "http" => return Err(refuse("plain http is allowed in development mode only")),
        _ => return Err(refuse("not an http(s) URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("credentials in the URL"));
    }
    if !AddressPolicy::untrusted(dev_mode).allows_host(url.host()) {
        return Err(refuse("not a public address"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_a_did_and_a_service() {
        let (did, id) = parse_header("did:web:api.bsky.app#bsky_appview").unwrap();
        assert_eq!(did.as_str(), "did:web:api.bsky.app");
        assert_eq!(id, "#bsky_appview");
        for bad in [
            "did:web:api.bsky.app",
            "#bsky_appview",
            "did:web:api.bsky.app#",
            "did:web:a#b#c",
            "did:web:api.bsky.app# bsky",
            "not-a-did#svc",
            "did:web:x#sv/c",
            &format!("did:web:{}#x", "a".repeat(3000)),
        ] {
            assert!(
                matches!(parse_header(bad), Err(ProxyError::BadHeader(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn endpoints_must_be_public_https_outside_development_mode() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(check_endpoint(&url("https://api.example.com"), false).is_ok());
        assert!(check_endpoint(&url("https://8.8.8.8"), false).is_ok());
        for bad in [
            "http://api.example.com",
            "https://127.0.0.1",
            "https://10.0.0.1:8080",
            "https://[::1]",
            "https://169.254.169.254",
            "https://user:pw@api.example.com",
            "ftp://api.example.com",
        ] {
            assert!(check_endpoint(&url(bad), false).is_err(), "{bad}");
        }
        assert!(check_endpoint(&url("http://127.0.0.1:3000"), true).is_ok());
        assert!(check_endpoint(&url("http://192.168.1.1:3000"), true).is_err());
        assert!(check_endpoint(&url("http://10.1.2.3"), true).is_err());
    }

    #[test]
    fn methods_without_a_header_go_to_the_configured_services() {
        let config = Config::from_vars(|k| match k {
            "PDS_BSKY_APP_VIEW_URL" => Some("https://api.example.com".into()),
            "PDS_BSKY_APP_VIEW_DID" => Some("did:web:api.example.com".into()),
            _ => None,
        })
        .unwrap();
        let targets = Targets::new(&config);
        let t = targets.default_for("app.bsky.feed.getTimeline").unwrap();
        assert_eq!(t.aud(), "did:web:api.example.com");
        assert_eq!(
            t.scope_auds(),
            [
                "did:web:api.example.com",
                "did:web:api.example.com#bsky_appview"
            ]
        );
        let report = targets
            .default_for("com.atproto.moderation.createReport")
            .unwrap();
        assert_eq!(report.did, "did:web:api.example.com");
        for none in ["chat.bsky.convo.listConvos", "com.atproto.temp.fetchLabels"] {
            assert_eq!(
                targets.default_for(none),
                Err(ProxyError::NoService(none.into()))
            );
        }
        let bare = Targets::new(&Config::default());
        assert!(bare.default_for("app.bsky.feed.getTimeline").is_err());
    }
}
