//! `com.atproto.admin.sendEmail`: the operator's message to an account's email.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AdminAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};

/// The input (`senderDid` and `comment` are accepted and not kept).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Input {
    recipient_did: String,
    content: String,
    #[serde(default)]
    subject: Option<String>,
    sender_did: String,
    #[serde(default)]
    comment: Option<String>,
}

/// POST handler: `sent` is whether the message was handed to the mail transport.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    let sent = crate::admin::send_email(
        &state,
        &input.recipient_did,
        input.subject.as_deref(),
        &input.content,
    )
    .await?;
    Ok(Json(json!({ "sent": sent })))
}
