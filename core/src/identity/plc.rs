//! did:plc operations: their data model, JSON form, DAG-CBOR encoding, signatures, CIDs, and the
//! derivation of a DID from its genesis operation (did:plc method specification v0.3).
//!
//! An operation is one of three kinds: a regular `plc_operation` (the whole identity state plus a
//! `prev` link), a `plc_tombstone` (deactivation), or the legacy `create` genesis format that old
//! DIDs still carry. The signature covers the DAG-CBOR encoding of the operation without `sig`; it is
//! a 64-byte low-S compact ECDSA signature in unpadded base64url. `prev` is the CID (dag-cbor,
//! sha2-256, base32 text) of the signed previous operation, written as a string, not as a link. A
//! DID is `did:plc:` followed by the first 24 characters of the lowercase base32 of the SHA-256 of
//! the signed genesis operation's DAG-CBOR.
//!
//! The JSON wire form is parsed in `plc_json.rs`; building operations for an account is in
//! `plc_builder.rs`, verifying a whole log in `plc_log.rs`.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ipld_core::ipld::Ipld;
use serde_json::Value;

use super::error::{excerpt, IdentityError};
use super::plc_json;
use crate::crypto::{Keypair, PublicKey, SIGNATURE_LEN};
use crate::repo::cbor;
use crate::repo::cid::{cid_for_cbor, cid_from_str, sha256, Cid};
use crate::syntax::Did;

/// The largest operation, in DAG-CBOR bytes, the PLC method accepts.
pub const MAX_OPERATION_BYTES: usize = 7500;
/// The prefix of every did:plc.
pub const PLC_DID_PREFIX: &str = "did:plc:";
/// The number of base32 characters after [`PLC_DID_PREFIX`].
pub const PLC_ID_LEN: usize = 24;
/// The `verificationMethods` entry holding the atproto signing key.
pub const ATPROTO_VERIFICATION_METHOD: &str = "atproto";
/// The `services` entry naming the account's PDS.
pub const ATPROTO_PDS_SERVICE: &str = "atproto_pds";
/// The service type of a PDS.
pub const PDS_SERVICE_TYPE: &str = "AtprotoPersonalDataServer";
/// The scheme prefix of handle entries in `alsoKnownAs`.
pub const HANDLE_URI_PREFIX: &str = "at://";

pub(super) const TYPE_OPERATION: &str = "plc_operation";
pub(super) const TYPE_TOMBSTONE: &str = "plc_tombstone";
pub(super) const TYPE_LEGACY_CREATE: &str = "create";

/// The lowercase RFC 4648 base32 alphabet.
const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Whether `s` is a did:plc: `did:plc:` and 24 characters of lowercase base32 (`a-z`, `2-7`).
pub fn is_valid_plc_did(s: &str) -> bool {
    s.strip_prefix(PLC_DID_PREFIX).is_some_and(|id| {
        id.len() == PLC_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    })
}

/// Refuses anything that is not a did:plc (see [`is_valid_plc_did`]).
pub(crate) fn check_plc_did(did: &Did) -> Result<(), IdentityError> {
    if is_valid_plc_did(did.as_str()) {
        Ok(())
    } else {
        Err(IdentityError::InvalidPlcDid(excerpt(did.as_str())))
    }
}

/// A service entry of an operation: its type and endpoint URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlcService {
    /// The service type, `AtprotoPersonalDataServer` for a PDS.
    pub service_type: String,
    /// The service URL.
    pub endpoint: String,
}

/// The identity state every regular operation carries in full. Keys are `did:key` strings, in the
/// order the operation lists them (rotation keys by descending authority).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PlcData {
    /// The keys that may sign the next operation, highest authority first.
    pub rotation_keys: Vec<String>,
    /// Named public keys (`atproto` is the repository signing key), as `did:key`.
    pub verification_methods: BTreeMap<String, String>,
    /// Other names of the identity; the first `at://` entry is the handle.
    pub also_known_as: Vec<String>,
    /// Named service endpoints (`atproto_pds` is the PDS).
    pub services: BTreeMap<String, PlcService>,
}

