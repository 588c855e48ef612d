//! XRPC errors as the wire shows them: `{"error": Name, "message": text}` with an HTTP status. Every
//! layer's error converts into [`XrpcError`] once, here at the edge.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An XRPC error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrpcError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The Lexicon error name (`InvalidRequest`, `RecordNotFound`, ...).
    pub error: String,
    /// A human-readable explanation.
    pub message: String,
    /// Headers the response carries besides the body's (the `RateLimit-*` of a refusal).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl XrpcError {
    /// An error with any status and name.
    pub fn new(status: StatusCode, error: impl Into<String>, message: impl Into<String>) -> Self {
        XrpcError {
            status,
            error: error.into(),
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// 429 `RateLimitExceeded` with the limit's `RateLimit-*` headers.
    pub fn rate_limited(limit: &crate::auth::RateLimit) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
        );
        for (name, value) in limit.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                error.headers.push((HeaderName::from_static(name), value));
            }
        }
        error
    }

    /// 400 `InvalidRequest`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    /// 501 `MethodNotImplemented`.
    pub fn method_not_implemented(method: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "MethodNotImplemented",
            format!("Method not implemented: {method}"),
        )
    }

    /// 404 `NotFound` for paths outside XRPC.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("Not found: {path}"),
        )
    }

    /// 500 `InternalServerError`; the detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        log::error!("internal error: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Internal Server Error",
        )
    }
}

impl IntoResponse for XrpcError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.error, "message": self.message });
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        response
    }
}

impl From<crate::storage::StorageError> for XrpcError {
    fn from(e: crate::storage::StorageError) -> Self {
        use crate::storage::StorageError;
        match e {
            StorageError::PrimaryUnavailable(message) => XrpcError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "PrimaryUnavailable",
                message,
            ),
            StorageError::PrimaryReplaced(message) => {
                XrpcError::new(StatusCode::SERVICE_UNAVAILABLE, "PrimaryReplaced", message)
            }
            other => XrpcError::internal(other),
        }
    }
}

impl From<crate::auth::AuthError> for XrpcError {
    fn from(e: crate::auth::AuthError) -> Self {
        if let crate::auth::AuthError::RateLimited(limit) = &e {
            return XrpcError::rate_limited(limit);
        }
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        if status.is_server_error() {
            return XrpcError::internal(e);
        }
        XrpcError::new(status, e.xrpc_name(), e.xrpc_message())
    }
}

impl From<crate::auth::RateLimit> for XrpcError {
    fn from(limit: crate::auth::RateLimit) -> Self {
        XrpcError::rate_limited(&limit)
    }
}

impl From<crate::auth::service_jwt::ServiceAuthError> for XrpcError {
    fn from(e: crate::auth::service_jwt::ServiceAuthError) -> Self {
        XrpcError::new(StatusCode::BAD_REQUEST, "BadExpiration", e.to_string())
    }
}

impl From<crate::repo::writer::WriteError> for XrpcError {
    fn from(e: crate::repo::writer::WriteError) -> Self {
        use crate::repo::writer::WriteError;
        match &e {
            WriteError::Unavailable(message) => {
                return XrpcError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "PrimaryUnavailable",
                    message.clone(),
                )
            }
            WriteError::Contention { .. } => {
                return XrpcError::new(StatusCode::SERVICE_UNAVAILABLE, "RepoBusy", e.to_string())
            }
            _ => {}
        }
        if !e.is_client_error() {
            return XrpcError::internal(e);
        }
        let name = match &e {
            WriteError::InvalidSwap { .. } => "InvalidSwap",
            WriteError::RepoNotFound(_) => "RepoNotFound",
            _ => "InvalidRequest",
        };
        XrpcError::new(StatusCode::BAD_REQUEST, name, e.to_string())
    }
}

impl From<crate::lexicon::RecordError> for XrpcError {
    fn from(e: crate::lexicon::RecordError) -> Self {
        match e {
            crate::lexicon::RecordError::Unavailable(_) => XrpcError::internal(e),
            other => XrpcError::invalid_request(other.to_string()),
        }
    }
}

impl From<crate::blobs::BlobError> for XrpcError {
    fn from(e: crate::blobs::BlobError) -> Self {
        use crate::blobs::BlobError;
        let (status, name) = match &e {
            BlobError::Storage(_) => return XrpcError::internal(e),
            BlobError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
            BlobError::UnsupportedEncoding => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType")
            }
            BlobError::NotFound(_) => (StatusCode::BAD_REQUEST, "BlobNotFound"),
            BlobError::MimeMismatch { .. } => (StatusCode::BAD_REQUEST, "InvalidMimeType"),
            BlobError::SizeMismatch { .. } => (StatusCode::BAD_REQUEST, "InvalidSize"),
            BlobError::MissingContentType
            | BlobError::MissingBody
            | BlobError::InvalidContentLength
            | BlobError::Body(_)
            | BlobError::ContentMismatch { .. }
            | BlobError::Expired => (StatusCode::BAD_REQUEST, "InvalidRequest"),
        };
        XrpcError::new(status, name, e.to_string())
    }
}

impl From<crate::migration::ImportError> for XrpcError {
    fn from(e: crate::migration::ImportError) -> Self {
        use crate::migration::ImportError;
        let (status, name) = match &e {
            ImportError::Storage(_) => return XrpcError::internal(e),
            ImportError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
            ImportError::AccountNotFound(_) => (StatusCode::BAD_REQUEST, "AccountNotFound"),
            ImportError::AccountActive(_)
            | ImportError::Identity { .. }
            | ImportError::Invalid(_) => (StatusCode::BAD_REQUEST, "InvalidRequest"),
        };
        XrpcError::new(status, name, e.to_string())
    }
}

impl From<crate::migration::ActivateError> for XrpcError {
    fn from(e: crate::migration::ActivateError) -> Self {
        use crate::migration::ActivateError;
        match e {
            ActivateError::AccountNotFound(_) => {
                XrpcError::new(StatusCode::BAD_REQUEST, "AccountNotFound", e.to_string())
            }
            ActivateError::IncompatibleDidDoc(_) => {
                XrpcError::new(StatusCode::BAD_REQUEST, "InvalidRequest", e.to_string())
            }
            ActivateError::Write(e) => e.into(),
            ActivateError::Storage(e) => e.into(),
        }
    }
}
