//! Handles: DNS names used as human-readable account names, and the [`Handle`] type.
//!
//! A handle is at most [`MAX_HANDLE_LEN`] ASCII characters: two or more labels joined by `.`, each 1–63
//! letters, digits and hyphens, neither starting nor ending with a hyphen; the last label (the TLD)
//! starts with a letter. Handles are case-insensitive; [`Handle::parse`] lowercases them. Some TLDs are
//! valid syntax but may not be registered as handles ([`is_disallowed_tld`]); that policy is applied by
//! callers, not by the syntax check.

use super::error::{excerpt, string_newtype};
use super::SyntaxError;

/// The longest handle, in bytes.
pub const MAX_HANDLE_LEN: usize = 253;

/// The longest label (the text between dots) of a handle, in bytes.
pub const MAX_LABEL_LEN: usize = 63;

/// The TLDs that are valid syntax but not allowed for handles in the network.
pub const DISALLOWED_TLDS: [&str; 8] = [
    "local",
    "arpa",
    "invalid",
    "localhost",
    "internal",
    "example",
    "onion",
    "alt",
];

/// Whether `s` is a syntactically valid handle (in any letter case).
pub fn is_valid_handle(s: &str) -> bool {
    check(s).is_ok()
}

/// Whether the last label of `handle` is one of [`DISALLOWED_TLDS`], in any letter case.
pub fn is_disallowed_tld(handle: &str) -> bool {
    let tld = handle.rsplit('.').next().unwrap_or_default();
    DISALLOWED_TLDS.iter().any(|d| d.eq_ignore_ascii_case(tld))
}

/// The reason `s` is not a valid handle.
pub(crate) fn check(s: &str) -> Result<(), &'static str> {
    if s.len() > MAX_HANDLE_LEN {
        return Err("longer than 253 bytes");
    }
    let mut labels = 0usize;
    let mut last = "";
    for label in s.split('.') {
        check_label(label)?;
        labels += 1;
        last = label;
    }
    if labels < 2 {
        return Err("needs at least two labels");
    }
    if !last.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("the last label does not start with a letter");
    }
    Ok(())
}

/// The reason `label` is not a valid DNS label (1–63 letters, digits, hyphens; no hyphen at either end).
pub(crate) fn check_label(label: &str) -> Result<(), &'static str> {
    if label.is_empty() {
        return Err("empty label");
    }
    if label.len() > MAX_LABEL_LEN {
        return Err("label longer than 63 bytes");
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err("character not allowed in a label");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("label starts or ends with a hyphen");
    }
    Ok(())
}

/// A syntactically valid handle, normalised to lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Handle(String);

impl Handle {
    /// Parses a handle and lowercases it; refuses anything that is not valid handle syntax.
    pub fn parse(s: &str) -> Result<Handle, SyntaxError> {
        match check(s) {
            Ok(()) => Ok(Handle(s.to_ascii_lowercase())),
            Err(reason) => Err(SyntaxError::Handle {
                value: excerpt(s),
                reason,
            }),
        }
    }

    /// The handle as a (lowercase) string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this handle ends in one of the [`DISALLOWED_TLDS`].
    pub fn has_disallowed_tld(&self) -> bool {
        is_disallowed_tld(&self.0)
    }

    /// The handle as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

string_newtype!(Handle);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_lowercases_the_handle() {
        let h = Handle::parse("Alice.Bsky.SOCIAL").unwrap();
        assert_eq!(h.as_str(), "alice.bsky.social");
        assert_eq!(h, "alice.bsky.social".parse().unwrap());
    }

    #[test]
    fn disallowed_tlds_are_valid_syntax_but_flagged() {
        for h in [
            "laptop.local",
            "x.ARPA",
            "handle.invalid",
            "a.localhost",
            "a.internal",
            "a.example",
            "a.onion",
            "a.alt",
        ] {
            assert!(is_valid_handle(h), "{h}");
            assert!(is_disallowed_tld(h), "{h}");
        }
        assert!(!is_disallowed_tld("alice.test"));
        assert!(!is_disallowed_tld("alice.localx"));
        assert!(!Handle::parse("alice.com").unwrap().has_disallowed_tld());
    }

    #[test]
    fn hostile_inputs_are_refused() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long = format!("{}com", "a.".repeat(127));
        for s in [
            "",
            ".",
            "a.",
            ".a",
            "a..b",
            "com",
            "a.-b",
            "a.b-",
            "a.1b",
            "é.com",
            &long_label,
            &long,
        ] {
            assert!(!is_valid_handle(s), "{s}");
        }
    }
}
