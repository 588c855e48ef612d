//! The node's configuration: one typed [`Config`], built once from the `PDS_*` variables (the
//! reference PDS's names where they exist, ours for storage and clustering) and passed down. Nothing
//! below this module reads the environment.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::storage::{Primary, SealingKey, StorageMode};

/// Default listening port (the reference PDS's).
pub const DEFAULT_PORT: u16 = 2583;
/// Default PLC directory.
pub const DEFAULT_PLC_URL: &str = "https://plc.directory";
/// Default largest blob upload, in bytes (5 MiB, as the reference PDS).
pub const DEFAULT_BLOB_UPLOAD_LIMIT: u64 = 5 * 1024 * 1024;
/// Default time an uploaded blob waits for a record to reference it before it is deleted (1 hour).
pub const DEFAULT_BLOB_GRACE_SECONDS: u64 = 3600;
/// Default interval between replica syncs.
pub const DEFAULT_SYNC_INTERVAL_MS: u64 = 1000;
/// Default number of firehose frames queued for one subscriber before it is dropped as too slow
/// (the reference PDS's).
pub const DEFAULT_MAX_SUBSCRIPTION_BUFFER: u64 = 500;
/// Default firehose backfill window: how far back a cursor may reach (one day, as the reference PDS).
pub const DEFAULT_REPO_BACKFILL_LIMIT_MS: u64 = 24 * 60 * 60 * 1000;

/// Default time between two sweeps of the janitor, in seconds (ten minutes).
pub const DEFAULT_JANITOR_INTERVAL_SECONDS: u64 = 600;
/// Default time a connection has to deliver a complete request head, counted from the moment the
/// server waits for one (the connection's opening, or the end of the previous response).
pub const DEFAULT_HTTP_HEADER_TIMEOUT_SECONDS: u64 = 30;
/// Default time a request body has from the end of its head, before the extension its bytes earn.
pub const DEFAULT_HTTP_BODY_TIMEOUT_SECONDS: u64 = 30;
/// Default bytes of a request body that extend its time by one second.
pub const DEFAULT_HTTP_BODY_MIN_BYTES_PER_SECOND: u64 = 1024;
/// Default number of connections served at once; past it new connections are refused with 503.
pub const DEFAULT_HTTP_MAX_CONNECTIONS: u64 = 512;
/// Default length of a login throttling window, in seconds (five minutes, as the reference's
/// `createSession` limit).
pub const DEFAULT_LOGIN_WINDOW_SECONDS: u64 = 300;
/// Default failed passwords allowed for one account in one window, from all addresses together.
pub const DEFAULT_LOGIN_MAX_FAILURES_PER_ACCOUNT: u64 = 10;
/// Default failed passwords allowed from one client address in one window, for all accounts
/// together (the reference allows 30 per five minutes).
pub const DEFAULT_LOGIN_MAX_FAILURES_PER_ADDRESS: u64 = 30;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name}: {message}")]
pub struct ConfigError {
    /// The variable at fault.
    pub name: &'static str,
    /// What is wrong with its value.
    pub message: String,
}

fn err(name: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        message: message.into(),
    }
}

