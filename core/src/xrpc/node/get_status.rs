//! `dev.pocketpds.node.getStatus`: the node's storage mode, whether its primary is reachable, its
//! replication position and lag, and the nodes of its cluster. It reads the local replica only, so
//! it answers while the primary is away. The primary's URL is not shown (the operator has it in the
//! node's configuration).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::http::{AppState, XrpcError};

/// GET `/xrpc/dev.pocketpds.node.getStatus`.
pub async fn handle(State(state): State<AppState>) -> Result<Json<Value>, XrpcError> {
    let report = crate::admin::status(&state).await.map_err(|e| match e {
        crate::admin::AdminError::Storage(err) => XrpcError::from(err),
        other => XrpcError::internal(other),
    })?;
    let r = &report.replication;
    let nodes: Vec<Value> = report
        .nodes
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "publicUrl": n.public_url,
                "mode": n.mode,
                "version": n.version,
                "startedAt": crate::syntax::format_datetime(n.started_at * 1_000_000).unwrap_or_default(),
                "lastSeen": crate::syntax::format_datetime(n.last_seen * 1_000_000).unwrap_or_default(),
            })
        })
        .collect();
    Ok(Json(json!({
        "nodeId": report.node_id,
        "publicUrl": report.public_url,
        "version": env!("CARGO_PKG_VERSION"),
        "storageMode": report.storage_mode,
        "schemaVersion": report.schema_version,
        "accounts": report.accounts,
        "primaryReachable": r.reachable,
        "lastError": r.last_error,
        "replicationPosition": r.position,
        "lagMs": r.lag_ms,
        "syncPaused": r.paused,
        "diverged": r.diverged,
        "nodes": nodes,
    })))
}
