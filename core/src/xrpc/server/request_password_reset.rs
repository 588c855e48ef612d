//! `com.atproto.server.requestPasswordReset`: mail a password reset code to an account's email.
//! The answer is the same whether the address belongs to an account or not (and then nothing is
//! mailed), so the method does not tell who has an account here.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::email_code::send_code;
use crate::http::client_address::ClientAddress;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::mail::message::CodeMail;
use crate::storage::TokenPurpose;

/// The input, per the Lexicon.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// The account's email.
    pub email: String,
}

/// POST handler (no session).
pub async fn handle(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    state.route_limits.email(client, None)?;
    let email = input.email.trim();
    if let Some(account) = state.accounts.account_by_email(email).await? {
        state.route_limits.email(client, Some(&account.did))?;
        send_code(
            &state,
            &account,
            None,
            TokenPurpose::ResetPassword,
            CodeMail::ResetPassword,
        )
        .await?;
    }
    Ok(Json(json!({})))
}
