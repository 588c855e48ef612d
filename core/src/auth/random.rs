//! Secret random values drawn from the operating system: refresh token ids, salts, and the
//! lowercase base32 text of app passwords and invite codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::TryRng;

use super::AuthError;

/// The RFC 4648 base32 alphabet, lowercased (as the reference PDS writes app passwords).
const BASE32_LOWER: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `N` bytes from the operating system's random number generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut bytes = [0u8; N];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| AuthError::Internal(format!("random number generator: {e}")))?;
    Ok(bytes)
}

/// `len` random characters of lowercase base32 (5 bits of entropy each). Each character takes
/// one random byte modulo 32, which is uniform because 256 is a multiple of 32.
pub(crate) fn random_base32(len: usize) -> Result<String, AuthError> {
    let mut text = String::with_capacity(len);
    while text.len() < len {
        let bytes = random_bytes::<32>()?;
        for byte in bytes.iter().take(len - text.len()) {
            text.push(char::from(BASE32_LOWER[usize::from(byte & 31)]));
        }
    }
    Ok(text)
}

/// A code for a person to copy from a message: ten random base32 characters (50 bits) in two
/// uppercase groups, `ABCDE-FGHIJ`, as the reference PDS writes email codes.
pub(crate) fn email_code() -> Result<String, AuthError> {
    let text = random_base32(10)?.to_ascii_uppercase();
    Ok(format!("{}-{}", &text[..5], &text[5..]))
}

/// A fresh token id: 32 random bytes in unpadded base64url (256 bits, never guessed).
pub(crate) fn random_token_id() -> Result<String, AuthError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_codes_are_two_groups_of_five() {
        let code = email_code().unwrap();
        let (a, b) = code.split_once('-').unwrap();
        assert_eq!((a.len(), b.len()), (5, 5));
        assert!(code
            .bytes()
            .all(|c| c == b'-' || c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)));
        assert_ne!(email_code().unwrap(), code);
    }

    #[test]
    fn base32_text_has_the_length_and_alphabet_asked_for() {
        for len in [0, 1, 16, 31, 32, 33, 100] {
            let text = random_base32(len).unwrap();
            assert_eq!(text.len(), len);
            assert!(text.bytes().all(|b| BASE32_LOWER.contains(&b)));
        }
    }

    #[test]
    fn token_ids_differ() {
        let a = random_token_id().unwrap();
        let b = random_token_id().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
