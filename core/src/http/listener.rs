//! The node's HTTP/1.1 server loop, with the limits a public server needs (on the daemon and on
//! the phone alike):
//!
//! - **Header-read timeout** ([`Limits::header_timeout`]): a connection must deliver a complete
//!   request head within this time of the server starting to wait for one, or it is closed. The
//!   server starts waiting when the connection opens and again when a response is finished on a
//!   kept-alive connection, so the same timer is the **idle keep-alive timeout**. (hyper's
//!   `header_read_timeout`, on tokio's timer.)
//! - **Write-stall timeout** (the same [`Limits::header_timeout`]): a response — or an upgraded
//!   websocket's frames — that cannot be written for that long because the client stopped reading
//!   closes the connection ([`Counted`]), so a client cannot hold a place under the cap, and the
//!   response's buffers, by never reading its answer.
//! - **A cap on concurrent connections** ([`Limits::max_connections`]): past it a new connection
//!   gets a complete `503 ServiceUnavailable` XRPC error (with `Retry-After` and
//!   `Connection: close`) and is closed. An answer rather than a silent close or a full accept
//!   backlog: a client or load balancer sees at once that the node is busy, and the refusal costs
//!   one small write into a fresh socket's empty send buffer (never waited on). The refused
//!   socket's unread input is drained briefly before the close (so the kernel does not reset the
//!   connection and lose the answer), for at most [`MAX_DRAINING`] sockets at once.
//!
//! Each connection's requests carry [`ConnectInfo`] of the peer, which
//! [`crate::http::client_address`] reads. Upgrades (the firehose's websockets) are served, and keep
//! their connection's place under the cap for as long as they last (the place travels with the
//! socket, [`Counted`]).
//! Stopping stops accepting, lets requests in flight finish (graceful shutdown of every
//! connection) and returns when the last connection has closed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// The limits of the server loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a connection may take to deliver a complete request head (and may stay idle
    /// between two requests).
    pub header_timeout: Duration,
    /// How many connections are served at once.
    pub max_connections: usize,
}

impl Limits {
    /// The limits a configuration sets.
    pub fn from_config(config: &crate::config::Config) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(config.http_header_timeout_seconds),
            max_connections: usize::try_from(config.http_max_connections).unwrap_or(usize::MAX),
        }
    }
}

/// The most refused sockets drained at once (the others are closed at once).
pub const MAX_DRAINING: usize = 64;
/// How long a refused socket's input is drained before it is closed.
const DRAIN_TIME: Duration = Duration::from_millis(500);
/// How long the loop pauses when accepting fails (out of file descriptors, say).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The body of the refusal past the connection cap.
const REFUSAL_BODY: &str =
    r#"{"error":"ServiceUnavailable","message":"Too many open connections, try again shortly"}"#;

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then lets the open
/// connections finish their requests and returns once they are closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let draining = Arc::new(AtomicUsize::new(0));
    // Dropping the sender tells every connection to finish; each holds a receiver until it closes.
    let (stop_tx, stop_rx) = watch::channel(());
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::channel::<Infallible>(1);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    log::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse(stream, &draining);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = stop_rx.clone();
        let closed = closed_tx.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(app.map_request(
                move |request: axum::http::Request<Incoming>| {
                    let mut request = request.map(axum::body::Body::new);
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                },
            ));
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let counted = Counted::new(stream, slot, limits.header_timeout);
            let connection = builder
                .serve_connection(TokioIo::new(counted), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_end(peer, result),
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    log_end(peer, connection.await);
                }
            }
            drop(closed);
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(closed_tx);
    // Every connection task holds a sender: `None` comes when the last one has ended.
    let _ = closed_rx.recv().await;
    Ok(())
}

/// A served socket with its place under the connection cap: the place is given back when the
/// socket is dropped, whether hyper drops it or an upgraded websocket does. A write that makes no
/// progress for `stall_limit` fails with `TimedOut`, which ends the connection.
struct Counted {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    stall_limit: Duration,
    /// Running while a write waits for the client to read.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Counted {
    fn new(stream: TcpStream, slot: OwnedSemaphorePermit, stall_limit: Duration) -> Counted {
        Counted {
            stream,
            _slot: slot,
            stall_limit,
            stalled: None,
        }
    }

    /// Follows a write's outcome: progress clears the stall timer, waiting starts it (once), and
    /// a wait past the limit becomes an error.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if outcome.is_ready() {
            self.stalled = None;
            return outcome;
        }
        let limit = self.stall_limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client read nothing of the response in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let outcome = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let outcome = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let outcome = Pin::new(&mut self.stream).poll_flush(cx);
        self.watch(cx, outcome)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

fn log_end(peer: SocketAddr, result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        if e.is_timeout() {
            log::debug!("connection from {peer} closed: no complete request head in time");
        } else {
            log::debug!("connection from {peer} ended: {e}");
        }
    }
}

/// Answers 503 on a connection past the cap and closes it.
fn refuse(stream: TcpStream, draining: &Arc<AtomicUsize>) {
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{REFUSAL_BODY}",
        REFUSAL_BODY.len()
    );
    // A fresh socket's send buffer is empty: the whole answer fits, and nothing waits.
    let _ = stream.try_write(response.as_bytes());
    if draining.fetch_add(1, Ordering::AcqRel) >= MAX_DRAINING {
        draining.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let draining = draining.clone();
    tokio::spawn(async move {
        let mut stream = stream;
        let mut sink = [0u8; 1024];
        let drain = async {
            // Closing the write side first sends the answer's end; reading what the client sent
            // keeps the close from turning into a reset that would discard the answer.
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        };
        let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
        draining.fetch_sub(1, Ordering::AcqRel);
    });
}
