//! Namespaced identifiers (NSIDs): the names of lexicons, record collections and XRPC methods, and the
//! [`Nsid`] type.
//!
//! An NSID is a domain authority written in reverse order followed by a name, such as
//! `com.atproto.repo.createRecord`: at least three `.`-separated segments, at most [`MAX_NSID_LEN`]
//! ASCII characters. The authority segments follow DNS label rules (1–63 letters, digits, hyphens; no
//! hyphen at either end) and the first one may not start with a digit. (The specification's 253-byte
//! bound on the authority is not enforced: the interop vectors accept a longer one, within the overall
//! 317.) The name is 1–63 letters and digits, starting with a letter; it is case-sensitive.

use super::error::{excerpt, string_newtype};
use super::handle::check_label;
use super::SyntaxError;

/// The longest NSID, in bytes.
pub const MAX_NSID_LEN: usize = 317;

/// The longest name segment of an NSID, in bytes.
pub const MAX_NAME_LEN: usize = 63;

/// Whether `s` is a syntactically valid NSID.
pub fn is_valid_nsid(s: &str) -> bool {
    check(s).is_ok()
}

/// The reason `s` is not a valid NSID, or the position of the dot before its name.
pub(crate) fn check(s: &str) -> Result<usize, &'static str> {
    if s.len() > MAX_NSID_LEN {
        return Err("longer than 317 bytes");
    }
    let dot = s.rfind('.').ok_or("needs at least three segments")?;
    let (authority, name) = (&s[..dot], &s[dot + 1..]);
    check_name(name)?;
    let mut segments = 0usize;
    for segment in authority.split('.') {
        check_label(segment)?;
        segments += 1;
    }
    if segments < 2 {
        return Err("needs at least three segments");
    }
    if authority.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("the first segment starts with a digit");
    }
    Ok(dot)
}

fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty name");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("name longer than 63 bytes");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("name is not ASCII letters and digits");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("name does not start with a letter");
    }
    Ok(())
}

/// A syntactically valid NSID, kept exactly as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nsid {
    text: String,
    name_dot: usize,
}

impl Nsid {
    /// Parses an NSID, refusing anything that is not valid NSID syntax.
    pub fn parse(s: &str) -> Result<Nsid, SyntaxError> {
        match check(s) {
            Ok(name_dot) => Ok(Nsid {
                text: s.to_owned(),
                name_dot,
            }),
            Err(reason) => Err(SyntaxError::Nsid {
                value: excerpt(s),
                reason,
            }),
        }
    }

    /// The NSID as a string.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The domain authority as written in the NSID (reversed): `com.atproto.repo` for
    /// `com.atproto.repo.createRecord`.
    pub fn authority(&self) -> &str {
        self.text.get(..self.name_dot).unwrap_or_default()
    }

    /// The domain authority as a DNS name (segments in DNS order, lowercased): `repo.atproto.com` for
    /// `com.atproto.repo.createRecord`.
    pub fn authority_domain(&self) -> String {
        let segments: Vec<&str> = self.authority().rsplit('.').collect();
        segments.join(".").to_ascii_lowercase()
    }

    /// The name segment: `createRecord` for `com.atproto.repo.createRecord`.
    pub fn name(&self) -> &str {
        self.text.get(self.name_dot + 1..).unwrap_or_default()
    }

    /// The NSID as an owned string.
    pub fn into_string(self) -> String {
        self.text
    }
}

string_newtype!(Nsid);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_and_name_are_split_at_the_last_dot() {
        let n = Nsid::parse("com.atproto.repo.createRecord").unwrap();
        assert_eq!(n.authority(), "com.atproto.repo");
        assert_eq!(n.name(), "createRecord");
        assert_eq!(n.authority_domain(), "repo.atproto.com");
        assert_eq!(n.to_string(), "com.atproto.repo.createRecord");
    }

    #[test]
    fn names_start_with_a_letter_and_hold_no_hyphen() {
        assert!(is_valid_nsid("a.b.c0"));
        assert!(!is_valid_nsid("a.b.0c"));
        assert!(!is_valid_nsid("a.b.c-d"));
        assert!(is_valid_nsid("a.b-c.d"));
    }

    #[test]
    fn hostile_inputs_are_refused() {
        let long = format!("{}.name", "a.".repeat(200));
        for s in [
            "", ".", "..", "a.b", "a..b.c", "a.b.", ".a.b.c", "a.b.c ", "a.b.ç", &long,
        ] {
            assert!(!is_valid_nsid(s), "{s:?}");
        }
    }
}
