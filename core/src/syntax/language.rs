//! Language tags (BCP 47, RFC 5646) in the lexicon `language` string format.
//!
//! A tag is either a registered grandfathered tag (`i-default`), a private-use tag (`x-…`), or
//! `language[-extlang]*[-script][-region][-variant]*[-extension]*[-privateuse]`, each subtag of the
//! shape RFC 5646 §2.1 gives it. Two points are stricter than the bare grammar, as atproto's vectors
//! require: the primary language subtag is lowercase, and a four-letter primary subtag (reserved, never
//! assigned) is refused. [`is_well_formed_language`] checks that syntax; [`is_valid_language`] also
//! refuses a repeated variant or extension singleton (RFC 5646 §2.2.5, §2.2.6, §4.1), compared without
//! regard to case. Whether subtags are registered with IANA is not checked. Tags are at most
//! [`MAX_LANGUAGE_LEN`] bytes, far more than any real tag needs.

use super::error::excerpt;
use super::SyntaxError;

/// The longest language tag accepted, in bytes.
pub const MAX_LANGUAGE_LEN: usize = 256;

/// The most variants a tag of [`MAX_LANGUAGE_LEN`] bytes can hold (each takes at least five bytes).
const MAX_VARIANTS: usize = MAX_LANGUAGE_LEN / 5 + 1;

/// The grandfathered tags of RFC 5646 §2.2.8.
const GRANDFATHERED: [&str; 26] = [
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

/// Whether `s` is a well-formed language tag with no repeated variant or extension singleton.
pub fn is_valid_language(s: &str) -> bool {
    check(s, true).is_ok()
}

/// Whether `s` is a well-formed language tag, repeated variants or singletons allowed.
pub fn is_well_formed_language(s: &str) -> bool {
    check(s, false).is_ok()
}

/// Checks that `s` is a valid language tag (as [`is_valid_language`]), saying why not.
pub fn validate_language(s: &str) -> Result<(), SyntaxError> {
    check(s, true).map_err(|reason| SyntaxError::Language {
        value: excerpt(s),
        reason,
    })
}

fn is_alpha(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_alnum(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// The position in the langtag grammar reached so far; each subtag kind may only follow lower stages.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Language,
    Extlang,
    Script,
    Region,
    Variant,
    Extension,
}

/// The reason `s` is not a language tag; `strict` also refuses repeated variants and singletons.
fn check(s: &str, strict: bool) -> Result<(), &'static str> {
    if s.len() > MAX_LANGUAGE_LEN {
        return Err("longer than 256 bytes");
    }
    let mut subtags = s.split('-').peekable();
    let primary = subtags.next().unwrap_or_default();
    if GRANDFATHERED.iter().any(|g| g.eq_ignore_ascii_case(s))
        && primary.bytes().all(|b| b.is_ascii_lowercase())
    {
        return Ok(());
    }
    if primary.eq_ignore_ascii_case("x") {
        return check_private_use(subtags);
    }
    if !primary.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err("primary language subtag is not lowercase letters");
    }
    let short_language = matches!(primary.len(), 2 | 3);
    if !short_language && !(5..=8).contains(&primary.len()) {
        return Err("primary language subtag is not 2-3 or 5-8 letters");
    }

    let mut stage = Stage::Language;
    let mut extlangs = 0usize;
    let mut variants: [&str; MAX_VARIANTS] = [""; MAX_VARIANTS];
    let mut variant_count = 0usize;
    let mut singletons = 0u64;
    while let Some(subtag) = subtags.next() {
        let len = subtag.len();
        if len == 0 {
            return Err("empty subtag");
        }
        if !is_alnum(subtag) {
            return Err("subtag is not ASCII letters and digits");
        }
        if len == 1 {
            if subtag.eq_ignore_ascii_case("x") {
                return check_private_use(subtags);
            }
            let bit = 1u64 << singleton_index(subtag);
            if strict && singletons & bit != 0 {
                return Err("repeated extension singleton");
            }
            singletons |= bit;
            let mut parts = 0usize;
            while let Some(part) = subtags.next_if(|p| p.len() >= 2) {
                if part.len() > 8 || !is_alnum(part) {
                    return Err("extension subtag is not 2-8 letters and digits");
                }
                parts += 1;
            }
            if parts == 0 {
                return Err("extension singleton with no subtag after it");
            }
            stage = Stage::Extension;
        } else if len == 3
            && is_alpha(subtag)
            && stage <= Stage::Extlang
            && short_language
            && extlangs < 3
        {
            extlangs += 1;
            stage = Stage::Extlang;
        } else if len == 4 && is_alpha(subtag) && stage < Stage::Script {
            stage = Stage::Script;
        } else if ((len == 2 && is_alpha(subtag)) || (len == 3 && is_digits(subtag)))
            && stage < Stage::Region
        {
            stage = Stage::Region;
        } else if ((5..=8).contains(&len)
            || (len == 4 && subtag.starts_with(|c: char| c.is_ascii_digit())))
            && stage <= Stage::Variant
        {
            let seen = variants.get(..variant_count).unwrap_or_default();
            if strict && seen.iter().any(|v| v.eq_ignore_ascii_case(subtag)) {
                return Err("repeated variant subtag");
            }
            let slot = variants
                .get_mut(variant_count)
                .ok_or("too many variant subtags")?;
            *slot = subtag;
            variant_count += 1;
            stage = Stage::Variant;
        } else {
            return Err("subtag out of place or of the wrong shape");
        }
    }
    Ok(())
}

