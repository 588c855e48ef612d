//! Permission sets: `include:<nsid>[?aud=…]` scope values, resolved at PAR time by Lexicon
//! resolution and expanded into the granular permissions they name (atproto "Permissions" spec,
//! "Permission Sets").
//!
//! Resolution: the NSID's authority (every segment but the name, reversed: `com.example.auth.basic`
//! → `auth.example.com`) → the DNS TXT record `_lexicon.<authority>` holding `did=<did>` → that
//! DID's document → its PDS → `com.atproto.repo.getRecord` of the `com.atproto.lexicon.schema`
//! record whose key is the NSID. DNS goes through the node's TXT resolver (hickory in the daemon);
//! the DID document and the record through the node's client for URLs it did not choose (public
//! addresses only, loopback too in development mode). A resolved record is cached in the shared
//! database ([`crate::storage::OAuthStore::permission_set`]) for [`CACHE_SECS`], so every node
//! answers alike; failures are not cached.
//!
//! Checks: the record is a Lexicon document (`lexicon: 1`) whose `id` is the NSID and whose `main`
//! definition is a `permission-set`; each permission is `repo` (collections), `rpc` (methods) or
//! `blob`; every collection and method lies inside the set's own namespace (the NSID without its
//! name: `com.example.auth.basic` may name `com.example.auth.*`, never `*` nor another
//! namespace); an `rpc` permission has no audience of its own other than `*`, or `inheritAud`,
//! which takes the `aud` of the `include:` value (required then). Anything else fails the request
//! with `invalid_scope` and a description saying which set and why.

use std::collections::BTreeMap;

use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::scope::{Include, ScopeSet};
use super::OAuthError;
use crate::http::NodeState;
use crate::syntax::Did;

/// How long a resolved permission set is reused, in seconds (one hour).
pub const CACHE_SECS: i64 = 3600;
/// The largest record answer read.
const MAX_RECORD_BYTES: usize = 64 * 1024;
/// The most permissions a set may hold.
const MAX_PERMISSIONS: usize = 64;
/// The most permission sets one request may include.
pub const MAX_INCLUDES: usize = 10;

/// A permission set granted through an `include:` value: what the consent page shows and what it
/// expands to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedSet {
    /// The `include:` value as the client asked for it.
    pub scope: String,
    /// The set's title.
    pub title: Option<String>,
    /// Its title in other languages.
    #[serde(default)]
    pub title_lang: BTreeMap<String, String>,
    /// Its longer description.
    pub detail: Option<String>,
    /// Its description in other languages.
    #[serde(default)]
    pub detail_lang: BTreeMap<String, String>,
    /// The granular scope values it expands to.
    pub permissions: Vec<String>,
}

impl GrantedSet {
    /// The title and detail in the first of `languages` (an `Accept-Language` header) the set has,
    /// else the default ones.
    pub fn localized(&self, accept_language: Option<&str>) -> (Option<&str>, Option<&str>) {
        let langs = languages(accept_language);
        (
            pick(&langs, &self.title, &self.title_lang),
            pick(&langs, &self.detail, &self.detail_lang),
        )
    }
}

fn pick<'a>(
    langs: &[String],
    default: &'a Option<String>,
    map: &'a BTreeMap<String, String>,
) -> Option<&'a str> {
    for lang in langs {
        let base = lang.split('-').next().unwrap_or_default();
        if let Some(v) = map.get(lang).or_else(|| map.get(base)) {
            return Some(v.as_str());
        }
    }
    default.as_deref()
}

/// The language tags of an `Accept-Language` header, most preferred first (weights honoured).
fn languages(header: Option<&str>) -> Vec<String> {
    let mut tags: Vec<(f32, usize, String)> = header
        .unwrap_or("")
        .split(',')
        .take(20)
        .enumerate()
        .filter_map(|(i, part)| {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next()?.trim().to_ascii_lowercase();
            if tag.is_empty() || tag == "*" || tag.len() > 35 {
                return None;
            }
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                .unwrap_or(1.0f32);
            (q > 0.0).then_some((q, i, tag))
        })
        .collect();
    tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    tags.into_iter().map(|(_, _, t)| t).collect()
}

