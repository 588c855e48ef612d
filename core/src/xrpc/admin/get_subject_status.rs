//! `com.atproto.admin.getSubjectStatus`: whether an account (`did`), a record (`uri`) or a blob
//! (`did` and `blob`) is taken down.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::update_subject_status::Subject;
use super::AdminAuth;
use crate::http::{AppState, XrpcError};
use crate::xrpc::repo::input::QueryInput;

/// The query parameters.
#[derive(Deserialize)]
pub struct Params {
    #[serde(default)]
    did: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    blob: Option<String>,
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let subject = match (params.did, params.uri, params.blob) {
        (Some(did), None, Some(cid)) => Subject::Blob { did, cid },
        (_, Some(uri), None) => Subject::record(&uri, None)?,
        (Some(did), None, None) => Subject::Repo { did },
        _ => return Err(XrpcError::invalid_request("Give did, uri, or did and blob")),
    };
    let (takedown, deactivated) = subject.status(&state).await?;
    let mut body = json!({
        "subject": subject.to_json(),
        "takedown": match &takedown {
            Some(reference) => json!({ "applied": true, "ref": reference }),
            None => json!({ "applied": false }),
        },
    });
    if let Some(deactivated) = deactivated {
        body["deactivated"] = json!({ "applied": deactivated });
    }
    Ok(Json(body))
}
