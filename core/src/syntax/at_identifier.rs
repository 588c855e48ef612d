//! At-identifiers: a DID or a handle, as accepted where an account may be named either way (the
//! authority of an AT-URI, the `repo` parameter of many XRPC methods), and the [`AtIdentifier`] type.

use super::error::{excerpt, string_newtype};
use super::{did, handle, Did, Handle, SyntaxError};

/// Whether `s` is a valid DID or a valid handle.
pub fn is_valid_at_identifier(s: &str) -> bool {
    check(s).is_ok()
}

/// The reason `s` is neither a DID nor a handle. Strings starting with `did:` are judged as DIDs,
/// everything else as handles.
pub(crate) fn check(s: &str) -> Result<(), &'static str> {
    if s.starts_with("did:") {
        did::check(s).map(|_| ())
    } else {
        handle::check(s)
    }
}

/// A DID or a handle (the handle normalised to lowercase).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AtIdentifier {
    /// A DID.
    Did(Did),
    /// A handle.
    Handle(Handle),
}

impl AtIdentifier {
    /// Parses a DID (if `s` starts with `did:`) or else a handle.
    pub fn parse(s: &str) -> Result<AtIdentifier, SyntaxError> {
        let parsed = if s.starts_with("did:") {
            Did::parse(s).map(AtIdentifier::Did)
        } else {
            Handle::parse(s).map(AtIdentifier::Handle)
        };
        parsed.map_err(|e| SyntaxError::AtIdentifier {
            value: excerpt(s),
            reason: reason_of(&e),
        })
    }

    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        match self {
            AtIdentifier::Did(d) => d.as_str(),
            AtIdentifier::Handle(h) => h.as_str(),
        }
    }

    /// The DID, if this is one.
    pub fn as_did(&self) -> Option<&Did> {
        match self {
            AtIdentifier::Did(d) => Some(d),
            AtIdentifier::Handle(_) => None,
        }
    }

    /// The handle, if this is one.
    pub fn as_handle(&self) -> Option<&Handle> {
        match self {
            AtIdentifier::Handle(h) => Some(h),
            AtIdentifier::Did(_) => None,
        }
    }
}

impl From<Did> for AtIdentifier {
    fn from(did: Did) -> Self {
        AtIdentifier::Did(did)
    }
}

impl From<Handle> for AtIdentifier {
    fn from(handle: Handle) -> Self {
        AtIdentifier::Handle(handle)
    }
}

/// The reason carried by a DID or handle error.
fn reason_of(e: &SyntaxError) -> &'static str {
    match e {
        SyntaxError::Did { reason, .. } | SyntaxError::Handle { reason, .. } => reason,
        _ => "neither a DID nor a handle",
    }
}

string_newtype!(AtIdentifier);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_starting_with_did_are_dids_and_others_are_handles() {
        let d = AtIdentifier::parse("did:plc:abc").unwrap();
        assert_eq!(d.as_did().map(Did::method), Some("plc"));
        let h = AtIdentifier::parse("Alice.Test").unwrap();
        assert_eq!(h.as_handle().map(Handle::as_str), Some("alice.test"));
        assert_eq!(h.to_string(), "alice.test");
    }

    #[test]
    fn errors_keep_the_reason_of_the_underlying_format() {
        let e = AtIdentifier::parse("did:plc:").unwrap_err();
        assert!(matches!(
            e,
            SyntaxError::AtIdentifier {
                reason: "empty method-specific identifier",
                ..
            }
        ));
        assert!(!is_valid_at_identifier("@alice.test"));
        assert!(!is_valid_at_identifier(""));
    }
}