fn invalid(nsid: &str, why: impl std::fmt::Display) -> OAuthError {
    OAuthError::InvalidScope(format!("Permission set {nsid}: {why}"))
}

/// The domain whose `_lexicon` TXT record names the DID publishing `nsid`.
pub fn authority_domain(nsid: &str) -> Option<String> {
    let segments: Vec<&str> = nsid.split('.').collect();
    if segments.len() < 3 {
        return None;
    }
    let authority = segments.get(..segments.len() - 1)?;
    Some(
        authority
            .iter()
            .rev()
            .copied()
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// Whether `other` (a collection or method NSID) lies in the namespace of the set `nsid`: it
/// starts with everything up to and including the set's last dot, and is longer.
pub fn in_namespace(nsid: &str, other: &str) -> bool {
    match nsid.rfind('.') {
        Some(dot) => {
            let group = &nsid[..=dot];
            other.len() > group.len() && other.starts_with(group)
        }
        None => false,
    }
}

/// Resolves every `include:` of a granted scope and returns the scope with the sets expanded (the
/// other values first, in order, then each set's permissions) and the sets for the consent page.
pub async fn expand_scope(
    state: &NodeState,
    scope: &str,
) -> Result<(String, Vec<GrantedSet>), OAuthError> {
    let parsed = ScopeSet::parse(scope)?;
    if parsed.includes().is_empty() {
        return Ok((scope.to_owned(), Vec::new()));
    }
    if parsed.includes().len() > MAX_INCLUDES {
        return Err(OAuthError::InvalidScope(format!(
            "At most {MAX_INCLUDES} permission sets may be asked for at once"
        )));
    }
    let mut values: Vec<String> = parsed
        .values()
        .iter()
        .filter(|v| !v.starts_with("include:") && !v.starts_with("include?"))
        .cloned()
        .collect();
    let mut sets = Vec::new();
    for include in parsed.includes() {
        let document = fetch_set(state, &include.nsid).await?;
        let set = expand(include, &document)?;
        for p in &set.permissions {
            if !values.contains(p) {
                values.push(p.clone());
            }
        }
        sets.push(set);
    }
    let expanded = values.join(" ");
    // What the token will carry must parse as this server's own scope.
    ScopeSet::parse(&expanded)?;
    Ok((expanded, sets))
}

/// The Lexicon record of `nsid`: from the cache, or resolved and cached.
async fn fetch_set(state: &NodeState, nsid: &str) -> Result<Value, OAuthError> {
    let oauth = &state.oauth;
    let now = oauth.now();
    if let Some(text) = oauth.store.permission_set(nsid, now).await? {
        if let Ok(doc) = serde_json::from_str(&text) {
            return Ok(doc);
        }
    }
    let domain = authority_domain(nsid).ok_or_else(|| invalid(nsid, "not a resolvable NSID"))?;
    let dns = state.identity.dns().ok_or_else(|| {
        invalid(
            nsid,
            "this server has no DNS resolver for Lexicon resolution",
        )
    })?;
    let name = format!("_lexicon.{domain}");
    let records = dns
        .txt(&name)
        .await
        .map_err(|e| invalid(nsid, format!("DNS lookup of {name} failed: {e}")))?;
    let mut dids = records.iter().filter_map(|r| r.strip_prefix("did="));
    let did = match (dids.next(), dids.next()) {
        (Some(did), None) => {
            Did::parse(did.trim()).map_err(|e| invalid(nsid, format!("{name}: {e}")))?
        }
        (None, _) => return Err(invalid(nsid, format!("no did= TXT record at {name}"))),
        (Some(_), Some(_)) => return Err(invalid(nsid, format!("several DIDs at {name}"))),
    };
    let document = state
        .identity
        .resolve_did(&did)
        .await
        .map_err(|e| invalid(nsid, format!("resolving {did}: {e}")))?;
    let pds = document
        .pds_endpoint()
        .ok_or_else(|| invalid(nsid, format!("{did} names no PDS")))?;
    let mut url = Url::parse(pds)
        .and_then(|u| u.join("/xrpc/com.atproto.repo.getRecord"))
        .map_err(|_| invalid(nsid, format!("{did} names an invalid PDS URL")))?;
    url.query_pairs_mut()
        .append_pair("repo", did.as_str())
        .append_pair("collection", "com.atproto.lexicon.schema")
        .append_pair("rkey", nsid);
    let response = state
        .identity
        .web()
        .get(&url, "application/json", MAX_RECORD_BYTES)
        .await
        .map_err(|e| invalid(nsid, format!("fetching its Lexicon: {e}")))?;
    if !response.is_success() {
        let not_found = response.status == 400 || response.status == 404;
        return Err(invalid(
            nsid,
            if not_found {
                format!("no Lexicon record for it in the repository of {did}")
            } else {
                format!("fetching its Lexicon answered {}", response.status)
            },
        ));
    }
    let body: Value = serde_json::from_slice(&response.body)
        .map_err(|_| invalid(nsid, "its Lexicon record is not JSON"))?;
    let value = body
        .get("value")
        .cloned()
        .ok_or_else(|| invalid(nsid, "the record answer has no value"))?;
    check_document(nsid, &value)?;
    oauth
        .store
        .put_permission_set(nsid, &value.to_string(), now + CACHE_SECS)
        .await?;
    Ok(value)
}

/// Checks that a Lexicon record is the permission set `nsid`.
fn check_document(nsid: &str, doc: &Value) -> Result<(), OAuthError> {
    if doc.get("lexicon").and_then(Value::as_i64) != Some(1) {
        return Err(invalid(nsid, "its record is not a Lexicon document"));
    }
    if doc.get("id").and_then(Value::as_str) != Some(nsid) {
        return Err(invalid(nsid, "its Lexicon document has another id"));
    }
    match doc.pointer("/defs/main/type").and_then(Value::as_str) {
        Some("permission-set") => Ok(()),
        Some(other) => Err(invalid(
            nsid,
            format!("its Lexicon is a {other}, not a permission-set"),
        )),
        None => Err(invalid(nsid, "its Lexicon has no main definition")),
    }
}

fn strings(nsid: &str, p: &Value, key: &str) -> Result<Vec<String>, OAuthError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= 64 => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(nsid, format!("\"{key}\" must hold strings")))
            })
            .collect(),
        Some(_) => Err(invalid(nsid, format!("\"{key}\" must be a short array"))),
    }
}

