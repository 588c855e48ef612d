//! `/.well-known/atproto-did`: the HTTPS proof that a handle under this server's domains belongs to
//! a DID. The handle is the request's host name.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::http::AppState;
use crate::syntax::Handle;

/// GET handler: the DID as plain text, or 404.
pub async fn handle(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "User not found").into_response();
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return not_found();
    };
    // Drop a port, if any.
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    let Ok(handle) = Handle::parse(name) else {
        return not_found();
    };
    match state.accounts.account_by_handle(handle.as_str()).await {
        Ok(Some(a)) if !a.is_taken_down() => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], a.did).into_response()
        }
        Ok(_) => not_found(),
        Err(e) => {
            log::error!("atproto-did lookup: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
    }
}
