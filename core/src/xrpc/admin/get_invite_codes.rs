//! `com.atproto.admin.getInviteCodes`: every invite code, newest first, page by page.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AdminAuth;
use crate::http::{AppState, XrpcError};
use crate::xrpc::repo::input::QueryInput;

/// The query parameters (`sort` is `recent`, the only order offered; `usage` is answered the same).
#[derive(Deserialize)]
pub struct Params {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    sort: Option<String>,
}

/// GET handler. The cursor is `<created_at>:<code>` of the last code of the previous page.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    QueryInput(params): QueryInput<Params>,
) -> Result<Json<Value>, XrpcError> {
    let limit = params.limit.unwrap_or(100).clamp(1, 500);
    let after = match params.cursor.as_deref() {
        Some(c) => {
            let (at, code) = c
                .split_once(':')
                .and_then(|(at, code)| Some((at.parse::<i64>().ok()?, code)))
                .ok_or_else(|| XrpcError::invalid_request("Malformed cursor"))?;
            Some((at, code))
        }
        None => None,
    };
    let codes = state.accounts.list_invite_codes(after, limit).await?;
    let cursor = (codes.len() == limit as usize)
        .then(|| codes.last().map(|c| format!("{}:{}", c.created_at, c.code)))
        .flatten();
    let mut views = Vec::with_capacity(codes.len());
    for code in &codes {
        views.push(crate::admin::invite_code_view(&state, code).await?);
    }
    let mut body = json!({ "codes": views });
    if let Some(cursor) = cursor {
        body["cursor"] = cursor.into();
    }
    Ok(Json(body))
}
