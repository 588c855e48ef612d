//! `com.atproto.admin.*`: the operator's methods, behind HTTP Basic `admin:<PDS_ADMIN_PASSWORD>` as
//! in the reference PDS ([`AdminAuth`]). Without a configured password every call is refused. The
//! handlers parse and check input and call [`crate::admin`], which the daemon's
//! `pocketpds account …` commands call too.

pub mod delete_account;
pub mod disable_account_invites;
pub mod disable_invite_codes;
pub mod enable_account_invites;
pub mod get_account_info;
pub mod get_account_infos;
pub mod get_invite_codes;
pub mod get_subject_status;
pub mod send_email;
pub mod update_account_email;
pub mod update_account_handle;
pub mod update_account_password;
pub mod update_subject_status;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::http::{AppState, XrpcError};
use crate::storage::Account;

/// A caller who presented the admin password.
#[derive(Debug, Clone, Copy)]
pub struct AdminAuth;

fn unauthorised() -> XrpcError {
    XrpcError::new(
        StatusCode::UNAUTHORIZED,
        "AuthenticationRequired",
        "Authentication Required",
    )
}

/// Whether `header` (an `Authorization` value) is `Basic` for `admin` with `password`. The
/// comparison is of SHA-256 digests, in time that does not depend on where they differ.
pub fn is_admin(header: &str, password: &str) -> bool {
    let Some((scheme, encoded)) = header.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Some((user, given)) = std::str::from_utf8(&decoded)
        .ok()
        .and_then(|text| text.split_once(':'))
    else {
        return false;
    };
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(password.as_bytes());
    let differ = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    user == "admin" && differ == 0
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, XrpcError> {
        let Some(password) = state.config.admin_password.as_deref() else {
            return Err(unauthorised());
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(unauthorised)?;
        if is_admin(given, password) {
            Ok(AdminAuth)
        } else {
            Err(unauthorised())
        }
    }
}

/// The hosted account a DID or handle names, or 400 `AccountNotFound`-style `InvalidRequest`.
pub(crate) async fn account(state: &AppState, identifier: &str) -> Result<Account, XrpcError> {
    let found = if identifier.starts_with("did:") {
        state.accounts.account_by_did(identifier).await?
    } else {
        state.accounts.account_by_handle(identifier).await?
    };
    found.ok_or_else(|| XrpcError::invalid_request("Account not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(credentials: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    }

    #[test]
    fn only_admin_with_the_password_passes() {
        assert!(is_admin(&basic("admin:s3cret"), "s3cret"));
        assert!(is_admin(
            &basic("admin:s3cret").replace("Basic", "basic"),
            "s3cret"
        ));
        for bad in [
            basic("admin:wrong"),
            basic("root:s3cret"),
            basic("admin:"),
            basic("admins3cret"),
            "Bearer s3cret".into(),
            "Basic !!!".into(),
            "Basic".into(),
            String::new(),
        ] {
            assert!(!is_admin(&bad, "s3cret"), "{bad}");
        }
    }
}
