//! Random identifiers of the authorization server — request ids, codes, session ids, refresh token
//! secrets, token ids, device and CSRF cookies — drawn from the operating system and written as
//! unpadded base64url behind a short prefix that says what they are.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::TryRng;

use super::OAuthError;

/// `prefix` followed by `N` random bytes in unpadded base64url.
pub fn random_id<const N: usize>(prefix: &str) -> Result<String, OAuthError> {
    let mut bytes = [0u8; N];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| OAuthError::Internal(format!("random number generator: {e}")))?;
    let mut out = String::with_capacity(prefix.len() + N * 4 / 3 + 2);
    out.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(bytes, &mut out);
    Ok(out)
}

/// Whether `text` is `prefix` followed by unpadded base64url of `N` bytes.
pub fn is_id<const N: usize>(text: &str, prefix: &str) -> bool {
    let Some(rest) = text.strip_prefix(prefix) else {
        return false;
    };
    let mut buf = [0u8; N];
    rest.len() == (N * 4).div_ceil(3)
        && matches!(URL_SAFE_NO_PAD.decode_slice(rest, &mut buf), Ok(n) if n == N)
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_their_prefix_and_length_and_differ() {
        let a = random_id::<16>("req-").unwrap();
        let b = random_id::<16>("req-").unwrap();
        assert_ne!(a, b);
        assert!(is_id::<16>(&a, "req-"));
        assert!(!is_id::<16>(&a, "cod-"));
        assert!(!is_id::<32>(&a, "req-"));
        assert!(!is_id::<16>("req-!!!!!!!!!!!!!!!!!!!!!!", "req-"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
