//! Which headers cross the proxy. Both directions use an allow-list (the reference PDS's), so
//! hop-by-hop headers (`Connection`, `Keep-Alive`, `Transfer-Encoding`, `Upgrade`, `TE`,
//! `Trailer`, `Proxy-*`), cookies, and the caller's own credentials never pass; the upstream gets
//! the account's service token instead.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};

/// Request headers passed upstream (besides the body's own, for procedures).
const REQUEST: &[&str] = &[
    "accept-language",
    "atproto-accept-labelers",
    "x-bsky-topics",
];

/// Headers describing a request body, passed upstream with it.
const REQUEST_BODY: &[&str] = &["content-type", "content-encoding", "content-length"];

/// Response headers passed back to the caller.
const RESPONSE: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "content-language",
    "atproto-repo-rev",
    "atproto-content-labelers",
    "retry-after",
];

/// The headers of the upstream request: the allowed ones of `incoming`, the body's when it has one,
/// `Accept-Encoding` (`identity` when the caller named none) and `Authorization: Bearer <token>`.
pub fn upstream_request(incoming: &HeaderMap, has_body: bool, token: &str) -> HeaderMap {
    let mut out = HeaderMap::new();
    copy(incoming, &mut out, REQUEST);
    if has_body {
        copy(incoming, &mut out, REQUEST_BODY);
    }
    let encoding = incoming
        .get(header::ACCEPT_ENCODING)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("identity"));
    out.insert(header::ACCEPT_ENCODING, encoding);
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
        out.insert(header::AUTHORIZATION, value);
    }
    out
}

/// The headers of the response to the caller: the allowed ones of the upstream response.
pub fn downstream_response(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    copy(upstream, &mut out, RESPONSE);
    out
}

fn copy(from: &HeaderMap, to: &mut HeaderMap, names: &[&'static str]) {
    for name in names {
        let name = HeaderName::from_static(name);
        for value in from.get_all(&name) {
            to.append(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn hop_by_hop_headers_and_credentials_stay_behind() {
        let incoming = map(&[
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic eA=="),
            ("authorization", "Bearer the-callers-session"),
            ("cookie", "a=b"),
            ("dpop", "proof"),
            ("x-secret", "1"),
            ("accept-language", "fr"),
            ("atproto-accept-labelers", "did:plc:x"),
            ("content-type", "application/json"),
            ("content-length", "12"),
        ]);
        let out = upstream_request(&incoming, true, "svc");
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(
            names,
            [
                "accept-language",
                "atproto-accept-labelers",
                "content-type",
                "content-length",
                "accept-encoding",
                "authorization"
            ]
        );
        assert_eq!(out["authorization"], "Bearer svc");
        assert_eq!(out["accept-encoding"], "identity");
        let get = upstream_request(&incoming, false, "svc");
        assert!(get.get("content-length").is_none());

        let upstream = map(&[
            ("connection", "close"),
            ("transfer-encoding", "chunked"),
            ("set-cookie", "x=y"),
            ("content-type", "application/json"),
            ("atproto-repo-rev", "3l"),
            ("access-control-allow-origin", "https://evil.example"),
        ]);
        let back = downstream_response(&upstream);
        let names: Vec<&str> = back.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["content-type", "atproto-repo-rev"]);
    }
}
