//! Turning a record from a request body into a [`Record`]: its `$type` filled in or checked against
//! the collection as the reference PDS does, checked against the data model, then validated against
//! its Lexicon ([`crate::lexicon::validate_write`]), which gives the write's `validationStatus`.

use serde_json::{json, Value};

use crate::http::XrpcError;
use crate::lexicon::{self, ValidationStatus};
use crate::repo::cbor;
use crate::repo::writer::{Record, RepoHead};
use crate::storage::CommitResult;
use crate::syntax::{Nsid, RecordKey};

/// A record for `collection` stored under `rkey`: a JSON object, with `$type` set to the collection
/// when missing, and its validation status (none when `validate` is `Some(false)`). A `$type` that is
/// not a string, or (unless `validate` is `Some(false)`) not the collection, is 400
/// `InvalidRequest`, and so is a value outside the data model (floats, bad `$link`s, ...) or one its
/// Lexicon refuses.
pub fn prepare(
    collection: &Nsid,
    rkey: &RecordKey,
    value: Value,
    validate: Option<bool>,
) -> Result<(Record, Option<ValidationStatus>), XrpcError> {
    let Value::Object(mut map) = value else {
        return Err(XrpcError::invalid_request(
            "Invalid record: must be an object",
        ));
    };
    match map.get("$type") {
        None => {
            map.insert("$type".into(), Value::String(collection.as_str().into()));
        }
        Some(Value::String(t)) => {
            if validate != Some(false) && t != collection.as_str() {
                return Err(XrpcError::invalid_request(format!(
                    "Invalid $type: expected {collection}, got {t}"
                )));
            }
            if t.is_empty() {
                return Err(XrpcError::invalid_request("Invalid record: empty $type"));
            }
        }
        Some(_) => {
            return Err(XrpcError::invalid_request(
                "Invalid record: $type must be a string",
            ))
        }
    }
    let invalid =
        |e: cbor::DataModelError| XrpcError::invalid_request(format!("Invalid record: {e}"));
    let value = cbor::from_json(&Value::Object(map)).map_err(invalid)?;
    let status = lexicon::validate_write(collection, rkey, &value, validate)?;
    Ok((Record::from_ipld(&value).map_err(invalid)?, status))
}

/// The `commit` object of a write's response: `{cid, rev}` of the new head.
pub fn commit_json(head: &RepoHead) -> Value {
    json!({ "cid": head.commit.to_string(), "rev": head.rev.to_string() })
}

/// The response of a single-record write (createRecord, putRecord): the record's URI and CID, the
/// commit, and the validation status.
pub fn written(
    result: &CommitResult,
    status: Option<ValidationStatus>,
) -> Result<Value, XrpcError> {
    let op = result
        .ops
        .first()
        .ok_or_else(|| XrpcError::internal("a write returned no op result"))?;
    let mut body = json!({
        "uri": op.uri.as_str(),
        "cid": op.cid.map(|c| c.to_string()),
        "commit": commit_json(&result.head),
    });
    if let Some(status) = status {
        body["validationStatus"] = json!(status.as_str());
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn posts() -> Nsid {
        Nsid::parse("app.bsky.feed.post").unwrap()
    }

    fn key() -> RecordKey {
        RecordKey::parse("3jzfcijpj2z2a").unwrap()
    }

    fn prepare(
        collection: &Nsid,
        value: Value,
        validate: Option<bool>,
    ) -> Result<(Record, Option<ValidationStatus>), XrpcError> {
        super::prepare(collection, &key(), value, validate)
    }

    const AT: &str = "2024-05-01T12:00:00Z";

    #[test]
    fn a_missing_type_is_filled_in_with_the_collection() {
        let with = prepare(
            &posts(),
            json!({"$type": "app.bsky.feed.post", "text": "a", "createdAt": AT}),
            None,
        )
        .unwrap();
        let without = prepare(&posts(), json!({"text": "a", "createdAt": AT}), None).unwrap();
        assert_eq!(with, without);
        assert_eq!(with.1, Some(ValidationStatus::Valid));
    }

    #[test]
    fn records_that_are_not_records_are_refused() {
        for bad in [
            json!([1]),
            json!("text"),
            json!({"$type": "app.bsky.feed.like"}),
            json!({"$type": 5}),
            json!({"text": "a", "n": 1.5}),
            json!({"x": {"$link": "not a cid"}}),
            json!({"text": "no createdAt"}),
            json!({"text": 5, "createdAt": AT}),
        ] {
            let err = prepare(&posts(), bad.clone(), None).unwrap_err();
            assert_eq!(err.error, "InvalidRequest", "{bad}");
        }
    }

    #[test]
    fn validate_false_lets_another_type_through() {
        let (_, status) =
            prepare(&posts(), json!({"$type": "com.example.x"}), Some(false)).unwrap();
        assert_eq!(status, None);
        let other = Nsid::parse("com.example.x").unwrap();
        let (_, status) = prepare(&other, json!({"n": 1}), None).unwrap();
        assert_eq!(status, Some(ValidationStatus::Unknown));
        let err = prepare(&other, json!({"n": 1}), Some(true)).unwrap_err();
        assert_eq!(err.error, "InvalidRequest");
    }
}
