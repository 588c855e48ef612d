//! [`create_account`]: the account-side half of `com.atproto.server.createAccount` — the password
//! and invite rules, hashing, and the one transaction that stores the account, its signing key and
//! its invite code use.
//!
//! Choosing the DID (a PLC operation), validating the handle against the service domains and
//! building the empty repository belong to the handler and the identity room; this function only
//! checks that the DID and handle are well formed before storing them.

use super::password::{hash_password_async, validate_new_password};
use super::AuthError;
use crate::crypto::Keypair;
use crate::storage::{Account, AccountStore, NewAccount};
use crate::syntax::{is_valid_did, is_valid_handle};

/// The longest email accepted (RFC 5321's limit on a forward path).
const MAX_EMAIL_LEN: usize = 254;

/// What a new account is made of.
pub struct CreateAccount<'a> {
    /// Its DID.
    pub did: &'a str,
    /// Its handle, already validated against the service domains by the caller.
    pub handle: &'a str,
    /// Its email.
    pub email: Option<&'a str>,
    /// Its password, checked against the rules here.
    pub password: &'a str,
    /// The key that will sign its repository.
    pub signing_key: &'a Keypair,
    /// The invite code given, if any. A code given is always checked and consumed.
    pub invite_code: Option<&'a str>,
    /// Whether this server requires an invite code (`PDS_INVITE_REQUIRED`).
    pub invite_required: bool,
    /// Create it deactivated (an account migrating in).
    pub deactivated: bool,
}

/// Checks that `email` looks like an address this server can mail.
pub fn validate_email(email: &str) -> Result<(), AuthError> {
    let plausible = email.len() <= MAX_EMAIL_LEN
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !plausible {
        return Err(AuthError::InvalidRequest(
            "This email address is not supported, please use a different email.".into(),
        ));
    }
    Ok(())
}

/// Creates an account and returns it as stored. A taken handle is
/// [`AuthError::HandleNotAvailable`], a taken email [`AuthError::EmailNotAvailable`], a missing or
/// unavailable invite code [`AuthError::InvalidInviteCode`], a password against the rules
/// [`AuthError::InvalidPassword`].
pub async fn create_account(
    store: &AccountStore,
    new: &CreateAccount<'_>,
    now: i64,
) -> Result<Account, AuthError> {
    if new.invite_required && new.invite_code.is_none_or(str::is_empty) {
        return Err(AuthError::InvalidInviteCode);
    }
    if !is_valid_did(new.did) {
        return Err(AuthError::InvalidRequest("Invalid DID".into()));
    }
    if !is_valid_handle(new.handle) {
        return Err(AuthError::InvalidRequest("Invalid handle".into()));
    }
    if let Some(email) = new.email {
        validate_email(email)?;
    }
    validate_new_password(new.password)?;
    let password_hash = hash_password_async(new.password).await?;
    store
        .create_account(&NewAccount {
            did: new.did,
            handle: new.handle,
            email: new.email,
            password_hash: Some(&password_hash),
            signing_key: new.signing_key,
            invite_code: new.invite_code.filter(|code| !code.is_empty()),
            deactivated: new.deactivated,
            now,
        })
        .await?;
    store
        .account_by_did(new.did)
        .await?
        .ok_or(AuthError::AccountNotFound)
}
