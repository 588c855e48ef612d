//! `com.atproto.server.requestEmailUpdate`: before changing a confirmed email, mail a code to it.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::email_code::{send_code, session_account};
use crate::http::auth::AccessAuth;
use crate::http::client_address::ClientAddress;
use crate::http::{AppState, XrpcError};
use crate::mail::message::CodeMail;
use crate::storage::TokenPurpose;

/// POST handler (account password sessions only): `tokenRequired` is true, and a code is mailed to
/// the current address, when that address is confirmed.
pub async fn handle(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let account = session_account(&state, &auth.did).await?;
    let token_required = account.email.is_some() && account.email_confirmed_at.is_some();
    if token_required {
        state.route_limits.email(client, Some(&account.did))?;
        send_code(
            &state,
            &account,
            None,
            TokenPurpose::UpdateEmail,
            CodeMail::UpdateEmail,
        )
        .await?;
    }
    Ok(Json(json!({ "tokenRequired": token_required })))
}
