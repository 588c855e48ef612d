//! The HTTP endpoints of the authorization server, one file each: the metadata documents
//! ([`metadata`]), pushed authorization requests ([`par`]), the login and consent page
//! ([`authorize`], rendered by [`page`]), the token endpoint ([`token`]), revocation ([`revoke`]),
//! and the account owner's list of sessions ([`sessions`]). [`crate::http`] routes to them.

pub mod authorize;
pub mod metadata;
pub mod page;
pub mod par;
pub mod revoke;
pub mod sessions;
pub mod token;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::form::Params;
use super::OAuthError;

/// Reads a form body.
pub(crate) fn form(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    Params::from_body(content_type, body)
}

/// A JSON answer that must not be cached.
pub(crate) fn no_store_json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The value of cookie `name`, if the request carries it once.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
