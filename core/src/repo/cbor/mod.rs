//! The atproto data model on DAG-CBOR: strict decoding, canonical encoding, and the JSON mapping.
