//! Password hashing: argon2id in the PHC string format, with parameters a phone can afford.
//!
//! **Parameters** ([`MEMORY_KIB`], [`ITERATIONS`], [`LANES`]): m = 19 MiB, t = 2, p = 1 — the
//! OWASP-recommended minimum for argon2id, and the argon2 crate's defaults. One hash takes a few
//! tens of milliseconds on a recent phone core and 19 MiB of memory for that time; raising `m`
//! buys little against offline attacks on a database that already holds the signing keys in the
//! clear, and costs every login on the smallest devices. The parameters live in each PHC string,
//! so they can be raised later without invalidating stored hashes.
//!
//! **Bounded cost.** Hashing runs on tokio's blocking pool ([`hash_password_async`],
//! [`verify_password_async`], [`hash_app_password_async`]), at most [`CONCURRENT_HASHES`] at a time
//! across the process, so a burst of logins cannot take more than that many times 19 MiB. A stored
//! hash whose parameters exceed [`MAX_STORED_MEMORY_KIB`] / [`MAX_STORED_ITERATIONS`] /
//! [`MAX_STORED_LANES`] is refused rather than computed.
//!
//! **Rules** follow the reference PDS: a new password may be at most [`NEW_PASSWORD_MAX_LENGTH`]
//! UTF-16 code units (the reference counts JavaScript string length) and must not be empty; a login
//! attempt with more than [`OLD_PASSWORD_MAX_LENGTH`] is refused without hashing.
//!
//! **App passwords** are hashed with a salt derived from the account's DID
//! ([`hash_app_password`]), as the reference PDS does, so that a login compares one hash against
//! the stored ones instead of computing one per app password. This is sound because app passwords
//! are random (80 bits), not chosen by people; the per-account salt still keeps one account's hashes
//! useless against another's.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::random::random_bytes;
use super::AuthError;

/// argon2id memory cost, in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// argon2id iterations.
pub const ITERATIONS: u32 = 2;
/// argon2id lanes (parallelism).
pub const LANES: u32 = 1;
/// Salt length in bytes.
const SALT_LEN: usize = 16;

/// The largest memory cost a stored hash may ask for (64 MiB).
pub const MAX_STORED_MEMORY_KIB: u32 = 64 * 1024;
/// The most iterations a stored hash may ask for.
pub const MAX_STORED_ITERATIONS: u32 = 10;
/// The most lanes a stored hash may ask for.
pub const MAX_STORED_LANES: u32 = 4;
/// The longest PHC string accepted from storage.
const MAX_PHC_LEN: usize = 256;

/// The longest new password, in UTF-16 code units (the reference PDS's `NEW_PASSWORD_MAX_LENGTH`).
pub const NEW_PASSWORD_MAX_LENGTH: usize = 256;
/// The longest password a login may present, in UTF-16 code units (the reference PDS's
/// `OLD_PASSWORD_MAX_LENGTH`).
pub const OLD_PASSWORD_MAX_LENGTH: usize = 512;

/// How many hashes may be computed at once in this process.
pub const CONCURRENT_HASHES: usize = 2;
static HASHING: Semaphore = Semaphore::const_new(CONCURRENT_HASHES);

/// Checks a password chosen at account creation or reset against the reference PDS's rules.
pub fn validate_new_password(password: &str) -> Result<(), AuthError> {
    if password.is_empty() {
        return Err(AuthError::InvalidPassword("Password is required".into()));
    }
    if utf16_len(password) > NEW_PASSWORD_MAX_LENGTH {
        return Err(AuthError::InvalidPassword(format!(
            "Password too long. Maximum length is {NEW_PASSWORD_MAX_LENGTH} characters."
        )));
    }
    Ok(())
}

/// Whether a password presented at login is short enough to be worth hashing.
pub fn is_plausible_login_password(password: &str) -> bool {
    !password.is_empty() && utf16_len(password) <= OLD_PASSWORD_MAX_LENGTH
}

/// The argon2id PHC string of `password` with a fresh random salt. Blocks for the time of one hash:
/// call [`hash_password_async`] from async code.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = random_bytes::<SALT_LEN>()?;
    hash_with_salt(password, &salt)
}

/// The argon2id PHC string of an app password, salted with the first 16 bytes of SHA-256 of the
/// account's DID, so the same password of the same account always hashes alike.
pub fn hash_app_password(did: &str, password: &str) -> Result<String, AuthError> {
    let digest = Sha256::digest(did.as_bytes());
    let salt = digest
        .get(..SALT_LEN)
        .ok_or_else(|| AuthError::Internal("SHA-256 digest shorter than a salt".into()))?;
    hash_with_salt(password, salt)
}

