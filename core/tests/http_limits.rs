//! The node's HTTP server limits: connections that never finish their request head are closed on
//! time while the node keeps serving others, an idle kept-alive connection is closed, past the
//! connection cap a new connection gets a clear 503 XRPC error, and a request body that stops
//! half-way or trickles gets 408 and loses its connection on time while a steady one arrives, and a
//! client that stops reading its response loses its connection once the write stalls that long.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::http::request;
use common::node::local_config;

const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
const BODY_TIMEOUT: Duration = Duration::from_secs(2);
const CREATE_SESSION: &str = "/xrpc/com.atproto.server.createSession";

/// Raises this process's open-file limit to its hard limit and returns how many descriptors it
/// may open.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

/// Opens a connection that sends half a request head and then nothing.
async fn stalled(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /xrpc/_health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    s
}

/// Waits until the server closes `s` (end of stream or reset), at most `limit`; returns when.
async fn closed_after(mut s: TcpStream, start: Instant, limit: Duration) -> Option<Duration> {
    let mut buf = [0u8; 512];
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return None,
            read = s.read(&mut buf) => match read {
                Ok(0) | Err(_) => return Some(start.elapsed()),
                // hyper may answer 408 before closing: keep reading to the end.
                Ok(_) => continue,
            },
        }
    }
}

fn health(addr: SocketAddr) -> u16 {
    request(addr, "GET", "/xrpc/_health", None).status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_stalled_headers_are_closed_on_time_while_others_are_served() {
    let fds = raise_fd_limit();
    // Each stalled connection costs two descriptors here (client and server side).
    let count = 2000.min((fds.saturating_sub(300) / 2) as usize);
    assert!(
        count >= 500,
        "the open-file limit ({fds}) is too low for this test"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.http_header_timeout_seconds = HEADER_TIMEOUT.as_secs();
    config.http_max_connections = (count + 100) as u64;
    let node = pocketpds_core::node::start(config).await.unwrap();
    let addr = node.local_addr;

    let start = Instant::now();
    let mut stalls = Vec::with_capacity(count);
    for _ in 0..count {
        stalls.push(stalled(addr).await);
    }
    let opened = start.elapsed();
    // While they hang, others are served.
    let served =
        tokio::task::spawn_blocking(move || (0..20).map(|_| health(addr)).collect::<Vec<_>>())
            .await
            .unwrap();
    assert!(served.iter().all(|s| *s == 200), "{served:?}");

    let waits: Vec<_> = stalls
        .into_iter()
        .map(|s| tokio::spawn(closed_after(s, start, HEADER_TIMEOUT * 4)))
        .collect();
    let mut latest = Duration::ZERO;
    let mut earliest = Duration::MAX;
    for wait in waits {
        let when = wait
            .await
            .unwrap()
            .expect("a stalled connection was still open after twice the header timeout");
        latest = latest.max(when);
        earliest = earliest.min(when);
    }
    eprintln!(
        "{count} stalled connections opened in {opened:?}; closed between {earliest:?} and {latest:?}"
    );
    // None was closed before its time (the earliest was opened at `start`).
    assert!(earliest >= HEADER_TIMEOUT - Duration::from_millis(100));
    assert_eq!(
        tokio::task::spawn_blocking(move || health(addr))
            .await
            .unwrap(),
        200
    );
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.http_header_timeout_seconds = HEADER_TIMEOUT.as_secs();
    let node = pocketpds_core::node::start(config).await.unwrap();
    let mut s = TcpStream::connect(node.local_addr).await.unwrap();
    s.write_all(b"GET /xrpc/_health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Read the one response (its head and its JSON body) without ending the connection.
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"}") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the response");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200"));
    let idle_since = Instant::now();
    let closed = closed_after(s, idle_since, HEADER_TIMEOUT * 3)
        .await
        .expect("the idle connection was kept open");
    assert!(
        closed >= HEADER_TIMEOUT - Duration::from_millis(100),
        "{closed:?}"
    );
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_a_new_connection_gets_a_503_xrpc_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.http_header_timeout_seconds = HEADER_TIMEOUT.as_secs();
    config.http_max_connections = 20;
    let node = pocketpds_core::node::start(config).await.unwrap();
    let addr = node.local_addr;
    let mut stalls = Vec::new();
    for _ in 0..20 {
        stalls.push(stalled(addr).await);
    }
    // Give the server the time to accept them all.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = tokio::task::spawn_blocking(move || request(addr, "GET", "/xrpc/_health", None))
        .await
        .unwrap();
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["error"], "ServiceUnavailable");
    assert_eq!(refused.header("retry-after"), Some("1"));
    // Once the stalled ones are timed out, the node serves again.
    tokio::time::sleep(HEADER_TIMEOUT + Duration::from_millis(700)).await;
    assert_eq!(
        tokio::task::spawn_blocking(move || health(addr))
            .await
            .unwrap(),
        200
    );
    drop(stalls);
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firehose_websocket_keeps_its_place_under_the_cap_until_it_closes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.http_max_connections = 1;
    let node = pocketpds_core::node::start(config).await.unwrap();
    let addr = node.local_addr;
    let url = format!("ws://{addr}/xrpc/com.atproto.sync.subscribeRepos");
    let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        tokio::task::spawn_blocking(move || health(addr))
            .await
            .unwrap(),
        503
    );
    drop(socket);
    // The server notices the close and gives the place back.
    let mut status = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = tokio::task::spawn_blocking(move || health(addr))
            .await
            .unwrap();
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200);
    node.stop().await.unwrap();
}

