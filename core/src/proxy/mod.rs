//! Service proxying (the reference PDS's "pipethrough"): calls this server does not answer itself
//! are forwarded to another atproto service on the account's behalf — the service an
//! `atproto-proxy: <did>#<service_id>` header names, else the one configured for the method
//! ([`target`]). The caller's credentials stay here: the upstream gets a short service token signed
//! with the account's key (made by the XRPC handler, [`crate::xrpc::proxy`]). Only allowed headers
//! cross ([`headers`]); request and response bodies stream through without being buffered, the
//! request body counted against a limit ([`body`]).
//!
//! Two HTTP clients: one for the operator's configured services (any address), one for endpoints
//! taken from DID documents, which connects to public addresses only (loopback too in development
//! mode) through [`crate::net`]'s resolver, with IP literals checked before connecting. Neither
//! follows redirects. This room calls [`crate::net`], [`crate::identity`] (DID documents) and
//! [`crate::config`]; the XRPC proxy handler calls it.

pub mod body;
mod error;
pub mod headers;
pub mod read_after_write;
pub mod target;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Response};

pub use error::ProxyError;
pub use target::{ProxyTarget, Targets};

use crate::config::Config;
use crate::net::{AddressPolicy, PublicOnlyResolver};

/// The longest connecting to an upstream service may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest an upstream service may stay silent while answering.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The proxy's clients and targets.
pub struct Proxy {
    configured: reqwest::Client,
    resolved: reqwest::Client,
    /// Where calls go.
    pub targets: Targets,
    body_limit: u64,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// The proxy of a node configured by `config`. Request bodies larger than the blob upload
    /// limit (at least 1 MiB) are not forwarded.
    pub fn new(config: &Config) -> Result<Proxy, String> {
        let build = |policy: Option<AddressPolicy>| -> Result<reqwest::Client, String> {
            let mut builder = reqwest::Client::builder()
                .tls_backend_preconfigured(crate::identity::http::tls_config()?)
                .https_only(!config.dev_mode && policy.is_some())
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
                .user_agent(concat!("pocketpds/", env!("CARGO_PKG_VERSION")))
                .no_proxy();
            if let Some(policy) = policy {
                builder = builder.dns_resolver(PublicOnlyResolver::new(policy));
            }
            builder.build().map_err(|e| e.to_string())
        };
        Ok(Proxy {
            configured: build(None)?,
            resolved: build(Some(AddressPolicy::untrusted(config.dev_mode)))?,
            targets: Targets::new(config),
            body_limit: config.blob_upload_limit.max(1 << 20),
        })
    }

    /// Forwards `method path_and_query` with `body` to `target`, carrying the allowed headers of
    /// `incoming` and `Authorization: Bearer <token>`, and returns the upstream response with its
    /// allowed headers and its body streaming.
    pub async fn forward(
        &self,
        target: &ProxyTarget,
        method: Method,
        path_and_query: &str,
        incoming: &HeaderMap,
        body: Body,
        token: &str,
    ) -> Result<Response<Body>, ProxyError> {
        let has_body = method == Method::POST;
        let declared = incoming
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if has_body && declared.is_some_and(|len| len > self.body_limit) {
            return Err(ProxyError::BodyTooLarge);
        }
        let url = format!(
            "{}{path_and_query}",
            target.url.origin().ascii_serialization()
        );
        let client = if target.configured {
            &self.configured
        } else {
            &self.resolved
        };
        let exceeded = Arc::new(AtomicBool::new(false));
        let mut request = client
            .request(method, url)
            .headers(headers::upstream_request(incoming, has_body, token));
        if has_body {
            request = request.body(reqwest::Body::wrap(body::LimitedBody::new(
                body,
                self.body_limit,
                exceeded.clone(),
            )));
        }
        let response = request.send().await.map_err(|e| {
            if exceeded.load(Ordering::SeqCst) {
                ProxyError::BodyTooLarge
            } else {
                log::info!("proxy to {}: {}", target.url, describe(&e));
                ProxyError::Upstream(describe(&e))
            }
        })?;
        let response: Response<reqwest::Body> = response.into();
        let (parts, upstream_body) = response.into_parts();
        let mut out = Response::new(Body::new(upstream_body));
        *out.status_mut() = parts.status;
        *out.headers_mut() = headers::downstream_response(&parts.headers);
        Ok(out)
    }
}

/// An error with its causes, for the log.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
