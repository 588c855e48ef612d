//! OAuth clients as the atproto profile defines them: no registration, the `client_id` is either
//! the HTTPS URL of the client's metadata document ([`fetch`]) or, for development, a loopback id
//! `http://localhost[?redirect_uri=…&scope=…]` whose metadata is implied ([`ClientMetadata::loopback`]).
//!
//! - [`ClientMetadata`]: a validated metadata document (exact `client_id` match, redirect URIs that
//!   are https, loopback IPs or private-use schemes, `atproto` in the scope, the `code` response
//!   type, `token_endpoint_auth_method` `none` or `private_key_jwt` with ES256 keys, DPoP-bound
//!   tokens) and the redirect URI comparison of RFC 8252 §7.3 / §8.4.
//! - [`auth`]: client authentication at the PAR, token and revocation endpoints.
//! - [`fetch`]: fetching documents with SSRF protection, size and time limits, and a cache.

pub mod auth;
pub mod fetch;

use serde_json::Value;

use super::scope::ScopeSet;
use super::OAuthError;
use crate::crypto::{Jwk, PublicKey};

/// The origin of loopback (development) client ids.
pub const LOOPBACK_CLIENT_ORIGIN: &str = "http://localhost";
/// The redirect URIs a loopback client gets when its id names none.
const DEFAULT_LOOPBACK_REDIRECTS: [&str; 2] = ["http://127.0.0.1/", "http://[::1]/"];
/// The most redirect URIs a client may register.
const MAX_REDIRECT_URIS: usize = 20;
/// The most keys a client may publish.
const MAX_KEYS: usize = 20;

/// A key of a confidential client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey {
    /// Its `kid`.
    pub kid: String,
    /// The key.
    pub key: PublicKey,
}

/// A validated client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadata {
    /// The client id.
    pub client_id: String,
    /// Its display name, if it gave one.
    pub client_name: Option<String>,
    /// Its home page, if it gave one (shown only when it is a safe link, see [`safe_link`]).
    pub client_uri: Option<String>,
    /// Its logo, if it gave one.
    pub logo_uri: Option<String>,
    /// Its terms of service, if it gave them.
    pub tos_uri: Option<String>,
    /// Its privacy policy, if it gave one.
    pub policy_uri: Option<String>,
    /// Where it may be sent back to.
    pub redirect_uris: Vec<String>,
    /// The scope values it may ask for.
    pub scope: String,
    /// Whether it may use refresh tokens.
    pub refresh_token_grant: bool,
    /// `none` (a public client) or `private_key_jwt` (a confidential one).
    pub token_endpoint_auth_method: String,
    /// The keys of a confidential client.
    pub keys: Vec<ClientKey>,
    /// The URL of its key set, fetched along with the document.
    pub jwks_uri: Option<String>,
    /// Whether this is a loopback development client.
    pub is_loopback: bool,
}

impl ClientMetadata {
    /// Whether the client authenticates with `private_key_jwt`.
    pub fn is_confidential(&self) -> bool {
        self.token_endpoint_auth_method == "private_key_jwt"
    }

