//! PocketPDS phone bindings: a thin UniFFI layer over `pocketpds-core`, so that an Android or iOS
//! app hosts a PDS node with a few Kotlin or Swift calls.
//!
//! - [`PdsNode`] ([`node`]): `new(NodeConfig, SecretStore?)`, `start() -> NodeInfo`, `stop()`,
//!   `status()`, `sync_now()`, `create_account(…)`, `accounts()`, `report()`,
//!   `set_listener(NodeListener?)`; it owns a small tokio runtime of its own.
//! - [`NodeConfig`] ([`config`]): the daemon's `PDS_*` settings, validated by the same code.
//! - [`SecretStore`] ([`secret_store`]): the platform keeps the key that seals the node's secrets.
//! - [`NodeListener`] ([`listener`]): status changes and log lines, on an event thread.
//! - [`init_logging`] ([`logging`]): logcat, `os_log` or stderr, and the listeners.
//! - [`PdsError`] ([`error`]): the one error type; panics are caught at the boundary ([`guard`]).
//!
//! Generated bindings: `uniffi-bindgen generate --library libpocketpds_ffi.so --language kotlin
//! --config uniffi.toml` (the `uniffi-bindgen` binary of `bindings/bindgen`).

pub mod config;
pub mod error;
mod guard;
pub mod listener;
pub mod logging;
pub mod mailer;
pub mod node;
pub mod secret_store;
pub mod types;

pub use config::NodeConfig;
pub use error::PdsError;
pub use listener::NodeListener;
pub use logging::init_logging;
pub use mailer::{MailMessage, Mailer};
pub use node::PdsNode;
pub use secret_store::SecretStore;
pub use types::{AccountInfo, LogLevel, NodeInfo, NodeReport, NodeStatus, SyncReport};

uniffi::setup_scaffolding!("pocketpds");
