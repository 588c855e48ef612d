//! `com.atproto.server.describeServer`: how accounts can be made on this server.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::http::AppState;

/// GET handler.
pub async fn handle(State(state): State<AppState>) -> Json<Value> {
    let c = &state.config;
    Json(json!({
        "did": c.service_did(),
        "availableUserDomains": c.service_handle_domains,
        "inviteCodeRequired": c.invite_required,
        "phoneVerificationRequired": false,
        "links": {},
        "contact": {},
    }))
}
