//! Limits on guessing and on costly requests.
//!
//! **Login throttling** ([`LoginLimits`], used by [`crate::auth::login`], which every password
//! check goes through: `createSession`, app-password logins, the OAuth sign-in page,
//! `deleteAccount`). Failed password attempts are counted per account (all addresses together:
//! against guessing spread over many addresses) and per client address (all accounts together:
//! against one address trying many accounts), in fixed windows, in the shared database (so every
//! node of a cluster sees one count). An attempt is counted before the password is hashed, which
//! makes the count race-free across nodes, and given back when the password was right; past a
//! limit the answer is 429 `RateLimitExceeded` before any hashing, with the `RateLimit-*` headers
//! of the reference PDS. An identifier that names no account is counted under itself, so the
//! answers do not tell whether an account exists.
//!
//! **No permanent lockout.** Every window ends ([`LoginLimits::window_secs`], five minutes by
//! default) and its count goes with it; nothing escalates. The price of the per-account limit is
//! that someone guessing from many addresses can keep an account's password sign-in refused for
//! as long as they keep guessing — but never longer than a window after they stop, and the
//! account's open sessions, refresh tokens and OAuth grants keep working meanwhile. A permanent or
//! growing lockout would hand that same attacker a way to shut a person out for good, which is
//! worse than a guessing rate of a few passwords per minute.
//!
//! **Per-node limits** ([`RouteLimits`]): account creation per client address and email sends
//! per account and address, counted in this node's memory (they guard the node's own work and
//! mail reputation; a cluster multiplies them by its node count, which is acceptable for limits
//! this coarse). Off with `PDS_RATE_LIMITS_ENABLED=false`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::config::Config;

/// What a refused request is told: the limit, what is left of it, when the window ends, and the
/// window's length (the `RateLimit-*` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in a window.
    pub limit: u64,
    /// Requests left in this window.
    pub remaining: u64,
    /// When the window ends, in seconds since the epoch.
    pub reset: i64,
    /// The window's length in seconds.
    pub window_secs: u64,
}

impl RateLimit {
    /// The `RateLimit-Limit`, `-Remaining`, `-Reset` and `-Policy` headers, as the reference PDS
    /// sends them (`Policy` is `limit;w=seconds`).
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.remaining.to_string()),
            ("ratelimit-reset", self.reset.to_string()),
            (
                "ratelimit-policy",
                format!("{};w={}", self.limit, self.window_secs),
            ),
        ]
    }
}

/// The login throttling limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// The window's length in seconds (`PDS_LOGIN_WINDOW_SECONDS`).
    pub window_secs: u64,
    /// Failed attempts allowed per account in a window (`PDS_LOGIN_MAX_FAILURES_PER_ACCOUNT`).
    pub per_account: u64,
    /// Failed attempts allowed per client address in a window
    /// (`PDS_LOGIN_MAX_FAILURES_PER_ADDRESS`).
    pub per_address: u64,
}

impl LoginLimits {
    /// The limits a configuration sets.
    pub fn from_config(config: &Config) -> LoginLimits {
        LoginLimits {
            window_secs: config.login_window_seconds,
            per_account: config.login_max_failures_per_account,
            per_address: config.login_max_failures_per_address,
        }
    }
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits::from_config(&Config::default())
    }
}

/// The current time in whole seconds since the epoch.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A per-node limiter: fixed windows of counts per key, in memory.
#[derive(Debug, Default)]
struct Windows {
    counts: Mutex<HashMap<String, (i64, u64)>>,
}

/// The most keys a limiter remembers; past it the ended windows are dropped (and if all are
/// current, all of them: a flood of fresh keys must not grow memory).
const MAX_KEYS: usize = 10_000;

impl Windows {
    fn hit(&self, key: String, limit: u64, window_secs: u64, now: i64) -> Result<(), RateLimit> {
        let window = window_secs as i64;
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= MAX_KEYS && !counts.contains_key(&key) {
            counts.retain(|_, (start, _)| *start > now - window);
            if counts.len() >= MAX_KEYS {
                counts.clear();
            }
        }
        let entry = counts.entry(key).or_insert((now, 0));
        if entry.0 <= now - window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            return Err(RateLimit {
                limit,
                remaining: 0,
                reset: entry.0 + window,
                window_secs,
            });
        }
        entry.1 += 1;
        Ok(())
    }
}

