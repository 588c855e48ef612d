//! `com.atproto.repo.importRepo`: an account moving here uploads its repository as a CAR. The body
//! streams through the CAR reader, bounded by [`MAX_IMPORT_BYTES`]; it is verified whole against the
//! account's DID document before anything is stored, then replaces the account's repository in one
//! transaction ([`crate::migration::import_repo`]). Only a deactivated account (one that is moving
//! here) can import; a retried import replaces the earlier one.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use crate::http::auth::AccessAuth;
use crate::http::body_reader::BodyReader;
use crate::http::{AppState, XrpcError};
use crate::migration::{import_repo, MAX_IMPORT_BYTES};
use crate::syntax::Did;

/// POST handler (the account password's session).
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if length > MAX_IMPORT_BYTES {
            return Err(XrpcError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                format!("Repository CAR exceeds the limit of {MAX_IMPORT_BYTES} bytes"),
            ));
        }
    }
    let did = Did::parse(&auth.did).map_err(XrpcError::internal)?;
    let summary = import_repo(&state, &did, BodyReader::new(body), MAX_IMPORT_BYTES).await?;
    Ok(Json(json!({
        "commit": summary.commit,
        "rev": summary.rev,
        "records": summary.records,
    })))
}
