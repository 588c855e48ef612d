//! `com.atproto.server.*`: the server's description, accounts and sessions.

pub mod account_status;
pub mod confirm_email;
pub mod create_account;
pub mod create_app_password;
pub mod create_invite_code;
pub mod create_invite_codes;
pub mod create_session;
pub mod delete_account;
pub mod delete_session;
pub mod describe_server;
pub(crate) mod email_code;
pub mod get_account_invite_codes;
pub mod get_service_auth;
pub mod get_session;
pub mod list_app_passwords;
pub mod refresh_session;
pub mod request_email_confirmation;
pub mod request_email_update;
pub mod request_password_reset;
pub mod reserve_signing_key;
pub mod reset_password;
pub mod revoke_app_password;
pub mod update_email;

use serde_json::{Map, Value};

use crate::http::XrpcError;
use crate::storage::{Account, AccountStatus};
use crate::syntax::format_datetime;

/// The account fields the session methods share (`did`, `handle`, `email`, `emailConfirmed`,
/// `emailAuthFactor`, `active`, and `status` when the account is not active), as the reference PDS reports them.
fn account_fields(account: &Account) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("did".into(), Value::from(account.did.clone()));
    fields.insert("handle".into(), Value::from(account.handle.clone()));
    if let Some(email) = &account.email {
        fields.insert("email".into(), Value::from(email.clone()));
    }
    fields.insert(
        "emailConfirmed".into(),
        Value::from(account.email_confirmed_at.is_some()),
    );
    fields.insert(
        "emailAuthFactor".into(),
        Value::from(account.email_auth_factor),
    );
    let status = account.status();
    fields.insert(
        "active".into(),
        Value::from(status == AccountStatus::Active),
    );
    if status != AccountStatus::Active {
        fields.insert("status".into(), Value::from(status.as_str()));
    }
    fields
}

/// An instant in whole seconds since the epoch as a Lexicon `datetime`.
pub(crate) fn datetime_from_secs(secs: i64) -> Result<String, XrpcError> {
    format_datetime(secs.saturating_mul(1_000_000)).map_err(XrpcError::internal)
}
