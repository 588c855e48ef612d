//! AT-URIs as the lexicon `at-uri` string format restricts them, and the [`AtUri`] type.
//!
//! An AT-URI names an account, one of its collections, or one record:
//! `at://<authority>[/<collection>[/<rkey>]]`, where the authority is a DID or a handle, the collection
//! an NSID and the rkey a record key. No trailing slash, query or fragment is allowed, and the whole
//! string is at most [`MAX_AT_URI_LEN`] bytes.

use std::fmt::Write as _;

use super::error::{excerpt, string_newtype};
use super::{at_identifier, nsid, record_key};
use super::{AtIdentifier, Nsid, RecordKey, SyntaxError};

/// The longest AT-URI accepted, in bytes.
pub const MAX_AT_URI_LEN: usize = 8192;

const PREFIX: &str = "at://";

/// Whether `s` is a valid AT-URI in the restricted form lexicons use.
pub fn is_valid_at_uri(s: &str) -> bool {
    split(s).is_ok()
}

/// The authority, collection and record key parts of `s`, each checked, or the reason it is not an
/// AT-URI.
fn split(s: &str) -> Result<(&str, Option<&str>, Option<&str>), &'static str> {
    if s.len() > MAX_AT_URI_LEN {
        return Err("longer than 8192 bytes");
    }
    let rest = s
        .strip_prefix(PREFIX)
        .ok_or("does not start with \"at://\"")?;
    let mut parts = rest.splitn(3, '/');
    let authority = parts.next().unwrap_or_default();
    at_identifier::check(authority).map_err(|_| "authority is neither a DID nor a handle")?;
    let collection = parts.next();
    if let Some(c) = collection {
        nsid::check(c).map_err(|_| "collection is not an NSID")?;
    }
    let rkey = parts.next();
    if let Some(k) = rkey {
        record_key::check(k).map_err(|_| "record key is not valid")?;
    }
    Ok((authority, collection, rkey))
}

/// A valid AT-URI, split into its parts. A handle authority is lowercased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AtUri {
    text: String,
    authority: AtIdentifier,
    collection: Option<Nsid>,
    rkey: Option<RecordKey>,
}

impl AtUri {
    /// Parses an AT-URI, refusing anything but `at://<authority>[/<collection>[/<rkey>]]`.
    pub fn parse(s: &str) -> Result<AtUri, SyntaxError> {
        let error = |reason| SyntaxError::AtUri {
            value: excerpt(s),
            reason,
        };
        let (authority, collection, rkey) = split(s).map_err(error)?;
        let bad_part = |_| error("invalid part");
        let authority = AtIdentifier::parse(authority).map_err(bad_part)?;
        let collection = collection.map(Nsid::parse).transpose().map_err(bad_part)?;
        let rkey = rkey.map(RecordKey::parse).transpose().map_err(bad_part)?;
        Ok(AtUri::from_parts(authority, collection, rkey))
    }

    /// The AT-URI of an account (its repository): `at://<authority>`.
    pub fn for_repo(authority: impl Into<AtIdentifier>) -> AtUri {
        AtUri::from_parts(authority.into(), None, None)
    }

    /// The AT-URI of a collection: `at://<authority>/<collection>`.
    pub fn for_collection(authority: impl Into<AtIdentifier>, collection: Nsid) -> AtUri {
        AtUri::from_parts(authority.into(), Some(collection), None)
    }

    /// The AT-URI of a record: `at://<authority>/<collection>/<rkey>`.
    pub fn for_record(
        authority: impl Into<AtIdentifier>,
        collection: Nsid,
        rkey: RecordKey,
    ) -> AtUri {
        AtUri::from_parts(authority.into(), Some(collection), Some(rkey))
    }

    fn from_parts(
        authority: AtIdentifier,
        collection: Option<Nsid>,
        rkey: Option<RecordKey>,
    ) -> AtUri {
        let mut text = format!("{PREFIX}{}", authority.as_str());
        if let Some(c) = &collection {
            let _ = write!(text, "/{c}");
            if let Some(k) = &rkey {
                let _ = write!(text, "/{k}");
            }
        }
        let rkey = if collection.is_some() { rkey } else { None };
        AtUri {
            text,
            authority,
            collection,
            rkey,
        }
    }

    /// The AT-URI as a string.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The authority: the account's DID or handle.
    pub fn authority(&self) -> &AtIdentifier {
        &self.authority
    }

    /// The collection, if the URI names one.
    pub fn collection(&self) -> Option<&Nsid> {
        self.collection.as_ref()
    }

    /// The record key, if the URI names a record.
    pub fn rkey(&self) -> Option<&RecordKey> {
        self.rkey.as_ref()
    }
}

string_newtype!(AtUri);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::Did;

    #[test]
    fn parts_are_split_and_typed() {
        let uri = AtUri::parse("at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a").unwrap();
        assert_eq!(uri.authority().as_did().map(Did::method), Some("plc"));
        assert_eq!(uri.collection().map(Nsid::name), Some("post"));
        assert_eq!(uri.rkey().map(RecordKey::as_str), Some("3jzfcijpj2z2a"));
        assert_eq!(
            uri.to_string(),
            "at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a"
        );

        let repo = AtUri::parse("at://Alice.Test").unwrap();
        assert_eq!(repo.as_str(), "at://alice.test");
        assert!(repo.collection().is_none() && repo.rkey().is_none());
    }

    #[test]
    fn built_uris_parse_back_to_themselves() {
        let did = Did::parse("did:plc:abc").unwrap();
        let nsid = Nsid::parse("app.bsky.feed.like").unwrap();
        let rkey = RecordKey::parse("self").unwrap();
        let uri = AtUri::for_record(did.clone(), nsid.clone(), rkey);
        assert_eq!(AtUri::parse(uri.as_str()).unwrap(), uri);
        assert_eq!(
            AtUri::for_collection(did.clone(), nsid).as_str(),
            "at://did:plc:abc/app.bsky.feed.like"
        );
        assert_eq!(AtUri::for_repo(did).as_str(), "at://did:plc:abc");
    }

    #[test]
    fn hostile_inputs_are_refused() {
        let long = format!("at://did:plc:abc/a.b.c/{}", "k".repeat(MAX_AT_URI_LEN));
        for s in [
            "",
            "at://",
            "at:///",
            "at://did:plc:abc/",
            "at://did:plc:abc//x",
            "at://a.b/c.d.e/f/g",
            &long,
        ] {
            assert!(!is_valid_at_uri(s), "{s:?}");
            assert!(AtUri::parse(s).is_err(), "{s:?}");
        }
    }
}
