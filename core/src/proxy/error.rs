//! Why a call was not forwarded, or failed on the way.

/// A refusal or failure of the proxy. Every variant means nothing reached the upstream service,
/// except [`ProxyError::Upstream`] and [`ProxyError::BodyTooLarge`] found mid-stream.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    /// The `atproto-proxy` header is not `did#service_id`.
    #[error("invalid atproto-proxy header: {0}")]
    BadHeader(String),
    /// No service is configured for a method called without an `atproto-proxy` header.
    #[error("No service configured for {0}")]
    NoService(String),
    /// The DID of the header could not be resolved.
    #[error("could not resolve proxy did {did}: {reason}")]
    UnresolvedDid {
        /// The DID.
        did: String,
        /// Why.
        reason: String,
    },
    /// The DID document has no usable endpoint for the service.
    #[error("could not resolve proxy did service url: {0}")]
    NoServiceEndpoint(String),
    /// The endpoint is not a URL this node may connect to (a private address, plain http outside
    /// development mode, this server itself).
    #[error("proxy target refused: {0}")]
    RefusedEndpoint(String),
    /// The request body is larger than the proxy forwards.
    #[error("request entity too large")]
    BodyTooLarge,
    /// The upstream service could not be reached or broke off.
    #[error("Upstream service unreachable")]
    Upstream(String),
}
