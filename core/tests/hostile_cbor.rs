//! Hostile and malformed DAG-CBOR: every input here must be refused by both `decode` and `validate`
//! with the same error, without panicking, overflowing the stack or allocating from declared lengths.

use std::collections::BTreeMap;

use pocketpds_core::repo::cbor::{decode, encode, validate, CborError, Ipld, MAX_DEPTH};
use pocketpds_core::repo::cid::{cid_for, cid_for_cbor, cid_for_raw};
use proptest::prelude::*;

/// Asserts that `bytes` is refused, identically by `decode` and `validate`, and returns the error.
fn refused(what: &str, bytes: &[u8]) -> CborError {
    let decoded = decode(bytes);
    let validated = validate(bytes);
    let Err(err) = decoded else {
        panic!("{what}: accepted {}", hex::encode(bytes));
    };
    assert_eq!(validated, Err(err.clone()), "{what}: validate disagrees");
    err
}

/// `[0xd8, 0x2a]` + byte string of `payload`.
fn tagged_cid_payload(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xd8, 0x2a, 0x58, u8::try_from(payload.len()).unwrap()];
    out.extend_from_slice(payload);
    out
}

/// A document holding every kind of value, in canonical form.
fn rich_document() -> Vec<u8> {
    let mut inner = BTreeMap::new();
    inner.insert("n".to_owned(), Ipld::Integer(-70_000));
    inner.insert("big".to_owned(), Ipld::Integer(i128::from(i64::MAX)));
    inner.insert("t".to_owned(), Ipld::String("héllo wörld".into()));
    let mut map = BTreeMap::new();
    map.insert(
        "$type".to_owned(),
        Ipld::String("com.example.record".into()),
    );
    map.insert("bytes".to_owned(), Ipld::Bytes(vec![0, 1, 2, 3, 255]));
    map.insert("link".to_owned(), Ipld::Link(cid_for_cbor(b"x")));
    map.insert("blob".to_owned(), Ipld::Link(cid_for_raw(b"y")));
    map.insert(
        "list".to_owned(),
        Ipld::List(vec![Ipld::Null, Ipld::Bool(true), Ipld::Bool(false)]),
    );
    map.insert("inner".to_owned(), Ipld::Map(inner));
    encode(&Ipld::Map(map)).unwrap()
}

