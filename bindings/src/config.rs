//! [`NodeConfig`]: the node's configuration as the apps give it — the same settings as the daemon's
//! `PDS_*` environment, validated by the very same code (`Config::from_vars`), so a value the
//! daemon refuses is refused here with the same message.

use std::collections::HashMap;
use std::path::PathBuf;

use pocketpds_core::config::Config;

use crate::error::PdsError;

/// A node's configuration. Only `data_directory` is required; every other field defaults as its
/// `PDS_*` variable does.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct NodeConfig {
    /// Where the database lives (`PDS_DATA_DIRECTORY`): the app's private files folder.
    pub data_directory: String,
    /// `PDS_HOSTNAME` (default `localhost`).
    #[uniffi(default)]
    pub hostname: Option<String>,
    /// `PDS_PORT` (default 2583; 0 picks a free port).
    #[uniffi(default)]
    pub port: Option<u16>,
    /// `PDS_BIND` (default `127.0.0.1`).
    #[uniffi(default)]
    pub bind: Option<String>,
    /// `PDS_PUBLIC_URL`.
    #[uniffi(default)]
    pub public_url: Option<String>,
    /// `PDS_DATABASE_URL`: the primary of a cluster; none keeps everything in the local file.
    #[uniffi(default)]
    pub database_url: Option<String>,
    /// `PDS_DATABASE_AUTH_TOKEN`.
    #[uniffi(default)]
    pub database_auth_token: Option<String>,
    /// `PDS_SYNC_INTERVAL_MS`.
    #[uniffi(default)]
    pub sync_interval_ms: Option<u64>,
    /// `PDS_DATABASE_MODE`: `local`, `replica` (the default with a `database_url`) or `remote`.
    #[uniffi(default)]
    pub database_mode: Option<String>,
    /// `PDS_NODE_ID`.
    #[uniffi(default)]
    pub node_id: Option<String>,
    /// `PDS_JWT_SECRET`.
    #[uniffi(default)]
    pub jwt_secret: Option<String>,
    /// `PDS_DPOP_SECRET` (64 hex characters).
    #[uniffi(default)]
    pub dpop_secret: Option<String>,
    /// `PDS_ADMIN_PASSWORD`.
    #[uniffi(default)]
    pub admin_password: Option<String>,
    /// `PDS_DID_PLC_URL`.
    #[uniffi(default)]
    pub did_plc_url: Option<String>,
    /// `PDS_SERVICE_HANDLE_DOMAINS` (each starting with a dot).
    #[uniffi(default)]
    pub service_handle_domains: Vec<String>,
    /// `PDS_INVITE_REQUIRED`.
    #[uniffi(default)]
    pub invite_required: Option<bool>,
    /// `PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX`.
    #[uniffi(default)]
    pub plc_rotation_key_k256_private_key_hex: Option<String>,
    /// `PDS_BSKY_APP_VIEW_URL`.
    #[uniffi(default)]
    pub bsky_app_view_url: Option<String>,
    /// `PDS_BSKY_APP_VIEW_DID`.
    #[uniffi(default)]
    pub bsky_app_view_did: Option<String>,
    /// `PDS_BLOB_UPLOAD_LIMIT` in bytes.
    #[uniffi(default)]
    pub blob_upload_limit: Option<u64>,
    /// `PDS_CRAWLERS`.
    #[uniffi(default)]
    pub crawlers: Vec<String>,
    /// `PDS_DEV_MODE`: plain-http and localhost URLs allowed.
    #[uniffi(default)]
    pub dev_mode: Option<bool>,
    /// `PDS_REPORT_SERVICE_URL`: where `com.atproto.moderation.createReport` is forwarded.
    #[uniffi(default)]
    pub report_service_url: Option<String>,
    /// `PDS_REPORT_SERVICE_DID`.
    #[uniffi(default)]
    pub report_service_did: Option<String>,
    /// `PDS_HTTP_HEADER_TIMEOUT_SECONDS`: time to deliver a request head (and the idle keep-alive
    /// timeout).
    #[uniffi(default)]
    pub http_header_timeout_seconds: Option<u64>,
    /// `PDS_HTTP_MAX_CONNECTIONS`: connections served at once.
    #[uniffi(default)]
    pub http_max_connections: Option<u64>,
    /// `PDS_HTTP_BODY_TIMEOUT_SECONDS`: time a request body has once its head is in.
    #[uniffi(default)]
    pub http_body_timeout_seconds: Option<u64>,
    /// `PDS_HTTP_BODY_MIN_BYTES_PER_SECOND`: bytes of a body that extend its time by a second.
    #[uniffi(default)]
    pub http_body_min_bytes_per_second: Option<u64>,
    /// `PDS_LOGIN_WINDOW_SECONDS`: length of a login throttling window.
    #[uniffi(default)]
    pub login_window_seconds: Option<u64>,
    /// `PDS_LOGIN_MAX_FAILURES_PER_ACCOUNT`.
    #[uniffi(default)]
    pub login_max_failures_per_account: Option<u64>,
    /// `PDS_LOGIN_MAX_FAILURES_PER_ADDRESS`.
    #[uniffi(default)]
    pub login_max_failures_per_address: Option<u64>,
}

