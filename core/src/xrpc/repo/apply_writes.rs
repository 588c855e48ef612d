//! `com.atproto.repo.applyWrites`: up to 200 creates, updates and deletes in the caller's
//! repository as one commit, all or nothing.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::input::{self, JsonInput};
use super::{account, record};
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};
use crate::lexicon::ValidationStatus;
use crate::repo::writer::{OpResult, WriteOp, MAX_WRITES};
use crate::syntax::{RecordKey, Tid};

/// The request body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    repo: String,
    validate: Option<bool>,
    writes: Vec<Write>,
    swap_commit: Option<String>,
}

/// One write of the batch, tagged by its `$type`.
#[derive(Deserialize)]
#[serde(tag = "$type")]
pub enum Write {
    /// A new record; the key defaults to a fresh TID.
    #[serde(rename = "com.atproto.repo.applyWrites#create")]
    Create {
        /// The record's collection.
        collection: String,
        /// The record's key.
        rkey: Option<String>,
        /// The record.
        value: Value,
    },
    /// A replaced record, which must exist.
    #[serde(rename = "com.atproto.repo.applyWrites#update")]
    Update {
        /// The record's collection.
        collection: String,
        /// The record's key.
        rkey: String,
        /// The new record.
        value: Value,
    },
    /// A removed record, which must exist.
    #[serde(rename = "com.atproto.repo.applyWrites#delete")]
    Delete {
        /// The record's collection.
        collection: String,
        /// The record's key.
        rkey: String,
    },
}

/// One write as an operation, with the validation status of its record (none for deletes).
fn to_op(
    write: Write,
    validate: Option<bool>,
) -> Result<(WriteOp, Option<ValidationStatus>), XrpcError> {
    Ok(match write {
        Write::Create {
            collection,
            rkey,
            value,
        } => {
            let collection = input::nsid("collection", &collection)?;
            let rkey = match rkey.as_deref() {
                Some(k) => input::record_key("rkey", k)?,
                None => RecordKey::parse(&Tid::next().to_string()).map_err(XrpcError::internal)?,
            };
            let (record, status) = record::prepare(&collection, &rkey, value, validate)?;
            let op = WriteOp::Create {
                collection,
                rkey,
                record,
            };
            (op, status)
        }
        Write::Update {
            collection,
            rkey,
            value,
        } => {
            let collection = input::nsid("collection", &collection)?;
            let rkey = input::record_key("rkey", &rkey)?;
            let (record, status) = record::prepare(&collection, &rkey, value, validate)?;
            let op = WriteOp::Update {
                collection,
                rkey,
                record,
                swap_record: None,
            };
            (op, status)
        }
        Write::Delete { collection, rkey } => {
            let op = WriteOp::Delete {
                collection: input::nsid("collection", &collection)?,
                rkey: input::record_key("rkey", &rkey)?,
                swap_record: None,
            };
            (op, None)
        }
    })
}

fn result_of(op: &OpResult, write: &WriteOp, status: Option<ValidationStatus>) -> Value {
    let kind = match write {
        WriteOp::Create { .. } => "createResult",
        WriteOp::Update { .. } | WriteOp::Put { .. } => "updateResult",
        WriteOp::Delete { .. } => {
            return json!({ "$type": "com.atproto.repo.applyWrites#deleteResult" })
        }
    };
    let mut result = json!({
        "$type": format!("com.atproto.repo.applyWrites#{kind}"),
        "uri": op.uri.as_str(),
        "cid": op.cid.map(|c| c.to_string()),
    });
    if let Some(status) = status {
        result["validationStatus"] = json!(status.as_str());
    }
    result
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonInput(input): JsonInput<Input>,
) -> Result<Json<Value>, XrpcError> {
    if input.writes.len() > MAX_WRITES {
        return Err(XrpcError::invalid_request(format!(
            "Too many writes. Max: {MAX_WRITES}"
        )));
    }
    let swap_commit = input::optional_cid("swapCommit", input.swap_commit.as_deref())?;
    let (did, key) = account::writable(&state, &input.repo, &auth).await?;
    let validate = input.validate;
    let (ops, statuses): (Vec<_>, Vec<_>) = input
        .writes
        .into_iter()
        .map(|w| to_op(w, validate))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .unzip();
    let result = account::commit(&state, &auth, &did, &key, &ops, swap_commit).await?;
    let results: Vec<Value> = result
        .ops
        .iter()
        .zip(ops.iter().zip(statuses))
        .map(|(op, (write, status))| result_of(op, write, status))
        .collect();
    Ok(Json(json!({
        "commit": super::record::commit_json(&result.head),
        "results": results,
    })))
}