impl PlcData {
    /// The atproto signing key (`verificationMethods.atproto`), as written.
    pub fn atproto_signing_key(&self) -> Option<&str> {
        self.verification_methods
            .get(ATPROTO_VERIFICATION_METHOD)
            .map(String::as_str)
    }

    /// The handle: the first `alsoKnownAs` entry starting `at://`, without the prefix (not checked).
    pub fn handle(&self) -> Option<&str> {
        self.also_known_as
            .iter()
            .find_map(|aka| aka.strip_prefix(HANDLE_URI_PREFIX))
    }

    /// The PDS endpoint: the `atproto_pds` service, if it has the PDS type.
    pub fn pds_endpoint(&self) -> Option<&str> {
        self.services
            .get(ATPROTO_PDS_SERVICE)
            .filter(|service| service.service_type == PDS_SERVICE_TYPE)
            .map(|service| service.endpoint.as_str())
    }

    /// The map form, as operations and `/data` responses hold it (without `type`, `prev`, `sig`).
    fn insert_into(&self, map: &mut BTreeMap<String, Ipld>) {
        let strings =
            |items: &[String]| Ipld::List(items.iter().cloned().map(Ipld::String).collect());
        map.insert("rotationKeys".into(), strings(&self.rotation_keys));
        map.insert(
            "verificationMethods".into(),
            Ipld::Map(
                self.verification_methods
                    .iter()
                    .map(|(id, key)| (id.clone(), Ipld::String(key.clone())))
                    .collect(),
            ),
        );
        map.insert("alsoKnownAs".into(), strings(&self.also_known_as));
        map.insert(
            "services".into(),
            Ipld::Map(
                self.services
                    .iter()
                    .map(|(id, service)| {
                        let entry = BTreeMap::from([
                            (
                                "type".to_owned(),
                                Ipld::String(service.service_type.clone()),
                            ),
                            (
                                "endpoint".to_owned(),
                                Ipld::String(service.endpoint.clone()),
                            ),
                        ]);
                        (id.clone(), Ipld::Map(entry))
                    })
                    .collect(),
            ),
        );
    }
}

/// An operation without its signature: what gets signed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnsignedOperation {
    /// A regular operation (`plc_operation`): genesis when `prev` is `None`, an update otherwise.
    Operation {
        /// The complete identity state after this operation.
        data: PlcData,
        /// The CID text of the previous operation; `None` for a genesis operation.
        prev: Option<String>,
    },
    /// A tombstone (`plc_tombstone`): deactivates the DID.
    Tombstone {
        /// The CID text of the previous operation.
        prev: String,
    },
    /// The deprecated genesis format (`create`), still found at the start of old logs.
    LegacyCreate {
        /// The atproto signing key (`did:key`), also the second rotation key.
        signing_key: String,
        /// The recovery key (`did:key`), the first rotation key.
        recovery_key: String,
        /// The bare handle.
        handle: String,
        /// The PDS URL.
        service: String,
    },
}

impl UnsignedOperation {
    /// The operation as a data-model map, without `sig`.
    pub fn to_ipld(&self) -> Ipld {
        let mut map = BTreeMap::new();
        let text = |s: &str| Ipld::String(s.to_owned());
        match self {
            UnsignedOperation::Operation { data, prev } => {
                map.insert("type".into(), text(TYPE_OPERATION));
                data.insert_into(&mut map);
                let prev = prev.as_deref().map_or(Ipld::Null, text);
                map.insert("prev".into(), prev);
            }
            UnsignedOperation::Tombstone { prev } => {
                map.insert("type".into(), text(TYPE_TOMBSTONE));
                map.insert("prev".into(), text(prev));
            }
            UnsignedOperation::LegacyCreate {
                signing_key,
                recovery_key,
                handle,
                service,
            } => {
                map.insert("type".into(), text(TYPE_LEGACY_CREATE));
                map.insert("signingKey".into(), text(signing_key));
                map.insert("recoveryKey".into(), text(recovery_key));
                map.insert("handle".into(), text(handle));
                map.insert("service".into(), text(service));
                map.insert("prev".into(), Ipld::Null);
            }
        }
        Ipld::Map(map)
    }

