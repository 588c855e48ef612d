//! `com.atproto.sync.getRepo`: a repository as a CAR file — the whole tree at the current commit, or
//! with `since`, the blocks written by commits after that revision (rooted at the current commit).
//!
//! The CAR is built in memory before it is sent; streaming it is left for later.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::repo_access;
use crate::http::{AppState, XrpcError};
use crate::repo::car::{encode_section_into, export_repo, header_bytes};
use crate::storage::repo_store::MAX_BLOCKS_PAGE;
use crate::syntax::Tid;
use crate::xrpc::repo::input::{self, QueryInput};

/// The CAR media type.
pub const CAR_MEDIA_TYPE: &str = "application/vnd.ipld.car";

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    did: String,
    since: Option<String>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Response, XrpcError> {
    let did = input::did("did", &params.did)?;
    let since = params
        .since
        .as_deref()
        .map(|s| {
            Tid::parse(s)
                .map_err(|e| XrpcError::invalid_request(format!("since must be a valid tid: {e}")))
        })
        .transpose()?;
    let (_, head) = repo_access::available(&state, &did).await?;
    let car = match since {
        None => {
            let blocks = state.repos.blocks(did.as_str());
            let (car, _) = export_repo(&blocks, head.commit, Vec::new())
                .await
                .map_err(XrpcError::internal)?;
            car
        }
        Some(since) => {
            let since = since.to_string();
            let mut car = header_bytes(&[head.commit]);
            let mut after = None;
            loop {
                let page = state
                    .repos
                    .blocks_since(did.as_str(), &since, after.as_ref(), MAX_BLOCKS_PAGE)
                    .await?;
                for b in &page {
                    encode_section_into(&mut car, &b.cid, &b.bytes);
                }
                if page.len() < MAX_BLOCKS_PAGE {
                    break;
                }
                after = page.last().cloned();
            }
            car
        }
    };
    Ok(car_response(car))
}

/// A CAR body with its media type.
pub fn car_response(car: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, CAR_MEDIA_TYPE)], car).into_response()
}
