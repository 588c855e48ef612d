//! `com.atproto.sync.getCheckout` (deprecated in favour of `getRepo`): the repository at its current
//! commit as a streamed CAR — the commit, its MST and the records, without history — under the
//! availability rules of the other sync methods.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::{get_repo, repo_access};
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
) -> Result<Response, XrpcError> {
    let did = input::did("did", &params.did)?;
    let (_, head) = repo_access::available(&state, &did).await?;
    Ok(get_repo::checkout(
        state,
        did.as_str().to_owned(),
        head.commit,
    ))
}
