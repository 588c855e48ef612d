//! `com.atproto.sync.getRepo`: a repository as a CAR file, streamed — the whole tree at the current
//! commit, or with `since`, the blocks written by commits after that revision (rooted at the
//! current commit).

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::car_stream::car_response;
use super::repo_access;
use crate::http::{AppState, XrpcError};
use crate::repo::car::{encode_section_into, export_repo, header_bytes};
use crate::repo::cid::Cid;
use crate::repo::RepoError;
use crate::storage::repo_store::MAX_BLOCKS_PAGE;
use crate::storage::StorageError;
use crate::syntax::Tid;
use crate::xrpc::repo::input::{self, QueryInput};

/// Why writing the CAR stopped.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    /// The repository could not be read.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The response pipe closed (the client went away).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

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
    let Some(since) = since else {
        return Ok(checkout(state, did.as_str().to_owned(), head.commit));
    };
    let did = did.as_str().to_owned();
    Ok(car_response(move |out| async move {
        blocks_since(&state, &did, head.commit, &since.to_string(), out).await
    }))
}

/// The streamed CAR of the repository `did` at its commit `root`: the commit, the MST nodes and
/// the records it reaches, and nothing of earlier commits (`getRepo` without `since`, and
/// `getCheckout`).
pub fn checkout(state: AppState, did: String, root: Cid) -> Response {
    car_response(move |out| async move {
        let blocks = state.repos.blocks(&did);
        let (mut out, _) = export_repo(&blocks, root, out).await?;
        out.shutdown().await?;
        Ok::<(), ExportError>(())
    })
}

/// Writes the CAR of the blocks after `since`, a page at a time.
async fn blocks_since<W: AsyncWrite + Unpin>(
    state: &AppState,
    did: &str,
    root: Cid,
    since: &str,
    mut out: W,
) -> Result<(), ExportError> {
    out.write_all(&header_bytes(&[root])).await?;
    let mut after = None;
    let mut chunk = Vec::new();
    loop {
        let page = state
            .repos
            .blocks_since(did, since, after.as_ref(), MAX_BLOCKS_PAGE)
            .await?;
        for b in &page {
            chunk.clear();
            encode_section_into(&mut chunk, &b.cid, &b.bytes);
            out.write_all(&chunk).await?;
        }
        if page.len() < MAX_BLOCKS_PAGE {
            break;
        }
        after = page.last().cloned();
    }
    out.shutdown().await?;
    Ok(())
}
