//! `pocketpds status`: the configuration this environment gives, then what the node serving it
//! reports (`dev.pocketpds.node.getStatus` on its own port): storage mode, primary reachability,
//! replication position and lag, and the cluster's nodes.

use std::time::Duration;

use pocketpds_core::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Prints the status; fails only when the environment's configuration is unusable.
pub async fn run(config: &Config) -> Result<(), String> {
    println!("node:        {}", config.node_id);
    println!("public url:  {}", config.public_url);
    println!("listen:      {}:{}", config.bind, config.port);
    println!("storage:     {}", config.storage_mode());
    match &config.database_url {
        Some(url) if config.storage_mode() != "local" => println!("primary:     {url}"),
        _ => {}
    }
    println!("database:    {}", config.database_path().display());
    println!("plc:         {}", config.did_plc_url);
    match config.dns_resolver {
        Some(server) => println!("dns:         {server}"),
        None => println!("dns:         system configuration"),
    }
    match fetch(config).await {
        Ok(status) => print_running(&status),
        Err(why) => println!(
            "running:     no node answers on port {} ({why})",
            config.port
        ),
    }
    Ok(())
}

fn print_running(s: &serde_json::Value) {
    let text = |key: &str| match &s[key] {
        serde_json::Value::Null => "none".to_owned(),
        serde_json::Value::String(v) => v.clone(),
        other => other.to_string(),
    };
    println!("running:     yes (version {})", text("version"));
    println!("accounts:    {}", text("accounts"));
    if text("storageMode") != "local" {
        let reachable = if s["primaryReachable"].as_bool() == Some(true) {
            "reachable".to_owned()
        } else {
            format!("UNREACHABLE: {}", text("lastError"))
        };
        println!("primary:     {reachable}");
        println!("position:    {}", text("replicationPosition"));
        println!("lag:         {} ms", text("lagMs"));
        println!("sync paused: {}", text("syncPaused"));
    }
    println!("cluster:");
    for node in s["nodes"].as_array().into_iter().flatten() {
        let field = |k: &str| node[k].as_str().unwrap_or("?").to_owned();
        println!(
            "  {:<24} {:<8} {:<32} last seen {}",
            field("id"),
            field("mode"),
            field("publicUrl"),
            field("lastSeen")
        );
    }
}

/// GETs the status from the node listening on this configuration's port, on loopback.
async fn fetch(config: &Config) -> Result<serde_json::Value, String> {
    let host = if config.bind.is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        config.bind.to_string()
    };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((host.as_str(), config.port))
            .await
            .map_err(|e| e.to_string())?;
        let request = format!(
            "GET /xrpc/dev.pocketpds.node.getStatus HTTP/1.1\r\nHost: {host}:{}\r\n\
             Connection: close\r\n\r\n",
            config.port
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut response = Vec::new();
        stream
            .take(1 << 20)
            .read_to_end(&mut response)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(3), exchange)
        .await
        .map_err(|_| "no answer within 3 s".to_owned())??;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "not an HTTP answer".to_owned())?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(head.lines().next().unwrap_or_default().to_owned());
    }
    serde_json::from_str(body).map_err(|e| format!("not a PocketPDS status: {e}"))
}
