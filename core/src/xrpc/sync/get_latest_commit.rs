//! `com.atproto.sync.getLatestCommit`: the current commit CID and revision of a repository.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::repo_access;
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
    let (_, head) = repo_access::available(&state, &did).await?;
    Ok(Json(
        json!({ "cid": head.commit.to_string(), "rev": head.rev.to_string() }),
    ))
}
