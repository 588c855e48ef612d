//! Record keys: the last segment of a record's path in a repository, and the [`RecordKey`] type.
//!
//! A record key is 1–[`MAX_RECORD_KEY_LEN`] characters of `A-Z a-z 0-9 . _ : ~ -`, and is neither `.`
//! nor `..`. Collections may restrict their keys further (to TIDs, or to the literal `self`); that is
//! lexicon policy, checked elsewhere.

use super::error::{excerpt, string_newtype};
use super::{SyntaxError, Tid};

/// The longest record key, in bytes.
pub const MAX_RECORD_KEY_LEN: usize = 512;

/// Whether `s` is a syntactically valid record key.
pub fn is_valid_record_key(s: &str) -> bool {
    check(s).is_ok()
}

/// The reason `s` is not a valid record key.
pub(crate) fn check(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty");
    }
    if s.len() > MAX_RECORD_KEY_LEN {
        return Err("longer than 512 bytes");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'~' | b'-'))
    {
        return Err("character not allowed in a record key");
    }
    if s == "." || s == ".." {
        return Err("'.' and '..' are not record keys");
    }
    Ok(())
}

/// A syntactically valid record key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey(String);

impl RecordKey {
    /// Parses a record key, refusing anything that is not valid record-key syntax.
    pub fn parse(s: &str) -> Result<RecordKey, SyntaxError> {
        match check(s) {
            Ok(()) => Ok(RecordKey(s.to_owned())),
            Err(reason) => Err(SyntaxError::RecordKey {
                value: excerpt(s),
                reason,
            }),
        }
    }

    /// The record key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The record key as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

string_newtype!(RecordKey);

impl From<Tid> for RecordKey {
    /// The record key spelled as the TID (13 base32-sortable characters, always a valid key).
    fn from(tid: Tid) -> Self {
        RecordKey(tid.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_double_dot_are_refused_but_longer_dot_runs_are_not() {
        assert!(!is_valid_record_key("."));
        assert!(!is_valid_record_key(".."));
        assert!(is_valid_record_key("..."));
        assert!(is_valid_record_key("self."));
    }

    #[test]
    fn a_tid_is_a_record_key() {
        let tid = Tid::parse("3jzfcijpj2z2a").unwrap();
        let key = RecordKey::from(tid);
        assert_eq!(key.as_str(), "3jzfcijpj2z2a");
        assert!(is_valid_record_key(key.as_str()));
    }

    #[test]
    fn length_is_1_to_512() {
        assert!(!is_valid_record_key(""));
        assert!(is_valid_record_key(&"k".repeat(512)));
        let err = RecordKey::parse(&"k".repeat(513)).unwrap_err();
        assert!(matches!(
            err,
            SyntaxError::RecordKey {
                reason: "longer than 512 bytes",
                ..
            }
        ));
    }

    #[test]
    fn every_allowed_punctuation_mark_is_accepted_and_others_are_not() {
        assert_eq!(
            RecordKey::parse("a.b_c:d~e-f").unwrap().as_str(),
            "a.b_c:d~e-f"
        );
        for s in ["a/b", "a b", "a%20", "a#", "a?", "a@b", "é", "a\0"] {
            assert!(!is_valid_record_key(s), "{s:?}");
        }
    }
}
