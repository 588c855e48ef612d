//! Blobs: receiving uploads, deciding their MIME type, checking the blobs a record references, and
//! collecting the uploads no record came to reference.
//!
//! [`Blobs`] is what the node holds: it streams an upload into [`crate::storage::BlobStore`] (hashing
//! it into a raw CID, counting it against `PDS_BLOB_UPLOAD_LIMIT`, sniffing its type from the first
//! bytes in [`sniff`] and weighing the declared type in [`mime`]), checks before a commit that every
//! blob its records reference was uploaded by the account ([`Blobs::check_references`]), and owns the
//! [`Collector`] that deletes temporary blobs once their grace period (`PDS_BLOB_GRACE_SECONDS`) ends.
//! The references themselves are written by the storage room inside each commit's transaction. This
//! room calls `storage` and `repo`; the XRPC handlers (`uploadBlob`, the record writes) and the node
//! call it.

mod collector;
mod error;
pub mod mime;
pub mod sniff;
mod upload;

use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use libsql::Connection;

pub use collector::Collector;
pub use error::BlobError;

use crate::repo::writer::Record;
use crate::storage::{BlobStore, PendingUpload, StorageMode, StoredBlob};

/// The node's blobs: the store, the limits and the collecting task.
pub struct Blobs {
    store: BlobStore,
    collector: Collector,
    upload_limit: u64,
    grace: Duration,
}

impl Blobs {
    /// Starts the collecting task (on the current tokio runtime) over `store`; uploads may hold at most
    /// `upload_limit` bytes, and stay `grace` long without a reference before they are deleted.
    pub fn start(store: BlobStore, upload_limit: u64, grace: Duration) -> Blobs {
        let collector = Collector::start(store.clone());
        Blobs {
            store,
            collector,
            upload_limit,
            grace,
        }
    }

    /// The store, for reading blobs and listing them.
    pub fn store(&self) -> &BlobStore {
        &self.store
    }

    /// The largest upload, in bytes.
    pub fn upload_limit(&self) -> u64 {
        self.upload_limit
    }

    /// Receives an upload by `did` declared as `declared` (a `type/subtype` essence, see
    /// [`mime::essence`]) from `body`, on `conn` (a connection of its own for the upload's writes).
    /// The blob is temporary until a record references it.
    pub async fn upload<S, E>(
        &self,
        conn: Connection,
        mode: StorageMode,
        did: &str,
        declared: &str,
        body: &mut S,
    ) -> Result<StoredBlob, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut pending =
            PendingUpload::begin(conn, mode, did, now_millis(), self.expiry_from_now()).await?;
        self.collector.wake();
        match upload::receive(&mut pending, declared, self.upload_limit, body).await {
            Ok(received) => pending
                .finish(
                    &received.cid,
                    &received.mime_type,
                    received.size,
                    self.expiry_from_now(),
                )
                .await?
                .ok_or(BlobError::Expired),
            Err(err) => {
                if let Err(cleanup) = pending.discard().await {
                    log::warn!("discarding a refused upload failed: {cleanup}");
                }
                Err(err)
            }
        }
    }

    /// Checks the blobs `records` reference, as the reference PDS does before it stores them: each
    /// must be held by `did` (else [`BlobError::NotFound`]), and a temporary one must be referenced
    /// with its stored MIME type and size (a permanent one was checked when first referenced).
    pub async fn check_references<'a>(
        &self,
        did: &str,
        records: impl Iterator<Item = &'a Record>,
    ) -> Result<(), BlobError> {
        let refs: Vec<_> = records.flat_map(Record::blobs).collect();
        if refs.is_empty() {
            return Ok(());
        }
        let cids: Vec<_> = refs.iter().map(|r| r.cid).collect();
        let stored = self.store.blobs(did, &cids).await?;
        for blob in refs {
            let found = stored.get(&blob.cid).ok_or(BlobError::NotFound(blob.cid))?;
            if !found.temporary {
                continue;
            }
            if found.mime_type != blob.mime_type {
                return Err(BlobError::MimeMismatch {
                    expected: found.mime_type.clone(),
                    got: blob.mime_type.clone(),
                });
            }
            if found.size != blob.size {
                return Err(BlobError::SizeMismatch {
                    expected: found.size,
                    got: blob.size,
                });
            }
        }
        Ok(())
    }

    /// Stops the collecting task.
    pub fn stop(&self) {
        self.collector.stop();
    }

    fn expiry_from_now(&self) -> i64 {
        let grace = i64::try_from(self.grace.as_millis()).unwrap_or(i64::MAX);
        now_millis().saturating_add(grace)
    }
}

/// Milliseconds since the UNIX epoch.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
