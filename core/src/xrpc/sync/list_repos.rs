//! `com.atproto.sync.listRepos`: the repositories hosted here, a page at a time in DID order, with
//! each one's head, revision and status. The cursor is the last DID of the previous page; an empty
//! page ends the listing.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::{AppState, XrpcError};
use crate::repo::cid::cid_from_bytes;
use crate::storage::StorageError;
use crate::xrpc::repo::input::{self, QueryInput};

/// The longest cursor accepted (a DID is at most 2048 characters).
const MAX_CURSOR_LEN: usize = 2048;

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let limit = input::limit(params.limit, 1, 1000, 500)?;
    let cursor = params.cursor.unwrap_or_default();
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(XrpcError::invalid_request("cursor is too long"));
    }
    let mut rows = state
        .storage
        .connection()
        .query(
            "SELECT a.did, r.commit_cid, r.rev, a.deactivated_at IS NOT NULL, a.takedown_ref IS NOT NULL
             FROM account a JOIN repo_root r ON r.did = a.did
             WHERE a.did > ?1 ORDER BY a.did LIMIT ?2",
            (cursor, limit as i64),
        )
        .await
        .map_err(StorageError::from)?;
    let mut repos = Vec::new();
    let mut last = None;
    while let Some(row) = rows.next().await.map_err(StorageError::from)? {
        let did: String = row.get(0).map_err(StorageError::from)?;
        let commit: Vec<u8> = row.get(1).map_err(StorageError::from)?;
        let rev: String = row.get(2).map_err(StorageError::from)?;
        let deactivated: bool = row.get(3).map_err(StorageError::from)?;
        let taken_down: bool = row.get(4).map_err(StorageError::from)?;
        let head = cid_from_bytes(&commit).map_err(XrpcError::internal)?;
        let mut repo = json!({
            "did": did,
            "head": head.to_string(),
            "rev": rev,
            "active": !deactivated && !taken_down,
        });
        if taken_down {
            repo["status"] = json!("takendown");
        } else if deactivated {
            repo["status"] = json!("deactivated");
        }
        repos.push(repo);
        last = Some(did);
    }
    // As the reference PDS: a non-empty page carries a cursor, so the last page is the empty one.
    let mut body = json!({ "repos": repos });
    if let Some(last) = last {
        body["cursor"] = json!(last);
    }
    Ok(Json(body))
}
