//! Request bodies left unread by an early refusal. When a handler answers an error before reading
//! the whole body (a record over the size limit, a bad token on a large upload), the HTTP server
//! would close the connection with part of the body unread; a reverse proxy still writing that body
//! (nginx) then fails with a broken pipe, answers 502 instead of the node's error, and may take the
//! node out of rotation. This middleware keeps a handle on the body and, after an error response,
//! reads and discards what is left — at most [`MAX_DRAIN_BYTES`], for at most [`DRAIN_TIMEOUT`] —
//! before the response goes out, so the connection stays usable. A body declared larger than that
//! is not drained (the connection closes, as before).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use http_body::Frame;

/// The most bytes read and discarded after an error response.
pub const MAX_DRAIN_BYTES: u64 = 16 * 1024 * 1024;
/// The longest the discarding may take.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

struct Shared {
    body: Body,
    finished: bool,
}

/// The request body as the handler sees it; the middleware keeps another handle on the same body.
struct SharedBody(Arc<Mutex<Shared>>);

impl HttpBody for SharedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        poll_shared(&self.0, cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .map(|s| s.finished || s.body.is_end_stream())
            .unwrap_or(true)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0
            .lock()
            .map(|s| s.body.size_hint())
            .unwrap_or_default()
    }
}

fn poll_shared(
    shared: &Mutex<Shared>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
    let mut guard = match shared.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if guard.finished {
        return Poll::Ready(None);
    }
    let polled = Pin::new(&mut guard.body).poll_frame(cx);
    if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
        guard.finished = true;
    }
    polled
}

/// The middleware (see the module notes).
pub async fn drain_unread_body(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let shared = Arc::new(Mutex::new(Shared {
        body,
        finished: false,
    }));
    let request = Request::from_parts(parts, Body::new(SharedBody(shared.clone())));
    let response = next.run(request).await;
    if response.status().as_u16() >= 400 && declared.is_none_or(|len| len <= MAX_DRAIN_BYTES) {
        let unread = SharedBody(shared.clone());
        if !unread.is_end_stream() {
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, discard(&shared)).await;
        }
    }
    response
}

/// Reads and drops frames until the body ends, fails or [`MAX_DRAIN_BYTES`] went by.
async fn discard(shared: &Mutex<Shared>) {
    let mut seen = 0u64;
    while let Some(Ok(frame)) = std::future::poll_fn(|cx| poll_shared(shared, cx)).await {
        seen = seen.saturating_add(frame.data_ref().map_or(0, |d| d.len() as u64));
        if seen > MAX_DRAIN_BYTES {
            break;
        }
    }
}
