//! `com.atproto.server.updateEmail`: change the account's email (with the mailed code when the
//! current one is confirmed) and turn the emailed sign-in code on or off.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::email_code::{session_account, take_code};
use crate::auth::account::validate_email;
use crate::auth::AuthError;
use crate::http::auth::AccessAuth;
use crate::http::client_address::ClientAddress;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::storage::{AccountsError, TokenPurpose};

/// The input, per the Lexicon.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The new address (or the current one, to change only `emailAuthFactor`).
    pub email: String,
    /// Whether signing in needs a code mailed to the (confirmed) address.
    #[serde(default)]
    pub email_auth_factor: Option<bool>,
    /// The code from `requestEmailUpdate`, required when the current address is confirmed.
    #[serde(default)]
    pub token: Option<String>,
}

/// POST handler (account password sessions only): 400 `TokenRequired` without the code a confirmed
/// address needs; another account's address is 400 `InvalidRequest`.
pub async fn handle(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    AccessAuth(auth): AccessAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let email = input.email.trim();
    validate_email(email)?;
    let account = session_account(&state, &auth.did).await?;
    if account.email.is_some() && account.email_confirmed_at.is_some() {
        let Some(token) = input.token.as_deref().filter(|t| !t.trim().is_empty()) else {
            return Err(XrpcError::new(
                StatusCode::BAD_REQUEST,
                "TokenRequired",
                "confirmation token required",
            ));
        };
        state.route_limits.code_guess(client)?;
        take_code(&state, &account.did, TokenPurpose::UpdateEmail, token).await?;
    }
    let unchanged = account
        .email
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(email));
    if !unchanged {
        match state.accounts.update_email(&account.did, email).await {
            Ok(_) => {}
            Err(AccountsError::EmailTaken) => {
                return Err(XrpcError::invalid_request(
                    "This email address is already in use, please use a different one.",
                ))
            }
            Err(e) => return Err(AuthError::from(e).into()),
        }
    }
    if let Some(on) = input.email_auth_factor {
        if on && !(unchanged && account.email_confirmed_at.is_some()) {
            return Err(XrpcError::invalid_request(
                "Confirm the email address before using it to sign in",
            ));
        }
        state
            .accounts
            .set_email_auth_factor(&account.did, on)
            .await?;
    }
    Ok(Json(json!({})))
}
