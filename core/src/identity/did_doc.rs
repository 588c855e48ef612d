//! DID documents as atproto reads them (atproto DID specification, "DID Documents"): the account's
//! handle from `alsoKnownAs`, its signing key from the `#atproto` verification method (`Multikey`,
//! or the legacy 2019 types), and its PDS from the `#atproto_pds` service.
//!
//! Parsing is strict about shape and bounded in size: the document must be a JSON object of at most
//! [`MAX_DID_DOCUMENT_BYTES`] whose `id` is a DID; `alsoKnownAs`, `verificationMethod` and `service`
//! may be absent but, when present, must be arrays of the right kinds of values. Entries atproto does
//! not use (other key encodings, structured service endpoints) are kept but never chosen. The
//! atproto accessors pick the first valid entry and ignore the others, as the specification says.

use serde_json::{Map, Value};

use super::error::{excerpt, IdentityError};
use super::plc::{
    ATPROTO_PDS_SERVICE, ATPROTO_VERIFICATION_METHOD, HANDLE_URI_PREFIX, PDS_SERVICE_TYPE,
};
use crate::crypto::PublicKey;
use crate::syntax::{Did, Handle};

/// The largest DID document accepted, in bytes of JSON.
pub const MAX_DID_DOCUMENT_BYTES: usize = 64 * 1024;

/// One entry of `verificationMethod`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationMethod {
    /// The id: `<did>#<name>` or `#<name>`.
    pub id: String,
    /// The type: `Multikey`, or a legacy 2019 suite name.
    pub method_type: String,
    /// The DID that controls the key.
    pub controller: String,
    /// The key as multibase text, when the method uses that encoding.
    pub public_key_multibase: Option<String>,
}

/// One entry of `service`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// The id: `<did>#<name>` or `#<name>`.
    pub id: String,
    /// The type, `AtprotoPersonalDataServer` for a PDS.
    pub service_type: String,
    /// The endpoint when it is a URL string (DID documents also allow maps and sets, which atproto
    /// does not use).
    pub endpoint: Option<String>,
}

/// A parsed DID document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DidDocument {
    id: Did,
    also_known_as: Vec<String>,
    verification_methods: Vec<VerificationMethod>,
    services: Vec<Service>,
}

