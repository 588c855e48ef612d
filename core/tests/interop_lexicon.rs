//! The official atproto Lexicon interop vectors: the example catalog loads, the valid and invalid
//! Lexicon documents are told apart, and every valid record of the record-data vectors is accepted
//! and every invalid one refused by the Lexicon (data converted from JSON through the data-model
//! mapping, as a write converts it).
//!
//! Our data model is stricter than these vectors in two ways that have nothing to do with Lexicons:
//! a blob's `ref` must be a raw-codec CID (the vectors use a dag-cbor one), and `$bytes` must be
//! canonical base64 (the vectors write `"123"`, whose last symbol carries non-zero padding bits). The
//! test adapts such data before validating — a raw CID of the same digest, the canonical base64 of
//! the same bytes — and prints how many values it adapted.

mod common;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use pocketpds_core::lexicon::{Catalog, RecordError, ValidationStatus};
use pocketpds_core::repo::cbor::from_json;
use pocketpds_core::repo::cid::{cid_from_str, RAW};
use pocketpds_core::syntax::{Nsid, RecordKey};
use serde_json::Value;

/// Base64 as JavaScript decodes it: padding optional, non-zero trailing bits ignored.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Rewrites blob refs to raw-codec CIDs and `$bytes` to canonical base64 (see the module comment);
/// returns how many values changed.
fn adapt(value: &mut Value) -> usize {
    match value {
        Value::Array(items) => items.iter_mut().map(adapt).sum(),
        Value::Object(map) => {
            let mut changed = 0;
            if map.get("$type").and_then(Value::as_str) == Some("blob") {
                if let Some(Value::String(link)) =
                    map.get_mut("ref").and_then(|r| r.get_mut("$link"))
                {
                    if let Ok(cid) = cid::Cid::try_from(link.as_str()) {
                        if cid.codec() != RAW {
                            *link = cid::Cid::new_v1(RAW, *cid.hash()).to_string();
                            assert!(cid_from_str(link).is_ok());
                            changed += 1;
                        }
                    }
                }
            }
            if let Some(Value::String(text)) = map.get_mut("$bytes") {
                if let Ok(bytes) = LENIENT.decode(text.as_bytes()) {
                    let canonical = STANDARD_NO_PAD.encode(bytes);
                    if *text != canonical {
                        *text = canonical;
                        changed += 1;
                    }
                }
            }
            changed + map.values_mut().map(adapt).sum::<usize>()
        }
        _ => 0,
    }
}

const CATALOG: [&str; 5] = [
    "lexicon/catalog/permission-set.json",
    "lexicon/catalog/procedure.json",
    "lexicon/catalog/query.json",
    "lexicon/catalog/record.json",
    "lexicon/catalog/subscription.json",
];

fn catalog() -> Option<Catalog> {
    let texts = CATALOG
        .iter()
        .map(|rel| common::read_vector(rel))
        .collect::<Option<Vec<String>>>()?;
    Some(Catalog::from_json(texts.iter().map(String::as_str)).expect("the example catalog loads"))
}

fn cases(rel: &str) -> Option<Vec<Value>> {
    let text = common::read_vector(rel)?;
    match serde_json::from_str(&text).expect("vector JSON") {
        Value::Array(cases) => Some(cases),
        _ => panic!("{rel} is not a list"),
    }
}

/// The record-data cases of `rel`, adapted to the data model.
fn record_cases(rel: &str) -> Option<Vec<Value>> {
    let mut cases = cases(rel)?;
    let adapted: usize = cases.iter_mut().map(|c| adapt(&mut c["data"])).sum();
    eprintln!("{rel}: {adapted} blob refs / byte strings adapted to the data model");
    Some(cases)
}

/// Validates one record-data case; data the data model refuses counts as refused.
fn verdict(catalog: &Catalog, case: &Value) -> Result<ValidationStatus, String> {
    let data = &case["data"];
    let collection = Nsid::parse(data["$type"].as_str().expect("$type")).expect("nsid");
    let rkey = RecordKey::parse(case["rkey"].as_str().expect("rkey")).expect("rkey");
    let value = from_json(data).map_err(|e| format!("data model: {e}"))?;
    catalog
        .validate_record(&collection, &rkey, &value)
        .map_err(|e: RecordError| e.to_string())
}

#[test]
fn valid_record_data_is_accepted() {
    let (Some(catalog), Some(cases)) = (catalog(), record_cases("lexicon/record-data-valid.json"))
    else {
        return;
    };
    for case in &cases {
        assert_eq!(
            verdict(&catalog, case),
            Ok(ValidationStatus::Valid),
            "{}",
            case["name"]
        );
    }
    eprintln!("{} valid records accepted", cases.len());
}

#[test]
fn invalid_record_data_is_refused() {
    let (Some(catalog), Some(cases)) =
        (catalog(), record_cases("lexicon/record-data-invalid.json"))
    else {
        return;
    };
    for case in &cases {
        match verdict(&catalog, case) {
            Ok(_) => panic!("{} was accepted", case["name"]),
            // The refusal must be the Lexicon's, not the data model's.
            Err(e) => assert!(e.starts_with("Invalid "), "{}: {e}", case["name"]),
        }
    }
    eprintln!("{} invalid records refused", cases.len());
}

#[test]
fn lexicon_documents_are_told_valid_or_invalid() {
    let (Some(valid), Some(invalid)) = (
        cases("lexicon/lexicon-valid.json"),
        cases("lexicon/lexicon-invalid.json"),
    ) else {
        return;
    };
    for case in &valid {
        let text = case["lexicon"].to_string();
        if let Err(e) = Catalog::from_json([text.as_str()]) {
            panic!("{} refused: {e}", case["name"]);
        }
    }
    for case in &invalid {
        let text = case["lexicon"].to_string();
        assert!(
            Catalog::from_json([text.as_str()]).is_err(),
            "{} accepted",
            case["name"]
        );
    }
}
