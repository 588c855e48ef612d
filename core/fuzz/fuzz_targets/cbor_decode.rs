//! Fuzzes the strict DAG-CBOR decoder: `decode` and `validate` must agree on every input, and whatever
//! decodes must be the canonical encoding of its value (encode gives back the same bytes, and decoding
//! those gives back the same value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pocketpds_core::repo::cbor::{decode, encode, validate};

fuzz_target!(|data: &[u8]| {
    let decoded = decode(data);
    let validated = validate(data);
    assert_eq!(
        decoded.as_ref().err(),
        validated.as_ref().err(),
        "decode and validate disagree"
    );
    if let Ok(value) = decoded {
        let bytes = match encode(&value) {
            Ok(bytes) => bytes,
            Err(e) => panic!("a decoded value failed to encode: {e}"),
        };
        assert_eq!(bytes.as_slice(), data, "accepted input is not canonical");
        match decode(&bytes) {
            Ok(again) => assert_eq!(again, value, "round trip changed the value"),
            Err(e) => panic!("re-encoded bytes failed to decode: {e}"),
        }
    }
});