    /// The metadata implied by a loopback client id (see the atproto OAuth profile): `scope` and
    /// `redirect_uri` query parameters (defaults `atproto` and `http://127.0.0.1/`,
    /// `http://[::1]/`), public, DPoP-bound.
    pub fn loopback(client_id: &str) -> Result<ClientMetadata, OAuthError> {
        let bad =
            |why: &str| OAuthError::InvalidClient(format!("Invalid loopback client id: {why}"));
        let rest = client_id
            .strip_prefix(LOOPBACK_CLIENT_ORIGIN)
            .ok_or_else(|| bad("must start with http://localhost"))?;
        if rest.contains('#') {
            return Err(bad("no fragment allowed"));
        }
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let query = match rest {
            "" => "",
            q => q.strip_prefix('?').ok_or_else(|| bad("no path allowed"))?,
        };
        let mut scope = None;
        let mut redirect_uris = Vec::new();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "scope" if scope.is_none() => scope = Some(value.into_owned()),
                "scope" => return Err(bad("scope repeated")),
                "redirect_uri" => {
                    if !is_loopback_redirect(&value) {
                        return Err(bad("redirect_uri must be http://127.0.0.1 or http://[::1]"));
                    }
                    redirect_uris.push(value.into_owned());
                }
                _ => return Err(bad("unexpected query parameter")),
            }
            if redirect_uris.len() > MAX_REDIRECT_URIS {
                return Err(bad("too many redirect URIs"));
            }
        }
        let scope = scope.unwrap_or_else(|| "atproto".to_owned());
        if !ScopeSet::parse(&scope)?.has_atproto() {
            return Err(bad("scope must include atproto"));
        }
        if redirect_uris.is_empty() {
            redirect_uris = DEFAULT_LOOPBACK_REDIRECTS.map(str::to_owned).to_vec();
        }
        Ok(ClientMetadata {
            client_id: client_id.to_owned(),
            client_name: None,
            client_uri: None,
            logo_uri: None,
            tos_uri: None,
            policy_uri: None,
            redirect_uris,
            scope,
            refresh_token_grant: true,
            token_endpoint_auth_method: "none".into(),
            keys: Vec::new(),
            jwks_uri: None,
            is_loopback: true,
        })
    }

    /// Validates a fetched metadata document for `client_id`. The keys of `jwks_uri` are not
    /// fetched here (see [`fetch`]).
    pub fn from_document(client_id: &str, doc: &Value) -> Result<ClientMetadata, OAuthError> {
        let bad = |why: String| OAuthError::InvalidClientMetadata(why);
        let obj = doc
            .as_object()
            .ok_or_else(|| bad("Client metadata is not a JSON object".into()))?;
        let text = |name: &str| -> Result<Option<String>, OAuthError> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(format!("\"{name}\" must be a string"))),
            }
        };
        let list = |name: &str| -> Result<Vec<String>, OAuthError> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) if items.len() <= MAX_REDIRECT_URIS => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| bad(format!("\"{name}\" must hold strings")))
                    })
                    .collect(),
                Some(_) => Err(bad(format!("\"{name}\" must be a short array"))),
            }
        };
        if text("client_id")?.as_deref() != Some(client_id) {
            return Err(bad("\"client_id\" does not match the document's URL".into()));
        }
        let redirect_uris = list("redirect_uris")?;
        if redirect_uris.is_empty() {
            return Err(bad("\"redirect_uris\" is required".into()));
        }
        if let Some(uri) = redirect_uris.iter().find(|u| !is_valid_redirect_uri(u)) {
            return Err(bad(format!("Invalid redirect URI {uri}")));
        }
        let scope = text("scope")?.unwrap_or_default();
        if !ScopeSet::parse(&scope)
            .map_err(|e| bad(e.to_string()))?
            .has_atproto()
        {
            return Err(bad("\"scope\" must include atproto".into()));
        }
        let response_types = list("response_types")?;
        if !response_types.is_empty() && !response_types.iter().any(|t| t == "code") {
            return Err(bad("\"response_types\" must include code".into()));
        }
        let grant_types = list("grant_types")?;
        if !grant_types.is_empty() && !grant_types.iter().any(|t| t == "authorization_code") {
            return Err(bad("\"grant_types\" must include authorization_code".into()));
        }
        if obj.get("dpop_bound_access_tokens") != Some(&Value::Bool(true)) {
            return Err(bad("\"dpop_bound_access_tokens\" must be true".into()));
        }
        let method = text("token_endpoint_auth_method")?
            .ok_or_else(|| bad("\"token_endpoint_auth_method\" is required".into()))?;
        let mut keys = Vec::new();
        let jwks_uri = text("jwks_uri")?;
        match method.as_str() {
            "none" => {}
            "private_key_jwt" => {
                if let Some(alg) = text("token_endpoint_auth_signing_alg")? {
                    if alg != super::jws::ES256 {
                        return Err(bad("Only ES256 client assertions are supported".into()));
                    }
                }
                match (obj.get("jwks"), &jwks_uri) {
                    (Some(jwks), None) => keys = parse_jwks(jwks)?,
                    (None, Some(uri)) if uri.starts_with("https://") => {}
                    _ => {
                        return Err(bad(
                            "A confidential client needs exactly one of \"jwks\" or an https \"jwks_uri\""
                                .into(),
                        ))
                    }
                }
            }
            other => {
                return Err(bad(format!(
                    "Unsupported token_endpoint_auth_method \"{other}\""
                )))
            }
        }
        Ok(ClientMetadata {
            client_id: client_id.to_owned(),
            client_name: text("client_name")?,
            client_uri: text("client_uri")?,
            logo_uri: text("logo_uri")?,
            tos_uri: text("tos_uri")?,
            policy_uri: text("policy_uri")?,
            redirect_uris,
            scope,
            refresh_token_grant: grant_types.is_empty()
                || grant_types.iter().any(|g| g == "refresh_token"),
            token_endpoint_auth_method: method,
            keys,
            jwks_uri,
            is_loopback: false,
        })
    }

    /// Whether every value of a requested scope is one the client declared.
    pub fn declares_scope(&self, requested: &str) -> Result<(), OAuthError> {
        let declared: Vec<&str> = self.scope.split(' ').collect();
        match requested
            .split(' ')
            .filter(|s| !s.is_empty())
            .find(|s| !declared.contains(s))
        {
            Some(s) => Err(OAuthError::InvalidScope(format!(
                "Scope \"{s}\" is not declared in the client metadata"
            ))),
            None => Ok(()),
        }
    }

    /// The registered redirect URI that `requested` matches, or the only one when none is asked.
    pub fn redirect_uri(&self, requested: Option<&str>) -> Result<String, OAuthError> {
        match requested {
            Some(uri) if self.redirect_uris.iter().any(|r| redirect_matches(r, uri)) => {
                Ok(uri.to_owned())
            }
            Some(uri) => Err(OAuthError::InvalidRequest(format!(
                "Invalid redirect_uri {uri}"
            ))),
            None => match self.redirect_uris.as_slice() {
                [only] => Ok(only.clone()),
                _ => Err(OAuthError::InvalidRequest(
                    "redirect_uri is required".into(),
                )),
            },
        }
    }
}