/// Whether `password` matches the PHC string `stored` (the comparison is constant-time, inside the
/// argon2 crate). A stored string that is not an argon2id hash within the parameter limits is an
/// error, not a mismatch. Blocks for the time of one hash: call [`verify_password_async`] from
/// async code.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, AuthError> {
    if stored.len() > MAX_PHC_LEN {
        return Err(corrupt("password hash too long"));
    }
    let parsed = PasswordHash::new(stored).map_err(|_| corrupt("malformed password hash"))?;
    if parsed.algorithm.as_str() != Algorithm::Argon2id.as_str() {
        return Err(corrupt("password hash is not argon2id"));
    }
    let params = Params::try_from(&parsed).map_err(|_| corrupt("bad argon2 parameters"))?;
    if params.m_cost() > MAX_STORED_MEMORY_KIB
        || params.t_cost() > MAX_STORED_ITERATIONS
        || params.p_cost() > MAX_STORED_LANES
    {
        return Err(corrupt("argon2 parameters above this server's limits"));
    }
    match hasher()?.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(AuthError::Internal(format!("argon2 verify: {e}"))),
    }
}

/// [`hash_password`] on the blocking pool, within the process-wide limit of concurrent hashes.
pub async fn hash_password_async(password: &str) -> Result<String, AuthError> {
    let password = password.to_owned();
    run_limited(move || hash_password(&password)).await
}

/// [`hash_app_password`] on the blocking pool, within the process-wide limit of concurrent hashes.
pub async fn hash_app_password_async(did: &str, password: &str) -> Result<String, AuthError> {
    let (did, password) = (did.to_owned(), password.to_owned());
    run_limited(move || hash_app_password(&did, &password)).await
}

/// [`verify_password`] on the blocking pool, within the process-wide limit of concurrent hashes.
pub async fn verify_password_async(password: &str, stored: &str) -> Result<bool, AuthError> {
    let (password, stored) = (password.to_owned(), stored.to_owned());
    run_limited(move || verify_password(&password, &stored)).await
}

async fn run_limited<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|_| AuthError::Internal("password hashing limiter closed".into()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AuthError::Internal(format!("password hashing task: {e}")))?
}

fn hasher() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
        .map_err(|e| AuthError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_with_salt(password: &str, salt: &[u8]) -> Result<String, AuthError> {
    let hash = hasher()?
        .hash_password_with_salt(password.as_bytes(), salt)
        .map_err(|e| AuthError::Internal(format!("argon2 hash: {e}")))?;
    Ok(hash.to_string())
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

fn corrupt(what: &str) -> AuthError {
    AuthError::Storage(crate::storage::StorageError::Corrupt(what.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let hash = hash_password("correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse", &hash).unwrap());
        assert!(!verify_password("correct horsE", &hash).unwrap());
        assert!(!verify_password("", &hash).unwrap());
    }

    #[test]
    fn two_hashes_of_one_password_differ_by_salt() {
        assert_ne!(hash_password("pw").unwrap(), hash_password("pw").unwrap());
    }

    #[test]
    fn app_password_hashes_are_deterministic_per_account() {
        let a = hash_app_password("did:plc:aaa", "abcd-efgh-ijkl-mnop").unwrap();
        assert_eq!(
            a,
            hash_app_password("did:plc:aaa", "abcd-efgh-ijkl-mnop").unwrap()
        );
        assert_ne!(
            a,
            hash_app_password("did:plc:bbb", "abcd-efgh-ijkl-mnop").unwrap()
        );
        assert!(verify_password("abcd-efgh-ijkl-mnop", &a).unwrap());
    }

    #[test]
    fn hostile_stored_hashes_are_refused_without_hashing() {
        for stored in [
            "",
            "plain text",
            "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=19456,t=100000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
            "$argon2d$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
            "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA",
            &"$".repeat(10_000),
        ] {
            assert!(
                verify_password("pw", stored).is_err(),
                "accepted {stored:.60}"
            );
        }
    }

    #[test]
    fn new_password_rules_follow_the_reference() {
        assert!(validate_new_password("").is_err());
        assert!(validate_new_password("x").is_ok());
        assert!(validate_new_password(&"x".repeat(256)).is_ok());
        assert!(validate_new_password(&"x".repeat(257)).is_err());
        // An astral character is two UTF-16 code units, as JavaScript counts it.
        assert!(validate_new_password(&"😀".repeat(128)).is_ok());
        assert!(validate_new_password(&"😀".repeat(129)).is_err());
        assert!(is_plausible_login_password(&"x".repeat(512)));
        assert!(!is_plausible_login_password(&"x".repeat(513)));
    }

    #[tokio::test]
    async fn async_helpers_hash_and_verify_off_the_runtime() {
        let hash = hash_password_async("pw").await.unwrap();
        assert!(verify_password_async("pw", &hash).await.unwrap());
        assert!(!verify_password_async("nope", &hash).await.unwrap());
    }
}
