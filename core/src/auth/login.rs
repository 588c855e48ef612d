//! [`login`]: the credential check of `com.atproto.server.createSession`, as the reference PDS does
//! it — the identifier is an email (it has an `@`), a DID, or a handle; the password is tried as the
//! account password, then as one of the account's app passwords.
//!
//! Failures all read the same ([`AuthError::AuthenticationRequired`], "Invalid identifier or
//! password"), and an unknown identifier costs the same two hashes as a wrong password, so neither
//! the answer nor its timing tells whether an account exists. Deactivated accounts may log in (the
//! handler reports their status); taken-down accounts may log in with their account password only
//! (the session gets the taken-down scope, see [`crate::auth::SessionManager::create_session`]).
//!
//! Every attempt passes the login throttle first ([`crate::auth::throttle`]): failures are counted
//! per account and per client address in the shared database, and past a limit the answer is
//! [`AuthError::RateLimited`] without hashing anything.

use super::password::{
    hash_app_password_async, is_plausible_login_password, verify_password_async,
};
use super::throttle::{address_key, now_secs, LoginLimits, RateLimit};
use super::AuthError;
use crate::storage::{Account, AccountStore, AppPasswordGrant};

/// The longest identifier looked up (a DID may be up to 2 KiB; handles and emails are shorter).
const MAX_IDENTIFIER_LEN: usize = 2048;

/// An argon2id hash (of a random password nobody knows) with this build's parameters, verified
/// when the identifier matches no account so that the failure costs what a real one does.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Hn4b2sD3Zs3y7s3zQ1kz2A$3o4dJRsbF1o2GXeYF2hP7pY5dFq8i3cHqN6C2N6oY0I";
/// The DID the app-password hash of an unknown identifier is salted with.
const DUMMY_DID: &str = "did:plc:unknownaccount0000000000";

/// Who logged in, and with which credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The account (in whatever state: the caller reports or refuses it).
    pub account: Account,
    /// The app password used, or `None` for the account password.
    pub app_password: Option<AppPasswordGrant>,
}

/// Checks `password` for the account named by `identifier` (email, DID or handle, in any case),
/// for a request from `client`, within the login `limits`.
pub async fn login(
    store: &AccountStore,
    limits: &LoginLimits,
    client: Option<std::net::IpAddr>,
    identifier: &str,
    password: &str,
) -> Result<Login, AuthError> {
    if identifier.is_empty()
        || identifier.len() > MAX_IDENTIFIER_LEN
        || !is_plausible_login_password(password)
    {
        return Err(AuthError::AuthenticationRequired);
    }
    let account = if identifier.contains('@') {
        store.account_by_email(identifier).await?
    } else if identifier.starts_with("did:") {
        store.account_by_did(identifier).await?
    } else {
        store.account_by_handle(identifier).await?
    };
    // An unknown identifier is counted under itself, so that its answers read like a real one's.
    let account_key = match &account {
        Some(account) => format!("account:{}", account.did),
        None => format!("unknown:{}", identifier.to_lowercase()),
    };
    let now = now_secs();
    let window = limits.window_secs as i64;
    let keys = [
        (address_key(client), limits.per_address),
        (account_key, limits.per_account),
    ];
    let refused = |limit: u64, window_start: i64| {
        AuthError::RateLimited(RateLimit {
            limit,
            remaining: 0,
            reset: window_start + window,
            window_secs: limits.window_secs,
        })
    };
    // A key already at its limit is refused by a read: a flood of refused attempts writes nothing.
    for (key, limit) in &keys {
        if let Some(count) = store.login_attempts(key, now, window).await? {
            if count.count >= *limit as i64 {
                return Err(refused(*limit, count.window_start));
            }
        }
    }
    let mut counted = Vec::with_capacity(2);
    for (key, limit) in keys {
        let count = store.count_login_attempt(&key, now, window).await?;
        if count.count > limit as i64 {
            return Err(refused(limit, count.window_start));
        }
        counted.push((key, count.window_start));
    }
    let verified = verify(store, account, password).await;
    if verified.is_ok() {
        for (key, window_start) in &counted {
            store.uncount_login_attempt(key, *window_start).await?;
        }
    }
    verified
}

/// The password check itself, once the throttle let the attempt through.
async fn verify(
    store: &AccountStore,
    account: Option<Account>,
    password: &str,
) -> Result<Login, AuthError> {
    let Some(account) = account else {
        spend_like_a_failed_login(password).await?;
        return Err(AuthError::AuthenticationRequired);
    };

    let stored = store.password_hash(&account.did).await?;
    let account_password_matches = match &stored {
        Some(hash) => verify_password_async(password, hash).await?,
        None => {
            verify_password_async(password, DUMMY_HASH).await?;
            false
        }
    };
    if account_password_matches {
        return Ok(Login {
            account,
            app_password: None,
        });
    }
    let candidate = hash_app_password_async(&account.did, password).await?;
    if account.is_taken_down() {
        // A taken-down account cannot use its app passwords.
        return Err(AuthError::AuthenticationRequired);
    }
    match store.find_app_password(&account.did, &candidate).await? {
        Some(grant) => Ok(Login {
            account,
            app_password: Some(grant),
        }),
        None => Err(AuthError::AuthenticationRequired),
    }
}

/// The two hashes a wrong password for an existing account costs.
async fn spend_like_a_failed_login(password: &str) -> Result<(), AuthError> {
    verify_password_async(password, DUMMY_HASH).await?;
    hash_app_password_async(DUMMY_DID, password).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password::verify_password;

    #[test]
    fn the_dummy_hash_is_a_valid_hash_with_this_builds_parameters() {
        assert!(!verify_password("anything", DUMMY_HASH).unwrap());
        assert!(DUMMY_HASH.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }
}
