//! Validation of Lexicon `string` values: `const`, `enum` (a closed set; `knownValues` is an open
//! one and never enforced), lengths in UTF-8 bytes, lengths in graphemes (extended grapheme
//! clusters of Unicode UAX #29, counted with `unicode-segmentation`), and the string formats, each
//! checked by the validator of the syntax room that the interop vectors test.
//!
//! Graphemes are counted only when the byte length cannot settle the question (a string never has
//! more graphemes than bytes), and at most once per value.

use ipld_core::ipld::Ipld;
use unicode_segmentation::UnicodeSegmentation;

use super::error::ValidationError;
use super::schema::{StringDef, StringFormat};
use super::validate::fail;
use crate::syntax;

/// A `string` value against its definition.
pub(super) fn string(def: &StringDef, value: &Ipld, path: &str) -> Result<(), ValidationError> {
    let Ipld::String(s) = value else {
        return fail(path, "must be a string");
    };
    if let Some(c) = &def.const_value {
        if s != c {
            return fail(path, format!("must be {c}"));
        }
    }
    if let Some(values) = &def.enum_values {
        if !values.contains(s) {
            return fail(path, format!("must be one of ({})", values.join("|")));
        }
    }
    if let Some(max) = def.max_length {
        if s.len() > max {
            return fail(path, format!("must not be longer than {max} bytes (UTF-8)"));
        }
    }
    if let Some(min) = def.min_length {
        if s.len() < min {
            return fail(
                path,
                format!("must not be shorter than {min} bytes (UTF-8)"),
            );
        }
    }
    check_graphemes(def, s, path)?;
    match def.format {
        Some(format) if !matches_format(format, s) => fail(path, format_reason(format)),
        _ => Ok(()),
    }
}

/// `maxGraphemes` and `minGraphemes`.
fn check_graphemes(def: &StringDef, s: &str, path: &str) -> Result<(), ValidationError> {
    let mut count = None;
    let mut graphemes = || *count.get_or_insert_with(|| s.graphemes(true).count());
    if let Some(max) = def.max_graphemes {
        if s.len() > max && graphemes() > max {
            return fail(path, format!("must not be longer than {max} graphemes"));
        }
    }
    if let Some(min) = def.min_graphemes {
        if s.len() < min || graphemes() < min {
            return fail(path, format!("must not be shorter than {min} graphemes"));
        }
    }
    Ok(())
}

/// Whether `s` has the syntax of `format`.
pub(super) fn matches_format(format: StringFormat, s: &str) -> bool {
    match format {
        StringFormat::AtIdentifier => syntax::is_valid_at_identifier(s),
        StringFormat::AtUri => syntax::is_valid_at_uri(s),
        StringFormat::Cid => syntax::is_valid_cid_string(s) && cid::Cid::try_from(s).is_ok(),
        StringFormat::Datetime => syntax::is_valid_datetime(s),
        StringFormat::Did => syntax::is_valid_did(s),
        StringFormat::Handle => syntax::is_valid_handle(s),
        StringFormat::Language => syntax::is_valid_language(s),
        StringFormat::Nsid => syntax::is_valid_nsid(s),
        StringFormat::RecordKey => syntax::is_valid_record_key(s),
        StringFormat::Tid => syntax::is_valid_tid(s),
        StringFormat::Uri => syntax::is_valid_uri(s),
    }
}

fn format_reason(format: StringFormat) -> String {
    match format {
        StringFormat::AtIdentifier => "must be a valid did or a handle".to_owned(),
        StringFormat::Datetime => {
            "must be a valid atproto datetime (both RFC-3339 and ISO-8601)".to_owned()
        }
        StringFormat::Language => "must be a well-formed BCP 47 language tag".to_owned(),
        StringFormat::Cid => "must be a cid string".to_owned(),
        other => format!("must be a valid {}", other.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(def: &StringDef, s: &str) -> Result<(), ValidationError> {
        string(def, &Ipld::String(s.into()), "Record/text")
    }

    #[test]
    fn byte_lengths_count_utf8_bytes() {
        let def = StringDef {
            min_length: Some(2),
            max_length: Some(4),
            ..Default::default()
        };
        assert!(check(&def, "ab").is_ok());
        assert!(check(&def, "é").is_ok(), "two bytes");
        assert!(check(&def, "a").is_err());
        assert!(check(&def, "ééé").is_err(), "six bytes, three characters");
        assert!(string(&def, &Ipld::Integer(3), "p").is_err());
    }

    #[test]
    fn grapheme_lengths_count_clusters_not_code_points() {
        let def = StringDef {
            min_graphemes: Some(2),
            max_graphemes: Some(3),
            ..Default::default()
        };
        let family = "\u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F466}";
        let flag = "\u{1F1E9}\u{1F1EA}";
        let accented = "e\u{301}";
        assert!(
            check(&def, &family.repeat(3)).is_ok(),
            "3 clusters, 8 code points"
        );
        assert!(check(&def, &accented.repeat(3)).is_ok());
        assert!(check(&def, &flag.repeat(2)).is_ok());
        let long = check(&def, &flag.repeat(4)).unwrap_err();
        assert_eq!(
            long.to_string(),
            "Record/text must not be longer than 3 graphemes"
        );
        assert!(check(&def, family).is_err(), "one cluster, many bytes");
        assert!(check(&def, "a").is_err());
    }

    #[test]
    fn enum_is_closed_and_known_values_open() {
        let closed = StringDef {
            enum_values: Some(vec!["fish".into(), "tree".into()]),
            ..Default::default()
        };
        assert!(check(&closed, "fish").is_ok());
        assert_eq!(
            check(&closed, "rock").unwrap_err().reason,
            "must be one of (fish|tree)"
        );
        let open = StringDef {
            known_values: Some(vec!["blue".into()]),
            ..Default::default()
        };
        assert!(check(&open, "any colour at all").is_ok());
        let fixed = StringDef {
            const_value: Some("x".into()),
            ..Default::default()
        };
        assert!(check(&fixed, "y").is_err());
    }

    #[test]
    fn formats_use_the_syntax_validators() {
        let cases = [
            (StringFormat::Did, "did:plc:abc123", "did:nope"),
            (StringFormat::Handle, "alice.example.com", "alice"),
            (
                StringFormat::AtIdentifier,
                "did:web:example.com",
                "bad handle",
            ),
            (StringFormat::Nsid, "app.bsky.feed.post", "post"),
            (
                StringFormat::AtUri,
                "at://did:plc:abc/app.bsky.feed.post/3k",
                "https://x.com",
            ),
            (
                StringFormat::Cid,
                "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq",
                "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabw",
            ),
            (StringFormat::Datetime, "2024-01-01T00:00:00Z", "2024-01-01"),
            (StringFormat::Language, "pt-BR", "123"),
            (StringFormat::Tid, "3jzfcijpj2z2a", "000"),
            (StringFormat::RecordKey, "self", "."),
            (StringFormat::Uri, "https://example.com/a", "example"),
        ];
        for (format, good, bad) in cases {
            let def = StringDef {
                format: Some(format),
                ..Default::default()
            };
            assert!(check(&def, good).is_ok(), "{} {good}", format.name());
            assert!(check(&def, bad).is_err(), "{} {bad}", format.name());
        }
    }
}
