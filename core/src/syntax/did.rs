//! Decentralized identifiers (DIDs): the syntax atproto accepts for any DID method, and the [`Did`] type.
//!
//! A DID is `did:<method>:<identifier>`: the method is one or more lowercase ASCII letters; the
//! identifier is one or more of `A-Z a-z 0-9 . _ : % -` and does not end with `:` or `%`. The whole
//! string is at most [`MAX_DID_LEN`] bytes. Percent signs are not checked for two hex digits after
//! them (the atproto syntax does not require it); method-specific rules (`did:plc`, `did:web`) belong to
//! the identity room.

use super::error::{excerpt, string_newtype};
use super::SyntaxError;

/// The longest DID atproto accepts, in bytes.
pub const MAX_DID_LEN: usize = 2048;

/// Whether `s` is a syntactically valid DID.
pub fn is_valid_did(s: &str) -> bool {
    check(s).is_ok()
}

/// The reason `s` is not a valid DID, or the length of its method name.
pub(crate) fn check(s: &str) -> Result<usize, &'static str> {
    if s.len() > MAX_DID_LEN {
        return Err("longer than 2048 bytes");
    }
    let rest = s
        .strip_prefix("did:")
        .ok_or("does not start with \"did:\"")?;
    let colon = rest.find(':').ok_or("no ':' after the method")?;
    let (method, identifier) = (&rest[..colon], &rest[colon + 1..]);
    if method.is_empty() {
        return Err("empty method");
    }
    if !method.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err("method is not lowercase ASCII letters");
    }
    if identifier.is_empty() {
        return Err("empty method-specific identifier");
    }
    if !identifier.bytes().all(is_identifier_byte) {
        return Err("character not allowed in the identifier");
    }
    if identifier.ends_with([':', '%']) {
        return Err("ends with ':' or '%'");
    }
    Ok(method.len())
}

fn is_identifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-')
}

/// A syntactically valid DID, kept exactly as written (DIDs are case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Did {
    text: String,
    method_len: usize,
}

impl Did {
    /// Parses a DID, refusing anything that is not valid DID syntax.
    pub fn parse(s: &str) -> Result<Did, SyntaxError> {
        match check(s) {
            Ok(method_len) => Ok(Did {
                text: s.to_owned(),
                method_len,
            }),
            Err(reason) => Err(SyntaxError::Did {
                value: excerpt(s),
                reason,
            }),
        }
    }

    /// The DID as a string.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The method name, such as `plc` or `web`.
    pub fn method(&self) -> &str {
        self.text.get(4..4 + self.method_len).unwrap_or_default()
    }

    /// The method-specific identifier: everything after `did:<method>:`.
    pub fn identifier(&self) -> &str {
        self.text.get(5 + self.method_len..).unwrap_or_default()
    }

    /// The DID as an owned string.
    pub fn into_string(self) -> String {
        self.text
    }
}

string_newtype!(Did);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_and_identifier_are_split_at_the_second_colon() {
        let did = Did::parse("did:web:localhost%3A1234:user").unwrap();
        assert_eq!(did.method(), "web");
        assert_eq!(did.identifier(), "localhost%3A1234:user");
        assert_eq!(did.to_string(), "did:web:localhost%3A1234:user");
    }

    #[test]
    fn length_limit_is_2048_bytes() {
        let ok = format!("did:plc:{}", "a".repeat(MAX_DID_LEN - 8));
        assert!(is_valid_did(&ok));
        let long = format!("{ok}a");
        let err = Did::parse(&long).unwrap_err();
        assert!(matches!(
            err,
            SyntaxError::Did {
                reason: "longer than 2048 bytes",
                ..
            }
        ));
    }

    #[test]
    fn hostile_inputs_are_refused() {
        for s in [
            "",
            "did:",
            "did::x",
            "did:plc:",
            "did:plc:a:",
            "did:plc:a%",
            "did:pl1:a",
            "did:plc:é",
        ] {
            assert!(!is_valid_did(s), "{s}");
        }
    }

    #[test]
    fn serde_uses_the_string_and_checks_it() {
        let did: Did = serde_json::from_str("\"did:plc:abc\"").unwrap();
        assert_eq!(serde_json::to_string(&did).unwrap(), "\"did:plc:abc\"");
        assert!(serde_json::from_str::<Did>("\"did:PLC:abc\"").is_err());
        assert!(serde_json::from_str::<Did>("12").is_err());
    }
}