impl DidDocument {
    /// Parses the JSON bytes of a document (see the module documentation for what is refused).
    pub fn from_slice(bytes: &[u8]) -> Result<DidDocument, IdentityError> {
        if bytes.len() > MAX_DID_DOCUMENT_BYTES {
            return Err(malformed(format!(
                "{} bytes, more than {MAX_DID_DOCUMENT_BYTES}",
                bytes.len()
            )));
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
        DidDocument::from_json(&value)
    }

    /// Parses the JSON bytes of the document of `did`, refusing a document about another DID.
    pub fn from_slice_for(did: &Did, bytes: &[u8]) -> Result<DidDocument, IdentityError> {
        let doc = DidDocument::from_slice(bytes)?;
        if doc.id != *did {
            return Err(IdentityError::DocumentDidMismatch {
                expected: did.to_string(),
                found: excerpt(doc.id.as_str()),
            });
        }
        Ok(doc)
    }

    /// Parses a document from a JSON value.
    pub fn from_json(value: &Value) -> Result<DidDocument, IdentityError> {
        let obj = value
            .as_object()
            .ok_or_else(|| malformed("not a JSON object"))?;
        let id = text(obj, "id")?.ok_or_else(|| malformed("no id"))?;
        let id = Did::parse(id).map_err(|e| malformed(format!("id: {e}")))?;
        let also_known_as = list(obj, "alsoKnownAs", |item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| malformed("alsoKnownAs holds a non-string"))
        })?;
        let verification_methods = list(obj, "verificationMethod", |item| {
            let entry = item
                .as_object()
                .ok_or_else(|| malformed("a verification method is not an object"))?;
            Ok(VerificationMethod {
                id: required(entry, "id", "verification method")?,
                method_type: required(entry, "type", "verification method")?,
                controller: required(entry, "controller", "verification method")?,
                public_key_multibase: text(entry, "publicKeyMultibase")?.map(str::to_owned),
            })
        })?;
        let services = list(obj, "service", |item| {
            let entry = item
                .as_object()
                .ok_or_else(|| malformed("a service is not an object"))?;
            let endpoint = match entry.get("serviceEndpoint") {
                Some(Value::String(url)) => Some(url.clone()),
                Some(Value::Object(_) | Value::Array(_)) => None,
                _ => return Err(malformed("a service endpoint is not a URL, map or set")),
            };
            Ok(Service {
                id: required(entry, "id", "service")?,
                service_type: required(entry, "type", "service")?,
                endpoint,
            })
        })?;
        Ok(DidDocument {
            id,
            also_known_as,
            verification_methods,
            services,
        })
    }

    /// The DID the document describes (`id`).
    pub fn id(&self) -> &Did {
        &self.id
    }

    /// The `alsoKnownAs` URIs, in order.
    pub fn also_known_as(&self) -> &[String] {
        &self.also_known_as
    }

    /// The verification methods, in order.
    pub fn verification_methods(&self) -> &[VerificationMethod] {
        &self.verification_methods
    }

    /// The services, in order.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The handle the document claims: the first `at://` entry of `alsoKnownAs` that holds a valid
    /// handle (lowercased). Not verified: see the resolver for the bidirectional check.
    pub fn handle(&self) -> Option<Handle> {
        self.also_known_as.iter().find_map(|aka| {
            aka.strip_prefix(HANDLE_URI_PREFIX)
                .and_then(|handle| Handle::parse(handle).ok())
        })
    }

    /// The atproto signing key: the first verification method named `atproto` (`#atproto` or
    /// `<did>#atproto`), controlled by the DID itself, whose key parses for its type (`Multikey`,
    /// `EcdsaSecp256k1VerificationKey2019`, `EcdsaSecp256r1VerificationKey2019`).
    pub fn signing_key(&self) -> Option<PublicKey> {
        self.verification_methods.iter().find_map(|method| {
            if !self.names(&method.id, ATPROTO_VERIFICATION_METHOD)
                || method.controller != self.id.as_str()
            {
                return None;
            }
            let multibase = method.public_key_multibase.as_deref()?;
            PublicKey::from_verification_method(&method.method_type, multibase).ok()
        })
    }

    /// The PDS URL: the endpoint of the first service named `atproto_pds` of type
    /// `AtprotoPersonalDataServer` whose endpoint is an http(s) URL with a host. (Reading is as lenient
    /// as the reference implementation; the operations this crate writes hold the host alone.)
    pub fn pds_endpoint(&self) -> Option<&str> {
        self.services.iter().find_map(|service| {
            let endpoint = service.endpoint.as_deref()?;
            (self.names(&service.id, ATPROTO_PDS_SERVICE)
                && service.service_type == PDS_SERVICE_TYPE
                && is_http_url(endpoint))
            .then_some(endpoint)
        })
    }

    /// The endpoint of the service named `name` (`#name` or `<did>#name`, given without the `#`)
    /// when it is an http(s) URL with a host: where a call proxied to `<did>#name` goes.
    pub fn service_endpoint(&self, name: &str) -> Option<&str> {
        self.services.iter().find_map(|service| {
            let endpoint = service.endpoint.as_deref()?;
            (self.names(&service.id, name) && is_http_url(endpoint)).then_some(endpoint)
        })
    }

    /// The document as JSON, in the W3C shape the reference serves (`@context`, `id`,
    /// `alsoKnownAs`, `verificationMethod`, `service`): what was parsed, nothing more.
    pub fn to_json(&self) -> Value {
        let methods: Vec<Value> = self
            .verification_methods
            .iter()
            .map(|m| {
                let mut entry = serde_json::json!({
                    "id": m.id,
                    "type": m.method_type,
                    "controller": m.controller,
                });
                if let (Some(key), Some(map)) = (&m.public_key_multibase, entry.as_object_mut()) {
                    map.insert("publicKeyMultibase".into(), Value::from(key.as_str()));
                }
                entry
            })
            .collect();
        let services: Vec<Value> = self
            .services
            .iter()
            .filter_map(|s| {
                let endpoint = s.endpoint.as_deref()?;
                Some(serde_json::json!({
                    "id": s.id,
                    "type": s.service_type,
                    "serviceEndpoint": endpoint,
                }))
            })
            .collect();
        serde_json::json!({
            "@context": [
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/multikey/v1",
                "https://w3id.org/security/suites/secp256k1-2019/v1",
            ],
            "id": self.id.as_str(),
            "alsoKnownAs": self.also_known_as,
            "verificationMethod": methods,
            "service": services,
        })
    }

    /// Whether `id` is the fragment `name` of this document: `#name` or `<did>#name`.
    fn names(&self, id: &str, name: &str) -> bool {
        let fragment = id.strip_prefix(self.id.as_str()).unwrap_or(id);
        fragment.strip_prefix('#') == Some(name)
    }
}