fn lang_map(main: &Value, key: &str) -> BTreeMap<String, String> {
    main.get(key)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .take(50)
                .filter_map(|(k, v)| {
                    Some((
                        k.to_ascii_lowercase(),
                        v.as_str()?.chars().take(1000).collect(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One scope value `prefix:<only>` or `prefix?key=a&key=b`, with `extra` parameters.
fn scope_value(prefix: &str, key: &str, items: &[String], extra: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let head = match items {
        [only] => format!("{prefix}:{only}"),
        _ => {
            for i in items {
                query.append_pair(key, i);
            }
            prefix.to_owned()
        }
    };
    for (k, v) in extra {
        query.append_pair(k, v);
    }
    let query = query.finish();
    if query.is_empty() {
        head
    } else {
        format!("{head}?{query}")
    }
}

/// Checks a permission set document against its `include:` and expands it.
pub fn expand(include: &Include, doc: &Value) -> Result<GrantedSet, OAuthError> {
    let nsid = include.nsid.as_str();
    check_document(nsid, doc)?;
    let main = doc.pointer("/defs/main").unwrap_or(&Value::Null);
    let permissions = main
        .get("permissions")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(nsid, "it has no permissions"))?;
    if permissions.is_empty() || permissions.len() > MAX_PERMISSIONS {
        return Err(invalid(
            nsid,
            format!("it must hold 1 to {MAX_PERMISSIONS} permissions"),
        ));
    }
    let outside = |what: &str| {
        invalid(
            nsid,
            format!("{what} is outside the set's namespace and cannot be granted through it"),
        )
    };
    let mut out = Vec::new();
    for p in permissions {
        if p.get("type").and_then(Value::as_str) != Some("permission") {
            return Err(invalid(nsid, "an entry is not a permission"));
        }
        let value = match p.get("resource").and_then(Value::as_str) {
            Some("repo") => {
                let collections = strings(nsid, p, "collection")?;
                if collections.is_empty() {
                    return Err(invalid(nsid, "a repo permission names no collection"));
                }
                if let Some(c) = collections.iter().find(|c| !in_namespace(nsid, c)) {
                    return Err(outside(&format!("collection {c}")));
                }
                let actions = strings(nsid, p, "action")?;
                let extra: Vec<(&str, &str)> =
                    actions.iter().map(|a| ("action", a.as_str())).collect();
                scope_value("repo", "collection", &collections, &extra)
            }
            Some("rpc") => {
                let lxms = strings(nsid, p, "lxm")?;
                if lxms.is_empty() {
                    return Err(invalid(nsid, "an rpc permission names no method"));
                }
                if let Some(m) = lxms.iter().find(|m| !in_namespace(nsid, m)) {
                    return Err(outside(&format!("method {m}")));
                }
                let inherit = p.get("inheritAud").and_then(Value::as_bool) == Some(true);
                let aud = match (p.get("aud").and_then(Value::as_str), inherit) {
                    (Some("*"), _) => "*".to_owned(),
                    (Some(_), _) => {
                        return Err(invalid(
                            nsid,
                            "an rpc permission of a set may not name its own audience",
                        ))
                    }
                    (None, true) => include.aud.clone().ok_or_else(|| {
                        invalid(
                            nsid,
                            "it needs an audience: ask for it with ?aud=<did#service>",
                        )
                    })?,
                    (None, false) => {
                        return Err(invalid(nsid, "an rpc permission has no audience"))
                    }
                };
                scope_value("rpc", "lxm", &lxms, &[("aud", &aud)])
            }
            Some("blob") => {
                let accept = strings(nsid, p, "accept")?;
                if accept.is_empty() {
                    return Err(invalid(nsid, "a blob permission accepts nothing"));
                }
                scope_value("blob", "accept", &accept, &[])
            }
            Some(other) => {
                return Err(invalid(
                    nsid,
                    format!("a {other} permission cannot be granted through a permission set"),
                ))
            }
            None => return Err(invalid(nsid, "a permission has no resource")),
        };
        ScopeSet::parse(&value).map_err(|e| invalid(nsid, e))?;
        if !out.contains(&value) {
            out.push(value);
        }
    }
    let text = |key: &str| {
        main.get(key)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(1000).collect::<String>())
    };
    Ok(GrantedSet {
        scope: include.value.clone(),
        title: text("title"),
        title_lang: lang_map(main, "title:lang"),
        detail: text("detail"),
        detail_lang: lang_map(main, "detail:lang"),
        permissions: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn include(value: &str) -> Include {
        ScopeSet::parse(value).unwrap().includes()[0].clone()
    }

    fn set(permissions: Value) -> Value {
        json!({
            "lexicon": 1,
            "id": "com.example.auth.basic",
            "defs": {"main": {
                "type": "permission-set",
                "title": "Basic",
                "title:lang": {"fr": "De base"},
                "detail": "Posts and likes",
                "permissions": permissions,
            }},
        })
    }

    #[test]
    fn authority_domains_reverse_the_namespace() {
        assert_eq!(
            authority_domain("com.example.auth.basic").as_deref(),
            Some("auth.example.com")
        );
        assert!(in_namespace(
            "com.example.auth.basic",
            "com.example.auth.post"
        ));
        assert!(in_namespace(
            "com.example.auth.basic",
            "com.example.auth.sub.thing"
        ));
        assert!(!in_namespace(
            "com.example.auth.basic",
            "com.example.authx.post"
        ));
        assert!(!in_namespace("com.example.auth.basic", "com.example.auth."));
        assert!(!in_namespace(
            "com.example.auth.basic",
            "app.bsky.feed.post"
        ));
        assert!(!in_namespace("com.example.auth.basic", "*"));
    }

    #[test]
    fn a_set_expands_into_granular_permissions_with_the_inherited_audience() {
        let doc = set(json!([
            {"type": "permission", "resource": "repo", "collection": ["com.example.auth.post"]},
            {"type": "permission", "resource": "repo",
             "collection": ["com.example.auth.like", "com.example.auth.follow"], "action": ["create"]},
            {"type": "permission", "resource": "rpc", "lxm": ["com.example.auth.getFeed"], "inheritAud": true},
            {"type": "permission", "resource": "blob", "accept": ["image/*"]},
        ]));
        let inc = include("include:com.example.auth.basic?aud=did:web:api.example%23svc");
        let granted = expand(&inc, &doc).unwrap();
        assert_eq!(
            granted.permissions,
            [
                "repo:com.example.auth.post",
                "repo?collection=com.example.auth.like&collection=com.example.auth.follow&action=create",
                "rpc:com.example.auth.getFeed?aud=did%3Aweb%3Aapi.example%23svc",
                "blob:image/*",
            ]
        );
        let scope = ScopeSet::parse(&granted.permissions.join(" ")).unwrap();
        assert!(scope.allows_repo(
            "com.example.auth.post",
            super::super::scope::RepoAction::Delete
        ));
        assert!(!scope.allows_repo(
            "com.example.auth.like",
            super::super::scope::RepoAction::Delete
        ));
        assert!(scope.allows_rpc("did:web:api.example#svc", "com.example.auth.getFeed"));
        assert_eq!(
            granted.localized(Some("fr-CH, en;q=0.5")).0,
            Some("De base")
        );
        assert_eq!(granted.localized(Some("de")).0, Some("Basic"));
        assert_eq!(granted.localized(None).1, Some("Posts and likes"));
    }

    #[test]
    fn hostile_sets_are_refused_with_invalid_scope() {
        let inc = include("include:com.example.auth.basic");
        let cases = [
            set(
                json!([{"type": "permission", "resource": "repo", "collection": ["app.bsky.feed.post"]}]),
            ),
            set(json!([{"type": "permission", "resource": "repo", "collection": ["*"]}])),
            set(
                json!([{"type": "permission", "resource": "rpc", "lxm": ["com.example.auth.x"], "aud": "did:web:evil.example#svc"}]),
            ),
            set(
                json!([{"type": "permission", "resource": "rpc", "lxm": ["com.example.auth.x"], "inheritAud": true}]),
            ),
            set(json!([{"type": "permission", "resource": "account", "attr": "email"}])),
            set(
                json!([{"type": "permission", "resource": "repo", "collection": ["com.example.auth.x"], "action": ["destroy"]}]),
            ),
            set(json!([])),
            json!({"lexicon": 1, "id": "com.example.auth.basic", "defs": {"main": {"type": "record"}}}),
            json!({"lexicon": 1, "id": "com.example.other", "defs": {"main": {"type": "permission-set"}}}),
            json!({"id": "com.example.auth.basic"}),
        ];
        for doc in cases {
            let err = expand(&inc, &doc).unwrap_err();
            assert_eq!(err.code(), "invalid_scope", "{doc}");
            assert!(err.to_string().contains("com.example.auth.basic"), "{err}");
        }
    }
}
