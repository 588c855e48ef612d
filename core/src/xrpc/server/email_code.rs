//! The one-time codes the email and password methods mail and take back: made here, stored hashed
//! (`email_token`), mailed once the row is committed, valid for [`CODE_LIFETIME_SECS`] and once.

use crate::auth::AuthError;
use crate::http::{NodeState, XrpcError};
use crate::mail::message::{code_message, CodeMail};
use crate::storage::{Account, TokenCheck, TokenPurpose};

/// How long a mailed code stays valid, in seconds (the reference's 15 minutes).
pub const CODE_LIFETIME_SECS: i64 = 15 * 60;

/// Makes a code for `purpose`, stores it for `account`, and mails it to `to` (by default the
/// account's email). Without an address: refused when mail is really delivered, else written to the
/// log under the account's DID (a personal node without mail).
pub(crate) async fn send_code(
    state: &NodeState,
    account: &Account,
    to: Option<&str>,
    purpose: TokenPurpose,
    mail: CodeMail,
) -> Result<(), XrpcError> {
    let to = match to.or(account.email.as_deref()) {
        Some(address) => address.to_owned(),
        None if !state.mail.delivers() => format!("{} (no email address)", account.did),
        None => {
            return Err(XrpcError::invalid_request(
                "account does not have an email address",
            ))
        }
    };
    let code = crate::auth::email_code()?;
    state
        .accounts
        .put_email_token(&account.did, purpose, &code, state.sessions.now())
        .await
        .map_err(AuthError::from)?;
    // The row is committed: the mail goes out in the background, outside any transaction.
    state.mail.post(code_message(
        mail,
        &to,
        &account.handle,
        &state.config.hostname,
        &code,
        CODE_LIFETIME_SECS / 60,
    ));
    Ok(())
}

/// Takes back the account's code for `purpose`: `ExpiredToken` when it is older than its lifetime,
/// `InvalidToken` when it is not the account's current code.
pub(crate) async fn take_code(
    state: &NodeState,
    did: &str,
    purpose: TokenPurpose,
    code: &str,
) -> Result<(), XrpcError> {
    let not_before = state.sessions.now() - CODE_LIFETIME_SECS;
    let check = state
        .accounts
        .take_email_token(did, purpose, code, not_before)
        .await
        .map_err(AuthError::from)?;
    checked(check)
}

/// The answer to a code's check.
pub(crate) fn checked(check: TokenCheck) -> Result<(), XrpcError> {
    match check {
        TokenCheck::Accepted => Ok(()),
        TokenCheck::Expired => Err(AuthError::ExpiredToken.into()),
        TokenCheck::Invalid => Err(AuthError::InvalidToken("Token is invalid").into()),
    }
}

/// The account a session names, or 400 when it is gone.
pub(crate) async fn session_account(state: &NodeState, did: &str) -> Result<Account, XrpcError> {
    state
        .accounts
        .account_by_did(did)
        .await?
        .ok_or_else(|| AuthError::AccountNotFound.into())
}
