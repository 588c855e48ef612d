//! [`SequencerConfig`]: the limits and intervals of the firehose.

use std::time::Duration;

use crate::config::Config;

/// How the sequencer bounds its subscribers and how often it reads the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequencerConfig {
    /// Frames queued for one live subscriber before it is dropped as too slow.
    pub max_queue_frames: usize,
    /// Bytes of frames queued for one live subscriber before it is dropped as too slow.
    pub max_queue_bytes: usize,
    /// How often the tailer reads the table while subscribers are live, to pick up events that
    /// another process wrote (local writes wake it at once).
    pub poll_interval: Duration,
    /// How far back a cursor may reach; an older cursor starts at the first event inside the window,
    /// after an `#info` `OutdatedCursor` message.
    pub backfill_window: Duration,
}

/// The default bytes of frames queued for one subscriber (eight of the largest commits).
pub const DEFAULT_MAX_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// The default interval of the tailer while subscribers are live.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(200);

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig::from_config(&Config::default())
    }
}

impl SequencerConfig {
    /// The node configuration's firehose settings (`PDS_MAX_SUBSCRIPTION_BUFFER`,
    /// `PDS_REPO_BACKFILL_LIMIT_MS`) with the default byte bound and interval.
    pub fn from_config(config: &Config) -> SequencerConfig {
        SequencerConfig {
            max_queue_frames: usize::try_from(config.max_subscription_buffer)
                .unwrap_or(usize::MAX)
                .max(1),
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
            poll_interval: DEFAULT_POLL_INTERVAL,
            backfill_window: Duration::from_millis(config.repo_backfill_limit_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_reference_pds_ones() {
        let c = SequencerConfig::default();
        assert_eq!(c.max_queue_frames, 500);
        assert_eq!(c.backfill_window, Duration::from_secs(24 * 60 * 60));
    }

    #[test]
    fn a_zero_buffer_still_holds_one_frame() {
        let config = Config {
            max_subscription_buffer: 0,
            ..Config::default()
        };
        assert_eq!(SequencerConfig::from_config(&config).max_queue_frames, 1);
    }
}
