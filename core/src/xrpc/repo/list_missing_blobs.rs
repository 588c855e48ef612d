//! `com.atproto.repo.listMissingBlobs`: the blobs the caller's records reference but the caller does
//! not hold (an account moving in uploads them), a page at a time in CID order, each with one record
//! that references it. The cursor is the last CID of the previous page.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::input::{self, QueryInput};
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    auth.require_standard()?;
    let limit = input::limit(params.limit, 1, 1000, 500)?;
    let after = input::optional_cid("cursor", params.cursor.as_deref())?;
    let missing = state
        .blobs
        .store()
        .list_missing(&auth.did, after.as_ref(), limit)
        .await?;
    let blobs: Vec<Value> = missing
        .iter()
        .map(|m| json!({ "cid": m.cid.to_string(), "recordUri": m.record_uri }))
        .collect();
    let mut body = json!({ "blobs": blobs });
    if let Some(last) = missing.last() {
        body["cursor"] = json!(last.cid.to_string());
    }
    Ok(Json(body))
}
