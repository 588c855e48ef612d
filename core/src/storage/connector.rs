//! TLS to the primary database: the connector libsql dials the primary through. `https://` and
//! `libsql://` primaries are reached over rustls 0.23 with the ring provider and the Mozilla root
//! certificates compiled in — the TLS stack the rest of the node already uses — and `http://` ones
//! in the clear. (libsql's own `tls` feature would bring a second stack, hyper-rustls 0.25 on
//! rustls 0.22, reading the roots from the platform's certificate files, which Android has not.)

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper014::client::connect::{Connected, Connection};
use hyper014::client::HttpConnector;
use hyper014::Uri;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens the connections to the primary: TCP, then TLS for `https` (libsql turns `libsql://`
/// into `https://` before it dials). Cheap to clone.
#[derive(Clone)]
pub struct PrimaryConnector {
    http: HttpConnector,
    tls: TlsConnector,
}

impl PrimaryConnector {
    /// A connector that trusts the Mozilla root certificates (the node's default).
    pub fn new() -> Result<PrimaryConnector, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(PrimaryConnector::with_tls_config(config))
    }

    /// A connector with these TLS settings (for example a private certificate authority in front
    /// of a self-hosted `sqld`).
    pub fn with_tls_config(config: rustls::ClientConfig) -> PrimaryConnector {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        PrimaryConnector {
            http,
            tls: TlsConnector::from(Arc::new(config)),
        }
    }
}

impl tower::Service<Uri> for PrimaryConnector {
    type Response = PrimaryStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<PrimaryStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        tower::Service::<Uri>::poll_ready(&mut self.http, cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let secure = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                let err: BoxError =
                    format!("the primary's URL has an unknown scheme {other:?}").into();
                return Box::pin(async move { Err(err) });
            }
        };
        let host = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned());
        let tls = self.tls.clone();
        let connecting = tower::Service::<Uri>::call(&mut self.http, uri);
        Box::pin(async move {
            let tcp = connecting.await?;
            if !secure {
                return Ok(PrimaryStream::Plain(tcp));
            }
            let host = host.ok_or("the primary's URL has no host")?;
            let name = ServerName::try_from(host)?;
            Ok(PrimaryStream::Tls(Box::new(tls.connect(name, tcp).await?)))
        })
    }
}

/// A connection to the primary, in the clear or over TLS.
pub enum PrimaryStream {
    /// `http://`.
    Plain(TcpStream),
    /// `https://` and `libsql://`.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Connection for PrimaryStream {
    fn connected(&self) -> Connected {
        match self {
            PrimaryStream::Plain(tcp) => tcp.connected(),
            PrimaryStream::Tls(tls) => tls.get_ref().0.connected(),
        }
    }
}

impl AsyncRead for PrimaryStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PrimaryStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            PrimaryStream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PrimaryStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PrimaryStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            PrimaryStream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PrimaryStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            PrimaryStream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            PrimaryStream::Plain(s) => s.is_write_vectored(),
            PrimaryStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PrimaryStream::Plain(s) => Pin::new(s).poll_flush(cx),
            PrimaryStream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PrimaryStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            PrimaryStream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
