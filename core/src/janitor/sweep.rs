//! One sweep: each table's expired rows deleted in bounded batches, with a pause between batches
//! and a look at the stop signal before each one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libsql::Connection;
use tokio::sync::watch;

use super::settings::JanitorConfig;
use crate::storage::{events, AccountStore, OAuthStore, StorageError};
use crate::syntax::format_datetime;

/// The stores the janitor sweeps. Their `delete_expired` methods know what expired means; the
/// janitor only decides when they run.
#[derive(Clone)]
pub struct Tables {
    /// A connection for the event table's deletes: single statements, so any connection that no
    /// task holds a transaction open on will do (the storage's shared one, for example).
    pub events: Connection,
    /// Refresh tokens and email codes.
    pub accounts: AccountStore,
    /// OAuth requests and codes, ended sessions, replay records.
    pub oauth: OAuthStore,
}

/// What one sweep deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Firehose events older than the backfill window.
    pub events: u64,
    /// OAuth rows: expired requests and codes, ended sessions, expired replay records.
    pub oauth: u64,
    /// Expired (or used, past their grace) refresh tokens.
    pub refresh_tokens: u64,
    /// Expired email codes.
    pub email_tokens: u64,
    /// Tables whose sweep failed (the error is logged; the next sweep tries again).
    pub failures: u32,
    /// Whether the sweep was cut short because the janitor is stopping.
    pub interrupted: bool,
}

impl SweepReport {
    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.events + self.oauth + self.refresh_tokens + self.email_tokens
    }
}

/// The tables in the order a sweep visits them.
#[derive(Debug, Clone, Copy)]
enum Table {
    Events,
    OAuth,
    RefreshTokens,
    EmailTokens,
}

impl Table {
    const ALL: [Table; 4] = [
        Table::Events,
        Table::OAuth,
        Table::RefreshTokens,
        Table::EmailTokens,
    ];

    fn name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::OAuth => "OAuth rows",
            Table::RefreshTokens => "refresh tokens",
            Table::EmailTokens => "email codes",
        }
    }
}

/// The lines between kept and expired rows, fixed at the start of a sweep.
struct Lines {
    /// Events sequenced before this datetime go (`None`: the window reaches before the epoch).
    event_cutoff: Option<String>,
    /// Seconds since the epoch.
    now: i64,
    /// Email codes issued before this (seconds) go.
    email_not_before: i64,
}

impl Lines {
    fn at(now: SystemTime, config: &JanitorConfig) -> Lines {
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let event_cutoff = since_epoch
            .checked_sub(config.event_window)
            .and_then(|start| i64::try_from(start.as_micros()).ok())
            .and_then(|micros| format_datetime(micros).ok());
        Lines {
            event_cutoff,
            now: secs(since_epoch),
            email_not_before: secs(since_epoch).saturating_sub(secs(config.email_token_lifetime)),
        }
    }
}

/// Sweeps every table once, to the end, as of now.
pub async fn sweep(tables: &Tables, config: &JanitorConfig) -> SweepReport {
    // A sender kept alive and never used: nothing stops this sweep.
    let (_never, mut stop) = watch::channel(false);
    sweep_until_stopped(tables, config, &mut stop).await
}

/// Sweeps every table once, returning early (with what was done) once `stop` turns true.
pub(super) async fn sweep_until_stopped(
    tables: &Tables,
    config: &JanitorConfig,
    stop: &mut watch::Receiver<bool>,
) -> SweepReport {
    let lines = Lines::at(SystemTime::now(), config);
    let mut report = SweepReport::default();
    for table in Table::ALL {
        let mut deleted = 0u64;
        let outcome = drain(tables, config, &lines, table, stop, &mut deleted).await;
        match table {
            Table::Events => report.events = deleted,
            Table::OAuth => report.oauth = deleted,
            Table::RefreshTokens => report.refresh_tokens = deleted,
            Table::EmailTokens => report.email_tokens = deleted,
        }
        match outcome {
            Ok(Drained::Done) => {}
            Ok(Drained::Stopped) => {
                report.interrupted = true;
                break;
            }
            Err(err) => {
                log::warn!("janitor: deleting expired {} failed: {err}", table.name());
                report.failures += 1;
            }
        }
    }
    report
}

enum Drained {
    Done,
    Stopped,
}

/// Deletes one table's expired rows, batch after batch, until a batch comes back short.
async fn drain(
    tables: &Tables,
    config: &JanitorConfig,
    lines: &Lines,
    table: Table,
    stop: &mut watch::Receiver<bool>,
    deleted: &mut u64,
) -> Result<Drained, StorageError> {
    let batch = config.batch.clamp(1, crate::storage::MAX_DELETE_BATCH);
    loop {
        if *stop.borrow() {
            return Ok(Drained::Stopped);
        }
        let n = delete_batch(tables, lines, table, batch).await?;
        *deleted += n;
        if n < batch as u64 {
            return Ok(Drained::Done);
        }
        tokio::select! {
            () = tokio::time::sleep(config.pause) => {}
            _ = stop.changed() => return Ok(Drained::Stopped),
        }
    }
}

async fn delete_batch(
    tables: &Tables,
    lines: &Lines,
    table: Table,
    batch: usize,
) -> Result<u64, StorageError> {
    match table {
        Table::Events => match &lines.event_cutoff {
            Some(cutoff) => events::delete_expired(&tables.events, cutoff, batch).await,
            None => Ok(0),
        },
        Table::OAuth => tables.oauth.delete_expired(lines.now, batch).await,
        Table::RefreshTokens => {
            tables
                .accounts
                .delete_expired_refresh_tokens(lines.now, batch)
                .await
        }
        Table::EmailTokens => {
            tables
                .accounts
                .delete_expired_email_tokens(lines.email_not_before, batch)
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_follow_the_clock_and_the_settings() {
        let config = JanitorConfig {
            event_window: Duration::from_secs(60),
            email_token_lifetime: Duration::from_secs(900),
            ..JanitorConfig::from_config(&crate::config::Config::default()).unwrap()
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let lines = Lines::at(now, &config);
        assert_eq!(lines.now, 1_800_000_000);
        assert_eq!(lines.email_not_before, 1_800_000_000 - 900);
        assert_eq!(
            lines.event_cutoff.as_deref(),
            Some("2027-01-15T07:59:00.000Z")
        );
        let forever = JanitorConfig {
            event_window: Duration::from_secs(u64::MAX),
            ..config
        };
        assert_eq!(Lines::at(now, &forever).event_cutoff, None);
    }
}
