//! TLS to the primary: `libsql://` (and `https://`) primaries are reached over rustls through the
//! node's own connector. A TLS terminator on loopback stands in front of a real `sqld`, with a
//! certificate authority and a `localhost` certificate made by `openssl`: trusting that authority,
//! a remote handle and an embedded replica opened with a `libsql://` URL write and read through
//! TLS; the node's storage, which trusts only the Mozilla roots, refuses that certificate; and a
//! `libsql://` URL pointed at a plain-HTTP server fails instead of falling back to plain HTTP.
mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::sqld::{sqld_bin, Sqld};
use libsql::Builder;
use pocketpds_core::storage::connector::PrimaryConnector;
use pocketpds_core::storage::{Primary, Storage};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

type Certificates = (
    CertificateDer<'static>,
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
);

/// A certificate authority, and a certificate for `localhost` it signed with its key.
fn certificates(dir: &Path) -> Certificates {
    let run = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs (apt-get install openssl)");
        assert!(status.success(), "openssl {args:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=PocketPDS test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
    ]);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    ]);
    let ca = CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap();
    let leaf = CertificateDer::from_pem_file(dir.join("leaf.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
    (ca, vec![leaf], key)
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS terminator on loopback forwarding to `upstream` (sqld's port): its port, and how many
/// TLS sessions it accepted.
async fn terminator(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    upstream: u16,
) -> (u16, Arc<AtomicUsize>) {
    let config = rustls::ServerConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sessions = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&sessions);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let Ok(mut plain) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, sessions)
}

async fn texts(conn: &libsql::Connection) -> Vec<String> {
    let mut rows = conn.query("SELECT v FROM t ORDER BY v", ()).await.unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.unwrap() {
        out.push(row.get::<String>(0).unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_libsql_url_reaches_the_primary_over_tls_and_only_with_a_trusted_certificate() {
    let Some(bin) =
        sqld_bin("a_libsql_url_reaches_the_primary_over_tls_and_only_with_a_trusted_certificate")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqld = Sqld::start(&bin, &dir.path().join("sqld"));
    let (ca, chain, key) = certificates(dir.path());
    let (port, sessions) = terminator(chain, key, sqld.port()).await;
    let url = format!("libsql://localhost:{port}");

    // Trusting the test authority, both handles work through TLS.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let trusting = PrimaryConnector::with_tls_config(
        rustls::ClientConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let remote = Builder::new_remote(url.clone(), String::new())
        .connector(trusting.clone())
        .build()
        .await
        .unwrap();
    let conn = remote.connect().unwrap();
    conn.execute("CREATE TABLE t (v TEXT)", ()).await.unwrap();
    conn.execute("INSERT INTO t VALUES ('a remote write')", ())
        .await
        .unwrap();
    let replica =
        Builder::new_remote_replica(dir.path().join("replica.db"), url.clone(), String::new())
            .connector(trusting)
            .read_your_writes(true)
            .build()
            .await
            .unwrap();
    replica.sync().await.unwrap();
    let local = replica.connect().unwrap();
    assert_eq!(texts(&local).await, ["a remote write"]);
    local
        .execute("INSERT INTO t VALUES ('a replica write')", ())
        .await
        .unwrap();
    assert_eq!(
        texts(&conn).await,
        ["a remote write", "a replica write"],
        "the replica's write reached the primary"
    );
    assert!(
        sessions.load(Ordering::SeqCst) >= 2,
        "the handles went through the TLS terminator"
    );

    // The node's own storage trusts the Mozilla roots only: the test authority's certificate is
    // refused, and nothing is read from that primary.
    let accepted = sessions.load(Ordering::SeqCst);
    let err = Storage::open_replica(
        &dir.path().join("node.db"),
        &Primary {
            url: url.clone(),
            auth_token: String::new(),
        },
    )
    .await
    .err()
    .expect("an untrusted certificate");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    assert_eq!(
        sessions.load(Ordering::SeqCst),
        accepted,
        "no TLS session was completed"
    );

    // A libsql:// URL speaks TLS even to a server that only speaks plain HTTP: it fails.
    let started = std::time::Instant::now();
    let err = Storage::open_replica(
        &dir.path().join("plain.db"),
        &Primary {
            url: format!("libsql://127.0.0.1:{}", sqld.port()),
            auth_token: String::new(),
        },
    )
    .await
    .err()
    .expect("TLS to a plain-HTTP server fails");
    assert!(
        started.elapsed() < Duration::from_secs(31),
        "failed within the time limit"
    );
    // rustls reads the server's plain-HTTP answer as a corrupt TLS record.
    assert!(err.to_string().contains("corrupt message"), "{err}");
}
