//! `com.atproto.repo.importRepo`: an account moving here uploads its repository as a CAR. The body
//! streams through the CAR reader into the account's import staging, bounded by
//! `PDS_MAX_IMPORT_BYTES`; it is verified whole against the account's DID document before anything
//! becomes visible, then replaces the account's repository in one transactional batch
//! ([`crate::migration::import_repo`]). Only a deactivated account (one that is moving here) can
//! import. A retry after a broken-off transfer sends the whole CAR again; the blocks the earlier
//! attempt staged are not written again (the answer's `blocksReused` counts them). A retried import
//! that succeeds replaces the earlier one.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use crate::http::auth::AccessAuth;
use crate::http::body_reader::BodyReader;
use crate::http::{AppState, XrpcError};
use crate::migration::import_repo;
use crate::syntax::Did;

/// POST handler (the account password's session).
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let limit = state.config.max_import_bytes;
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if length > limit {
            return Err(XrpcError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                format!("Repository CAR exceeds the limit of {limit} bytes"),
            ));
        }
    }
    let did = Did::parse(&auth.did).map_err(XrpcError::internal)?;
    let summary = import_repo(&state, &did, BodyReader::new(body), limit, None).await?;
    Ok(Json(json!({
        "commit": summary.commit,
        "rev": summary.rev,
        "records": summary.records,
        "blocksStored": summary.staged.stored,
        "blocksReused": summary.staged.reused,
    })))
}
