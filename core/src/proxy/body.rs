//! The request body on its way upstream: the incoming body, counted against a limit, in the shape
//! the HTTP client sends (it must be `Sync`; axum's body is not, so it sits behind a mutex that is
//! only ever locked by the one task polling it).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use http_body::Frame;

/// The error a body over its limit ends with.
#[derive(Debug, thiserror::Error)]
#[error("request body over {0} bytes")]
pub struct TooLarge(pub u64);

/// A streamed request body that fails once more than `limit` bytes went through.
pub struct LimitedBody {
    inner: Mutex<Body>,
    seen: u64,
    limit: u64,
    exceeded: Arc<AtomicBool>,
}

impl LimitedBody {
    /// Wraps `body`; `exceeded` is set when it goes over `limit`.
    pub fn new(body: Body, limit: u64, exceeded: Arc<AtomicBool>) -> LimitedBody {
        LimitedBody {
            inner: Mutex::new(body),
            seen: 0,
            limit,
            exceeded,
        }
    }
}

impl HttpBody for LimitedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let inner = match this.inner.get_mut() {
            Ok(inner) => inner,
            Err(poisoned) => poisoned.into_inner(),
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                    if this.seen > this.limit {
                        this.exceeded.store(true, Ordering::SeqCst);
                        return Poll::Ready(Some(Err(Box::new(TooLarge(this.limit)))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.lock().map(|b| b.is_end_stream()).unwrap_or(true)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.lock().map(|b| b.size_hint()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(body: LimitedBody) -> Result<usize, String> {
        let mut body = Box::pin(body);
        let mut total = 0;
        while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            let frame = frame.map_err(|e| e.to_string())?;
            total += frame.data_ref().map_or(0, |d| d.len());
        }
        Ok(total)
    }

    #[tokio::test]
    async fn bodies_within_the_limit_pass_and_larger_ones_fail() {
        let flag = Arc::new(AtomicBool::new(false));
        let ok = LimitedBody::new(Body::from(vec![1u8; 100]), 100, flag.clone());
        assert_eq!(collect(ok).await, Ok(100));
        assert!(!flag.load(Ordering::SeqCst));
        let big = LimitedBody::new(Body::from(vec![1u8; 101]), 100, flag.clone());
        assert!(collect(big).await.unwrap_err().contains("over 100"));
        assert!(flag.load(Ordering::SeqCst));
    }
}