#[test]
fn floats_of_every_width_are_refused() {
    for (what, bytes) in [
        ("half 1.0", &[0xf9, 0x3c, 0x00][..]),
        ("half NaN", &[0xf9, 0x7e, 0x00]),
        ("single 1.5", &[0xfa, 0x3f, 0xc0, 0x00, 0x00]),
        (
            "double 1.1",
            &[0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a],
        ),
        (
            "double in a map",
            &[0xa1, 0x61, b'a', 0xfb, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
    ] {
        assert!(
            matches!(refused(what, bytes), CborError::Float { .. }),
            "{what}"
        );
    }
}

#[test]
fn indefinite_lengths_and_stray_breaks_are_refused() {
    for (what, bytes) in [
        ("bytes", &[0x5f, 0x41, 0x01, 0xff][..]),
        ("text", &[0x7f, 0x61, b'a', 0xff]),
        ("array", &[0x9f, 0x01, 0xff]),
        ("map", &[0xbf, 0x61, b'a', 0x01, 0xff]),
        ("empty array", &[0x9f, 0xff]),
        ("break", &[0xff]),
        ("break in array", &[0x82, 0x01, 0xff]),
    ] {
        assert!(
            matches!(refused(what, bytes), CborError::IndefiniteLength { .. }),
            "{what}"
        );
    }
}

#[test]
fn map_keys_must_be_unique_text_in_canonical_order() {
    assert!(matches!(
        refused("unsorted", &[0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02]),
        CborError::UnsortedKeys { offset: 4 }
    ));
    assert!(matches!(
        refused(
            "longer first",
            &[0xa2, 0x62, b'a', b'a', 0x01, 0x61, b'z', 0x02]
        ),
        CborError::UnsortedKeys { .. }
    ));
    assert!(matches!(
        refused("duplicate", &[0xa2, 0x61, b'a', 0x01, 0x61, b'a', 0x02]),
        CborError::DuplicateKey { offset: 4 }
    ));
    for (what, bytes) in [
        ("integer key", &[0xa1, 0x01, 0x02][..]),
        ("bytes key", &[0xa1, 0x41, b'a', 0x02]),
        ("null key", &[0xa1, 0xf6, 0x02]),
        ("array key", &[0xa1, 0x80, 0x02]),
        ("map key", &[0xa1, 0xa0, 0x02]),
    ] {
        assert!(
            matches!(refused(what, bytes), CborError::NonTextKey { offset: 1 }),
            "{what}"
        );
    }
    let mut link_key = vec![0xa1];
    link_key.extend(tagged_cid_payload(
        &[[0u8].as_slice(), &cid_for_cbor(b"k").to_bytes()].concat(),
    ));
    link_key.push(0x01);
    assert!(matches!(
        refused("link key", &link_key),
        CborError::NonTextKey { .. }
    ));
}

#[test]
fn non_minimal_integers_lengths_and_tags_are_refused() {
    for (what, bytes) in [
        ("uint 0 in 1 byte", &[0x18, 0x00][..]),
        ("uint 23 in 1 byte", &[0x18, 0x17]),
        ("uint 1 in 2 bytes", &[0x19, 0x00, 0x01]),
        ("uint 255 in 2 bytes", &[0x19, 0x00, 0xff]),
        ("uint 1 in 4 bytes", &[0x1a, 0, 0, 0, 1]),
        ("uint 65535 in 4 bytes", &[0x1a, 0, 0, 0xff, 0xff]),
        ("uint 1 in 8 bytes", &[0x1b, 0, 0, 0, 0, 0, 0, 0, 1]),
        (
            "uint 2^32-1 in 8 bytes",
            &[0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
        ),
        ("negative -1 in 1 byte", &[0x38, 0x00]),
        ("negative in 2 bytes", &[0x39, 0x00, 0x10]),
        ("bytes length", &[0x58, 0x01, 0xaa]),
        ("text length", &[0x78, 0x01, b'a']),
        ("array length", &[0x98, 0x01, 0x01]),
        ("map length", &[0xb8, 0x01, 0x61, b'a', 0x01]),
        ("array length in 2 bytes", &[0x99, 0x00, 0x01, 0x01]),
        ("tag 42 in 2 bytes", &[0xd9, 0x00, 0x2a, 0x41, 0x00]),
    ] {
        assert!(
            matches!(refused(what, bytes), CborError::NonMinimal { offset: 0 }),
            "{what}"
        );
    }
    let mut cid_length = vec![0xd8, 0x2a, 0x59, 0x00, 0x25, 0x00];
    cid_length.extend(cid_for_cbor(b"x").to_bytes());
    assert!(matches!(
        refused("CID length in 2 bytes", &cid_length),
        CborError::NonMinimal { offset: 2 }
    ));
}

#[test]
fn integers_beyond_i64_are_refused() {
    assert!(matches!(
        refused("2^63", &[0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        CborError::IntegerOutOfRange { .. }
    ));
    assert!(matches!(
        refused(
            "u64::MAX",
            &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        ),
        CborError::IntegerOutOfRange { .. }
    ));
    assert!(matches!(
        refused("-2^63 - 1", &[0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        CborError::IntegerOutOfRange { .. }
    ));
    assert!(matches!(
        refused(
            "-2^64",
            &[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        ),
        CborError::IntegerOutOfRange { .. }
    ));
}

#[test]
fn tags_other_than_42_are_refused() {
    for (what, bytes, tag) in [
        ("date string", &[0xc0, 0x60][..], 0),
        ("epoch", &[0xc1, 0x01], 1),
        ("bignum", &[0xc2, 0x41, 0x01], 2),
        ("tag 41", &[0xd8, 0x29, 0x41, 0x00], 41),
        ("tag 43", &[0xd8, 0x2b, 0x41, 0x00], 43),
        ("self-describe", &[0xd9, 0xd9, 0xf7, 0xa0], 55_799),
    ] {
        assert_eq!(
            refused(what, bytes),
            CborError::UnsupportedTag { offset: 0, tag },
            "{what}"
        );
    }
}

#[test]
fn cid_tags_must_wrap_zero_prefixed_bytes_of_an_atproto_cid() {
    let good = cid_for_cbor(b"x").to_bytes();
    let prefixed = |cid: &[u8]| [[0u8].as_slice(), cid].concat();
    assert!(decode(&tagged_cid_payload(&prefixed(&good))).is_ok());

    let invalid: Vec<(&str, Vec<u8>)> = vec![
        (
            "text content",
            [vec![0xd8, 0x2a, 0x61], b"a".to_vec()].concat(),
        ),
        ("integer content", vec![0xd8, 0x2a, 0x01]),
        ("array content", vec![0xd8, 0x2a, 0x80]),
        (
            "nested tag",
            [vec![0xd8, 0x2a], tagged_cid_payload(&prefixed(&good))].concat(),
        ),
        ("empty bytes", vec![0xd8, 0x2a, 0x40]),
        ("missing 0x00", tagged_cid_payload(&good)),
        (
            "0x01 prefix",
            tagged_cid_payload(&[[1u8].as_slice(), &good].concat()),
        ),
        (
            "dag-pb codec",
            tagged_cid_payload(&prefixed(&cid_for(0x70, b"x").to_bytes())),
        ),
        (
            "trailing byte",
            tagged_cid_payload(&[prefixed(&good), vec![0]].concat()),
        ),
        (
            "truncated digest",
            tagged_cid_payload(&prefixed(&good[..good.len() - 1])),
        ),
        (
            "CIDv0",
            tagged_cid_payload(&prefixed(&[[0x12u8, 0x20].as_slice(), &[7; 32]].concat())),
        ),
        (
            "sha1 multihash",
            tagged_cid_payload(&prefixed(
                &[[0x01u8, 0x71, 0x11, 0x14].as_slice(), &[7; 20]].concat(),
            )),
        ),
        (
            "non-minimal varint codec",
            tagged_cid_payload(&prefixed(
                &[[0x01u8, 0xf1, 0x00, 0x12, 0x20].as_slice(), &[7; 32]].concat(),
            )),
        ),
    ];
    for (what, bytes) in invalid {
        let err = refused(what, &bytes);
        assert!(
            matches!(
                err,
                CborError::InvalidLink { offset: 0, .. } | CborError::UnsupportedTag { .. }
            ),
            "{what}: {err}"
        );
    }
    assert!(matches!(
        refused("indefinite bytes", &[0xd8, 0x2a, 0x5f, 0x41, 0x00, 0xff]),
        CborError::IndefiniteLength { offset: 2 }
    ));
}

#[test]
fn ten_thousand_nested_arrays_or_maps_are_refused_without_overflowing_the_stack() {
    let arrays: Vec<u8> = std::iter::repeat_n(0x81, 10_000).chain([0x80]).collect();
    assert_eq!(
        refused("arrays", &arrays),
        CborError::TooDeep {
            offset: MAX_DEPTH,
            max: MAX_DEPTH
        }
    );
    let mut maps = Vec::new();
    for _ in 0..10_000 {
        maps.extend([0xa1, 0x61, b'a']);
    }
    maps.push(0xa0);
    assert_eq!(
        refused("maps", &maps),
        CborError::TooDeep {
            offset: 3 * MAX_DEPTH,
            max: MAX_DEPTH
        }
    );
    // The same depth with no end at all.
    let unterminated = vec![0x81; 10_000];
    assert!(matches!(
        refused("unterminated arrays", &unterminated),
        CborError::TooDeep { .. }
    ));
}

#[test]
fn headers_claiming_huge_lengths_are_refused_before_any_allocation() {
    let two_pow_60 = (1u64 << 60).to_be_bytes();
    for (what, major) in [
        ("array", 0x9b),
        ("map", 0xbb),
        ("bytes", 0x5b),
        ("text", 0x7b),
    ] {
        let bytes = [[major].as_slice(), &two_pow_60, &[0x00; 16]].concat();
        assert_eq!(
            refused(what, &bytes),
            CborError::LengthExceedsInput {
                offset: 0,
                declared: 1 << 60
            },
            "{what}"
        );
    }
    // u64::MAX items does not fit usize arithmetic either.
    let max = [[0x9bu8].as_slice(), &u64::MAX.to_be_bytes()].concat();
    assert!(matches!(
        refused("u64::MAX array", &max),
        CborError::LengthExceedsInput { .. }
    ));
    // A plausible outer list whose second item claims far more than is left.
    let nested = [[0x82u8, 0x01, 0x9b].as_slice(), &two_pow_60, &[0; 8]].concat();
    assert_eq!(
        refused("nested claim", &nested),
        CborError::LengthExceedsInput {
            offset: 2,
            declared: 1 << 60
        }
    );
}

#[test]
fn a_valid_document_truncated_at_any_offset_is_refused() {
    let doc = rich_document();
    assert!(decode(&doc).is_ok());
    assert_eq!(validate(&doc), Ok(()));
    for end in 0..doc.len() {
        refused(&format!("truncated at {end}"), &doc[..end]);
    }
}

#[test]
fn trailing_bytes_after_the_item_are_refused() {
    let mut doc = rich_document();
    let len = doc.len();
    doc.push(0x00);
    assert_eq!(
        refused("one trailing byte", &doc),
        CborError::TrailingBytes { offset: len }
    );
    assert_eq!(
        refused("two items", &[0xa0, 0xa0]),
        CborError::TrailingBytes { offset: 1 }
    );
}

#[test]
fn invalid_utf8_is_refused_in_values_and_keys() {
    for (what, bytes) in [
        ("lone continuation", &[0x61, 0x80][..]),
        ("truncated sequence", &[0x62, 0xc3, 0x28]),
        ("overlong slash", &[0x62, 0xc0, 0xaf]),
        ("surrogate", &[0x63, 0xed, 0xa0, 0x80]),
        ("beyond U+10FFFF", &[0x64, 0xf4, 0x90, 0x80, 0x80]),
        ("0xff byte", &[0x61, 0xff]),
    ] {
        assert!(
            matches!(refused(what, bytes), CborError::InvalidUtf8 { offset: 0 }),
            "{what}"
        );
    }
    assert!(matches!(
        refused("bad key", &[0xa1, 0x61, 0xff, 0x01]),
        CborError::InvalidUtf8 { offset: 1 }
    ));
}

#[test]
fn undefined_simple_values_and_reserved_headers_are_refused() {
    for (what, bytes) in [
        ("undefined", &[0xf7][..]),
        ("simple 0", &[0xe0]),
        ("simple 19", &[0xf3]),
        ("simple 32", &[0xf8, 0x20]),
        ("simple 255", &[0xf8, 0xff]),
        ("simple false written long", &[0xf8, 0x14]),
    ] {
        assert!(
            matches!(refused(what, bytes), CborError::UnsupportedSimple { .. }),
            "{what}"
        );
    }
    for (what, bytes) in [
        ("major 7 info 28", &[0xfc][..]),
        ("major 7 info 30", &[0xfe]),
        ("uint info 28", &[0x1c]),
        ("negative info 29", &[0x3d]),
        ("bytes info 30", &[0x5e]),
        ("map info 28", &[0xbc]),
        ("tag info 31", &[0xdf]),
        ("uint info 31", &[0x1f]),
    ] {
        assert!(
            matches!(refused(what, bytes), CborError::Reserved { offset: 0 }),
            "{what}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2_000,
        // Integration tests have no lib.rs for proptest to file regressions beside.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic_and_decode_agrees_with_validate(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        check_agreement(&bytes)?;
    }

    #[test]
    fn mutated_documents_never_panic_and_what_decodes_is_canonical(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let mut doc = rich_document();
        for (at, byte) in edits {
            let len = doc.len();
            doc[at % len] = byte;
        }
        doc.truncate(doc.len() - cut % 4);
        check_agreement(&doc)?;
    }
}

/// `decode` and `validate` agree, and an accepted input is exactly the canonical encoding of its value.
fn check_agreement(bytes: &[u8]) -> Result<(), TestCaseError> {
    let decoded = decode(bytes);
    let validated = validate(bytes);
    prop_assert_eq!(decoded.as_ref().err(), validated.as_ref().err());
    if let Ok(value) = decoded {
        prop_assert_eq!(encode(&value).unwrap(), bytes.to_vec());
    }
    Ok(())
}