/// The URL to put in a link or an image of the consent page, if `uri` may be shown there: an
/// absolute `https:` URL with a host and no credentials (`http:` too in development mode). Anything
/// else — `javascript:`, `data:`, plain http in production, relative or malformed text — is never
/// rendered as a link or an image.
pub fn safe_link(uri: &str, dev_mode: bool) -> Option<String> {
    if uri.len() > 2048 {
        return None;
    }
    let url = url::Url::parse(uri).ok()?;
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => dev_mode,
        _ => false,
    };
    (scheme_ok && url.host().is_some() && url.username().is_empty() && url.password().is_none())
        .then(|| url.to_string())
}

/// Parses an inline or fetched JWK set into keys with ids (P-256 only).
pub fn parse_jwks(jwks: &Value) -> Result<Vec<ClientKey>, OAuthError> {
    let bad = |why: &str| OAuthError::InvalidClientMetadata(format!("Invalid jwks: {why}"));
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no keys"))?;
    if keys.len() > MAX_KEYS {
        return Err(bad("too many keys"));
    }
    let mut out = Vec::new();
    for k in keys {
        let Some(kid) = k.get("kid").and_then(Value::as_str) else {
            continue;
        };
        let Ok(jwk) = Jwk::from_value(k) else {
            continue;
        };
        if let Ok(key) = PublicKey::from_jwk(&jwk) {
            if jwk.crv == "P-256" {
                out.push(ClientKey {
                    kid: kid.to_owned(),
                    key,
                });
            }
        }
    }
    if out.is_empty() {
        return Err(bad("no usable ES256 key with a kid"));
    }
    Ok(out)
}

fn is_loopback_redirect(uri: &str) -> bool {
    if uri.contains('#') {
        return false;
    }
    let Ok(u) = url::Url::parse(uri) else {
        return false;
    };
    u.scheme() == "http"
        && match u.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        }
}

/// Whether `uri` may be registered: https, a loopback IP over http, or a private-use scheme
/// (`com.example.app:/callback`), with no fragment.
pub fn is_valid_redirect_uri(uri: &str) -> bool {
    if uri.contains('#') || uri.len() > 2048 {
        return false;
    }
    let Ok(u) = url::Url::parse(uri) else {
        return false;
    };
    match u.scheme() {
        "https" => u.host().is_some(),
        "http" => is_loopback_redirect(uri),
        // A private-use scheme is a reversed domain name (RFC 8252 §7.1).
        scheme => scheme.contains('.'),
    }
}

