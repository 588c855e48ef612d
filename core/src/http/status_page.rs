//! The small HTML page at `/`: what this node is and how it is doing, for a person with a browser.

use axum::extract::State;
use axum::response::Html;

use super::AppState;

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// GET `/`.
pub async fn status_page(State(state): State<AppState>) -> Html<String> {
    let c = &state.config;
    let stats = crate::storage::stats::stats(state.storage.connection()).await;
    let (accounts, last_commit, seq) = match stats {
        Ok(s) => (
            s.accounts.to_string(),
            s.last_commit
                .map(|l| format!("{} (rev {}, {})", l.time, l.rev, l.did))
                .unwrap_or_else(|| "none yet".to_owned()),
            s.last_seq.map_or_else(|| "0".to_owned(), |n| n.to_string()),
        ),
        Err(e) => {
            log::warn!("status page: reading the figures failed: {e}");
            let unknown = || "unavailable".to_owned();
            (unknown(), unknown(), unknown())
        }
    };
    let replication = state.storage.replication().status();
    let primary = match (&replication.primary, replication.reachable) {
        (None, _) => "none (local database)".to_owned(),
        (Some(_), true) => "reachable".to_owned(),
        (Some(_), false) => format!(
            "unreachable: {}",
            replication.last_error.clone().unwrap_or_default()
        ),
    };
    let position = replication
        .position
        .map_or_else(|| "none".to_owned(), |p| p.to_string());
    let lag = replication.lag_ms.map_or_else(
        || "not synced yet".to_owned(),
        |ms| format!("{ms} ms since the last catch-up"),
    );
    let nodes = crate::storage::cluster::list_nodes(state.storage.connection())
        .await
        .unwrap_or_default();
    let cluster: String = nodes
        .iter()
        .map(|n| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&n.id),
                esc(&n.public_url),
                esc(&n.mode),
                esc(&crate::syntax::format_datetime(n.last_seen * 1_000_000).unwrap_or_default())
            )
        })
        .collect();
    let rows = [
        ("Version", env!("CARGO_PKG_VERSION").to_string()),
        ("Node", c.node_id.clone()),
        ("Public URL", c.public_url.clone()),
        ("Service DID", c.service_did()),
        ("Storage", c.storage_mode().to_string()),
        ("Primary", primary),
        ("Replication position", position),
        ("Replication lag", lag),
        ("Accounts", accounts),
        ("Last commit", last_commit),
        ("Event sequence", seq),
        (
            "Up since",
            crate::syntax::format_datetime(state.started_at_micros).unwrap_or_default(),
        ),
    ];
    let table: String = rows
        .iter()
        .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v)))
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>PocketPDS</title><style>body{{font-family:system-ui,sans-serif;margin:2rem;}}\
         th{{text-align:left;padding-right:1rem;}}</style></head><body>\
         <h1>PocketPDS</h1><p>An AT Protocol Personal Data Server.</p>\
         <table id=\"status\">{table}</table><h2>Cluster</h2>\
         <table id=\"cluster\"><tr><th>Node</th><th>URL</th><th>Mode</th><th>Last seen</th></tr>\
         {cluster}</table></body></html>"
    ))
}
