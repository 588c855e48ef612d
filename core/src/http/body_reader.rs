//! [`BodyReader`]: a request body as an [`AsyncRead`], for parsers that stream (`importRepo`'s
//! CAR reader). Bytes are handed on as they arrive; nothing is buffered beyond the current frame.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::body::{Body, BodyDataStream};
use bytes::{Buf, Bytes};
use futures_core::Stream;
use tokio::io::{AsyncRead, ReadBuf};

/// A request body read as an [`AsyncRead`].
pub struct BodyReader {
    stream: BodyDataStream,
    chunk: Bytes,
}

impl BodyReader {
    /// Reads `body`.
    pub fn new(body: Body) -> BodyReader {
        BodyReader {
            stream: body.into_data_stream(),
            chunk: Bytes::new(),
        }
    }
}

impl AsyncRead for BodyReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.chunk.is_empty() {
                let n = buf.remaining().min(self.chunk.len());
                buf.put_slice(&self.chunk[..n]);
                self.chunk.advance(n);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.stream).poll_next(cx)) {
                Some(Ok(bytes)) => self.chunk = bytes,
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
                None => return Poll::Ready(Ok(())),
            }
        }
    }
}
