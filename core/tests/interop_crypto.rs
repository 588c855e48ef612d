//! The official atproto crypto interop vectors: signature verification (including the DER and
//! high-S cases that must fail), and private key → `did:key` derivation on both curves.

mod common;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use pocketpds_core::crypto::{Algorithm, CryptoError, Keypair, PublicKey};
use serde_json::Value;

fn entries(rel: &str) -> Option<Vec<Value>> {
    let text = common::read_vector(rel)?;
    let value: Value = serde_json::from_str(&text).expect("vector file is JSON");
    let list = value
        .as_array()
        .expect("vector file is a JSON array")
        .clone();
    assert!(!list.is_empty(), "{rel} has no entries");
    Some(list)
}

fn field<'a>(entry: &'a Value, name: &str) -> &'a str {
    entry[name]
        .as_str()
        .unwrap_or_else(|| panic!("entry lacks {name}: {entry}"))
}

/// The fixtures' base64 is standard-alphabet and unpadded; tolerate padding anyway.
fn base64(text: &str) -> Vec<u8> {
    STANDARD_NO_PAD
        .decode(text.trim_end_matches('='))
        .expect("fixture base64")
}

#[test]
fn signature_fixtures_verify_exactly_when_valid() {
    let Some(list) = entries("crypto/signature-fixtures.json") else {
        return;
    };
    let (mut valid, mut invalid) = (0, 0);
    for entry in &list {
        let comment = field(entry, "comment");
        let alg = Algorithm::from_jwt_alg(field(entry, "algorithm")).expect("known algorithm");
        let key = PublicKey::from_did_key(field(entry, "publicKeyDid")).expect(comment);
        assert_eq!(key.algorithm(), alg, "{comment}");

        let msg = base64(field(entry, "messageBase64"));
        let sig = base64(field(entry, "signatureBase64"));
        let result = key.verify(&msg, &sig);
        if entry["validSignature"].as_bool().expect("validSignature") {
            assert_eq!(result, Ok(()), "{comment}");
            valid += 1;
        } else {
            let tags: Vec<&str> = entry["tags"]
                .as_array()
                .map(|t| t.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match result {
                Ok(()) => panic!("invalid signature verified: {comment}"),
                Err(CryptoError::HighS) => assert!(tags.contains(&"high-s"), "{comment}"),
                Err(CryptoError::SignatureLength(_)) => {
                    assert!(tags.contains(&"der-encoded"), "{comment}")
                }
                Err(other) => panic!("{comment}: unexpected error {other:?}"),
            }
            invalid += 1;
        }
    }
    eprintln!("signature fixtures: {valid} valid, {invalid} invalid");
    assert!(valid > 0 && invalid > 0);
}

#[test]
fn signature_fixture_did_keys_match_their_multibase_keys() {
    let Some(list) = entries("crypto/signature-fixtures.json") else {
        return;
    };
    for entry in &list {
        let comment = field(entry, "comment");
        let from_did = PublicKey::from_did_key(field(entry, "publicKeyDid")).expect(comment);
        let suite = field(entry, "didDocSuite");
        let multibase = field(entry, "publicKeyMultibase");
        let from_doc = PublicKey::from_verification_method(suite, multibase).expect(comment);
        assert_eq!(from_doc, from_did, "{comment}");
        // The 2019 suites carry the bare compressed point: our legacy encoding reproduces it.
        assert_eq!(from_did.to_legacy_multibase(), multibase, "{comment}");
        assert_eq!(
            from_did.to_did_key(),
            field(entry, "publicKeyDid"),
            "{comment}"
        );
    }
}

fn check_didkey_vectors(rel: &str, alg: Algorithm, private_key: impl Fn(&Value) -> Vec<u8>) {
    let Some(list) = entries(rel) else {
        return;
    };
    for entry in &list {
        let want = field(entry, "publicDidKey");
        let pair = Keypair::from_private_bytes(alg, &private_key(entry)).expect(want);
        assert_eq!(pair.did_key(), want);
        let parsed = PublicKey::from_did_key(want).expect(want);
        assert_eq!(parsed, pair.public_key());
        assert_eq!(parsed.algorithm(), alg);
        // A signature by the private key verifies under the parsed did:key.
        let sig = pair.sign(want.as_bytes());
        assert_eq!(parsed.verify(want.as_bytes(), &sig), Ok(()));
    }
    eprintln!("{rel}: {} keys", list.len());
}

#[test]
fn k256_private_keys_derive_the_w3c_did_keys() {
    check_didkey_vectors("crypto/w3c_didkey_K256.json", Algorithm::K256, |entry| {
        hex::decode(field(entry, "privateKeyBytesHex")).expect("fixture hex")
    });
}

#[test]
fn p256_private_keys_derive_the_w3c_did_keys() {
    check_didkey_vectors("crypto/w3c_didkey_P256.json", Algorithm::P256, |entry| {
        bs58::decode(field(entry, "privateKeyBytesBase58"))
            .into_vec()
            .expect("fixture base58")
    });
}
