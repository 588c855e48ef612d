//! The official atproto data-model vectors: JSON ⇄ DAG-CBOR fixtures with their CIDs, and the lists of
//! records that the data model accepts and refuses.

mod common;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use pocketpds_core::repo::cbor::{decode, encode, record_from_json, to_json, validate};
use serde_json::Value;

/// The entries of one JSON vector file (an array), or `None` when vectors are optional and absent.
fn entries(rel: &str) -> Option<Vec<Value>> {
    let text = common::read_vector(rel)?;
    let parsed: Value = serde_json::from_str(&text).expect("vector file is JSON");
    let Value::Array(entries) = parsed else {
        panic!("{rel} is not a JSON array");
    };
    assert!(!entries.is_empty(), "{rel} has no entries");
    Some(entries)
}

#[test]
fn fixtures_encode_to_the_exact_bytes_and_cid_and_decode_back_to_the_same_json() {
    let Some(fixtures) = entries("data-model/data-model-fixtures.json") else {
        return;
    };
    for (index, fixture) in fixtures.iter().enumerate() {
        let json = &fixture["json"];
        let expected_bytes = STANDARD_NO_PAD
            .decode(fixture["cbor_base64"].as_str().expect("cbor_base64"))
            .expect("cbor_base64 decodes");
        let expected_cid = fixture["cid"].as_str().expect("cid");

        let (cid, bytes, value) =
            record_from_json(json).unwrap_or_else(|e| panic!("fixture {index}: JSON refused: {e}"));
        assert_eq!(bytes, expected_bytes, "fixture {index}: CBOR bytes");
        assert_eq!(cid.to_string(), expected_cid, "fixture {index}: CID");

        let decoded = decode(&expected_bytes)
            .unwrap_or_else(|e| panic!("fixture {index}: CBOR refused: {e}"));
        assert_eq!(decoded, value, "fixture {index}: decoded value");
        assert_eq!(validate(&expected_bytes), Ok(()), "fixture {index}");
        assert_eq!(&to_json(&decoded), json, "fixture {index}: JSON back");
        assert_eq!(encode(&decoded).unwrap(), expected_bytes, "fixture {index}");
    }
    eprintln!("{} data-model fixtures checked", fixtures.len());
}

#[test]
fn every_valid_record_is_accepted_and_round_trips() {
    let Some(cases) = entries("data-model/data-model-valid.json") else {
        return;
    };
    for case in &cases {
        let note = case["note"].as_str().unwrap_or("?");
        let (_, bytes, value) = record_from_json(&case["json"])
            .unwrap_or_else(|e| panic!("valid case {note:?} refused: {e}"));
        assert_eq!(decode(&bytes).as_ref(), Ok(&value), "{note}");
    }
    eprintln!("{} valid data-model cases accepted", cases.len());
}

#[test]
fn every_invalid_record_is_refused() {
    let Some(cases) = entries("data-model/data-model-invalid.json") else {
        return;
    };
    for case in &cases {
        let note = case["note"].as_str().unwrap_or("?");
        match record_from_json(&case["json"]) {
            Ok((cid, _, _)) => panic!("invalid case {note:?} was accepted as {cid}"),
            Err(e) => eprintln!("refused {note:?}: {e}"),
        }
    }
    eprintln!("{} invalid data-model cases refused", cases.len());
}
