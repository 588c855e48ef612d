//! atproto OAuth scopes: parsing a requested or granted `scope` and answering what it permits.
//!
//! Understood: `atproto` (required), the transitional `transition:generic` (what an app password
//! may do), `transition:chat.bsky` and `transition:email`, and the granular permissions
//! `repo:<collection>[?action=create|update|delete…]` (or `repo?collection=…`), `blob:<mime>` (or
//! `blob?accept=…`), `rpc:<nsid>?aud=<did#service|*>` (or `rpc?lxm=…&aud=…`), `account:<email|repo|status>
//! [?action=read|manage]` and `identity:<handle|*>`, and `include:<nsid>[?aud=<did#service>]`,
//! a permission set, which is kept as written here ([`ScopeSet::includes`]) and expanded into the
//! granular permissions it names at PAR time ([`crate::oauth::permission_set`]). Other scope
//! values are ignored, as the reference provider ignores them. A granular scope that is malformed
//! (an unknown parameter, an invalid NSID or action) is refused.

use std::collections::BTreeSet;

use super::OAuthError;
use crate::syntax::is_valid_nsid;

/// The longest `scope` accepted, in bytes.
pub const MAX_SCOPE_LEN: usize = 4096;

/// A repository write action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RepoAction {
    /// Creating a record.
    Create,
    /// Updating (putting over) a record.
    Update,
    /// Deleting a record.
    Delete,
}

