//! Invite codes in the reference PDS's format: the hostname with dots turned into dashes, then two
//! groups of five lowercase base32 characters (`pds-example-com-abcde-fghij`, 50 bits of chance).

use super::random::random_base32;
use super::AuthError;
use crate::storage::AccountStore;

/// The most codes one call creates.
pub const MAX_CODES_PER_CALL: usize = 1000;

/// A fresh invite code for a server at `hostname`.
pub fn generate_invite_code(hostname: &str) -> Result<String, AuthError> {
    Ok(format!(
        "{}-{}-{}",
        hostname.replace('.', "-"),
        random_base32(5)?,
        random_base32(5)?
    ))
}

/// Creates `count` codes, each usable `uses` times, issued to `for_account` by `created_by`
/// (`admin` for the operator), and returns them.
pub async fn create_invite_codes(
    store: &AccountStore,
    hostname: &str,
    count: usize,
    uses: u32,
    for_account: &str,
    created_by: &str,
    now: i64,
) -> Result<Vec<String>, AuthError> {
    if count == 0 || count > MAX_CODES_PER_CALL || uses == 0 {
        return Err(AuthError::InvalidRequest(format!(
            "Create 1 to {MAX_CODES_PER_CALL} codes of at least one use"
        )));
    }
    let codes = (0..count)
        .map(|_| generate_invite_code(hostname))
        .collect::<Result<Vec<_>, _>>()?;
    store
        .create_invite_codes(&codes, uses, for_account, created_by, now)
        .await?;
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_reference_shape() {
        let code = generate_invite_code("pds.example.com").unwrap();
        let rest = code.strip_prefix("pds-example-com-").unwrap();
        let (a, b) = rest.split_once('-').unwrap();
        assert_eq!((a.len(), b.len()), (5, 5));
        assert_ne!(code, generate_invite_code("pds.example.com").unwrap());
    }
}
