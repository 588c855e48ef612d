//! `com.atproto.admin.getAccountInfos`: several accounts (`dids` repeats in the query string);
//! unknown DIDs are left out.

use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::{json, Value};

use super::AdminAuth;
use crate::http::{AppState, XrpcError};

/// The most DIDs one call may name.
const MAX_DIDS: usize = 100;

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, XrpcError> {
    let dids: Vec<String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "dids")
        .map(|(_, v)| v.into_owned())
        .collect();
    if dids.is_empty() || dids.len() > MAX_DIDS {
        return Err(XrpcError::invalid_request(format!(
            "dids: give 1 to {MAX_DIDS}"
        )));
    }
    let mut infos = Vec::new();
    for did in dids {
        if let Some(account) = state.accounts.account_by_did(&did).await? {
            infos.push(crate::admin::account_view(&state, &account).await?);
        }
    }
    Ok(Json(json!({ "infos": infos })))
}