    /// The DAG-CBOR bytes a signature covers.
    pub fn to_cbor(&self) -> Result<Vec<u8>, IdentityError> {
        Ok(cbor::encode(&self.to_ipld())?)
    }

    /// Signs the operation with `key`, with no check that the key may sign it (the builders in
    /// `plc_builder.rs` check that). Refuses an operation too large for the directory.
    pub fn sign(self, key: &Keypair) -> Result<SignedOperation, IdentityError> {
        let sig = URL_SAFE_NO_PAD.encode(key.sign(&self.to_cbor()?));
        let signed = SignedOperation { op: self, sig };
        signed.to_cbor()?;
        Ok(signed)
    }

    /// The CID text of the previous operation, if any.
    pub fn prev(&self) -> Option<&str> {
        match self {
            UnsignedOperation::Operation { prev, .. } => prev.as_deref(),
            UnsignedOperation::Tombstone { prev } => Some(prev),
            UnsignedOperation::LegacyCreate { .. } => None,
        }
    }

    /// The identity state after this operation: the data of a regular operation, the legacy
    /// format's fields normalised to the regular form, `None` for a tombstone.
    pub fn data(&self) -> Option<PlcData> {
        match self {
            UnsignedOperation::Operation { data, .. } => Some(data.clone()),
            UnsignedOperation::Tombstone { .. } => None,
            UnsignedOperation::LegacyCreate {
                signing_key,
                recovery_key,
                handle,
                service,
            } => Some(PlcData {
                rotation_keys: vec![recovery_key.clone(), signing_key.clone()],
                verification_methods: BTreeMap::from([(
                    ATPROTO_VERIFICATION_METHOD.to_owned(),
                    signing_key.clone(),
                )]),
                also_known_as: vec![legacy_handle_uri(handle)],
                services: BTreeMap::from([(
                    ATPROTO_PDS_SERVICE.to_owned(),
                    PlcService {
                        service_type: PDS_SERVICE_TYPE.to_owned(),
                        endpoint: legacy_endpoint(service),
                    },
                )]),
            }),
        }
    }
}

/// The `at://` form of a legacy operation's bare handle, as the reference normalisation writes it.
fn legacy_handle_uri(handle: &str) -> String {
    if handle.starts_with(HANDLE_URI_PREFIX) {
        return handle.to_owned();
    }
    let stripped = handle
        .replacen("http://", "", 1)
        .replacen("https://", "", 1);
    format!("{HANDLE_URI_PREFIX}{stripped}")
}

/// A legacy operation's service, given `https://` when it has no http(s) scheme.
fn legacy_endpoint(service: &str) -> String {
    if service.starts_with("http://") || service.starts_with("https://") {
        service.to_owned()
    } else {
        format!("https://{service}")
    }
}

/// A signed operation, as directories store and serve it. Its JSON form is the object of the HTTP
/// API (`serde` goes through [`SignedOperation::to_json`] / [`SignedOperation::from_json`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SignedOperation {
    op: UnsignedOperation,
    sig: String,
}

impl SignedOperation {
    /// The operation without its signature.
    pub fn operation(&self) -> &UnsignedOperation {
        &self.op
    }

    /// The signature text (unpadded base64url).
    pub fn sig(&self) -> &str {
        &self.sig
    }

    /// The 64 signature bytes. Refuses padding, characters outside base64url, non-zero trailing
    /// bits (a non-canonical encoding) and other lengths.
    pub fn signature(&self) -> Result<[u8; SIGNATURE_LEN], IdentityError> {
        decode_signature(&self.sig)
    }

