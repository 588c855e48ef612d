//! The JSON form of PLC operations, as the directory's HTTP API carries them: strict parsing into
//! [`UnsignedOperation`] and the signature text. The `type` decides the fields; each must be present
//! with its type (`prev: null` included) and unknown fields are refused, as the directory's own
//! schemas do. Writing JSON goes through the data model (`SignedOperation::to_json`).

use serde_json::{Map, Value};

use super::error::{excerpt, IdentityError};
use super::plc::{
    PlcData, PlcService, UnsignedOperation, TYPE_LEGACY_CREATE, TYPE_OPERATION, TYPE_TOMBSTONE,
};

const OPERATION_FIELDS: [&str; 7] = [
    "type",
    "rotationKeys",
    "verificationMethods",
    "alsoKnownAs",
    "services",
    "prev",
    "sig",
];
const TOMBSTONE_FIELDS: [&str; 3] = ["type", "prev", "sig"];
const LEGACY_FIELDS: [&str; 7] = [
    "type",
    "signingKey",
    "recoveryKey",
    "handle",
    "service",
    "prev",
    "sig",
];

/// Parses the JSON object of a signed operation into the operation and its `sig` text (not yet
/// decoded or checked: `SignedOperation::from_json` does that).
pub(super) fn parse(value: &Value) -> Result<(UnsignedOperation, String), IdentityError> {
    let obj = value
        .as_object()
        .ok_or_else(|| malformed("not a JSON object"))?;
    let kind = text(obj, "type")?;
    let (fields, op): (&[&str], _) = match kind {
        TYPE_OPERATION => (&OPERATION_FIELDS, parse_operation(obj)?),
        TYPE_TOMBSTONE => (&TOMBSTONE_FIELDS, parse_tombstone(obj)?),
        TYPE_LEGACY_CREATE => (&LEGACY_FIELDS, parse_legacy(obj)?),
        other => return Err(malformed(format!("unknown type {:?}", excerpt(other)))),
    };
    if let Some(extra) = obj.keys().find(|key| !fields.contains(&key.as_str())) {
        return Err(malformed(format!("unknown field {:?}", excerpt(extra))));
    }
    Ok((op, text(obj, "sig")?.to_owned()))
}

pub(super) fn malformed(reason: impl Into<String>) -> IdentityError {
    IdentityError::MalformedOperation(reason.into())
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a Value, IdentityError> {
    obj.get(name)
        .ok_or_else(|| malformed(format!("missing field {name:?}")))
}

fn text<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, IdentityError> {
    field(obj, name)?
        .as_str()
        .ok_or_else(|| malformed(format!("{name} is not a string")))
}

fn text_list(obj: &Map<String, Value>, name: &str) -> Result<Vec<String>, IdentityError> {
    let items = field(obj, name)?
        .as_array()
        .ok_or_else(|| malformed(format!("{name} is not an array")))?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| malformed(format!("{name} holds a non-string")))
        })
        .collect()
}

fn object<'a>(value: &'a Value, name: &str) -> Result<&'a Map<String, Value>, IdentityError> {
    value
        .as_object()
        .ok_or_else(|| malformed(format!("{name} is not an object")))
}

/// `prev` of a regular operation: present, and a string or null.
fn nullable_prev(obj: &Map<String, Value>) -> Result<Option<String>, IdentityError> {
    match field(obj, "prev")? {
        Value::Null => Ok(None),
        Value::String(prev) => Ok(Some(prev.clone())),
        _ => Err(malformed("prev is neither a string nor null")),
    }
}

fn parse_operation(obj: &Map<String, Value>) -> Result<UnsignedOperation, IdentityError> {
    let verification_methods = object(field(obj, "verificationMethods")?, "verificationMethods")?
        .iter()
        .map(|(id, key)| {
            key.as_str()
                .map(|key| (id.clone(), key.to_owned()))
                .ok_or_else(|| malformed("verificationMethods holds a non-string"))
        })
        .collect::<Result<_, _>>()?;
    let services = object(field(obj, "services")?, "services")?
        .iter()
        .map(|(id, service)| {
            let service = object(service, "a service")?;
            if let Some(extra) = service.keys().find(|k| *k != "type" && *k != "endpoint") {
                return Err(malformed(format!(
                    "unknown service field {:?}",
                    excerpt(extra)
                )));
            }
            let entry = PlcService {
                service_type: text(service, "type")?.to_owned(),
                endpoint: text(service, "endpoint")?.to_owned(),
            };
            Ok((id.clone(), entry))
        })
        .collect::<Result<_, _>>()?;
    Ok(UnsignedOperation::Operation {
        data: PlcData {
            rotation_keys: text_list(obj, "rotationKeys")?,
            verification_methods,
            also_known_as: text_list(obj, "alsoKnownAs")?,
            services,
        },
        prev: nullable_prev(obj)?,
    })
}