/// The bit of a singleton (a digit or a letter other than `x`) in the set of singletons seen.
fn singleton_index(singleton: &str) -> u32 {
    match singleton.bytes().next() {
        Some(b @ b'0'..=b'9') => u32::from(b - b'0'),
        Some(b) => 10 + u32::from(b.to_ascii_lowercase().wrapping_sub(b'a') % 26),
        None => 0,
    }
}

/// The subtags after an `x` singleton: at least one, each 1–8 letters and digits.
fn check_private_use<'a>(rest: impl Iterator<Item = &'a str>) -> Result<(), &'static str> {
    let mut count = 0usize;
    for subtag in rest {
        if subtag.is_empty() || subtag.len() > 8 || !is_alnum(subtag) {
            return Err("private-use subtag is not 1-8 letters and digits");
        }
        count += 1;
    }
    if count == 0 {
        return Err("private-use singleton with no subtag after it");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtags_are_recognised_by_shape_and_position() {
        for s in [
            "de",
            "de-CH",
            "de-DE-1901",
            "es-419",
            "zh-yue-HK",
            "zh-Hant-TW",
            "sl-IT-nedis",
            "mn-Cyrl-MN",
            "x-fr-CH",
            "sr-Latn-RS-u-ca-gregory-x-priv",
            "en-a-bbb-x-a-ccc",
            "abcdefgh",
        ] {
            assert!(is_valid_language(s), "{s}");
        }
        for s in [
            "de-CH-",
            "de--CH",
            "de-DE-419",
            "de-Latn-Latn",
            "en-x",
            "en-a",
            "en-a-x-y",
            "abcdefghi",
            "de-ç",
        ] {
            assert!(!is_well_formed_language(s), "{s}");
        }
    }

    #[test]
    fn repeats_are_well_formed_but_not_valid() {
        for s in [
            "de-DE-1901-1901",
            "en-rozaj-ROZAJ",
            "en-a-foo-a-bar",
            "en-u-co-phonebk-U-ca-buddhist",
        ] {
            assert!(is_well_formed_language(s), "{s}");
            assert!(!is_valid_language(s), "{s}");
        }
        let e = validate_language("en-a-foo-a-bar").unwrap_err();
        assert!(matches!(
            e,
            SyntaxError::Language {
                reason: "repeated extension singleton",
                ..
            }
        ));
    }

    #[test]
    fn grandfathered_tags_are_accepted_and_other_i_tags_are_not() {
        assert!(is_valid_language("i-klingon"));
        assert!(is_valid_language("en-GB-oed"));
        assert!(is_valid_language("sgn-ch-de"));
        assert!(!is_valid_language("i-bad-grandfathered"));
        assert!(!is_valid_language("I-KLINGON"));
    }

    #[test]
    fn hostile_inputs_are_refused() {
        let many_variants = format!("de{}", "-1901".repeat(60));
        let long = format!("x{}", "-a".repeat(200));
        for s in [
            "",
            "-",
            "x",
            "x-",
            "de-",
            "-de",
            "d",
            "DE",
            "deDE",
            &many_variants,
            &long,
        ] {
            assert!(!is_valid_language(s), "{s:?}");
        }
    }
}