    /// The operation as a data-model map, with `sig`.
    pub fn to_ipld(&self) -> Ipld {
        let mut ipld = self.op.to_ipld();
        if let Ipld::Map(map) = &mut ipld {
            map.insert("sig".into(), Ipld::String(self.sig.clone()));
        }
        ipld
    }

    /// The DAG-CBOR bytes of the signed operation (what its CID and a genesis DID hash). Refuses an
    /// operation larger than [`MAX_OPERATION_BYTES`].
    pub fn to_cbor(&self) -> Result<Vec<u8>, IdentityError> {
        let bytes = cbor::encode(&self.to_ipld())?;
        if bytes.len() > MAX_OPERATION_BYTES {
            return Err(IdentityError::OperationTooLarge {
                size: bytes.len(),
                max: MAX_OPERATION_BYTES,
            });
        }
        Ok(bytes)
    }

    /// The CID of the signed operation: what the next operation's `prev` names.
    pub fn cid(&self) -> Result<Cid, IdentityError> {
        Ok(cid_for_cbor(&self.to_cbor()?))
    }

    /// The DID this operation creates when it is a genesis operation: `did:plc:` + the first 24
    /// characters of base32(SHA-256(signed DAG-CBOR)).
    pub fn genesis_did(&self) -> Result<Did, IdentityError> {
        let digest = sha256(&self.to_cbor()?);
        // 24 base32 characters are exactly the first 15 bytes (120 bits).
        let id = base32_lower(digest.get(..15).unwrap_or_default());
        Ok(Did::parse(&format!("{PLC_DID_PREFIX}{id}"))?)
    }

    /// The CID text of the previous operation, if any.
    pub fn prev(&self) -> Option<&str> {
        self.op.prev()
    }

    /// The previous operation's CID, parsed. `Ok(None)` for a genesis operation.
    pub fn prev_cid(&self) -> Result<Option<Cid>, IdentityError> {
        self.prev()
            .map(|prev| cid_from_str(prev).map_err(|e| plc_json::malformed(format!("prev: {e}"))))
            .transpose()
    }

    /// The identity state after this operation (`None` for a tombstone); see
    /// [`UnsignedOperation::data`].
    pub fn data(&self) -> Option<PlcData> {
        self.op.data()
    }

    /// Whether this is a tombstone.
    pub fn is_tombstone(&self) -> bool {
        matches!(self.op, UnsignedOperation::Tombstone { .. })
    }

    /// Checks the signature against `allowed` keys (`did:key` strings, in order) and returns the
    /// position of the first key that verifies it. Keys that do not parse are skipped; a high-S,
    /// DER or non-canonically encoded signature never verifies.
    pub fn verify(&self, allowed: &[String]) -> Result<usize, IdentityError> {
        let sig = self.signature()?;
        let message = self.op.to_cbor()?;
        allowed
            .iter()
            .position(|key| {
                PublicKey::from_did_key(key).is_ok_and(|key| key.verify(&message, &sig).is_ok())
            })
            .ok_or(IdentityError::InvalidSignature { index: 0 })
    }

    /// The JSON object of the HTTP API.
    pub fn to_json(&self) -> Value {
        cbor::to_json(&self.to_ipld())
    }

    /// Parses the JSON object of an operation strictly: the `type` decides the fields, each must be
    /// present with its type (`prev: null` included), unknown fields are refused, `prev` must be a
    /// CID and `sig` a well-formed signature, and the whole must fit [`MAX_OPERATION_BYTES`].
    pub fn from_json(value: &Value) -> Result<SignedOperation, IdentityError> {
        let (op, sig) = plc_json::parse(value)?;
        let signed = SignedOperation { op, sig };
        signed.signature()?;
        signed.prev_cid()?;
        signed.to_cbor()?;
        Ok(signed)
    }

