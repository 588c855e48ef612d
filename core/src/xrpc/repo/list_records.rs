//! `com.atproto.repo.listRecords`: a page of one collection's records (public). Records come in
//! descending record-key order, ascending with `reverse`; the cursor is the last record key.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::account;
use super::input::{self, QueryInput};
use crate::http::{AppState, XrpcError};
use crate::repo::cbor;
use crate::syntax::{AtUri, Did, RecordKey};

/// The longest cursor accepted (a record key is at most 512 characters).
const MAX_CURSOR_LEN: usize = 512;

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    repo: String,
    collection: String,
    limit: Option<i64>,
    cursor: Option<String>,
    reverse: Option<bool>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let collection = input::nsid("collection", &params.collection)?;
    let limit = input::limit(params.limit, 1, 100, 50)?;
    if params
        .cursor
        .as_ref()
        .is_some_and(|c| c.len() > MAX_CURSOR_LEN)
    {
        return Err(XrpcError::invalid_request("cursor is too long"));
    }
    let account = account::find_served(&state, &params.repo)
        .await?
        .ok_or_else(|| {
            XrpcError::invalid_request(format!("Could not find repo: {}", params.repo))
        })?;
    let did = Did::parse(&account.did).map_err(XrpcError::internal)?;
    let rows = state
        .repos
        .list_records(
            did.as_str(),
            collection.as_str(),
            limit,
            params.cursor.as_deref(),
            params.reverse.unwrap_or(false),
        )
        .await?;
    // Records the operator took down are left out (the cursor still moves past them).
    let taken_down = state
        .accounts
        .subject_takedowns_with_prefix(did.as_str(), &format!("at://{did}/{collection}/"))
        .await?;
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        let rkey = RecordKey::parse(&row.rkey).map_err(XrpcError::internal)?;
        let uri = AtUri::for_record(did.clone(), collection.clone(), rkey);
        if taken_down.iter().any(|t| t == uri.as_str()) {
            continue;
        }
        let value = cbor::decode(&row.bytes).map_err(XrpcError::internal)?;
        records.push(json!({
            "uri": uri.as_str(),
            "cid": row.cid.to_string(),
            "value": cbor::to_json(&value),
        }));
    }
    let mut body = json!({ "records": records });
    if let Some(last) = rows.last() {
        body["cursor"] = json!(last.rkey);
    }
    Ok(Json(body))
}