/// The head of a JSON `POST` to createSession declaring a body of `length` bytes.
fn body_head(length: usize) -> Vec<u8> {
    format!(
        "POST {CREATE_SESSION} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    )
    .into_bytes()
}

/// Reads what the server sends until it closes `s`, at most `limit`; returns the bytes and when
/// the close came (`None` if it did not).
async fn answer_and_close(
    mut s: TcpStream,
    start: Instant,
    limit: Duration,
) -> (Vec<u8>, Option<Duration>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return (got, None),
            read = s.read(&mut buf) => match read {
                Ok(0) | Err(_) => return (got, Some(start.elapsed())),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            },
        }
    }
}

fn assert_request_timeout(answer: &[u8]) {
    let text = String::from_utf8_lossy(answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(r#""error":"RequestTimeout""#), "{text}");
}

async fn body_node(dir: &std::path::Path) -> pocketpds_core::node::RunningNode {
    let mut config = local_config(dir);
    config.http_body_timeout_seconds = BODY_TIMEOUT.as_secs();
    config.http_body_min_bytes_per_second = 1024;
    config.http_max_connections = 1000;
    pocketpds_core::node::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_half_sent_bodies_get_408_on_time_while_others_are_served() {
    let fds = raise_fd_limit();
    let count = 400.min((fds.saturating_sub(300) / 2) as usize);
    assert!(
        count >= 200,
        "the open-file limit ({fds}) is too low for this test"
    );
    let dir = tempfile::tempdir().unwrap();
    let node = body_node(dir.path()).await;
    let addr = node.local_addr;

    let start = Instant::now();
    let mut halves = Vec::with_capacity(count);
    for _ in 0..count {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&body_head(200)).await.unwrap();
        s.write_all(&[b' '; 100]).await.unwrap();
        halves.push(s);
    }
    let opened = start.elapsed();
    // While they hang, others are served, a whole body included.
    let served = tokio::task::spawn_blocking(move || {
        let whole = br#"{"identifier":"nobody.test","password":"wrong password"}"#;
        (0..10)
            .map(|_| {
                (
                    health(addr),
                    request(
                        addr,
                        "POST",
                        CREATE_SESSION,
                        Some(("application/json", whole)),
                    )
                    .status,
                )
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert!(served.iter().all(|s| *s == (200, 401)), "{served:?}");

    let waits: Vec<_> = halves
        .into_iter()
        .map(|s| tokio::spawn(answer_and_close(s, start, BODY_TIMEOUT * 4)))
        .collect();
    let mut latest = Duration::ZERO;
    let mut earliest = Duration::MAX;
    for wait in waits {
        let (answer, when) = wait.await.unwrap();
        let when = when.expect("a half-sent body still held its connection after 4 timeouts");
        assert_request_timeout(&answer);
        latest = latest.max(when);
        earliest = earliest.min(when);
    }
    eprintln!(
        "{count} half-sent bodies opened in {opened:?}; answered 408 and closed between \
         {earliest:?} and {latest:?}"
    );
    assert!(earliest >= BODY_TIMEOUT - Duration::from_millis(100));
    assert_eq!(
        tokio::task::spawn_blocking(move || health(addr))
            .await
            .unwrap(),
        200
    );
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_at_its_deadline_but_a_slow_steady_one_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let node = body_node(dir.path()).await;
    let addr = node.local_addr;

    // Ten bytes a second, far under the minimum rate: cut soon after the timeout, though bytes
    // keep coming.
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    trickle.write_all(&body_head(1000)).await.unwrap();
    let start = Instant::now();
    let (mut reader, mut writer) = trickle.into_split();
    let feeding = tokio::spawn(async move {
        for _ in 0..1000 {
            if writer.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(BODY_TIMEOUT * 4, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the trickled body still held its connection");
    let cut = start.elapsed();
    assert_request_timeout(&answer);
    assert!(
        cut >= BODY_TIMEOUT && cut < BODY_TIMEOUT * 2,
        "cut after {cut:?}"
    );
    feeding.abort();

    // 6 KiB in 1 KiB pieces, one every 0.6 s (above the minimum rate): takes longer than the
    // timeout, and is read and answered as any other request.
    let mut body = br#"{"identifier":"nobody.test","password":"wrong password"}"#.to_vec();
    body.resize(6 * 1024, b' ');
    let mut steady = TcpStream::connect(addr).await.unwrap();
    steady.write_all(&body_head(body.len())).await.unwrap();
    let start = Instant::now();
    for piece in body.chunks(1024) {
        tokio::time::sleep(Duration::from_millis(600)).await;
        steady.write_all(piece).await.unwrap();
    }
    let mut answer = Vec::new();
    while !answer.ends_with(b"}") {
        let n = steady.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(start.elapsed() > BODY_TIMEOUT);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_its_response_loses_the_connection_on_time() {
    use pocketpds_core::repo::writer::{Record, WriteOp};
    use pocketpds_core::syntax::{Did, Nsid, RecordKey, Tid};

    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.http_header_timeout_seconds = HEADER_TIMEOUT.as_secs();
    let node = pocketpds_core::node::start(config).await.unwrap();
    let did = "did:plc:stallreader2xq2vsrgwgnqg5d";
    let (key, _) = common::node::seed_account(&node, did, "reader.test").await;
    // A repository of about 4 MB: 40 records of 100 KB each.
    let filler = "x".repeat(100_000);
    for batch in 0..4 {
        let ops: Vec<WriteOp> = (0..10)
            .map(|i| WriteOp::Create {
                collection: Nsid::parse("com.example.filler").unwrap(),
                rkey: RecordKey::parse(&Tid::next().to_string()).unwrap(),
                record: Record::from_json(&serde_json::json!({
                    "$type": "com.example.filler",
                    "text": format!("{batch}-{i} {filler}"),
                }))
                .unwrap(),
            })
            .collect();
        node.state
            .repos
            .write(&Did::parse(did).unwrap(), &key, &ops, None)
            .await
            .unwrap();
    }
    let path = format!("/xrpc/com.atproto.sync.getRepo?did={did}");
    let whole = {
        let (addr, path) = (node.local_addr, path.clone());
        tokio::task::spawn_blocking(move || request(addr, "GET", &path, None))
            .await
            .unwrap()
    };
    assert_eq!(whole.status, 200);
    assert!(whole.body.len() > 4_000_000, "{}", whole.body.len());

    // A client with a small receive window asks for it and reads nothing for three timeouts.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let mut s = socket.connect(node.local_addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(HEADER_TIMEOUT * 3).await;
    // What reaches it then is what the kernel had buffered, and the connection ends short of the
    // whole repository.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let read_all = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read_all)
        .await
        .expect("the stalled connection was kept open");
    assert!(got.starts_with(b"HTTP/1.1 200"));
    assert!(
        got.len() < whole.body.len(),
        "the whole response ({} bytes) was still delivered",
        got.len()
    );
    // The node serves others meanwhile and after.
    assert_eq!(health(node.local_addr), 200);
    node.stop().await.unwrap();
}
