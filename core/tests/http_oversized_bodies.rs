//! A body over a limit is answered with the node's error, and the rest of the body is read and
//! discarded first, so the connection stays usable for the next request (a reverse proxy writing
//! the body never hits a closed socket).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::node::{local_config, seed_account};
use pocketpds_core::node;

const ALICE: &str = "did:plc:alicealicealicealicealic";

/// Reads one response (status, body) from a keep-alive connection.
fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, String) {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_drained_and_the_connection_serves_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let node = node::start(local_config(dir.path())).await.unwrap();
    let (_, token) = seed_account(&node, ALICE, "alice.test").await;
    let addr = node.local_addr;
    tokio::task::spawn_blocking(move || {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let record = format!(
            r#"{{"repo":"{ALICE}","collection":"app.bsky.feed.post","record":{{"$type":"app.bsky.feed.post","text":"{}","createdAt":"2024-01-01T00:00:00.000Z"}}}}"#,
            "x".repeat(2 << 20)
        );
        for auth in [format!("Authorization: Bearer {token}\r\n"), String::new()] {
            let head = format!(
                "POST /xrpc/com.atproto.repo.createRecord HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                record.len()
            );
            writer.write_all(head.as_bytes()).unwrap();
            writer.write_all(record.as_bytes()).unwrap();
            let (status, body) = read_response(&mut reader);
            let expected = if auth.is_empty() { 401 } else { 413 };
            assert_eq!(status, expected, "{body}");
            assert!(body.contains("\"error\""), "{body}");
        }
        // The same connection still serves.
        writer
            .write_all(format!("GET /xrpc/_health HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .unwrap();
        let (status, body) = read_response(&mut reader);
        assert_eq!(status, 200, "{body}");
    })
    .await
    .unwrap();
    node.stop().await.unwrap();
}