/// Whether `text` is an absolute http(s) URL with a host.
fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    })
}

fn malformed(reason: impl Into<String>) -> IdentityError {
    IdentityError::MalformedDocument(reason.into())
}

/// An optional string field; present with another type is an error.
fn text<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, IdentityError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(malformed(format!("{name} is not a string"))),
    }
}

/// A required string field of an entry of kind `what`.
fn required(obj: &Map<String, Value>, name: &str, what: &str) -> Result<String, IdentityError> {
    text(obj, name)?
        .map(str::to_owned)
        .ok_or_else(|| malformed(format!("a {what} has no {name}")))
}

/// An optional array field, each item converted by `item`.
fn list<T>(
    obj: &Map<String, Value>,
    name: &str,
    item: impl Fn(&Value) -> Result<T, IdentityError>,
) -> Result<Vec<T>, IdentityError> {
    match obj.get(name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(item).collect(),
        Some(_) => Err(malformed(format!("{name} is not an array"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Algorithm, Keypair};
    use serde_json::json;

    const DID: &str = "did:plc:yk4dd2qkboz2yv6tpubpc6co";

    fn doc(key: &str) -> Value {
        json!({
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": DID,
            "alsoKnownAs": ["at://Alice.Example.com"],
            "verificationMethod": [{
                "id": format!("{DID}#atproto"),
                "type": "Multikey",
                "controller": DID,
                "publicKeyMultibase": key
            }],
            "service": [{
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": "https://pds.example.com"
            }]
        })
    }

    fn parse(value: &Value) -> Result<DidDocument, IdentityError> {
        DidDocument::from_slice(value.to_string().as_bytes())
    }

    #[test]
    fn atproto_fields_are_found() {
        let key = Keypair::generate(Algorithm::K256).unwrap().public_key();
        let parsed = parse(&doc(&key.to_multibase())).unwrap();
        assert_eq!(parsed.id().as_str(), DID);
        assert_eq!(parsed.handle().unwrap().as_str(), "alice.example.com");
        assert_eq!(parsed.signing_key(), Some(key));
        assert_eq!(parsed.pds_endpoint(), Some("https://pds.example.com"));
        let did = Did::parse(DID).unwrap();
        assert!(
            DidDocument::from_slice_for(&did, doc(&key.to_multibase()).to_string().as_bytes())
                .is_ok()
        );
        let other = Did::parse("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
        assert!(matches!(
            DidDocument::from_slice_for(&other, doc(&key.to_multibase()).to_string().as_bytes()),
            Err(IdentityError::DocumentDidMismatch { .. })
        ));
    }

    #[test]
    fn legacy_key_representations_are_read() {
        for (alg, method_type) in [
            (Algorithm::K256, "EcdsaSecp256k1VerificationKey2019"),
            (Algorithm::P256, "EcdsaSecp256r1VerificationKey2019"),
        ] {
            let key = Keypair::generate(alg).unwrap().public_key();
            let uncompressed = bs58::encode(key.uncompressed_bytes()).into_string();
            let mut value = doc("");
            value["verificationMethod"] = json!([{
                "id": "#atproto",
                "type": method_type,
                "controller": DID,
                "publicKeyMultibase": format!("z{uncompressed}")
            }]);
            assert_eq!(
                parse(&value).unwrap().signing_key(),
                Some(key),
                "{method_type}"
            );
        }
    }

    #[test]
    fn the_first_valid_entry_wins_and_invalid_ones_are_skipped() {
        let key = Keypair::generate(Algorithm::P256).unwrap().public_key();
        let other = Keypair::generate(Algorithm::P256).unwrap().public_key();
        let mut value = doc("");
        value["alsoKnownAs"] = json!([
            "https://x.test",
            "at://not a handle",
            "at://bob.test",
            "at://carol.test"
        ]);
        value["verificationMethod"] = json!([
            {"id": "#other", "type": "Multikey", "controller": DID, "publicKeyMultibase": other.to_multibase()},
            {"id": "#atproto", "type": "Multikey", "controller": "did:plc:someoneelse", "publicKeyMultibase": other.to_multibase()},
            {"id": "did:plc:someoneelse#atproto", "type": "Multikey", "controller": DID, "publicKeyMultibase": other.to_multibase()},
            {"id": "#atproto", "type": "Multikey", "controller": DID, "publicKeyMultibase": "zBroken"},
            {"id": "#atproto", "type": "JsonWebKey2020", "controller": DID, "publicKeyJwk": {"kty": "EC"}},
            {"id": "#atproto", "type": "Multikey", "controller": DID, "publicKeyMultibase": key.to_multibase()},
            {"id": "#atproto", "type": "Multikey", "controller": DID, "publicKeyMultibase": other.to_multibase()}
        ]);
        value["service"] = json!([
            {"id": "#atproto_pds", "type": "Other", "serviceEndpoint": "https://wrong.test"},
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": {"origins": []}},
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "ftp://wrong.test"},
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "not a url"},
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.test:8443"},
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://later.test"}
        ]);
        let doc = parse(&value).unwrap();
        assert_eq!(doc.handle().unwrap().as_str(), "bob.test");
        assert_eq!(doc.signing_key(), Some(key));
        assert_eq!(doc.pds_endpoint(), Some("https://pds.test:8443"));
    }

    #[test]
    fn a_document_without_atproto_entries_parses_but_yields_nothing() {
        let doc = parse(&json!({"id": "did:web:example.com"})).unwrap();
        assert_eq!(doc.handle(), None);
        assert_eq!(doc.signing_key(), None);
        assert_eq!(doc.pds_endpoint(), None);
    }

    #[test]
    fn hostile_documents_are_errors() {
        let base = doc("zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF");
        let with = |name: &str, v: Value| {
            let mut value = base.clone();
            value[name] = v;
            value
        };
        let cases = [
            json!([]),
            json!("did:plc:x"),
            json!(null),
            json!({}),
            with("id", json!(5)),
            with("id", json!("not a did")),
            with("alsoKnownAs", json!("at://a.test")),
            with("alsoKnownAs", json!([1])),
            with("verificationMethod", json!({})),
            with("verificationMethod", json!([1])),
            with(
                "verificationMethod",
                json!([{"id": "#atproto", "type": "Multikey"}]),
            ),
            with(
                "verificationMethod",
                json!([{"id": 1, "type": "Multikey", "controller": DID}]),
            ),
            with(
                "verificationMethod",
                json!([{"id": "#atproto", "type": "Multikey", "controller": DID, "publicKeyMultibase": 7}]),
            ),
            with("service", json!("https://pds.test")),
            with(
                "service",
                json!([{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer"}]),
            ),
            with(
                "service",
                json!([{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": 5}]),
            ),
            with(
                "service",
                json!([{"id": "#atproto_pds", "type": ["a"], "serviceEndpoint": "https://pds.test"}]),
            ),
        ];
        for case in cases {
            assert!(
                matches!(parse(&case), Err(IdentityError::MalformedDocument(_))),
                "{case}"
            );
        }
        for bytes in [
            &b""[..],
            b"{",
            b"\xff\xfe",
            b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        ] {
            assert!(DidDocument::from_slice(bytes).is_err());
        }
        let deep = format!(
            "{{\"id\":\"{DID}\",\"x\":{}{}}}",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert!(matches!(
            DidDocument::from_slice(deep.as_bytes()),
            Err(IdentityError::MalformedDocument(_))
        ));
        let huge = with("alsoKnownAs", json!(vec!["at://a.test"; 10_000]));
        assert!(matches!(
            parse(&huge),
            Err(IdentityError::MalformedDocument(_))
        ));
    }
}
