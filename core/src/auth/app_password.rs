//! App passwords: random passwords in the reference PDS's format `xxxx-xxxx-xxxx-xxxx` (16 characters
//! of lowercase base32, 80 bits), created under a name, listed without their secret, and revoked
//! together with the sessions opened with them ([`crate::storage::AccountStore::delete_app_password`]).

use super::password::hash_app_password_async;
use super::random::random_base32;
use super::AuthError;
use crate::storage::AccountStore;

/// The longest app password name, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// A newly created app password: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedAppPassword {
    /// Its name.
    pub name: String,
    /// The password itself.
    pub password: String,
    /// When it was created.
    pub created_at: i64,
    /// Whether it is privileged.
    pub privileged: bool,
}

/// A fresh app password, `xxxx-xxxx-xxxx-xxxx`.
pub fn generate_app_password() -> Result<String, AuthError> {
    let text = random_base32(16)?;
    let mut password = String::with_capacity(19);
    for (index, ch) in text.chars().enumerate() {
        if index > 0 && index % 4 == 0 {
            password.push('-');
        }
        password.push(ch);
    }
    Ok(password)
}

/// Whether `text` has the shape of an app password.
pub fn is_app_password_format(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 4
        && groups.iter().all(|group| {
            group.len() == 4
                && group
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        })
}

/// Creates an app password named `name` for the account. A name already used by the account is
/// [`AuthError::AppPasswordNameTaken`].
pub async fn create_app_password(
    store: &AccountStore,
    did: &str,
    name: &str,
    privileged: bool,
    now: i64,
) -> Result<CreatedAppPassword, AuthError> {
    if name.trim().is_empty() || name.len() > MAX_NAME_LEN {
        return Err(AuthError::InvalidRequest(format!(
            "App password name must be 1 to {MAX_NAME_LEN} bytes"
        )));
    }
    let password = generate_app_password()?;
    let hash = hash_app_password_async(did, &password).await?;
    store
        .insert_app_password(did, name, &hash, privileged, now)
        .await?;
    Ok(CreatedAppPassword {
        name: name.to_owned(),
        password,
        created_at: now,
        privileged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_have_the_reference_format() {
        for _ in 0..50 {
            let password = generate_app_password().unwrap();
            assert_eq!(password.len(), 19);
            assert!(is_app_password_format(&password), "{password}");
        }
        assert_ne!(
            generate_app_password().unwrap(),
            generate_app_password().unwrap()
        );
    }

    #[test]
    fn other_shapes_are_not_app_passwords() {
        for text in [
            "",
            "abcd-efgh-ijkl",
            "abcd-efgh-ijkl-mnop-qrst",
            "ABCD-efgh-ijkl-mnop",
            "abcd-efgh-ijkl-mno1",
            "abcdefghijklmnop",
            "abc-defgh-ijkl-mnop",
        ] {
            assert!(!is_app_password_format(text), "{text}");
        }
    }
}