impl NodeConfig {
    /// The core configuration, validated as the daemon validates its environment.
    pub fn to_core(&self) -> Result<Config, PdsError> {
        if self.data_directory.trim().is_empty() {
            return Err(PdsError::Config {
                reason: "PDS_DATA_DIRECTORY: data_directory is required".into(),
            });
        }
        let vars = self.to_vars();
        let mut config = Config::from_vars(|name| vars.get(name).cloned())?;
        config.data_directory = PathBuf::from(&self.data_directory);
        Ok(config)
    }

    /// The configuration as `PDS_*` variables.
    fn to_vars(&self) -> HashMap<&'static str, String> {
        let mut vars = HashMap::new();
        let mut set = |name: &'static str, value: Option<String>| {
            if let Some(value) = value {
                vars.insert(name, value);
            }
        };
        let list = |values: &[String]| (!values.is_empty()).then(|| values.join(","));
        set("PDS_DATA_DIRECTORY", Some(self.data_directory.clone()));
        set("PDS_HOSTNAME", self.hostname.clone());
        set("PDS_PORT", self.port.map(|p| p.to_string()));
        set("PDS_BIND", self.bind.clone());
        set("PDS_PUBLIC_URL", self.public_url.clone());
        set("PDS_DATABASE_URL", self.database_url.clone());
        set("PDS_DATABASE_AUTH_TOKEN", self.database_auth_token.clone());
        set(
            "PDS_SYNC_INTERVAL_MS",
            self.sync_interval_ms.map(|v| v.to_string()),
        );
        set("PDS_NODE_ID", self.node_id.clone());
        set("PDS_JWT_SECRET", self.jwt_secret.clone());
        set("PDS_DPOP_SECRET", self.dpop_secret.clone());
        set("PDS_ADMIN_PASSWORD", self.admin_password.clone());
        set("PDS_DID_PLC_URL", self.did_plc_url.clone());
        set(
            "PDS_SERVICE_HANDLE_DOMAINS",
            list(&self.service_handle_domains),
        );
        set(
            "PDS_INVITE_REQUIRED",
            self.invite_required.map(|v| v.to_string()),
        );
        set(
            "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX",
            self.plc_rotation_key_k256_private_key_hex.clone(),
        );
        set("PDS_BSKY_APP_VIEW_URL", self.bsky_app_view_url.clone());
        set("PDS_BSKY_APP_VIEW_DID", self.bsky_app_view_did.clone());
        set(
            "PDS_BLOB_UPLOAD_LIMIT",
            self.blob_upload_limit.map(|v| v.to_string()),
        );
        set("PDS_CRAWLERS", list(&self.crawlers));
        set("PDS_DEV_MODE", self.dev_mode.map(|v| v.to_string()));
        set("PDS_DATABASE_MODE", self.database_mode.clone());
        set("PDS_REPORT_SERVICE_URL", self.report_service_url.clone());
        set("PDS_REPORT_SERVICE_DID", self.report_service_did.clone());
        let number = |v: Option<u64>| v.map(|v| v.to_string());
        set(
            "PDS_HTTP_HEADER_TIMEOUT_SECONDS",
            number(self.http_header_timeout_seconds),
        );
        set(
            "PDS_HTTP_MAX_CONNECTIONS",
            number(self.http_max_connections),
        );
        set(
            "PDS_HTTP_BODY_TIMEOUT_SECONDS",
            number(self.http_body_timeout_seconds),
        );
        set(
            "PDS_HTTP_BODY_MIN_BYTES_PER_SECOND",
            number(self.http_body_min_bytes_per_second),
        );
        set(
            "PDS_LOGIN_WINDOW_SECONDS",
            number(self.login_window_seconds),
        );
        set(
            "PDS_LOGIN_MAX_FAILURES_PER_ACCOUNT",
            number(self.login_max_failures_per_account),
        );
        set(
            "PDS_LOGIN_MAX_FAILURES_PER_ADDRESS",
            number(self.login_max_failures_per_address),
        );
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NodeConfig {
        NodeConfig {
            data_directory: "/tmp/x".into(),
            ..NodeConfig::default()
        }
    }

    #[test]
    fn fields_map_to_the_daemon_settings() {
        let c = NodeConfig {
            port: Some(0),
            hostname: Some("pds.example.com".into()),
            service_handle_domains: vec![".a.example".into(), ".b.example".into()],
            dev_mode: Some(true),
            ..config()
        }
        .to_core()
        .unwrap();
        assert_eq!(c.port, 0);
        assert_eq!(c.public_url, "https://pds.example.com");
        assert_eq!(c.service_handle_domains, vec![".a.example", ".b.example"]);
        assert!(c.dev_mode);
        assert_eq!(c.data_directory, PathBuf::from("/tmp/x"));
        assert_eq!(c.secrets_key, None);
    }

    #[test]
    fn storage_and_server_limits_map_to_the_daemon_settings() {
        let c = NodeConfig {
            database_url: Some("http://127.0.0.1:8080".into()),
            database_auth_token: Some("t".into()),
            http_max_connections: Some(64),
            http_body_timeout_seconds: Some(12),
            http_body_min_bytes_per_second: Some(0),
            ..config()
        }
        .to_core()
        .unwrap();
        assert_eq!(c.storage_mode(), "replica");
        assert_eq!(c.primary().unwrap().auth_token, "t");
        assert_eq!(c.http_max_connections, 64);
        assert_eq!(c.http_body_timeout_seconds, 12);
        assert_eq!(c.http_body_min_bytes_per_second, 0);
        let e = NodeConfig {
            database_mode: Some("remote".into()),
            ..config()
        }
        .to_core()
        .unwrap_err();
        assert!(e.to_string().contains("PDS_DATABASE_URL"), "{e}");
        let e = NodeConfig {
            database_mode: Some("cloud".into()),
            ..config()
        }
        .to_core()
        .unwrap_err();
        assert!(e.to_string().contains("PDS_DATABASE_MODE"), "{e}");
    }

    #[test]
    fn bad_values_name_their_setting() {
        let e = NodeConfig {
            bind: Some("not an address".into()),
            ..config()
        }
        .to_core()
        .unwrap_err();
        assert!(e.to_string().contains("PDS_BIND"), "{e}");
        let e = NodeConfig::default().to_core().unwrap_err();
        assert!(e.to_string().contains("data_directory"), "{e}");
        let e = NodeConfig {
            service_handle_domains: vec!["example.com".into()],
            ..config()
        }
        .to_core()
        .unwrap_err();
        assert!(e.to_string().contains("PDS_SERVICE_HANDLE_DOMAINS"), "{e}");
    }
}
