//! `com.atproto.server.getAccountInviteCodes`: the codes issued to the caller's account. Codes are
//! issued by the operator (`createInviteCodes` with `forAccounts`); none are made here on demand.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};
use crate::xrpc::repo::input::QueryInput;

/// The query parameters (`createAvailable` is accepted; nothing is created).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    #[serde(default)]
    include_used: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    create_available: Option<bool>,
}

/// GET handler (account password sessions): 400 `DuplicateCreate`-free; an account whose invites
/// the operator disabled gets 400 `InvalidRequest`.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let account = crate::admin::require_account(&state, &auth.did).await?;
    if account.invites_disabled {
        return Err(XrpcError::invalid_request("Account invites are disabled"));
    }
    let include_used = params.include_used.unwrap_or(true);
    let mut codes = Vec::new();
    for code in state.accounts.invite_codes_for(&account.did).await? {
        if !include_used && (code.disabled || code.uses >= code.available) {
            continue;
        }
        codes.push(crate::admin::invite_code_view(&state, &code).await?);
    }
    Ok(Json(json!({ "codes": codes })))
}
