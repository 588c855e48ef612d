//! `com.atproto.identity.resolveHandle`: the DID of a handle. As the reference PDS does: a handle of
//! a local account answers from the database; a handle under one of this server's handle domains
//! that no account holds fails without any lookup; any other handle is resolved on the network (DNS
//! TXT when the host supplies DNS, then the HTTPS well-known file; public addresses only; answers
//! cached) and the DID found is returned as-is — the DID document is not checked to name the handle
//! back, which is the caller's business. Every failure is the reference's `InvalidRequest` "Unable
//! to resolve handle".

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::{AppState, XrpcError};
use crate::syntax::Handle;
use crate::xrpc::repo::input::QueryInput;

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct Params {
    /// The handle to resolve.
    pub handle: Option<String>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let raw = params.handle.ok_or_else(|| {
        XrpcError::invalid_request("Error: Params must have the property \"handle\"")
    })?;
    let handle = Handle::parse(&raw).map_err(|e| XrpcError::invalid_request(e.to_string()))?;
    let account = state
        .accounts
        .account_by_handle(handle.as_str())
        .await
        .map_err(XrpcError::internal)?;
    if let Some(account) = account.filter(|a| !a.is_taken_down()) {
        return Ok(Json(json!({ "did": account.did })));
    }
    let unresolved = || XrpcError::invalid_request("Unable to resolve handle");
    if is_service_handle(&handle, &state.config.service_handle_domains) {
        // It would be in our database; it is not, so it does not exist.
        return Err(unresolved());
    }
    match state.identity.resolve_handle(&handle).await {
        Ok(did) => Ok(Json(json!({ "did": did.as_str() }))),
        Err(e) => {
            log::debug!("handle {handle} does not resolve: {e}");
            Err(unresolved())
        }
    }
}

/// Whether `handle` lies under one of the server's handle domains (each starting with a dot), or is
/// one of those domains itself.
pub(crate) fn is_service_handle(handle: &Handle, domains: &[String]) -> bool {
    let name = handle.as_str();
    domains.iter().any(|domain| {
        let domain = domain.to_ascii_lowercase();
        name.ends_with(&domain) || domain.strip_prefix('.') == Some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_under_the_service_domains_are_ours() {
        let domains = vec![".pds.example.com".to_owned(), ".Test".to_owned()];
        let is = |h: &str| is_service_handle(&Handle::parse(h).unwrap(), &domains);
        assert!(is("alice.pds.example.com"));
        assert!(is("pds.example.com"));
        assert!(is("bob.test"));
        assert!(!is("alice.example.com"));
        assert!(!is("xpds.example.com"));
        assert!(!is("alice.pds.example.com.evil.net"));
    }
}
