//! The `key` of a record definition: which record keys its records may be stored under.

use serde::Deserialize;

use crate::syntax::{is_valid_nsid, is_valid_record_key, is_valid_tid};

/// A record type's key constraint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum KeyConstraint {
    /// `tid`: a TID (records created over time: posts, likes, ...).
    Tid,
    /// `nsid`: an NSID.
    Nsid,
    /// `any`: any valid record key.
    Any,
    /// `literal:<value>`: exactly that key (`literal:self` for a profile).
    Literal(String),
}

impl TryFrom<String> for KeyConstraint {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "tid" => Ok(KeyConstraint::Tid),
            "nsid" => Ok(KeyConstraint::Nsid),
            "any" => Ok(KeyConstraint::Any),
            other => match other.strip_prefix("literal:") {
                Some(value) if is_valid_record_key(value) => {
                    Ok(KeyConstraint::Literal(value.to_owned()))
                }
                _ => Err(format!(
                    "record key constraint must be tid, nsid, any or literal:<key>, not {s:?}"
                )),
            },
        }
    }
}

impl KeyConstraint {
    /// Checks a record key (already a valid record key) against the constraint, saying what was
    /// expected when it fails.
    pub fn check(&self, rkey: &str) -> Result<(), String> {
        let ok = match self {
            KeyConstraint::Tid => is_valid_tid(rkey),
            KeyConstraint::Nsid => is_valid_nsid(rkey),
            KeyConstraint::Any => true,
            KeyConstraint::Literal(value) => rkey == value,
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            KeyConstraint::Tid => "must be a TID".to_owned(),
            KeyConstraint::Nsid => "must be an NSID".to_owned(),
            KeyConstraint::Any => "must be a record key".to_owned(),
            KeyConstraint::Literal(value) => format!("must be {value:?}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<KeyConstraint, String> {
        KeyConstraint::try_from(s.to_owned())
    }

    #[test]
    fn constraints_parse() {
        assert_eq!(parse("tid").unwrap(), KeyConstraint::Tid);
        assert_eq!(parse("nsid").unwrap(), KeyConstraint::Nsid);
        assert_eq!(parse("any").unwrap(), KeyConstraint::Any);
        assert_eq!(
            parse("literal:self").unwrap(),
            KeyConstraint::Literal("self".into())
        );
        for bad in ["", "TID", "literal:", "literal:..", "literal:a/b", "self"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_checked_against_the_constraint() {
        assert!(KeyConstraint::Tid.check("3jzfcijpj2z2a").is_ok());
        assert!(KeyConstraint::Tid.check("self").is_err());
        assert!(KeyConstraint::Nsid.check("com.example.thing").is_ok());
        assert!(KeyConstraint::Nsid.check("thing").is_err());
        assert!(KeyConstraint::Any.check("anything-goes").is_ok());
        let self_only = KeyConstraint::Literal("self".into());
        assert!(self_only.check("self").is_ok());
        assert_eq!(self_only.check("other").unwrap_err(), "must be \"self\"");
    }
}
