//! `com.atproto.temp.checkSignupQueue`: this server has no signup queue, so every account is
//! activated at once.

use axum::Json;
use serde_json::{json, Value};

use crate::http::auth::AccessAuth;

/// GET handler (any session).
pub async fn handle(AccessAuth(_): AccessAuth) -> Json<Value> {
    Json(json!({ "activated": true }))
}
