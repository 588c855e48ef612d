//! `com.atproto.repo.createRecord`: adds one record to the caller's repository.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::input::{self, JsonInput};
use super::{account, record};
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};
use crate::repo::writer::WriteOp;
use crate::syntax::{RecordKey, Tid};

/// The request body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    repo: String,
    collection: String,
    rkey: Option<String>,
    validate: Option<bool>,
    record: Value,
    swap_commit: Option<String>,
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonInput(input): JsonInput<Input>,
) -> Result<Json<Value>, XrpcError> {
    let collection = input::nsid("collection", &input.collection)?;
    let rkey = match input.rkey.as_deref() {
        Some(k) => input::record_key("rkey", k)?,
        None => RecordKey::parse(&Tid::next().to_string()).map_err(XrpcError::internal)?,
    };
    let swap_commit = input::optional_cid("swapCommit", input.swap_commit.as_deref())?;
    let (did, key) = account::writable(&state, &input.repo, &auth).await?;
    let (record, status) = record::prepare(&collection, &rkey, input.record, input.validate)?;
    let ops = [WriteOp::Create {
        collection,
        rkey,
        record,
    }];
    let result = account::commit(&state, &auth, &did, &key, &ops, swap_commit).await?;
    Ok(Json(record::written(&result, status)?))
}