/// Everything a node needs to know before it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The PDS hostname (`PDS_HOSTNAME`, default `localhost`).
    pub hostname: String,
    /// The port this process listens on (`PDS_PORT`, default 2583; 0 picks a free port).
    pub port: u16,
    /// The listening address (`PDS_BIND`, default `127.0.0.1`).
    pub bind: IpAddr,
    /// The public origin clients use (`PDS_PUBLIC_URL`): the load balancer's URL when several nodes
    /// sit behind one. Without a trailing slash.
    pub public_url: String,
    /// Where the local database file lives (`PDS_DATA_DIRECTORY`, default `./pocketpds-data`).
    pub data_directory: PathBuf,
    /// The primary database of a cluster (`PDS_DATABASE_URL`); `None` keeps everything in a local file.
    pub database_url: Option<String>,
    /// The token for the primary database (`PDS_DATABASE_AUTH_TOKEN`).
    pub database_auth_token: Option<String>,
    /// How the node keeps its data (`PDS_DATABASE_MODE`: `local`, `replica` or `remote`; default
    /// `replica` when `PDS_DATABASE_URL` is set, else `local`).
    pub database_mode: StorageMode,
    /// How often a replica syncs with the primary (`PDS_SYNC_INTERVAL_MS`).
    pub sync_interval_ms: u64,
    /// This node's name in the cluster (`PDS_NODE_ID`, default the hostname and port).
    pub node_id: String,
    /// Secret for legacy session JWTs (`PDS_JWT_SECRET`); `None` uses the cluster's, created once in the database.
    pub jwt_secret: Option<String>,
    /// Secret for DPoP nonces (`PDS_DPOP_SECRET`, 64 hex chars); `None` uses the cluster's.
    pub dpop_secret: Option<String>,
    /// Password of the `admin` user for administrative XRPC (`PDS_ADMIN_PASSWORD`).
    pub admin_password: Option<String>,
    /// The PLC directory (`PDS_DID_PLC_URL`).
    pub did_plc_url: String,
    /// Domains under which accounts get handles (`PDS_SERVICE_HANDLE_DOMAINS`, comma-separated, each
    /// starting with a dot; default `.{hostname}`, or `.test` for a localhost node).
    pub service_handle_domains: Vec<String>,
    /// Whether account creation needs an invite code (`PDS_INVITE_REQUIRED`, default false).
    pub invite_required: bool,
    /// The server's PLC rotation key (`PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX`); `None` uses the cluster's.
    pub plc_rotation_key_hex: Option<String>,
    /// The Bluesky app view (`PDS_BSKY_APP_VIEW_URL`).
    pub bsky_app_view_url: Option<String>,
    /// The app view's DID (`PDS_BSKY_APP_VIEW_DID`).
    pub bsky_app_view_did: Option<String>,
    /// The moderation service reports go to (`PDS_REPORT_SERVICE_URL`); without it, the app view.
    pub report_service_url: Option<String>,
    /// The report service's DID (`PDS_REPORT_SERVICE_DID`).
    pub report_service_did: Option<String>,
    /// Largest blob upload in bytes (`PDS_BLOB_UPLOAD_LIMIT`).
    pub blob_upload_limit: u64,
    /// Largest repository CAR an import accepts, in bytes (`PDS_MAX_IMPORT_BYTES`, default
    /// 256 MiB): it also bounds what an account's import staging holds in the database.
    pub max_import_bytes: u64,
    /// How long an uploaded blob that no record references is kept, in seconds
    /// (`PDS_BLOB_GRACE_SECONDS`, default one hour).
    pub blob_grace_seconds: u64,
    /// Relays to notify of updates (`PDS_CRAWLERS`, comma-separated URLs).
    pub crawlers: Vec<String>,
    /// Development mode (`PDS_DEV_MODE`): plain-http and localhost URLs allowed.
    pub dev_mode: bool,
    /// The DNS server that handle TXT lookups ask (`PDS_DNS_RESOLVER`, `ip:port`, or an IP for
    /// port 53); `None` uses the system configuration. Read by hosts that supply DNS (the daemon).
    pub dns_resolver: Option<SocketAddr>,
    /// Firehose frames queued for one subscriber before it is dropped as too slow
    /// (`PDS_MAX_SUBSCRIPTION_BUFFER`).
    pub max_subscription_buffer: u64,
    /// How far back, in milliseconds, a firehose cursor may reach (`PDS_REPO_BACKFILL_LIMIT_MS`).
    pub repo_backfill_limit_ms: u64,
    /// Seconds between two sweeps of the janitor, which deletes expired rows
    /// (`PDS_JANITOR_INTERVAL_SECONDS`, default ten minutes; 0 turns it off).
    pub janitor_interval_seconds: u64,
    /// The key that seals the database's secrets (`PDS_SECRETS_KEY`, 64 hex chars; every node of a
    /// cluster needs the same). `None` uses the key file of the data directory, created once; the
    /// phone bindings set it from the platform's secret store.
    pub secrets_key: Option<SealingKey>,
    /// Seconds a connection has to deliver a complete request head (`PDS_HTTP_HEADER_TIMEOUT_SECONDS`,
    /// default 30). The wait for the next request on a kept-alive connection counts as reading its
    /// head, so this is also the idle keep-alive timeout.
    pub http_header_timeout_seconds: u64,
    /// Seconds a request body has once its head is in (`PDS_HTTP_BODY_TIMEOUT_SECONDS`, default
    /// 30), extended by a second for every `http_body_min_bytes_per_second` bytes received; past it
    /// the request gets 408 `RequestTimeout` and its connection closes.
    pub http_body_timeout_seconds: u64,
    /// The bytes of a request body that earn it one more second
    /// (`PDS_HTTP_BODY_MIN_BYTES_PER_SECOND`, default 1024: the slowest steady upload kept); 0
    /// makes the timeout the whole body's.
    pub http_body_min_bytes_per_second: u64,
    /// Connections served at once (`PDS_HTTP_MAX_CONNECTIONS`, default 512); past it a new
    /// connection gets 503 `ServiceUnavailable` and is closed.
    pub http_max_connections: u64,
    /// The proxies (load balancers) whose `X-Forwarded-For` names the client (`PDS_TRUSTED_PROXIES`,
    /// comma-separated addresses or CIDR blocks). Empty: the socket's peer is the client.
    pub trusted_proxies: Vec<crate::http::client_address::IpBlock>,
    /// The per-node limits of account creation and email sends (`PDS_RATE_LIMITS_ENABLED`, default
    /// true). Login throttling does not depend on it.
    pub rate_limits_enabled: bool,
    /// Length of a login throttling window in seconds (`PDS_LOGIN_WINDOW_SECONDS`, default 300).
    pub login_window_seconds: u64,
    /// Failed passwords allowed per account and window (`PDS_LOGIN_MAX_FAILURES_PER_ACCOUNT`).
    pub login_max_failures_per_account: u64,
    /// Failed passwords allowed per client address and window
    /// (`PDS_LOGIN_MAX_FAILURES_PER_ADDRESS`).
    pub login_max_failures_per_address: u64,
    /// The SMTP server mail goes through (`PDS_EMAIL_SMTP_URL`, `smtp://` or `smtps://`, with
    /// `user:password@` if it needs them). `None`: messages are written to the log.
    pub email_smtp_url: Option<String>,
    /// The sender of the server's mail (`PDS_EMAIL_FROM_ADDRESS`).
    pub email_from_address: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_vars(|_| None).expect("the defaults are a valid configuration")
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from a lookup of `PDS_*` names (empty values count as unset).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        if var("PDS_CLIENT_IP_HEADER").is_some() {
            log::warn!(
                "PDS_CLIENT_IP_HEADER is no longer read: client addresses come from the \
                 X-Forwarded-For of the proxies in PDS_TRUSTED_PROXIES, else from the socket's peer"
            );
        }
        let hostname = var("PDS_HOSTNAME").unwrap_or_else(|| "localhost".into());
        if hostname.contains(['/', ':', ' ']) {
            return Err(err(
                "PDS_HOSTNAME",
                "a bare hostname, without scheme or port",
            ));
        }
        let port = match var("PDS_PORT") {
            Some(p) => p
                .parse()
                .map_err(|_| err("PDS_PORT", format!("not a port number: {p}")))?,
            None => DEFAULT_PORT,
        };
        let bind = match var("PDS_BIND") {
            Some(b) => b
                .parse()
                .map_err(|_| err("PDS_BIND", format!("not an IP address: {b}")))?,
            None => IpAddr::from([127, 0, 0, 1]),
        };
        let local = hostname == "localhost" || hostname.ends_with(".localhost");
        let public_url = match var("PDS_PUBLIC_URL") {
            Some(u) => {
                let u = u.trim_end_matches('/').to_owned();
                if !(u.starts_with("https://") || u.starts_with("http://")) {
                    return Err(err("PDS_PUBLIC_URL", "must start with https:// or http://"));
                }
                u
            }
            None if local => format!("http://localhost:{port}"),
            None => format!("https://{hostname}"),
        };
        let dev_mode = flag(var("PDS_DEV_MODE"), "PDS_DEV_MODE")?.unwrap_or(false);
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match var(name) {
                Some(v) => v
                    .parse()
                    .map_err(|_| err(name, format!("not a whole number: {v}"))),
                None => Ok(default),
            }
        };
        let list = |name: &str| -> Vec<String> {
            var(name)
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut service_handle_domains = list("PDS_SERVICE_HANDLE_DOMAINS");
        if service_handle_domains.is_empty() {
            service_handle_domains = vec![if local {
                ".test".to_owned()
            } else {
                format!(".{hostname}")
            }];
        }
        if let Some(bad) = service_handle_domains.iter().find(|d| !d.starts_with('.')) {
            return Err(err(
                "PDS_SERVICE_HANDLE_DOMAINS",
                format!("{bad} must start with a dot"),
            ));
        }
        let secrets_key = var("PDS_SECRETS_KEY")
            .map(|k| SealingKey::from_hex(&k))
            .transpose()
            .map_err(|e| err("PDS_SECRETS_KEY", e.to_string()))?;
        let dns_resolver = match var("PDS_DNS_RESOLVER") {
            Some(v) => Some(
                v.trim()
                    .parse::<SocketAddr>()
                    .or_else(|_| v.trim().parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                    .map_err(|_| err("PDS_DNS_RESOLVER", format!("not ip:port: {v}")))?,
            ),
            None => None,
        };
        if let Some(secret) = var("PDS_DPOP_SECRET") {
            if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err("PDS_DPOP_SECRET", "must be 64 hex characters"));
            }
        }
        let database_url = var("PDS_DATABASE_URL");
        let database_mode = match var("PDS_DATABASE_MODE") {
            Some(name) => StorageMode::parse(name.trim()).ok_or_else(|| {
                err(
                    "PDS_DATABASE_MODE",
                    format!("{name} is not one of local, replica, remote"),
                )
            })?,
            None if database_url.is_some() => StorageMode::Replica,
            None => StorageMode::Local,
        };
        match (&database_url, database_mode) {
            (None, StorageMode::Replica | StorageMode::Remote) => {
                return Err(err(
                    "PDS_DATABASE_URL",
                    format!(
                        "the {} mode needs the primary's URL",
                        database_mode.as_str()
                    ),
                ))
            }
            (Some(url), StorageMode::Replica | StorageMode::Remote) => {
                let scheme = url.split("://").next().unwrap_or_default();
                if !["libsql", "https", "http"].contains(&scheme) || !url.contains("://") {
                    return Err(err(
                        "PDS_DATABASE_URL",
                        format!("{url} is not a libsql://, https:// or http:// URL"),
                    ));
                }
            }
            _ => {}
        }
        Ok(Config {
            node_id: var("PDS_NODE_ID").unwrap_or_else(|| format!("{hostname}:{port}")),
            hostname,
            port,
            bind,
            public_url,
            data_directory: PathBuf::from(
                var("PDS_DATA_DIRECTORY").unwrap_or_else(|| "./pocketpds-data".into()),
            ),
            database_url,
            database_mode,
            database_auth_token: var("PDS_DATABASE_AUTH_TOKEN"),
            sync_interval_ms: number("PDS_SYNC_INTERVAL_MS", DEFAULT_SYNC_INTERVAL_MS)?,
            jwt_secret: var("PDS_JWT_SECRET"),
            dpop_secret: var("PDS_DPOP_SECRET"),
            admin_password: var("PDS_ADMIN_PASSWORD"),
            did_plc_url: var("PDS_DID_PLC_URL")
                .map(|u| u.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| DEFAULT_PLC_URL.into()),
            service_handle_domains,
            invite_required: flag(var("PDS_INVITE_REQUIRED"), "PDS_INVITE_REQUIRED")?
                .unwrap_or(false),
            plc_rotation_key_hex: var("PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX"),
            bsky_app_view_url: var("PDS_BSKY_APP_VIEW_URL"),
            bsky_app_view_did: var("PDS_BSKY_APP_VIEW_DID"),
            report_service_url: var("PDS_REPORT_SERVICE_URL"),
            report_service_did: var("PDS_REPORT_SERVICE_DID"),
            blob_upload_limit: number("PDS_BLOB_UPLOAD_LIMIT", DEFAULT_BLOB_UPLOAD_LIMIT)?,
            max_import_bytes: number("PDS_MAX_IMPORT_BYTES", crate::migration::MAX_IMPORT_BYTES)?,
            blob_grace_seconds: number("PDS_BLOB_GRACE_SECONDS", DEFAULT_BLOB_GRACE_SECONDS)?,
            crawlers: list("PDS_CRAWLERS"),
            dev_mode,
            dns_resolver,
            max_subscription_buffer: number(
                "PDS_MAX_SUBSCRIPTION_BUFFER",
                DEFAULT_MAX_SUBSCRIPTION_BUFFER,
            )?,
            repo_backfill_limit_ms: number(
                "PDS_REPO_BACKFILL_LIMIT_MS",
                DEFAULT_REPO_BACKFILL_LIMIT_MS,
            )?,
            janitor_interval_seconds: number(
                "PDS_JANITOR_INTERVAL_SECONDS",
                DEFAULT_JANITOR_INTERVAL_SECONDS,
            )?,
            secrets_key,
            http_header_timeout_seconds: positive(
                "PDS_HTTP_HEADER_TIMEOUT_SECONDS",
                number(
                    "PDS_HTTP_HEADER_TIMEOUT_SECONDS",
                    DEFAULT_HTTP_HEADER_TIMEOUT_SECONDS,
                )?,
            )?,
            http_body_timeout_seconds: positive(
                "PDS_HTTP_BODY_TIMEOUT_SECONDS",
                number(
                    "PDS_HTTP_BODY_TIMEOUT_SECONDS",
                    DEFAULT_HTTP_BODY_TIMEOUT_SECONDS,
                )?,
            )?,
            http_body_min_bytes_per_second: number(
                "PDS_HTTP_BODY_MIN_BYTES_PER_SECOND",
                DEFAULT_HTTP_BODY_MIN_BYTES_PER_SECOND,
            )?,
            http_max_connections: positive(
                "PDS_HTTP_MAX_CONNECTIONS",
                number("PDS_HTTP_MAX_CONNECTIONS", DEFAULT_HTTP_MAX_CONNECTIONS)?,
            )?,
            trusted_proxies: list("PDS_TRUSTED_PROXIES")
                .iter()
                .map(|p| {
                    p.parse()
                        .map_err(|e| err("PDS_TRUSTED_PROXIES", format!("{p}: {e}")))
                })
                .collect::<Result<_, _>>()?,
            rate_limits_enabled: flag(var("PDS_RATE_LIMITS_ENABLED"), "PDS_RATE_LIMITS_ENABLED")?
                .unwrap_or(true),
            login_window_seconds: positive(
                "PDS_LOGIN_WINDOW_SECONDS",
                number("PDS_LOGIN_WINDOW_SECONDS", DEFAULT_LOGIN_WINDOW_SECONDS)?,
            )?,
            login_max_failures_per_account: positive(
                "PDS_LOGIN_MAX_FAILURES_PER_ACCOUNT",
                number(
                    "PDS_LOGIN_MAX_FAILURES_PER_ACCOUNT",
                    DEFAULT_LOGIN_MAX_FAILURES_PER_ACCOUNT,
                )?,
            )?,
            login_max_failures_per_address: positive(
                "PDS_LOGIN_MAX_FAILURES_PER_ADDRESS",
                number(
                    "PDS_LOGIN_MAX_FAILURES_PER_ADDRESS",
                    DEFAULT_LOGIN_MAX_FAILURES_PER_ADDRESS,
                )?,
            )?,
            email_smtp_url: var("PDS_EMAIL_SMTP_URL"),
            email_from_address: var("PDS_EMAIL_FROM_ADDRESS"),
        })
    }

    /// Fills in the real port once a listener asked for port 0 is bound: the defaulted public URL and
    /// node id that named port 0 take the real one.
    pub fn with_bound_port(mut self, port: u16) -> Config {
        if self.port == 0 {
            if let Some(base) = self.public_url.strip_suffix(":0") {
                self.public_url = format!("{base}:{port}");
            }
            if let Some(base) = self.node_id.strip_suffix(":0") {
                self.node_id = format!("{base}:{port}");
            }
            self.port = port;
        }
        self
    }

    /// The server's own DID (`did:web` of the hostname), the audience of its session tokens.
    pub fn service_did(&self) -> String {
        format!("did:web:{}", self.hostname)
    }

    /// The local database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_directory.join("pocketpds.db")
    }

    /// The storage mode the configuration selects, for display.
    pub fn storage_mode(&self) -> &'static str {
        self.database_mode.as_str()
    }

    /// The primary database a replica or remote node uses.
    pub fn primary(&self) -> Option<Primary> {
        match self.database_mode {
            StorageMode::Local => None,
            StorageMode::Replica | StorageMode::Remote => Some(Primary {
                url: self.database_url.clone()?,
                auth_token: self.database_auth_token.clone().unwrap_or_default(),
            }),
        }
    }
}

