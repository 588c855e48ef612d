//! The one error type of the syntax room, and the helpers that build and (de)serialise its values.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

/// The longest excerpt of an offending value kept in a [`SyntaxError`], in characters: enough to
/// recognise it, small enough that hostile input cannot make error messages huge.
const EXCERPT_CHARS: usize = 100;

/// A string that is not a valid value of one atproto format. Each variant names the format, carries
/// (an excerpt of) the offending value and a short reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// Not a valid DID.
    #[error("invalid DID {value:?}: {reason}")]
    Did {
        /// The offending value (an excerpt if it was long).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Not a valid handle.
    #[error("invalid handle {value:?}: {reason}")]
    Handle {
        /// The offending value (an excerpt if it was long).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Neither a valid DID nor a valid handle.
    #[error("invalid at-identifier {value:?}: {reason}")]
    AtIdentifier {
        /// The offending value (an excerpt if it was long).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Not a valid NSID.
    #[error("invalid NSID {value:?}: {reason}")]
    Nsid {
        /// The offending value (an excerpt if it was long).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Not a valid record key.
    #[error("invalid record key {value:?}: {reason}")]
    RecordKey {
        /// The offending value (an excerpt if it was long).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Not a valid TID, or no TID can be built from the given parts.
    #[error("invalid TID {value:?}: {reason}")]
    Tid {
        /// The offending value (an excerpt if it was long).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Not a valid AT-URI.
    #[error("invalid AT-URI {value:?}: {reason}")]
    AtUri {
        /// The offending value (an excerpt if it was long).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Not a valid atproto datetime, or a timestamp that cannot be written as one.
    #[error("invalid datetime {value:?}: {reason}")]
    Datetime {
        /// The offending value (an excerpt if it was long).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Not a valid BCP-47 language tag.
    #[error("invalid language tag {value:?}: {reason}")]
    Language {
        /// The offending value (an excerpt if it was long).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Not a CID in string form.
    #[error("invalid CID string {value:?}: {reason}")]
    Cid {
        /// The offending value (an excerpt if it was long).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Not a valid generic URI.
    #[error("invalid URI {value:?}: {reason}")]
    Uri {
        /// The offending value (an excerpt if it was long).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

/// At most [`EXCERPT_CHARS`] characters of `value`, with `…` when it was cut.
pub(crate) fn excerpt(value: &str) -> String {
    match value.char_indices().nth(EXCERPT_CHARS) {
        None => value.to_owned(),
        Some((cut, _)) => format!("{}…", value.get(..cut).unwrap_or_default()),
    }
}

/// Deserialises a value of `T` from a string (borrowed or owned) through its `FromStr`.
pub(crate) fn deserialize_parsed<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: FromStr<Err = SyntaxError>,
{
    struct ParsedVisitor<T>(PhantomData<T>);

    impl<T: FromStr<Err = SyntaxError>> serde::de::Visitor<'_> for ParsedVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }
    }

    deserializer.deserialize_str(ParsedVisitor(PhantomData))
}

/// Implements `Display`, `FromStr` (through `parse`), `AsRef<str>`, `Serialize` and `Deserialize` (as a
/// string) for a newtype that has `fn as_str(&self) -> &str` and `fn parse(&str) -> Result<Self,
/// SyntaxError>`.
macro_rules! string_newtype {
    ($ty:ident) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::syntax::SyntaxError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                $crate::syntax::error::deserialize_parsed(deserializer)
            }
        }
    };
}
pub(crate) use string_newtype;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_to_an_excerpt() {
        let long = "é".repeat(10_000);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn error_messages_name_the_format_the_value_and_the_reason() {
        let e = SyntaxError::Nsid {
            value: "a.b".into(),
            reason: "too few segments",
        };
        assert_eq!(e.to_string(), "invalid NSID \"a.b\": too few segments");
    }
}
