//! A minimal HTTP/1.1 client for tests: one request per connection, whole response read.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: status, headers (lower-cased names) and body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request and reads the whole response (the server is asked to close the connection).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
) -> Response {
    request_with_headers(addr, method, path, &[], body)
}

/// [`request`] with extra request headers (`("Authorization", "Bearer ...")`).
pub fn request_with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Response {
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    // The caller's Host header, if it gives one, replaces the default.
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, bytes)) = body {
        req.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    }
    req.push_str("\r\n");
    let mut raw = req.into_bytes();
    if let Some((_, bytes)) = body {
        raw.extend_from_slice(bytes);
    }
    send_raw(addr, &raw)
}

/// Writes `raw` (a whole HTTP/1.1 request, headers and body) and reads the whole response.
pub fn send_raw(addr: SocketAddr, raw_request: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The server may answer (and close) before reading everything, as it does for bodies past the
    // limit: a failed write is then not an error of the test.
    let _ = stream.write_all(raw_request);
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw) {
        // A reset after a complete answer (the server closed with our body unread) is fine.
        assert!(!raw.is_empty(), "read: {e}");
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

/// POSTs `body` as JSON to the XRPC procedure `method` as the account of the session `token`, from
/// a blocking thread (for async tests).
pub async fn procedure(
    addr: SocketAddr,
    token: &str,
    method: &str,
    body: serde_json::Value,
) -> Response {
    let auth = format!("Bearer {token}");
    let path = format!("/xrpc/{method}");
    tokio::task::spawn_blocking(move || {
        let bytes = serde_json::to_vec(&body).unwrap();
        request_with_headers(
            addr,
            "POST",
            &path,
            &[("Authorization", &auth)],
            Some(("application/json", &bytes)),
        )
    })
    .await
    .unwrap()
}

/// Sends `method path` with an optional bearer token and an optional body (content type, bytes),
/// from a blocking thread (for async tests).
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: String,
    auth: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Response {
    let method = method.to_owned();
    let auth = auth.map(|t| format!("Bearer {t}"));
    let body = body.map(|(t, b)| (t.to_owned(), b));
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        request_with_headers(
            addr,
            &method,
            &path,
            &headers,
            body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice())),
        )
    })
    .await
    .unwrap()
}
