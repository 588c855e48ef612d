//! The records and enums the bindings exchange: what `start` returns, the node's status, account
//! and sync reports, log levels.

use pocketpds_core::admin::{AccountSummary, NodeStatusReport};

/// A started node.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NodeInfo {
    /// The node's public URL (what its DID documents name; `http://localhost:<port>` by default).
    pub url: String,
    /// The loopback URL it listens on (`http://127.0.0.1:<port>`): what apps on the device use.
    pub local_url: String,
    /// The port it listens on.
    pub port: u16,
    /// The DIDs of the accounts it hosts.
    pub did_list: Vec<String>,
}

/// Where a node is in its life.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum NodeStatus {
    /// Not serving (new, or stopped).
    Stopped,
    /// `start` is in progress.
    Starting,
    /// Serving.
    Running {
        /// The public URL.
        url: String,
        /// The loopback URL it listens on.
        local_url: String,
        /// The port.
        port: u16,
    },
    /// `stop` is in progress.
    Stopping,
    /// The last `start` failed.
    Failed {
        /// Why.
        reason: String,
    },
}

/// An account hosted by the node.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AccountInfo {
    /// Its DID.
    pub did: String,
    /// Its handle.
    pub handle: String,
    /// Its email, if any.
    pub email: Option<String>,
    /// `active`, `deactivated` or `takendown`.
    pub status: String,
    /// When it was created, in seconds since the epoch.
    pub created_at: i64,
}

impl From<AccountSummary> for AccountInfo {
    fn from(a: AccountSummary) -> Self {
        AccountInfo {
            did: a.did,
            handle: a.handle,
            email: a.email,
            status: a.status.to_owned(),
            created_at: a.created_at,
        }
    }
}

/// What `sync_now` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// `local`, `replica` or `remote`.
    pub storage_mode: String,
    /// Whether anything was synced (never for a local node: its file is the database).
    pub synced: bool,
    /// What happened, for display.
    pub message: String,
}

impl From<pocketpds_core::admin::SyncReport> for SyncReport {
    fn from(r: pocketpds_core::admin::SyncReport) -> Self {
        SyncReport {
            storage_mode: r.storage_mode.to_owned(),
            synced: r.synced,
            message: r.message,
        }
    }
}

/// A running node's details.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NodeReport {
    /// The node's name in the cluster.
    pub node_id: String,
    /// The public URL.
    pub public_url: String,
    /// `local`, `replica` or `remote`.
    pub storage_mode: String,
    /// The database's schema version.
    pub schema_version: u32,
    /// How many accounts the node hosts.
    pub accounts: u64,
    /// When the node started, in milliseconds since the epoch.
    pub started_at_ms: i64,
    /// The primary database's URL (`None` for a local node).
    pub primary_url: Option<String>,
    /// Whether the last call to the primary succeeded (always true for a local node).
    pub primary_reachable: bool,
    /// Why the last call to the primary failed, if it did.
    pub last_error: Option<String>,
    /// The replica's replication position (the primary's frame it has applied).
    pub replication_position: Option<u64>,
    /// Milliseconds since the replica last caught up with the primary.
    pub lag_ms: Option<u64>,
    /// Whether periodic syncs are paused (the app said it is in the background).
    pub sync_paused: bool,
    /// The nodes of the cluster, most recently seen first.
    pub nodes: Vec<ClusterNode>,
}

/// A node of the cluster, as the shared registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClusterNode {
    /// Its id (`PDS_NODE_ID`).
    pub id: String,
    /// Its public URL.
    pub public_url: String,
    /// Its storage mode.
    pub mode: String,
    /// When it last recorded itself, in seconds since the epoch.
    pub last_seen: i64,
}

impl From<NodeStatusReport> for NodeReport {
    fn from(r: NodeStatusReport) -> Self {
        NodeReport {
            node_id: r.node_id,
            public_url: r.public_url,
            storage_mode: r.storage_mode.to_owned(),
            schema_version: r.schema_version,
            accounts: r.accounts,
            started_at_ms: r.started_at_micros / 1000,
            primary_url: r.replication.primary,
            primary_reachable: r.replication.reachable,
            last_error: r.replication.last_error,
            replication_position: r.replication.position,
            lag_ms: r.replication.lag_ms,
            sync_paused: r.replication.paused,
            nodes: r
                .nodes
                .into_iter()
                .map(|n| ClusterNode {
                    id: n.id,
                    public_url: n.public_url,
                    mode: n.mode,
                    last_seen: n.last_seen,
                })
                .collect(),
        }
    }
}

/// A log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Informational messages and above.
    Info,
    /// Debugging messages and above.
    Debug,
    /// Everything.
    Trace,
}

impl From<LogLevel> for log::LevelFilter {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

impl From<log::Level> for LogLevel {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        }
    }
}
