//! [`PdsError`]: the one error type the bindings return (a `PdsException` in Kotlin, a thrown
//! `PdsError` in Swift), and the conversions from the core's errors. Every variant carries a
//! human-readable `reason`.

use pocketpds_core::admin::AdminError;
use pocketpds_core::config::ConfigError;
use pocketpds_core::node::NodeError;
use pocketpds_core::storage::StorageError;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum PdsError {
    /// The configuration is invalid; the reason names the `PDS_*` setting at fault.
    #[error("invalid configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// `start` was called on a running node.
    #[error("{reason}")]
    AlreadyRunning {
        /// What happened.
        reason: String,
    },
    /// The call needs a running node.
    #[error("{reason}")]
    NotRunning {
        /// What happened.
        reason: String,
    },
    /// The node could not start (data directory, port, database).
    #[error("the node could not start: {reason}")]
    Start {
        /// Why.
        reason: String,
    },
    /// The platform's secret store failed, returned an unusable key, or holds a key that does not
    /// open the secrets of this database.
    #[error("secret store: {reason}")]
    SecretStore {
        /// Why.
        reason: String,
    },
    /// The request was refused, as the XRPC method would refuse it (`error` is its XRPC name, such
    /// as `HandleNotAvailable` or `InvalidPassword`).
    #[error("{error}: {reason}")]
    Refused {
        /// The XRPC error name.
        error: String,
        /// The explanation.
        reason: String,
    },
    /// The cluster's primary database is unreachable, rejected the node's token, or now holds
    /// another database; the reason says which. Reads keep working from the replica.
    #[error("primary database: {reason}")]
    Primary {
        /// Why.
        reason: String,
    },
    /// The database failed.
    #[error("storage: {reason}")]
    Storage {
        /// Why.
        reason: String,
    },
    /// A callback implemented by the app failed unexpectedly.
    #[error("callback failed: {reason}")]
    Callback {
        /// Why.
        reason: String,
    },
    /// A bug: a panic inside the library, caught at the boundary, or a runtime failure.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
}

impl PdsError {
    /// A [`PdsError::Internal`].
    pub(crate) fn internal(reason: impl Into<String>) -> PdsError {
        PdsError::Internal {
            reason: reason.into(),
        }
    }

    /// A [`PdsError::NotRunning`] for `what`.
    pub(crate) fn not_running(what: &str) -> PdsError {
        PdsError::NotRunning {
            reason: format!("{what} needs a running node: call start() first"),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for PdsError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        PdsError::Callback { reason: e.reason }
    }
}

impl From<ConfigError> for PdsError {
    fn from(e: ConfigError) -> Self {
        PdsError::Config {
            reason: e.to_string(),
        }
    }
}

impl From<StorageError> for PdsError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Sealing(sealing) => PdsError::SecretStore {
                reason: sealing.to_string(),
            },
            StorageError::PrimaryUnavailable(reason) | StorageError::PrimaryReplaced(reason) => {
                PdsError::Primary { reason }
            }
            other => PdsError::Storage {
                reason: other.to_string(),
            },
        }
    }
}

impl From<NodeError> for PdsError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Storage(storage) => PdsError::from(storage),
            other => PdsError::Start {
                reason: other.to_string(),
            },
        }
    }
}

impl From<AdminError> for PdsError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Refused { error, message } => PdsError::Refused {
                error,
                reason: message,
            },
            AdminError::Storage(storage) => PdsError::from(storage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pocketpds_core::storage::SealingError;

    #[test]
    fn a_key_that_does_not_open_the_secrets_is_a_secret_store_error() {
        let e = PdsError::from(NodeError::Storage(StorageError::Sealing(
            SealingError::WrongKey,
        )));
        assert!(matches!(e, PdsError::SecretStore { .. }), "{e:?}");
        let refused = PdsError::from(AdminError::Refused {
            error: "HandleNotAvailable".into(),
            message: "Handle already taken".into(),
        });
        assert_eq!(
            refused.to_string(),
            "HandleNotAvailable: Handle already taken"
        );
    }
}
