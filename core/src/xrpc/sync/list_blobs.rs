//! `com.atproto.sync.listBlobs`: the CIDs of the blobs a repository's records reference (public), a
//! page at a time in CID order; with `since`, only those referenced by records written after that
//! revision. The cursor is the last CID of the previous page.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::repo_access;
use crate::http::{AppState, XrpcError};
use crate::syntax::Tid;
use crate::xrpc::repo::input::{self, QueryInput};

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    did: String,
    since: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let did = input::did("did", &params.did)?;
    let since = params
        .since
        .as_deref()
        .map(|s| {
            Tid::parse(s)
                .map_err(|e| XrpcError::invalid_request(format!("since must be a valid tid: {e}")))
        })
        .transpose()?;
    let limit = input::limit(params.limit, 1, 1000, 500)?;
    let after = input::optional_cid("cursor", params.cursor.as_deref())?;
    repo_access::available(&state, &did).await?;
    let since = since.map(|s| s.to_string());
    let cids = state
        .blobs
        .store()
        .list_referenced(did.as_str(), since.as_deref(), after.as_ref(), limit)
        .await?;
    let mut body = json!({ "cids": cids.iter().map(ToString::to_string).collect::<Vec<_>>() });
    if let Some(last) = cids.last() {
        body["cursor"] = json!(last.to_string());
    }
    Ok(Json(body))
}
