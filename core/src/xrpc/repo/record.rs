//! Turning a record from a request body into a [`Record`]: its `$type` filled in or checked against
//! the collection as the reference PDS does, then checked against the data model.
//!
//! No Lexicon validation exists yet, so every write reports `validationStatus: "unknown"` (or none
//! when the client asked for `validate: false`).

use serde_json::{json, Value};

use crate::http::XrpcError;
use crate::repo::writer::{Record, RepoHead};
use crate::storage::CommitResult;
use crate::syntax::Nsid;

/// A record for `collection`: a JSON object, with `$type` set to the collection when missing. A
/// `$type` that is not a string, or (unless `validate` is `Some(false)`) not the collection, is 400
/// `InvalidRequest`, and so is a value outside the data model (floats, bad `$link`s, ...).
pub fn prepare(
    collection: &Nsid,
    value: Value,
    validate: Option<bool>,
) -> Result<Record, XrpcError> {
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
    Record::from_json(&Value::Object(map))
        .map_err(|e| XrpcError::invalid_request(format!("Invalid record: {e}")))
}

/// The `validationStatus` a write reports for `validate`.
pub fn validation_status(validate: Option<bool>) -> Option<&'static str> {
    (validate != Some(false)).then_some("unknown")
}

/// The `commit` object of a write's response: `{cid, rev}` of the new head.
pub fn commit_json(head: &RepoHead) -> Value {
    json!({ "cid": head.commit.to_string(), "rev": head.rev.to_string() })
}

/// The response of a single-record write (createRecord, putRecord): the record's URI and CID, the
/// commit, and the validation status.
pub fn written(result: &CommitResult, validate: Option<bool>) -> Result<Value, XrpcError> {
    let op = result
        .ops
        .first()
        .ok_or_else(|| XrpcError::internal("a write returned no op result"))?;
    let mut body = json!({
        "uri": op.uri.as_str(),
        "cid": op.cid.map(|c| c.to_string()),
        "commit": commit_json(&result.head),
    });
    if let Some(status) = validation_status(validate) {
        body["validationStatus"] = json!(status);
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

    #[test]
    fn a_missing_type_is_filled_in_with_the_collection() {
        let with = prepare(
            &posts(),
            json!({"$type": "app.bsky.feed.post", "text": "a"}),
            None,
        )
        .unwrap();
        let without = prepare(&posts(), json!({"text": "a"}), None).unwrap();
        assert_eq!(with, without);
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
        ] {
            let err = prepare(&posts(), bad.clone(), None).unwrap_err();
            assert_eq!(err.error, "InvalidRequest", "{bad}");
        }
    }

    #[test]
    fn validate_false_lets_another_type_through() {
        assert!(prepare(&posts(), json!({"$type": "com.example.x"}), Some(false)).is_ok());
        assert_eq!(validation_status(Some(false)), None);
        assert_eq!(validation_status(None), Some("unknown"));
    }
}
