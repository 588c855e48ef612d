//! Authorization requests: the parameters a client pushes (RFC 9126), validated against the
//! client's metadata and the atproto profile — response type `code`, PKCE with `S256` (RFC 7636),
//! a registered redirect URI, `atproto` in a scope the client declared, an optional `state`,
//! `login_hint` and `dpop_jkt` — and kept as JSON with the request until it is approved.

use serde::{Deserialize, Serialize};

use super::client::ClientMetadata;
use super::form::Params;
use super::permission_set::GrantedSet;
use super::scope::ScopeSet;
use super::OAuthError;
use crate::syntax::{is_valid_did, is_valid_handle};

/// The prefix of `request_uri` values.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request lives before it is opened, in seconds (5 minutes).
pub const PAR_EXPIRES_IN_SECS: i64 = 5 * 60;

/// How the code is returned to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// In the redirect's query.
    Query,
    /// In the redirect's fragment.
    Fragment,
}

/// What the client asks the authorization page to do (`prompt`, OpenID Connect Core §3.1.2.1 and
/// the atproto profile's `create`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Answer at once: a code, or `login_required` / `consent_required`.
    None,
    /// Sign in again, even if the browser stays signed in.
    Login,
    /// Ask for consent again, even if it was given before.
    Consent,
    /// Show the account chooser.
    SelectAccount,
    /// Show the sign-up form.
    Create,
}

impl Prompt {
    fn parse(s: &str) -> Option<Prompt> {
        Some(match s {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" => Prompt::Consent,
            "select_account" => Prompt::SelectAccount,
            "create" => Prompt::Create,
            _ => return None,
        })
    }
}

/// Validated parameters of an authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationParams {
    /// The client.
    pub client_id: String,
    /// Where the code goes.
    pub redirect_uri: String,
    /// How it goes there.
    pub response_mode: ResponseMode,
    /// The scope asked for (understood values only).
    pub scope: String,
    /// The client's opaque state.
    pub state: Option<String>,
    /// The PKCE challenge (S256).
    pub code_challenge: String,
    /// Who the client expects to log in.
    pub login_hint: Option<String>,
    /// The DPoP key the tokens will be bound to, when known.
    pub dpop_jkt: Option<String>,
    /// What the page should do.
    #[serde(default)]
    pub prompt: Option<Prompt>,
    /// The permission sets asked for, resolved; `scope` holds their expanded permissions.
    #[serde(default)]
    pub permission_sets: Vec<GrantedSet>,
}

