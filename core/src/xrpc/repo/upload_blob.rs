//! `com.atproto.repo.uploadBlob`: stores the request body as a temporary blob of the caller and
//! describes it (`{blob: {$type: "blob", ref, mimeType, size}}`); a record must reference it within
//! the grace period or it is deleted.
//!
//! The body streams into the database a chunk at a time. As in the reference PDS: a body over
//! `PDS_BLOB_UPLOAD_LIMIT` (announced by `Content-Length` or found while reading) is 413
//! `PayloadTooLarge` and nothing is kept; `Content-Type` is required; the stored type is the one the
//! content is recognised as, else the declared one. Compressed bodies (`Content-Encoding`) are refused
//! with 415, where the reference would decompress them.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use crate::blobs::{mime, BlobError};
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, XrpcError> {
    auth.require_standard()?;
    let account = state
        .accounts
        .account_by_did(&auth.did)
        .await?
        .ok_or_else(|| {
            XrpcError::new(
                StatusCode::UNAUTHORIZED,
                "AuthenticationRequired",
                "Authentication Required",
            )
        })?;
    if account.is_taken_down() {
        return Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AccountTakedown",
            "Account has been taken down",
        ));
    }
    let declared = check_headers(&headers, state.blobs.upload_limit())?;
    if let Some(scope) = &auth.oauth {
        if !scope.allows_blob(&declared) {
            return Err(XrpcError::new(
                StatusCode::FORBIDDEN,
                "ScopeMissingError",
                format!("Missing required scope \"blob:{declared}\""),
            ));
        }
    }
    let conn = state.storage.connect().await?;
    let mut body = body.into_data_stream();
    let blob = state
        .blobs
        .upload(
            conn,
            state.storage.mode(),
            &account.did,
            &declared,
            &mut body,
        )
        .await?;
    Ok(Json(json!({
        "blob": {
            "$type": "blob",
            "ref": { "$link": blob.cid.to_string() },
            "mimeType": blob.mime_type,
            "size": blob.size,
        }
    })))
}

/// The declared type's essence, once the headers show a body that may be read: present, of a media
/// type, not compressed, and not announced as larger than `limit`.
fn check_headers(headers: &HeaderMap, limit: u64) -> Result<String, BlobError> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let length = headers.get(header::CONTENT_LENGTH);
    if length.is_none() && !headers.contains_key(header::TRANSFER_ENCODING) {
        return Err(BlobError::MissingBody);
    }
    let declared = text(header::CONTENT_TYPE)
        .and_then(mime::essence)
        .ok_or(BlobError::MissingContentType)?;
    if let Some(length) = length {
        let length: u64 = length
            .to_str()
            .ok()
            .and_then(|l| l.trim().parse().ok())
            .ok_or(BlobError::InvalidContentLength)?;
        if length > limit {
            return Err(BlobError::TooLarge);
        }
    }
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        let identity = encoding
            .to_str()
            .is_ok_and(|e| e.trim().eq_ignore_ascii_case("identity"));
        if !identity {
            return Err(BlobError::UnsupportedEncoding);
        }
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn a_plain_upload_passes_with_its_declared_essence() {
        let h = headers(&[("content-type", "Image/PNG; q=1"), ("content-length", "10")]);
        assert_eq!(check_headers(&h, 10).unwrap(), "image/png");
        let chunked = headers(&[
            ("content-type", "image/png"),
            ("transfer-encoding", "chunked"),
        ]);
        assert!(check_headers(&chunked, 10).is_ok());
    }

    #[test]
    fn bad_headers_are_refused_before_the_body_is_read() {
        let cases: [(&[(&'static str, &str)], &str); 6] = [
            (&[("content-type", "image/png")], "MissingBody"),
            (&[("content-length", "3")], "MissingContentType"),
            (
                &[("content-length", "3"), ("content-type", "png")],
                "MissingContentType",
            ),
            (
                &[("content-length", "x"), ("content-type", "a/b")],
                "InvalidContentLength",
            ),
            (
                &[("content-length", "11"), ("content-type", "a/b")],
                "TooLarge",
            ),
            (
                &[
                    ("content-length", "3"),
                    ("content-type", "a/b"),
                    ("content-encoding", "gzip"),
                ],
                "UnsupportedEncoding",
            ),
        ];
        for (pairs, expected) in cases {
            let err = check_headers(&headers(pairs), 10).unwrap_err();
            assert!(
                format!("{err:?}").starts_with(expected),
                "{pairs:?}: {err:?}"
            );
        }
    }
}
