//! Request bodies that arrive too slowly. Once a request head is in, its body has
//! [`BodyDeadline::timeout`] to arrive, extended by one second for every
//! [`BodyDeadline::min_bytes_per_second`] bytes received (the rule of Apache's `mod_reqtimeout`):
//! a client that stops half-way, or trickles a few bytes now and then, loses its connection on
//! time, while a large upload on a slow but steady link is never cut. When the time is up, reading
//! the body fails, and the request gets `408 RequestTimeout` as an XRPC error with
//! `Connection: close` (the handler's own answer to the failed read is replaced); the connection
//! closes after it. Bodies of requests that declare none (`GET`, an upgrade) are not watched.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use tokio::time::{Instant, Sleep};

use super::{AppState, XrpcError};

/// How long a request body may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDeadline {
    /// The time a body has from the end of its request head, before any extension.
    pub timeout: Duration,
    /// Each this many bytes received add one second (0: no extension, the timeout is the whole
    /// body's).
    pub min_bytes_per_second: u64,
}

impl BodyDeadline {
    /// The deadline a configuration sets.
    pub fn from_config(config: &crate::config::Config) -> BodyDeadline {
        BodyDeadline {
            timeout: Duration::from_secs(config.http_body_timeout_seconds),
            min_bytes_per_second: config.http_body_min_bytes_per_second,
        }
    }

    /// How long a body may take once it has delivered `received` bytes.
    fn allowance(&self, received: u64) -> Duration {
        let extension = match self.min_bytes_per_second {
            0 => Duration::ZERO,
            rate => Duration::from_millis(received.saturating_mul(1000) / rate),
        };
        self.timeout.saturating_add(extension)
    }
}

/// Reading a body failed because its time was up.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

/// A request body read against its [`BodyDeadline`].
struct DeadlineBody {
    inner: Body,
    limits: BodyDeadline,
    start: Instant,
    received: u64,
    sleep: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
    done: bool,
}

impl DeadlineBody {
    fn new(inner: Body, limits: BodyDeadline, expired: Arc<AtomicBool>) -> DeadlineBody {
        let start = Instant::now();
        DeadlineBody {
            inner,
            limits,
            start,
            received: 0,
            sleep: Box::pin(tokio::time::sleep_until(start + limits.timeout)),
            expired,
            done: false,
        }
    }

    fn expire(&mut self) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.done = true;
        self.expired.store(true, Ordering::Release);
        Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))))
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                self.received = self.received.saturating_add(len);
                let deadline = self.start + self.limits.allowance(self.received);
                if Instant::now() >= deadline {
                    return self.expire();
                }
                self.sleep.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => {
                self.done = true;
                Poll::Ready(other)
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => self.expire(),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The middleware (see the module notes).
pub async fn limit_body_time(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let limits = BodyDeadline::from_config(&state.config);
    let expired = Arc::new(AtomicBool::new(false));
    let watched = expired.clone();
    let request = request.map(|body| Body::new(DeadlineBody::new(body, limits, watched)));
    let response = next.run(request).await;
    if !expired.load(Ordering::Acquire) {
        return response;
    }
    let mut response = XrpcError::new(
        StatusCode::REQUEST_TIMEOUT,
        "RequestTimeout",
        "The request body did not arrive in time",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_received_chunk_of_the_minimum_rate_buys_a_second() {
        let limits = BodyDeadline {
            timeout: Duration::from_secs(30),
            min_bytes_per_second: 1000,
        };
        assert_eq!(limits.allowance(0), Duration::from_secs(30));
        assert_eq!(limits.allowance(500), Duration::from_millis(30_500));
        assert_eq!(limits.allowance(10_000_000), Duration::from_secs(10_030));
        assert!(limits.allowance(u64::MAX) > Duration::from_secs(30));
        let total_only = BodyDeadline {
            min_bytes_per_second: 0,
            ..limits
        };
        assert_eq!(total_only.allowance(1 << 40), Duration::from_secs(30));
    }
}
