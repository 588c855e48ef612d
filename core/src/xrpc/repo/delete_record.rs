//! `com.atproto.repo.deleteRecord`: removes one record from the caller's repository. As in the
//! reference PDS, deleting a record that does not exist succeeds without a commit.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::input::{self, JsonInput};
use super::{account, record};
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};
use crate::repo::writer::WriteOp;

/// The request body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    repo: String,
    collection: String,
    rkey: String,
    swap_record: Option<String>,
    swap_commit: Option<String>,
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonInput(input): JsonInput<Input>,
) -> Result<Json<Value>, XrpcError> {
    let collection = input::nsid("collection", &input.collection)?;
    let rkey = input::record_key("rkey", &input.rkey)?;
    let swap_record = input::optional_cid("swapRecord", input.swap_record.as_deref())?;
    let swap_commit = input::optional_cid("swapCommit", input.swap_commit.as_deref())?;
    let (did, key) = account::writable(&state, &input.repo, &auth).await?;
    let exists = state
        .repos
        .get_record(did.as_str(), collection.as_str(), rkey.as_str())
        .await?
        .is_some();
    if !exists {
        return Ok(Json(json!({})));
    }
    let ops = [WriteOp::Delete {
        collection,
        rkey,
        swap_record,
    }];
    let result = account::commit(&state, &auth, &did, &key, &ops, swap_commit).await?;
    Ok(Json(json!({ "commit": record::commit_json(&result.head) })))
}