/// RFC 8252 §8.4: an exact match, except that a loopback redirect registered without a port
/// matches any port.
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(reg), Ok(req)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    is_loopback_redirect(registered)
        && reg.port().is_none()
        && reg.scheme() == req.scheme()
        && reg.host() == req.host()
        && reg.path() == req.path()
        && reg.query() == req.query()
        && req.fragment().is_none()
        && req.username().is_empty()
        && req.password().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loopback_ids_give_their_redirects_and_scope() {
        let c = ClientMetadata::loopback("http://localhost").unwrap();
        assert_eq!(c.scope, "atproto");
        assert_eq!(c.redirect_uris.len(), 2);
        let c = ClientMetadata::loopback(
            "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&scope=atproto%20transition%3Ageneric",
        )
        .unwrap();
        assert_eq!(
            c.redirect_uris,
            vec!["http://127.0.0.1/callback".to_string()]
        );
        assert_eq!(c.scope, "atproto transition:generic");
        for bad in [
            "http://localhost/path",
            "http://localhost?foo=bar",
            "http://localhost?scope=transition:generic",
            "http://localhost?redirect_uri=http%3A%2F%2Flocalhost%2Fcb",
            "http://localhost?redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
            "http://localhost#x",
            "http://localhost.evil.example",
            "https://localhost",
        ] {
            assert!(ClientMetadata::loopback(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_redirects_match_any_port_and_others_exactly() {
        assert!(redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5555/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5555/other"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:1/cb",
            "http://127.0.0.1:5555/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://[::1]:5555/cb"
        ));
        assert!(redirect_matches(
            "https://app.example/cb",
            "https://app.example/cb"
        ));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example/cb/"
        ));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example:444/cb"
        ));
    }

    #[test]
    fn only_https_links_are_shown_and_http_only_in_development_mode() {
        assert_eq!(
            safe_link("https://app.example/tos", false).as_deref(),
            Some("https://app.example/tos")
        );
        assert_eq!(safe_link("http://app.example/tos", false), None);
        assert!(safe_link("http://app.example/tos", true).is_some());
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:image/png;base64,AAAA",
            "data:text/html,<script>alert(1)</script>",
            "//evil.example/x",
            "/relative",
            "https://user:pw@app.example/",
            "vbscript:x",
            "file:///etc/passwd",
            "",
        ] {
            assert_eq!(safe_link(bad, true), None, "{bad}");
        }
    }

    #[test]
    fn documents_are_validated() {
        let id = "https://app.example/client-metadata.json";
        let good = json!({
            "client_id": id,
            "redirect_uris": ["https://app.example/cb"],
            "scope": "atproto transition:generic",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "dpop_bound_access_tokens": true,
        });
        let c = ClientMetadata::from_document(id, &good).unwrap();
        assert!(!c.is_confidential());
        assert_eq!(c.redirect_uri(None).unwrap(), "https://app.example/cb");
        assert!(c.redirect_uri(Some("https://evil.example/cb")).is_err());
        assert!(c.declares_scope("atproto").is_ok());
        assert!(c.declares_scope("atproto repo:*").is_err());
        let with = |k: &str, v: Value| {
            let mut d = good.clone();
            d[k] = v;
            ClientMetadata::from_document(id, &d)
        };
        assert!(with("client_id", json!("https://other.example/x.json")).is_err());
        assert!(with("redirect_uris", json!([])).is_err());
        assert!(with("redirect_uris", json!(["http://evil.example/cb"])).is_err());
        assert!(with("scope", json!("transition:generic")).is_err());
        assert!(with("dpop_bound_access_tokens", json!(false)).is_err());
        assert!(with("token_endpoint_auth_method", json!("client_secret_basic")).is_err());
        assert!(with("token_endpoint_auth_method", json!("private_key_jwt")).is_err());
        assert!(ClientMetadata::from_document(id, &json!([])).is_err());
    }
}
