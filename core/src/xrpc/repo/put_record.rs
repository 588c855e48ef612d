//! `com.atproto.repo.putRecord`: writes one record of the caller's repository, creating or
//! replacing it. `swapRecord` (nullable: `null` means "must not exist") and `swapCommit` make it a
//! compare-and-swap that fails with `InvalidSwap`.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

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
    validate: Option<bool>,
    record: Value,
    /// Absent: no swap; `null`: the record must not exist; a CID: the record must have it.
    #[serde(default, deserialize_with = "present")]
    swap_record: Option<Option<String>>,
    swap_commit: Option<String>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`, through `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonInput(input): JsonInput<Input>,
) -> Result<Json<Value>, XrpcError> {
    let collection = input::nsid("collection", &input.collection)?;
    let rkey = input::record_key("rkey", &input.rkey)?;
    let swap_record = match &input.swap_record {
        None => None,
        Some(None) => Some(None),
        Some(Some(c)) => Some(Some(input::cid("swapRecord", c)?)),
    };
    let swap_commit = input::optional_cid("swapCommit", input.swap_commit.as_deref())?;
    let (did, key) = account::writable(&state, &input.repo, &auth).await?;
    let (record, status) = record::prepare(&collection, &rkey, input.record, input.validate)?;
    let ops = [WriteOp::Put {
        collection,
        rkey,
        record,
        swap_record,
    }];
    let result = account::commit(&state, &auth, &did, &key, &ops, swap_commit).await?;
    Ok(Json(record::written(&result, status)?))
}