fn positive(name: &'static str, value: u64) -> Result<u64, ConfigError> {
    if value == 0 {
        return Err(err(name, "must be at least 1"));
    }
    Ok(value)
}

fn flag(value: Option<String>, name: &'static str) -> Result<Option<bool>, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("1" | "true" | "yes" | "on") => Ok(Some(true)),
        Some("0" | "false" | "no" | "off") => Ok(Some(false)),
        Some(other) => Err(err(name, format!("not a boolean: {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_set_gives_a_local_node_on_the_default_port() {
        let c = with(&[]).unwrap();
        assert_eq!(c.port, 2583);
        assert_eq!(c.public_url, "http://localhost:2583");
        assert_eq!(c.bind.to_string(), "127.0.0.1");
        assert_eq!(c.storage_mode(), "local");
        assert_eq!(c.service_handle_domains, vec![".test".to_string()]);
        assert_eq!(c.service_did(), "did:web:localhost");
    }

    #[test]
    fn a_public_hostname_defaults_to_https_and_its_own_handle_domain() {
        let c = with(&[("PDS_HOSTNAME", "pds.example.com"), ("PDS_PORT", "3000")]).unwrap();
        assert_eq!(c.public_url, "https://pds.example.com");
        assert_eq!(
            c.service_handle_domains,
            vec![".pds.example.com".to_string()]
        );
        let lb = with(&[("PDS_PUBLIC_URL", "http://127.0.0.1:8080/")]).unwrap();
        assert_eq!(lb.public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn a_dns_server_is_an_address_with_port_53_by_default() {
        assert_eq!(with(&[]).unwrap().dns_resolver, None);
        let at = |v| with(&[("PDS_DNS_RESOLVER", v)]).unwrap().dns_resolver;
        assert_eq!(
            at("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(at("10.0.0.2"), Some("10.0.0.2:53".parse().unwrap()));
        assert_eq!(at("[::1]:53"), Some("[::1]:53".parse().unwrap()));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("PDS_PORT", "eighty"),
            ("PDS_PORT", "70000"),
            ("PDS_BIND", "localhost:1"),
            ("PDS_PUBLIC_URL", "ftp://x"),
            ("PDS_DEV_MODE", "maybe"),
            ("PDS_DPOP_SECRET", "abc"),
            ("PDS_SERVICE_HANDLE_DOMAINS", "example.com"),
            ("PDS_HOSTNAME", "https://x"),
            ("PDS_BLOB_UPLOAD_LIMIT", "-1"),
            ("PDS_MAX_IMPORT_BYTES", "256M"),
            ("PDS_BLOB_GRACE_SECONDS", "soon"),
            ("PDS_MAX_SUBSCRIPTION_BUFFER", "many"),
            ("PDS_REPO_BACKFILL_LIMIT_MS", "1d"),
            ("PDS_JANITOR_INTERVAL_SECONDS", "10m"),
            ("PDS_SECRETS_KEY", "00ff"),
            ("PDS_DNS_RESOLVER", "localhost:53"),
            ("PDS_DNS_RESOLVER", "127.0.0.1:port"),
            ("PDS_HTTP_HEADER_TIMEOUT_SECONDS", "0"),
            ("PDS_HTTP_MAX_CONNECTIONS", "lots"),
            ("PDS_HTTP_BODY_TIMEOUT_SECONDS", "0"),
            ("PDS_HTTP_BODY_MIN_BYTES_PER_SECOND", "fast"),
            ("PDS_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("PDS_TRUSTED_PROXIES", "nginx"),
            ("PDS_RATE_LIMITS_ENABLED", "sometimes"),
            ("PDS_LOGIN_WINDOW_SECONDS", "0"),
            ("PDS_LOGIN_MAX_FAILURES_PER_ACCOUNT", "-3"),
        ] {
            let e = with(&[(name, value)]).unwrap_err();
            assert_eq!(e.name, name, "{value}");
        }
    }
}
