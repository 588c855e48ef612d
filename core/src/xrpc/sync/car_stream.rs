//! Sending a CAR as it is written: a task writes into one end of an in-memory pipe while the
//! response body reads the other, so a repository of any size goes out in bounded memory. A failure
//! part way ends the body with an error (the client sees a broken transfer, never a short CAR that
//! looks whole); a client that goes away stops the writer at its next write.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use tokio::io::{AsyncRead, DuplexStream, ReadBuf};
use tokio::sync::oneshot;

/// The CAR media type.
pub const CAR_MEDIA_TYPE: &str = "application/vnd.ipld.car";

/// The pipe's buffer, and the largest chunk of the body.
const CHUNK: usize = 64 * 1024;

/// A response whose CAR body `write` produces into the pipe it is given. `write`'s error, if any,
/// is logged and breaks the body.
pub fn car_response<F, Fut, E>(write: F) -> Response
where
    F: FnOnce(DuplexStream) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let (writer, reader) = tokio::io::duplex(CHUNK);
    let (done_tx, done_rx) = oneshot::channel();
    tokio::spawn(async move {
        let outcome = write(writer).await.map_err(|e| e.to_string());
        if let Err(e) = &outcome {
            log::warn!("writing a CAR response failed: {e}");
        }
        // The receiver is gone when the client left; nothing to tell then.
        let _ = done_tx.send(outcome);
    });
    let stream = CarStream {
        reader,
        done: Some(done_rx),
    };
    (
        [(header::CONTENT_TYPE, CAR_MEDIA_TYPE)],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A CAR already in memory (small ones: record proofs).
pub fn car_bytes_response(car: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, CAR_MEDIA_TYPE)], car).into_response()
}

struct CarStream {
    reader: DuplexStream,
    /// The writer's outcome, read once the pipe is drained.
    done: Option<oneshot::Receiver<Result<(), String>>>,
}

impl Stream for CarStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(done) = this.done.as_mut() else {
            return Poll::Ready(None);
        };
        let mut buf = BytesMut::zeroed(CHUNK);
        let mut read_buf = ReadBuf::new(&mut buf);
        match Pin::new(&mut this.reader).poll_read(cx, &mut read_buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => {
                this.done = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Ok(())) => {
                let n = read_buf.filled().len();
                if n > 0 {
                    buf.truncate(n);
                    return Poll::Ready(Some(Ok(buf.freeze())));
                }
                // The writer closed its end: finished, or failed.
                match Pin::new(done).poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(outcome) => {
                        this.done = None;
                        match outcome {
                            Ok(Ok(())) => Poll::Ready(None),
                            Ok(Err(e)) => Poll::Ready(Some(Err(io::Error::other(e)))),
                            Err(_) => {
                                Poll::Ready(Some(Err(io::Error::other("the CAR writer stopped"))))
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn body_of(response: Response) -> Result<Vec<u8>, axum::Error> {
        let mut stream = response.into_body().into_data_stream();
        let mut out = Vec::new();
        while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await
        {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn a_written_car_arrives_whole() {
        let big = vec![7u8; 3 * CHUNK + 5];
        let sent = big.clone();
        let response = car_response(move |mut w: DuplexStream| async move {
            w.write_all(&sent).await?;
            Ok::<(), io::Error>(())
        });
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            CAR_MEDIA_TYPE
        );
        assert_eq!(body_of(response).await.unwrap(), big);
    }

    #[tokio::test]
    async fn a_failing_writer_breaks_the_body() {
        let response = car_response(|mut w: DuplexStream| async move {
            w.write_all(b"partial").await.map_err(|e| e.to_string())?;
            Err::<(), String>("missing block".into())
        });
        assert!(body_of(response).await.is_err());
    }
}
