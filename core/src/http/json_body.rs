//! [`JsonBody`]: the JSON input of an XRPC procedure, read with a size limit and parsed into an
//! explicit struct, with every refusal (no body, wrong content type, too large, malformed JSON,
//! missing or mistyped fields) answered as an XRPC error instead of axum's plain-text rejections.

use axum::body::{Body, HttpBody};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::XrpcError;

/// The largest JSON input accepted, in bytes (1 MiB).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// A procedure's JSON input, deserialized into `T`.
///
/// The request must say `Content-Type: application/json` (parameters such as `charset` are
/// allowed) and carry at most [`MAX_JSON_BODY`] bytes. Fields the struct does not name are ignored,
/// as Lexicon objects allow.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = XrpcError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, XrpcError> {
        let (parts, body) = req.into_parts();
        check_content_type(&parts.headers, declared_length(&parts.headers))?;
        let bytes = read_limited(body, MAX_JSON_BODY).await?;
        if bytes.is_empty() {
            return Err(no_body());
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// The `Content-Length` the client declared, if it declared a readable one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse().ok())
}

/// Refuses a request whose body is not declared as JSON, or which has no body at all.
fn check_content_type(headers: &HeaderMap, length: Option<u64>) -> Result<(), XrpcError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        let chunked = headers.contains_key(header::TRANSFER_ENCODING);
        return Err(if length.unwrap_or(0) == 0 && !chunked {
            no_body()
        } else {
            XrpcError::invalid_request("Request encoding (Content-Type) required but not provided")
        });
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(XrpcError::invalid_request(format!(
            "Wrong request encoding (Content-Type): {}",
            text.chars().take(100).collect::<String>()
        )))
    }
}

fn no_body() -> XrpcError {
    XrpcError::invalid_request("A request body is expected but none was provided")
}

fn too_large(limit: usize) -> XrpcError {
    XrpcError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PayloadTooLarge",
        format!("Request body is larger than {limit} bytes"),
    )
}

/// Reads the whole body, refusing it as soon as it passes `limit` bytes (whatever its declared
/// length says), so a hostile client cannot make the server buffer more.
async fn read_limited(mut body: Body, limit: usize) -> Result<Vec<u8>, XrpcError> {
    if body
        .size_hint()
        .exact()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large(limit));
    }
    let mut bytes = Vec::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame
            .map_err(|err| XrpcError::invalid_request(format!("Could not read the body: {err}")))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len().saturating_add(data.len()) > limit {
                return Err(too_large(limit));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// Parses the input, telling malformed JSON apart from JSON of the wrong shape.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, XrpcError> {
    serde_json::from_slice(bytes).map_err(|err| {
        use serde_json::error::Category;
        match err.classify() {
            Category::Data => XrpcError::invalid_request(format!("Invalid input: {err}")),
            Category::Syntax | Category::Eof | Category::Io => {
                XrpcError::invalid_request(format!("Malformed JSON body: {err}"))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Input {
        name: String,
    }

    fn headers(content_type: Option<&'static str>, length: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        if let Some(ct) = content_type {
            map.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        map.insert(header::CONTENT_LENGTH, HeaderValue::from_static(length));
        map
    }

    #[test]
    fn json_content_types_with_parameters_are_accepted() {
        for ct in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
        ] {
            assert!(check_content_type(&headers(Some(ct), "2"), Some(2)).is_ok());
        }
    }

    #[test]
    fn other_or_missing_content_types_are_invalid_requests() {
        let wrong = check_content_type(&headers(Some("text/plain"), "2"), Some(2)).unwrap_err();
        assert_eq!(wrong.error, "InvalidRequest");
        assert!(wrong.message.contains("text/plain"));
        let missing = check_content_type(&headers(None, "2"), Some(2)).unwrap_err();
        assert!(missing.message.contains("required"));
        let empty = check_content_type(&headers(None, "0"), Some(0)).unwrap_err();
        assert!(empty.message.contains("none was provided"));
    }

    #[test]
    fn malformed_and_misshapen_inputs_say_which() {
        let malformed = parse_json::<Input>(b"{\"name\":").unwrap_err();
        assert!(malformed.message.starts_with("Malformed JSON"));
        let missing = parse_json::<Input>(b"{}").unwrap_err();
        assert!(missing.message.contains("missing field `name`"));
        let wrong_type = parse_json::<Input>(b"{\"name\":1}").unwrap_err();
        assert!(wrong_type.message.starts_with("Invalid input"));
        let not_object = parse_json::<Input>(b"[]").unwrap_err();
        assert_eq!(not_object.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn extra_fields_are_ignored() {
        let input = parse_json::<Input>(b"{\"name\":\"a\",\"other\":[1,2]}").unwrap();
        assert_eq!(input.name, "a");
    }

    #[tokio::test]
    async fn bodies_past_the_limit_are_refused() {
        let ok = read_limited(Body::from(vec![b'x'; 1000]), 1000)
            .await
            .unwrap();
        assert_eq!(ok.len(), 1000);
        let err = read_limited(Body::from(vec![b'x'; 1001]), 1000)
            .await
            .unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(err.error, "PayloadTooLarge");
    }
}
