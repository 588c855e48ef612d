//! `com.atproto.identity.getRecommendedDidCredentials`: what the account's DID should state for this
//! server to host it — this server's PLC rotation key, the account's handle, its repository signing
//! key and this server's public URL as its PDS. An account moving here gives these to its old host
//! to sign into a PLC operation. A did:web account gets no rotation keys: its owner puts the rest
//! into the `did.json` on their domain, and `activateAccount` checks it is there.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::AuthError;
use crate::http::auth::AccessAuth;
use crate::http::{AppState, XrpcError};

/// GET handler (any access token of the account).
pub async fn handle(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    let account = state
        .accounts
        .account_by_did(&auth.did)
        .await?
        .ok_or(AuthError::AccountNotFound)?;
    let key = state
        .accounts
        .signing_key(&auth.did)
        .await?
        .ok_or(AuthError::AccountNotFound)?;
    let mut credentials = json!({
        "alsoKnownAs": [format!("at://{}", account.handle)],
        "verificationMethods": { "atproto": key.public_key().to_did_key() },
        "services": {
            "atproto_pds": {
                "type": "AtprotoPersonalDataServer",
                "endpoint": state.config.public_url,
            }
        },
    });
    // A did:web document has no rotation keys: its owner edits it on their domain.
    if auth.did.starts_with("did:plc:") {
        credentials["rotationKeys"] = json!([state.plc_rotation_key.public_key().to_did_key()]);
    }
    Ok(Json(credentials))
}
