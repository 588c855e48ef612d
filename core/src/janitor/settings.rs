//! [`JanitorConfig`]: how often the janitor sweeps, how much it deletes per statement, and where
//! the lines between kept and expired rows lie.

use std::time::Duration;

use crate::config::Config;
use crate::storage::MAX_DELETE_BATCH;

/// The default pause between two batches of one table: long enough for a writer waiting in
/// SQLite's busy handler to take the write lock in between.
pub const DEFAULT_PAUSE: Duration = Duration::from_millis(25);

/// The janitor's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JanitorConfig {
    /// Time between the end of one sweep and the start of the next (`PDS_JANITOR_INTERVAL_SECONDS`).
    pub interval: Duration,
    /// Rows deleted per statement (at most [`MAX_DELETE_BATCH`]).
    pub batch: usize,
    /// Pause between two batches of one table.
    pub pause: Duration,
    /// Events older than this are deleted (`PDS_REPO_BACKFILL_LIMIT_MS`: a cursor cannot reach them
    /// anyway; the newest event is always kept).
    pub event_window: Duration,
    /// An email code issued longer ago than this no longer confirms anything.
    pub email_token_lifetime: Duration,
}

impl JanitorConfig {
    /// The node configuration's janitor settings, or `None` when `PDS_JANITOR_INTERVAL_SECONDS` is
    /// 0 (the janitor is off: another node on the same database may be the one that sweeps).
    pub fn from_config(config: &Config) -> Option<JanitorConfig> {
        (config.janitor_interval_seconds > 0).then(|| JanitorConfig {
            interval: Duration::from_secs(config.janitor_interval_seconds),
            batch: MAX_DELETE_BATCH,
            pause: DEFAULT_PAUSE,
            event_window: Duration::from_millis(config.repo_backfill_limit_ms),
            email_token_lifetime: Duration::from_secs(
                u64::try_from(crate::xrpc::server::delete_account::TOKEN_LIFETIME_SECS)
                    .unwrap_or(0),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_sweep_every_ten_minutes_in_batches_of_a_thousand() {
        let c = JanitorConfig::from_config(&Config::default()).unwrap();
        assert_eq!(c.interval, Duration::from_secs(600));
        assert_eq!(c.batch, 1000);
        assert_eq!(c.event_window, Duration::from_secs(24 * 60 * 60));
        assert_eq!(c.email_token_lifetime, Duration::from_secs(15 * 60));
    }

    #[test]
    fn an_interval_of_zero_turns_the_janitor_off() {
        let config = Config {
            janitor_interval_seconds: 0,
            ..Config::default()
        };
        assert_eq!(JanitorConfig::from_config(&config), None);
    }
}
