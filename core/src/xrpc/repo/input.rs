//! Reading XRPC input: a JSON body and query parameters whose rejections become XRPC errors (400
//! `InvalidRequest`, 413 `PayloadTooLarge`), and the syntax checks of the parameters the
//! `com.atproto.repo.*` and `com.atproto.sync.*` methods share.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;

use crate::http::XrpcError;
use crate::repo::cid::{cid_from_str, Cid};
use crate::syntax::{AtIdentifier, Did, Nsid, RecordKey};

/// The largest request body the record methods accept (1 MiB), as a body limit layer.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// A JSON request body; a malformed body, a wrong content type or a body of the wrong shape is 400
/// `InvalidRequest`, a body over the route's limit 413 `PayloadTooLarge`.
pub struct JsonInput<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonInput<T> {
    type Rejection = XrpcError;

    async fn from_request(req: Request, state: &S) -> Result<Self, XrpcError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(JsonInput(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> XrpcError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return XrpcError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            "request entity too large",
        );
    }
    XrpcError::invalid_request(rejection.body_text())
}

/// Query parameters; ones that do not parse (a missing required one, a number that is not one) are
/// 400 `InvalidRequest`.
pub struct QueryInput<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryInput<T> {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, XrpcError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(QueryInput(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> XrpcError {
    XrpcError::invalid_request(rejection.body_text())
}

/// A `repo` parameter: a DID or a handle.
pub fn at_identifier(name: &str, value: &str) -> Result<AtIdentifier, XrpcError> {
    AtIdentifier::parse(value).map_err(|e| {
        XrpcError::invalid_request(format!("{name} must be a valid did or a handle: {e}"))
    })
}

/// A `did` parameter.
pub fn did(name: &str, value: &str) -> Result<Did, XrpcError> {
    Did::parse(value)
        .map_err(|e| XrpcError::invalid_request(format!("{name} must be a valid did: {e}")))
}

/// A `collection` parameter.
pub fn nsid(name: &str, value: &str) -> Result<Nsid, XrpcError> {
    Nsid::parse(value)
        .map_err(|e| XrpcError::invalid_request(format!("{name} must be a valid nsid: {e}")))
}

/// An `rkey` parameter.
pub fn record_key(name: &str, value: &str) -> Result<RecordKey, XrpcError> {
    RecordKey::parse(value)
        .map_err(|e| XrpcError::invalid_request(format!("{name} must be a valid record-key: {e}")))
}

/// A `cid`, `swapRecord` or `swapCommit` parameter.
pub fn cid(name: &str, value: &str) -> Result<Cid, XrpcError> {
    cid_from_str(value)
        .map_err(|e| XrpcError::invalid_request(format!("{name} must be a cid string: {e}")))
}

/// An optional CID parameter.
pub fn optional_cid(name: &str, value: Option<&str>) -> Result<Option<Cid>, XrpcError> {
    value.map(|v| cid(name, v)).transpose()
}

/// A `limit` parameter: `default` when absent, else within `min..=max`.
pub fn limit(value: Option<i64>, min: i64, max: i64, default: i64) -> Result<usize, XrpcError> {
    let v = value.unwrap_or(default);
    if v < min {
        return Err(XrpcError::invalid_request(format!(
            "limit can not be less than {min}"
        )));
    }
    if v > max {
        return Err(XrpcError::invalid_request(format!(
            "limit can not be greater than {max}"
        )));
    }
    usize::try_from(v).map_err(|_| XrpcError::invalid_request("limit out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_their_range_are_refused() {
        assert_eq!(limit(None, 1, 100, 50).unwrap(), 50);
        assert_eq!(limit(Some(100), 1, 100, 50).unwrap(), 100);
        assert_eq!(
            limit(Some(0), 1, 100, 50).unwrap_err().error,
            "InvalidRequest"
        );
        assert_eq!(
            limit(Some(101), 1, 100, 50).unwrap_err().error,
            "InvalidRequest"
        );
        assert!(limit(Some(i64::MIN), 1, 100, 50).is_err());
    }

    #[test]
    fn malformed_identifiers_are_invalid_requests() {
        assert!(nsid("collection", "not an nsid").is_err());
        assert!(record_key("rkey", "..").is_err());
        assert!(record_key("rkey", "a/b").is_err());
        assert!(did("did", "did:nope").is_err());
        assert!(at_identifier("repo", "bad handle!").is_err());
        assert!(cid("cid", "bafy-not").is_err());
        assert!(nsid("collection", "app.bsky.feed.post").is_ok());
    }
}
