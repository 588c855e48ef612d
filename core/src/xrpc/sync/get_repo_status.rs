//! `com.atproto.sync.getRepoStatus`: whether an account's repository is active, and its revision.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::repo_access::bad;
use crate::http::{AppState, XrpcError};
use crate::xrpc::repo::input::{self, QueryInput};

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    did: String,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let did = input::did("did", &params.did)?;
    let account = state
        .accounts
        .account_by_did(did.as_str())
        .await?
        .ok_or_else(|| {
            bad(
                "RepoNotFound",
                format!("Could not find account for DID: {did}"),
            )
        })?;
    let active = account.is_active();
    let mut body = json!({ "did": did.as_str(), "active": active });
    if active {
        if let Some(head) = state.repos.head(did.as_str()).await? {
            body["rev"] = json!(head.rev.to_string());
        }
    } else {
        body["status"] = json!(account.status().as_str());
    }
    Ok(Json(body))
}