fn parse_tombstone(obj: &Map<String, Value>) -> Result<UnsignedOperation, IdentityError> {
    Ok(UnsignedOperation::Tombstone {
        prev: text(obj, "prev")?.to_owned(),
    })
}

fn parse_legacy(obj: &Map<String, Value>) -> Result<UnsignedOperation, IdentityError> {
    if !field(obj, "prev")?.is_null() {
        return Err(malformed("a legacy create operation must have prev: null"));
    }
    Ok(UnsignedOperation::LegacyCreate {
        signing_key: text(obj, "signingKey")?.to_owned(),
        recovery_key: text(obj, "recoveryKey")?.to_owned(),
        handle: text(obj, "handle")?.to_owned(),
        service: text(obj, "service")?.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Algorithm, Keypair};
    use crate::identity::plc::SignedOperation;
    use serde_json::json;
    use std::collections::BTreeMap;

    const SOME_CID: &str = "bafyreigp6shzy6dlcxuowwoxz7u5nemdrkad2my5zwzpwilcnhih7bw6zm";

    fn genesis() -> Value {
        let key = Keypair::generate(Algorithm::K256).unwrap();
        UnsignedOperation::Operation {
            data: PlcData {
                rotation_keys: vec![key.did_key()],
                verification_methods: BTreeMap::from([("atproto".into(), key.did_key())]),
                also_known_as: vec!["at://alice.example.com".into()],
                services: BTreeMap::from([(
                    "atproto_pds".into(),
                    PlcService {
                        service_type: "AtprotoPersonalDataServer".into(),
                        endpoint: "https://pds.example.com".into(),
                    },
                )]),
            },
            prev: None,
        }
        .sign(&key)
        .unwrap()
        .to_json()
    }

    #[test]
    fn a_written_operation_parses_back() {
        let value = genesis();
        let (op, sig) = parse(&value).unwrap();
        assert_eq!(sig, value["sig"].as_str().unwrap());
        assert_eq!(op.data().unwrap().handle(), Some("alice.example.com"));
    }

    #[test]
    fn malformed_operations_are_refused() {
        let good = genesis();
        let edit = |f: &dyn Fn(&mut Map<String, Value>)| {
            let mut value = good.clone();
            f(value.as_object_mut().unwrap());
            SignedOperation::from_json(&value)
        };
        let cases: Vec<(&str, Result<SignedOperation, IdentityError>)> = vec![
            ("not an object", SignedOperation::from_json(&json!([1, 2]))),
            ("no type", edit(&|o| drop(o.remove("type")))),
            (
                "unknown type",
                edit(&|o| drop(o.insert("type".into(), json!("plc_x")))),
            ),
            (
                "type not a string",
                edit(&|o| drop(o.insert("type".into(), json!(1)))),
            ),
            ("no prev", edit(&|o| drop(o.remove("prev")))),
            (
                "prev a number",
                edit(&|o| drop(o.insert("prev".into(), json!(7)))),
            ),
            (
                "prev not a CID",
                edit(&|o| drop(o.insert("prev".into(), json!("bafy")))),
            ),
            ("no sig", edit(&|o| drop(o.remove("sig")))),
            (
                "unknown field",
                edit(&|o| drop(o.insert("extra".into(), json!("x")))),
            ),
            (
                "rotation keys not strings",
                edit(&|o| drop(o.insert("rotationKeys".into(), json!([1])))),
            ),
            (
                "aka not an array",
                edit(&|o| drop(o.insert("alsoKnownAs".into(), json!("at://a.test")))),
            ),
            (
                "verification method not a string",
                edit(&|o| drop(o.insert("verificationMethods".into(), json!({"atproto": {}})))),
            ),
            (
                "service without endpoint",
                edit(&|o| drop(o.insert("services".into(), json!({"x": {"type": "t"}})))),
            ),
            (
                "service with extra field",
                edit(&|o| {
                    drop(o.insert(
                        "services".into(),
                        json!({"x": {"type": "t", "endpoint": "e", "more": 1}}),
                    ))
                }),
            ),
        ];
        for (name, result) in cases {
            assert!(
                matches!(result, Err(IdentityError::MalformedOperation(_))),
                "{name}: {result:?}"
            );
        }
        let legacy_with_prev = json!({
            "type": "create", "signingKey": "a", "recoveryKey": "b", "handle": "c",
            "service": "d", "prev": SOME_CID, "sig": good["sig"].clone()
        });
        assert!(matches!(
            SignedOperation::from_json(&legacy_with_prev),
            Err(IdentityError::MalformedOperation(_))
        ));
        assert!(SignedOperation::from_slice(b"{").is_err());
        assert!(SignedOperation::from_slice(&[0xff; 8]).is_err());
    }
}
