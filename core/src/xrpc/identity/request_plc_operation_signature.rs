//! `com.atproto.identity.requestPlcOperationSignature`: the owner asks for a one-time code that
//! `signPlcOperation` requires. The code is mailed like the email and password methods' codes
//! (SMTP in the daemon, the platform's mailer on a phone, the node's log without either).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::http::auth::AccessAuth;
use crate::http::client_address::ClientAddress;
use crate::http::{AppState, XrpcError};
use crate::mail::message::CodeMail;
use crate::storage::TokenPurpose;
use crate::xrpc::server::email_code::{send_code, session_account};

/// POST handler (the account password's session only).
pub async fn handle(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let account = session_account(&state, &auth.did).await?;
    state.route_limits.email(client, Some(&account.did))?;
    send_code(
        &state,
        &account,
        None,
        TokenPurpose::PlcOperation,
        CodeMail::PlcOperation,
    )
    .await?;
    Ok(Json(json!({})))
}
