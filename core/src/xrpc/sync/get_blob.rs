//! `com.atproto.sync.getBlob`: one blob of a repository hosted here (public), streamed from the
//! database a chunk at a time, with the reference PDS's headers: the stored MIME type, the length,
//! and what keeps a browser from running it (`X-Content-Type-Options: nosniff`, a sandboxing
//! `Content-Security-Policy`, `Content-Disposition: attachment`). Only blobs a record references are
//! served, as the reference PDS serves only blobs made permanent; an unknown one is 400
//! `InvalidRequest` "Blob not found", as there.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_core::Stream;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::repo_access;
use crate::http::{AppState, XrpcError};
use crate::storage::{BlobStore, StoredBlob};
use crate::xrpc::repo::input::{self, QueryInput};

/// Chunks read ahead of the client.
const READ_AHEAD: usize = 2;

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    did: String,
    cid: String,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    QueryInput(params): QueryInput<Params>,
) -> Result<Response, XrpcError> {
    let did = input::did("did", &params.did)?;
    let cid = input::cid("cid", &params.cid)?;
    repo_access::available(&state, &did).await?;
    let subject = crate::storage::AccountStore::blob_subject(did.as_str(), &cid.to_string());
    if state.accounts.subject_takedown(&subject).await?.is_some() {
        return Err(repo_access::bad("BlobNotFound", "Blob not found".into()));
    }
    let store = state.blobs.store().clone();
    let blob = store
        .blob(did.as_str(), &cid)
        .await?
        .filter(|b| !b.temporary)
        .ok_or_else(|| XrpcError::invalid_request("Blob not found"))?;
    let content_type = HeaderValue::from_str(&blob.mime_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{cid}\""))
        .map_err(XrpcError::internal)?;
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_LENGTH, HeaderValue::from(blob.size)),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::CONTENT_DISPOSITION, disposition),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        ),
    ];
    Ok((headers, Body::from_stream(chunks(store, blob))).into_response())
}

/// The blob's bytes as a stream, read by a task a little ahead of the client. A chunk that is
/// missing (the blob was deleted meanwhile) or unreadable breaks the body, so the client sees a
/// failed transfer rather than a short blob; a client that leaves stops the task.
fn chunks(store: BlobStore, blob: StoredBlob) -> ChunkStream {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        let mut sent = 0u64;
        let mut seq = 0u64;
        while sent < blob.size {
            let chunk = match store.chunk(&blob, seq).await {
                Ok(Some(bytes)) if !bytes.is_empty() => Ok(bytes),
                Ok(_) => Err(format!("blob {} lacks chunk {seq}", blob.cid)),
                Err(e) => Err(e.to_string()),
            };
            let chunk = chunk.and_then(|bytes| {
                sent += bytes.len() as u64;
                if sent > blob.size {
                    Err(format!("blob {} holds more than its size", blob.cid))
                } else {
                    Ok(bytes)
                }
            });
            let failed = chunk.is_err();
            if let Err(e) = &chunk {
                log::warn!("streaming a blob failed: {e}");
            }
            if tx.send(chunk.map_err(std::io::Error::other)).await.is_err() || failed {
                return;
            }
            seq += 1;
        }
    });
    ChunkStream { rx }
}

struct ChunkStream {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
}

impl Stream for ChunkStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}
