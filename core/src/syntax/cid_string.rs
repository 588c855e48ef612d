//! The syntax of a CID in string form, as the lexicon `cid` string format checks it.
//!
//! This is a syntax check, not a decoder: 8–256 characters of `A-Z a-z 0-9 + =` (the alphabets of the
//! usual multibase encodings), and not a legacy CIDv0 (`Qm…`), which atproto does not use. Whether the
//! CID decodes, and whether its codec and hash are ones a repository accepts, is decided by
//! [`crate::repo::cid`].

use super::error::excerpt;
use super::SyntaxError;

/// The shortest CID string accepted.
pub const MIN_CID_STRING_LEN: usize = 8;

/// The longest CID string accepted.
pub const MAX_CID_STRING_LEN: usize = 256;

/// Whether `s` has the syntax of a (CIDv1) CID string.
pub fn is_valid_cid_string(s: &str) -> bool {
    check(s).is_ok()
}

/// Checks CID string syntax, saying why `s` fails it.
pub fn validate_cid_string(s: &str) -> Result<(), SyntaxError> {
    check(s).map_err(|reason| SyntaxError::Cid {
        value: excerpt(s),
        reason,
    })
}

fn check(s: &str) -> Result<(), &'static str> {
    if s.len() < MIN_CID_STRING_LEN {
        return Err("shorter than 8 characters");
    }
    if s.len() > MAX_CID_STRING_LEN {
        return Err("longer than 256 characters");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'=')
    {
        return Err("character outside the multibase alphabets");
    }
    if s.starts_with("Qm") {
        return Err("CIDv0 is not supported");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::cid::cid_for_raw;

    #[test]
    fn cids_made_by_the_repository_pass() {
        let cid = cid_for_raw(b"hello");
        assert!(is_valid_cid_string(&cid.to_string()));
    }

    #[test]
    fn cidv0_and_bad_lengths_are_refused() {
        let e = validate_cid_string("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR").unwrap_err();
        assert!(matches!(
            e,
            SyntaxError::Cid {
                reason: "CIDv0 is not supported",
                ..
            }
        ));
        assert!(!is_valid_cid_string("bafy"));
        assert!(!is_valid_cid_string(&"b".repeat(257)));
        assert!(!is_valid_cid_string("bafybeig/dyrzt5sfp7udm"));
    }
}
