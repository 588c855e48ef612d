//! `com.atproto.server.activateAccount`, `deactivateAccount` and `checkAccountStatus`: the owner
//! switches hosting of their account on and off here (for migrations), and asks how complete it is.
//! Status changes are announced on the firehose with an `#account` event (an account that moved
//! here is announced on activation with `#identity`, `#account` and `#sync`).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::auth::AccessAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::repo::writer::event_time;
use crate::storage::events::{self, account_event, EventKind};

/// Input of `deactivateAccount`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeactivateInput {
    /// When the account may be deleted, if it stays deactivated (a datetime).
    #[serde(default)]
    pub delete_after: Option<String>,
}

async fn announce(state: &AppState, did: &str, active: bool) -> Result<(), XrpcError> {
    let payload = account_event(
        did,
        active,
        (!active).then_some("deactivated"),
        &event_time(),
    );
    events::append(
        state.storage.connection(),
        did,
        EventKind::Account,
        &event_time(),
        &payload,
    )
    .await?;
    state.sequencer.wake();
    Ok(())
}

/// POST `com.atproto.server.activateAccount` (full-scope session). An account that moved here
/// signs a commit of its own first ([`crate::migration::activate`]).
pub async fn activate(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let did = crate::syntax::Did::parse(&auth.did).map_err(XrpcError::internal)?;
    crate::migration::activate(&state, &did).await?;
    Ok(Json(json!({})))
}

/// POST `com.atproto.server.deactivateAccount` (full-scope session).
pub async fn deactivate(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
    JsonBody(input): JsonBody<DeactivateInput>,
) -> Result<Json<Value>, XrpcError> {
    auth.require_full()?;
    let delete_after = match input.delete_after.as_deref() {
        None => None,
        Some(text) => Some(
            crate::syntax::parse_datetime(text)
                .map_err(|e| XrpcError::invalid_request(format!("deleteAfter: {e}")))?
                / 1_000_000,
        ),
    };
    let now = state.sessions.now();
    if state
        .accounts
        .deactivate(&auth.did, now, delete_after)
        .await?
    {
        announce(&state, &auth.did, false).await?;
    }
    Ok(Json(json!({})))
}

/// GET `com.atproto.server.checkAccountStatus`.
pub async fn check(
    State(state): State<AppState>,
    AccessAuth(auth): AccessAuth,
) -> Result<Json<Value>, XrpcError> {
    let account = state
        .accounts
        .account_by_did(&auth.did)
        .await?
        .ok_or_else(|| XrpcError::invalid_request("Account not found"))?;
    let head = state.repos.head(&auth.did).await?;
    let count = |sql: &'static str| {
        let state = state.clone();
        let did = auth.did.clone();
        async move {
            let mut rows = state
                .storage
                .connection()
                .query(sql, [did])
                .await
                .map_err(XrpcError::internal)?;
            match rows.next().await.map_err(XrpcError::internal)? {
                Some(row) => row.get::<i64>(0).map_err(XrpcError::internal),
                None => Ok(0),
            }
        }
    };
    let blocks = count("SELECT count(*) FROM repo_block WHERE did = ?1").await?;
    let records = count("SELECT count(*) FROM record WHERE did = ?1").await?;
    let expected_blobs =
        count("SELECT count(DISTINCT cid) FROM record_blob WHERE did = ?1").await?;
    let imported_blobs = count("SELECT count(*) FROM blob WHERE did = ?1").await?;
    let mut body = json!({
        "activated": account.is_active(),
        "validDid": true,
        "repoBlocks": blocks,
        "indexedRecords": records,
        "privateStateValues": 0,
        "expectedBlobs": expected_blobs,
        "importedBlobs": imported_blobs,
    });
    if let Some(head) = head {
        body["repoCommit"] = Value::from(head.commit.to_string());
        body["repoRev"] = Value::from(head.rev.to_string());
    }
    Ok(Json(body))
}
