//! The generic URI syntax of the lexicon `uri` string format.
//!
//! A URI here is an RFC 3986 scheme (a letter, then letters, digits, `+`, `-`, `.`), a colon, and at
//! least one more character, all of them visible ASCII (no spaces or controls); at most [`MAX_URI_LEN`]
//! bytes. Only the shape is checked: each scheme's own rules are the business of whoever uses the URI.

use super::error::excerpt;
use super::SyntaxError;

/// The longest URI accepted, in bytes.
pub const MAX_URI_LEN: usize = 8192;

/// Whether `s` has generic URI syntax.
pub fn is_valid_uri(s: &str) -> bool {
    check(s).is_ok()
}

/// Checks generic URI syntax, saying why `s` fails it.
pub fn validate_uri(s: &str) -> Result<(), SyntaxError> {
    check(s).map_err(|reason| SyntaxError::Uri {
        value: excerpt(s),
        reason,
    })
}

fn check(s: &str) -> Result<(), &'static str> {
    if s.len() > MAX_URI_LEN {
        return Err("longer than 8192 bytes");
    }
    let colon = s.find(':').ok_or("no scheme")?;
    let (scheme, rest) = (&s[..colon], &s[colon + 1..]);
    if !scheme.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("scheme does not start with a letter");
    }
    if !scheme
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Err("character not allowed in a scheme");
    }
    if rest.is_empty() {
        return Err("nothing after the scheme");
    }
    if !rest.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("space, control or non-ASCII character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_follow_rfc_3986() {
        assert!(is_valid_uri("git+ssh://example.com/repo"));
        assert!(is_valid_uri("a1:b"));
        assert!(!is_valid_uri("1a:b"));
        assert!(!is_valid_uri("a_b:c"));
        assert!(!is_valid_uri(":b"));
    }

    #[test]
    fn errors_say_why() {
        let e = validate_uri("https://exa mple.com").unwrap_err();
        assert!(matches!(
            e,
            SyntaxError::Uri {
                reason: "space, control or non-ASCII character",
                ..
            }
        ));
        assert!(validate_uri(&format!("https://a/{}", "x".repeat(MAX_URI_LEN))).is_err());
    }
}
