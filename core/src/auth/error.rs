//! [`AuthError`]: why an account or session operation was refused, with the XRPC error name and
//! HTTP status the reference PDS answers with, so the handlers convert it in one place.

use crate::storage::{AccountsError, StorageError};

/// Why an account, login or session operation was refused.
///
/// Each variant names the XRPC error the handlers return ([`AuthError::xrpc_name`]) with the
/// reference PDS's HTTP status ([`AuthError::http_status`]). A few variants share a name where the
/// reference does (an expired and a revoked refresh token are both `ExpiredToken`; a taken email is a
/// plain `InvalidRequest`), so that clients written against the reference behave the same here.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request carries no credentials where some are required.
    #[error("Authentication Required")]
    AuthMissing,
    /// The identifier or password is wrong (deliberately not saying which).
    #[error("Invalid identifier or password")]
    AuthenticationRequired,
    /// A token is malformed, forged, of the wrong type or scope, or for another service.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// A token is past its expiry.
    #[error("Token has expired")]
    ExpiredToken,
    /// A refresh token was already used, revoked, or never stored.
    #[error("Token has been revoked")]
    RevokedToken,
    /// The account requires a second factor (an emailed code) that was not given.
    #[error("A sign in code has been sent to your email address")]
    AuthFactorTokenRequired,
    /// The account was taken down by the operator.
    #[error("Account has been taken down")]
    AccountTakedown,
    /// The account is deactivated.
    #[error("Account is deactivated")]
    AccountDeactivated,
    /// No such account.
    #[error("Account not found")]
    AccountNotFound,
    /// A new password breaks the rules (see [`crate::auth::password::validate_new_password`]).
    #[error("{0}")]
    InvalidPassword(String),
    /// The invite code is missing where required, unknown, disabled or used up.
    #[error("Provided invite code not available")]
    InvalidInviteCode,
    /// Another account has this handle.
    #[error("Handle already taken")]
    HandleNotAvailable,
    /// Another account has this email.
    #[error("Email already taken")]
    EmailNotAvailable,
    /// An account with this DID already exists here.
    #[error("An account with this DID already exists")]
    DidNotAvailable,
    /// The account already has an app password of this name.
    #[error("An app password with this name already exists")]
    AppPasswordNameTaken,
    /// Too many attempts: wait for the window to end ([`crate::auth::throttle`]).
    #[error("Rate Limit Exceeded")]
    RateLimited(super::throttle::RateLimit),
    /// Some other input was refused; the text says why.
    #[error("{0}")]
    InvalidRequest(String),
    /// The database failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// Something that should not fail did (the random number generator, a hashing task).
    #[error("internal: {0}")]
    Internal(String),
}

impl AuthError {
    /// The XRPC error name (the `error` field of the JSON error body).
    pub fn xrpc_name(&self) -> &'static str {
        match self {
            AuthError::AuthMissing => "AuthMissing",
            AuthError::AuthenticationRequired => "AuthenticationRequired",
            AuthError::InvalidToken(_) => "InvalidToken",
            AuthError::ExpiredToken | AuthError::RevokedToken => "ExpiredToken",
            AuthError::AuthFactorTokenRequired => "AuthFactorTokenRequired",
            AuthError::AccountTakedown => "AccountTakedown",
            AuthError::AccountDeactivated => "AccountDeactivated",
            AuthError::AccountNotFound => "AccountNotFound",
            AuthError::InvalidPassword(_) => "InvalidPassword",
            AuthError::InvalidInviteCode => "InvalidInviteCode",
            AuthError::HandleNotAvailable => "HandleNotAvailable",
            AuthError::RateLimited(_) => "RateLimitExceeded",
            AuthError::EmailNotAvailable
            | AuthError::DidNotAvailable
            | AuthError::AppPasswordNameTaken
            | AuthError::InvalidRequest(_) => "InvalidRequest",
            AuthError::Storage(_) | AuthError::Internal(_) => "InternalServerError",
        }
    }

    /// The HTTP status: 401 for missing or refused credentials and for account states that refuse
    /// a credential, 400 for bad tokens and bad input (as the reference answers `InvalidToken` and
    /// `ExpiredToken`), 500 for failures of the server.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::AuthMissing
            | AuthError::AuthenticationRequired
            | AuthError::AuthFactorTokenRequired
            | AuthError::AccountTakedown
            | AuthError::AccountDeactivated => 401,
            AuthError::InvalidToken(_)
            | AuthError::ExpiredToken
            | AuthError::RevokedToken
            | AuthError::AccountNotFound
            | AuthError::InvalidPassword(_)
            | AuthError::InvalidInviteCode
            | AuthError::HandleNotAvailable
            | AuthError::EmailNotAvailable
            | AuthError::DidNotAvailable
            | AuthError::AppPasswordNameTaken
            | AuthError::InvalidRequest(_) => 400,
            AuthError::RateLimited(_) => 429,
            AuthError::Storage(_) | AuthError::Internal(_) => 500,
        }
    }

    /// The text for the `message` field: the error's own words, except for server failures,
    /// whose details stay in the log.
    pub fn xrpc_message(&self) -> String {
        match self {
            AuthError::Storage(_) | AuthError::Internal(_) => "Internal Server Error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl From<AccountsError> for AuthError {
    fn from(err: AccountsError) -> Self {
        match err {
            AccountsError::HandleTaken => AuthError::HandleNotAvailable,
            AccountsError::EmailTaken => AuthError::EmailNotAvailable,
            AccountsError::DidTaken => AuthError::DidNotAvailable,
            AccountsError::AccountNotFound => AuthError::AccountNotFound,
            AccountsError::InviteCodeUnavailable => AuthError::InvalidInviteCode,
            AccountsError::AppPasswordNameTaken => AuthError::AppPasswordNameTaken,
            AccountsError::Storage(err) => AuthError::Storage(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_are_bad_requests_as_in_the_reference() {
        assert_eq!(AuthError::ExpiredToken.http_status(), 400);
        assert_eq!(AuthError::RevokedToken.xrpc_name(), "ExpiredToken");
        assert_eq!(
            AuthError::InvalidToken("Bad token scope").http_status(),
            400
        );
    }

    #[test]
    fn refused_credentials_are_unauthorised() {
        assert_eq!(AuthError::AuthenticationRequired.http_status(), 401);
        assert_eq!(AuthError::AccountTakedown.xrpc_name(), "AccountTakedown");
        assert_eq!(AuthError::AuthMissing.http_status(), 401);
    }

    #[test]
    fn server_failures_hide_their_details() {
        let err = AuthError::Internal("rng exploded".into());
        assert_eq!(err.http_status(), 500);
        assert_eq!(err.xrpc_name(), "InternalServerError");
        assert!(!err.xrpc_message().contains("rng"));
    }

    #[test]
    fn store_conflicts_map_to_their_xrpc_names() {
        assert_eq!(
            AuthError::from(AccountsError::HandleTaken).xrpc_name(),
            "HandleNotAvailable"
        );
        assert_eq!(
            AuthError::from(AccountsError::InviteCodeUnavailable).xrpc_name(),
            "InvalidInviteCode"
        );
    }
}
