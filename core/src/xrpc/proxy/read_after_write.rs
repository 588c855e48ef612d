//! The I/O of read-after-write ([`crate::proxy::read_after_write`]): after a patched method came
//! back from the app view, read the requester's records written after the revision the answer
//! names; when there are any, buffer the answer (at most
//! [`MAX_BUFFERED_BODY`](crate::proxy::read_after_write::MAX_BUFFERED_BODY) bytes; a larger one passes
//! as it is, its read part first) and patch it. Anything unexpected — no revision or a malformed
//! one, another content type or encoding, a body that is not the method's output — passes the
//! answer unchanged.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, Response, StatusCode};
use futures_util::StreamExt;
use serde_json::Value;

use crate::http::{AppState, XrpcError};
use crate::proxy::read_after_write::patch::{self, Asked};
use crate::proxy::read_after_write::views::Viewer;
use crate::proxy::read_after_write::{
    upstream_rev, LocalRecords, MAX_BUFFERED_BODY, MAX_LOCAL_RECORDS, POST_COLLECTION,
    PROFILE_COLLECTION, REPO_REV_HEADER, UPSTREAM_LAG_HEADER,
};
use crate::repo::cbor;

/// The answer of patched method `lxm` for `did`, asked with `query`.
pub async fn respond(
    state: &AppState,
    did: &str,
    lxm: &str,
    query: Option<&str>,
    response: Response<Body>,
) -> Response<Body> {
    let thread_not_found =
        lxm == "app.bsky.feed.getPostThread" && response.status() == StatusCode::BAD_REQUEST;
    if response.status() != StatusCode::OK && !thread_not_found {
        return response;
    }
    let headers = response.headers();
    let Some(rev) = upstream_rev(headers.get(REPO_REV_HEADER).and_then(|v| v.to_str().ok())) else {
        return response;
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.trim_start().starts_with("application/json"));
    let encoded = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() != b"identity");
    if !json || encoded {
        return response;
    }
    let stored = match state
        .repos
        .records_since_rev(
            did,
            &rev.to_string(),
            &[PROFILE_COLLECTION, POST_COLLECTION],
            MAX_LOCAL_RECORDS,
        )
        .await
    {
        Ok(stored) => stored,
        Err(e) => {
            log::warn!("read-after-write for {did}: {e}");
            return response;
        }
    };
    let local = LocalRecords::from_stored(did, &stored);
    if local.is_empty() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match buffer(body).await {
        Buffered::Whole(bytes) => bytes,
        Buffered::TooLarge(body) => return Response::from_parts(parts, body),
        Buffered::Failed(e) => {
            log::info!("read-after-write for {did}: upstream body: {e}");
            return axum::response::IntoResponse::into_response(XrpcError::new(
                StatusCode::BAD_GATEWAY,
                "UpstreamFailure",
                "Upstream service broke off its answer",
            ));
        }
    };
    let unchanged = |parts, bytes: Bytes| Response::from_parts(parts, Body::from(bytes));
    let Ok(original) = serde_json::from_slice::<Value>(&bytes) else {
        return unchanged(parts, bytes);
    };
    let Some(viewer) = viewer(state, did).await else {
        return unchanged(parts, bytes);
    };
    let asked = asked(query, &viewer);
    let patched = if thread_not_found {
        if original.get("error").and_then(Value::as_str) != Some("NotFound") {
            return unchanged(parts, bytes);
        }
        let uri = param(query, "uri").map(|u| own_uri(&u, &viewer));
        uri.and_then(|uri| patch::post_thread_not_found(&viewer, &uri, &local))
    } else {
        patch::patch(lxm, &viewer, &original, &local, &asked)
    };
    let Some(patched) = patched else {
        return unchanged(parts, bytes);
    };
    let Ok(body) = serde_json::to_vec(&patched) else {
        return unchanged(parts, bytes);
    };
    let mut out = Response::from_parts(parts, Body::from(body));
    *out.status_mut() = StatusCode::OK;
    let headers = out.headers_mut();
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::CONTENT_ENCODING);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(lag) = local.lag_millis(now_micros()) {
        headers.insert(UPSTREAM_LAG_HEADER, HeaderValue::from(lag));
    }
    out
}

enum Buffered {
    Whole(Bytes),
    /// Over the bound: the part read, then the rest, as one body.
    TooLarge(Body),
    Failed(axum::Error),
}

/// Reads `body` whole when it is at most [`MAX_BUFFERED_BODY`] bytes.
async fn buffer(body: Body) -> Buffered {
    let mut stream = body.into_data_stream();
    let mut read: Vec<Bytes> = Vec::new();
    let mut len = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => return Buffered::Failed(e),
        };
        len += chunk.len();
        read.push(chunk);
        if len > MAX_BUFFERED_BODY {
            let head = futures_util::stream::iter(read.into_iter().map(Ok::<_, axum::Error>));
            return Buffered::TooLarge(Body::from_stream(head.chain(stream)));
        }
    }
    let mut whole = Vec::with_capacity(len);
    for chunk in read {
        whole.extend_from_slice(&chunk);
    }
    Buffered::Whole(Bytes::from(whole))
}

/// The requester, its handle and its current profile record.
async fn viewer(state: &AppState, did: &str) -> Option<Viewer> {
    let account = state.accounts.account_by_did(did).await.ok()??;
    let profile = match state
        .repos
        .get_record(did, PROFILE_COLLECTION, "self")
        .await
    {
        Ok(Some((_, bytes))) => cbor::decode(&bytes).ok().map(|v| cbor::to_json(&v)),
        Ok(None) => None,
        Err(e) => {
            log::warn!("read-after-write for {did}: profile: {e}");
            return None;
        }
    };
    Some(Viewer {
        did: did.to_owned(),
        handle: account.handle,
        public_url: state.config.public_url.clone(),
        profile,
    })
}

fn param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn names_requester(value: &str, viewer: &Viewer) -> bool {
    value == viewer.did || value.eq_ignore_ascii_case(&viewer.handle)
}

fn asked(query: Option<&str>, viewer: &Viewer) -> Asked {
    Asked {
        later_page: param(query, "cursor").is_some_and(|c| !c.is_empty()),
        own: param(query, "actor").is_some_and(|a| names_requester(&a, viewer)),
    }
}

/// `uri` with the requester's handle, if it names it, replaced by its DID.
fn own_uri(uri: &str, viewer: &Viewer) -> String {
    let Some(rest) = uri.strip_prefix("at://") else {
        return uri.to_owned();
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if names_requester(host, viewer) {
        format!("at://{}/{path}", viewer.did)
    } else {
        uri.to_owned()
    }
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
