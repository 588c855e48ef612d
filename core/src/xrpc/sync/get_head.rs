//! `com.atproto.sync.getHead` (deprecated in favour of `getLatestCommit`): `{root}`, the CID of a
//! repository's current commit. An unknown, taken-down or deactivated account gets the errors of
//! the other sync methods (`RepoNotFound`, `RepoTakendown`, `RepoDeactivated`); an account without
//! a repository gets `HeadNotFound`, as from the reference PDS.

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
    repo_access::account(&state, &did).await?;
    let head = state.repos.head(did.as_str()).await?.ok_or_else(|| {
        repo_access::bad(
            "HeadNotFound",
            format!("Could not find root for DID: {did}"),
        )
    })?;
    Ok(Json(json!({ "root": head.commit.to_string() })))
}