impl AuthorizationParams {
    /// Validates pushed parameters for `client`. `proof_jkt` is the key of the DPoP proof that came
    /// with the push, if one did.
    pub fn from_par(
        params: &Params,
        client: &ClientMetadata,
        proof_jkt: Option<&str>,
    ) -> Result<AuthorizationParams, OAuthError> {
        let invalid = |m: &str| OAuthError::InvalidRequest(m.to_owned());
        for unsupported in [
            "request",
            "request_uri",
            "claims",
            "id_token_hint",
            "nonce",
            "authorization_details",
        ] {
            if params.has(unsupported) {
                return Err(invalid(&format!("Unsupported \"{unsupported}\" parameter")));
            }
        }
        if params.required("response_type")? != "code" {
            return Err(invalid("atproto only supports the \"code\" response_type"));
        }
        let response_mode = match params.get("response_mode")? {
            None | Some("query") => ResponseMode::Query,
            Some("fragment") => ResponseMode::Fragment,
            Some(other) => return Err(invalid(&format!("Unsupported response_mode \"{other}\""))),
        };
        let code_challenge = match (
            params.get("code_challenge")?,
            params.get("code_challenge_method")?,
        ) {
            (None, _) => return Err(invalid("Use of PKCE is required")),
            (Some(_), Some(m)) if m != "S256" => {
                return Err(invalid(
                    "atproto requires use of \"S256\" code_challenge_method",
                ))
            }
            (Some(_), None) => {
                return Err(invalid(
                    "atproto requires use of \"S256\" code_challenge_method",
                ))
            }
            (Some(c), Some(_)) => c,
        };
        if code_challenge.len() != 43
            || !code_challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid("Invalid code_challenge"));
        }
        let redirect_uri = client.redirect_uri(params.get("redirect_uri")?)?;
        let requested = params.get("scope")?.unwrap_or_default();
        client.declares_scope(requested)?;
        let scope = ScopeSet::parse(requested)?;
        if !scope.has_atproto() {
            return Err(OAuthError::InvalidScope(
                "The \"atproto\" scope is required".into(),
            ));
        }
        let state = params.get("state")?.map(str::to_owned);
        if state.as_ref().is_some_and(|s| s.len() > 1024) {
            return Err(invalid("state too long"));
        }
        let login_hint = match params.get("login_hint")? {
            None | Some("") => None,
            Some(hint) => {
                let hint = hint.to_ascii_lowercase();
                if !is_valid_did(&hint) && !is_valid_handle(&hint) {
                    return Err(invalid(&format!("Invalid login_hint \"{hint}\"")));
                }
                Some(hint)
            }
        };
        let prompt = match params.get("prompt")? {
            None | Some("") => None,
            Some(p) => Some(
                Prompt::parse(p).ok_or_else(|| invalid(&format!("Unsupported prompt \"{p}\"")))?,
            ),
        };
        let dpop_jkt = match (params.get("dpop_jkt")?, proof_jkt) {
            (Some(asked), Some(proof)) if asked != proof => {
                return Err(OAuthError::InvalidDpopProof(
                    "DPoP proof does not match the dpop_jkt parameter".into(),
                ))
            }
            (Some(asked), _) => Some(asked.to_owned()),
            (None, proof) => proof.map(str::to_owned),
        };
        Ok(AuthorizationParams {
            client_id: client.client_id.clone(),
            redirect_uri,
            response_mode,
            scope: scope.to_scope_string(),
            state,
            code_challenge: code_challenge.to_owned(),
            login_hint,
            dpop_jkt,
            prompt,
            permission_sets: Vec::new(),
        })
    }

    /// The values consent is given (and remembered) for: the scope values as the client asked for
    /// them, a permission set as its `include:` value rather than its expansion.
    pub fn consent_values(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .scope
            .split(' ')
            .filter(|v| !v.is_empty())
            .filter(|v| {
                !self
                    .permission_sets
                    .iter()
                    .any(|s| s.permissions.iter().any(|p| p == v))
            })
            .map(str::to_owned)
            .collect();
        out.extend(self.permission_sets.iter().map(|s| s.scope.clone()));
        out
    }

    /// The JSON kept with the request.
    pub fn to_json(&self) -> Result<String, OAuthError> {
        serde_json::to_string(self).map_err(|e| OAuthError::Internal(format!("request: {e}")))
    }

    /// Reads what [`AuthorizationParams::to_json`] wrote.
    pub fn from_json(text: &str) -> Result<AuthorizationParams, OAuthError> {
        serde_json::from_str(text).map_err(|e| OAuthError::Internal(format!("stored request: {e}")))
    }

    /// The redirect that returns `result` (`code` or `error` pairs) to the client, with `state`
    /// and `iss` (RFC 9207).
    pub fn redirect_with(&self, issuer: &str, result: &[(&str, &str)]) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in result {
            pairs.append_pair(k, v);
        }
        if let Some(state) = &self.state {
            pairs.append_pair("state", state);
        }
        pairs.append_pair("iss", issuer);
        let encoded = pairs.finish();
        match self.response_mode {
            ResponseMode::Query => {
                let sep = if self.redirect_uri.contains('?') {
                    '&'
                } else {
                    '?'
                };
                format!("{}{sep}{encoded}", self.redirect_uri)
            }
            ResponseMode::Fragment => format!("{}#{encoded}", self.redirect_uri),
        }
    }
}
