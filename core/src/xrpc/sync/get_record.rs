//! `com.atproto.sync.getRecord`: the proof of one record under the current commit, as a CAR — the
//! commit, the MST nodes covering the key and the record block (or, when absent, the proof that it
//! is absent).

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::car_stream::car_bytes_response;
use super::repo_access;
use crate::http::{AppState, XrpcError};
use crate::repo::car::record_proof_car;
use crate::repo::mst::Mst;
use crate::xrpc::repo::input::{self, QueryInput};

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    did: String,
    collection: String,
    rkey: String,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Response, XrpcError> {
    let did = input::did("did", &params.did)?;
    let collection = input::nsid("collection", &params.collection)?;
    let rkey = input::record_key("rkey", &params.rkey)?;
    let (_, head) = repo_access::available(&state, &did).await?;
    let uri = format!("at://{did}/{collection}/{rkey}");
    if state.accounts.subject_takedown(&uri).await?.is_some() {
        return Err(repo_access::bad(
            "RecordNotFound",
            format!("Could not locate record: {uri}"),
        ));
    }
    let blocks = state.repos.blocks(did.as_str());
    let mut mst = Mst::load(head.data);
    let car = record_proof_car(
        &blocks,
        head.commit,
        &mut mst,
        &format!("{collection}/{rkey}"),
    )
    .await
    .map_err(XrpcError::internal)?;
    Ok(car_bytes_response(car))
}