    /// Parses an operation from JSON bytes (see [`SignedOperation::from_json`]).
    pub fn from_slice(bytes: &[u8]) -> Result<SignedOperation, IdentityError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| plc_json::malformed(format!("not JSON: {e}")))?;
        SignedOperation::from_json(&value)
    }
}

impl fmt::Debug for SignedOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedOperation")
            .field("op", &self.op)
            .field("sig", &self.sig)
            .finish()
    }
}

impl serde::Serialize for SignedOperation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for SignedOperation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        SignedOperation::from_json(&value).map_err(serde::de::Error::custom)
    }
}

/// Decodes a signature strictly (see [`SignedOperation::signature`]).
fn decode_signature(sig: &str) -> Result<[u8; SIGNATURE_LEN], IdentityError> {
    // 64 bytes are 86 characters; anything much longer is refused before decoding.
    if sig.len() > 2 * SIGNATURE_LEN {
        return Err(IdentityError::MalformedSignature("too long"));
    }
    if sig.contains('=') {
        return Err(IdentityError::MalformedSignature("padded base64"));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| IdentityError::MalformedSignature("not canonical unpadded base64url"))?;
    bytes
        .try_into()
        .map_err(|_| IdentityError::MalformedSignature("not 64 bytes"))
}

/// Lowercase RFC 4648 base32 without padding.
fn base32_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    let mut push = |index: u16| out.push(char::from(BASE32_ALPHABET[usize::from(index & 31)]));
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            push(buffer >> bits);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        push(buffer << (5 - bits));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Algorithm;
    use serde_json::json;

    /// The genesis operation of `did:plc:z72i7hdynmk6r22z27h6tvur` (bsky.app), as the public PLC
    /// directory serves it, and its CID.
    fn bsky_genesis() -> Value {
        json!({
            "sig": "9NuYV7AqwHVTc0YuWzNV3CJafsSZWH7qCxHRUIP2xWlB-YexXC1OaYAnUayiCXLVzRQ8WBXIqF-SvZdNalwcjA",
            "prev": null,
            "type": "plc_operation",
            "services": {
                "atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": "https://bsky.social"}
            },
            "alsoKnownAs": ["at://bluesky-team.bsky.social"],
            "rotationKeys": [
                "did:key:zQ3shhCGUqDKjStzuDxPkTxN6ujddP4RkEKJJouJGRRkaLGbg",
                "did:key:zQ3shpKnbdPx3g3CmPf5cRVTPe1HtSwVn5ish3wSnDPQCbLJK"
            ],
            "verificationMethods": {"atproto": "did:key:zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"}
        })
    }
    const BSKY_DID: &str = "did:plc:z72i7hdynmk6r22z27h6tvur";
    const BSKY_GENESIS_CID: &str = "bafyreigp6shzy6dlcxuowwoxz7u5nemdrkad2my5zwzpwilcnhih7bw6zm";

    fn sample_data(keys: &[&Keypair]) -> PlcData {
        PlcData {
            rotation_keys: keys.iter().map(|k| k.did_key()).collect(),
            verification_methods: BTreeMap::from([(
                "atproto".to_owned(),
                Keypair::generate(Algorithm::K256).unwrap().did_key(),
            )]),
            also_known_as: vec!["at://alice.example.com".into()],
            services: BTreeMap::from([(
                "atproto_pds".to_owned(),
                PlcService {
                    service_type: PDS_SERVICE_TYPE.into(),
                    endpoint: "https://pds.example.com".into(),
                },
            )]),
        }
    }

    #[test]
    fn a_real_genesis_operation_yields_its_did_cid_and_verifies() {
        let op = SignedOperation::from_json(&bsky_genesis()).unwrap();
        assert_eq!(op.genesis_did().unwrap().as_str(), BSKY_DID);
        assert_eq!(op.cid().unwrap().to_string(), BSKY_GENESIS_CID);
        let data = op.data().unwrap();
        // Signed by the second rotation key.
        assert_eq!(op.verify(&data.rotation_keys), Ok(1));
        assert_eq!(data.handle(), Some("bluesky-team.bsky.social"));
        assert_eq!(data.pds_endpoint(), Some("https://bsky.social"));
        // The JSON form round-trips to the same value.
        assert_eq!(op.to_json(), bsky_genesis());
        let text = serde_json::to_string(&op).unwrap();
        assert_eq!(serde_json::from_str::<SignedOperation>(&text).unwrap(), op);
    }

    #[test]
    fn any_change_to_a_signed_operation_breaks_its_signature() {
        let mut value = bsky_genesis();
        value["alsoKnownAs"] = json!(["at://evil.example.com"]);
        let op = SignedOperation::from_json(&value).unwrap();
        let keys = op.data().unwrap().rotation_keys;
        assert_eq!(
            op.verify(&keys),
            Err(IdentityError::InvalidSignature { index: 0 })
        );
    }

    #[test]
    fn signing_and_deriving_the_did_follow_the_method() {
        let rotation = Keypair::generate(Algorithm::P256).unwrap();
        let unsigned = UnsignedOperation::Operation {
            data: sample_data(&[&rotation]),
            prev: None,
        };
        let signed = unsigned.clone().sign(&rotation).unwrap();
        // The signature covers the unsigned encoding.
        let sig = signed.signature().unwrap();
        rotation
            .public_key()
            .verify(&unsigned.to_cbor().unwrap(), &sig)
            .unwrap();
        assert_eq!(signed.verify(&[rotation.did_key()]), Ok(0));
        // The DID hashes the signed encoding.
        let digest = sha256(&signed.to_cbor().unwrap());
        let did = signed.genesis_did().unwrap();
        assert!(is_valid_plc_did(did.as_str()), "{did}");
        assert_eq!(
            did.as_str(),
            format!("did:plc:{}", &base32_lower(&digest)[..24])
        );
        assert_eq!(
            SignedOperation::from_json(&signed.to_json()).unwrap(),
            signed
        );
    }

    #[test]
    fn base32_matches_rfc_4648() {
        for (input, output) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(base32_lower(input.as_bytes()), output);
        }
    }

    #[test]
    fn plc_did_syntax_is_exact() {
        assert!(is_valid_plc_did(BSKY_DID));
        for bad in [
            "did:plc:z72i7hdynmk6r22z27h6tvu",
            "did:plc:z72i7hdynmk6r22z27h6tvurr",
            "did:plc:Z72i7hdynmk6r22z27h6tvur",
            "did:plc:z72i7hdynmk6r22z27h6tvu1",
            "did:plc:z72i7hdynmk6r22z27h6tvu8",
            "did:web:z72i7hdynmk6r22z27h6tvur",
            "",
        ] {
            assert!(!is_valid_plc_did(bad), "{bad}");
        }
    }

    #[test]
    fn legacy_create_operations_normalise_like_the_reference() {
        let op = UnsignedOperation::LegacyCreate {
            signing_key: "did:key:signing".into(),
            recovery_key: "did:key:recovery".into(),
            handle: "alice.example.com".into(),
            service: "pds.example.com".into(),
        };
        let data = op.data().unwrap();
        assert_eq!(data.rotation_keys, ["did:key:recovery", "did:key:signing"]);
        assert_eq!(data.atproto_signing_key(), Some("did:key:signing"));
        assert_eq!(data.also_known_as, ["at://alice.example.com"]);
        assert_eq!(data.pds_endpoint(), Some("https://pds.example.com"));
        assert_eq!(legacy_handle_uri("https://bob.test"), "at://bob.test");
        assert_eq!(legacy_handle_uri("at://carol.test"), "at://carol.test");
        assert_eq!(legacy_endpoint("http://pds.test"), "http://pds.test");
    }

    #[test]
    fn tombstones_round_trip_and_carry_no_data() {
        let key = Keypair::generate(Algorithm::K256).unwrap();
        let prev = BSKY_GENESIS_CID.to_owned();
        let op = UnsignedOperation::Tombstone { prev: prev.clone() }
            .sign(&key)
            .unwrap();
        assert!(op.is_tombstone());
        assert_eq!(op.data(), None);
        assert_eq!(op.prev(), Some(prev.as_str()));
        let json = op.to_json();
        assert_eq!(
            json.as_object().unwrap().len(),
            3,
            "type, prev and sig only: {json}"
        );
        assert_eq!(SignedOperation::from_json(&json).unwrap(), op);
    }

    #[test]
    fn non_canonical_signatures_are_refused() {
        let good = bsky_genesis();
        let sig = good["sig"].as_str().unwrap().to_owned();
        let with_sig = |s: String| {
            let mut value = good.clone();
            value["sig"] = json!(s);
            SignedOperation::from_json(&value)
        };
        // 64 bytes use 86 characters; the last carries 2 spare bits that must be zero.
        let last = sig.chars().last().unwrap();
        let index = URL_SAFE_NO_PAD_ALPHABET.find(last).unwrap();
        assert_eq!(index & 0b1111, 0);
        let dirty = URL_SAFE_NO_PAD_ALPHABET.chars().nth(index | 1).unwrap();
        let mut bad_bits = sig.clone();
        bad_bits.pop();
        bad_bits.push(dirty);
        for bad in [
            format!("{sig}=="),
            bad_bits,
            sig.replace('-', "+").replace('_', "/"),
            sig[..84].to_owned(),
            format!("{sig}AA"),
            "x".repeat(10_000),
            String::new(),
            format!("{}\n{}", &sig[..40], &sig[40..]),
        ] {
            assert!(
                matches!(
                    with_sig(bad.clone()),
                    Err(IdentityError::MalformedSignature(_))
                ),
                "{bad:?}"
            );
        }
    }

    const URL_SAFE_NO_PAD_ALPHABET: &str =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    #[test]
    fn high_s_and_der_signatures_never_verify() {
        let key = Keypair::generate(Algorithm::P256).unwrap();
        let unsigned = UnsignedOperation::Tombstone {
            prev: BSKY_GENESIS_CID.into(),
        };
        let good = unsigned.clone().sign(&key).unwrap();
        let sig = good.signature().unwrap();
        let der = p256::ecdsa::Signature::from_slice(&sig).unwrap().to_der();
        let der_op = SignedOperation {
            op: unsigned.clone(),
            sig: URL_SAFE_NO_PAD.encode(der.as_bytes()),
        };
        assert!(der_op.verify(&[key.did_key()]).is_err());
        // The high-S twin: s' = n - s.
        let high = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        let (r, s) = high.split_scalars();
        let twin = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
        let twin_op = SignedOperation {
            op: unsigned,
            sig: URL_SAFE_NO_PAD.encode(twin.to_bytes()),
        };
        assert_eq!(
            twin_op.verify(&[key.did_key()]),
            Err(IdentityError::InvalidSignature { index: 0 })
        );
        assert_eq!(good.verify(&["not a key".into(), key.did_key()]), Ok(1));
    }

    #[test]
    fn oversized_operations_are_refused() {
        let key = Keypair::generate(Algorithm::K256).unwrap();
        let mut data = sample_data(&[&key]);
        data.also_known_as = vec!["at://x".repeat(2000)];
        let err = UnsignedOperation::Operation { data, prev: None }
            .sign(&key)
            .unwrap_err();
        assert!(
            matches!(err, IdentityError::OperationTooLarge { .. }),
            "{err}"
        );
        let mut value = bsky_genesis();
        value["alsoKnownAs"] = json!(vec!["at://a.test"; 1000]);
        assert!(matches!(
            SignedOperation::from_json(&value),
            Err(IdentityError::OperationTooLarge { .. })
        ));
    }
}