/// Account creations allowed per client address per window (the reference's 100 per 5 minutes).
pub const ACCOUNT_CREATIONS_PER_WINDOW: u64 = 100;
/// The account creation window, in seconds.
pub const ACCOUNT_CREATION_WINDOW_SECS: u64 = 5 * 60;
/// Mails (codes, confirmations) one account may cause per window.
pub const EMAILS_PER_ACCOUNT_PER_WINDOW: u64 = 15;
/// Mails requests from one client address may cause per window (password resets for any email).
pub const EMAILS_PER_ADDRESS_PER_WINDOW: u64 = 50;
/// The email window, in seconds (an hour).
pub const EMAIL_WINDOW_SECS: u64 = 60 * 60;

/// Guesses of a mailed code (resetting a password, confirming or changing an email) allowed per
/// client address per window (the reference's 50 per 5 minutes for `resetPassword`).
pub const CODE_GUESSES_PER_WINDOW: u64 = 50;
/// The code-guessing window, in seconds.
pub const CODE_GUESS_WINDOW_SECS: u64 = 5 * 60;

/// The per-node limits of costly requests: account creation and email sends.
#[derive(Debug, Default)]
pub struct RouteLimits {
    enabled: bool,
    creations: Windows,
    emails: Windows,
    codes: Windows,
}

impl RouteLimits {
    /// Limits that apply when `enabled` (`PDS_RATE_LIMITS_ENABLED`).
    pub fn new(enabled: bool) -> RouteLimits {
        RouteLimits {
            enabled,
            ..RouteLimits::default()
        }
    }

    /// Counts an account creation from `client`; refused past the limit.
    pub fn account_creation(&self, client: Option<IpAddr>) -> Result<(), RateLimit> {
        if !self.enabled {
            return Ok(());
        }
        self.creations.hit(
            address_key(client),
            ACCOUNT_CREATIONS_PER_WINDOW,
            ACCOUNT_CREATION_WINDOW_SECS,
            now_secs(),
        )
    }

    /// Counts a request presenting a mailed code from `client`; refused past the limit.
    pub fn code_guess(&self, client: Option<IpAddr>) -> Result<(), RateLimit> {
        if !self.enabled {
            return Ok(());
        }
        self.codes.hit(
            address_key(client),
            CODE_GUESSES_PER_WINDOW,
            CODE_GUESS_WINDOW_SECS,
            now_secs(),
        )
    }

    /// Counts a mail caused by `client`, for the account `did` when known; refused past either
    /// limit.
    pub fn email(&self, client: Option<IpAddr>, did: Option<&str>) -> Result<(), RateLimit> {
        if !self.enabled {
            return Ok(());
        }
        let now = now_secs();
        if let Some(did) = did {
            self.emails.hit(
                format!("did:{did}"),
                EMAILS_PER_ACCOUNT_PER_WINDOW,
                EMAIL_WINDOW_SECS,
                now,
            )?;
        }
        self.emails.hit(
            address_key(client),
            EMAILS_PER_ADDRESS_PER_WINDOW,
            EMAIL_WINDOW_SECS,
            now,
        )
    }
}

/// The counting key of a client address (`ip:unknown` when the address is not known).
pub(crate) fn address_key(client: Option<IpAddr>) -> String {
    match client {
        Some(ip) => format!("ip:{ip}"),
        None => "ip:unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_limit_then_refuses_until_it_ends() {
        let w = Windows::default();
        for _ in 0..3 {
            w.hit("k".into(), 3, 60, 1000).unwrap();
        }
        let refused = w.hit("k".into(), 3, 60, 1059).unwrap_err();
        assert_eq!(refused.reset, 1060);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.headers()[3].1, "3;w=60");
        w.hit("k".into(), 3, 60, 1060).unwrap();
        w.hit("other".into(), 3, 60, 1059).unwrap();
    }

    #[test]
    fn a_flood_of_keys_does_not_grow_memory_without_bound() {
        let w = Windows::default();
        for i in 0..(MAX_KEYS * 2) {
            w.hit(format!("k{i}"), 1, 60, 1000).unwrap();
        }
        assert!(w.counts.lock().unwrap().len() <= MAX_KEYS);
    }

    #[test]
    fn disabled_limits_allow_everything() {
        let limits = RouteLimits::new(false);
        for _ in 0..(ACCOUNT_CREATIONS_PER_WINDOW + 5) {
            limits.account_creation(None).unwrap();
        }
        let on = RouteLimits::new(true);
        for _ in 0..EMAILS_PER_ACCOUNT_PER_WINDOW {
            on.email(None, Some("did:plc:a")).unwrap();
        }
        assert!(on.email(None, Some("did:plc:a")).is_err());
        on.email(None, Some("did:plc:b")).unwrap();
    }
}
