//! `com.atproto.server.createSession`: log in with a handle, email or DID and the account password
//! or an app password, and receive a legacy session (access and refresh JWTs).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::account_fields;
use super::email_code::{send_code, take_code};
use crate::auth::{login, AuthError, LoginLimits};
use crate::http::client_address::ClientAddress;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::mail::message::CodeMail;
use crate::storage::TokenPurpose;

/// The input, per the Lexicon.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// A handle, an email address or a DID.
    pub identifier: String,
    /// The account password or an app password.
    pub password: String,
    /// The code mailed when the account uses its email as a second factor.
    #[serde(default)]
    pub auth_factor_token: Option<String>,
    /// Whether a taken-down account may still open a (restricted) session.
    #[serde(default)]
    pub allow_takendown: Option<bool>,
}

/// POST handler. A wrong identifier or password is 401 `AuthenticationRequired`, too many of them
/// 429 `RateLimitExceeded` ([`crate::auth::throttle`]); a taken-down
/// account is 401 `AccountTakedown` unless `allowTakendown` is set. App-password logins get the
/// app-password scope.
pub async fn handle(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    let limits = LoginLimits::from_config(&state.config);
    let found = login(
        &state.accounts,
        &limits,
        client,
        &input.identifier,
        &input.password,
    )
    .await?;
    if found.account.is_taken_down() && input.allow_takendown != Some(true) {
        return Err(AuthError::AccountTakedown.into());
    }
    let second_factor = found.account.email_auth_factor
        && found.account.email_confirmed_at.is_some()
        && found.app_password.is_none();
    if second_factor {
        match input.auth_factor_token.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => {
                state.route_limits.code_guess(client)?;
                take_code(&state, &found.account.did, TokenPurpose::SignIn, code).await?;
            }
            _ => {
                state.route_limits.email(client, Some(&found.account.did))?;
                send_code(
                    &state,
                    &found.account,
                    None,
                    TokenPurpose::SignIn,
                    CodeMail::SignIn,
                )
                .await?;
                return Err(AuthError::AuthFactorTokenRequired.into());
            }
        }
    }
    let session = state
        .sessions
        .create_session(&found.account, found.app_password.as_ref())
        .await?;
    let mut body = account_fields(&found.account);
    body.insert("accessJwt".into(), Value::from(session.access_jwt));
    body.insert("refreshJwt".into(), Value::from(session.refresh_jwt));
    Ok(Json(Value::Object(body)))
}