impl RepoAction {
    /// Its name in scopes.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoAction::Create => "create",
            RepoAction::Update => "update",
            RepoAction::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Option<RepoAction> {
        match s {
            "create" => Some(RepoAction::Create),
            "update" => Some(RepoAction::Update),
            "delete" => Some(RepoAction::Delete),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RepoPermission {
    collections: Vec<String>,
    actions: Vec<RepoAction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RpcPermission {
    lxms: Vec<String>,
    aud: String,
}

/// A parsed scope and what it permits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet {
    values: Vec<String>,
    atproto: bool,
    generic: bool,
    chat: bool,
    email: bool,
    repo: Vec<RepoPermission>,
    blob: Vec<String>,
    rpc: Vec<RpcPermission>,
    /// Account attributes and their actions (`read`, `manage`), without repeats, in order given.
    account: Vec<(String, Vec<String>)>,
    identity: Vec<String>,
    includes: Vec<Include>,
}

/// An `include:` scope value: a permission set and the audience its `rpc` permissions may inherit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The scope value as written.
    pub value: String,
    /// The permission set's NSID.
    pub nsid: String,
    /// The `aud` parameter, if any.
    pub aud: Option<String>,
}

impl ScopeSet {
    /// Parses a space-separated scope. Unknown values are dropped; malformed granular ones and
    /// `include:` are errors.
    pub fn parse(scope: &str) -> Result<ScopeSet, OAuthError> {
        if scope.len() > MAX_SCOPE_LEN {
            return Err(OAuthError::InvalidScope("Scope too long".into()));
        }
        let mut set = ScopeSet::default();
        let mut seen = BTreeSet::new();
        for value in scope.split(' ').filter(|v| !v.is_empty()) {
            if !seen.insert(value) {
                continue;
            }
            if set.add(value)? {
                set.values.push(value.to_owned());
            }
        }
        Ok(set)
    }

    /// Whether `atproto` is present.
    pub fn has_atproto(&self) -> bool {
        self.atproto
    }

    /// The understood values, space-separated, in the order given: the scope that is granted.
    pub fn to_scope_string(&self) -> String {
        self.values.join(" ")
    }

    /// The understood values.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// The permission sets (`include:`) asked for.
    pub fn includes(&self) -> &[Include] {
        &self.includes
    }

    /// Whether `transition:generic` is present.
    pub fn has_transition_generic(&self) -> bool {
        self.generic
    }

    /// Whether `transition:chat.bsky` is present.
    pub fn has_transition_chat(&self) -> bool {
        self.chat
    }

    /// Whether it may write `collection` with `action`.
    pub fn allows_repo(&self, collection: &str, action: RepoAction) -> bool {
        self.generic
            || self.repo.iter().any(|p| {
                p.actions.contains(&action)
                    && p.collections.iter().any(|c| c == "*" || c == collection)
            })
    }

    /// Whether it may upload a blob of MIME type `mime`.
    pub fn allows_blob(&self, mime: &str) -> bool {
        self.generic || self.blob.iter().any(|accept| mime_matches(accept, mime))
    }

    /// Whether it may call method `lxm` of service `aud` through this server.
    pub fn allows_rpc(&self, aud: &str, lxm: &str) -> bool {
        let chat = lxm.starts_with("chat.bsky.");
        (self.generic && !chat)
            || (self.chat && chat)
            || self.rpc.iter().any(|p| {
                (p.aud == "*" || p.aud == aud) && p.lxms.iter().any(|m| m == "*" || m == lxm)
            })
    }

    /// Whether it may read (`manage == false`) or manage the account attribute `attr` (`email`,
    /// `repo`, `status`).
    pub fn allows_account(&self, attr: &str, manage: bool) -> bool {
        (attr == "email" && !manage && self.email)
            || self
                .account
                .iter()
                .any(|(a, actions)| a == attr && (!manage || actions.iter().any(|x| x == "manage")))
    }

    /// Whether it may change the identity attribute `attr` (`handle`, or `*` for everything).
    pub fn allows_identity(&self, attr: &str) -> bool {
        self.identity.iter().any(|a| a == "*" || a == attr)
    }

    /// Adds one value; false when it is not one this server understands (and is dropped).
    fn add(&mut self, value: &str) -> Result<bool, OAuthError> {
        let bad = |why: &str| OAuthError::InvalidScope(format!("Invalid scope \"{value}\": {why}"));
        match value {
            "atproto" => self.atproto = true,
            "transition:generic" => self.generic = true,
            "transition:chat.bsky" => self.chat = true,
            "transition:email" => self.email = true,
            _ => {
                let (prefix, positional, params) = split(value).map_err(&bad)?;
                match prefix {
                    "include" => {
                        check_keys(&params, &["nsid", "aud"]).map_err(&bad)?;
                        let nsids = values(positional, &params, "nsid")?;
                        let [nsid] = nsids.as_slice() else {
                            return Err(bad("one nsid is required"));
                        };
                        if !is_valid_nsid(nsid) {
                            return Err(bad("nsid must be an NSID"));
                        }
                        let aud = match multi(&params, "aud").as_slice() {
                            [] => None,
                            [aud] if is_audience(aud) => Some(aud.clone()),
                            _ => return Err(bad("aud must be one DID with a service fragment")),
                        };
                        self.includes.push(Include {
                            value: value.to_owned(),
                            nsid: nsid.clone(),
                            aud,
                        });
                    }
                    "repo" => {
                        let collections = values(positional, &params, "collection")?;
                        check_keys(&params, &["collection", "action"]).map_err(&bad)?;
                        if collections.is_empty()
                            || !collections.iter().all(|c| c == "*" || is_valid_nsid(c))
                        {
                            return Err(bad("collection must be an NSID or *"));
                        }
                        let actions = match multi(&params, "action") {
                            a if a.is_empty() => {
                                vec![RepoAction::Create, RepoAction::Update, RepoAction::Delete]
                            }
                            a => a
                                .iter()
                                .map(|s| RepoAction::parse(s))
                                .collect::<Option<Vec<_>>>()
                                .ok_or_else(|| bad("unknown action"))?,
                        };
                        self.repo.push(RepoPermission {
                            collections,
                            actions,
                        });
                    }
                    "blob" => {
                        let accept = values(positional, &params, "accept")?;
                        check_keys(&params, &["accept"]).map_err(&bad)?;
                        if accept.is_empty() || !accept.iter().all(|m| valid_mime_pattern(m)) {
                            return Err(bad("accept must be a MIME type pattern"));
                        }
                        // MIME types are case-insensitive; uploads are compared lowercased.
                        self.blob
                            .extend(accept.into_iter().map(|a| a.to_ascii_lowercase()));
                    }
                    "rpc" => {
                        let lxms = values(positional, &params, "lxm")?;
                        check_keys(&params, &["lxm", "aud"]).map_err(&bad)?;
                        let aud = match multi(&params, "aud").as_slice() {
                            [aud] if aud == "*" || is_audience(aud) => aud.clone(),
                            _ => {
                                return Err(bad(
                                    "one aud is required: * or a DID with a service fragment",
                                ))
                            }
                        };
                        if lxms.is_empty() || !lxms.iter().all(|m| m == "*" || is_valid_nsid(m)) {
                            return Err(bad("lxm must be an NSID or *"));
                        }
                        if aud == "*" && lxms.iter().any(|m| m == "*") {
                            return Err(bad("lxm and aud cannot both be *"));
                        }
                        self.rpc.push(RpcPermission { lxms, aud });
                    }
                    "account" => {
                        check_keys(&params, &["attr", "action"]).map_err(&bad)?;
                        let attrs = values(positional, &params, "attr")?;
                        let [attr] = attrs.as_slice() else {
                            return Err(bad("one attr is required"));
                        };
                        if !matches!(attr.as_str(), "email" | "repo" | "status") {
                            return Err(bad("unknown account attr"));
                        }
                        let mut actions: Vec<String> = Vec::new();
                        for a in multi(&params, "action") {
                            if a != "read" && a != "manage" {
                                return Err(bad("action must be read or manage"));
                            }
                            if !actions.contains(&a) {
                                actions.push(a);
                            }
                        }
                        if actions.is_empty() {
                            actions.push("read".to_owned());
                        }
                        self.account.push((attr.clone(), actions));
                    }
                    "identity" => {
                        check_keys(&params, &["attr"]).map_err(&bad)?;
                        let attrs = values(positional, &params, "attr")?;
                        let [attr] = attrs.as_slice() else {
                            return Err(bad("one attr is required"));
                        };
                        if !matches!(attr.as_str(), "handle" | "*") {
                            return Err(bad("unknown identity attr"));
                        }
                        self.identity.push(attr.clone());
                    }
                    _ => return Ok(false),
                }
            }
        }
        Ok(true)
    }
}

/// The canonical form of one scope value, as the reference library (`@atproto/oauth-scopes`)
/// writes it: `Ok(None)` for a value this server does not understand (and ignores), an error for
/// a malformed one. Lists are sorted and deduplicated (`*` absorbs the rest), a default (every
/// repo action, the `read` account action) is left out, a single value is written positionally,
/// and the characters `: / + , @` are left unescaped. Two spellings of one permission have one
/// canonical form.
pub fn normalize_value(value: &str) -> Result<Option<String>, OAuthError> {
    if value.contains(' ') {
        return Err(OAuthError::InvalidScope(
            "One scope value holds no space".into(),
        ));
    }
    let set = ScopeSet::parse(value)?;
    if set.values.is_empty() {
        return Ok(None);
    }
    if set.atproto || set.generic || set.chat || set.email {
        return Ok(Some(value.to_owned()));
    }
    let sorted = |items: &[String]| -> Vec<String> {
        if items.len() > 1 && items.iter().any(|i| i == "*") {
            return vec!["*".to_owned()];
        }
        let unique: BTreeSet<&String> = items.iter().collect();
        unique.into_iter().cloned().collect()
    };
    let canonical = if let Some(repo) = set.repo.first() {
        let all = [RepoAction::Create, RepoAction::Update, RepoAction::Delete];
        let actions: Vec<(&str, &str)> = if all.iter().all(|a| repo.actions.contains(a)) {
            Vec::new()
        } else {
            all.iter()
                .filter(|a| repo.actions.contains(a))
                .map(|a| ("action", a.as_str()))
                .collect()
        };
        let collections = if repo.collections.len() > 1 {
            sorted(&repo.collections)
        } else {
            repo.collections.clone()
        };
        canonical("repo", "collection", &collections, &actions)
    } else if let Some(rpc) = set.rpc.first() {
        canonical("rpc", "lxm", &sorted(&rpc.lxms), &[("aud", &rpc.aud)])
    } else if !set.blob.is_empty() {
        let accept: Vec<String> = if set.blob.iter().any(|a| a == "*/*") {
            vec!["*/*".to_owned()]
        } else {
            let lower: Vec<String> = set.blob.iter().map(|a| a.to_ascii_lowercase()).collect();
            let kept: BTreeSet<String> = lower
                .iter()
                .filter(|a| {
                    a.ends_with("/*") || {
                        let base = a.split('/').next().unwrap_or_default();
                        !lower.contains(&format!("{base}/*"))
                    }
                })
                .cloned()
                .collect();
            kept.into_iter().collect()
        };
        canonical("blob", "accept", &accept, &[])
    } else if let Some((attr, actions)) = set.account.first() {
        let action: Vec<(&str, &str)> = if actions.as_slice() == ["read"] {
            Vec::new()
        } else {
            actions.iter().map(|a| ("action", a.as_str())).collect()
        };
        canonical("account", "attr", std::slice::from_ref(attr), &action)
    } else if let Some(attr) = set.identity.first() {
        canonical("identity", "attr", std::slice::from_ref(attr), &[])
    } else if let Some(include) = set.includes.first() {
        let aud: Vec<(&str, &str)> = include.aud.iter().map(|a| ("aud", a.as_str())).collect();
        canonical("include", "nsid", std::slice::from_ref(&include.nsid), &aud)
    } else {
        return Ok(None);
    };
    Ok(Some(canonical))
}

/// `prefix:<only>?extra` or `prefix?key=a&key=b&extra`, encoded as the reference library does.
fn canonical(prefix: &str, key: &str, items: &[String], extra: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut out = prefix.to_owned();
    if let [only] = items {
        out.push(':');
        out.push_str(&unescape_allowed(&encode_component(only)));
    } else {
        for item in items {
            query.append_pair(key, item);
        }
    }
    for (k, v) in extra {
        query.append_pair(k, v);
    }
    let query = query.finish();
    if !query.is_empty() {
        out.push('?');
        out.push_str(&unescape_allowed(&query));
    }
    out
}

/// JavaScript's `encodeURIComponent`.
fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Writes the escapes of `: / + , @ %` as the characters themselves.
fn unescape_allowed(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let plain = match rest.get(at..at + 3) {
            Some("%3A") => Some(':'),
            Some("%2F") => Some('/'),
            Some("%2B") => Some('+'),
            Some("%2C") => Some(','),
            Some("%40") => Some('@'),
            Some("%25") => Some('%'),
            _ => None,
        };
        match plain {
            Some(c) => {
                out.push(c);
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

type Params = Vec<(String, String)>;

/// `prefix[:positional][?query]`, with the positional part percent-decoded.
fn split(value: &str) -> Result<(&str, Option<String>, Params), &'static str> {
    let query_at = value.find('?');
    let colon_at = value.find(':').filter(|c| query_at.is_none_or(|q| *c < q));
    let prefix_end = colon_at.or(query_at).unwrap_or(value.len());
    let prefix = value.get(..prefix_end).ok_or("bad prefix")?;
    let positional = match colon_at {
        Some(c) => {
            let end = query_at.unwrap_or(value.len());
            let raw = value.get(c + 1..end).ok_or("bad positional")?;
            let decoded = percent_decode(raw).ok_or("bad percent-encoding")?;
            if decoded.is_empty() {
                return Err("empty positional");
            }
            Some(decoded)
        }
        None => None,
    };
    let params = match query_at {
        Some(q) => url::form_urlencoded::parse(value.get(q + 1..).unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
        None => Vec::new(),
    };
    Ok((prefix, positional, params))
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes: Vec<u8> =
        url::form_urlencoded::parse(format!("x={}", raw.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned().into_bytes())?;
    String::from_utf8(bytes).ok()
}

fn multi(params: &Params, key: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

/// The positional value or the `key` parameters (not both).
fn values(
    positional: Option<String>,
    params: &Params,
    key: &str,
) -> Result<Vec<String>, OAuthError> {
    let from_params = multi(params, key);
    match positional {
        Some(_) if !from_params.is_empty() => Err(OAuthError::InvalidScope(format!(
            "\"{key}\" given twice in a scope"
        ))),
        Some(p) => Ok(vec![p]),
        None => Ok(from_params),
    }
}

fn check_keys(params: &Params, allowed: &[&str]) -> Result<(), &'static str> {
    if params.iter().all(|(k, _)| allowed.contains(&k.as_str())) {
        Ok(())
    } else {
        Err("unknown parameter")
    }
}

/// An atproto service audience: an atproto DID followed by `#` and a service id
/// (`did:web:api.example#svc`).
fn is_audience(aud: &str) -> bool {
    match aud.split_once('#') {
        Some((did, fragment)) => {
            is_atproto_did(did)
                && !fragment.is_empty()
                && fragment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        }
        None => false,
    }
}

/// A DID of a method atproto blesses: `did:plc` (24 base32 characters) or a `did:web` without a
/// path and, but for localhost, without a port.
fn is_atproto_did(did: &str) -> bool {
    if let Some(id) = did.strip_prefix("did:plc:") {
        return id.len() == 24
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    }
    match did.strip_prefix("did:web:") {
        Some(host) => {
            let localhost = host == "localhost" || host.starts_with("localhost%3A");
            crate::syntax::is_valid_did(did)
                && !host.contains(':')
                && (localhost || !host.contains("%3A"))
        }
        None => false,
    }
}

fn valid_mime_pattern(m: &str) -> bool {
    let Some((t, s)) = m.split_once('/') else {
        return false;
    };
    let token = |x: &str| {
        !x.is_empty()
            && x.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    (t == "*" && s == "*") || (token(t) && (s == "*" || token(s)))
}

fn mime_matches(accept: &str, mime: &str) -> bool {
    let mime = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match accept.split_once('/') {
        Some(("*", "*")) => true,
        Some((t, "*")) => mime.split_once('/').is_some_and(|(mt, _)| mt == t),
        _ => mime == accept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_generic_allows_repo_writes_and_non_chat_rpc() {
        let s = ScopeSet::parse("atproto transition:generic").unwrap();
        assert!(s.has_atproto());
        assert!(s.allows_repo("app.bsky.feed.post", RepoAction::Delete));
        assert!(s.allows_blob("image/png"));
        assert!(s.allows_rpc("did:web:api.bsky.app", "app.bsky.feed.getTimeline"));
        assert!(!s.allows_rpc("did:web:api.bsky.chat", "chat.bsky.convo.listConvos"));
        assert!(!s.allows_account("email", false));
        assert_eq!(s.to_scope_string(), "atproto transition:generic");
    }

    #[test]
    fn atproto_alone_allows_no_writes() {
        let s = ScopeSet::parse("atproto").unwrap();
        assert!(!s.allows_repo("app.bsky.feed.post", RepoAction::Create));
        assert!(!s.allows_blob("image/png"));
        assert!(!ScopeSet::parse("transition:generic").unwrap().has_atproto());
    }

    #[test]
    fn repo_permissions_match_collection_and_action() {
        let s = ScopeSet::parse("atproto repo:app.bsky.feed.post?action=create").unwrap();
        assert!(s.allows_repo("app.bsky.feed.post", RepoAction::Create));
        assert!(!s.allows_repo("app.bsky.feed.post", RepoAction::Delete));
        assert!(!s.allows_repo("app.bsky.feed.like", RepoAction::Create));
        let all = ScopeSet::parse("atproto repo:*").unwrap();
        assert!(all.allows_repo("com.example.thing", RepoAction::Update));
        let multi = ScopeSet::parse(
            "atproto repo?collection=app.bsky.feed.like&collection=app.bsky.graph.follow&action=delete",
        )
        .unwrap();
        assert!(multi.allows_repo("app.bsky.graph.follow", RepoAction::Delete));
        assert!(!multi.allows_repo("app.bsky.graph.follow", RepoAction::Create));
    }

    #[test]
    fn other_granular_permissions() {
        let s = ScopeSet::parse(
            "atproto blob:image/* rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app%23bsky_appview \
             account:email?action=manage identity:handle transition:chat.bsky",
        )
        .unwrap();
        assert!(s.allows_blob("image/jpeg"));
        assert!(!s.allows_blob("video/mp4"));
        assert!(s.allows_rpc(
            "did:web:api.bsky.app#bsky_appview",
            "app.bsky.feed.getTimeline"
        ));
        assert!(!s.allows_rpc("did:web:other#svc", "app.bsky.feed.getTimeline"));
        assert!(s.allows_rpc("did:web:api.bsky.chat", "chat.bsky.convo.listConvos"));
        assert!(s.allows_account("email", true));
        assert!(s.allows_identity("handle"));
        assert!(!s.allows_identity("*"));
    }

    #[test]
    fn unknown_values_are_dropped_and_malformed_granular_ones_refused() {
        let s = ScopeSet::parse("atproto openid something atproto").unwrap();
        assert_eq!(s.to_scope_string(), "atproto");
        for bad in [
            "repo:not an nsid",
            "repo:app.bsky.feed.post?action=destroy",
            "repo:app.bsky.feed.post?foo=bar",
            "repo:",
            "repo",
            "blob:image",
            "rpc:app.bsky.feed.getTimeline",
            "rpc:*?aud=*",
            "rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app",
            "account:password",
            "identity:email",
            "include:not-an-nsid",
            "include:com.example.set?aud=did:web:api.example",
            "include:com.example.set?foo=bar",
        ] {
            let err = ScopeSet::parse(&format!("atproto {bad}")).unwrap_err();
            assert_eq!(err.code(), "invalid_scope", "{bad}");
        }
        assert!(ScopeSet::parse(&"atproto ".repeat(2000)).is_err());
    }

    #[test]
    fn values_have_one_canonical_form() {
        for (value, expected) in [
            ("atproto", Some("atproto")),
            ("openid", None),
            ("repo:app.bsky.feed.post", Some("repo:app.bsky.feed.post")),
            (
                "repo?collection=app.bsky.feed.post&action=delete&action=create&action=create",
                Some("repo:app.bsky.feed.post?action=create&action=delete"),
            ),
            (
                "repo?collection=b.b.b&collection=a.a.a&collection=b.b.b&action=update&action=create&action=delete",
                Some("repo?collection=a.a.a&collection=b.b.b"),
            ),
            ("repo?collection=a.a.a&collection=*", Some("repo:*")),
            (
                "blob?accept=image/PNG&accept=image/*&accept=video/mp4",
                Some("blob?accept=image/*&accept=video/mp4"),
            ),
            ("blob?accept=image/png&accept=*/*", Some("blob:*/*")),
            (
                "rpc?lxm=b.b.b&lxm=a.a.a&aud=did:web:x.example%23svc",
                Some("rpc?lxm=a.a.a&lxm=b.b.b&aud=did:web:x.example%23svc"),
            ),
            ("rpc:a.a.a?aud=*", Some("rpc:a.a.a?aud=*")),
            ("account:email?action=read", Some("account:email")),
            ("account?attr=repo&action=manage", Some("account:repo?action=manage")),
            (
                "account:email?action=manage&action=read&action=manage",
                Some("account:email?action=manage&action=read"),
            ),
            ("identity?attr=*", Some("identity:*")),
            (
                "include?nsid=com.example.set&aud=did:plc:ewvi7nxzyoun6zhxrhs64oiz%23svc",
                Some("include:com.example.set?aud=did:plc:ewvi7nxzyoun6zhxrhs64oiz%23svc"),
            ),
        ] {
            assert_eq!(normalize_value(value).unwrap().as_deref(), expected, "{value}");
        }
        assert!(normalize_value("repo:not-an-nsid").is_err());
        assert!(normalize_value("atproto repo:a.b.c").is_err());
    }

    #[test]
    fn permission_sets_are_kept_with_their_audience() {
        let s = ScopeSet::parse(
            "atproto include:com.example.auth.basic include:com.example.auth.full?aud=did:web:api.example%23svc",
        )
        .unwrap();
        let inc = s.includes();
        assert_eq!(inc.len(), 2);
        assert_eq!(inc[0].nsid, "com.example.auth.basic");
        assert_eq!(inc[0].aud, None);
        assert_eq!(inc[1].aud.as_deref(), Some("did:web:api.example#svc"));
        // An include grants nothing by itself: it is expanded at PAR time.
        assert!(!s.allows_repo("com.example.auth.thing", RepoAction::Create));
    }
}
