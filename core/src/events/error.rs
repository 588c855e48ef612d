//! [`StreamError`]: why a subscription ends, and the error frame that tells the subscriber.

use crate::storage::events::encode_error_frame;
use crate::storage::StorageError;

/// Why a subscription ended.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The cursor is beyond the newest event.
    #[error("Cursor in the future.")]
    FutureCursor,
    /// The subscriber's queue overflowed: it does not read as fast as events are written.
    #[error("Stream consumer too slow")]
    ConsumerTooSlow,
    /// The node is stopping.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The events could not be read.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl StreamError {
    /// The error's name on the wire (`FutureCursor`, `ConsumerTooSlow`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            StreamError::FutureCursor => "FutureCursor",
            StreamError::ConsumerTooSlow => "ConsumerTooSlow",
            StreamError::ShuttingDown => "ServerShuttingDown",
            StreamError::Storage(_) => "InternalServerError",
        }
    }

    /// The error frame (`{op: -1}` + `{error, message}`) the subscriber gets before the stream
    /// closes; `None` when the node is stopping (the stream just closes). A storage failure is logged
    /// here and reported without its detail.
    pub fn error_frame(&self) -> Option<Vec<u8>> {
        match self {
            StreamError::ShuttingDown => None,
            StreamError::Storage(err) => {
                log::error!("firehose: {err}");
                Some(encode_error_frame(
                    self.name(),
                    Some("Internal Server Error"),
                ))
            }
            _ => Some(encode_error_frame(self.name(), Some(&self.to_string()))),
        }
    }
}
