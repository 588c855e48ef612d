//! Receiving an upload as it streams in: each piece of the body is counted against the limit, hashed
//! and handed to the store, which writes it a chunk at a time, so memory stays at one chunk whatever the size; the first bytes decide
//! the MIME type. A refused or failed upload leaves nothing behind (and one whose client vanished is
//! collected when its pending row expires).

use std::future::poll_fn;
use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use sha2::{Digest, Sha256};

use super::mime::resolve;
use super::sniff::SNIFF_LEN;
use super::BlobError;
use crate::repo::cid::{cid_for_digest, Cid, RAW};
use crate::storage::PendingUpload;

/// What a complete body turned out to be.
pub(super) struct Received {
    /// Its CID (raw codec, sha2-256).
    pub cid: Cid,
    /// The type to store it with.
    pub mime_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Reads `body` to its end into `pending`: at most `limit` bytes (else [`BlobError::TooLarge`]),
/// declared as `declared` (an essence, checked against the content by [`resolve`]).
pub(super) async fn receive<S, E>(
    pending: &mut PendingUpload,
    declared: &str,
    limit: u64,
    body: &mut S,
) -> Result<Received, BlobError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut hasher = Sha256::new();
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF_LEN);
    let mut mime_type = None;
    let mut size: u64 = 0;
    while let Some(piece) = poll_fn(|cx| Pin::new(&mut *body).poll_next(cx)).await {
        let piece = piece.map_err(|e| BlobError::Body(e.to_string()))?;
        size = size.saturating_add(piece.len() as u64);
        if size > limit {
            return Err(BlobError::TooLarge);
        }
        hasher.update(&piece);
        if mime_type.is_none() {
            let wanted = SNIFF_LEN - head.len();
            head.extend_from_slice(piece.get(..wanted.min(piece.len())).unwrap_or_default());
            if head.len() == SNIFF_LEN {
                // Refuse a false claim before storing more of it.
                mime_type = Some(resolve(declared, &head)?);
            }
        }
        if !pending.append(&piece).await? {
            return Err(BlobError::Expired);
        }
    }
    let mime_type = match mime_type {
        Some(m) => m,
        None => resolve(declared, &head)?,
    };
    let digest: [u8; 32] = hasher.finalize().into();
    Ok(Received {
        cid: cid_for_digest(RAW, &digest),
        mime_type,
        size,
    })
}
