//! `com.atproto.repo.getRecord`: one record of a repository hosted here (public).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::account;
use super::input::{self, QueryInput};
use crate::http::{AppState, XrpcError};
use crate::repo::cbor;
use crate::syntax::AtUri;

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    repo: String,
    collection: String,
    rkey: String,
    cid: Option<String>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let collection = input::nsid("collection", &params.collection)?;
    let rkey = input::record_key("rkey", &params.rkey)?;
    let wanted = input::optional_cid("cid", params.cid.as_deref())?;
    let account = account::find_served(&state, &params.repo)
        .await?
        .ok_or_else(|| XrpcError::invalid_request("Could not locate record"))?;
    let did = crate::syntax::Did::parse(&account.did).map_err(XrpcError::internal)?;
    let uri = AtUri::for_record(did, collection.clone(), rkey.clone());
    let not_found = || {
        XrpcError::new(
            StatusCode::BAD_REQUEST,
            "RecordNotFound",
            format!("Could not locate record: {}", uri.as_str()),
        )
    };
    if state
        .accounts
        .subject_takedown(uri.as_str())
        .await?
        .is_some()
    {
        return Err(not_found());
    }
    let (cid, bytes) = state
        .repos
        .get_record(&account.did, collection.as_str(), rkey.as_str())
        .await?
        .ok_or_else(not_found)?;
    if wanted.is_some_and(|w| w != cid) {
        return Err(not_found());
    }
    let value = cbor::decode(&bytes).map_err(XrpcError::internal)?;
    Ok(Json(json!({
        "uri": uri.as_str(),
        "cid": cid.to_string(),
        "value": cbor::to_json(&value),
    })))
}
